"""Computed reward epochs over HTTP (`GET /v1/epochs/{n}`, `GET /v1/epochs/{n}/proofs/{address}`)
and a provider's rewards summary, against a real Anvil and each database.

The rows the rewards job writes are inserted directly; a proof the API gives must verify against
the stored root — and pay out through the contract's `claim` once the root is published.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import pytest
from eth_utils import to_checksum_address
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from indexer.runner import Indexer
from staking.db import schema as t
from staking.domain.clock import iso_seconds
from staking.domain.vocabulary import Wei
from staking.policy import load_policy
from staking.readmodel import provider_standing, snapshot
from staking.rewards.last_computed import NOT_IN_SET
from staking.rewards.merkle import WeightTree, verify
from tests.support.chain import Chain
from tests.support.intake import (
    PROBLEM_JSON,
)
from tests.support.intake import Api as VerdictApi

pytestmark = pytest.mark.integration

T = 10**18
POOL = Wei(1_000 * T)
INELIGIBLE_REASONS = ["jailed during the epoch", "uptime 90.00 % below 95.00 %"]


@dataclass
class Epochs:
    chain: Chain
    engine: Engine
    client: TestClient

    def index(self) -> None:
        Indexer(self.engine, self.chain.w3, self.chain.deployment).run(exit_at_head=True)

    def get(self, path: str) -> Any:
        return self.client.get(path)


@pytest.fixture
def ep(api: VerdictApi) -> Epochs:
    # `api` indexed the devnet first: the epoch clock in `meta`, the chain's epochs in `epochs`.
    return Epochs(api.chain, api.engine, api.client)


def store_epoch(
    engine: Engine,
    epoch: int,
    eligible: dict[str, int],
    ineligible: dict[str, list[str]] | None = None,
    root: bytes | None = None,
    state: str = "computed",
) -> WeightTree:
    """Write what the rewards job writes for `epoch`: eligible providers with their weights, the
    others (weight 0) with their reasons, and the epoch row with the tree's root."""
    tree = WeightTree.build(eligible)
    ineligible = ineligible or {}
    rows = [
        {"provider": to_checksum_address(a), "eligible": True, "weight": w, "reasons": "[]"}
        for a, w in eligible.items()
    ] + [
        {"provider": to_checksum_address(a), "eligible": False, "weight": 0, "reasons": json.dumps(r)}
        for a, r in ineligible.items()
    ]
    with engine.begin() as conn:
        conn.execute(
            t.reward_epochs.insert().values(
                epoch=epoch,
                state=state,
                merkle_root="0x" + (root or tree.root).hex(),
                total_weight=tree.total_weight,
                eligible=len(eligible),
                providers=len(rows),
                uri=f"ipfs://weights-{epoch}",
                inputs_hash="ab" * 32,
                computed_ms=1_795_000_000_000,
            )
        )
        if rows:
            conn.execute(
                t.reward_weights.insert(),
                [dict(r, epoch=epoch, score_bps=9_000, time_weighted_stake=r["weight"]) for r in rows],
            )
    return tree


def weights_of(chain: Chain, n: int = 3) -> dict[str, int]:
    # Weights of the size the rewards job produces (stake in base units x score), all different.
    return {p: (10_000 + 1_000 * i) * T * 9 // 10 + i for i, p in enumerate(chain.providers[:n])}


# ------------------------------------------------------------------------------------ the epoch


def test_a_computed_epoch_shows_its_root_weights_and_the_chains_pool(ep: Epochs) -> None:
    chain = ep.chain
    chain.tx(chain.token.approve(chain.staking.address, POOL), chain.governance)
    chain.tx(chain.staking.fund_rewards(0, POOL), chain.governance)
    ep.index()
    weights = weights_of(chain)
    tree = store_epoch(ep.engine, 0, weights, {chain.providers[5]: INELIGIBLE_REASONS})
    r = ep.get("/v1/epochs/0")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "epoch": 0,
        "state": "computed",
        "merkle_root": "0x" + tree.root.hex(),
        "total_weight": str(sum(weights.values())),
        "eligible": 3,
        "providers": 4,
        "uri": "ipfs://weights-0",
        "published": False,
        "pool": str(POOL),
        "claimed": "0",
        "claims": 0,
        "claims_open_at": None,
        "revocations": 0,
        "swept": "0",
        "computed_at": "2026-11-18T11:06:40.000Z",
        "published_at": None,
    }


