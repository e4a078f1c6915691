"""Incidents at intake (SPEC section 8), on SQLite and PostgreSQL over the indexed devnet:
verdicts against many providers from one detector or of one event type within the window open one
incident, whose verdicts' slashes are held while isolation goes on; later matching verdicts join
it; the webhook, `GET /v1/incidents`, `/readyz` and the metrics show it; release and dismissal
change exactly the actions they name."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from httpx import Response
from sqlalchemy import Engine, select

from staking.db import schema as t
from staking.domain.vocabulary import EventType, Severity
from staking.intake.incident_resolution import (
    IncidentError,
    dismiss_incident,
    dismiss_plan,
    release_incident,
    release_plan,
)
from staking.intake.incidents import suspect_detectors
from staking.intake.results import Accepted
from staking.policy.engine import IncidentThreshold
from staking.verdict import to_wire
from tests.support.incidents import (
    RecordingOutbox,
    action_states,
    incident_policy,
    incident_rows,
    members,
    new_provider,
    providers_over,
)
from tests.support.intake import Api, wire

pytestmark = pytest.mark.integration


def post(api: Api, provider: str, **kw: Any) -> tuple[str, Response]:
    v, sig = api.chain.signed(provider, **kw)
    return "0x" + v.id.hex(), api.client.post("/v1/verdicts", json=wire(v, sig))


def burst(api: Api, n: int, **kw: Any) -> list[str]:
    ids = []
    for _ in range(n):
        vid, r = post(api, new_provider(), **kw)
        assert r.status_code == 202, r.text
        ids.append(vid)
    return ids


@pytest.fixture
def outbox(api: Api) -> RecordingOutbox:
    recorder = RecordingOutbox()
    api.intake.outbox = recorder
    return recorder


# ------------------------------------------------------------------------------------ detection


def test_a_detector_over_the_provider_threshold_opens_one_incident_that_holds_every_slash_of_the_window(
    api: Api, outbox: RecordingOutbox
) -> None:
    api.intake.policy = incident_policy(per_detector=providers_over(3))
    first = burst(api, 3)  # 3 providers: not more than 3
    assert incident_rows(api.engine) == []
    assert all(action_states(api.engine, v)["propose_slash"] == "pending" for v in first)

    fourth, r = post(api, new_provider())
    assert r.status_code == 202
    # The answer already shows the slash held and the isolation going on.
    states = {a["kind"]: a["state"] for a in r.json()["actions"]}
    assert states == {
        "jail": "pending",
        "propose_slash": "held",
        "begin_recovery": "pending",
        "propose_tombstone": "held",  # critical security breach: severe, tombstone proposed
    }
    (incident,) = incident_rows(api.engine)
    assert (incident.kind, incident.subject, incident.state) == ("detector", api.chain.detector, "open")
    with api.engine.connect() as conn:
        assert suspect_detectors(conn) == {api.chain.detector}
    assert incident.reason == (
        f"detector {api.chain.detector}: verdicts against 4 providers (more than 3) within 10 minutes"
    )
    assert members(api.engine, incident.id) == {*first, fourth}
    for vid in (*first, fourth):
        s = action_states(api.engine, vid)
        assert (s["jail"], s["propose_slash"], s["propose_tombstone"]) == ("pending", "held", "held"), s

    # Later verdicts of the detector join the open incident; no second incident, no second webhook.
    (fifth,) = burst(api, 1)
    assert len(incident_rows(api.engine)) == 1
    assert fifth in members(api.engine, incident.id)
    assert action_states(api.engine, fifth)["propose_slash"] == "held"
    (event,) = outbox.of("incident")
    assert event["id"] == incident.id and event["state"] == "open" and event["kind"] == "detector"
    assert (event["verdicts"], event["providers"], event["held_actions"]) == (4, 4, 8)
    assert event["reason"] == incident.reason and event["url"] == f"/v1/incidents/{incident.id}"


def test_the_stake_rule_opens_an_incident_once_enough_providers_are_hit(
    api: Api, outbox: RecordingOutbox
) -> None:
    """The devnet's providers hold real stake: two of them hold more than 0.01 % of it."""
    rule = IncidentThreshold(max_providers=6, max_stake_bps=1, min_providers_for_stake=2)
    api.intake.policy = incident_policy(per_detector=rule)
    p0, p1 = api.chain.providers[:2]
    post(api, p0)
    post(api, p0)  # the same provider again: still one provider hit
    assert incident_rows(api.engine) == []
    post(api, p1)
    (incident,) = incident_rows(api.engine)
    assert "against 2 providers holding" in incident.reason and "(more than 0.01 %)" in incident.reason
    assert len(members(api.engine, incident.id)) == 3


