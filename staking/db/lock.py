"""One writer at a time: a PostgreSQL advisory lock, or a file lock beside the SQLite file.

Two ways to hold a role's lock:

- `single_writer`: for the length of a block, or not at all (`WriterBusy`). One-shot commands
  (`swarm-staking index`, `db` maintenance) use it.
- `RoleLock` + the lease row in `leader_leases`: what long-running roles (worker, indexer) use
  through `staking.worker.leader.Leadership`, which stands by while another process holds the
  lock and takes over when it frees. Every takeover increments the lease's `term`; a `Fence` holds
  the term a leader was elected with and refuses writes once the row has moved on, so a deposed
  leader (partitioned, paused, or whose lock connection died) can never plan or sign anything.

Lease times are unix milliseconds of the database's clock on PostgreSQL (every process compares
against the same clock), of the local clock on SQLite (one host).
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Connection, Engine, cast, extract, func, literal, select, text, update
from sqlalchemy.sql.elements import ColumnElement

from staking.db import schema as t
from staking.domain.errors import SwarmError


class WriterBusy(SwarmError, RuntimeError):
    pass


class LostLeadership(SwarmError, RuntimeError):
    """This process's term is over: another process leads the role now (or may at any moment)."""


def _lock_key(name: str) -> int:
    return zlib.crc32(f"swarm-staking:{name}".encode())  # stable across processes and versions


def _lock_path(engine: Engine, name: str) -> Path | None:
    database = engine.url.database or ""
    return Path(f"{database}.{name}.lock") if database and database != ":memory:" else None


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
    path = _lock_path(engine, name)
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


# ------------------------------------------------------------------------------------ leases


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    term: int
    backend_pid: int | None
    acquired_at: int
    renewed_at: int
    expires_at: int


def application_name(name: str, holder: str) -> str:
    """The PostgreSQL `application_name` of every session a role's holder opens: a standby that
    finds the holder's lease expired ends exactly these sessions (the lock's, and any write
    transaction it left open). From the holder's random token, so it never matches a later
    process that reuses the pid; within PostgreSQL's 63 characters."""
    return f"swarm-staking {name} {holder.rsplit(':', 1)[-1]}"[:63]


def _now_ms(conn: Connection) -> ColumnElement[Any]:
    """Now, in ms, as a SQL expression: the server's clock on PostgreSQL, this host's on SQLite."""
    if conn.dialect.name == "postgresql":
        return cast(extract("epoch", func.clock_timestamp()) * 1000, BigInteger)
    return literal(int(time.time() * 1000), BigInteger)


def lease_clock_ms(conn: Connection) -> int:
    """The time leases are measured by, in unix ms (see `_now_ms`)."""
    return int(conn.execute(select(_now_ms(conn))).scalar_one())


def read_lease(conn: Connection, name: str) -> tuple[Lease | None, int]:
    """The role's lease row (None if no process ever led it) and the database's time now."""
    ll = t.leader_leases
    now = lease_clock_ms(conn)
    row = conn.execute(select(ll).where(ll.c.name == name)).mappings().first()
    return (Lease(**row) if row else None), int(now)


@dataclass
class Fence:
    """The term this process was elected with. `check` inside a write transaction raises
    LostLeadership unless the lease is still at that term, and calls `on_lost` first (the leader
    stops its loops at once). On PostgreSQL the row is read FOR KEY SHARE: a takeover locks it FOR
    UPDATE before incrementing the term, so it waits for every fenced transaction in flight to end,
    and every fenced transaction that starts after the takeover sees the new term. Lease renewals
    (plain UPDATEs of non-key columns) do not conflict with it."""

    name: str
    term: int
    holder: str
    on_lost: Callable[[], None] = field(default=lambda: None)

    def check(self, conn: Connection) -> None:
        ll = t.leader_leases
        q = select(ll.c.term, ll.c.holder).where(ll.c.name == self.name)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update(read=True, key_share=True)
        row = conn.execute(q).first()
        if row is None or int(row.term) != self.term or row.holder != self.holder:
            self.on_lost()
            now = f"term {row.term} held by {row.holder}" if row else "no lease"
            raise LostLeadership(
                f"the {self.name} lease moved on ({now}); this process led term {self.term} "
                "and may no longer plan or sign transactions"
            )


