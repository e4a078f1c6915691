"""Incidents (SPEC section 8): verdicts against many providers at once, from one detector or of one
event type, open an incident, and the slashes of its verdicts are held until governance releases
or dismisses it (`staking.intake.incident_resolution`, `swarm-staking incident ...`).

`watch(conn, rules, verdict_id, now_ms, outbox)` runs in the intake's database transaction, right
after a verdict and its actions are inserted (`IntakeService._record`), for each of the verdict's
two subjects: its detector (`verdicts.signer`, kind "detector") and its event type (kind
"event_type", subject = the wire name).

- Only verdicts that isolate or take stake count (a `jail`, `propose_slash` or `propose_tombstone`
  action): warnings and investigations never open an incident nor join one.
- With an open incident of the subject, the verdict joins it and its slash (and tombstone
  proposal) is `held` at once: the executor never sees it `pending`.
- Otherwise the subject's verdicts received within `window_minutes` are measured against the
  threshold (`crossing`, pure): more than `max_providers` distinct providers, or — once at least
  `min_providers_for_stake` are hit — more than `max_stake_bps` of the bonded stake (active +
  unbonding of every provider in the `providers` projection, exact ints). Crossed: an incident
  opens, every verdict of the window joins it, their still pending slashes become `held`, and an
  `incident` webhook is written to the outbox in the same transaction.
- Verdicts governance already judged (in a released or dismissed incident of the same subject)
  neither count nor join again.

Isolation (`jail`, `begin_recovery`) is never held here: it must not wait. A subject's incident
is opened under a lock of its own (PostgreSQL advisory lock; SQLite has one writer at a time), so
two concurrent verdicts never open two incidents of one subject.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, exists, func, select, text, update

from staking.db import schema as t
from staking.db.stream import append as stream_append
from staking.domain.clock import iso_ms
from staking.domain.vocabulary import BPS, ActionKind, ActionState, EventType, IncidentKind, IncidentState
from staking.policy.engine import Incidents, IncidentThreshold

log = logging.getLogger("staking.intake")

# What a verdict must carry to count: it isolates or takes stake.
MATCHING_KINDS = (ActionKind.JAIL.value, ActionKind.PROPOSE_SLASH.value, ActionKind.PROPOSE_TOMBSTONE.value)
# What an open incident holds: the irreversible part. Isolation continues.
HELD_KINDS = (ActionKind.PROPOSE_SLASH.value, ActionKind.PROPOSE_TOMBSTONE.value)
# The first key of the two-key PostgreSQL advisory locks of incident subjects ("SI"): a key space
# apart from the single-key locks the intake takes per provider.
LOCK_SPACE = 0x5349

# Writes a webhook event to the outbox in the caller's transaction (`WebhookNotifier.record`).
Outbox = Callable[[Connection, str, dict[str, Any]], None]


# ------------------------------------------------------------------------------------ thresholds


@dataclass(frozen=True)
class Exposure:
    """What a subject's verdicts of the window hit: distinct providers and, when measured, their
    bonded stake and the network's (base units)."""

    providers: int
    stake: int | None = None
    bonded: int | None = None


def needs_stake(threshold: IncidentThreshold, providers: int) -> bool:
    """Whether the stake rule can decide: enough providers hit, and not already over the count."""
    return threshold.min_providers_for_stake <= providers <= threshold.max_providers


def share_text(stake: int, bonded: int) -> str:
    """`stake` as a percentage of `bonded`, two decimals, rounded down (exact ints)."""
    hundredths = stake * 100 * 100 // bonded if bonded else 0
    return f"{hundredths // 100}.{hundredths % 100:02d} %"


def crossing(threshold: IncidentThreshold, exposure: Exposure) -> str | None:
    """In words, how `exposure` crosses `threshold`, or None if it does not."""
    if exposure.providers > threshold.max_providers:
        return f"against {exposure.providers} providers (more than {threshold.max_providers})"
    stake, bonded = exposure.stake, exposure.bonded
    if (
        exposure.providers >= threshold.min_providers_for_stake
        and stake is not None
        and bonded
        and stake * BPS > threshold.max_stake_bps * bonded
    ):
        return (
            f"against {exposure.providers} providers holding {share_text(stake, bonded)} of the bonded "
            f"stake (more than {share_text(threshold.max_stake_bps, BPS)})"
        )
    return None


# ------------------------------------------------------------------------------------ subjects


@dataclass(frozen=True)
class Subject:
    kind: IncidentKind
    name: str  # the detector's address or the event type's wire name
    threshold: IncidentThreshold
    where: ColumnElement[bool]  # the subject's verdicts

    @property
    def label(self) -> str:
        return f"detector {self.name}" if self.kind == IncidentKind.DETECTOR else f"event type {self.name}"


