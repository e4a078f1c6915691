"""Tracking open intents until their nonce is used on chain: receipts, resends, replacements of
stuck payloads, no-ops for refused ones, and reorgs. Every decision is the state machine's
(`states`); this module observes, records and sends.

Kept in memory, and safe to lose: which intents had no receipt at the current head (asked again
only when the head changes), at which heads an intent's nonce looked used by someone else, and
how often the node refused a payload (`Dispatcher.send_failures`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from staking.db.lock import LostLeadership
from staking.domain.vocabulary import TxState
from staking.txmanager import states as sm
from staking.txmanager.client import TxClient
from staking.txmanager.dispatch import Dispatcher
from staking.txmanager.fees import FeeCapExceeded, Fees
from staking.txmanager.states import FeeCapped, Receipt, Step, TxConfig
from staking.txmanager.store import IntentStore, now_ms

log = logging.getLogger("txmanager")

# Writes a webhook event in the caller's transaction (`WebhookNotifier.record`).
Outbox = Callable[[Connection, str, dict[str, Any]], None]
FEE_CAPPED_EVENT = "tx_fee_capped"


class Tracker:
    def __init__(
        self,
        store: IntentStore,
        client: TxClient,
        dispatcher: Dispatcher,
        config: TxConfig,
        outbox: Outbox | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.dispatcher = dispatcher
        self.config = config
        self.signer = store.signer
        self.outbox = outbox
        # intent id -> head block hash at which it had no receipt: it cannot get one before the
        # head changes, so it is not looked up again until then.
        self._no_receipt_at: dict[int, str] = {}
        self._rechecked_at: str | None = None
        # intent id -> heads at which its nonce was used on chain without a receipt of ours
        self._consumed_at: dict[int, set[int]] = {}

    def tick(self) -> None:
        """One pass over open intents: resend, record receipts, replace stuck ones, undo reorged ones.

        Receipts are asked for in one batch, and only for intents not yet seen without one at the
        current head: a receipt can appear only with a new (or a replaced) head block."""
        open_intents = self.store.open_intents()
        head, head_hash = self.client.head()
        open_ids = {i["id"] for i in open_intents}
        self._no_receipt_at = {k: v for k, v in self._no_receipt_at.items() if k in open_ids}
        to_check = [i for i in open_intents if self._no_receipt_at.get(i["id"]) != head_hash]
        receipts = self.receipts([i["id"] for i in to_check])
        with self.store.write() as conn:  # all receipts of this tick in one transaction
            for intent in open_intents:
                if intent["id"] in receipts:
                    self.record_receipt(conn, intent, receipts[intent["id"]], head)
        latest_nonce: int | None = None
        for intent in open_intents:
            iid = intent["id"]
            try:
                if iid in receipts:
                    continue
                if any(i is intent for i in to_check):
                    self._no_receipt_at[iid] = head_hash
                if intent["state"] == TxState.SENT and latest_nonce is None:
                    latest_nonce = self.client.nonce("latest")
                self.track(intent, head, latest_nonce)
            except LostLeadership:
                raise
            except Exception:
                log.exception("tracking an intent failed", extra={"intent": iid})
        if head_hash != self._rechecked_at:
            self.recheck_recent(head)
            self._rechecked_at = head_hash

    def track(self, intent: dict[str, Any], head: int, latest_nonce: int | None) -> None:
        """An open intent without a receipt: send, resend, or replace it."""
        iid = intent["id"]
        waited = (now_ms() - (intent["sent_ms"] or intent["created_ms"])) / 1000
        step = sm.track_step(intent["state"], intent["nonce"], latest_nonce, waited, self.config)
        if step is Step.SEND:
            refusals = self.dispatcher.send_failures
            if not self.dispatcher.send_latest(iid) and sm.should_void(refusals.get(iid, 0), self.config):
                self.void(intent, sm.REFUSED_ERROR)
            return
        if step is Step.UNMINE:  # its block was reorged away: the receipt is gone
            with self.store.write() as conn:
                state = sm.reorged_state(intent["state"])
                self.store.set(conn, iid, state=state, mined_block=None, mined_block_hash=None)
            self.dispatcher.send_latest(iid)
            return
        if step is Step.NONCE_USED:
            # Our payload may have been mined after the receipt lookup: look again before
            # concluding anything.
            receipt = self.receipts([iid]).get(iid)
            if receipt is not None:
                with self.store.write() as conn:
                    self.record_receipt(conn, intent, receipt, self.client.head_number())
                return
            # None of our payloads has a receipt: another sender used the key — or a reorg ran
            # between the nonce read and the receipt lookup.
            seen = self._consumed_at.setdefault(iid, set())
            seen.add(head)
            if sm.consumed_elsewhere(seen):
                with self.store.write() as conn:
                    state = sm.transition(intent["state"], TxState.FAILED)
                    self.store.set(conn, iid, state=state, error=sm.CONSUMED_ERROR)
                log.error("nonce consumed elsewhere", extra={"intent": iid, "nonce": intent["nonce"]})
            return
        self._consumed_at.pop(iid, None)
        if step is Step.REPLACE:
            self.replace(intent)

    def receipts(self, intent_ids: list[int]) -> dict[int, Receipt]:
        """The receipt of any payload of each intent (one batch request)."""
        if not intent_ids:
            return {}
        attempts = self.store.attempt_hashes(intent_ids)
        found: dict[int, Receipt] = {}
        answers = self.client.receipts([h for _, h in attempts])
        for (intent_id, _), receipt in zip(attempts, answers, strict=True):
            if receipt is not None and intent_id not in found:
                found[intent_id] = receipt
        return found

    def record_receipt(self, conn: Connection, intent: dict[str, Any], receipt: Receipt, head: int) -> None:
        iid = intent["id"]
        outcome = sm.on_receipt(
            intent["state"], intent["error"], receipt, self.signer, head, self.config.confirmations
        )
        values: dict[str, Any] = {
            "state": outcome.state,
            "tx_hash": receipt.tx_hash,
            "mined_block": receipt.block,
            "mined_block_hash": receipt.block_hash,
        }
        if outcome.state == TxState.FAILED:
            values["error"] = outcome.error
            log.error(
                "transaction failed", extra={"intent": iid, "tx": receipt.tx_hash, "error": outcome.error}
            )
        elif outcome.clear_error:
            log.warning(
                "the call mined before its no-op replacement", extra={"intent": iid, "tx": receipt.tx_hash}
            )
            values["error"] = None
        if outcome.confirmed:
            values["confirmed_ms"] = now_ms()
        self.store.set(conn, iid, **values)

    def recheck_recent(self, head: int) -> None:
        """Confirmed intents in the last `reorg_window` blocks whose block is no longer canonical."""
        hashes: dict[int, str | None] = {}
        reorged: list[int] = []
        for r in self.store.recent_confirmed(head, self.config.reorg_window):
            number = r["mined_block"]
            if number > head:
                continue  # mined after the head this tick read: nothing to judge it by yet
            if number not in hashes:
                hashes[number] = self.client.block_hash(number)
            if sm.left_canonical_chain(number, r["mined_block_hash"], head, hashes[number]):
                log.warning(
                    "transaction's block was reorged away; tracking it again", extra={"intent": r["id"]}
                )
                with self.store.write() as conn:
                    state = sm.reorged_state(r["state"])
                    values = {"mined_block": None, "mined_block_hash": None, "confirmed_ms": None}
                    self.store.set(conn, r["id"], state=state, **values)
                reorged.append(r["id"])
        if reorged:
            # A node drops the transactions of orphaned blocks and may drop what waited in its pool:
            # the same payloads go out again now rather than after `stuck_after`.
            self.dispatcher.send(sorted(set(reorged) | set(self.store.waiting_ids())))

    # ---------------------------------------------------------------- replacing
    def replacement_fees(self, intent: dict[str, Any]) -> tuple[dict[str, Any], Fees | FeeCapped]:
        """The intent's latest attempt, and the fees to replace it with (or why it cannot be)."""
        last = self.store.attempt(intent["tx_hash"])
        try:
            market: Fees | FeeCapExceeded = self.client.market_fees()
        except FeeCapExceeded as exc:
            market = exc
        previous = Fees(last["max_fee"], last["priority_fee"])
        return last, sm.replacement_fees(previous, market, self.config.fees)

    def replace(self, intent: dict[str, Any]) -> None:
        """Same nonce, same call, fees bumped."""
        iid = intent["id"]
        try:
            last, fees = self.replacement_fees(intent)
        except Exception as exc:
            log.error("cannot replace a stuck transaction", extra={"intent": iid, "error": str(exc)})
            return
        if isinstance(fees, FeeCapped):
            self.fee_capped(intent, last, fees)
            return
        # The same call again, not re-simulated: the node simulates against its pending block,
        # which holds this very transaction (a jail "already used", a slash "already exists"),
        # and against the latest block a call may depend on a lower nonce still pending. Only one
        # payload per nonce can be mined, so a replacement never doubles an action; should the
        # call revert by now, its receipt says so and the action fails as it would have.
        to, data, nonce = intent["to_address"], intent["data"], intent["nonce"]
        with self.store.write() as conn:
            new_hash = self.dispatcher.record_attempt(conn, iid, nonce, to, data, intent["gas"], fees)
            if intent.get("fee_capped_ms") is not None:  # the cap was raised since: bumped again
                self.store.set(conn, iid, fee_capped_ms=None)
        log.info(
            "replaced a stuck transaction",
            extra={"intent": iid, "nonce": nonce, "tx": new_hash, "max_fee": fees.max_fee},
        )
        self.dispatcher.send_latest(iid)

    def void(self, intent: dict[str, Any], reason: str) -> None:
        """Fill the intent's nonce with a 0-value self-transfer so later nonces are not stranded."""
        iid, nonce = intent["id"], intent["nonce"]
        last, fees = self.replacement_fees(intent)
        if isinstance(fees, FeeCapped):
            self.fee_capped(intent, last, fees)
            return
        with self.store.write() as conn:
            state = sm.transition(intent["state"], TxState.VOIDING)
            no_op = {"to_address": self.signer, "data": "0x", "gas": sm.NO_OP_GAS}
            self.store.set(conn, iid, state=state, error=reason, **no_op)
            self.dispatcher.record_attempt(conn, iid, nonce, self.signer, "0x", sm.NO_OP_GAS, fees)
        log.warning("voiding a nonce with a no-op", extra={"intent": iid, "nonce": nonce, "reason": reason})
        self.dispatcher.send_latest(iid)

    def fee_capped(self, intent: dict[str, Any], last: dict[str, Any], capped: FeeCapped) -> None:
        """The intent cannot be bumped within the fee cap: recorded (every process sees it) and,
        the first time, announced through the webhook outbox in the same transaction."""
        iid, now = intent["id"], now_ms()
        with self.store.write() as conn:
            first = self.store.mark_fee_capped(conn, iid, now)
            if first and self.outbox is not None:
                self.outbox(conn, FEE_CAPPED_EVENT, sm.fee_capped_event(intent, last, capped, now))
        if first:
            log.error(
                "cannot replace a stuck transaction: fee cap",
                extra={"intent": iid, "key": intent["idempotency_key"], "nonce": intent["nonce"],
                       "cap": capped.cap, "wanted_max_fee": capped.wanted_max_fee},
            )  # fmt: skip
