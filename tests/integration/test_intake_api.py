"""Verdict intake over HTTP (SPEC sections 3 and 4), against a real Anvil and each database: what
involves the chain or the database's concurrency. Concurrent duplicates are stored once and
concurrent verdicts all count towards escalation; a detector the index has not seen is looked up
on chain, and an unreachable chain is a retryable 503; a submission racing past the existence
check is a replay; the production wiring (`app_from_settings`) and the clock that follows the
indexed chain. And, on each database, what the SQL decides: replays and conflicts by content hash,
the escalation history, cursor paging and the case-insensitive id lookup.

The rest of the intake's HTTP behaviour (bodies, fields, signatures, decisions, reads, documents)
needs neither: tests/unit/test_verdict_intake_http.py, in-process.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from staking.api.app import app_from_settings, create_app
from staking.config import Settings
from staking.db import schema as t
from staking.db.engine import make_engine
from staking.devnet.accounts import devnet_account
from staking.domain.vocabulary import EventType, Severity
from staking.intake.results import Accepted, Outcome, Replay
from staking.intake.service import IntakeService
from staking.verdict import Verdict
from tests.support.intake import (
    NEW_DETECTOR_INDEX,
    PROBLEM_JSON,
    Api,
    kinds,
    wire,
)

pytestmark = pytest.mark.integration


# ------------------------------------------------------------------------- concurrent duplicates


def test_concurrent_duplicate_submissions_store_one_verdict(api: Api) -> None:
    now = api.chain.now()
    intake = IntakeService(
        api.engine,
        api.intake.domain,
        None,
        api.intake.policy,
        api.intake.max_age,
        clock=lambda: float(now),
    )
    v, sig = api.chain.signed(api.chain.providers[0], event_type=EventType.SYSTEM_ATTACK)
    body = wire(v, sig)
    results: list[Outcome] = []
    gate = threading.Barrier(10)

    def send() -> None:
        gate.wait()
        results.append(intake.submit(dict(body)))

    threads = [threading.Thread(target=send) for _ in range(10)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert [type(r) for r in results].count(Accepted) == 1
    assert [type(r) for r in results].count(Replay) == 9
    resources = [r.resource for r in results if isinstance(r, Accepted | Replay)]
    assert all(doc == resources[0] for doc in resources)
    counts = api.counts()
    assert counts["verdicts"] == 1 and counts["actions"] == len(resources[0]["actions"])


# -------------------------------------------------------------------- the detector role on chain


def test_a_detector_granted_after_indexing_is_accepted_through_the_chain(api: Api) -> None:
    fresh = devnet_account(NEW_DETECTOR_INDEX)
    api.chain.tx(api.chain.staking.grant_role("DETECTOR_ROLE", fresh.address), api.chain.governance)
    with api.engine.connect() as conn:
        assert conn.execute(select(t.roles).where(t.roles.c.account == fresh.address)).first() is None
    v = api.chain.verdict(api.chain.providers[1], event_type=EventType.OPERATIONAL_FAILURE)
    r = api.client.post("/v1/verdicts", json=wire(v, api.chain.sign(v, key=fresh.key)))
    assert r.status_code == 202, r.text
    assert r.json()["signer"] == fresh.address
    assert api.on_chain_checks == [fresh.address]


def test_the_indexed_detector_needs_no_chain_call(api: Api) -> None:
    _, _, r = api.submit()
    assert r.status_code == 202 and api.on_chain_checks == []


def test_a_revoked_detector_unknown_to_the_index_is_unauthorized(api: Api) -> None:
    fresh = devnet_account(NEW_DETECTOR_INDEX)
    v = api.chain.verdict(api.chain.providers[0])
    api.rejects_body(401, wire(v, api.chain.sign(v, key=fresh.key)))
    assert api.on_chain_checks == [fresh.address]


def test_an_unreachable_chain_is_a_retryable_503_not_a_rejection(api: Api) -> None:
    def broken(account: str) -> bool:
        raise ConnectionError("node down")

    intake = IntakeService(
        api.engine, api.intake.domain, broken, api.intake.policy, api.intake.max_age, api.intake.clock
    )
    fresh = devnet_account(NEW_DETECTOR_INDEX)
    v = api.chain.verdict(api.chain.providers[0])
    with TestClient(create_app(api.engine, intake)) as client:
        api.client = client
        before = api.counts()
        r = client.post("/v1/verdicts", json=wire(v, api.chain.sign(v, key=fresh.key)))
        assert r.status_code == 503 and r.headers["content-type"] == PROBLEM_JSON
        assert r.headers["retry-after"].isdigit() and api.counts() == before
        # The indexed detector still gets through: the chain is only asked about unknown signers.
        v2, sig2 = api.chain.signed(api.chain.providers[0])
        assert client.post("/v1/verdicts", json=wire(v2, sig2)).status_code == 202


# ------------------------------------------------------------------------- concurrency and races


def test_concurrent_verdicts_about_one_provider_all_count_towards_escalation(api: Api) -> None:
    now = api.chain.now()
    intake = IntakeService(
        api.engine, api.intake.domain, None, api.intake.policy, api.intake.max_age, clock=lambda: float(now)
    )
    bodies = []
    for _ in range(3):
        v, sig = api.chain.signed(
            api.chain.providers[0], event_type=EventType.PERFORMANCE_VIOLATION, detected_at=now
        )
        bodies.append(wire(v, sig))
    results: list[Outcome] = []
    gate = threading.Barrier(len(bodies))

    def send(body: dict[str, Any]) -> None:
        gate.wait()
        results.append(intake.submit(body))

    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert [type(r) for r in results] == [Accepted] * 3
    docs = [r.resource for r in results if isinstance(r, Accepted)]
    decisions = sorted((doc["decision"]["offence_number"], doc["decision"]["level"]) for doc in docs)
    assert decisions == [(1, "warning"), (2, "penalty"), (3, "severe")]


def test_a_submission_racing_past_the_existence_check_is_answered_as_a_replay(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, body, first = api.submit()
    assert first.status_code == 202
    real = IntakeService._existing
    blind: list[int] = []  # while non-empty, the look inside the transaction misses the stored row

    def racing(conn: Any, vid: str) -> str | None:
        return None if blind and blind.pop() else real(conn, vid)

    monkeypatch.setattr(IntakeService, "_existing", staticmethod(racing))
    before = api.counts()
    blind.append(1)
    again = api.client.post("/v1/verdicts", json=body)
    assert again.status_code == 200 and again.json() == first.json()
    blind.append(1)
    conflict = api.client.post("/v1/verdicts", json=dict(body, evidence_uri="ipfs://other"))
    assert conflict.status_code == 409 and conflict.headers["content-type"] == PROBLEM_JSON
    assert api.counts() == before and not blind


# ----------------------------------------------------------- the production wiring and its clock


def test_the_app_from_settings_accepts_a_detectors_verdict(api: Api, db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "deployment.json"
    api.chain.deployment.save(path)
    app = app_from_settings(Settings(deployment=path, database_url=db_url, _env_file=None))  # type: ignore[call-arg]
    with TestClient(app) as client:
        v, sig = api.chain.signed(api.chain.providers[2], event_type=EventType.POLICY_VIOLATION)
        r = client.post("/v1/verdicts", json=wire(v, sig))
        assert r.status_code == 202, r.text
        assert client.get(f"/v1/verdicts/0x{v.id.hex()}").json() == r.json()
        stranger = devnet_account(NEW_DETECTOR_INDEX)
        r = client.post("/v1/verdicts", json=wire(v, api.chain.sign(v, key=stranger.key)))
        assert r.status_code == 401


def test_the_app_refuses_a_database_indexed_from_another_contract(
    api: Api, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "deployment.json"
    other = api.chain.deployment.model_copy(deep=True)
    other.contracts.SwarmStaking = api.chain.deployment.contracts.SwarmToken
    other.save(path)
    with pytest.raises(RuntimeError, match="SwarmStaking"):
        app_from_settings(Settings(deployment=path, database_url=db_url, _env_file=None))  # type: ignore[call-arg]


def test_the_intake_clock_follows_an_indexed_chain_that_runs_ahead_of_the_wall_clock(db_url: str) -> None:
    # A devnet whose clock was moved forward stamps verdicts with its block time; the contract
    # judges them by block time too, so the intake must not call them "in the future".
    from indexer.store import Store
    from staking.api.app import chain_aware_clock

    engine = make_engine(db_url)
    clock = chain_aware_clock(engine, refresh_s=0)
    assert abs(clock() - time.time()) < 5  # nothing indexed: the wall clock
    ahead = int(time.time()) + 3_600
    with engine.begin() as conn:
        Store(engine).write_meta(conn, {"checkpoint_time": str(ahead)})
    assert clock() >= ahead
    with engine.begin() as conn:
        Store(engine).write_meta(conn, {"checkpoint_time": str(ahead - 7_200)})
    assert abs(clock() - time.time()) < 5  # a chain behind the wall clock: the wall clock
    engine.dispose()


# ---- the same answers on each database: replays, conflicts, history and paging in SQL


def test_the_same_verdict_ten_times_is_stored_once_and_answered_identically(api: Api) -> None:
    v, body, first = api.submit(event_type=EventType.SECURITY_BREACH, severity=Severity.HIGH)
    assert first.status_code == 202
    after_first = api.counts()
    for _ in range(9):
        again = api.client.post("/v1/verdicts", json=body)
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
        assert again.headers["content-location"] == f"/v1/verdicts/0x{v.id.hex()}"
    assert api.counts() == after_first == {"verdicts": 1, "actions": 3, "investigations": 0}


def test_a_used_id_with_different_content_is_a_conflict(api: Api) -> None:
    v, body, first = api.submit(event_type=EventType.POLICY_VIOLATION, severity=Severity.LOW)
    assert first.status_code == 202
    changed = Verdict(
        v.id, v.provider, EventType.SECURITY_BREACH, Severity.CRITICAL, v.detected_at, v.evidence_hash
    )
    doc = api.rejects_body(409, wire(changed, api.chain.sign(changed)))
    assert doc["type"] == "/problems/verdict-conflict" and doc["verdict"] == f"/v1/verdicts/0x{v.id.hex()}"
    # Only the unsigned evidence URI differs: still another content under the same id.
    api.rejects_body(409, dict(body, evidence_uri="ipfs://another"))
    assert api.client.get(f"/v1/verdicts/0x{v.id.hex()}").json() == first.json()


def test_investigations_page_newest_first_with_a_cursor(api: Api) -> None:
    ids = [api.submit(i, event_type=EventType.SUSPICIOUS_ACTIVITY)[2].json()["id"] for i in range(3)]
    first = api.client.get("/v1/investigations", params={"limit": 2}).json()
    assert [i["verdict_id"] for i in first["items"]] == ids[::-1][:2] and first["next_cursor"]
    second = api.client.get("/v1/investigations", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [i["verdict_id"] for i in second["items"]] == ids[:1] and second["next_cursor"] is None
    for params in ({"cursor": "bogus"}, {"limit": 0}, {"limit": 1000}, {"status": "closed"}):
        bad = api.client.get("/v1/investigations", params=params)
        assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM_JSON
        assert bad.json()["errors"][0]["field"] == next(iter(params))


def test_a_second_performance_violation_escalates_to_a_penalty(api: Api) -> None:
    _, _, first = api.submit(event_type=EventType.PERFORMANCE_VIOLATION, severity=Severity.MEDIUM)
    _, _, second = api.submit(event_type=EventType.PERFORMANCE_VIOLATION, severity=Severity.MEDIUM)
    assert first.json()["decision"]["level"] == "warning"
    decision = second.json()["decision"]
    assert decision["level"] == "penalty" and decision["offence_number"] == 2
    assert decision["slash_bps"] == 500 and decision["jail_seconds"] == 86_400
    assert decision["recovery_path"] == "service_improvement"
    assert kinds(second.json()) == ["jail", "propose_slash"]
    # Another provider's history is its own.
    _, _, other = api.submit(1, event_type=EventType.PERFORMANCE_VIOLATION, severity=Severity.MEDIUM)
    assert other.json()["decision"]["level"] == "warning"


def test_an_investigation_is_not_an_offence(api: Api) -> None:
    api.submit(event_type=EventType.SUSPICIOUS_ACTIVITY)
    _, _, r = api.submit(event_type=EventType.PERFORMANCE_VIOLATION, severity=Severity.LOW)
    assert r.json()["decision"]["level"] == "warning"


def test_a_verdict_id_is_looked_up_case_insensitively(api: Api) -> None:
    v, _, r = api.submit()
    assert api.client.get("/v1/verdicts/0x" + v.id.hex().upper()).json() == r.json()
