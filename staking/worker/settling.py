"""Action and verdict states from the transaction manager's intents: the half of the executor that
follows what was sent (`ActionExecutor` in `staking.worker.executor` is the other half).

An action carries the intent it went out with (`actions.intent_id`; the jail and the slash of a
combined `jailAndProposeSlash` share one). Confirmed intent: confirmed action; failed intent:
failed action, except a combined one, whose actions go back to pending to go alone (isolation
never fails because the slash part of a combined call did); an intent whose block left the
canonical chain takes its confirmed actions back to submitted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select, update

from staking.chain.contracts import StakingContract
from staking.db import schema as t
from staking.domain.vocabulary import ActionState, TxState, VerdictStatus
from staking.recovery import state_of
from staking.worker.calls import COMBINED

log = logging.getLogger("worker")

Notify = Callable[[str, dict[str, Any]], None]


def verdict_status(action_states: list[str]) -> str | None:
    """A verdict's status from its actions' states (None: still untouched, stays "received").
    A held action keeps its verdict `executing`."""
    if any(s == ActionState.FAILED for s in action_states):
        return VerdictStatus.FAILED
    if all(s in (ActionState.CONFIRMED, ActionState.SKIPPED) for s in action_states):
        return VerdictStatus.DONE
    if any(s != ActionState.PENDING for s in action_states):
        return VerdictStatus.EXECUTING
    return None


class ActionStates:
    """Settling sent actions and their verdicts; action changes are queued (`_set_action`) and
    written by `_flush` in one transaction per phase of a step."""

    engine: Engine
    staking: StakingContract
    notify: Notify
    clock: Callable[[], float]

    def __init__(self) -> None:
        self._updates: list[tuple[int, dict[str, Any]]] = []

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

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
                        i.c.idempotency_key,
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
            elif r["tx_state"] == TxState.FAILED and r["idempotency_key"].startswith(f"{COMBINED}:"):
                note = f"jailAndProposeSlash failed ({r['error']}): goes alone"
                self._set_action(
                    r["id"], state=ActionState.PENDING, intent_id=None, confirmed_ms=None, note=note
                )
                log.warning(
                    "combined transaction failed; each action goes alone", extra={"verdict": r["verdict_id"]}
                )
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
