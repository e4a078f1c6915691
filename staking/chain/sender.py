"""Minimal signing sender for deployment and set-up scripts.

Signs locally (works against any node), tracks its own nonce so a batch of transactions can be
pipelined, and waits for receipts. The crash-safe service transaction manager is a separate,
persisted component; this one is for short-lived, supervised runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from staking.domain.errors import SwarmError


class TransactionFailed(SwarmError, RuntimeError):
    pass


def with_margin(estimate: int) -> int:
    """A gas limit over an estimate made against the pending block: the block that mines the
    transaction can be later (a cap window rolled over, a slot another transaction wrote) and cost
    more; an estimate used as the limit then runs out of gas and reverts."""
    return estimate + estimate // 4 + 10_000


@dataclass
class Pending:
    label: str
    tx_hash: HexBytes


class Sender:
    def __init__(self, w3: Web3, account: LocalAccount) -> None:
        self.w3 = w3
        self.account = account
        self.address = account.address
        self.chain_id = w3.eth.chain_id
        self._nonce: int = w3.eth.get_transaction_count(account.address, "pending")

    def send(self, fn: ContractFunction, label: str = "", gas: int | None = None) -> Pending:
        """Sign and send `fn` with the next nonce. Without `gas`, it is estimated, which also
        simulates the call, so a reverting call raises here and burns no nonce; the limit is the
        estimate with a margin (`with_margin`)."""
        params: dict[str, Any] = {"from": self.address, "nonce": self._nonce, "chainId": self.chain_id}
        if gas is not None:
            params["gas"] = gas
        tx: dict[str, Any] = dict(fn.build_transaction(params))  # type: ignore[arg-type]
        if gas is None:
            tx["gas"] = with_margin(int(tx["gas"]))
        return self._send_raw(tx, label or fn.fn_name)

    def deploy(self, abi: list[dict[str, Any]], bytecode: str, *args: Any, label: str = "deploy") -> Pending:
        constructor = self.w3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args)
        tx = constructor.build_transaction(
            {"from": self.address, "nonce": self._nonce, "chainId": self.chain_id}
        )
        return self._send_raw(dict(tx), label)

    def _send_raw(self, tx: dict[str, Any], label: str) -> Pending:
        signed = self.account.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        self._nonce += 1
        return Pending(label, HexBytes(tx_hash))

    def wait(self, pending: Pending, timeout: float = 120.0) -> TxReceipt:
        receipt = self.w3.eth.wait_for_transaction_receipt(
            pending.tx_hash, timeout=timeout, poll_latency=0.05
        )
        if receipt["status"] != 1:
            raise TransactionFailed(f"{pending.label} reverted in tx {pending.tx_hash.to_0x_hex()}")
        return receipt

    def wait_all(self, batch: Iterable[Pending], timeout: float = 120.0) -> list[TxReceipt]:
        return [self.wait(p, timeout) for p in batch]

    def transact(self, fn: ContractFunction, label: str = "") -> TxReceipt:
        return self.wait(self.send(fn, label))
