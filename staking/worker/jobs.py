"""Scheduled jobs of the worker (APScheduler, in process).

Exactly one worker runs them: the worker holds the database's "worker" writer lock. Their
dependencies come in a `JobsContext` the worker passes to `start_scheduler`. Each run is recorded
in the `job_runs` table (runs, failures, duration, result; served at GET /metrics by any API
process) and logged as one line with its outcome (`staking.worker.runs`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select

from staking.chain.contracts import StakingContract
from staking.chain.rpc import RpcError
from staking.db import schema as t
from staking.domain.clock import EpochClock
from staking.domain.errors import NodeUnreachable
from staking.domain.vocabulary import AppealState, TxState
from staking.intake.performance import lock_epoch
from staking.rewards import epochs as ep
from staking.rewards.eligibility import RewardRules
from staking.txmanager.manager import SimulationReverted, TxManager
from staking.txmanager.states import OPEN_STATES
from staking.worker.drift import JOB_NAME as DRIFT_JOB
from staking.worker.drift import Notify, run_drift_check
from staking.worker.runs import run_job

log = logging.getLogger("jobs")
NOT_DUE = {"SlashNotPending", "VetoWindowOpen", "EnforcedPause", "AppealPending"}


def execute_matured_slashes(engine: Engine, staking: StakingContract, txm: TxManager) -> int:
    """Submit `executeSlash` for every pending slash whose veto window has passed (chain time)
    and that no open appeal freezes (SPEC section 9: from the appeal's deadline on, executeSlash
    expires it, refunding the bond, and executes). Idempotent: one intent per slash id; a slash
    vetoed or executed meanwhile is skipped."""
    chain_now = int(staking.w3.eth.get_block("latest")["timestamp"])
    s, a = t.slashes, t.appeals
    frozen = (a.c.state == AppealState.OPEN.wire) & (a.c.deadline > chain_now)
    query = (
        select(s.c.id)
        .select_from(s.outerjoin(a, a.c.id == s.c.id))
        .where(s.c.state == 1, s.c.executable_at <= chain_now, or_(a.c.id.is_(None), ~frozen))
    )
    with engine.connect() as conn:
        due = [r.id for r in conn.execute(query)]
    sent = 0
    for slash_id in due:
        key = f"execute_slash:{slash_id}"
        if txm.intent_for(key) is not None:
            continue
        try:
            txm.submit(key, staking.execute_slash(bytes.fromhex(slash_id[2:])))
            sent += 1
        except SimulationReverted as exc:
            if exc.error not in NOT_DUE:
                log.error("cannot execute a matured slash", extra={"slash": slash_id, "error": exc.error})
    log.debug("matured slashes", extra={"due": len(due), "submitted": sent})
    return sent


def resend_stuck(txm: TxManager) -> int:
    """Track receipts, replace stuck transactions, undo reorged ones (the manager's tick).
    Returns how many of the signer's intents are still open afterwards."""
    txm.tick()
    with txm.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(t.tx_intents)
                .where(t.tx_intents.c.signer == txm.signer, t.tx_intents.c.state.in_(OPEN_STATES))
            ).scalar_one()
        )


# ---------------------------------------------------------------------------------- reward epochs

# Epochs computed per run at most, so a catch-up after a long downtime never holds the job for
# long; the next run (5 s later) continues in order.
MAX_EPOCHS_PER_RUN = 50
# An epoch is computed this fraction of an epoch after its end (chain time), once detectors had
# time to file its performance reports: the intake refuses reports for a computed epoch.
REPORT_GRACE_DIVISOR = 10


@dataclass
class Reconciled:
    """What one `reconcile_epochs` run did, epoch numbers in order."""

    computed: list[int] = field(default_factory=list)
    submitted: list[int] = field(default_factory=list)
    published: list[int] = field(default_factory=list)
    mismatched: list[int] = field(default_factory=list)
    waiting: str | None = None  # why it stopped early, if it did

    def __str__(self) -> str:
        parts = [
            f"{name} {_span(epochs)}"
            for name, epochs in (
                ("computed", self.computed),
                ("submitted", self.submitted),
                ("published", self.published),
                ("MISMATCHED", self.mismatched),
            )
            if epochs
        ]
        if self.waiting:
            parts.append(f"waiting: {self.waiting}")
        return "; ".join(parts) or "nothing to do"


def _span(epochs: list[int]) -> str:
    if len(epochs) > 2 and epochs == list(range(epochs[0], epochs[-1] + 1)):
        return f"epochs {epochs[0]}-{epochs[-1]}"
    return "epoch" + ("s " if len(epochs) > 1 else " ") + ", ".join(map(str, epochs))


