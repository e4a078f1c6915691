"""The service signer's transaction manager.

Guarantees, for one signer:
- Write-ahead: an intent row (nonce, signed payload, hash) is committed before the payload is
  sent, so after a crash every sent transaction is known and can be tracked or re-sent as is.
- Idempotency keys: one intent per key (`jail:<verdict id>` …), never a second transaction for
  the same purpose. The contract's own ids (verdict id = slash id) back this up on chain.
- Simulation (`eth_call` + gas estimate) before a nonce is taken: a call that would revert burns
  no nonce. A payload the node refuses keeps its nonce and is retried, then replaced by a no-op
  self-transfer, so no nonce gap can stall the signer.
- Stuck transactions are replaced with the same nonce and fees bumped >= 12.5 %.
- Reorg awareness: an intent whose block left the canonical chain goes back to "sent".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from sqlalchemy import Engine, select, update
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound
from web3.types import RPCEndpoint

from staking.db import schema as t
from staking.txmanager.fees import FeePolicy, Fees, bumped, fees_from_history

log = logging.getLogger("txmanager")

PLANNED, SENT, MINED, CONFIRMED, FAILED, VOIDING = (
    "planned",
    "sent",
    "mined",
    "confirmed",
    "failed",
    "voiding",
)
OPEN_STATES = (PLANNED, SENT, MINED, VOIDING)


class SimulationReverted(RuntimeError):
    def __init__(self, error: str, detail: str = "") -> None:
        self.error = error
        super().__init__(f"{error} {detail}".strip())


@dataclass(frozen=True)
class TxConfig:
    confirmations: int = 0
    stuck_after: float = 12.0  # seconds without a receipt before a fee-bumped replacement
    send_retries: int = 3  # node refusals before the nonce is filled with a no-op
    reorg_window: int = 64  # blocks within which confirmed intents are re-checked
    gas_margin_percent: int = 25
    fees: FeePolicy = field(default_factory=FeePolicy)


def now_ms() -> int:
    return int(time.time() * 1000)


class TxManager:
    def __init__(
        self,
        engine: Engine,
        w3: Web3,
        account: LocalAccount,
        config: TxConfig | None = None,
        error_name: Callable[[str], str] | None = None,
    ) -> None:
        self.engine = engine
        self.w3 = w3
        self.account = account
        self.signer = account.address
        self.config = config or TxConfig()
        self.chain_id = w3.eth.chain_id
        self._error_name = error_name or (lambda data: data[:10])
        self._lock = threading.RLock()
        self._send_failures: dict[int, int] = {}

    # ---------------------------------------------------------------- start-up
    def reconcile(self) -> None:
        """Align the persisted nonce with the chain and re-send whatever a crash left unsent."""
        with self._lock:
            chain_next = self.w3.eth.get_transaction_count(self.signer, "pending")
            with self.engine.begin() as conn:
                row = conn.execute(
                    select(t.signer_nonces).where(t.signer_nonces.c.signer == self.signer)
                ).first()
                highest = conn.execute(
                    select(t.tx_intents.c.nonce)
                    .where(t.tx_intents.c.signer == self.signer)
                    .order_by(t.tx_intents.c.nonce.desc())
                    .limit(1)
                ).scalar()
                db_next = max(row.next_nonce if row else 0, (highest + 1) if highest is not None else 0)
                next_nonce = max(db_next, chain_next)
                if row is None:
                    conn.execute(t.signer_nonces.insert().values(signer=self.signer, next_nonce=next_nonce))
                else:
                    conn.execute(
                        update(t.signer_nonces)
                        .where(t.signer_nonces.c.signer == self.signer)
                        .values(next_nonce=next_nonce)
                    )
            log.info(
                "nonce reconciled",
                extra={"signer": self.signer, "next_nonce": next_nonce, "chain_pending": chain_next},
            )
            self.tick()

    # ---------------------------------------------------------------- submitting
    def intent_for(self, key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(t.tx_intents).where(t.tx_intents.c.idempotency_key == key))
                .mappings()
                .first()
            )
            return dict(row) if row else None

    def simulate(self, fn: ContractFunction) -> int:
        """eth_call + gas estimate; raises SimulationReverted with the custom error's name."""
        try:
            fn.call({"from": self.signer})
            return int(fn.estimate_gas({"from": self.signer}))
        except ContractCustomError as exc:
            data = exc.data if isinstance(exc.data, str) else str(exc.message)
            raise SimulationReverted(self._error_name(data), data) from None
        except ContractLogicError as exc:
            raise SimulationReverted("Revert", str(exc)) from None

    def submit(self, key: str, fn: ContractFunction) -> int:
        """Sends `fn` once for `key` and returns the intent id (the existing one on a repeat).
        Raises SimulationReverted (nothing recorded, no nonce used) if the call would revert."""
        with self._lock:
            existing = self.intent_for(key)
            if existing is not None:
                return int(existing["id"])
            gas = self.simulate(fn) * (100 + self.config.gas_margin_percent) // 100
            data = fn._encode_transaction_data()
            fees = self._market_fees()
            with self.engine.begin() as conn:
                nonce = self._take_nonce(conn)
                inserted = conn.execute(
                    t.tx_intents.insert().values(
                        idempotency_key=key,
                        signer=self.signer,
                        nonce=nonce,
                        to_address=fn.address,
                        data=data,
                        gas=gas,
                        state=PLANNED,
                        attempts=0,
                        created_ms=now_ms(),
                    )
                ).inserted_primary_key
                assert inserted is not None
                intent_id = int(inserted[0])
                self._record_attempt(conn, intent_id, nonce, fn.address, data, gas, fees)
            self._send_latest(intent_id)
            return int(intent_id)

    def _take_nonce(self, conn: Any) -> int:
        q = select(t.signer_nonces.c.next_nonce).where(t.signer_nonces.c.signer == self.signer)
        if self.engine.dialect.name == "postgresql":
            q = q.with_for_update()
        nonce = conn.execute(q).scalar()
        if nonce is None:
            raise RuntimeError("nonce not reconciled: call reconcile() at start-up")
        conn.execute(
            update(t.signer_nonces)
            .where(t.signer_nonces.c.signer == self.signer)
            .values(next_nonce=nonce + 1)
        )
        return int(nonce)

    def _market_fees(self) -> Fees:
        history = self.w3.provider.make_request(
            RPCEndpoint("eth_feeHistory"), [5, "latest", [self.config.fees.reward_percentile]]
        )["result"]
        return fees_from_history(history, self.config.fees)

    def _record_attempt(
        self, conn: Any, intent_id: int, nonce: int, to: str, data: str, gas: int, fees: Fees
    ) -> str:
        tx: dict[str, Any] = {
            "chainId": self.chain_id,
            "nonce": nonce,
            "to": Web3.to_checksum_address(to),
            "data": data,
            "gas": gas,
            "value": 0,
            "maxFeePerGas": fees.max_fee,
            "maxPriorityFeePerGas": fees.priority_fee,
            "type": 2,
        }
        signed = self.account.sign_transaction(tx)
        tx_hash = "0x" + bytes(signed.hash).hex()
        conn.execute(
            t.tx_attempts.insert().values(
                tx_hash=tx_hash,
                intent_id=intent_id,
                raw_tx="0x" + bytes(signed.raw_transaction).hex(),
                max_fee=fees.max_fee,
                priority_fee=fees.priority_fee,
                created_ms=now_ms(),
            )
        )
        conn.execute(
            update(t.tx_intents)
            .where(t.tx_intents.c.id == intent_id)
            .values(tx_hash=tx_hash, attempts=t.tx_intents.c.attempts + 1)
        )
        return tx_hash

    def _send_latest(self, intent_id: int) -> bool:
        with self.engine.connect() as conn:
            intent = conn.execute(select(t.tx_intents).where(t.tx_intents.c.id == intent_id)).mappings().one()
            raw = conn.execute(
                select(t.tx_attempts.c.raw_tx).where(t.tx_attempts.c.tx_hash == intent["tx_hash"])
            ).scalar_one()
        try:
            self.w3.eth.send_raw_transaction(HexBytes(raw))
        except Exception as exc:
            message = str(exc).lower()
            if "already known" in message or "nonce too low" in message:
                pass  # the node has it, or a transaction with this nonce is mined: tick() finds out which
            else:
                n = self._send_failures[intent_id] = self._send_failures.get(intent_id, 0) + 1
                log.warning(
                    "node refused a transaction",
                    extra={"intent": intent_id, "attempt": n, "error": str(exc)[:200]},
                )
                return False
        state = VOIDING if intent["state"] == VOIDING else SENT
        with self.engine.begin() as conn:
            conn.execute(
                update(t.tx_intents)
                .where(t.tx_intents.c.id == intent_id)
                .values(state=state, sent_ms=now_ms())
            )
        return True

    # ---------------------------------------------------------------- tracking
    def tick(self) -> None:
        """One pass over open intents: resend, record receipts, replace stuck ones, undo reorged ones."""
        with self._lock:
            with self.engine.connect() as conn:
                open_intents = [
                    dict(r)
                    for r in conn.execute(
                        select(t.tx_intents)
                        .where(t.tx_intents.c.signer == self.signer, t.tx_intents.c.state.in_(OPEN_STATES))
                        .order_by(t.tx_intents.c.nonce)
                    ).mappings()
                ]
            head = self.w3.eth.block_number
            for intent in open_intents:
                try:
                    self._track(intent, head)
                except Exception:
                    log.exception("tracking an intent failed", extra={"intent": intent["id"]})
            self._recheck_recent(head)

    def _track(self, intent: dict[str, Any], head: int) -> None:
        iid = intent["id"]
        receipt = self._receipt_of_any(iid)
        if receipt is not None:
            self._record_receipt(intent, receipt, head)
            return
        if intent["state"] == PLANNED:
            if not self._send_latest(iid) and self._send_failures.get(iid, 0) >= self.config.send_retries:
                self._void(intent, "the node refused the payload")
            return
        if intent["state"] == MINED:  # its block was reorged away: the receipt is gone
            self._set(iid, state=SENT, mined_block=None, mined_block_hash=None)
            self._send_latest(iid)
            return
        latest_nonce = self.w3.eth.get_transaction_count(self.signer, "latest")
        if latest_nonce > intent["nonce"]:
            # The nonce is used. Our payload may have been mined between the receipt lookup above and
            # the nonce read: look again before concluding anything.
            receipt = self._receipt_of_any(iid)
            if receipt is not None:
                self._record_receipt(intent, receipt, self.w3.eth.block_number)
                return
            # None of our payloads has a receipt: another sender used the key.
            self._set(iid, state=FAILED, error="nonce consumed by a transaction this service did not send")
            log.error("nonce consumed elsewhere", extra={"intent": iid, "nonce": intent["nonce"]})
            return
        waited = (now_ms() - (intent["sent_ms"] or intent["created_ms"])) / 1000
        if waited >= self.config.stuck_after:
            self._replace(intent)

    def _receipt_of_any(self, intent_id: int) -> Any:
        with self.engine.connect() as conn:
            hashes = [
                r.tx_hash
                for r in conn.execute(
                    select(t.tx_attempts.c.tx_hash)
                    .where(t.tx_attempts.c.intent_id == intent_id)
                    .order_by(t.tx_attempts.c.created_ms.desc())
                )
            ]
        for h in hashes:
            try:
                receipt = self.w3.eth.get_transaction_receipt(HexBytes(h))
            except TransactionNotFound:
                continue
            if receipt is not None:
                return receipt
        return None

    def _record_receipt(self, intent: dict[str, Any], receipt: Any, head: int) -> None:
        iid = intent["id"]
        block, block_hash = int(receipt["blockNumber"]), "0x" + bytes(receipt["blockHash"]).hex()
        tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        if intent["state"] == VOIDING or receipt["status"] != 1:
            error = intent["error"] or "reverted on chain"
            self._set(
                iid,
                state=FAILED,
                tx_hash=tx_hash,
                mined_block=block,
                mined_block_hash=block_hash,
                error=error,
            )
            log.error("transaction failed", extra={"intent": iid, "tx": tx_hash, "error": error})
            return
        depth = head - block + 1
        if depth >= max(1, self.config.confirmations):
            self._set(
                iid,
                state=CONFIRMED,
                tx_hash=tx_hash,
                mined_block=block,
                mined_block_hash=block_hash,
                confirmed_ms=now_ms(),
            )
        else:
            self._set(iid, state=MINED, tx_hash=tx_hash, mined_block=block, mined_block_hash=block_hash)

    def _recheck_recent(self, head: int) -> None:
        """Confirmed intents in the last `reorg_window` blocks whose block is no longer canonical."""
        with self.engine.connect() as conn:
            recent = [
                dict(r)
                for r in conn.execute(
                    select(
                        t.tx_intents.c.id, t.tx_intents.c.mined_block, t.tx_intents.c.mined_block_hash
                    ).where(
                        t.tx_intents.c.signer == self.signer,
                        t.tx_intents.c.state == CONFIRMED,
                        t.tx_intents.c.mined_block > head - self.config.reorg_window,
                    )
                ).mappings()
            ]
        for r in recent:
            block = self.w3.eth.get_block(r["mined_block"]) if r["mined_block"] <= head else None
            if block is None or "0x" + bytes(block["hash"]).hex() != r["mined_block_hash"]:
                log.warning(
                    "transaction's block was reorged away; tracking it again", extra={"intent": r["id"]}
                )
                self._set(r["id"], state=SENT, mined_block=None, mined_block_hash=None, confirmed_ms=None)
                self._send_latest(r["id"])

    def _replace(self, intent: dict[str, Any]) -> None:
        """Same nonce, same call, fees bumped; re-simulated first, since the world moved on."""
        iid = intent["id"]
        with self.engine.connect() as conn:
            last = (
                conn.execute(select(t.tx_attempts).where(t.tx_attempts.c.tx_hash == intent["tx_hash"]))
                .mappings()
                .one()
            )
        try:
            fees = bumped(Fees(last["max_fee"], last["priority_fee"]), self._market_fees(), self.config.fees)
        except Exception as exc:
            log.error("cannot replace a stuck transaction", extra={"intent": iid, "error": str(exc)})
            return
        to, data = intent["to_address"], intent["data"]
        if intent["state"] != VOIDING:
            try:
                self.w3.eth.call({"from": self.signer, "to": to, "data": data})
            except (ContractCustomError, ContractLogicError) as exc:
                self._void(intent, f"no longer valid: {exc}")
                return
        with self.engine.begin() as conn:
            new_hash = self._record_attempt(conn, iid, intent["nonce"], to, data, intent["gas"], fees)
        log.info(
            "replaced a stuck transaction",
            extra={"intent": iid, "nonce": intent["nonce"], "tx": new_hash, "max_fee": fees.max_fee},
        )
        self._send_latest(iid)

    def _void(self, intent: dict[str, Any], reason: str) -> None:
        """Fill the intent's nonce with a 0-value self-transfer so later nonces are not stranded."""
        iid = intent["id"]
        with self.engine.connect() as conn:
            last = (
                conn.execute(select(t.tx_attempts).where(t.tx_attempts.c.tx_hash == intent["tx_hash"]))
                .mappings()
                .one()
            )
        fees = bumped(Fees(last["max_fee"], last["priority_fee"]), self._market_fees(), self.config.fees)
        with self.engine.begin() as conn:
            conn.execute(
                update(t.tx_intents)
                .where(t.tx_intents.c.id == iid)
                .values(state=VOIDING, to_address=self.signer, data="0x", gas=21_000, error=reason)
            )
            self._record_attempt(conn, iid, intent["nonce"], self.signer, "0x", 21_000, fees)
        log.warning(
            "voiding a nonce with a no-op", extra={"intent": iid, "nonce": intent["nonce"], "reason": reason}
        )
        self._send_latest(iid)

    def _set(self, intent_id: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(t.tx_intents).where(t.tx_intents.c.id == intent_id).values(**values))
