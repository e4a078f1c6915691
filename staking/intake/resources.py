"""Stored verdicts as the API and the CLI show them (SPEC section 3): read from the intake's
tables, never from the chain."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from staking.db import schema as t
from staking.domain.clock import iso_ms
from staking.domain.vocabulary import EventType, RecoveryPath, Severity


def verdict_facts(r: Any) -> dict[str, Any]:
    """What the detector said, as the API shows it (from a row with the verdict's columns)."""
    return {
        "event_type": EventType(r.event_type).wire,
        "severity": Severity(r.severity).wire,
        "detected_at": r.detected_at,
        "evidence_hash": r.evidence_hash,
        "evidence_uri": r.evidence_uri,
    }


def verdict_signers(conn: Connection, vid: str, first: str) -> list[str]:
    """Every detector that signed the verdict's content, checksummed, in the order received: the
    first signer (`verdicts.signer`, listed even without its `verdict_signers` row), then the
    co-signers."""
    s = t.verdict_signers
    others = conn.execute(
        select(s.c.signer)
        .where(s.c.verdict_id == vid, s.c.signer != first)
        .order_by(s.c.received_ms, s.c.signer)
    ).scalars()
    return [first, *others]


def verdict_resource(conn: Connection, vid: str) -> dict[str, Any] | None:
    """The verdict resource of the stored id `vid` (`0x` + 64 lower-case hex), or None: what the
    detector said, who signed it, the decision, and each action with its transaction."""
    v = conn.execute(select(t.verdicts).where(t.verdicts.c.id == vid)).first()
    if v is None:
        return None
    rows = conn.execute(
        select(
            t.actions.c.kind,
            t.actions.c.state,
            t.actions.c.deadline_ms,
            t.actions.c.confirmed_ms,
            t.actions.c.note,
            t.tx_intents.c.tx_hash,
            t.tx_intents.c.mined_block,
        )
        .select_from(t.actions.outerjoin(t.tx_intents, t.tx_intents.c.id == t.actions.c.intent_id))
        .where(t.actions.c.verdict_id == vid)
        .order_by(t.actions.c.seq)
    ).all()
    path = RecoveryPath(v.recovery_path)
    return {
        "id": v.id,
        "status": v.status,
        "provider": v.provider,
        **verdict_facts(v),
        "signer": v.signer,
        "signers": verdict_signers(conn, vid, v.signer),
        "decision": {
            "level": v.level,
            "offence_number": v.offence_number,
            "recovery_path": None if path == RecoveryPath.NONE else path.wire,
            "slash_bps": v.slash_bps,
            "jail_seconds": v.jail_seconds,
            "jail_until_recovery": v.jail_seconds == 0,
            "policy_hash": v.policy_hash,
        },
        "actions": [
            {
                "kind": a.kind,
                "state": a.state,
                "tx_hash": a.tx_hash,
                "block": a.mined_block,
                "deadline_at": iso_ms(a.deadline_ms),
                "confirmed_at": iso_ms(a.confirmed_ms),
                "note": a.note,
            }
            for a in rows
        ],
        "deadline_at": iso_ms(v.deadline_ms),
        "received_at": iso_ms(v.received_ms),
        "updated_at": iso_ms(v.updated_ms),
    }