def reconcile_epochs(
    engine: Engine,
    staking: StakingContract,
    txm: TxManager | None,
    rules: RewardRules,
    grace_seconds: int | None = None,
    max_epochs: int = MAX_EPOCHS_PER_RUN,
    clock: Callable[[], float] = time.time,
) -> Reconciled:
    """Compute, store and publish every finished reward epoch, in order.

    Finished: by the chain time of the latest indexed block, as the contract's `currentEpoch()`
    counts, plus `grace_seconds` (default: a tenth of an epoch) for the performance reports. The
    first epoch is the one of the deployment block. Every finished epoch without a row is computed
    and stored (`staking.rewards.epochs`), then every stored, unpublished epoch is sent as
    `publishEligibility(epoch, root, totalWeight, uri)` under the idempotency key
    `publish_epoch:<n>`, in epoch order; the row turns "publishing" (with its intent) in the same
    database transaction as the write-ahead intent. It turns "published" once the intent is
    confirmed or the indexer shows the epoch published with our root; "mismatch" (logged as an
    error) when the chain holds another root. An empty epoch (nobody eligible) is published too,
    with a zero root and zero weight, which the contract accepts: it closes the epoch on chain, so
    nobody funds a pool that no one could ever claim.

    Without `txm` nothing is sent: the epochs are computed, stored and settled against what the
    indexer shows on chain (an auditing replica that checks the oracle's roots). `clock` (unix
    seconds) stamps `computed_ms` and `published_ms`.
    """
    out = Reconciled()
    with engine.connect() as conn:
        epochs, indexed = ep.epoch_clock(conn), ep.indexed_time(conn)
        if epochs is None or indexed is None:
            out.waiting = "the indexer has not recorded the chain yet"
            return out
        grace = epochs.length // REPORT_GRACE_DIVISOR if grace_seconds is None else grace_seconds
        due = epochs.epoch_at(indexed - grace) if indexed - grace >= epochs.genesis else 0
        first = _first_epoch(conn, epochs)
        stored = {
            int(e)
            for e in conn.execute(
                select(t.reward_epochs.c.epoch).where(t.reward_epochs.c.epoch >= first)
            ).scalars()
        }
    todo = [e for e in range(first, due) if e not in stored][:max_epochs]
    for epoch in todo:
        with engine.begin() as conn:
            lock_epoch(conn, epoch)  # no report for this epoch commits between the read and the write
            ep.store_epoch(conn, ep.compute_epoch(conn, epoch, epochs, rules), now_ms=_ms(clock))
        out.computed.append(epoch)
    _publish(engine, staking, txm, out, clock)
    return out


def _first_epoch(conn: Connection, epochs: EpochClock) -> int:
    """The epoch of the deployment block (its constructor events are the first indexed ones)."""
    deployed = conn.execute(select(func.min(t.events.c.block_time))).scalar()
    return 0 if deployed is None else epochs.epoch_at(int(deployed))


def _ms(clock: Callable[[], float]) -> int:
    return int(clock() * 1000)


def _publish(
    engine: Engine,
    staking: StakingContract,
    txm: TxManager | None,
    out: Reconciled,
    clock: Callable[[], float],
) -> None:
    re = t.reward_epochs
    with engine.connect() as conn:
        rows = conn.execute(
            select(re.c.epoch, re.c.state, re.c.merkle_root, re.c.total_weight, re.c.uri, re.c.intent_id)
            .where(re.c.state.in_([*ep.MUTABLE_STATES, ep.PUBLISHING]))
            .order_by(re.c.epoch)
        ).all()
        published = select(t.epochs.c.epoch, t.epochs.c.merkle_root).where(
            t.epochs.c.published, t.epochs.c.epoch.in_([r.epoch for r in rows])
        )
        on_chain = {int(r.epoch): r.merkle_root for r in conn.execute(published)}
    for row in rows:
        epoch = int(row.epoch)
        if epoch in on_chain:  # the indexer saw EligibilityPublished
            _settle(engine, epoch, row.merkle_root, on_chain[epoch], out, clock)
            continue
        if txm is None:
            continue
        key = f"publish_epoch:{epoch}"
        if row.state == ep.PUBLISHING:
            state = txm.intent_state(row.intent_id)
            if state == TxState.CONFIRMED:  # our own transaction succeeded: the chain holds our root
                _settle(engine, epoch, row.merkle_root, row.merkle_root, out, clock)
                continue
            if state != TxState.FAILED:
                continue  # on its way
            log.error(
                "publishEligibility failed; sending it again", extra={"epoch": epoch, "intent": row.intent_id}
            )
            key = f"publish_epoch:{epoch}:after:{row.intent_id}"
        fn = staking.publish_eligibility(
            epoch, bytes.fromhex(row.merkle_root[2:]), int(row.total_weight), row.uri
        )

        def mark(conn: Any, _slot: int, intent_id: int, epoch: int = epoch) -> None:
            ep.set_state(conn, epoch, ep.PUBLISHING, now_ms=_ms(clock), intent_id=intent_id)

        try:
            result = txm.submit_many([(key, fn)], on_planned=mark)[0]
            if isinstance(result, Exception):
                raise result
        except SimulationReverted as exc:
            if exc.error == "EpochAlreadyPublished":  # by another oracle, or from the command line
                chain_root = "0x" + staking.epoch(epoch).merkle_root.hex()
                _settle(engine, epoch, row.merkle_root, chain_root, out, clock)
                continue
            # Paused, or anything else: later epochs wait, so they never go out before this one.
            out.waiting = f"publishEligibility({epoch}) would revert: {exc.error}"
            log.warning("cannot publish an epoch yet", extra={"epoch": epoch, "error": exc.error})
            return
        except (NodeUnreachable, RpcError) as exc:
            out.waiting = f"the node did not take publishEligibility({epoch}): {exc}"
            return
        with engine.begin() as conn:  # an intent planned earlier (a restart): point the row at it
            ep.set_state(conn, epoch, ep.PUBLISHING, now_ms=_ms(clock), intent_id=result)
        out.submitted.append(epoch)


