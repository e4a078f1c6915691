"""PostgreSQL: provider documents read on the event loop over asynchronous psycopg connections.

`GET /v1/providers/{address}` is the hot path (every provider polls it). On PostgreSQL its whole
document is one statement (`staking.readmodel.ONE_STATEMENT_PSYCOPG`), so a lookup is one network
round trip. Measured on the 2-core benchmark machine, a worker-thread hand-off per lookup cost
more than the lookup, and a synchronous call on the event loop would stall every other request
(`/readyz` included) whenever the database is slow. An asynchronous connection does neither: the
loop serves other requests while the statement runs.

The pool is small and per event loop: connections are made on first use, reused while healthy,
dropped after any error. A connection found dead (the database restarted) is replaced once within
the same request; a database that cannot be reached answers 503 problem+json, never a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import Engine

from staking.api.problems import ProblemException
from staking.policy import Policy
from staking.readmodel import (
    ONE_STATEMENT_PSYCOPG,
    one_statement_values,
    parts_from_one_statement,
    standing_from_parts,
)

log = logging.getLogger("staking.api")
RETRY_AFTER_S = 5


class AsyncStandingReader:
    def __init__(
        self,
        engine: Engine,
        size: int = 8,
        connect_timeout_s: int = 5,
        statement_timeout_ms: int = 5_000,
    ) -> None:
        url = engine.url.set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._connect_kwargs: dict[str, Any] = {
            "autocommit": True,  # one statement, one snapshot: no transaction round trips
            "connect_timeout": connect_timeout_s,
            "options": f"-c statement_timeout={statement_timeout_ms}",
            "application_name": "swarm-staking api lookups",
            "row_factory": namedtuple_row,
        }
        self.size = size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._slots: asyncio.Semaphore | None = None

    async def standing(self, addr: str, now: int, policy: Policy, head: int | None) -> dict[str, Any]:
        """The provider document of `addr` (checksummed), see `staking.readmodel.provider_standing`."""
        values = one_statement_values(addr, now, policy)
        slots = self._slots_of_this_loop()
        async with slots:
            row = None
            for attempt in (1, 2):
                pooled = bool(self._idle)
                conn = await self._connection()
                try:
                    cursor = await conn.execute(ONE_STATEMENT_PSYCOPG, values, prepare=True)
                    row = await cursor.fetchone()
                except psycopg.OperationalError as exc:
                    dead = conn.broken
                    await self._discard(conn)
                    if attempt == 1 and pooled and dead:
                        continue  # the database restarted since this connection was made: once more
                    raise _unavailable(exc) from None
                except BaseException:
                    await self._discard(conn)
                    raise
                self._idle.append(conn)
                break
        assert row is not None  # the statement always returns exactly one row
        return standing_from_parts(parts_from_one_statement(row), addr, now, policy, head)

    def _slots_of_this_loop(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if loop is not self._loop or self._slots is None:
            # A new event loop (a restarted server, a test client): the old loop's connections
            # cannot be awaited here; they are dropped, and closed by the garbage collector.
            self._loop, self._idle, self._slots = loop, [], asyncio.Semaphore(self.size)
        return self._slots

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._idle:
            return self._idle.pop()
        try:
            return await psycopg.AsyncConnection.connect(self._conninfo, **self._connect_kwargs)
        except psycopg.OperationalError as exc:
            raise _unavailable(exc) from None

    @staticmethod
    async def _discard(conn: psycopg.AsyncConnection[Any]) -> None:
        with contextlib.suppress(Exception):  # closing a broken connection may fail too: it is gone
            await conn.close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await self._discard(conn)


def _unavailable(exc: Exception) -> ProblemException:
    # The driver's message may name the host, never the password (not part of its messages).
    log.warning("database unreachable for a provider lookup", extra={"error": type(exc).__name__})
    return ProblemException(
        503,
        "not-ready",
        "database unreachable; retry shortly",
        {"Retry-After": str(RETRY_AFTER_S)},
    )
