"""Leader election for the roles that must run once per database: the worker (scheduler,
executor, transaction manager) and the indexer.

Any number of processes may run a role; one leads, the others stand by:

- **Standby.** Tries the role's lock every `poll` seconds (a PostgreSQL advisory lock, or a file
  lock beside a SQLite file) and logs once per leader "standing by: leader is <holder>". The lock
  frees when the leader's session ends: at once when its process dies.
- **Takeover.** The new leader increments the lease's `term` and writes itself as its holder in
  one transaction, then starts the role with a `Fence` of that term.
- **Lease.** The leader renews its lease every `seconds / 3` through the lock's own connection,
  so a dead lock connection (database restart, `pg_terminate_backend`, network cut) is a failed
  renewal. On a failed renewal, a lease about to expire unconfirmed, or a fenced write refused
  (`LostLeadership`), the leader sets the role's stop event at once, waits for the role to return
  and goes back to standby: the process stays up and may lead again, and a supervisor has nothing
  to restart. (Exiting instead would only add a restart delay; a role that does not stop within
  `stop_timeout` after losing the lease does exit the process, non-zero.)
- **A hung leader** (paused, or stuck with its session open) keeps PostgreSQL's advisory lock. A
  standby that sees its lease expired ends its database sessions (`pg_terminate_backend` of the
  sessions carrying the holder's `application_name`), which frees the lock and rolls back any
  write it had open; the standby then takes over. Takeover is therefore bounded by the lease plus
  one poll even for a hung leader. Safe because of the fence: whatever the old leader does when
  it wakes up, its next write-ahead transaction sees the new term and refuses to plan or sign.
  SQLite cannot take a file lock from a live process: there a hung leader blocks takeover until
  it dies, and a leader never steps down for a failed renewal (the lease row only informs).
  SQLite is the single-host embedded default; scale-out runs on PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from staking.db.engine import make_engine, normalize_url
from staking.db.lock import Fence, Lease, LostLeadership, RoleLock, application_name, role_lock

log = logging.getLogger("leader")

Lead = Callable[[Fence, threading.Event], None]


@dataclass(frozen=True)
class LeaseConfig:
    seconds: float = 10.0  # SWARM_WORKER_LEASE_SECONDS
    poll: float = 1.0  # how often a standby tries the lock
    stop_timeout: float = 60.0  # a role still running this long after losing the lease exits the process

    @property
    def renew_every(self) -> float:
        return self.seconds / 3

    @property
    def margin(self) -> float:
        """The leader stops this long before its lease would end unconfirmed."""
        return min(1.0, self.seconds / 10)

    @property
    def ms(self) -> int:
        return int(self.seconds * 1000)


def new_holder() -> str:
    """hostname:pid:token — the token tells apart processes that reuse a pid."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(6)}"


def role_engine(url: str, name: str, holder: str) -> Engine:
    """An engine for the role whose PostgreSQL sessions carry the holder's `application_name`, so
    a standby can end exactly them when this process hangs while leading."""
    if make_url(normalize_url(url)).get_backend_name() == "postgresql":
        return make_engine(url, connect_args={"application_name": application_name(name, holder)})
    return make_engine(url)


