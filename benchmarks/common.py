"""What every benchmark shares: progress lines on stderr, a wall-clock limit, machine facts."""

from __future__ import annotations

import os
import platform
import signal
import statistics
import sys
import time
from collections.abc import Callable


def say(message: str, tag: str = "bench") -> None:
    print(f"[{tag} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def time_limit(seconds: int) -> Callable[[], None]:
    """Raise TimeoutError in the main thread once `seconds` pass (the `finally` blocks then
    clean up); returns the function that cancels the limit."""

    def expired(_sig: int, _frame: object) -> None:
        raise TimeoutError(f"benchmark time limit of {seconds}s reached")

    if not hasattr(signal, "SIGALRM"):
        return lambda: None
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)

    def cancel() -> None:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)

    return cancel


def machine() -> dict[str, object]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by the inclusive method; values must not be empty."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, round(q) - 1))]


PG_ADMIN_URL = os.environ.get("SWARM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def pg_unavailable() -> str | None:
    """Why PostgreSQL cannot be measured, or None when it can."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=5):
            return None
    except Exception as exc:
        return f"PostgreSQL at {PG_ADMIN_URL} unreachable ({type(exc).__name__}: {exc})"


def database_kinds(skip_postgres: bool) -> list[str] | None:
    """The databases to measure; None (after saying why) when PostgreSQL is wanted but down."""
    kinds = ["sqlite"] if skip_postgres else ["sqlite", "postgresql"]
    if "postgresql" in kinds and (why := pg_unavailable()):
        say(f"{why}; pass --skip-postgres to measure SQLite only")
        return None
    return kinds
