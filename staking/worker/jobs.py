"""Scheduled jobs of the worker (APScheduler, persisted in the service database).

Exactly one worker runs them: the worker holds the database's "worker" writer lock. Each run is
recorded in the `job_runs` table (runs, failures, duration, result; served at GET /metrics by any
API process) and logged as one line with its outcome.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from staking.chain.contracts import StakingContract
from staking.chain.rpc import RpcError
from staking.db import schema as t
from staking.domain.clock import EpochClock
from staking.domain.errors import NodeUnreachable
from staking.domain.vocabulary import TxState
from staking.intake.performance import lock_epoch
from staking.rewards import epochs as ep
from staking.rewards.eligibility import RewardRules
from staking.txmanager.manager import SimulationReverted, TxManager
from staking.txmanager.states import OPEN_STATES

log = logging.getLogger("jobs")
NOT_DUE = {"SlashNotPending", "VetoWindowOpen", "EnforcedPause"}


def execute_matured_slashes(engine: Engine, staking: StakingContract, txm: TxManager) -> int:
    """Submit `executeSlash` for every pending slash whose veto window has passed (chain time).
    Idempotent: one intent per slash id; a slash vetoed or executed meanwhile is skipped."""
    chain_now = int(staking.w3.eth.get_block("latest")["timestamp"])
    with engine.connect() as conn:
        due = [
            r.id
            for r in conn.execute(
                select(t.slashes.c.id).where(t.slashes.c.state == 1, t.slashes.c.executable_at <= chain_now)
            )
        ]
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
    indexer shows on chain (an auditing replica that checks the oracle's roots).
    """
    out = Reconciled()
    with engine.connect() as conn:
        clock, indexed = ep.epoch_clock(conn), ep.indexed_time(conn)
        if clock is None or indexed is None:
            out.waiting = "the indexer has not recorded the chain yet"
            return out
        grace = clock.length // REPORT_GRACE_DIVISOR if grace_seconds is None else grace_seconds
        due = clock.epoch_at(indexed - grace) if indexed - grace >= clock.genesis else 0
        first = _first_epoch(conn, clock)
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
            ep.store_epoch(conn, ep.compute_epoch(conn, epoch, clock, rules))
        out.computed.append(epoch)
    _publish(engine, staking, txm, out)
    return out


def _first_epoch(conn: Connection, clock: EpochClock) -> int:
    """The epoch of the deployment block (its constructor events are the first indexed ones)."""
    deployed = conn.execute(select(func.min(t.events.c.block_time))).scalar()
    return 0 if deployed is None else clock.epoch_at(int(deployed))


def _publish(engine: Engine, staking: StakingContract, txm: TxManager | None, out: Reconciled) -> None:
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
            _settle(engine, epoch, row.merkle_root, on_chain[epoch], out)
            continue
        if txm is None:
            continue
        key = f"publish_epoch:{epoch}"
        if row.state == ep.PUBLISHING:
            state = txm.intent_state(row.intent_id)
            if state == TxState.CONFIRMED:  # our own transaction succeeded: the chain holds our root
                _settle(engine, epoch, row.merkle_root, row.merkle_root, out)
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
            ep.set_state(conn, epoch, ep.PUBLISHING, intent_id=intent_id)

        try:
            result = txm.submit_many([(key, fn)], on_planned=mark)[0]
            if isinstance(result, Exception):
                raise result
        except SimulationReverted as exc:
            if exc.error == "EpochAlreadyPublished":  # by another oracle, or from the command line
                _settle(engine, epoch, row.merkle_root, "0x" + staking.epoch(epoch).merkle_root.hex(), out)
                continue
            # Paused, or anything else: later epochs wait, so they never go out before this one.
            out.waiting = f"publishEligibility({epoch}) would revert: {exc.error}"
            log.warning("cannot publish an epoch yet", extra={"epoch": epoch, "error": exc.error})
            return
        except (NodeUnreachable, RpcError) as exc:
            out.waiting = f"the node did not take publishEligibility({epoch}): {exc}"
            return
        with engine.begin() as conn:  # an intent planned earlier (a restart): point the row at it
            ep.set_state(conn, epoch, ep.PUBLISHING, intent_id=result)
        out.submitted.append(epoch)


def _settle(engine: Engine, epoch: int, ours: str, theirs: str | None, out: Reconciled) -> None:
    """The chain holds `theirs` for `epoch`: published if it is our root, else mismatch."""
    same = (theirs or "").lower() == ours.lower()
    with engine.begin() as conn:
        ep.set_state(conn, epoch, ep.PUBLISHED if same else ep.MISMATCH)
    if same:
        out.published.append(epoch)
    else:
        out.mismatched.append(epoch)
        log.error(
            "epoch published on chain with another root than computed here",
            extra={"epoch": epoch, "ours": ours, "on_chain": theirs},
        )