def test_an_unfunded_epoch_has_no_pool_and_an_empty_epoch_a_zero_root(ep: Epochs) -> None:
    store_epoch(ep.engine, 4, {}, {ep.chain.providers[0]: ["a slash is pending"]}, state="empty")
    doc = ep.get("/v1/epochs/4").json()
    assert doc["pool"] is None and doc["claimed"] is None and doc["claims"] is None
    assert doc["merkle_root"] == "0x" + "00" * 32 and doc["total_weight"] == "0" and doc["eligible"] == 0
    r = ep.get(f"/v1/epochs/4/proofs/{ep.chain.providers[0]}")
    assert r.status_code == 404 and r.json()["reasons"] == ["a slash is pending"]


def test_an_epoch_that_is_not_computed_is_a_404_problem(ep: Epochs) -> None:
    store_epoch(ep.engine, 0, weights_of(ep.chain))
    for path in ("/v1/epochs/1", f"/v1/epochs/1/proofs/{ep.chain.providers[0]}", f"/v1/epochs/{2**64 - 1}"):
        r = ep.get(path)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM_JSON, path
        assert r.json()["type"] == "/problems/epoch-not-computed"


@pytest.mark.parametrize("path", ["/v1/epochs/-1", f"/v1/epochs/{2**64}", "/v1/epochs/one"])
def test_an_epoch_number_out_of_range_is_a_422_problem(ep: Epochs, path: str) -> None:
    r = ep.get(path)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM_JSON
    assert r.json()["errors"][0]["field"] == "n"


# ------------------------------------------------------------------------------------ proofs


def test_every_eligible_providers_proof_verifies_against_the_stored_root(ep: Epochs) -> None:
    # An odd number of leaves, so some proofs skip a level (the promoted node).
    weights = weights_of(ep.chain, 5) | {to_checksum_address(os.urandom(20)): 7 * T + i for i in range(6)}
    store_epoch(ep.engine, 2, weights)
    stored_root = ep.get("/v1/epochs/2").json()["merkle_root"]
    for address, weight in weights.items():
        for spelling in (address, address.lower()):
            r = ep.get(f"/v1/epochs/2/proofs/{spelling}")
            assert r.status_code == 200, r.text
            doc = r.json()
            assert doc["epoch"] == 2 and doc["address"] == address and doc["weight"] == str(weight)
            assert doc["merkle_root"] == stored_root and doc["published"] is False
            proof = [bytes.fromhex(node[2:]) for node in doc["proof"]]
            assert verify(proof, bytes.fromhex(stored_root[2:]), address, weight)
            assert not verify(proof, bytes.fromhex(stored_root[2:]), address, weight + 1)


