"""From decided actions to on-chain transactions, and back to action and verdict states.

Pending actions go out in priority order: every isolation (`jail`) first, then the rest by
deadline, so a breach is isolated before anything else uses the signer's next nonce. Jails are
ordered by an internal target of 1/20 of their response deadline (3 s for a breach's 60 s, 1.5 s
for an attack's 30 s): plain earliest-deadline-first would hold every breach of a burst behind
every attack received up to 30 s later, although both would meet their deadline in FIFO order. Chain
actions are idempotent by key (`<kind>:<verdict id>`) in the transaction manager, and by the
verdict id on chain, so re-running a step after a crash never doubles an action.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, case, literal, select, update
from web3.contract.contract import ContractFunction

from staking.chain.contracts import StakingContract
from staking.db import schema as t
from staking.domain.vocabulary import ActionState, EventType, RecoveryPath, Severity, TxState, VerdictStatus
from staking.recovery import state_of
from staking.txmanager.manager import SimulationReverted, TxManager, now_ms
from staking.txmanager.states import OPEN_STATES
from staking.verdict import Verdict

log = logging.getLogger("worker")

CHAIN_ACTIONS = ("jail", "propose_slash", "begin_recovery")
DB_ONLY = {
    "warn": "strike recorded",
    "open_investigation": "investigation opened for the security team",
    "propose_tombstone": "tombstone proposal filed for governance",
}
# A simulated revert that means "the effect is already there" settles the action.
ALREADY_DONE = {"jail": {"VerdictAlreadyUsed"}, "propose_slash": {"SlashAlreadyExists"}}
# A simulated revert that will pass later: the chain's clock has not reached the verdict's
# detection time yet (a block's timestamp trails the wall clock by up to a block interval), or the
# contract is paused for an emergency. The action stays pending and is simulated again next step.
NOT_YET = {"VerdictFromFuture", "EnforcedPause"}
NOT_APPLICABLE = {
    "jail": {"ProviderIsTombstoned"},
    "begin_recovery": {"RecoveryOpen", "ProviderIsTombstoned"},
}
JAIL_TARGET_DIVISOR = 20
# Seconds since another verdict's beginRecovery confirmed before a second one for the same provider
# is simulated (and then settles as RecoveryOpen): longer than a shallow reorg takes to show.
RECOVERY_SETTLE_S = 15
_SETTLED = (TxState.CONFIRMED, TxState.FAILED)  # a confirmed action whose tx is neither was reorged away
Notify = Callable[[str, dict[str, Any]], None]


def verdict_status(action_states: list[str]) -> str | None:
    """A verdict's status from its actions' states (None: still untouched, stays "received")."""
    if any(s == ActionState.FAILED for s in action_states):
        return VerdictStatus.FAILED
    if all(s in (ActionState.CONFIRMED, ActionState.SKIPPED) for s in action_states):
        return VerdictStatus.DONE
    if any(s != ActionState.PENDING for s in action_states):
        return VerdictStatus.EXECUTING
    return None


class ActionExecutor:
    def __init__(
        self,
        engine: Engine,
        staking: StakingContract,
        txm: TxManager,
        notify: Notify | None = None,
        batch: int = 25,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock`: the wall clock (unix seconds) that stamps action and verdict changes."""
        self.engine = engine
        self.staking = staking
        self.txm = txm
        self.notify = notify or (lambda kind, payload: None)
        self.batch = batch
        self.clock = clock
        self._chain_now: int | None = None
        self._updates: list[tuple[int, dict[str, Any]]] = []

    def step(self) -> int:
        """Submit pending actions, track transactions, settle actions and verdicts. Returns the
        number of actions that changed state.

        A step submits at most `batch` actions, so tracking runs often during a burst and a
        breach that arrives mid-burst is isolated in the next step, ahead of older proposals."""
        self._chain_now = None
        changed = self._submit_pending()
        self._flush()
        self.txm.tick()
        changed += self._settle()
        self._update_verdicts()  # flushes the settled action states in the same transaction
        return changed

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # ---- submitting
    def _submit_pending(self) -> int:
        a, v = t.actions, t.verdicts
        priority = case((a.c.kind == "jail", 0), else_=1)
        target = case(
            (a.c.kind == "jail", v.c.received_ms + (a.c.deadline_ms - v.c.received_ms) / JAIL_TARGET_DIVISOR),
            else_=a.c.deadline_ms,
        )
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(a, v)
                    .join(v, v.c.id == a.c.verdict_id)
                    .where(a.c.state == ActionState.PENDING)
                    .order_by(priority, target, v.c.received_ms, a.c.seq)
                    .limit(self.batch)
                )
                .mappings()
                .all()
            )
        done = 0
        chain_rows: list[Any] = []
        recovering: set[str] = set()  # providers with a beginRecovery in this batch
        for row in rows:
            kind = row["kind"]
            if kind in DB_ONLY:
                note = DB_ONLY[kind]
                self._set_action(
                    row["id"], state=ActionState.CONFIRMED, confirmed_ms=self._now_ms(), note=note
                )
                self.notify(kind, {"verdict_id": row["verdict_id"], "provider": row["provider"]})
                done += 1
            elif kind not in CHAIN_ACTIONS:
                self._set_action(row["id"], state=ActionState.FAILED, note=f"unknown action kind {kind!r}")
                done += 1
            elif kind == "begin_recovery" and (
                row["provider"] in recovering or self._recovery_in_flight(row["provider"], row["verdict_id"])
            ):
                continue  # decided after the one in flight settles: it then simulates as RecoveryOpen
            else:
                if kind == "begin_recovery":
                    recovering.add(row["provider"])
                chain_rows.append(row)
        if not chain_rows:
            return done
        try:
            calls = [(f"{r['kind']}:{r['verdict_id']}", self._call_for(r["kind"], r)) for r in chain_rows]
            planned: set[int] = set()

            def mark_submitted(conn: Any, slot: int, intent_id: int) -> None:
                conn.execute(
                    update(t.actions)
                    .where(t.actions.c.id == chain_rows[slot]["id"])
                    .values(state=ActionState.SUBMITTED, intent_id=intent_id)
                )
                planned.add(slot)

            results = self.txm.submit_many(calls, on_planned=mark_submitted)
        except Exception:
            log.exception("action submission failed; will retry", extra={"actions": len(chain_rows)})
            return done
        for slot, (row, result) in enumerate(zip(chain_rows, results, strict=True)):
            done += self._settle_submission(row, result, recorded=slot in planned)
        return done

    def _settle_submission(self, row: Any, result: int | Exception, recorded: bool) -> int:
        kind, vid, aid = row["kind"], row["verdict_id"], row["id"]
        if isinstance(result, SimulationReverted):
            if result.error in NOT_YET:
                log.info(
                    "action not possible yet; will retry", extra={"verdict": vid, "reason": result.error}
                )
                return 0
            if result.error in ALREADY_DONE.get(kind, ()):
                note = f"already on chain ({result.error})"
                self._set_action(aid, state=ActionState.CONFIRMED, confirmed_ms=self._now_ms(), note=note)
            elif result.error in NOT_APPLICABLE.get(kind, ()):
                self._set_action(aid, state=ActionState.SKIPPED, note=result.error)
            else:
                self._set_action(aid, state=ActionState.FAILED, note=f"would revert: {result.error}")
                self.notify("failure", {"verdict_id": vid, "action": kind, "error": result.error})
            return 1
        if isinstance(result, Exception):
            log.warning(
                "action not submitted; will retry", extra={"verdict": vid, "error": str(result)[:200]}
            )
            return 0
        if not recorded:  # an intent planned before a crash: its action was never marked
            self._set_action(aid, state=ActionState.SUBMITTED, intent_id=result)
        if kind == "jail":
            self.notify("isolation", {"verdict_id": vid, "provider": row["provider"]})
        return 1

    def _chain_time(self) -> int:
        """The head block's timestamp, read once per step."""
        if self._chain_now is None:
            self._chain_now = int(
                self.txm.rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16
            )
        return self._chain_now

    def _recovery_in_flight(self, provider: str, verdict_id: str) -> bool:
        """Whether another verdict's `beginRecovery` for `provider` is sent but not settled.

        A provider has one recovery at a time; two sent together both simulate fine and the second
        reverts on chain. Waiting for the first turns the second into a clean "skipped"."""
        i, v = t.tx_intents, t.verdicts
        with self.engine.connect() as conn:
            others = conn.execute(
                select(i.c.state, i.c.confirmed_ms)
                .join(v, i.c.idempotency_key == literal("begin_recovery:") + v.c.id)
                .where(
                    v.c.provider == provider,
                    v.c.id != verdict_id,
                    i.c.state.in_([*OPEN_STATES, TxState.CONFIRMED]),
                )
            ).all()
        if any(o.state != TxState.CONFIRMED for o in others):
            return True
        # Confirmed only moments ago: a shallow reorg can still take it away for a moment, and a
        # second beginRecovery simulated in that moment would pass, then revert on chain.
        settled_before = now_ms() - RECOVERY_SETTLE_S * 1000
        return any((o.confirmed_ms or 0) > settled_before for o in others)

    def _recovery_was_open(self, r: Any) -> bool | None:
        """A `beginRecovery` that reverted while the provider's recovery is open: another verdict's
        opened it first. The hold in `_recovery_in_flight` prevents that, except when a reorg took
        the first one's block away for a moment and the second simulated fine in between. The
        recovery the verdict asked for is there: the action is skipped, as it would have been
        had it simulated as RecoveryOpen."""
        if r["kind"] != "begin_recovery" or "reverted" not in str(r["error"] or ""):
            return False
        try:
            provider = self.staking.provider(r["provider"])
            return state_of(provider, provider.registered).is_open
        except Exception:  # the node is down: None, judged on a later step
            return None

    def _call_for(self, kind: str, row: Any) -> ContractFunction:
        verdict = Verdict(
            id=bytes.fromhex(row["verdict_id"][2:]),
            provider=row["provider"],
            event_type=EventType(row["event_type"]),
            severity=Severity(row["severity"]),
            detected_at=row["detected_at"],
            evidence_hash=bytes.fromhex(row["evidence_hash"][2:]),
        )
        signature = bytes.fromhex(row["signature"][2:])
        if kind == "jail":
            seconds = row["jail_seconds"] or 0
            until = 0 if seconds == 0 else self._chain_time() + seconds
            return self.staking.jail(verdict, signature, until)
        if kind == "propose_slash":
            return self.staking.propose_slash(verdict, signature, row["slash_bps"])
        return self.staking.begin_recovery(row["provider"], RecoveryPath(row["recovery_path"]))

    # ---- settling
    def _settle(self) -> int:
        a, i = t.actions, t.tx_intents
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(
                        a.c.id,
                        a.c.state,
                        a.c.verdict_id,
                        a.c.kind,
                        i.c.state.label("tx_state"),
                        i.c.error,
                        t.verdicts.c.provider,
                    )
                    .join(i, i.c.id == a.c.intent_id)
                    .join(t.verdicts, t.verdicts.c.id == a.c.verdict_id)
                    .where(a.c.state.in_([ActionState.SUBMITTED, ActionState.CONFIRMED]))
                )
                .mappings()
                .all()
            )
        changed = 0
        for r in rows:
            if r["tx_state"] == TxState.CONFIRMED and r["state"] == ActionState.SUBMITTED:
                self._set_action(r["id"], state=ActionState.CONFIRMED, confirmed_ms=self._now_ms())
            elif r["tx_state"] == TxState.FAILED and r["state"] != ActionState.FAILED:
                recovery_open = self._recovery_was_open(r)
                if recovery_open is None:
                    continue  # the node is down: judged on a later step
                if recovery_open:
                    self._set_action(r["id"], state=ActionState.SKIPPED, note="RecoveryOpen")
                    changed += 1
                    continue
                self._set_action(r["id"], state=ActionState.FAILED, note=r["error"])
                self.notify(
                    "failure", {"verdict_id": r["verdict_id"], "action": r["kind"], "error": r["error"]}
                )
            elif (
                r["tx_state"] not in (TxState.CONFIRMED, TxState.FAILED)
                and r["state"] == ActionState.CONFIRMED
            ):
                self._set_action(r["id"], state=ActionState.SUBMITTED, confirmed_ms=None)  # reorged away
            else:
                continue
            changed += 1
        return changed

    def _update_verdicts(self) -> None:
        """Verdict status follows its actions; each change is announced once (webhook "decision")."""
        a, v = t.actions, t.verdicts
        changes: list[tuple[str, str]] = []
        with self.engine.begin() as conn:
            self._flush(conn)
            rows = conn.execute(
                select(v.c.id, v.c.status, a.c.state)
                .outerjoin(a, a.c.verdict_id == v.c.id)
                .where(v.c.status.in_([VerdictStatus.RECEIVED, VerdictStatus.EXECUTING]))
            ).all()
            states: dict[str, list[str]] = {}
            current: dict[str, str] = {}
            for vid, status, state in rows:
                states.setdefault(vid, [])
                if state is not None:  # a verdict decided without actions is done at once
                    states[vid].append(state)
                current[vid] = status
            for vid, action_states in states.items():
                status = verdict_status(action_states)
                if status is not None and status != current[vid]:
                    values = {"status": status, "updated_ms": self._now_ms()}
                    conn.execute(update(v).where(v.c.id == vid).values(**values))
                    changes.append((vid, status))
        for vid, status in changes:
            self.notify("decision", {"verdict_id": vid, "status": status})

    def _set_action(self, action_id: int, **values: Any) -> None:
        """Queued and written by `_flush` in one transaction per phase of a step. Safe to lose in
        a crash: action states are re-derived from the intents (keyed by action) on the next step."""
        self._updates.append((action_id, values))

    def _flush(self, conn: Any = None) -> None:
        if not self._updates:
            return
        if conn is None:
            with self.engine.begin() as own:
                self._flush(own)
            return
        for action_id, values in self._updates:
            conn.execute(update(t.actions).where(t.actions.c.id == action_id).values(**values))
        self._updates.clear()

    def run(self, stop: Any, interval: float = 0.25) -> None:
        while not stop.is_set():
            try:
                if self.step() == 0:
                    stop.wait(interval)
            except Exception:
                log.exception("worker step failed; retrying")
                stop.wait(1.0)
            time.sleep(0)
