"""Where a provider stands, over HTTP (SPEC section 4), against a real Anvil indexed into each
database: every status, stake equal to the contract's views, jails and recovery with their next
step, slashes with their verdicts, strikes, reward eligibility, pagination, readiness, request ids
and request metrics.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_utils import keccak, to_checksum_address
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, select

from indexer.projection import ProviderRow, row_dict
from indexer.runner import Indexer
from staking.api.health import ChainProbe, rpc_head
from staking.db import schema as t
from staking.db.engine import make_engine
from staking.devnet.node import free_port
from staking.devnet.provision import provision_extra_providers
from staking.domain.clock import EpochClock
from staking.domain.status import STATUSES, provider_status
from staking.domain.vocabulary import TOKEN, EventType, RecoveryPath, Severity
from staking.logs import configure_logging
from staking.policy import load_policy
from staking.readmodel import list_providers, provider_standing, snapshot
from staking.verdict import Verdict, to_wire
from tests.support.chain import Chain
from tests.support.indexing import index_to_head
from tests.support.provider_app import make_app

pytestmark = pytest.mark.integration

PROBLEM_JSON = "application/problem+json"
UNKNOWN = "0x00000000000000000000000000000000DeaDBeef"


@dataclass
class Api:
    chain: Chain
    engine: Engine
    indexer: Indexer
    client: TestClient
    db_url: str

    def index(self) -> None:
        index_to_head(self.db_url, self.chain, indexer=self.indexer)

    def standing(self, address: str) -> dict[str, Any]:
        r = self.client.get(f"/v1/providers/{address}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def submit(self, v: Verdict, sig: bytes) -> dict[str, Any]:
        r = self.client.post("/v1/verdicts", json=to_wire(v, sig))
        assert r.status_code == 202, r.text
        return dict(r.json())

    def chain_stake(self, address: str) -> dict[str, Any]:
        """The contract's own views of `address`, in the document's shape."""
        s = self.chain.staking
        active, minimum = s.stake_of(address), s.min_stake_of(address)
        return {
            "active": str(active),
            "unbonding": str(s.unbonding_of(address)),
            "withdrawable": str(s.withdrawable_of(address)),
            "min_required": str(minimum),
            "meets_minimum": active >= minimum,
        }

    def assert_stake_matches_chain(self, address: str) -> dict[str, Any]:
        doc = self.standing(address)
        got = {
            k: doc["stake"][k]
            for k in ("active", "unbonding", "withdrawable", "min_required", "meets_minimum")
        }
        assert got == self.chain_stake(address), address
        return doc


@pytest.fixture
def api(chain: Chain, db_url: str) -> Iterator[Api]:
    engine = make_engine(db_url)
    indexer = index_to_head(db_url, chain)
    with make_app(engine, chain) as client:
        yield Api(chain, engine, indexer, client, db_url)
    engine.dispose()


def vid(v: Verdict) -> str:
    return "0x" + v.id.hex()


# ------------------------------------------------------------------------------------------ statuses


def test_every_status_with_its_reason_and_stake_equal_to_the_contract(api: Api) -> None:
    c, s = api.chain, api.chain.staking
    active, timed, recovering, probation, unbonding, tombstoned, exited = c.providers
    c.tx(s.request_unbond(s.stake_of(exited)), exited)
    c.advance(24 * 3600 + 1)
    api.index()
    # Matured but not yet withdrawn: withdrawableOf pays it all.
    doc = api.assert_stake_matches_chain(exited)
    assert doc["stake"]["withdrawable"] == doc["stake"]["unbonding"] == str(500 * TOKEN)
    c.tx(s.withdraw(s.unbonding_of(exited)), exited)
    c.tx(s.request_unbond(s.stake_of(unbonding)), unbonding)
    v_timed, sig = c.signed(timed, event_type=EventType.POLICY_VIOLATION, severity=Severity.HIGH)
    until = c.now() + 3_600
    c.tx(s.jail(v_timed, sig, until), c.service)
    v, sig = c.signed(recovering)
    c.tx(s.jail(v, sig, 0), c.service)
    c.tx(s.begin_recovery(recovering, RecoveryPath.SECURITY_REVIEW), c.service)
    v, sig = c.signed(probation)
    c.tx(s.jail(v, sig, 0), c.service)
    c.tx(s.reinstate(probation), c.governance)
    c.tx(s.tombstone(tombstoned, keccak(b"fraud")), c.governance)
    api.index()

    expected = {
        active: ("active", "bonded and in good standing"),
        timed: ("jailed", "isolated until the jail expires"),
        recovering: ("in_recovery", "a recovery path is open"),
        probation: ("probation", None),
        unbonding: ("unbonding", "all stake is unbonding"),
        tombstoned: ("tombstoned", "permanently excluded by governance"),
        exited: ("exited", "no stake bonded"),
        UNKNOWN: ("unregistered", "no ProviderRegistered event for this address"),
    }
    docs = {a: api.assert_stake_matches_chain(a) for a in expected}
    for a, (status, reason) in expected.items():
        assert docs[a]["status"] == status, a
        if reason is not None:
            assert docs[a]["status_reason"] == reason
    assert docs[probation]["status_reason"].startswith("reinstated; reduced reward weight until epoch")

    # identity and the as-of block
    assert docs[active]["class"] == "hardware_provider" and docs[active]["gpus"] == 8
    assert docs[exited]["class"] == "platform_user"
    head = c.w3.eth.get_block("latest")
    assert docs[active]["as_of"] == {
        "block": head["number"],
        "block_hash": head["hash"].to_0x_hex(),
        "timestamp": head["timestamp"],
        "lag_blocks": 0,
    }

    # jails: the timed one names its verdict; a tombstone is a jail for good
    assert docs[timed]["jail"] == {
        "until": until,
        "reason": f"policy_violation verdict {vid(v_timed)}",
        "verdict_id": vid(v_timed),
        "event_type": "policy_violation",
        "since": docs[timed]["jail"]["since"],
    }
    assert 0 < docs[timed]["jail"]["since"] <= c.now()
    assert docs[tombstoned]["jail"]["until"] is None
    assert docs[tombstoned]["jail"]["reason"].startswith("tombstoned by governance")
    for a in (active, unbonding, exited, probation, UNKNOWN):
        assert docs[a]["jail"] is None, a
    assert (
        docs[recovering]["jail"]["until"] is None
        and docs[recovering]["jail"]["event_type"] == "security_breach"
    )

    # recovery guidance
    assert docs[recovering]["recovery"]["path"] == "security_review"
    assert docs[recovering]["recovery"]["stage"] == "response"
    assert docs[timed]["recovery"]["stage"] is None
    assert "then call unjail()" in docs[timed]["recovery"]["next_step"]
    assert docs[tombstoned]["recovery"] is None and docs[active]["recovery"] is None
    assert docs[probation]["recovery"] is None and docs[probation]["probation"]["until_epoch"] > 0

    # reward eligibility follows the standing
    reasons = {a: (d["rewards"]["eligible"], d["rewards"]["reasons"]) for a, d in docs.items()}
    assert reasons == {
        active: (True, []),
        timed: (False, ["jailed"]),
        recovering: (False, ["in_recovery"]),
        probation: (True, ["probation"]),
        unbonding: (False, ["unbonding"]),
        tombstoned: (False, ["tombstoned"]),
        exited: (False, ["exited"]),
        UNKNOWN: (False, ["unregistered"]),
    }
    assert {d["rewards"]["epoch"] for d in docs.values()} == {s.current_epoch()}
    assert all(d["rewards"]["weight"] is None for d in docs.values())

    # The SQL status filter of the listing agrees with every document's status.
    for status in STATUSES:
        listed = {
            p["address"] for p in api.client.get("/v1/providers", params={"status": status}).json()["items"]
        }
        want = {a for a, d in docs.items() if d["status"] == status and a != UNKNOWN}
        assert listed == want, status
        assert all(
            p["status"] == status for p in api.client.get(f"/v1/providers?status={status}").json()["items"]
        )

    # Time passes beyond the timed jail: the provider is told to unjail itself.
    c.advance(3_601)
    api.index()
    doc = api.standing(timed)
    assert doc["status_reason"] == "jail expired; the provider may unjail itself"
    assert "call unjail()" in doc["recovery"]["next_step"] and "expired" in doc["recovery"]["next_step"]
    c.tx(s.unjail(), timed)
    api.index()
    assert api.standing(timed)["status"] == "active" and api.standing(timed)["jail"] is None


def test_an_unknown_address_is_unregistered_with_zeros(api: Api) -> None:
    doc = api.assert_stake_matches_chain(UNKNOWN.lower())
    assert doc["address"] == UNKNOWN  # checksummed
    assert doc["status"] == "unregistered" and doc["class"] is None and doc["gpus"] == 0
    assert doc["stake"]["active"] == doc["stake"]["unbonding"] == doc["stake"]["withdrawable"] == "0"
    assert doc["pending_slashes"] == doc["slashes"] == []
    assert doc["strikes"]["in_window"] == 0 and doc["strikes"]["level"] == "none"
    assert doc["jail"] is None and doc["recovery"] is None and doc["probation"] is None


@pytest.mark.parametrize(
    "address",
    [
        "0x1234",
        "0x" + "g" * 40,
        "90F79bf6EB2c4f870365E785982E1f101E93b906",
        "0x90f79bf6EB2c4f870365E785982E1f101E93b906",  # mixed case, bad checksum
        "0x90F79bf6EB2c4f870365E785982E1f101E93b9066",
    ],
)
@pytest.mark.parametrize("suffix", ["", "/slashes", "/events"])
def test_a_malformed_address_is_422_problem_json(api: Api, address: str, suffix: str) -> None:
    r = api.client.get(f"/v1/providers/{address}{suffix}")
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM_JSON
    doc = r.json()
    assert doc["type"] == "/problems/invalid-request" and doc["status"] == 422
    assert [e["field"] for e in doc["errors"]] == ["address"]


def test_lower_case_and_checksummed_addresses_name_the_same_provider(api: Api) -> None:
    a = api.chain.providers[0]
    assert api.standing(a.lower()) == api.standing(a)
    assert api.standing(a)["address"] == a


# ------------------------------------------------------------------------------------------ recovery


def test_recovery_stages_each_say_what_happens_next_then_probation(api: Api) -> None:
    c, s = api.chain, api.chain.staking
    p = c.providers[1]
    v, sig = c.signed(p, event_type=EventType.SECURITY_BREACH, severity=Severity.HIGH)
    api.submit(v, sig)
    c.tx(s.jail(v, sig, 0), c.service)
    api.index()
    doc = api.standing(p)
    assert doc["status"] == "jailed" and doc["jail"]["until"] is None
    assert doc["recovery"] == {
        "path": None,
        "stage": None,
        "next_step": "governance opens a recovery path (beginRecovery) "
        "or reinstates the provider (reinstate)",
    }

    c.tx(s.begin_recovery(p, RecoveryPath.SECURITY_REVIEW), c.service)
    api.index()
    doc = api.standing(p)
    assert doc["status"] == "in_recovery"
    assert doc["recovery"]["path"] == "security_review" and doc["recovery"]["stage"] == "response"
    assert (
        "governance then advances the security review to the recovery stage" in doc["recovery"]["next_step"]
    )
    assert "security team" in doc["recovery"]["next_step"]

    c.tx(s.advance_recovery(p), c.governance)
    api.index()
    rec = api.standing(p)["recovery"]
    assert rec["stage"] == "recovery"
    assert rec["next_step"].startswith("governance verifies the outcome of the security review")
    assert "restoration stage" in rec["next_step"]

    c.tx(s.advance_recovery(p), c.governance)
    api.index()
    rec = api.standing(p)["recovery"]
    assert rec["stage"] == "restoration" and "governance reinstates the provider" in rec["next_step"]

    c.tx(s.reinstate(p), c.governance)
    api.index()
    doc = api.standing(p)
    epochs = int(s.contract.functions.probationEpochs().call())
    assert doc["status"] == "probation" and doc["jail"] is None
    assert doc["probation"]["until_epoch"] == s.current_epoch() + epochs
    assert doc["recovery"] is None  # the contract closed it; probation is its own field
    assert doc["rewards"]["eligible"] is True and doc["rewards"]["reasons"] == ["probation"]

    length = int(s.contract.functions.epochLength().call())
    c.advance((epochs + 1) * length)
    api.index()
    doc = api.standing(p)
    assert doc["status"] == "active" and doc["probation"] is None and doc["recovery"] is None


def test_a_timed_jail_shows_the_policys_path_and_how_to_unjail_below_minimum(api: Api) -> None:
    c, s = api.chain, api.chain.staking
    p = c.providers[3]  # 1 GPU: minimum 1,500 SWARM, staked 2,000
    v, sig = c.signed(p, event_type=EventType.POLICY_VIOLATION, severity=Severity.HIGH)
    resource = api.submit(v, sig)
    assert resource["decision"]["recovery_path"] == "compliance_verification"
    until = c.now() + resource["decision"]["jail_seconds"]
    c.tx(s.jail(v, sig, until), c.service)
    c.tx(s.propose_slash(v, sig, 5_000), c.service)
    c.advance(s.veto_window() + 1)
    c.tx(s.execute_slash(v.id), c.stranger)
    api.index()
    doc = api.assert_stake_matches_chain(p)
    assert doc["stake"]["meets_minimum"] is False and doc["stake"]["active"] == str(1_000 * TOKEN)
    assert doc["recovery"]["path"] == "compliance_verification" and doc["recovery"]["stage"] is None
    assert doc["recovery"]["next_step"].startswith("wait until the jail ends at ")
    assert f"stake {500 * TOKEN} more base units" in doc["recovery"]["next_step"]
    assert doc["rewards"]["reasons"] == ["jailed", "below_minimum_stake"]

    c.advance(resource["decision"]["jail_seconds"])
    api.index()
    step = api.standing(p)["recovery"]["next_step"]
    assert step.startswith("the jail expired at ") and step.endswith("call unjail() to return to active")
    c.expect_revert(s.unjail(), p, "BelowMinimumStake")  # the advice is the contract's rule
    c.approve_and_stake(p, 500 * TOKEN)
    api.index()
    doc = api.assert_stake_matches_chain(p)
    assert doc["stake"]["meets_minimum"] is True
    assert "more base units" not in doc["recovery"]["next_step"]
    c.tx(s.unjail(), p)
    api.index()
    assert api.standing(p)["status"] == "active"


# ------------------------------------------------------------------------------------------ slashes


def test_a_pending_slash_shows_its_verdict_then_executed_and_vetoed(api: Api) -> None:
    c, s = api.chain, api.chain.staking
    p = c.providers[0]
    # A matured unbonding bucket: withdrawable, except while a slash is pending.
    c.tx(s.request_unbond(1_000 * TOKEN), p)
    c.advance(7 * 86_400 + 1)
    api.index()
    assert api.assert_stake_matches_chain(p)["stake"]["withdrawable"] == str(1_000 * TOKEN)
    v1, sig1 = c.signed(p, event_type=EventType.OPERATIONAL_FAILURE, severity=Severity.MEDIUM)
    resource = api.submit(v1, sig1)
    assert resource["decision"]["level"] == "penalty"
    c.tx(s.propose_slash(v1, sig1, 500), c.service)
    # A second slash whose verdict never went through this service's intake.
    v2, sig2 = c.signed(p, event_type=EventType.SYSTEM_ATTACK)
    c.tx(s.propose_slash(v2, sig2, 1_000), c.service)
    api.index()

    doc = api.assert_stake_matches_chain(p)
    assert doc["stake"]["withdrawable"] == "0" and doc["stake"]["unbonding"] == str(1_000 * TOKEN)
    pending = {x["id"]: x for x in doc["pending_slashes"]}
    assert set(pending) == {vid(v1), vid(v2)} and doc["slashes"] == []
    one = pending[vid(v1)]
    rec = s.slash(v1.id)
    assert one["verdict_id"] == vid(v1) and one["verdict_status"] == "received"
    assert one["verdict"] == f"/v1/verdicts/{vid(v1)}"
    assert one["evidence_hash"] == "0x" + v1.evidence_hash.hex()
    assert one["state"] == "pending" and one["bps"] == 500 and one["amount"] == str(rec.amount)
    assert one["event_type"] == "operational_failure" and one["severity"] == "medium"
    assert one["executable_at"] == rec.executable_at and re.fullmatch(r"0x[0-9a-f]{64}", one["proposed_tx"])
    assert pending[vid(v2)]["verdict_status"] is None and pending[vid(v2)]["verdict"] is None
    assert doc["rewards"]["eligible"] is False and doc["rewards"]["reasons"] == ["pending_slash"]
    assert doc["strikes"] == {
        "in_window": 1,
        "level": "penalty",
        "window_days": 30,
        "last_detected_at": v1.detected_at,
    }
    listed = api.client.get("/v1/slashes", params={"state": "pending"}).json()["items"]
    assert [x["id"] for x in listed] == [x["id"] for x in doc["pending_slashes"]]
    # The document adds the detectors each pending slash rests on and until when the provider may
    # appeal it (no appeal yet: the veto window's end); the listing is the same slash.
    signers = {x["id"]: x["signers"] for x in doc["pending_slashes"]}
    assert signers == {vid(v1): [c.detector], vid(v2): []}  # v2 never came through this intake
    assert all(
        x["appeal"] is None and x["appeal_until"] == x["executable_at"] for x in doc["pending_slashes"]
    )
    bare = [
        {k: v for k, v in x.items() if k not in ("signers", "appeal_until")} for x in doc["pending_slashes"]
    ]
    assert api.client.get(f"/v1/providers/{p}/slashes").json()["items"] == bare

    c.tx(s.veto_slash(v2.id, keccak(b"false positive")), c.governance)
    c.advance(s.veto_window() + 1)
    c.tx(s.execute_slash(v1.id), c.stranger)
    api.index()
    doc = api.assert_stake_matches_chain(p)
    assert doc["pending_slashes"] == [] and doc["stake"]["withdrawable"] != "0"
    done = {x["id"]: x for x in doc["slashes"]}
    assert done[vid(v1)]["state"] == "executed" and done[vid(v1)]["amount"] == str(s.slash(v1.id).amount)
    assert done[vid(v1)]["from_active"] == done[vid(v1)]["amount"]
    assert done[vid(v2)]["state"] == "vetoed" and done[vid(v2)]["vetoer"] == c.governance
    assert done[vid(v2)]["veto_reason"] == "0x" + keccak(b"false positive").hex()
    assert all(re.fullmatch(r"0x[0-9a-f]{64}", x["resolved_tx"]) for x in done.values())
    assert doc["rewards"]["eligible"] is True
    for state, want in (("executed", [vid(v1)]), ("vetoed", [vid(v2)]), ("pending", [])):
        r = api.client.get("/v1/slashes", params={"state": state})
        assert [x["id"] for x in r.json()["items"]] == want, state
    assert api.client.get("/v1/slashes", params={"state": "lost"}).status_code == 422

    # The next offence in the window is counted; its level is the latest decision's.
    v3, sig3 = c.signed(p, event_type=EventType.PERFORMANCE_VIOLATION, severity=Severity.LOW)
    api.submit(v3, sig3)
    strikes = api.standing(p)["strikes"]
    assert strikes["in_window"] == 2 and strikes["last_detected_at"] == v3.detected_at
    assert strikes["level"] == "penalty"  # the second performance offence in the window
    # Suspicious activity opens an investigation: no offence, no strike.
    v4, sig4 = c.signed(p, event_type=EventType.SUSPICIOUS_ACTIVITY, severity=Severity.HIGH)
    assert api.submit(v4, sig4)["decision"]["level"] == "none"
    assert api.standing(p)["strikes"] == strikes


# ------------------------------------------------------------------------------------------ pages


def test_the_status_filter_equals_provider_status_at_every_epoch_boundary(db_url: str) -> None:
    """The listing filters by status in SQL; it must agree with `provider_status` for any row and
    time, probation's epoch arithmetic included (no chain: rows written directly)."""
    genesis, length = 1_000_000, 600
    clock = EpochClock(genesis, length)
    rows: list[ProviderRow] = []
    flags = [
        {},
        {"tombstoned": True, "jailed": True},
        {"recovery_path": 2, "recovery_stage": 3, "jailed": True},
        {"jailed": True, "jailed_until": genesis + 5 * length},
        {"active": 0, "unbonding": 5},
        {"active": 0},
    ]
    offsets = [None, 0, 1, length - 1, length, 3 * length - 1, 3 * length, 3 * length + 1, 7 * length]
    for extra in flags:
        for offset in offsets:
            for epochs in (0, 1, 3):
                n = len(rows)
                values: dict[str, Any] = {"active": 10, "unbonding": 0} | extra
                rows.append(
                    ProviderRow(
                        address=to_checksum_address(f"0x{n + 1:040x}"),
                        provider_class=0,
                        gpus=1,
                        metadata_uri="",
                        registered_block=1,
                        updated_block=1,
                        reinstated_at=None if offset is None else genesis + offset,
                        probation_epochs=epochs,
                        **values,
                    )
                )
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            meta = {"epoch_genesis": str(genesis), "epoch_length": str(length)}
            conn.execute(t.meta.insert(), [{"key": k, "value": v} for k, v in meta.items()])
            conn.execute(t.providers.insert(), [row_dict(r) for r in rows])
        nows = sorted({genesis + e * length + d for e in range(0, 12) for d in (-1, 0, 1)})
        with engine.connect() as conn:
            for now in nows:
                for status in STATUSES:
                    page = list_providers(conn, status, 200, None, now=now)
                    got = {item["address"] for item in page["items"]}
                    want = {r.address for r in rows if provider_status(r, now, clock)[0] == status}
                    assert got == want, (status, now)
                    assert all(item["status"] == status for item in page["items"])
    finally:
        engine.dispose()