def subjects(rules: Incidents, signer: str, event_type: EventType) -> tuple[Subject, Subject]:
    v = t.verdicts.c
    return (
        Subject(IncidentKind.DETECTOR, signer, rules.per_detector, v.signer == signer),
        Subject(
            IncidentKind.EVENT_TYPE, event_type.wire, rules.per_event_type, v.event_type == int(event_type)
        ),
    )


def lock_subject(conn: Connection, kind: str, name: str) -> None:
    """Serialize the opening, joining and closing of one subject's incidents (PostgreSQL; SQLite
    writers are serialized already)."""
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"{kind}:{name}".encode())
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:space, :key)"),
            {"space": LOCK_SPACE, "key": key - 2**32 if key >= 2**31 else key},
        )


def open_incident_of(conn: Connection, kind: str, name: str) -> int | None:
    i = t.incidents.c
    return conn.execute(
        select(i.id).where(i.kind == kind, i.subject == name, i.state == IncidentState.OPEN.value)
    ).scalar()


def suspect_detectors(conn: Connection) -> set[str]:
    """The detectors with an open incident (their jails stop short of the on-chain jail cap)."""
    i = t.incidents.c
    query = select(i.subject).where(
        i.kind == IncidentKind.DETECTOR.value, i.state == IncidentState.OPEN.value
    )
    return set(conn.execute(query).scalars())


def _matching(verdict_id: Any) -> Any:
    a = t.actions.c
    return exists().where(a.verdict_id == verdict_id, a.kind.in_(MATCHING_KINDS))


def _judged(subject: Subject) -> Any:
    """The subject's verdicts in a closed incident of the same subject (none is open here)."""
    iv, i = t.incident_verdicts.c, t.incidents.c
    return exists().where(
        iv.verdict_id == t.verdicts.c.id,
        iv.incident_id == i.id,
        i.kind == subject.kind.value,
        i.subject == subject.name,
    )


def window_verdicts(conn: Connection, subject: Subject, since_ms: int) -> list[tuple[str, str]]:
    """(verdict id, provider) of the subject's counting verdicts received after `since_ms`."""
    v = t.verdicts.c
    rows = conn.execute(
        select(v.id, v.provider).where(
            subject.where, v.received_ms > since_ms, _matching(v.id), ~_judged(subject)
        )
    ).all()
    return [(r.id, r.provider) for r in rows]


def bonded_stake(conn: Connection, providers: Iterable[str]) -> tuple[int, int]:
    """(bonded stake of `providers`, of the whole network): active + unbonding, base units."""
    hit = set(providers)
    p = t.providers.c
    stake = bonded = 0
    for r in conn.execute(select(p.address, p.active, p.unbonding)):
        amount = int(r.active) + int(r.unbonding)
        bonded += amount
        if r.address in hit:
            stake += amount
    return stake, bonded


def exposure_of(conn: Connection, threshold: IncidentThreshold, providers: set[str]) -> Exposure:
    if not needs_stake(threshold, len(providers)):
        return Exposure(len(providers))
    stake, bonded = bonded_stake(conn, providers)
    return Exposure(len(providers), stake, bonded)


# ------------------------------------------------------------------------------------ the hook


def watch(
    conn: Connection, rules: Incidents, verdict_id: str, now_ms: int, outbox: Outbox | None = None
) -> list[int]:
    """After `verdict_id` and its actions were inserted in `conn`'s transaction: join it to its
    subjects' open incidents, or open one where the window crosses a threshold; hold the slashes.
    Returns the ids of the incidents it joined or opened (empty when disabled or not counting)."""
    if not rules.enabled:
        return []
    v = t.verdicts.c
    row = conn.execute(select(v.signer, v.event_type).where(v.id == verdict_id, _matching(v.id))).first()
    if row is None:
        return []
    touched: list[int] = []
    for subject in subjects(rules, row.signer, EventType(row.event_type)):
        lock_subject(conn, subject.kind.value, subject.name)
        incident = open_incident_of(conn, subject.kind.value, subject.name)
        if incident is not None:
            add_verdicts(conn, incident, [verdict_id], now_ms)
            held = hold(conn, incident, subject.label, [verdict_id])
            log.info(
                "verdict joined an open incident",
                extra={
                    "incident": incident,
                    "verdict_id": verdict_id,
                    "subject": subject.label,
                    "held": held,
                },
            )
            touched.append(incident)
            continue
        window = window_verdicts(conn, subject, now_ms - rules.window_minutes * 60_000)
        providers = {provider for _, provider in window}
        reason = crossing(subject.threshold, exposure_of(conn, subject.threshold, providers))
        if reason is None:
            continue
        reason = f"{subject.label}: verdicts {reason} within {rules.window_minutes} minutes"
        touched.append(open_incident(conn, subject, reason, [vid for vid, _ in window], now_ms, outbox))
    return touched


