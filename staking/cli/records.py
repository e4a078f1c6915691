"""What governance reads from the service database: indexed slashes, the verdicts behind them,
open tombstone proposals, and how far the indexer has come."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, false, or_, select

from staking.db import schema as t
from staking.domain.clock import iso_ms
from staking.intake.resources import verdict_facts


def indexed_block(engine: Engine) -> int | None:
    """The indexer's checkpoint, None before its first batch."""
    with engine.connect() as conn:
        value = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "checkpoint_block")).scalar()
    return None if value is None else int(value)


def indexed_to(engine: Engine) -> str:
    """How far the listings reach: `indexed to block N`, or that nothing is indexed yet."""
    block = indexed_block(engine)
    return "the chain is not indexed yet" if block is None else f"indexed to block {block}"


def all_slashes(engine: Engine, state: str | None) -> list[dict[str, Any]]:
    """Every indexed slash, newest proposal first, as `GET /v1/slashes` lists them."""
    from staking.readmodel import MAX_PAGE, list_slashes

    now = int(time.time())
    return _every_page(engine, lambda conn, cursor: list_slashes(conn, state, MAX_PAGE, cursor, now=now))


def all_appeals(engine: Engine, state: str | None) -> list[dict[str, Any]]:
    """Every indexed appeal, newest first, as `GET /v1/appeals` lists them."""
    from staking.readmodel import MAX_PAGE
    from staking.readmodel.appeals import list_appeals

    now = int(time.time())
    return _every_page(engine, lambda conn, cursor: list_appeals(conn, state, MAX_PAGE, cursor, now=now))


def _every_page(
    engine: Engine, page_of: Callable[[Connection, str | None], dict[str, Any]]
) -> list[dict[str, Any]]:
    """The items of every page of a listing, read on one snapshot."""
    from staking.readmodel import snapshot

    items: list[dict[str, Any]] = []
    cursor: str | None = None
    with snapshot(engine) as conn:
        while True:
            page = page_of(conn, cursor)
            items += page["items"]
            if (cursor := page["next_cursor"]) is None:
                return items


def find_verdict(engine: Engine, verdict_id: str) -> dict[str, Any] | None:
    """The service's record of a verdict (a slash id is its verdict's id), with its actions."""
    with engine.connect() as conn:
        v = conn.execute(select(t.verdicts).where(t.verdicts.c.id == verdict_id)).first()
        if v is None:
            return None
        actions = conn.execute(
            select(t.actions.c.kind, t.actions.c.state, t.actions.c.note)
            .where(t.actions.c.verdict_id == verdict_id)
            .order_by(t.actions.c.seq)
        ).all()
    return {
        "id": v.id,
        "provider": v.provider,
        **verdict_facts(v),
        "signer": v.signer,
        "status": v.status,
        "level": v.level,
        "offence_number": v.offence_number,
        "received_at": iso_ms(v.received_ms),
        "actions": [{"kind": a.kind, "state": a.state, "note": a.note} for a in actions],
    }


def tombstone_proposals(engine: Engine, include_decided: bool = False) -> list[dict[str, Any]]:
    """`propose_tombstone` actions of severe verdicts, newest first. A proposal is open while the
    indexed provider is not tombstoned."""
    tombstoned = t.providers.c.tombstoned
    query = (
        select(
            t.actions.c.state.label("action_state"),
            t.verdicts,
            tombstoned,
        )
        .select_from(
            t.actions.join(t.verdicts, t.verdicts.c.id == t.actions.c.verdict_id).outerjoin(
                t.providers, t.providers.c.address == t.verdicts.c.provider
            )
        )
        .where(t.actions.c.kind == "propose_tombstone")
        .order_by(t.verdicts.c.received_ms.desc(), t.actions.c.id.desc())
    )
    if not include_decided:
        query = query.where(or_(tombstoned.is_(None), tombstoned == false()))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        {
            "verdict_id": r.id,
            "provider": r.provider,
            **verdict_facts(r),
            "level": r.level,
            "proposed_at": iso_ms(r.received_ms),
            "action_state": r.action_state,
            "status": "tombstoned" if r.tombstoned else "open",
        }
        for r in rows
    ]
