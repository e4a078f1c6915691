"""Leader leases for the scale-out tests: a short lease, the lease row, and a bounded poll."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine

from staking.db.lock import read_lease

LEASE = 3.0  # seconds, for every test here (the default is 10)


def lease_row(engine: Engine, name: str = "worker") -> Any:
    with engine.connect() as conn:
        return read_lease(conn, name)[0]


def wait_for(what: str, condition: Any, timeout: float, every: float = 0.02) -> float:
    """Polls `condition` until true; returns the seconds it took."""
    t0 = time.monotonic()
    while not condition():
        assert time.monotonic() - t0 < timeout, f"not within {timeout}s: {what}"
        time.sleep(every)
    return time.monotonic() - t0
