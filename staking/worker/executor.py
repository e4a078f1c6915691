"""From decided actions to on-chain transactions, and back to action and verdict states.

Pending actions go out in priority order: every isolation (`jail`) first, then the rest by
deadline, so a breach is isolated before anything else uses the signer's next nonce. Jails are
ordered by an internal target of 1/20 of their response deadline (3 s for a breach's 60 s, 1.5 s
for an attack's 30 s): plain earliest-deadline-first would hold every breach of a burst behind
every attack received up to 30 s later, although both would meet their deadline in FIFO order.

Within the chain's bounds (SPEC section 8):
- `held` actions (an open incident holds them) are never sent; `incident release` makes them
  pending again.
- A verdict's jail and slash proposal go as ONE `jailAndProposeSlash` (intent
  `jail_and_propose_slash:<verdict id>`, at the jail's priority) when both are pending and the
  slash can go now with one signature; otherwise each goes alone. Isolation never waits for a
  slash: a combined call that would revert in its slash part (SlashCapExceeded, InvalidBps,
  QuorumNotMet) sends the jail alone in the same step, and a combined transaction that failed on
  chain puts both actions back to pending, to go alone.
- The slash is clamped to the chain's bound for the verdict's severity, waits for a detector
  quorum above `quorumBps`, and falls back after the policy's timeout (`slash_plan`).
- A full cap (JailCapExceeded, SlashCapExceeded) keeps the action pending, retried with backoff,
  noted, announced once per action (webhook "cap"). Jails of verdicts in an open detector
  incident stop `policy.incidents.reserve_jails` short of the jail cap (`held`), so other
  verdicts' isolations still land.
- A `begin_recovery` goes after its verdict's jail was sent: a provider the cap kept free is not
  put into recovery.

Chain actions are idempotent by key in the transaction manager (one intent per key, written
ahead of sending together with the actions it carries), and by the verdict id on chain (a jail
once per verdict, one slash per id), so re-running a step after a crash never doubles an effect.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, update
from web3.contract.contract import ContractFunction

from staking.chain.contracts import StakingContract
from staking.db import schema as t
from staking.domain.errors import SwarmError
from staking.domain.vocabulary import ActionState, Severity
from staking.policy import Policy, load_policy
from staking.txmanager.manager import SimulationReverted, TxManager, now_ms
from staking.worker import action_reads as reads
from staking.worker import calls
from staking.worker.bounds import QUORUM_POLL_S, Backoff, ChainBounds
from staking.worker.calls import ALREADY_DONE, CAP_ERRORS, COMBINED, NOT_APPLICABLE, NOT_YET, STALE_BOUNDS
from staking.worker.settling import ActionStates, Notify
from staking.worker.slash_plan import (
    HELD_NEAR_CAP,
    PROPOSE,
    WAIT,
    Signer,
    SlashPlan,
    plan_slash,
)
from staking.worker.waits import CapWaits

log = logging.getLogger("worker")

CHAIN_ACTIONS = ("jail", "propose_slash", "begin_recovery")
DB_ONLY = {
    "warn": "strike recorded",
    "open_investigation": "investigation opened for the security team",
    "propose_tombstone": "tombstone proposal filed for governance",
}
# Seconds since another verdict's beginRecovery confirmed before a second one for the same provider
# is simulated (and then settles as RecoveryOpen): longer than a shallow reorg takes to show.
RECOVERY_SETTLE_S = 15


class ActionChanged(SwarmError):
    """An action was no longer pending when its intent was written (the write-ahead is rolled back)."""


@dataclass
class Slot:
    """One contract call of a step and the actions it carries (two for a combined call)."""

    kind: str  # an action kind, or COMBINED
    key: str
    fn: ContractFunction
    rows: list[Any]
    notes: dict[int, str | None] = field(default_factory=dict)  # action id -> note when sent
    plan: SlashPlan | None = None
    until: int = 0


DEFAULT_BATCH = 25  # actions per step: tracking runs between batches during a burst


class ActionExecutor(ActionStates, CapWaits):
    def __init__(
        self,
        engine: Engine,
        staking: StakingContract,
        txm: TxManager,
        notify: Notify | None = None,
        batch: int = DEFAULT_BATCH,
        clock: Callable[[], float] = time.time,
        policy: Policy | None = None,
    ) -> None:
        """`clock`: the wall clock (unix seconds) that stamps action and verdict changes, times the
        quorum wait and the retries; `policy`: its `incidents.reserve_jails` and `quorum`."""
        super().__init__()
        self.engine = engine
        self.staking = staking
        self.txm = txm
        self.notify = notify or (lambda kind, payload: None)
        self.batch = batch
        self.clock = clock
        self.policy = policy or load_policy()
        self.bounds = ChainBounds(staking, clock)
        self.backoff = Backoff(clock)
        self._stale: set[int] = set()  # slash actions planned again after InvalidBps/QuorumNotMet
        self._chain_now: int | None = None

    def step(self) -> int:
        """Submit pending actions, track transactions, settle actions and verdicts. Returns the
        number of actions that changed state.

        A step submits at most `batch` actions, so tracking runs often during a burst and a
        breach that arrives mid-burst is isolated in the next step, ahead of older proposals."""
        self._chain_now = None
        self.bounds.new_step()
        changed = self._submit_pending()
        self._flush()
        self.txm.tick()
        changed += self._settle()
        self._update_verdicts()  # flushes the settled action states in the same transaction
        return changed

    def run(self, stop: Any, interval: float = 0.25) -> None:
        while not stop.is_set():
            try:
                if self.step() == 0:
                    stop.wait(interval)
            except Exception:
                log.exception("worker step failed; retrying")
                stop.wait(1.0)
            time.sleep(0)

    # ---- submitting
    def _submit_pending(self) -> int:
        with self.engine.connect() as conn:
            rows = reads.pending_rows(conn, self.batch, self.backoff.waiting())
        done = 0
        chain_rows: list[Any] = []
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
            else:
                chain_rows.append(row)
        if not chain_rows:
            return done
        try:
            slots, planned = self._plan(chain_rows)
        except Exception:
            log.exception("action planning failed; will retry", extra={"actions": len(chain_rows)})
            return done
        done += planned
        fallbacks: list[Slot] = []
        for slot, result, recorded in self._send(slots):
            done += self._settle_slot(slot, result, recorded, fallbacks)
        for slot, result, recorded in self._send(fallbacks):  # isolation does not wait a step
            done += self._settle_slot(slot, result, recorded, [])
        return done

    def _plan(self, rows: list[Any]) -> tuple[list[Slot], int]:
        """The calls of this step's chain actions, in priority order, and how many actions were
        settled without a call (skipped, held)."""
        by_kind: dict[str, list[str]] = {}
        for r in rows:
            by_kind.setdefault(r["kind"], []).append(r["verdict_id"])
        jail_vids = by_kind.get("jail", [])
        with self.engine.connect() as conn:
            recovery_jails = reads.jail_states(conn, by_kind.get("begin_recovery", []))
            incidents = reads.open_detector_incidents(conn, jail_vids)
            siblings = reads.pending_slashes_of(conn, jail_vids)
            failed = reads.failed_combined(conn, jail_vids)
            slash_vids = {*by_kind.get("propose_slash", []), *(s["verdict_id"] for s in siblings.values())}
            signers = reads.co_signers(conn, sorted(slash_vids))
            jail_budget = None
            if incidents:  # jails of a rogue detector stop short of the cap
                caps = self.bounds.caps()
                used = self.bounds.usage().jails + reads.jails_in_flight(conn)
                jail_budget = [used, caps.jail_cap - self.policy.incidents.reserve_jails, caps.jail_cap]
        waiting = set(self.backoff.waiting())
        gate = self.backoff.closed_until("jail")
        slots: list[Slot] = []
        consumed: set[int] = set()
        recovering: set[str] = set()  # providers with a beginRecovery in this batch
        settled = 0
        for row in rows:
            kind, vid, aid = row["kind"], row["verdict_id"], row["id"]
            if aid in consumed:
                continue
            if kind == "jail":
                if gate is not None:
                    self._jail_waits_for_gate(row, gate)
                    continue
                if jail_budget is not None:
                    if vid in incidents and jail_budget[0] >= jail_budget[1]:
                        note = (
                            f"{HELD_NEAR_CAP} {incidents[vid]} is near the jail cap ({jail_budget[0]} of "
                            f"{jail_budget[2]} used or in flight; {self.policy.incidents.reserve_jails} "
                            "kept for other verdicts)"
                        )
                        self._set_action(aid, state=ActionState.HELD, note=note)
                        settled += 1
                        continue
                    jail_budget[0] += 1
                until = calls.jail_until(row, self._chain_time())
                sibling = siblings.get(vid)
                if sibling is not None and sibling["id"] not in waiting and vid not in failed:
                    plan = self._slash_plan(sibling, signers)
                    if plan.how == PROPOSE:
                        fn = calls.combined_call(self.staking, row, until, plan)
                        notes = {sibling["id"]: plan.note}
                        slots.append(
                            Slot(COMBINED, calls.key(COMBINED, vid), fn, [row, sibling], notes, plan, until)
                        )
                        consumed.add(sibling["id"])
                        continue
                slots.append(self._jail_slot(row, until))
            elif kind == "propose_slash":
                plan = self._slash_plan(row, signers)
                if plan.submittable:
                    slots.append(self._slash_slot(row, plan))
                elif plan.how == WAIT:
                    if plan.note != row["note"]:
                        self._set_action(aid, note=plan.note)
                    self.backoff.wait(aid, QUORUM_POLL_S)
                else:
                    self._set_action(aid, state=ActionState.SKIPPED, note=plan.note)
                    settled += 1
            else:  # begin_recovery: after its verdict's jail went out
                jail = recovery_jails.get(vid)
                if jail in (ActionState.PENDING, ActionState.HELD):
                    continue
                if jail in (ActionState.FAILED, ActionState.SKIPPED):
                    self._set_action(aid, state=ActionState.SKIPPED, note=f"no recovery: the jail was {jail}")
                    settled += 1
                    continue
                provider = row["provider"]
                if provider in recovering or self._recovery_in_flight(provider, vid):
                    continue  # decided after the one in flight settles: it then simulates as RecoveryOpen
                recovering.add(provider)
                fn = calls.recovery_call(self.staking, row)
                slots.append(Slot(kind, calls.key(kind, vid), fn, [row]))
        return slots, settled

    def _slash_plan(self, row: Any, signers: dict[str, list[Signer]]) -> SlashPlan:
        vid = row["verdict_id"]
        first = Signer(row["signer"], row["signature"])
        return plan_slash(
            row["slash_bps"],
            Severity(row["severity"]),
            self.bounds.caps(),
            first,
            signers.get(vid, []),
            waited_s=self.clock() - row["received_ms"] / 1000,
            timeout_s=self.policy.quorum.timeout_seconds,
        )

    def _jail_slot(self, row: Any, until: int) -> Slot:
        fn = calls.jail_call(self.staking, row, until)
        return Slot("jail", calls.key("jail", row["verdict_id"]), fn, [row], until=until)

    def _slash_slot(self, row: Any, plan: SlashPlan) -> Slot:
        fn = calls.slash_call(self.staking, row, plan)
        key = calls.key("propose_slash", row["verdict_id"])
        return Slot("propose_slash", key, fn, [row], {row["id"]: plan.note}, plan)

    def _send(self, slots: list[Slot]) -> list[tuple[Slot, int | Exception, bool]]:
        """Each slot's intent id (or why not), and whether its actions were marked with the intent
        in the write-ahead transaction (False: an intent planned before a crash)."""
        if not slots:
            return []
        planned: set[int] = set()

        def mark_submitted(conn: Any, slot: int, intent_id: int) -> None:
            for r in slots[slot].rows:
                done = conn.execute(
                    update(t.actions)
                    .where(t.actions.c.id == r["id"], t.actions.c.state == ActionState.PENDING)
                    .values(
                        state=ActionState.SUBMITTED, intent_id=intent_id, note=slots[slot].notes.get(r["id"])
                    )
                )
                if done.rowcount != 1:  # containment skipped it meanwhile: nothing of the batch goes
                    raise ActionChanged(r["id"])
            planned.add(slot)

        try:
            results = self.txm.submit_many([(s.key, s.fn) for s in slots], on_planned=mark_submitted)
        except ActionChanged as exc:
            log.info(
                "an action changed state while planned; the batch goes next step",
                extra={"action": exc.args[0]},
            )
            return []
        except Exception:
            log.exception("action submission failed; will retry", extra={"actions": len(slots)})
            return []
        return [(s, r, i in planned) for i, (s, r) in enumerate(zip(slots, results, strict=True))]

    def _settle_slot(self, slot: Slot, result: int | Exception, recorded: bool, fallbacks: list[Slot]) -> int:
        if slot.kind != COMBINED:
            return self._settle_submission(slot, slot.rows[0], result, recorded)
        jail, slash = slot.rows
        if isinstance(result, SimulationReverted) and result.error not in NOT_YET:
            assert slot.plan is not None
            if result.error in calls.JAIL_PART:  # the slash part is untried: it goes alone
                fallbacks.append(self._slash_slot(slash, slot.plan))
                return self._settle_submission(slot, jail, result, False)
            if result.error in calls.SLASH_PART:  # isolation never waits for a slash
                log.info("jail goes alone", extra={"verdict": jail["verdict_id"], "reason": result.error})
                fallbacks.append(self._jail_slot(jail, slot.until))
                return self._settle_submission(slot, slash, result, False)
            return sum(self._settle_submission(slot, r, result, False) for r in slot.rows)
        if isinstance(result, Exception):
            return self._settle_submission(slot, jail, result, recorded)
        if not recorded:
            self._set_action(
                slash["id"], state=ActionState.SUBMITTED, intent_id=result, note=slot.notes[slash["id"]]
            )
        return self._settle_submission(slot, jail, result, recorded) + 1

    def _settle_submission(self, slot: Slot, row: Any, result: int | Exception, recorded: bool) -> int:
        kind, vid, aid = row["kind"], row["verdict_id"], row["id"]
        if isinstance(result, SimulationReverted):
            error = result.error
            if error in NOT_YET:
                log.info("action not possible yet; will retry", extra={"verdict": vid, "reason": error})
                return 0
            if error in ALREADY_DONE.get(kind, ()):
                note = f"already on chain ({error})"
                self._set_action(aid, state=ActionState.CONFIRMED, confirmed_ms=self._now_ms(), note=note)
            elif error in NOT_APPLICABLE.get(kind, ()):
                self._set_action(aid, state=ActionState.SKIPPED, note=error)
            elif error == CAP_ERRORS.get(kind):
                self._waits_for_cap(row, result)
                return 0
            elif kind == "propose_slash" and error in STALE_BOUNDS and aid not in self._stale:
                self._stale.add(aid)  # the bounds changed on chain: planned again with fresh ones
                self.bounds.invalidate()
                log.info("slash planned again", extra={"verdict": vid, "reason": error})
                return 0
            else:
                self._set_action(aid, state=ActionState.FAILED, note=f"would revert: {error}")
                self.notify("failure", {"verdict_id": vid, "action": kind, "error": error})
            return 1
        if isinstance(result, Exception):
            log.warning(
                "action not submitted; will retry", extra={"verdict": vid, "error": str(result)[:200]}
            )
            return 0
        if not recorded:  # an intent planned before a crash: its action was never marked
            self._set_action(aid, state=ActionState.SUBMITTED, intent_id=result, note=slot.notes.get(aid))
        self.backoff.passed(aid)
        if kind == "jail":
            self.backoff.open("jail")
            self.notify("isolation", {"verdict_id": vid, "provider": row["provider"]})
        return 1

    def _recovery_in_flight(self, provider: str, verdict_id: str) -> bool:
        """Whether another verdict's `beginRecovery` for `provider` is sent but not settled, or
        confirmed less than RECOVERY_SETTLE_S ago (a shallow reorg may still take it away)."""
        with self.engine.connect() as conn:
            return reads.recovery_in_flight(conn, provider, verdict_id, now_ms() - RECOVERY_SETTLE_S * 1000)

    def _chain_time(self) -> int:
        """The head block's timestamp, read once per step."""
        if self._chain_now is None:
            self._chain_now = int(
                self.txm.rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16
            )
        return self._chain_now