class Leadership:
    """Runs `lead` while this process holds the role's lease; stands by otherwise."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        config: LeaseConfig | None = None,
        holder: str | None = None,
        lock_factory: Callable[[], RoleLock] | None = None,
    ) -> None:
        self.engine = engine
        self.name = name
        self.config = config or LeaseConfig()
        self.holder = holder or new_holder()
        statement_timeout_ms = max(1000, int(self.config.renew_every * 1000))
        self._lock_factory = lock_factory or (lambda: role_lock(engine, name, statement_timeout_ms))
        self.term: int | None = None  # while leading
        self.terms_led = 0
        self._valid_until = 0.0  # monotonic time the current lease is known to last until

    @property
    def leading(self) -> bool:
        return self.term is not None

    def run(self, stop: threading.Event, lead: Lead) -> None:
        """Until `stop`: stand by, lead when elected, stand by again when the lease is lost.
        Raises what `lead` raises while it leads (a real failure, not a lost lease)."""
        while not stop.is_set():
            elected = self._stand_by(stop)
            if elected is None:
                return
            lock, lease = elected
            self._lead(stop, lock, lease, lead)
            if not stop.is_set():
                log.warning(
                    f"standing by again: the {self.name} lease of term {lease.term} is lost",
                    extra={"role": self.name, "term": lease.term},
                )

    # ---------------------------------------------------------------- standby
    def _stand_by(self, stop: threading.Event) -> tuple[RoleLock, Lease] | None:
        lock = self._lock_factory()
        announced: tuple[str, int] | None = None
        db_down = False
        started = time.monotonic()
        while not stop.is_set():
            try:
                acquired = lock.try_acquire()
                if not acquired:
                    lease, now = lock.read()
                    if lease is not None and lease.expires_at < now and lock.revocable:
                        acquired = self._depose(stop, lock, lease, now)
                    key = (lease.holder, lease.term) if lease is not None else ("", 0)
                    if not acquired and key != announced:
                        announced = key
                        who = f"{lease.holder} (term {lease.term})" if lease is not None else "unknown"
                        log.info(
                            f"standing by: {self.name} leader is {who}",
                            extra={"role": self.name, "leader": lease.holder if lease else None},
                        )
                db_down = False
                if acquired:
                    elected = self._elect(lock, started)
                    if elected is not None:
                        return lock, elected
            except Exception as exc:
                if not db_down:
                    log.warning(
                        f"standby of {self.name}: database unreachable; retrying",
                        extra={"error": _short(exc)},
                    )
                db_down = True
                lock.close()
            stop.wait(self.config.poll)
        lock.close()
        return None

    def _elect(self, lock: RoleLock, standby_since: float) -> Lease | None:
        """With the lock held: begin the next term, or give the lock back if that fails."""
        t0 = time.monotonic()
        try:
            lease = lock.take_lease(self.holder, self.config.ms)
        except Exception as exc:
            log.warning(f"could not begin a {self.name} term; retrying", extra={"error": _short(exc)})
            lock.close()
            return None
        self._valid_until = t0 + self.config.seconds
        log.info(
            f"{self.name} leader: term {lease.term}",
            extra={
                "role": self.name,
                "term": lease.term,
                "holder": self.holder,
                "standby_ms": int((time.monotonic() - standby_since) * 1000),
            },
        )
        return lease

    def _depose(self, stop: threading.Event, lock: RoleLock, lease: Lease, now: int) -> bool:
        """The leader's lease has expired but its lock is held: it hangs, or is cut off from us
        with its session still open. End its sessions (PostgreSQL), then wait briefly for the
        lock to free. Returns whether this process now holds the lock."""
        ended = lock.depose_expired(lease)
        if not ended:
            return False
        log.warning(
            f"the {self.name} leader's lease expired: ended its database sessions",
            extra={
                "role": self.name,
                "holder": lease.holder,
                "term": lease.term,
                "expired_ms_ago": now - lease.expires_at,
                "sessions": ended,
            },
        )
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and not stop.is_set():
            if lock.try_acquire():
                return True
            stop.wait(0.05)
        return False

    # ---------------------------------------------------------------- leading
    def _lead(self, stop: threading.Event, lock: RoleLock, lease: Lease, lead: Lead) -> None:
        lead_stop = threading.Event()
        reason: list[str] = []

        def step_down(why: str) -> None:
            if not lead_stop.is_set():
                reason.append(why)
                lead_stop.set()

        fence = Fence(
            self.name, lease.term, self.holder, on_lost=lambda: step_down("a fenced write saw a new term")
        )
        errors: list[BaseException] = []

        def body() -> None:
            try:
                lead(fence, lead_stop)
            except LostLeadership as exc:
                step_down(str(exc))
            except BaseException as exc:
                if lead_stop.is_set():  # what losing the lease (or the database) looks like
                    log.warning(
                        f"{self.name} stopped with an error while stepping down",
                        extra={"error": _short(exc)},
                    )
                else:
                    errors.append(exc)

        self.term = lease.term
        self.terms_led += 1
        worker = threading.Thread(target=body, name=f"{self.name}-term-{lease.term}", daemon=True)
        renewer = threading.Thread(
            target=self._renew,
            args=(lock, lease.term, step_down, lead_stop),
            name=f"{self.name}-lease",
            daemon=True,
        )
        worker.start()
        renewer.start()
        try:
            while worker.is_alive() and not lead_stop.is_set():
                if stop.is_set():
                    step_down("shutting down")
                elif lock.revocable and time.monotonic() >= self._valid_until - self.config.margin:
                    step_down("the lease was not renewed in time")
                worker.join(0.05)
            if not worker.is_alive():
                step_down("the role returned")
            if reason and reason[0] not in ("shutting down", "the role returned"):
                log.error(
                    f"{self.name} stepped down: {reason[0]}",
                    extra={"role": self.name, "term": lease.term, "reason": reason[0]},
                )
            worker.join(self.config.stop_timeout)
            if worker.is_alive():
                raise RuntimeError(
                    f"the {self.name} did not stop within {self.config.stop_timeout}s of losing its lease"
                )
        finally:
            lead_stop.set()
            self.term = None
            renewer.join(self.config.renew_every + 2)
            if renewer.is_alive():
                lock.held = False  # stuck in a database call: abandon the connection
            else:
                lock.release(self.holder, lease.term)
        if errors:
            raise errors[0]

    def _renew(
        self, lock: RoleLock, term: int, step_down: Callable[[str], None], lead_stop: threading.Event
    ) -> None:
        while not lead_stop.wait(self.config.renew_every):
            sent = time.monotonic()
            try:
                expires = lock.renew(self.holder, term, self.config.ms)
            except Exception as exc:
                if lock.revocable:
                    step_down(f"lease renewal failed: {_short(exc)}")
                    return
                # A file lock stays ours while this process lives: the lease row only informs.
                log.warning(
                    f"{self.name} lease not renewed; still holding the lock", extra={"error": _short(exc)}
                )
                continue
            if expires is None:
                step_down("another process took the lease")
                return
            self._valid_until = sent + self.config.seconds


def _short(exc: BaseException) -> str:
    """The error's type and first line (SQLAlchemy appends the statement and a link)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200] if lines else ''}"
