"""One run of a scheduled job: recorded in `job_runs` (runs, failures, duration, result; served
at GET /metrics by any API process) and logged as one line with its outcome.

Apart from `staking.worker.jobs` so that every job module (the drift check included) records its
runs the same way without importing the scheduler.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite

from staking.db import schema as t

log = logging.getLogger("jobs")


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
