"""From decided actions to on-chain transactions, and back to action and verdict states.

Pending actions go out in priority order: every isolation (`jail`) first, then the rest by
deadline, so a breach is isolated before anything else uses the signer's next nonce. Chain
actions are idempotent by key (`<kind>:<verdict id>`) in the transaction manager, and by the
verdict id on chain, so re-running a step after a crash never doubles an action.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, case, select, update
from web3.contract.contract import ContractFunction

from staking.chain.contracts import StakingContract
from staking.db import schema as t
from staking.txmanager.manager import CONFIRMED, FAILED, SimulationReverted, TxManager, now_ms
from staking.types import EventType, RecoveryPath, Severity
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
NOT_APPLICABLE = {
    "jail": {"ProviderIsTombstoned"},
    "begin_recovery": {"RecoveryOpen", "ProviderIsTombstoned"},
}
Notify = Callable[[str, dict[str, Any]], None]


class ActionExecutor:
    def __init__(
        self,
        engine: Engine,
        staking: StakingContract,
        txm: TxManager,
        notify: Notify | None = None,
        batch: int = 200,
    ) -> None:
        self.engine = engine
        self.staking = staking
        self.txm = txm
        self.notify = notify or (lambda kind, payload: None)
        self.batch = batch

    def step(self) -> int:
        """Submit pending actions, track transactions, settle actions and verdicts. Returns the
        number of actions that changed state."""
        changed = self._submit_pending()
        self.txm.tick()
        changed += self._settle()
        self._update_verdicts()
        return changed

    # ---- submitting
    def _submit_pending(self) -> int:
        a, v = t.actions, t.verdicts
        priority = case((a.c.kind == "jail", 0), else_=1)
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(a, v)
                    .join(v, v.c.id == a.c.verdict_id)
                    .where(a.c.state == "pending")
                    .order_by(priority, a.c.deadline_ms, v.c.received_ms, a.c.seq)
                    .limit(self.batch)
                )
                .mappings()
                .all()
            )
        done = 0
        for row in rows:
            try:
                done += self._submit_one(row)
            except Exception:
                log.exception("action submission failed; will retry", extra={"verdict": row["verdict_id"]})
        return done

    def _submit_one(self, row: Any) -> int:
        kind, vid, aid = row["kind"], row["verdict_id"], row["id"]
        if kind in DB_ONLY:
            self._set_action(aid, state="confirmed", confirmed_ms=now_ms(), note=DB_ONLY[kind])
            self.notify(kind, {"verdict_id": vid, "provider": row["provider"]})
            return 1
        if kind not in CHAIN_ACTIONS:
            self._set_action(aid, state="failed", note=f"unknown action kind {kind!r}")
            return 1
        try:
            intent_id = self.txm.submit(f"{kind}:{vid}", self._call_for(kind, row))
        except SimulationReverted as exc:
            if exc.error in ALREADY_DONE.get(kind, ()):
                self._set_action(
                    aid, state="confirmed", confirmed_ms=now_ms(), note=f"already on chain ({exc.error})"
                )
            elif exc.error in NOT_APPLICABLE.get(kind, ()):
                self._set_action(aid, state="skipped", note=exc.error)
            else:
                self._set_action(aid, state="failed", note=f"would revert: {exc.error}")
                self.notify("failure", {"verdict_id": vid, "action": kind, "error": exc.error})
            return 1
        self._set_action(aid, state="submitted", intent_id=intent_id)
        if kind == "jail":
            self.notify("isolation", {"verdict_id": vid, "provider": row["provider"]})
        return 1

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
            until = 0 if seconds == 0 else int(self.staking.w3.eth.get_block("latest")["timestamp"]) + seconds
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
                        a.c.id, a.c.state, a.c.verdict_id, a.c.kind, i.c.state.label("tx_state"), i.c.error
                    )
                    .join(i, i.c.id == a.c.intent_id)
                    .where(a.c.state.in_(["submitted", "confirmed"]))
                )
                .mappings()
                .all()
            )
        changed = 0
        for r in rows:
            if r["tx_state"] == CONFIRMED and r["state"] == "submitted":
                self._set_action(r["id"], state="confirmed", confirmed_ms=now_ms())
            elif r["tx_state"] == FAILED and r["state"] != "failed":
                self._set_action(r["id"], state="failed", note=r["error"])
                self.notify(
                    "failure", {"verdict_id": r["verdict_id"], "action": r["kind"], "error": r["error"]}
                )
            elif r["tx_state"] not in (CONFIRMED, FAILED) and r["state"] == "confirmed":
                self._set_action(r["id"], state="submitted", confirmed_ms=None)  # reorged away
            else:
                continue
            changed += 1
        return changed

    def _update_verdicts(self) -> None:
        """Verdict status follows its actions; each change is announced once (webhook "decision")."""
        a, v = t.actions, t.verdicts
        changes: list[tuple[str, str]] = []
        with self.engine.begin() as conn:
            open_rows = conn.execute(
                select(v.c.id, v.c.status).where(v.c.status.in_(["received", "executing"]))
            ).all()
            for vid, current in open_rows:
                states = [r.state for r in conn.execute(select(a.c.state).where(a.c.verdict_id == vid))]
                if any(s == "failed" for s in states):
                    status = "failed"
                elif all(s in ("confirmed", "skipped") for s in states):
                    status = "done"
                elif any(s != "pending" for s in states):
                    status = "executing"
                else:
                    continue
                if status != current:
                    conn.execute(update(v).where(v.c.id == vid).values(status=status, updated_ms=now_ms()))
                    changes.append((vid, status))
        for vid, status in changes:
            self.notify("decision", {"verdict_id": vid, "status": status})

    def _set_action(self, action_id: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(t.actions).where(t.actions.c.id == action_id).values(**values))

    def run(self, stop: Any, interval: float = 0.25) -> None:
        while not stop.is_set():
            try:
                if self.step() == 0:
                    stop.wait(interval)
            except Exception:
                log.exception("worker step failed; retrying")
                stop.wait(1.0)
            time.sleep(0)
