"""Investigations: opened by the intake for suspicious activity (an `investigations` row beside
the verdict, see `staking.intake.service`), listed by the API and the CLI, resolved by governance
from the CLI (`swarm-staking investigation resolve`).

A resolution is `cleared` or `confirmed` with a note. A confirmed investigation penalizes nobody by
itself (SPEC section 1): that takes a new detector-signed verdict of the confirmed event type.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine, Select, select, update

from staking.db import schema as t
from staking.domain.clock import iso_ms
from staking.domain.cursor import NUMBER, decode_cursor, encode_cursor
from staking.domain.ids import normalize_id
from staking.domain.vocabulary import InvestigationOutcome, InvestigationStatus
from staking.intake.errors import InvestigationError
from staking.intake.resources import verdict_facts

log = logging.getLogger("staking.intake")

INVESTIGATION_STATUSES = tuple(s.value for s in InvestigationStatus)
INVESTIGATION_OUTCOMES = tuple(o.value for o in InvestigationOutcome)
RESOLVED_BY_MAX = 80  # investigations.resolved_by
MAX_PAGE = 200


def _investigations_query() -> Select[Any]:
    inv, ver = t.investigations, t.verdicts
    return select(
        inv, ver.c.event_type, ver.c.severity, ver.c.detected_at, ver.c.evidence_hash, ver.c.evidence_uri
    ).select_from(inv.join(ver, ver.c.id == inv.c.verdict_id))


def _investigation_item(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "verdict_id": r.verdict_id,
        "provider": r.provider,
        "status": r.status,
        **verdict_facts(r),
        "opened_at": iso_ms(r.opened_ms),
        "resolved_at": iso_ms(r.resolved_ms),
        "resolution": r.resolution,
        "resolved_by": r.resolved_by,
        "verdict": f"/v1/verdicts/{r.verdict_id}",
    }


def list_investigations(
    engine: Engine, status: str | None = None, limit: int = 50, cursor: str | None = None
) -> dict[str, Any]:
    """Investigations, newest first: `{"items": [...], "next_cursor": str | None}`.

    Raises ValueError for an unknown status, a limit outside 1..MAX_PAGE or a bad cursor."""
    if status is not None and status not in INVESTIGATION_STATUSES:
        raise ValueError(f"status must be one of {', '.join(INVESTIGATION_STATUSES)}")
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    inv = t.investigations
    query = _investigations_query().order_by(inv.c.id.desc()).limit(limit + 1)
    if status is not None:
        query = query.where(inv.c.status == InvestigationStatus(status).value)
    if cursor is not None:
        query = query.where(inv.c.id < int(decode_cursor("inv", cursor, NUMBER)[0]))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    page = rows[:limit]
    next_cursor = encode_cursor("inv", page[-1].id) if len(rows) > limit else None
    return {"items": [_investigation_item(r) for r in page], "next_cursor": next_cursor}


def find_investigation(engine: Engine, verdict_id: str) -> dict[str, Any] | None:
    """The investigation opened by `verdict_id` (listing shape), or None."""
    vid = normalize_id(verdict_id)
    if vid is None:
        return None
    with engine.connect() as conn:
        row = conn.execute(_investigations_query().where(t.investigations.c.verdict_id == vid)).first()
    return None if row is None else _investigation_item(row)


def check_resolution(verdict_id: str, outcome: str, note: str, resolved_by: str) -> tuple[str, str, str]:
    """`(verdict id, resolution, resolver)` as stored, or ValueError naming what is wrong."""
    if outcome not in INVESTIGATION_OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(INVESTIGATION_OUTCOMES)}, not {outcome!r}")
    if not note.strip():
        raise ValueError("the note must not be empty: say why")
    if not 1 <= len(resolved_by.strip()) <= RESOLVED_BY_MAX:
        raise ValueError(f"the resolver's name must be 1 to {RESOLVED_BY_MAX} characters")
    vid = normalize_id(verdict_id)
    if vid is None:
        raise ValueError(f"{verdict_id!r} is not a verdict id (0x + 64 hex digits)")
    return vid, f"{outcome}: {note.strip()}", resolved_by.strip()


def open_investigation(engine: Engine, verdict_id: str) -> dict[str, Any]:
    """The open investigation of `verdict_id`; InvestigationError if there is none or it is resolved."""
    item = find_investigation(engine, verdict_id)
    if item is None:
        raise InvestigationError(f"no investigation for verdict {verdict_id.lower()}")
    if item["status"] != InvestigationStatus.OPEN:
        raise InvestigationError(
            f"the investigation of verdict {item['verdict_id']} is already resolved "
            f"({item['resolution']!r} by {item['resolved_by']} at {item['resolved_at']})"
        )
    return item


def resolve_investigation(
    engine: Engine, verdict_id: str, outcome: str, note: str, resolved_by: str, now_ms: int
) -> dict[str, Any]:
    """Resolve the open investigation of `verdict_id` as `outcome` ("cleared" or "confirmed"):
    status `resolved`, resolution `"<outcome>: <note>"`. Returns the resolved investigation.

    Only an open investigation is resolved (one conditional UPDATE, so of two concurrent
    resolutions one wins). Raises InvestigationError for an unknown or already resolved one,
    ValueError for bad arguments (see `check_resolution`)."""
    vid, resolution, resolver = check_resolution(verdict_id, outcome, note, resolved_by)
    inv = t.investigations
    with engine.begin() as conn:
        changed = conn.execute(
            update(inv)
            .where(inv.c.verdict_id == vid, inv.c.status == InvestigationStatus.OPEN.value)
            .values(
                status=InvestigationStatus.RESOLVED.value,
                resolution=resolution,
                resolved_by=resolver,
                resolved_ms=now_ms,
            )
        ).rowcount
    if changed != 1:
        open_investigation(engine, vid)  # raises: unknown or resolved by someone else
    log.info("investigation resolved", extra={"verdict_id": vid, "outcome": outcome, "resolved_by": resolver})
    item = find_investigation(engine, vid)
    assert item is not None
    return item
