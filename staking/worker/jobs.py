"""Scheduled jobs of the worker (APScheduler, persisted in the service database).

Exactly one worker runs them: the worker holds the database's "worker" writer lock. Each run is
logged with what it did.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine, select

from staking.chain.contracts import StakingContract
from staking.db import schema as t
from staking.txmanager.manager import SimulationReverted, TxManager

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
    log.info("job execute_matured_slashes", extra={"due": len(due), "submitted": sent})
    return sent


def resend_stuck(txm: TxManager) -> None:
    """Track receipts, replace stuck transactions, undo reorged ones (the manager's tick)."""
    txm.tick()


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
    try:
        execute_matured_slashes(_CONTEXT["engine"], _CONTEXT["staking"], _CONTEXT["txm"])
    except Exception:
        log.exception("job execute_matured_slashes failed")


def _run_resend() -> None:
    try:
        resend_stuck(_CONTEXT["txm"])
    except Exception:
        log.exception("job resend_stuck failed")
