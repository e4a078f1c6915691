"""The executor within the chain's bounds (SPEC section 8), on the devnet, on SQLite and on
PostgreSQL: a verdict's jail and slash in one jailAndProposeSlash; the jail alone at once when
the slash part would revert; held actions never sent; the slash clamped to the severity's bound;
a slash above quorumBps waiting for a second detector, then proposeSlashQuorum, or falling back
after the policy's timeout; a full jail cap keeping the jail pending, announced once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from staking.db import schema as t
from staking.domain.vocabulary import Severity
from staking.policy import load_policy
from staking.verdict import Verdict
from tests.support.cosigning import SECOND_DETECTOR_INDEX
from tests.support.executing import drive
from tests.support.intake import Api, wire

pytestmark = pytest.mark.integration


def accepted(api: Api, provider_index: int = 0, **kw: Any) -> tuple[Verdict, str]:
    v, _, r = api.submit(provider_index, **kw)
    assert r.status_code == 202, r.text
    return v, r.json()["id"]


def test_a_verdicts_jail_and_slash_go_in_one_transaction(api: Api) -> None:
    _, vid = accepted(api)
    d = drive(api.engine, api.chain)
    d.steps()
    acts = d.actions(vid)
    assert acts["jail"]["idempotency_key"] == f"jail_and_propose_slash:{vid}"
    assert acts["jail"]["intent_id"] == acts["propose_slash"]["intent_id"]
    assert acts["jail"]["state"] == acts["propose_slash"]["state"] == "confirmed"
    assert not [k for k in d.intent_keys() if k.startswith(("jail:", "propose_slash:"))]
    s = api.chain.staking
    assert s.is_jailed(api.chain.providers[0])
    assert s.slash(bytes.fromhex(vid[2:])).bps == 2_000


def test_the_jail_goes_alone_at_once_when_the_slash_part_would_exceed_the_slash_cap(api: Api) -> None:
    api.chain.bound(slash_cap_bps=1)
    _, vid = accepted(api)
    d = drive(api.engine, api.chain)
    d.executor.step()
    acts = d.actions(vid)
    assert acts["jail"]["idempotency_key"] == f"jail:{vid}" and acts["jail"]["state"] != "pending"
    assert acts["propose_slash"]["state"] == "pending"
    assert acts["propose_slash"]["note"].startswith("waiting for the slash cap")
    d.steps()
    assert api.chain.staking.is_jailed(api.chain.providers[0])
    assert d.actions(vid)["propose_slash"]["state"] == "pending"
    assert len(d.kinds_sent("cap")) == 1 and d.kinds_sent("cap")[0]["error"] == "SlashCapExceeded"


def test_a_held_action_is_never_sent_and_keeps_its_verdict_executing(api: Api) -> None:
    _, vid = accepted(api)
    with api.engine.begin() as conn:
        conn.execute(update(t.actions).where(t.actions.c.verdict_id == vid).values(state="held"))
    d = drive(api.engine, api.chain)
    d.steps()
    assert d.intent_keys() == []
    assert {a["state"] for a in d.actions(vid).values()} == {"held"}
    assert not api.chain.staking.is_jailed(api.chain.providers[0])
    with api.engine.begin() as conn:  # one held action among sent ones keeps the verdict executing
        conn.execute(
            update(t.actions)
            .where(t.actions.c.verdict_id == vid, t.actions.c.kind != "propose_slash")
            .values(state="pending")
        )
    d.steps()
    assert d.actions(vid)["propose_slash"]["state"] == "held"
    assert d.actions(vid)["jail"]["state"] == "confirmed"
    assert d.verdict_status(vid) == "executing"


def test_the_slash_is_clamped_to_the_chains_bound_for_the_verdicts_severity(api: Api) -> None:
    api.chain.bound(severity_bounds=(100, 200, 300, 400))
    _, vid = accepted(api, severity=Severity.CRITICAL)
    d = drive(api.engine, api.chain)
    d.steps()
    slash = d.actions(vid)["propose_slash"]
    assert slash["state"] == "confirmed", slash
    assert slash["note"] == "clamped from 2000 to 400 bps, the chain's bound for a critical verdict"
    assert api.chain.staking.slash(bytes.fromhex(vid[2:])).bps == 400


def test_a_slash_above_the_quorum_bps_waits_for_a_second_detector_then_goes_with_both(api: Api) -> None:
    api.chain.bound(quorum=2, quorum_bps=1_000)
    second = api.chain.grant_detector(SECOND_DETECTOR_INDEX)
    v, vid = accepted(api)
    d = drive(api.engine, api.chain)
    d.steps()
    acts = d.actions(vid)
    assert acts["jail"]["state"] == "confirmed" and acts["jail"]["idempotency_key"] == f"jail:{vid}"
    assert acts["propose_slash"]["state"] == "pending" and acts["propose_slash"]["intent_id"] is None
    assert acts["propose_slash"]["note"].startswith("waiting for the quorum: 1 of 2")
    r = api.client.post("/v1/verdicts", json=wire(v, api.chain.sign(v, key=second)))
    assert r.status_code == 200, r.text
    api.chain.advance(2)
    d.steps()
    slash = d.actions(vid)["propose_slash"]
    assert slash["state"] == "confirmed" and slash["idempotency_key"] == f"propose_slash:{vid}", slash
    assert slash["note"] == "2 detectors signed (quorum 2)"
    assert api.chain.staking.slash(bytes.fromhex(vid[2:])).bps == 2_000


def test_without_the_quorum_the_slash_falls_back_after_the_timeout(api: Api) -> None:
    api.chain.bound(quorum=2, quorum_bps=1_000)
    policy = load_policy()
    policy = policy.model_copy(update={"quorum": policy.quorum.model_copy(update={"timeout_seconds": 30})})
    _, vid = accepted(api)
    d = drive(api.engine, api.chain, policy=policy)
    d.steps()
    assert d.actions(vid)["propose_slash"]["state"] == "pending"
    api.chain.advance(31)
    d.steps()
    slash = d.actions(vid)["propose_slash"]
    assert slash["state"] == "confirmed", slash
    assert slash["note"] == "quorum not met in 30 s: proposed 1000 bps, the most one signature may carry"
    assert api.chain.staking.slash(bytes.fromhex(vid[2:])).bps == 1_000


def test_a_full_jail_cap_keeps_the_jail_pending_and_is_announced_once(api: Api) -> None:
    api.chain.bound(jail_cap=1)
    _, first = accepted(api, 0)
    d = drive(api.engine, api.chain)
    d.steps()
    assert d.actions(first)["jail"]["state"] == "confirmed"
    _, second = accepted(api, 1)
    d.steps(4)
    jail = d.actions(second)["jail"]
    assert jail["state"] == "pending" and jail["intent_id"] is None
    assert jail["note"].startswith("waiting for the jail cap"), jail
    caps = d.kinds_sent("cap")
    assert len(caps) == 1 and caps[0]["verdict_id"] == second and caps[0]["error"] == "JailCapExceeded"
    assert not api.chain.staking.is_jailed(api.chain.providers[1])


def test_jails_of_an_open_detector_incident_stop_the_reserve_short_of_the_jail_cap(api: Api) -> None:
    api.chain.bound(jail_cap=3)
    policy = load_policy()
    policy = policy.model_copy(update={"incidents": policy.incidents.model_copy(update={"reserve_jails": 2})})
    suspect = [accepted(api, i)[1] for i in (0, 1)]
    _, honest = accepted(api, 2)
    with api.engine.begin() as conn:
        now = api.chain.now() * 1000
        incident = conn.execute(
            t.incidents.insert().values(
                kind="detector",
                subject=api.chain.detector,
                state="open",
                reason="test",
                opened_ms=now,
                updated_ms=now,
            )
        ).inserted_primary_key[0]
        for vid in suspect:
            conn.execute(
                t.incident_verdicts.insert().values(incident_id=incident, verdict_id=vid, added_ms=now)
            )
    d = drive(api.engine, api.chain, policy=policy)
    d.steps()
    states = [d.actions(vid)["jail"]["state"] for vid in suspect]
    assert sorted(states) == ["confirmed", "held"], states
    held = next(d.actions(vid)["jail"] for vid in suspect if d.actions(vid)["jail"]["state"] == "held")
    assert held["note"].startswith(f"held: incident {incident} is near the jail cap"), held
    assert d.actions(honest)["jail"]["state"] == "confirmed"
    assert api.chain.staking.cap_usage().jails == 2
