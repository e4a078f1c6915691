"""The live event stream's table (SPEC section 10, `GET /v1/stream`). Part of
`staking.db.schema.metadata` (re-exported from `staking.db.schema`).

Rows are appended in the transaction that makes the change: the indexer's batch (jails, slashes,
appeals, epochs, and a `reorg` row when blocks are orphaned) and the intake's (an incident opens).
The id is the stream's resume id: AUTOINCREMENT on SQLite and a sequence on PostgreSQL, so an id
is never reused, even after a reorg deletes rows of `events` (SQLite would reuse a plain rowid).
Every API replica reads the same table: a subscriber resumes on any of them."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import BigInteger, Column, Connection, Index, Integer, String, Table, Text, func, select, text

from staking.db.columns import ADDRESS, metadata

stream_events = Table(
    "stream_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("kind", String(24), nullable=False),
    Column("provider", ADDRESS),
    Column("block_number", BigInteger),  # the block it was indexed at (null: not a chain event)
    Column("data", Text, nullable=False),  # JSON object
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_stream_events_provider", "provider", "id"),
    sqlite_autoincrement=True,
)

# What the stream carries, by the SwarmStaking event that causes it.
KIND_OF_EVENT = {
    "Jailed": "jailed",
    "Unjailed": "unjailed",
    "JailLifted": "unjailed",
    "Reinstated": "unjailed",
    "SlashProposed": "slash_proposed",
    "SlashVetoed": "slash_vetoed",
    "SlashExecuted": "slash_executed",
    "SlashAppealed": "appeal",
    "AppealResolved": "appeal",
    "AppealExpired": "appeal",
    "EligibilityPublished": "epoch_published",
}
KINDS = (*dict.fromkeys(KIND_OF_EVENT.values()), "incident", "reorg")
STREAM_LOCK = 0x5357_5354  # the advisory lock key of stream appends on PostgreSQL ("SWST")


def append(
    conn: Connection,
    kind: str,
    data: dict[str, Any],
    now_ms: int,
    provider: str | None = None,
    block_number: int | None = None,
) -> None:
    if conn.dialect.name == "postgresql":
        # Ids come from a sequence when the row is inserted, but rows become visible at commit: two
        # writers could commit ids out of order and a reader past the later one would skip the
        # earlier. One writer at a time from here to commit makes id order commit order.
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STREAM_LOCK})
    conn.execute(
        stream_events.insert().values(
            kind=kind,
            provider=provider,
            block_number=block_number,
            data=json.dumps(data, sort_keys=True, separators=(",", ":")),
            created_ms=now_ms,
        )
    )


def newest_id(conn: Connection) -> int:
    """The id of the newest stream event (0 before any): where a new subscriber starts."""
    return int(conn.execute(select(func.coalesce(func.max(stream_events.c.id), 0))).scalar_one())