class RoleLock:
    """A role's lock and its lease row, for one process. PostgreSQL: a session advisory lock on a
    dedicated connection, through which the lease is also taken and renewed, so a dead lock
    connection is a failed renewal. SQLite: a file lock (freed when the process dies, never
    taken from a live one)."""

    # Whether another process may take the lock from a live holder whose lease expired (and the
    # holder must therefore stop when it cannot renew): PostgreSQL, by ending its sessions. A file
    # lock is held until its process exits, so there the lease row only informs.
    revocable = False

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self.held = False

    # -- overridden per backend
    def try_acquire(self) -> bool:
        raise NotImplementedError

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def _backend_pid(self, conn: Connection) -> int | None:
        return None

    def depose_expired(self, lease: Lease) -> int:
        """End the sessions of `lease`'s holder if the lease is still the same and has expired,
        so its lock frees; returns how many were ended. Only possible on PostgreSQL."""
        return 0

    def close(self) -> None:
        """Give the lock up without touching the lease (the process is stopping, or the lock
        connection is dead)."""
        raise NotImplementedError

    # -- the lease
    def read(self) -> tuple[Lease | None, int]:
        with self._transaction() as conn:
            return read_lease(conn, self.name)

    def take_lease(self, holder: str, lease_ms: int) -> Lease:
        """With the lock held: one more term, with `holder` as its holder (one transaction)."""
        ll = t.leader_leases
        with self._transaction() as conn:
            if conn.dialect.name == "postgresql":
                # The deposed leader may have a fenced transaction open (it holds the row FOR KEY
                # SHARE): wait for it to end, but not forever.
                conn.execute(text("SET LOCAL lock_timeout = '3s'"))
            q = select(ll.c.term).where(ll.c.name == self.name)
            if conn.dialect.name == "postgresql":
                q = q.with_for_update()
            previous = conn.execute(q).scalar()
            now = lease_clock_ms(conn)
            lease = Lease(
                name=self.name,
                holder=holder,
                term=(int(previous) if previous is not None else 0) + 1,
                backend_pid=self._backend_pid(conn),
                acquired_at=now,
                renewed_at=now,
                expires_at=now + lease_ms,
            )
            row = dataclasses.asdict(lease)
            if previous is None:
                conn.execute(ll.insert().values(**row))
            else:
                conn.execute(update(ll).where(ll.c.name == self.name).values(**row))
        return lease

    def renew(self, holder: str, term: int, lease_ms: int) -> int | None:
        """Extend the lease from now; its new end (ms), or None if another term has begun."""
        ll = t.leader_leases
        with self._transaction() as conn:
            now = _now_ms(conn)
            return conn.execute(
                update(ll)
                .where(ll.c.name == self.name, ll.c.holder == holder, ll.c.term == term)
                .values(renewed_at=now, expires_at=now + lease_ms)
                .returning(ll.c.expires_at)
            ).scalar()

    def release(self, holder: str, term: int) -> None:
        """Step down: end the lease now (if still ours) and free the lock. Best effort: when the
        database is unreachable the lock is gone with the connection anyway."""
        ll = t.leader_leases
        try:
            with self._transaction() as conn:
                conn.execute(
                    update(ll)
                    .where(ll.c.name == self.name, ll.c.holder == holder, ll.c.term == term)
                    .values(expires_at=_now_ms(conn))
                )
        except Exception:  # noqa: S110 - the lease expires by itself
            pass
        self.close()


class PgRoleLock(RoleLock):
    revocable = True

    def __init__(self, engine: Engine, name: str, statement_timeout_ms: int = 5_000) -> None:
        super().__init__(engine, name)
        self.key = _lock_key(name)
        self.statement_timeout_ms = statement_timeout_ms
        self._conn: Connection | None = None

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self.engine.connect()
            conn.execute(text(f"SET statement_timeout = {int(self.statement_timeout_ms)}"))
            conn.commit()
            self._conn = conn
        return self._conn

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        conn = self._connection()
        try:
            yield conn
            conn.commit()
        except BaseException:
            self._reset()
            raise

    def _reset(self) -> None:
        """After an error the connection may be dead, and the lock with it."""
        conn, self._conn = self._conn, None
        self.held = False
        if conn is not None:
            try:
                conn.invalidate()  # never back to the pool: it may still hold the lock
                conn.close()
            except Exception:  # noqa: S110 - already broken
                pass

    def _backend_pid(self, conn: Connection) -> int | None:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())

    def try_acquire(self) -> bool:
        with self._transaction() as conn:
            self.held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar())
        return self.held

    def depose_expired(self, lease: Lease) -> int:
        with self._transaction() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(a.pid)) FROM pg_stat_activity a"
                        " JOIN leader_leases l ON l.name = :name"
                        " WHERE l.holder = :holder AND l.term = :term"
                        " AND l.expires_at < (extract(epoch FROM clock_timestamp()) * 1000)::bigint"
                        " AND a.application_name = :app AND a.pid <> pg_backend_pid()"
                        " AND a.datname = current_database()"
                    ),
                    {
                        "name": self.name,
                        "holder": lease.holder,
                        "term": lease.term,
                        "app": application_name(self.name, lease.holder),
                    },
                ).scalar_one()
            )

    def close(self) -> None:
        self._reset()  # closing the session frees the advisory lock


class FileRoleLock(RoleLock):
    def __init__(self, engine: Engine, name: str) -> None:
        super().__init__(engine, name)
        self.path = _lock_path(engine, name)
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self.path is None:  # an in-memory database: one process by construction
            self.held = True
            return True
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        os.ftruncate(self._fd, 0)
        os.write(self._fd, str(os.getpid()).encode())
        self.held = True
        return True

    def close(self) -> None:
        self.held = False
        if self._fd is not None:
            os.close(self._fd)  # frees the flock
            self._fd = None


def role_lock(engine: Engine, name: str, statement_timeout_ms: int = 5_000) -> RoleLock:
    if engine.dialect.name == "postgresql":
        return PgRoleLock(engine, name, statement_timeout_ms)
    return FileRoleLock(engine, name)
