"""`GET /v1/appeals` (SPEC section 9): providers' appeals of slashes, newest first (by the block
they were appealed in), optionally of one state and/or one provider, as keyset pages with the
domain's cursors: `{"items", "next_cursor", "as_of"}`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, or_, select

from indexer.appeals import EXPIRED, OPEN, state_at
from staking.db import schema as t
from staking.domain.ids import normalize_address
from staking.domain.vocabulary import AppealState, SlashState
from staking.readmodel.listings import check_limit, newest_first
from staking.readmodel.parts import evaluated_at
from staking.readmodel.queries import meta

APPEAL_STATES = tuple(s.wire for s in AppealState if s != AppealState.NONE)


def appeal_item(r: Any, at: int) -> dict[str, Any]:
    """An appeal with what the council decides on: the slash it contests (state, bps, amount,
    its executableAt) and where the provider stands. `state` as `appealOf` answers at `at` (an
    open appeal reads expired from its deadline on). `executable_at` of a rejected appeal is the
    slash's new one (`max(executableAt, resolved + appealGrace())`)."""
    return {
        "id": r.id,
        "provider": r.provider,
        "state": state_at(r.state, r.deadline, at),
        "evidence_hash": r.evidence_hash,
        "bond": str(r.bond),
        "deadline": r.deadline,
        "reason_hash": r.reason_hash,
        "resolved_at": r.resolved_at,
        "executable_at": r.executable_at,
        "appealed_at": r.appealed_at,
        "appealed_block": r.appealed_block,
        "appealed_tx": r.appealed_tx,
        "resolved_block": r.resolved_block,
        "resolved_tx": r.resolved_tx,
        "slash": {
            "state": None if r.slash_state is None else SlashState(r.slash_state).wire,
            "bps": r.slash_bps,
            "amount": None if r.slash_amount is None else str(r.slash_amount),
            "executable_at": r.slash_executable_at,
        },
        "provider_document": f"/v1/providers/{r.provider}",
    }


def list_appeals(
    conn: Connection,
    state: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    *,
    provider: str | None = None,
    now: int = 0,
) -> dict[str, Any]:
    """Appeals newest first (by the block appealed in), optionally of one `state` (open, upheld,
    rejected, expired) and/or one `provider`, each state as `appealOf` answers at `max(now, last
    indexed block time)`. Raises ValueError for an unknown state, a limit outside 1..MAX_PAGE or
    a foreign cursor, InvalidAddress for a malformed provider."""
    if state is not None and state not in APPEAL_STATES:
        raise ValueError(f"state must be one of {', '.join(APPEAL_STATES)}")
    check_limit(limit)
    a, s = t.appeals, t.slashes
    query = (
        select(
            a,
            s.c.state.label("slash_state"),
            s.c.bps.label("slash_bps"),
            s.c.amount.label("slash_amount"),
            s.c.executable_at.label("slash_executable_at"),
        )
        .select_from(a.outerjoin(s, s.c.id == a.c.id))
        .order_by(a.c.appealed_block.desc(), a.c.id.desc())
    )
    meta_ = meta(conn)
    at = evaluated_at(meta_, now)
    if state == OPEN:
        query = query.where(a.c.state == OPEN, a.c.deadline > at)
    elif state == EXPIRED:
        query = query.where(or_(a.c.state == EXPIRED, (a.c.state == OPEN) & (a.c.deadline <= at)))
    elif state is not None:
        query = query.where(a.c.state == state)
    if provider is not None:
        query = query.where(a.c.provider == normalize_address(provider))
    key = ("appeal", a.c.appealed_block, a.c.id)
    return newest_first(conn, meta_, query, key, limit, cursor, lambda r: appeal_item(r, at))
