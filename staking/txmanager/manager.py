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
- Fencing: with a `Fence` (several workers on one database, one leader), every transaction that
  takes a nonce, signs a payload or records a send first checks, in the same database transaction,
  that the leader lease is still at this manager's term, and raises LostLeadership otherwise. A
  deposed leader can therefore never plan or sign; at most it re-sends a payload already recorded
  (same hash, harmless). Nothing else is kept in memory that could send: nonces live in the table.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, select, update
from web3 import Web3
from web3.contract.contract import ContractFunction

from staking.chain.rpc import RawRpc, RpcError
from staking.db import schema as t
from staking.db.lock import Fence, LostLeadership
from staking.domain.errors import NodeUnreachable
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


OnPlanned = Callable[[Any, int, int], None]


# Heads in a row at which a nonce must look used by someone else before its intent fails.
CONSUMED_HEADS = 3


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
        fence: Fence | None = None,
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
        self.rpc = RawRpc(w3)
        self._fees: tuple[float, Fees] | None = None
        self._gas_cap: dict[str, int] = {}  # selector -> gas limit (see _simulate_many)
        # intent id -> head block hash at which it had no receipt: it cannot get one before the
        # head changes, so it is not looked up again until then.
        self._no_receipt_at: dict[int, str] = {}
        self._rechecked_at: str | None = None
        self._conn: Any = None  # the transaction `_set` joins while tick() records receipts
        # intent id -> heads at which its nonce was used on chain without a receipt of ours
        self._consumed_at: dict[int, set[int]] = {}
        self.fence = fence
        self._fenced: Any = None  # the database transaction the fence was last checked in

    def _check_fence(self, conn: Any) -> None:
        """Raises LostLeadership unless this manager's term is still the lease's (see `Fence`).
        Checked once per database transaction."""
        if self.fence is None:
            return
        transaction = conn.get_transaction()
        if transaction is not None and transaction is self._fenced:
            return
        self.fence.check(conn)
        self._fenced = transaction

    # ---------------------------------------------------------------- start-up
    def reconcile(self) -> None:
        """Align the persisted nonce with the chain and re-send whatever a crash left unsent."""
        with self._lock:
            chain_next = self.w3.eth.get_transaction_count(self.signer, "pending")
            with self.engine.begin() as conn:
                self._check_fence(conn)
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

    def intent_state(self, intent_id: int) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(t.tx_intents.c.state).where(t.tx_intents.c.id == intent_id)).scalar()

    def simulate(self, fn: ContractFunction) -> int:
        """Gas estimate, which runs the call; raises SimulationReverted with the custom error's name."""
        return self._estimate(fn.address, fn._encode_transaction_data())

    def _estimate(self, to: str, data: str) -> int:
        try:
            return int(self.rpc.call("eth_estimateGas", [{"from": self.signer, "to": to, "data": data}]), 16)
        except RpcError as exc:
            raise self._simulation_error(exc) from None

    def submit(self, key: str, fn: ContractFunction) -> int:
        """Sends `fn` once for `key` and returns the intent id (the existing one on a repeat).
        Raises SimulationReverted (nothing recorded, no nonce used) if the call would revert."""
        result = self.submit_many([(key, fn)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def submit_many(
        self, calls: list[tuple[str, ContractFunction]], on_planned: OnPlanned | None = None
    ) -> list[int | Exception]:
        """`submit` for a batch, in one simulation request, one write-ahead database transaction
        and one send request. Each slot holds the intent id, or the exception for that call
        (SimulationReverted: nothing recorded, no nonce used; RpcError/NodeUnreachable: retry later).

        `on_planned(conn, slot, intent_id)` runs inside the write-ahead transaction for each new
        intent, so the caller's own record of it commits atomically with the intent."""
        with self._lock:
            results: list[int | Exception | None] = [None] * len(calls)
            existing = self._intent_ids([key for key, _ in calls])
            todo: list[tuple[int, str, str, str]] = []  # (slot, key, to, data)
            seen: dict[str, int] = {}
            for slot, (key, fn) in enumerate(calls):
                if key in existing:
                    results[slot] = existing[key]
                elif key not in seen:
                    seen[key] = slot
                    todo.append((slot, key, fn.address, fn._encode_transaction_data()))
            gases = self._simulate_many([(to, data) for _, _, to, data in todo])
            planned: list[int] = []
            if todo:
                fees = self._market_fees()
                with self.engine.begin() as conn:
                    for (slot, key, to, data), gas in zip(todo, gases, strict=True):
                        if isinstance(gas, Exception):
                            results[slot] = gas
                            continue
                        intent_id = self._plan(conn, key, to, data, gas, fees)
                        if on_planned is not None:
                            on_planned(conn, slot, intent_id)
                        results[slot] = intent_id
                        planned.append(intent_id)
            self._send(planned)
            for slot, (key, _) in enumerate(calls):
                if results[slot] is None:  # a repeated key within the batch
                    results[slot] = results[seen[key]]
            return [r for r in results if r is not None]

    def _simulate_many(self, calls: list[tuple[str, str]]) -> list[int | Exception]:
        """The gas limit to send each call with, or why it cannot be sent.

        A function seen before is simulated with one `eth_call` at the gas limit it will be sent
        with (the highest margin-padded estimate seen for its selector): if the call succeeds
        within that limit, the transaction will too, on the same state. Only new functions, and
        calls that need more gas than that, pay for `eth_estimateGas`, which runs the call many
        times over to search for the limit."""
        out: list[int | Exception | None] = [None] * len(calls)
        capped = [i for i, (_, data) in enumerate(calls) if data[:10] in self._gas_cap]
        answers = self.rpc.batch(
            [
                (
                    "eth_call",
                    [
                        {
                            "from": self.signer,
                            "to": calls[i][0],
                            "data": calls[i][1],
                            "gas": hex(self._gas_cap[calls[i][1][:10]]),
                        },
                        "latest",
                    ],
                )
                for i in capped
            ]
        )
        for i, answer in zip(capped, answers, strict=True):
            if not isinstance(answer, RpcError):
                out[i] = self._gas_cap[calls[i][1][:10]]
            elif answer.data and len(answer.data) >= 10:
                out[i] = self._simulation_error(answer)  # a revert, not a gas shortage
        rest = [i for i in range(len(calls)) if out[i] is None]
        estimates = self.rpc.batch(
            [
                ("eth_estimateGas", [{"from": self.signer, "to": calls[i][0], "data": calls[i][1]}])
                for i in rest
            ]
        )
        for i, estimate in zip(rest, estimates, strict=True):
            if isinstance(estimate, RpcError):
                out[i] = self._simulation_error(estimate)
                continue
            gas = int(estimate, 16) * (100 + self.config.gas_margin_percent) // 100
            selector = calls[i][1][:10]
            self._gas_cap[selector] = max(gas, self._gas_cap.get(selector, 0))
            out[i] = gas
        return [r for r in out if r is not None]

    def _intent_ids(self, keys: list[str]) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.tx_intents.c.idempotency_key, t.tx_intents.c.id).where(
                    t.tx_intents.c.idempotency_key.in_(keys)
                )
            ).all()
        return {k: int(i) for k, i in rows}

    def _simulation_error(self, exc: RpcError) -> Exception:
        if exc.data and len(exc.data) >= 10:
            return SimulationReverted(self._error_name(exc.data), exc.data)
        if "revert" in exc.message.lower():
            return SimulationReverted("Revert", exc.message)
        return exc

    def _plan(self, conn: Any, key: str, to: str, data: str, gas: int, fees: Fees) -> int:
        """The write-ahead record: an intent with its nonce and its signed payload."""
        nonce = self._take_nonce(conn)
        inserted = conn.execute(
            t.tx_intents.insert().values(
                idempotency_key=key,
                signer=self.signer,
                nonce=nonce,
                to_address=to,
                data=data,
                gas=gas,
                state=PLANNED,
                attempts=0,
                created_ms=now_ms(),
            )
        ).inserted_primary_key
        assert inserted is not None
        intent_id = int(inserted[0])
        self._record_attempt(conn, intent_id, nonce, to, data, gas, fees)
        return intent_id

    def _take_nonce(self, conn: Any) -> int:
        self._check_fence(conn)
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
        """From `eth_feeHistory`, asked at most once a second (a burst shares one answer)."""
        now = time.monotonic()
        if self._fees is None or now - self._fees[0] >= 1.0:
            history = self.rpc.call("eth_feeHistory", [5, "latest", [self.config.fees.reward_percentile]])
            self._fees = (now, fees_from_history(history, self.config.fees))
        return self._fees[1]

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
        self._check_fence(conn)  # nothing is signed for a deposed leader
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
        return self._send([intent_id]) == [True]

    def _send(self, intent_ids: list[int]) -> list[bool]:
        """Sends each intent's latest payload (one batch request); marks the accepted ones sent.
        A payload the node already has, or whose nonce is already mined, counts as accepted:
        tick() finds out which."""
        if not intent_ids:
            return []
        with self.engine.begin() as conn:
            self._check_fence(conn)  # a deposed leader stays quiet (a re-send would be harmless)
            rows = {
                r.id: r
                for r in conn.execute(
                    select(t.tx_intents.c.id, t.tx_intents.c.state, t.tx_attempts.c.raw_tx)
                    .join(t.tx_attempts, t.tx_attempts.c.tx_hash == t.tx_intents.c.tx_hash)
                    .where(t.tx_intents.c.id.in_(intent_ids))
                )
            }
        try:
            answers: list[Any] = self.rpc.batch(
                [("eth_sendRawTransaction", [rows[i].raw_tx]) for i in intent_ids]
            )
        except NodeUnreachable as exc:
            answers = [exc] * len(intent_ids)
        accepted: list[bool] = []
        for intent_id, answer in zip(intent_ids, answers, strict=True):
            message = str(answer).lower() if isinstance(answer, Exception) else ""
            ok = not isinstance(answer, Exception) or "already known" in message or "nonce too low" in message
            if not ok:
                n = self._send_failures[intent_id] = self._send_failures.get(intent_id, 0) + 1
                log.warning(
                    "node refused a transaction",
                    extra={"intent": intent_id, "attempt": n, "error": str(answer)[:200]},
                )
            accepted.append(ok)
        sent_ms = now_ms()
        with self.engine.begin() as conn:
            self._check_fence(conn)
            for intent_id, ok in zip(intent_ids, accepted, strict=True):
                if ok:
                    state = VOIDING if rows[intent_id].state == VOIDING else SENT
                    conn.execute(
                        update(t.tx_intents)
                        .where(t.tx_intents.c.id == intent_id)
                        .values(state=state, sent_ms=sent_ms)
                    )
        return accepted

    # ---------------------------------------------------------------- tracking
    def tick(self) -> None:
        """One pass over open intents: resend, record receipts, replace stuck ones, undo reorged ones.

        Receipts are asked for in one batch, and only for intents not yet seen without one at the
        current head: a receipt can appear only with a new (or a replaced) head block."""
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
            head_block = self.rpc.call("eth_getBlockByNumber", ["latest", False])
            head, head_hash = int(head_block["number"], 16), head_block["hash"]
            open_ids = {i["id"] for i in open_intents}
            self._no_receipt_at = {k: v for k, v in self._no_receipt_at.items() if k in open_ids}
            to_check = [i for i in open_intents if self._no_receipt_at.get(i["id"]) != head_hash]
            receipts = self._receipts([i["id"] for i in to_check])
            with self.engine.begin() as conn:  # all receipts of this tick in one transaction
                if receipts:
                    self._check_fence(conn)
                self._conn = conn
                try:
                    for intent in open_intents:
                        if intent["id"] in receipts:
                            self._record_receipt(intent, receipts[intent["id"]], head)
                finally:
                    self._conn = None
            latest_nonce: int | None = None
            for intent in open_intents:
                iid = intent["id"]
                try:
                    if iid in receipts:
                        continue
                    if any(i is intent for i in to_check):
                        self._no_receipt_at[iid] = head_hash
                    if intent["state"] == SENT and latest_nonce is None:
                        latest_nonce = self.w3.eth.get_transaction_count(self.signer, "latest")
                    self._track(intent, head, latest_nonce)
                except LostLeadership:
                    raise
                except Exception:
                    log.exception("tracking an intent failed", extra={"intent": iid})
            if head_hash != self._rechecked_at:
                self._recheck_recent(head)
                self._rechecked_at = head_hash

    def _track(self, intent: dict[str, Any], head: int, latest_nonce: int | None) -> None:
        """An open intent without a receipt: send, resend, or replace it."""
        iid = intent["id"]
        if intent["state"] == PLANNED:
            if not self._send_latest(iid) and self._send_failures.get(iid, 0) >= self.config.send_retries:
                self._void(intent, "the node refused the payload")
            return
        if intent["state"] == MINED:  # its block was reorged away: the receipt is gone
            self._set(iid, state=SENT, mined_block=None, mined_block_hash=None)
            self._send_latest(iid)
            return
        if latest_nonce is not None and latest_nonce > intent["nonce"]:
            # The nonce is used. Our payload may have been mined after the receipt lookup: look
            # again before concluding anything.
            receipt = self._receipts([iid]).get(iid)
            if receipt is not None:
                self._record_receipt(intent, receipt, self.rpc_head())
                return
            # None of our payloads has a receipt: another sender used the key — or a reorg ran
            # between the nonce read and the receipt lookup. Failing is final, so only when it
            # holds at several heads in a row.
            seen = self._consumed_at.setdefault(iid, set())
            seen.add(head)
            if len(seen) < CONSUMED_HEADS:
                return
            self._set(iid, state=FAILED, error="nonce consumed by a transaction this service did not send")
            log.error("nonce consumed elsewhere", extra={"intent": iid, "nonce": intent["nonce"]})
            return
        self._consumed_at.pop(iid, None)
        waited = (now_ms() - (intent["sent_ms"] or intent["created_ms"])) / 1000
        if waited >= self.config.stuck_after:
            self._replace(intent)

    def rpc_head(self) -> int:
        return int(self.rpc.call("eth_blockNumber", []), 16)

    def _receipts(self, intent_ids: list[int]) -> dict[int, dict[str, Any]]:
        """The receipt of any payload of each intent (one batch request), normalized."""
        if not intent_ids:
            return {}
        with self.engine.connect() as conn:
            attempts = conn.execute(
                select(t.tx_attempts.c.intent_id, t.tx_attempts.c.tx_hash)
                .where(t.tx_attempts.c.intent_id.in_(intent_ids))
                .order_by(t.tx_attempts.c.created_ms.desc())
            ).all()
        found: dict[int, dict[str, Any]] = {}
        answers = self.rpc.batch([("eth_getTransactionReceipt", [a.tx_hash]) for a in attempts])
        for attempt, raw in zip(attempts, answers, strict=True):
            if isinstance(raw, RpcError):
                raise raw
            if raw is not None and raw.get("blockNumber") and attempt.intent_id not in found:
                found[attempt.intent_id] = {
                    "block": int(raw["blockNumber"], 16),
                    "block_hash": raw["blockHash"],
                    "tx_hash": raw["transactionHash"],
                    "status": int(raw["status"], 16),
                    "to": raw.get("to"),
                }
        return found

    def _record_receipt(self, intent: dict[str, Any], receipt: dict[str, Any], head: int) -> None:
        iid = intent["id"]
        block, block_hash, tx_hash = receipt["block"], receipt["block_hash"], receipt["tx_hash"]
        voided = intent["state"] == VOIDING and (receipt["to"] or "").lower() == self.signer.lower()
        if voided or receipt["status"] != 1:
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
        if intent["state"] == VOIDING:  # the original call was mined before its no-op replacement
            log.warning("the call mined before its no-op replacement", extra={"intent": iid, "tx": tx_hash})
            self._set(iid, error=None)
        depth = max(head, block) - block + 1  # the receipt may be newer than the head read first
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
        hashes: dict[int, str | None] = {}
        reorged: list[int] = []
        for r in recent:
            number = r["mined_block"]
            if number > head:
                continue  # mined after the head this tick read: nothing to judge it by yet
            if number not in hashes:
                block = self.rpc.call("eth_getBlockByNumber", [hex(number), False])
                hashes[number] = block["hash"] if block else None
            if hashes[number] != r["mined_block_hash"]:
                log.warning(
                    "transaction's block was reorged away; tracking it again", extra={"intent": r["id"]}
                )
                self._set(r["id"], state=SENT, mined_block=None, mined_block_hash=None, confirmed_ms=None)
                reorged.append(r["id"])
        if reorged:
            # A node drops the transactions of orphaned blocks and may drop what waited in its pool:
            # the same payloads go out again now rather than after `stuck_after`.
            with self.engine.connect() as conn:
                waiting = conn.execute(
                    select(t.tx_intents.c.id).where(
                        t.tx_intents.c.signer == self.signer, t.tx_intents.c.state.in_((SENT, VOIDING))
                    )
                ).scalars()
                again = sorted(set(reorged) | set(waiting))
            self._send(again)

    def _replace(self, intent: dict[str, Any]) -> None:
        """Same nonce, same call, fees bumped."""
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
        # The same call again, not re-simulated: the node simulates against its pending block,
        # which holds this very transaction (a jail "already used", a slash "already exists"),
        # and against the latest block a call may depend on a lower nonce still pending. Only one
        # payload per nonce can be mined, so a replacement never doubles an action; should the
        # call revert by now, its receipt says so and the action fails as it would have.
        to, data = intent["to_address"], intent["data"]
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
        statement = update(t.tx_intents).where(t.tx_intents.c.id == intent_id).values(**values)
        if self._conn is not None:
            self._conn.execute(statement)
            return
        with self.engine.begin() as conn:
            self._check_fence(conn)
            conn.execute(statement)