def open_incident(
    conn: Connection,
    subject: Subject,
    reason: str,
    verdict_ids: list[str],
    now_ms: int,
    outbox: Outbox | None,
) -> int:
    i = t.incidents
    incident = conn.execute(
        i.insert()
        .values(
            kind=subject.kind.value,
            subject=subject.name,
            state=IncidentState.OPEN.value,
            reason=reason,
            opened_ms=now_ms,
            updated_ms=now_ms,
        )
        .returning(i.c.id)
    ).scalar_one()
    add_verdicts(conn, incident, verdict_ids, now_ms)
    held = hold(conn, incident, subject.label, None)
    payload = incident_payload(conn, incident)
    log.warning(
        "incident opened: its verdicts' slashes are held until governance releases or dismisses it",
        extra={
            "incident": incident,
            "kind": subject.kind.value,
            "subject": subject.name,
            "reason": reason,
            "verdicts": payload["verdicts"],
            "providers": payload["providers"],
            "held": held,
        },
    )
    if outbox is not None:
        outbox(conn, "incident", payload)
    stream_incident(conn, payload, now_ms)
    return incident


def stream_incident(conn: Connection, payload: dict[str, Any], now_ms: int) -> None:
    """`GET /v1/stream`'s `incident` event: the incident opened, was released or dismissed."""
    keys = ("state", "kind", "subject", "reason", "verdicts", "providers", "held_actions")
    stream_append(conn, "incident", {"incident": payload["id"], **{k: payload[k] for k in keys}}, now_ms)


def add_verdicts(conn: Connection, incident: int, verdict_ids: list[str], now_ms: int) -> None:
    iv = t.incident_verdicts
    present = set(
        conn.execute(
            select(iv.c.verdict_id).where(iv.c.incident_id == incident, iv.c.verdict_id.in_(verdict_ids))
        ).scalars()
    )
    rows = [
        {"incident_id": incident, "verdict_id": vid, "added_ms": now_ms}
        for vid in dict.fromkeys(verdict_ids)
        if vid not in present
    ]
    if rows:
        conn.execute(iv.insert(), rows)
        conn.execute(update(t.incidents).where(t.incidents.c.id == incident).values(updated_ms=now_ms))


def incident_verdicts_query(incident: int) -> Select[tuple[str]]:
    """The verdict ids of `incident`."""
    iv = t.incident_verdicts.c
    return select(iv.verdict_id).where(iv.incident_id == incident)


def incident_verdict_ids(incident: int) -> Any:
    """The verdict ids of `incident`, as a subquery (`column.in_(...)`)."""
    return incident_verdicts_query(incident).scalar_subquery()


def hold(conn: Connection, incident: int, label: str, verdict_ids: list[str] | None) -> int:
    """`pending` slashes and tombstone proposals of `verdict_ids` (None: every verdict of the
    incident) become `held`; returns how many."""
    a = t.actions.c
    which = (
        a.verdict_id.in_(verdict_ids)
        if verdict_ids is not None
        else a.verdict_id.in_(incident_verdict_ids(incident))
    )
    return int(
        conn.execute(
            update(t.actions)
            .where(which, a.kind.in_(HELD_KINDS), a.state == ActionState.PENDING.value)
            .values(state=ActionState.HELD.value, note=f"held by incident {incident} ({label})")
        ).rowcount
    )


# ------------------------------------------------------------------------------------ payload


def incident_payload(conn: Connection, incident: int) -> dict[str, Any]:
    """The `incident` webhook's data: the incident with its counts (the document is at `url`)."""
    i, v, a = t.incidents.c, t.verdicts.c, t.actions.c
    row = conn.execute(select(t.incidents).where(i.id == incident)).one()
    ids = incident_verdict_ids(incident)
    verdicts, providers = conn.execute(
        select(func.count(), func.count(v.provider.distinct())).where(v.id.in_(ids))
    ).one()
    held = conn.execute(
        select(func.count()).where(and_(a.verdict_id.in_(ids), a.state == ActionState.HELD.value))
    ).scalar_one()
    return {
        "id": row.id,
        "kind": row.kind,
        "subject": row.subject,
        "state": row.state,
        "reason": row.reason,
        "verdicts": int(verdicts),
        "providers": int(providers),
        "held_actions": int(held),
        "opened_at": iso_ms(row.opened_ms),
        "closed_at": iso_ms(row.closed_ms),
        "closed_by": row.closed_by,
        "note": row.note,
        "url": f"/v1/incidents/{row.id}",
    }