def _settle(
    engine: Engine,
    epoch: int,
    ours: str,
    theirs: str | None,
    out: Reconciled,
    clock: Callable[[], float],
) -> None:
    """The chain holds `theirs` for `epoch`: published if it is our root, else mismatch."""
    same = (theirs or "").lower() == ours.lower()
    with engine.begin() as conn:
        ep.set_state(conn, epoch, ep.PUBLISHED if same else ep.MISMATCH, now_ms=_ms(clock))
    if same:
        out.published.append(epoch)
    else:
        out.mismatched.append(epoch)
        log.error(
            "epoch published on chain with another root than computed here",
            extra={"epoch": epoch, "ours": ours, "on_chain": theirs},
        )


@dataclass(frozen=True)
class JobsContext:
    """What the scheduled jobs work with, passed to `start_scheduler` by the worker (built from
    the service's `Runtime`): nothing is looked up from module state. Without `txm` (an auditing
    replica) the jobs that send transactions are not scheduled and epochs are only computed."""

    engine: Engine
    staking: StakingContract
    txm: TxManager | None = None
    rules: RewardRules = field(default_factory=RewardRules)
    grace_seconds: int | None = None
    notify: Notify | None = None
    clock: Callable[[], float] = time.time  # wall clock, unix seconds: job runs, computed_ms, checked_ms


def scheduled_jobs(ctx: JobsContext) -> dict[str, Callable[[], bool]]:
    """The scheduler's entries by job id, bound to `ctx`: each runs its job once through
    `run_job` (recorded in `job_runs`, one log line) and never raises."""
    entries: dict[str, Callable[[], bool]] = {}
    txm = ctx.txm
    if txm is not None:

        def execute() -> str:
            return f"submitted {execute_matured_slashes(ctx.engine, ctx.staking, txm)} executeSlash"

        entries["execute_matured_slashes"] = _entry(ctx, "execute_matured_slashes", execute)
        entries["resend_stuck"] = _entry(ctx, "resend_stuck", lambda: f"{resend_stuck(txm)} open intents")

    def reconcile() -> str:
        c = ctx
        return str(reconcile_epochs(c.engine, c.staking, txm, c.rules, c.grace_seconds, clock=c.clock))

    entries["reconcile_epochs"] = _entry(ctx, "reconcile_epochs", reconcile)
    entries[DRIFT_JOB] = lambda: run_drift_check(ctx.engine, ctx.staking, ctx.notify, clock=ctx.clock)
    return entries


def _entry(ctx: JobsContext, name: str, job: Callable[[], str | None]) -> Callable[[], bool]:
    return lambda: run_job(ctx.engine, name, job, clock=ctx.clock)


def start_scheduler(ctx: JobsContext, interval: float = 5.0, drift_interval: float = 60.0) -> Any:
    """A background APScheduler running `scheduled_jobs(ctx)`: every `interval` seconds, the drift
    check every `drift_interval`. The schedule is code, rebuilt at every start (in memory: the
    entries are closures over `ctx`, which no job store could pickle); a run still in progress is
    never started twice (`max_instances=1`), missed runs are coalesced into one."""
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
    )
    scheduler.start(paused=True)
    for job_id, entry in scheduled_jobs(ctx).items():
        seconds = drift_interval if job_id == DRIFT_JOB else interval
        scheduler.add_job(entry, "interval", seconds=seconds, id=job_id, replace_existing=True)
    scheduler.resume()
    return scheduler