def test_verdicts_of_one_event_type_from_any_detector_open_an_event_type_incident(api: Api) -> None:
    api.intake.policy = incident_policy(per_event_type=providers_over(2))
    burst(api, 2, event_type=EventType.SYSTEM_ATTACK)
    burst(api, 3, event_type=EventType.SECURITY_BREACH)  # another type: its own count, 3 > 2
    attacks = burst(api, 1, event_type=EventType.SYSTEM_ATTACK)
    by_subject = {r.subject: r for r in incident_rows(api.engine)}
    assert set(by_subject) == {"security_breach", "system_attack"}
    assert {r.kind for r in by_subject.values()} == {"event_type"}
    with api.engine.connect() as conn:
        types = set(
            conn.execute(
                select(t.verdicts.c.event_type)
                .join(t.incident_verdicts, t.incident_verdicts.c.verdict_id == t.verdicts.c.id)
                .where(t.incident_verdicts.c.incident_id == by_subject["system_attack"].id)
            ).scalars()
        )
    assert types == {int(EventType.SYSTEM_ATTACK)}
    assert attacks[0] in members(api.engine, by_subject["system_attack"].id)


def test_only_verdicts_received_within_the_window_count(api: Api) -> None:
    api.intake.policy = incident_policy(per_detector=providers_over(3), window_minutes=10)
    start = api.chain.now()
    now = [float(start)]
    api.intake.clock = lambda: now[0]
    burst(api, 3, detected_at=start)
    now[0] = start + 601.0  # ten minutes and a second later: those three are out of the window
    burst(api, 3, detected_at=start)
    assert incident_rows(api.engine) == []
    burst(api, 1, detected_at=start)
    (incident,) = incident_rows(api.engine)
    assert len(members(api.engine, incident.id)) == 4  # the window's verdicts only


def test_warnings_and_investigations_neither_count_nor_join(api: Api) -> None:
    api.intake.policy = incident_policy(per_detector=providers_over(2))
    burst(api, 3, event_type=EventType.PERFORMANCE_VIOLATION, severity=Severity.LOW)  # first offence: warning
    burst(api, 3, event_type=EventType.SUSPICIOUS_ACTIVITY)  # an investigation, no penalty
    assert incident_rows(api.engine) == []
    burst(api, 3)
    (incident,) = incident_rows(api.engine)
    burst(api, 1, event_type=EventType.SUSPICIOUS_ACTIVITY)
    assert len(members(api.engine, incident.id)) == 3


def test_incidents_disabled_in_the_policy_never_open(api: Api) -> None:
    api.intake.policy = incident_policy(per_detector=providers_over(1), enabled=False)
    ids = burst(api, 4)
    assert incident_rows(api.engine) == []
    assert all(action_states(api.engine, v)["propose_slash"] == "pending" for v in ids)