def test_pagination_walks_every_provider_exactly_once(api: Api) -> None:
    provision_extra_providers(api.chain.w3, api.chain.deployment, 13)
    api.index()
    with api.engine.connect() as conn:  # the database's own order (its collation), as the API pages
        registered = [
            r.address for r in conn.execute(select(t.providers.c.address).order_by(t.providers.c.address))
        ]
    assert len(registered) == len(set(registered)) == 20
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        r = api.client.get("/v1/providers", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= 3
        seen += [p["address"] for p in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == registered and pages == 7
    item = api.client.get("/v1/providers", params={"limit": 1}).json()["items"][0]
    assert item["link"] == f"/v1/providers/{item['address']}"
    assert item["stake"] == api.standing(item["address"])["stake"]
    for bad in ("nonsense", "cHJvdmlkZXI6MHgxMjM", "c2xhc2g6MTox"):  # garbage; short address; a slash cursor
        r = api.client.get("/v1/providers", params={"cursor": bad})
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM_JSON, bad
    assert api.client.get("/v1/providers", params={"limit": 0}).status_code == 422
    assert api.client.get("/v1/providers", params={"status": "retired"}).status_code == 422


def test_provider_events_are_its_history_newest_first_in_pages(api: Api) -> None:
    c, s = api.chain, api.chain.staking
    p = c.providers[2]
    c.tx(s.request_unbond(100 * TOKEN), p)
    c.approve_and_stake(p, 7 * TOKEN)
    api.index()
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        r = api.client.get(
            f"/v1/providers/{p.lower()}/events", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
        )
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    with api.engine.connect() as conn:
        stored = conn.execute(
            select(t.events.c.name, t.events.c.block_number, t.events.c.log_index).where(
                t.events.c.provider == p
            )
        ).all()
    assert [(i["name"], i["block"], i["log_index"]) for i in items] == sorted(
        [(r.name, r.block_number, r.log_index) for r in stored], key=lambda x: (x[1], x[2]), reverse=True
    )
    assert items[0]["name"] == "Staked" and items[0]["args"]["amount"] == str(7 * TOKEN)
    assert items[0]["args"]["active"] == str(s.stake_of(p))
    assert items[1]["name"] == "UnbondRequested" and items[1]["args"]["unbonding"] == str(100 * TOKEN)
    assert items[-1]["name"] == "ProviderRegistered" and items[-1]["args"]["gpus"] == 2


# ------------------------------------------------------------------------------------------ operations


def test_readyz_is_ready_with_a_live_chain_and_an_indexer_at_head(api: Api) -> None:
    r = api.client.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    head = api.chain.w3.eth.block_number
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["chain"] == {"status": "ok", "head": head}
    assert body["checks"]["indexer"] == {
        "status": "ok",
        "checkpoint": head,
        "lag_blocks": 0,
        "max_lag_blocks": 20,
    }


def test_readyz_is_503_when_the_chain_is_unreachable(api: Api) -> None:
    dead = ChainProbe(rpc_head(f"http://127.0.0.1:{free_port()}", timeout=0.5))
    with make_app(api.engine, api.chain, chain=dead) as client:
        r = client.get("/readyz")
        assert r.status_code == 503 and r.headers["content-type"] == PROBLEM_JSON
        doc = r.json()
        assert doc["type"] == "/problems/not-ready" and doc["detail"].startswith("chain unreachable")
        assert doc["checks"]["chain"]["status"] == "failed" and doc["checks"]["database"]["status"] == "ok"
        assert r.headers["retry-after"].isdigit()
        # Provider documents do not need the chain.
        assert client.get(f"/v1/providers/{api.chain.providers[0]}").status_code == 200


def test_readyz_is_503_when_the_indexer_lags_and_ready_once_it_catches_up(api: Api) -> None:
    with make_app(
        api.engine,
        api.chain,
        chain=ChainProbe(rpc_head(api.chain.deployment.rpc_url), ttl=0),
        max_indexer_lag_blocks=3,
    ) as client:
        assert client.get("/readyz").status_code == 200
        for _ in range(5):
            api.chain.mine()
        r = client.get("/readyz")
        assert r.status_code == 503, r.text
        assert r.json()["detail"] == "indexer lag 5 blocks exceeds the limit of 3"
        assert r.json()["checks"]["indexer"]["lag_blocks"] == 5
        assert client.get(f"/v1/providers/{api.chain.providers[0]}").json()["as_of"]["lag_blocks"] == 5
        api.index()
        assert client.get("/readyz").status_code == 200


def test_readyz_is_503_when_the_database_is_unreachable(api: Api) -> None:
    engine = make_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    with make_app(engine, api.chain) as client:
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["detail"].startswith("database unreachable")
        assert r.json()["checks"]["database"]["status"] == "failed"


def test_the_request_id_is_echoed_or_made_and_in_every_log_line(api: Api) -> None:
    r = api.client.get("/healthz", headers={"X-Request-ID": "req-42.abc"})
    assert r.headers["x-request-id"] == "req-42.abc"
    made = api.client.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert api.client.get("/healthz").headers["x-request-id"] != made
    injected = api.client.get("/healthz", headers={"X-Request-ID": 'x" injected=1'}).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", injected)
    # Problems carry it too.
    assert (
        api.client.get("/v1/providers/0x12", headers={"X-Request-ID": "bad-addr"}).headers["x-request-id"]
        == "bad-addr"
    )

    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    buf = io.StringIO()
    try:
        configure_logging("INFO", json_lines=True)
        handler = root.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(buf)
        v, sig = api.chain.signed(api.chain.providers[0])
        r = api.client.post("/v1/verdicts", json=to_wire(v, sig), headers={"X-Request-ID": "trace-7"})
        assert r.status_code == 202 and r.headers["x-request-id"] == "trace-7"
        logging.getLogger("elsewhere").info("outside any request")
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    by_msg = {line["msg"]: line for line in lines}
    assert by_msg["verdict accepted"]["request_id"] == "trace-7"  # logged in the thread pool
    assert by_msg["request"]["request_id"] == "trace-7" and by_msg["request"]["status"] == 202
    assert by_msg["request"]["route"] == "/v1/verdicts"
    assert "request_id" not in by_msg["outside any request"]


def test_metrics_have_request_latency_by_route_and_the_indexer_lag(api: Api) -> None:
    a = api.chain.providers[0]
    for _ in range(3):
        api.standing(a)
    api.client.get("/v1/providers/0x12")
    api.client.get("/no/such/route")
    r = api.client.get("/metrics")
    assert r.status_code == 200
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }

    def count(route: str, status: str) -> float:
        key = frozenset({"method": "GET", "route": route, "status": status}.items())
        return samples.get(("swarm_http_request_duration_seconds_count", key), 0)

    assert count("/v1/providers/{address}", "200") == 3
    assert count("/v1/providers/{address}", "422") == 1
    assert count("unmatched", "404") == 1
    assert samples["swarm_indexer_lag_blocks", frozenset()] == 0
    assert ("swarm_verdicts", frozenset({("status", "received")})) in samples  # DB metrics still there


def test_openapi_documents_the_provider_endpoints(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    for path in (
        "/v1/providers/{address}",
        "/v1/providers",
        "/v1/providers/{address}/slashes",
        "/v1/providers/{address}/events",
        "/v1/slashes",
        "/readyz",
    ):
        assert path in spec["paths"], path
    get = spec["paths"]["/v1/providers/{address}"]["get"]
    assert get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ProviderStanding"
    )
    assert PROBLEM_JSON in get["responses"]["422"]["content"]
    props = spec["components"]["schemas"]["ProviderStanding"]["properties"]
    assert {"class", "stake", "jail", "recovery", "strikes", "rewards", "as_of"} <= set(props)
    assert PROBLEM_JSON in spec["paths"]["/readyz"]["get"]["responses"]["503"]["content"]


def test_the_read_model_can_be_called_without_http(api: Api) -> None:
    # The CLI imports these: the same document as the API, from a connection.
    a = api.chain.providers[0]
    with snapshot(api.engine) as conn:
        doc = provider_standing(conn, a.lower(), api.chain.now(), load_policy())
        page = list_providers(conn, "active", 2, None, now=api.chain.now())
    assert doc == api.standing(a)
    http = api.client.get("/v1/providers", params={"status": "active", "limit": 2}).json()
    assert page == http and len(page["items"]) == 2 and page["next_cursor"] is not None


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # the asynchronous lookups are PostgreSQL's
def test_postgresql_lookups_survive_a_dead_connection_and_answer_503_without_a_database(api: Api) -> None:
    # PostgreSQL reads a provider's document over asynchronous connections kept between requests.
    # A pooled connection the server has since closed (a database restart) is replaced within the
    # request; a database that cannot be reached is a 503 problem, not a 500.
    assert api.engine.dialect.name == "postgresql"
    import asyncio

    from sqlalchemy import create_engine, text

    from staking.api.pg_lookups import AsyncStandingReader
    from staking.api.problems import ProblemException

    a = api.chain.providers[0]
    first = api.standing(a)
    with api.engine.connect() as conn:
        ended = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'swarm-staking api lookups' AND datname = current_database()"
            )
        ).scalar()
    assert ended and ended >= 1
    assert api.standing(a) == first  # on a new connection, in the same request

    unreachable = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")
    reader = AsyncStandingReader(unreachable, connect_timeout_s=2)
    with pytest.raises(ProblemException) as problem:
        asyncio.run(reader.standing(a, api.chain.now(), load_policy(), None))
    assert problem.value.status == 503 and problem.value.headers["Retry-After"]