def test_a_proof_from_the_api_claims_the_providers_share_on_chain(ep: Epochs) -> None:
    chain = ep.chain
    chain.tx(chain.token.approve(chain.staking.address, POOL), chain.governance)
    chain.tx(chain.staking.fund_rewards(0, POOL), chain.governance)
    weights = weights_of(chain)
    tree = store_epoch(ep.engine, 0, weights)
    length = chain.staking.contract.functions.epochLength().call()
    chain.advance(length)  # epoch 0 has ended: it can be published
    chain.tx(
        chain.staking.publish_eligibility(0, tree.root, tree.total_weight, "ipfs://weights-0"), chain.service
    )
    ep.index()
    assert ep.get("/v1/epochs/0").json()["published"] is True
    provider = chain.providers[1]
    doc = ep.get(f"/v1/epochs/0/proofs/{provider}").json()
    assert doc["published"] is True
    before = chain.token.balance_of(provider)
    proof = [bytes.fromhex(node[2:]) for node in doc["proof"]]
    chain.tx(chain.staking.claim(0, int(doc["weight"]), proof), provider)
    assert chain.token.balance_of(provider) - before == POOL * weights[provider] // tree.total_weight
    ep.index()
    after = ep.get("/v1/epochs/0").json()
    assert after["claims"] == 1 and after["claimed"] == str(POOL * weights[provider] // tree.total_weight)


def test_a_root_the_council_revokes_is_unpublished_with_the_revocation_counted(ep: Epochs) -> None:
    chain = ep.chain
    s = chain.staking
    chain.tx(chain.token.approve(s.address, POOL), chain.governance)
    chain.tx(s.fund_rewards(0, POOL), chain.governance)
    chain.tx(s.set_reward_challenge_delay(3_600), chain.governance)
    tree = store_epoch(ep.engine, 0, weights_of(chain))
    chain.advance(s.contract.functions.epochLength().call())
    receipt = chain.tx(s.publish_eligibility(0, tree.root, tree.total_weight, "ipfs://w"), chain.service)
    published_at = chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    ep.index()
    doc = ep.get("/v1/epochs/0").json()
    assert doc["published"] is True and doc["revocations"] == 0
    assert doc["claims_open_at"] == iso_seconds(published_at + 3_600)
    chain.tx(s.revoke_eligibility(0, b"\x01" * 32), chain.governance)  # the council (EOA shape: governance)
    ep.index()
    doc = ep.get("/v1/epochs/0").json()
    assert doc["published"] is False and doc["revocations"] == 1 and doc["claims_open_at"] is None
    assert doc["pool"] == str(POOL) and doc["claimed"] == "0"


def test_an_ineligible_provider_gets_a_404_with_its_reasons(ep: Epochs) -> None:
    jailed = ep.chain.providers[5]
    store_epoch(ep.engine, 0, weights_of(ep.chain), {jailed: INELIGIBLE_REASONS})
    r = ep.get(f"/v1/epochs/0/proofs/{jailed}")
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM_JSON
    doc = r.json()
    assert doc["type"] == "/problems/not-eligible" and doc["reasons"] == INELIGIBLE_REASONS
    assert doc["eligible"] is False and doc["epoch"] == 0 and doc["address"] == jailed
    assert "jailed during the epoch" in doc["detail"]
    stranger = ep.get(f"/v1/epochs/0/proofs/{ep.chain.stranger}")
    assert stranger.status_code == 404 and stranger.json()["reasons"] == [NOT_IN_SET]


@pytest.mark.parametrize(
    "address",
    ["0x1234", "0x90f79bf6EB2c4f870365E785982E1f101E93b906", "0x" + "g" * 40],
    ids=["short", "bad-checksum", "not-hex"],
)
def test_a_malformed_address_is_a_422_problem(ep: Epochs, address: str) -> None:
    store_epoch(ep.engine, 0, weights_of(ep.chain))
    r = ep.get(f"/v1/epochs/0/proofs/{address}")
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM_JSON
    assert r.json()["errors"][0]["field"] == "address"


def test_an_epoch_recomputed_to_another_root_serves_the_new_tree(ep: Epochs) -> None:
    provider = ep.chain.providers[0]
    store_epoch(ep.engine, 0, weights_of(ep.chain))
    first = ep.get(f"/v1/epochs/0/proofs/{provider}").json()  # builds and caches the tree
    new_weights = {provider: 5 * T, ep.chain.providers[6]: 6 * T}
    tree = WeightTree.build(new_weights)
    with ep.engine.begin() as conn:
        conn.execute(t.reward_weights.delete().where(t.reward_weights.c.epoch == 0))
        conn.execute(
            t.reward_weights.insert(),
            [
                {
                    "epoch": 0,
                    "provider": a,
                    "eligible": True,
                    "weight": w,
                    "score_bps": 1,
                    "time_weighted_stake": w,
                }
                | {"reasons": "[]"}
                for a, w in new_weights.items()
            ],
        )
        conn.execute(
            update(t.reward_epochs)
            .where(t.reward_epochs.c.epoch == 0)
            .values(merkle_root="0x" + tree.root.hex(), total_weight=tree.total_weight)
        )
    doc = ep.get(f"/v1/epochs/0/proofs/{provider}").json()
    assert doc["merkle_root"] != first["merkle_root"] and doc["weight"] == str(5 * T)
    proof = [bytes.fromhex(node[2:]) for node in doc["proof"]]
    assert verify(proof, tree.root, provider, 5 * T)


def test_weights_that_do_not_hash_to_the_stored_root_give_no_proof(ep: Epochs) -> None:
    store_epoch(ep.engine, 0, weights_of(ep.chain), root=b"\x42" * 32)
    r = ep.get(f"/v1/epochs/0/proofs/{ep.chain.providers[0]}")
    assert r.status_code == 500 and r.headers["content-type"] == PROBLEM_JSON
    assert r.json()["type"] == "/problems/epoch-inconsistent" and "proof" not in r.json()


def test_openapi_documents_the_epoch_endpoints(ep: Epochs) -> None:
    paths = ep.get("/openapi.json").json()["paths"]
    for path in ("/v1/epochs/{n}", "/v1/epochs/{n}/proofs/{address}"):
        responses = paths[path]["get"]["responses"]
        assert set(responses) >= {"200", "404", "422"}
        assert list(responses["404"]["content"]) == [PROBLEM_JSON]


# --------------------------------------------------------------------------- the rewards summary


def test_the_rewards_summary_reads_the_most_recent_computed_epoch(ep: Epochs) -> None:
    # The provider document's `rewards.last_computed`, on each database (PostgreSQL reads it in
    # the document's single statement, SQLite by its own query).
    p = ep.chain.providers
    with snapshot(ep.engine) as conn:
        meta = {r.key: r.value for r in conn.execute(select(t.meta.c.key, t.meta.c.value))}
    genesis, length = int(meta["epoch_genesis"]), int(meta["epoch_length"])

    def last_computed(address: str, current_epoch: int) -> Any:
        now = genesis + current_epoch * length + 1
        with snapshot(ep.engine) as conn:
            doc = provider_standing(conn, address, now, load_policy())
        assert doc["rewards"]["epoch"] == current_epoch
        return doc["rewards"]["last_computed"]

    assert last_computed(p[0], 3) is None  # no epoch computed yet
    store_epoch(ep.engine, 1, {p[0]: 3 * T}, {p[1]: ["no performance report for the epoch"]})
    store_epoch(ep.engine, 2, {p[1]: 4 * T}, {p[0]: INELIGIBLE_REASONS})
    store_epoch(ep.engine, 9, {p[0]: 9 * T})  # later than the current epoch: not shown
    assert last_computed(p[0], 3) == {
        "epoch": 2,
        "eligible": False,
        "reasons": INELIGIBLE_REASONS,
        "weight": "0",
    }
    assert last_computed(p[1], 3) == {"epoch": 2, "eligible": True, "reasons": [], "weight": str(4 * T)}
    assert last_computed(p[2], 3) == {"epoch": 2, "eligible": False, "reasons": [NOT_IN_SET], "weight": None}
    assert last_computed(p[0], 1)["weight"] == str(3 * T)
    assert last_computed(p[0], 9)["weight"] == str(9 * T)
    # Over HTTP the document carries the same summary, for the chain's own current epoch.
    current = ep.get(f"/v1/providers/{p[1]}").json()["rewards"]
    expected = {"epoch": 2, "eligible": True, "reasons": [], "weight": str(4 * T)}
    assert current["last_computed"] == (expected if current["epoch"] >= 2 else None)
