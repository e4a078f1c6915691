"""Scheduled jobs of the worker (APScheduler, persisted in the service database).

Exactly one worker runs them: the worker holds the database's "worker" writer lock. Each run is
recorded in the `job_runs` table (runs, failures, duration, result; served at GET /metrics by any
API process) and logged as one line with its outcome.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from staking.chain.contracts import StakingContract
from staking.db import schema as t
from staking.txmanager.manager import OPEN_STATES, SimulationReverted, TxManager

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


def start_scheduler(engine: Engine, staking: StakingContract, txm: TxManager, interval: float = 5.0) -> Any:
    """A background APScheduler whose job store is the service database, so schedules survive
    restarts; jobs are replaced by id on start, never duplicated."""
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
    _CONTEXT.update(engine=engine, staking=staking, txm=txm)
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
