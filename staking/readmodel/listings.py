"""The read model's listings, keyset pages with the domain's opaque cursors: providers (by
address, optionally by status), slashes (newest first, by state and/or provider) and a
provider's indexed events (newest first). Each answers `{"items", "next_cursor", "as_of"}`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, Connection, Select, and_, or_, select

from indexer.projection import ProviderRow, row_from
from staking.db import schema as t
from staking.domain.cursor import NUMBER, SLASH_ID, decode_cursor, encode_cursor
from staking.domain.ids import ADDRESS, normalize_address
from staking.domain.status import STATUSES
from staking.domain.vocabulary import SlashState
from staking.readmodel.documents import as_of, provider_summary, slash_item
from staking.readmodel.parts import epoch_clock, evaluated_at
from staking.readmodel.queries import SLASH_ORDER, meta, settings, slashes_query
from staking.readmodel.status_filter import status_condition

MAX_PAGE = 200
SLASH_STATES = ("pending", "executed", "vetoed")
# Event arguments that are uint256 token amounts or weights: decimal strings on the wire.
AMOUNT_ARGS = frozenset(
    {
        "amount",
        "active",
        "unbonding",
        "fromActive",
        "fromUnbonding",
        "weight",
        "totalWeight",
        "pool",
        "baseMinStake",
        "perGpuMinStake",
        "bond",
        "bondRefunded",
    }
)


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")


def list_providers(
    conn: Connection, status: str | None = None, limit: int = 50, cursor: str | None = None, *, now: int
) -> dict[str, Any]:
    """Registered providers by address (keyset pages), optionally only those with `status`:
    `{"items": [provider_summary...], "next_cursor", "as_of"}`, evaluated at `max(now, last
    indexed block time)` like `provider_standing` (`now`: the caller's clock, unix seconds).

    Raises ValueError for an unknown status, a limit outside 1..MAX_PAGE or a foreign cursor."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    check_limit(limit)
    meta_, params = settings(conn)
    clock = epoch_clock(meta_)
    at = evaluated_at(meta_, now)
    p = t.providers.c
    query = select(t.providers).order_by(p.address).limit(limit + 1)
    if status is not None:
        query = query.where(status_condition(status, at, clock))
    if cursor is not None:
        (after,) = decode_cursor("provider", cursor, ADDRESS)
        query = query.where(p.address > after)
    rows = [row_from(ProviderRow, r) for r in conn.execute(query).mappings()]
    page = rows[:limit]
    return {
        "items": [provider_summary(r, at, clock, params) for r in page],
        "next_cursor": encode_cursor("provider", page[-1].address) if len(rows) > limit else None,
        "as_of": as_of(meta_),
    }


def list_slashes(
    conn: Connection,
    state: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    *,
    provider: str | None = None,
    now: int = 0,
) -> dict[str, Any]:
    """Slashes newest first (by proposal block), optionally of one `state` ("pending",
    "executed", "vetoed") and/or one `provider`: `{"items", "next_cursor", "as_of"}`; each
    slash's appeal as `appealOf` answers at `max(now, last indexed block time)`.

    Raises ValueError for an unknown state, a limit outside 1..MAX_PAGE or a foreign cursor,
    InvalidAddress for a malformed provider."""
    if state is not None and state not in SLASH_STATES:
        raise ValueError(f"state must be one of {', '.join(SLASH_STATES)}")
    check_limit(limit)
    s = t.slashes
    query = slashes_query().order_by(*SLASH_ORDER)
    if state is not None:
        query = query.where(s.c.state == int(SlashState.from_wire(state)))
    if provider is not None:
        query = query.where(s.c.provider == normalize_address(provider))
    meta_ = meta(conn)
    at = evaluated_at(meta_, now)
    key = ("slash", s.c.proposed_block, s.c.id)
    return newest_first(conn, meta_, query, key, limit, cursor, lambda r: slash_item(r, at))


def newest_first(
    conn: Connection,
    meta_: dict[str, str],
    query: Select[Any],
    key: tuple[str, Column[int], Column[str]],
    limit: int,
    cursor: str | None,
    item: Callable[[Any], dict[str, Any]],
) -> dict[str, Any]:
    """One keyset page of `query` (already ordered by `key`'s block then id, both descending):
    `{"items": [item(row)...], "next_cursor", "as_of"}` (`as_of` from the indexer's `meta_`).
    `key`: (cursor kind, block column, id column), the id a bytes32 hex. A cursor of another kind
    is an InvalidCursor (ValueError)."""
    kind, block_col, id_col = key
    if cursor is not None:
        block, after = decode_cursor(kind, cursor, NUMBER, SLASH_ID)
        query = query.where(or_(block_col < int(block), and_(block_col == int(block), id_col < after)))
    rows = conn.execute(query.limit(limit + 1)).all()
    page = rows[:limit]
    last = page[-1]._mapping if len(rows) > limit else None
    return {
        "items": [item(r) for r in page],
        "next_cursor": None if last is None else encode_cursor(kind, last[block_col], last[id_col]),
        "as_of": as_of(meta_),
    }


def event_args(args: dict[str, Any]) -> dict[str, Any]:
    """An event's arguments as the API shows them: amounts as decimal strings."""
    return {k: str(v) if k in AMOUNT_ARGS and isinstance(v, int) else v for k, v in args.items()}


def provider_events(
    conn: Connection, address: str, limit: int = 50, cursor: str | None = None
) -> dict[str, Any]:
    """The indexed SwarmStaking events filed under `address` (as provider, or as the account of a
    role change or reward claim), newest first: `{"items", "next_cursor", "as_of"}`. Each item:
    `{block, log_index, block_hash, tx_hash, time, name, args}`; amount arguments are decimal
    strings. Raises InvalidAddress / ValueError like `list_slashes`."""
    addr = normalize_address(address)
    check_limit(limit)
    e = t.events.c
    query = (
        select(e.block_number, e.log_index, e.block_hash, e.tx_hash, e.block_time, e.name, e.args)
        .where(e.provider == addr)
        .order_by(e.block_number.desc(), e.log_index.desc())
        .limit(limit + 1)
    )
    if cursor is not None:
        block, index = (int(x) for x in decode_cursor("event", cursor, NUMBER, NUMBER))
        query = query.where(or_(e.block_number < block, and_(e.block_number == block, e.log_index < index)))
    rows = conn.execute(query).all()
    page = rows[:limit]
    items = [
        {
            "block": r.block_number,
            "log_index": r.log_index,
            "block_hash": r.block_hash,
            "tx_hash": r.tx_hash,
            "time": r.block_time,
            "name": r.name,
            "args": event_args(json.loads(r.args)),
        }
        for r in page
    ]
    last = page[-1] if page else None
    more = last is not None and len(rows) > limit
    return {
        "items": items,
        "next_cursor": encode_cursor("event", last.block_number, last.log_index) if more and last else None,
        "as_of": as_of(meta(conn)),
    }
