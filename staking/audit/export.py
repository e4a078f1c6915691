"""`swarm-staking audit export`: the trail's records from the service's database, read on one
snapshot. Per verdict received in the range (of one provider, with `provider`), in the order
received: the verdict with every detector's signature, the decision with its policy hash, each
action with its transaction intent (signer, nonce, to, data, hash, the block that mined it), the
indexed events of those transactions and of the verdict's slash, and the webhook deliveries that
name the verdict."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, or_, select

from staking.audit.lines import anchor
from staking.db import schema as t
from staking.domain.errors import SwarmError


class NotIndexed(SwarmError, RuntimeError):
    """The database has not indexed a deployment yet: there is nothing to anchor a trail to."""


def deployment_anchor(conn: Connection) -> dict[str, Any]:
    meta = {r.key: r.value for r in conn.execute(select(t.meta))}
    if "chain_id" not in meta or "staking_address" not in meta:
        raise NotIndexed("the database has indexed no deployment yet (run the indexer first)")
    return anchor(int(meta["chain_id"]), meta["staking_address"], int(meta["deployed_block"]))


def trail_records(
    conn: Connection,
    since_ms: int | None = None,
    until_ms: int | None = None,
    provider: str | None = None,
) -> Iterator[dict[str, Any]]:
    yield deployment_anchor(conn)
    v = t.verdicts.c
    query = select(t.verdicts).order_by(v.received_ms, v.id)
    if since_ms is not None:
        query = query.where(v.received_ms >= since_ms)
    if until_ms is not None:
        query = query.where(v.received_ms <= until_ms)
    if provider is not None:
        query = query.where(v.provider == provider)
    for row in conn.execute(query).all():
        yield from _verdict(conn, row)


def _verdict(conn: Connection, v: Any) -> Iterator[dict[str, Any]]:
    s = t.verdict_signers.c
    signatures = conn.execute(
        select(s.signer, s.signature).where(s.verdict_id == v.id).order_by(s.received_ms, s.signer)
    ).all()
    yield {
        "kind": "verdict",
        "verdict_id": v.id,
        "provider": v.provider,
        "event_type": v.event_type,
        "severity": v.severity,
        "detected_at": v.detected_at,
        "evidence_hash": v.evidence_hash,
        "evidence_uri": v.evidence_uri,
        "signatures": [{"signer": r.signer, "signature": r.signature} for r in signatures],
        "received_ms": v.received_ms,
    }
    yield {
        "kind": "decision",
        "verdict_id": v.id,
        "level": v.level,
        "offence_number": v.offence_number,
        "slash_bps": v.slash_bps,
        "jail_seconds": v.jail_seconds,
        "recovery_path": v.recovery_path,
        "policy_hash": v.policy_hash,
        "status": v.status,
    }
    a, x = t.actions.c, t.tx_intents.c
    actions = conn.execute(
        select(
            a.seq,
            a.kind,
            a.state,
            a.note,
            x.id,
            x.idempotency_key,
            x.signer,
            x.nonce,
            x.to_address,
            x.data,
            x.tx_hash,
            x.state.label("intent_state"),
            x.mined_block,
            x.mined_block_hash,
        )
        .select_from(t.actions.outerjoin(t.tx_intents, x.id == a.intent_id))
        .where(a.verdict_id == v.id)
        .order_by(a.seq)
    ).all()
    hashes = []
    for r in actions:
        intent = None
        if r.id is not None:
            intent = {
                "id": r.id,
                "key": r.idempotency_key,
                "signer": r.signer,
                "nonce": r.nonce,
                "to": r.to_address,
                "data": r.data,
                "tx_hash": r.tx_hash,
                "state": r.intent_state,
                "mined_block": r.mined_block,
                "mined_block_hash": r.mined_block_hash,
            }
            if r.tx_hash:
                hashes.append(r.tx_hash)
        yield {
            "kind": "action",
            "verdict_id": v.id,
            "seq": r.seq,
            "action": r.kind,
            "state": r.state,
            "note": r.note,
            "intent": intent,
        }
    e = t.events.c
    events = conn.execute(
        select(e.name, e.block_number, e.block_hash, e.log_index, e.tx_hash, e.args)
        .where(or_(e.tx_hash.in_(hashes), e.slash_id == v.id))
        .order_by(e.block_number, e.log_index)
    ).all()
    for e_row in events:
        yield {
            "kind": "event",
            "verdict_id": v.id,
            "name": e_row.name,
            "block_number": e_row.block_number,
            "block_hash": e_row.block_hash,
            "log_index": e_row.log_index,
            "tx_hash": e_row.tx_hash,
            "args": json.loads(e_row.args),
        }
    w = t.webhook_outbox.c
    hooks = conn.execute(
        select(w.delivery, w.kind, w.state, w.attempts, w.created_ms, w.delivered_ms, w.body)
        .where(w.body.contains(v.id))
        .order_by(w.id)
    ).all()
    for h in hooks:
        yield {
            "kind": "webhook",
            "verdict_id": v.id,
            "delivery": h.delivery,
            "event": h.kind,
            "state": h.state,
            "attempts": h.attempts,
            "created_ms": h.created_ms,
            "delivered_ms": h.delivered_ms,
            "body_sha256": hashlib.sha256(h.body.encode()).hexdigest(),
        }
