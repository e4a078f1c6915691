"""`GET /v1/network` (SPEC section 8): the bounds, their use in the current window read live from
the contract, open incidents and the network's totals from the projection — on SQLite and
PostgreSQL, against a real Anvil; and an answer from the index when the node does not answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from indexer.runner import Indexer
from staking.api.app import create_app
from staking.api.network import live_caps, network_router
from staking.db.engine import make_engine
from staking.domain.vocabulary import EventType, Severity
from staking.intake.service import IntakeService
from staking.policy import load_policy
from tests.support.chain import Chain

pytestmark = pytest.mark.integration


def client_for(chain: Chain, db_url: str, *, node_up: bool = True) -> Iterator[TestClient]:
    engine = make_engine(db_url)
    Indexer(engine, chain.w3, chain.deployment).run(exit_at_head=True)
    intake = IntakeService(engine, chain.staking.domain(), None, load_policy(), max_age=3600)

    def read():  # type: ignore[no-untyped-def]
        if not node_up:
            raise ConnectionError("node down")
        return live_caps(chain.staking)

    app = create_app(engine, intake, routers=[network_router(engine, read, ttl=0)])
    with TestClient(app) as client:
        yield client
    engine.dispose()


def test_network_shows_the_caps_and_their_use_in_the_window_from_the_chain(chain: Chain, db_url: str) -> None:
    chain.bound(
        jail_cap=7, slash_cap_bps=500, max_slash_bps=5_000, severity_bounds=(500, 1_000, 2_500, 5_000)
    )
    p = chain.providers[0]
    v, sig = chain.signed(p, event_type=EventType.SYSTEM_ATTACK, severity=Severity.HIGH)
    chain.tx(chain.staking.jail_and_propose_slash(v, sig, 0, 2_000), chain.service)
    bonded = chain.staking.total_bonded()
    at_stake = chain.staking.slash(v.id).amount

    for client in client_for(chain, db_url):
        doc = client.get("/v1/network").json()
    assert doc["caps"] == {
        "window_seconds": 3600,
        "jail_cap": 7,
        "slash_cap_bps": 500,
        "max_slash_bps": 5_000,
        "severity_bounds": {"low": 500, "medium": 1_000, "high": 2_500, "critical": 5_000},
        "quorum": 1,
        "quorum_bps": 10_000,
        "source": "chain",
    }
    assert doc["usage"] == {
        "jails": 1,
        "jails_left": 6,
        "at_stake": str(at_stake),
        "slash_cap": str(bonded * 500 // 10_000),
        "total_bonded": str(bonded),
    }
    assert doc["usage_unavailable"] is None
    assert doc["incidents"] == {"open": 0, "ids": []}
    assert doc["totals"]["providers"] == len(chain.providers)
    assert doc["totals"]["jailed"] == 1
    assert int(doc["totals"]["bonded"]) == bonded  # the projection agrees with the contract's running total


def test_network_answers_from_the_index_with_the_reason_when_the_node_does_not(
    chain: Chain, db_url: str
) -> None:
    chain.bound(jail_cap=9)
    for client in client_for(chain, db_url, node_up=False):
        r = client.get("/v1/network")
    assert r.status_code == 200
    doc = r.json()
    assert doc["usage"] is None and "did not answer" in doc["usage_unavailable"]
    assert doc["caps"]["source"] == "index" and doc["caps"]["jail_cap"] == 9
