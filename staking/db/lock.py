"""One writer at a time: a PostgreSQL advisory lock, or a file lock beside the SQLite file."""

from __future__ import annotations

import fcntl
import os
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text


class WriterBusy(RuntimeError):
    pass


def _lock_key(name: str) -> int:
    return zlib.crc32(f"swarm-staking:{name}".encode())  # stable across processes and versions


@contextmanager
def single_writer(engine: Engine, name: str, wait: float = 0.0) -> Iterator[None]:
    """Hold the `name` writer lock for the block. Waits up to `wait` seconds, then raises WriterBusy."""
    deadline = time.monotonic() + wait
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            key = _lock_key(name)
            while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                if time.monotonic() >= deadline:
                    raise WriterBusy(f"another {name} holds the database's writer lock; only one may run")
                time.sleep(0.5)
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    database = engine.url.database or ""
    path = Path(f"{database}.{name}.lock") if database and database != ":memory:" else None
    if path is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WriterBusy(f"another {name} holds {path}; only one may run") from None
                time.sleep(0.5)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)  # closing releases the flock, also when the process is killed