def test_concurrent_verdicts_open_exactly_one_incident_that_all_of_them_join(api: Api) -> None:
    api.intake.policy = incident_policy(per_detector=providers_over(3))
    bodies = []
    for _ in range(12):
        v, sig = api.chain.signed(new_provider())
        bodies.append(to_wire(v, sig))
    outcomes: list[Any] = []
    gate = threading.Barrier(6)

    def submit(chunk: list[dict[str, Any]]) -> None:
        gate.wait()
        outcomes.extend(api.intake.submit(b) for b in chunk)

    threads = [threading.Thread(target=submit, args=(bodies[i::6],)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(outcomes) == 12 and all(isinstance(o, Accepted) for o in outcomes)
    (incident,) = incident_rows(api.engine)
    assert len(members(api.engine, incident.id)) == 12
    with api.engine.connect() as conn:
        slashes = conn.execute(select(t.actions.c.state).where(t.actions.c.kind == "propose_slash")).scalars()
        assert set(slashes) == {"held"}


# ------------------------------------------------------------------------------------ read side


def test_the_incident_is_listed_documented_and_reported_by_readyz_and_metrics(api: Api) -> None:
    api.intake.policy = incident_policy(per_detector=providers_over(2))
    assert api.client.get("/readyz").status_code == 200
    ids = burst(api, 3)
    (row,) = incident_rows(api.engine)

    listing = api.client.get("/v1/incidents", params={"state": "open"}).json()
    assert [i["id"] for i in listing["items"]] == [row.id] and listing["next_cursor"] is None
    assert listing["items"][0]["held_actions"] == 6
    assert api.client.get("/v1/incidents", params={"state": "released"}).json()["items"] == []
    doc = api.client.get(f"/v1/incidents/{row.id}").json()
    assert (doc["kind"], doc["subject"], doc["state"]) == ("detector", api.chain.detector, "open")
    assert {v["id"] for v in doc["verdicts"]} == set(ids)
    assert {v["signer"] for v in doc["verdicts"]} == {api.chain.detector}
    assert len(doc["providers"]) == 3 and doc["closed_at"] is None and doc["opened_at"].endswith("Z")
    assert {(a["kind"], a["state"]) for a in doc["held_actions"]} == {
        ("propose_slash", "held"),
        ("propose_tombstone", "held"),
    }
    assert doc["stake_at_risk"] == "0"  # providers without stake

    ready = api.client.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["checks"]["incidents"] == {"status": "degraded", "open": 1, "incidents": [row.id]}
    assert (
        f"#{row.id} detector {api.chain.detector} (3 verdicts, 3 providers, 6 held actions)" in body["detail"]
    )

    metrics = api.client.get("/metrics").text
    assert "swarm_incidents_open 1.0" in metrics
    assert 'swarm_actions_held{kind="propose_slash"} 3.0' in metrics
    assert 'swarm_cap{name="jail_cap"} 1e+06' in metrics  # the devnet's, as indexed
    assert "swarm_verdict_cosignatures 0.0" in metrics


def test_unknown_and_malformed_incident_ids_and_states_are_problems(api: Api) -> None:
    missing = api.client.get("/v1/incidents/99")
    assert missing.status_code == 404 and missing.json()["detail"] == "no incident 99"
    for bad in ("abc", "0", "-1", "1.5"):
        r = api.client.get(f"/v1/incidents/{bad}")
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", bad
    for params in ({"state": "closed"}, {"limit": "0"}, {"cursor": "not-ours"}):
        assert api.client.get("/v1/incidents", params=params).status_code == 422, params


# ------------------------------------------------------------------------------------ closing


def streamed_incidents(engine: Engine) -> list[tuple[int, str]]:
    """The `incident` events of the live stream, in order: (incident id, state)."""
    s = t.stream_events.c
    with engine.connect() as conn:
        rows = conn.execute(select(s.data).where(s.kind == "incident").order_by(s.id)).scalars()
        return [(d["incident"], d["state"]) for d in map(json.loads, rows)]


def test_release_sends_the_held_slashes_back_to_the_executor_except_those_another_incident_holds(
    api: Api, outbox: RecordingOutbox
) -> None:
    api.intake.policy = incident_policy(per_detector=providers_over(2), per_event_type=providers_over(3))
    breaches = burst(api, 3)  # the detector's incident
    attacks = burst(api, 1, event_type=EventType.SYSTEM_ATTACK)
    more = burst(api, 1)  # 4 security breaches: the event type's incident too
    detector, event_type = incident_rows(api.engine)
    assert event_type.subject == "security_breach" and members(api.engine, event_type.id) == {
        *breaches,
        *more,
    }

    assert release_plan(api.engine, detector.id).kept == 8  # 4 breaches x (slash + tombstone)
    plan = release_incident(api.engine, detector.id, "alice", 1_750_000_000_000, outbox, "a real outbreak")
    assert (plan.release, plan.kept) == (2, 8)
    assert action_states(api.engine, attacks[0])["propose_slash"] == "pending"
    for vid in (*breaches, *more):
        assert action_states(api.engine, vid)["propose_slash"] == "held"
    with api.engine.connect() as conn:
        note = conn.execute(
            select(t.actions.c.note).where(
                t.actions.c.verdict_id == attacks[0], t.actions.c.kind == "propose_slash"
            )
        ).scalar_one()
    assert note == f"released from incident {detector.id}"
    released = incident_rows(api.engine)[0]
    assert (released.state, released.closed_by, released.note) == ("released", "alice", "a real outbreak")
    assert outbox.of("incident")[-1]["state"] == "released"
    assert streamed_incidents(api.engine)[-1] == (detector.id, "released")  # GET /v1/stream's event
    with api.engine.connect() as conn:
        assert suspect_detectors(conn) == set()  # the event type's incident is no detector's
    with pytest.raises(IncidentError, match="is released, not open"):
        release_incident(api.engine, detector.id, "bob", 1_750_000_000_001)

    # The released verdicts were judged: a new one of the detector does not reopen at once.
    burst(api, 1, event_type=EventType.SYSTEM_ATTACK)
    assert [r.state for r in incident_rows(api.engine) if r.kind == "detector"] == ["released"]


def test_dismissal_cancels_every_open_action_of_its_verdicts_and_rejects_them(
    api: Api, outbox: RecordingOutbox
) -> None:
    api.intake.policy = incident_policy(per_detector=providers_over(2))
    ids = burst(api, 3)
    (incident,) = incident_rows(api.engine)
    plan = dismiss_plan(api.engine, incident.id, api.chain.now())
    assert (plan.skip, plan.held, plan.undo.vetoes, plan.undo.lifts) == (
        12,
        6,
        (),
        (),
    )  # nothing on chain yet

    dismiss_incident(api.engine, incident.id, "bad model push", "alice", 1_750_000_000_000, outbox)
    for vid in ids:
        assert set(action_states(api.engine, vid).values()) == {"skipped"}
        doc = api.client.get(f"/v1/verdicts/{vid}").json()
        assert doc["status"] == "rejected"
        assert doc["actions"][0]["note"] == f"dismissed with incident {incident.id}: bad model push"
    dismissed = incident_rows(api.engine)[0]
    assert (dismissed.state, dismissed.closed_by, dismissed.note) == ("dismissed", "alice", "bad model push")
    event = outbox.of("incident")[-1]
    assert (event["state"], event["held_actions"], event["note"]) == ("dismissed", 0, "bad model push")
    assert streamed_incidents(api.engine) == [(incident.id, "open"), (incident.id, "dismissed")]
    assert api.client.get("/readyz").status_code == 200
    with pytest.raises(IncidentError, match="is dismissed, not open"):
        dismiss_incident(api.engine, incident.id, "again", "alice", 1_750_000_000_001)
    with pytest.raises(IncidentError, match="no incident 42"):
        dismiss_plan(api.engine, 42, 0)


def test_the_incident_webhook_is_in_the_outbox_with_the_verdicts_that_opened_it(api: Api) -> None:
    """With the real outbox (`WebhookNotifier.record`), committed with the verdict that opened it."""
    import json

    from staking.notify.webhooks import WebhookNotifier

    api.intake.outbox = WebhookNotifier(api.engine, ["http://127.0.0.1:9/hook"], b"secret").record
    api.intake.policy = incident_policy(per_event_type=providers_over(1))
    burst(api, 2, event_type=EventType.SYSTEM_ATTACK)
    with api.engine.connect() as conn:
        rows = conn.execute(select(t.webhook_outbox)).all()
    (row,) = rows
    assert (row.kind, row.state, row.url) == ("incident", "pending", "http://127.0.0.1:9/hook")
    body = json.loads(row.body)
    assert body["type"] == "incident"
    data = body["data"]
    assert (data["kind"], data["subject"], data["state"]) == ("event_type", "system_attack", "open")
    assert (data["verdicts"], data["providers"], data["held_actions"]) == (2, 2, 4)


def test_the_provider_document_lists_the_actions_an_open_incident_holds(api: Api) -> None:
    api.intake.policy = incident_policy(per_detector=providers_over(2))
    burst(api, 2)
    provider = new_provider()
    vid, r = post(api, provider)
    assert r.status_code == 202
    (incident,) = incident_rows(api.engine)
    doc = api.client.get(f"/v1/providers/{provider}").json()
    note = f"held by incident {incident.id} (detector {api.chain.detector})"
    assert doc["held"] == [
        {"kind": "propose_slash", "verdict_id": vid, "incident_id": incident.id, "note": note},
        {"kind": "propose_tombstone", "verdict_id": vid, "incident_id": incident.id, "note": note},
    ]
