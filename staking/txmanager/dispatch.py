"""Signing and sending: a payload is signed inside the write-ahead transaction that records it
(after the fence check, so a deposed leader signs nothing), and sent from the record, so what
goes out is always what the database holds."""

from __future__ import annotations

import logging
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import Connection
from web3 import Web3

from staking.txmanager import states as sm
from staking.txmanager.client import TxClient
from staking.txmanager.fees import Fees
from staking.txmanager.store import IntentStore, now_ms

log = logging.getLogger("txmanager")


def transaction(chain_id: int, nonce: int, to: str, data: str, gas: int, fees: Fees) -> dict[str, Any]:
    """An EIP-1559 call of `data` on `to`, sending no value."""
    return {
        "chainId": chain_id,
        "nonce": nonce,
        "to": Web3.to_checksum_address(to),
        "data": data,
        "gas": gas,
        "value": 0,
        "maxFeePerGas": fees.max_fee,
        "maxPriorityFeePerGas": fees.priority_fee,
        "type": 2,
    }


class Dispatcher:
    def __init__(self, store: IntentStore, client: TxClient, account: LocalAccount) -> None:
        self.store = store
        self.client = client
        self.account = account
        self.send_failures: dict[int, int] = {}  # intent id -> node refusals of its payload

    def record_attempt(
        self, conn: Connection, intent_id: int, nonce: int, to: str, data: str, gas: int, fees: Fees
    ) -> str:
        """Signs the call and records it as the intent's latest payload in `conn`; its hash."""
        tx = transaction(self.client.chain_id(), nonce, to, data, gas, fees)
        self.store.check_fence(conn)  # nothing is signed for a deposed leader
        signed = self.account.sign_transaction(tx)
        tx_hash = "0x" + bytes(signed.hash).hex()
        raw = "0x" + bytes(signed.raw_transaction).hex()
        self.store.add_attempt(conn, intent_id, tx_hash, raw, fees.max_fee, fees.priority_fee, now_ms())
        return tx_hash

    def send_latest(self, intent_id: int) -> bool:
        return self.send([intent_id]) == [True]

    def send(self, intent_ids: list[int]) -> list[bool]:
        """Sends each intent's latest payload (one batch request); marks the accepted ones sent.
        A payload the node already has, or whose nonce is already mined, counts as accepted:
        tick() finds out which."""
        if not intent_ids:
            return []
        with self.store.write() as conn:
            rows = self.store.payloads(conn, intent_ids)
        errors = self.client.send_raw_many([rows[i].raw_tx for i in intent_ids])
        accepted: list[bool] = []
        for intent_id, error in zip(intent_ids, errors, strict=True):
            ok = sm.send_accepted(error)
            if not ok:
                n = self.send_failures[intent_id] = self.send_failures.get(intent_id, 0) + 1
                log.warning(
                    "node refused a transaction",
                    extra={"intent": intent_id, "attempt": n, "error": str(error)[:200]},
                )
            accepted.append(ok)
        sent_ms = now_ms()
        with self.store.write() as conn:
            self.store.check_fence(conn)
            for intent_id, ok in zip(intent_ids, accepted, strict=True):
                if ok:
                    state = sm.sent_state(rows[intent_id].state)
                    self.store.set(conn, intent_id, state=state, sent_ms=sent_ms)
        return accepted