def run_job(
    engine: Engine, name: str, job: Callable[[], str | None], clock: Callable[[], float] = time.time
) -> bool:
    """Run `job` once: record the run in `job_runs` and log one line with its outcome (`job`'s
    return value, or the error). Never raises; returns whether the job succeeded. A failure to
    record is logged and does not stop the job."""
    started = clock()
    _record(engine, name, {"last_started_ms": int(started * 1000)})
    error: Exception | None = None
    try:
        result = job()
    except Exception as exc:
        error, result = exc, f"{type(exc).__name__}: {exc}"
    finished_ms = int(clock() * 1000)
    duration_ms = max(0, finished_ms - int(started * 1000))
    status = "ok" if error is None else "failed"
    _record(
        engine,
        name,
        {
            "last_finished_ms": finished_ms,
            "last_duration_ms": duration_ms,
            "last_status": status,
            "last_result": result,
        }
        | ({"last_success_ms": finished_ms} if error is None else {}),
        finished=True,
        failed=error is not None,
    )
    extra = {"job": name, "status": status, "duration_ms": duration_ms, "result": result}
    if error is None:
        log.info(f"job {name} ok", extra=extra)
    else:
        log.error(f"job {name} failed", extra=extra, exc_info=error)
    return error is None


def _record(
    engine: Engine, name: str, values: dict[str, Any], finished: bool = False, failed: bool = False
) -> None:
    """Upsert the job's row: `values`, and one more run (and failure) when `finished`."""
    jr = t.job_runs
    try:
        with engine.begin() as conn:
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            stmt = insert(jr).values(name=name, runs=int(finished), failures=int(failed), **values)
            counts = {"runs": jr.c.runs + 1, "failures": jr.c.failures + int(failed)} if finished else {}
            conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=values | counts))
    except Exception as exc:
        log.warning(f"cannot record a run of job {name}", extra={"job": name, "error": str(exc)})


def start_scheduler(
    engine: Engine,
    staking: StakingContract,
    txm: TxManager,
    interval: float = 5.0,
    rules: RewardRules | None = None,
    grace_seconds: int | None = None,
    notify: Any = None,
    drift_interval: float = 60.0,
) -> Any:
    """A background APScheduler whose job store is the service database, so schedules survive
    restarts; jobs are replaced by id on start, never duplicated. `rules`: the policy's
    `[rewards]` (defaults if None); `grace_seconds`: see `reconcile_epochs`."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename="scheduler_jobs")},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
    )
    scheduler.start(paused=True)
    scheduler.add_job(
        _run_execute,
        "interval",
        seconds=interval,
        id="execute_matured_slashes",
        replace_existing=True,
        args=[],
    )
    scheduler.add_job(
        _run_resend, "interval", seconds=interval, id="resend_stuck", replace_existing=True, args=[]
    )
    scheduler.add_job(
        _run_reconcile_epochs,
        "interval",
        seconds=interval,
        id="reconcile_epochs",
        replace_existing=True,
        args=[],
    )
    # The drift check compares the projection with the contract for every provider (batched).
    scheduler.add_job(
        "staking.worker.drift:run_drift_check",
        "interval",
        seconds=drift_interval,
        id="drift_check",
        replace_existing=True,
    )
    _CONTEXT.update(
        engine=engine,
        staking=staking,
        txm=txm,
        rules=rules or RewardRules(),
        grace_seconds=grace_seconds,
        notify=notify,
    )
    scheduler.resume()
    return scheduler


# APScheduler persists jobs by reference to module-level functions; their live dependencies are
# bound here at start-up instead of being pickled into the job store.
_CONTEXT: dict[str, Any] = {}


def _run_execute() -> None:
    def job() -> str:
        sent = execute_matured_slashes(_CONTEXT["engine"], _CONTEXT["staking"], _CONTEXT["txm"])
        return f"submitted {sent} executeSlash"

    run_job(_CONTEXT["engine"], "execute_matured_slashes", job)


def _run_resend() -> None:
    run_job(_CONTEXT["engine"], "resend_stuck", lambda: f"{resend_stuck(_CONTEXT['txm'])} open intents")


def _run_reconcile_epochs() -> None:
    def job() -> str:
        c = _CONTEXT
        return str(reconcile_epochs(c["engine"], c["staking"], c["txm"], c["rules"], c["grace_seconds"]))

    run_job(_CONTEXT["engine"], "reconcile_epochs", job)
