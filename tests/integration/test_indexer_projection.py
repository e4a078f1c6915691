"""The indexer's projection equals the contract's own views: after random histories indexed from
scratch or incrementally, for every provider status, and for amounts beyond 64 bits.

Every test runs on SQLite and on PostgreSQL (the `db_url` fixture)."""

from __future__ import annotations

import json
import random

import pytest
from eth_abi import encode
from eth_utils import keccak

from staking.devnet.accounts import devnet_account
from staking.domain.status import provider_status
from staking.domain.vocabulary import RecoveryPath
from staking.rewards.merkle import WeightTree
from tests.support.actors import Actor, random_actions
from tests.support.chain import Chain
from tests.support.indexing import (
    SPARE_ACCOUNTS,
    UNLIMITED,
    dump_tables,
    epoch_clock,
    index_to_head,
    make_indexer,
    provider_rows,
)
from tests.support.views import assert_projection_matches_chain

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_projection_indexed_from_scratch_equals_chain_after_random_history(
    chain: Chain, db_url: str, seed: int
) -> None:
    slash_ids = random_actions(chain, random.Random(seed), 40)
    index_to_head(db_url, chain)
    assert_projection_matches_chain(db_url, chain, slash_ids)


def test_incremental_indexing_between_random_actions_equals_chain(chain: Chain, db_url: str) -> None:
    # One long-lived indexer, as `serve` keeps one, catching up after each burst of activity.
    rng = random.Random(11)
    actor = Actor(chain, rng)
    indexer = index_to_head(db_url, chain)
    assert_projection_matches_chain(db_url, chain)
    for burst in (5, 12, 1, 20):
        actor.run(burst)
        index_to_head(db_url, chain, indexer=indexer)
        assert_projection_matches_chain(db_url, chain, actor.slash_ids)
    assert len(set(actor.log)) >= 8, f"too little variety in the random actions: {actor.log}"


def _status(db_url: str, chain: Chain, address: str) -> tuple[str, str]:
    return provider_status(provider_rows(db_url).get(address), chain.now(), epoch_clock(db_url))


def test_provider_status_from_indexed_rows_covers_every_standing(chain: Chain, db_url: str) -> None:
    s = chain.staking
    active, timed, recovering, probation, unbonding, tombstoned, exited = chain.providers
    # exited first: its one-day unbonding wait must not age the jails and probation below
    chain.tx(s.request_unbond(s.stake_of(exited)), exited)
    chain.advance(24 * 3600 + 1)
    chain.tx(s.withdraw(s.unbonding_of(exited)), exited)
    chain.tx(s.request_unbond(s.stake_of(unbonding)), unbonding)
    v, sig = chain.signed(timed)
    chain.tx(s.jail(v, sig, chain.now() + 3_600), chain.service)
    v, sig = chain.signed(recovering)
    chain.tx(s.jail(v, sig, 0), chain.service)
    chain.tx(s.begin_recovery(recovering, RecoveryPath.SECURITY_REVIEW), chain.service)
    v, sig = chain.signed(probation)
    chain.tx(s.jail(v, sig, 0), chain.service)
    chain.tx(s.reinstate(probation), chain.governance)
    chain.tx(s.tombstone(tombstoned, keccak(b"fraud")), chain.governance)
    index_to_head(db_url, chain)
    assert_projection_matches_chain(db_url, chain)

    expected = {
        active: "active", timed: "jailed", recovering: "in_recovery", probation: "probation",
        unbonding: "unbonding", tombstoned: "tombstoned", exited: "exited", chain.stranger: "unregistered",
    }  # fmt: skip
    got = {a: _status(db_url, chain, a)[0] for a in expected}
    assert got == expected
    assert _status(db_url, chain, timed)[1] == "isolated until the jail expires"

    # Time passes beyond the probation epochs and the timed jail; the statuses follow.
    epochs = int(s.contract.functions.probationEpochs().call())
    length = epoch_clock(db_url).length
    chain.advance(max((epochs + 1) * length, 3_600 + 1))
    index_to_head(db_url, chain)
    assert _status(db_url, chain, probation)[0] == "active"
    assert _status(db_url, chain, timed) == ("jailed", "jail expired; the provider may unjail itself")
    assert _status(db_url, chain, recovering)[0] == "in_recovery"


def test_amounts_beyond_64_bits_survive_the_database_exactly(chain: Chain, db_url: str) -> None:
    s, token = chain.staking, chain.token.contract.functions
    gov, provider = chain.governance, chain.providers[0]
    huge = 2**120 + 12_345  # beyond 64 bits; stake is accounted in 128 bits (AmountTooLarge above)
    chain.tx(token.mint(provider, huge), gov)
    chain.tx(chain.token.approve(s.address, UNLIMITED), provider)
    chain.tx(s.stake(huge), provider)
    chain.tx(s.request_unbond(2**119 + 7), provider)
    v, sig = chain.signed(provider)
    chain.tx(s.propose_slash(v, sig, 3_333), chain.service)
    chain.advance(s.veto_window() + 1)
    chain.tx(s.execute_slash(v.id), chain.stranger)
    pool = 2**127 + 1  # epochs account pools in 128 bits
    chain.tx(token.mint(gov, pool), gov)
    chain.tx(chain.token.approve(s.address, 2**256 - 1), gov)
    epoch = s.current_epoch()
    chain.tx(s.fund_rewards(epoch, pool), gov)
    chain.advance(epoch_clock_length(chain) + 1)
    tree = WeightTree.build({provider: 5})
    total_weight = 2**184 - 1  # and total weights in 184 (the slot shares claimableAt)
    chain.tx(s.publish_eligibility(epoch, tree.root, total_weight, "ipfs://huge"), chain.service)

    index_to_head(db_url, chain)
    assert_projection_matches_chain(db_url, chain, ["0x" + v.id.hex()])
    rec = s.provider(provider)
    assert rec.active > 2**63 and rec.unbonding > 2**63
    tables = dump_tables(db_url)
    row = next(r for r in tables["providers"] if r["address"] == provider)
    assert (row["active"], row["unbonding"]) == (rec.active, rec.unbonding)
    assert row["slashed"] == s.slash(v.id).amount > 2**63
    ep = next(r for r in tables["epochs"] if r["epoch"] == epoch)
    assert (ep["pool"], ep["total_weight"]) == (pool, total_weight)
    staked = [json.loads(e["args"]) for e in tables["events"] if e["name"] == "Staked"]
    assert any(a["amount"] == huge for a in staked), "the Staked event's args lost precision"


def epoch_clock_length(chain: Chain) -> int:
    return int(chain.staking.contract.functions.epochLength().call())


# ---- hostile but valid on-chain inputs: anyone can send these, so they must not stop the indexer


def test_reward_epoch_numbers_beyond_int64_do_not_stop_the_indexer(chain: Chain, db_url: str) -> None:
    # fundRewards is open to anyone and takes any uint64 epoch; SQL BIGINT is signed 64-bit.
    gov = chain.governance
    chain.tx(chain.token.approve(chain.staking.address, UNLIMITED), gov)
    chain.tx(chain.staking.fund_rewards(2**64 - 1, 1), gov)
    index_to_head(db_url, chain)
    assert_projection_matches_chain(db_url, chain)


@pytest.mark.parametrize(
    "metadata", [b"ipfs://nul\x00inside", b"\xff\xfe not utf-8"], ids=["nul-byte", "invalid-utf8"]
)
def test_provider_metadata_with_unusual_bytes_does_not_stop_the_indexer(
    chain: Chain, db_url: str, metadata: bytes
) -> None:
    # register() is permissionless and its string is arbitrary bytes on chain.
    who = devnet_account(SPARE_ACCOUNTS[0]).address
    selector = keccak(text="register(uint8,uint32,string)")[:4]
    data = "0x" + (selector + encode(["uint8", "uint32", "bytes"], [2, 0, metadata])).hex()
    tx_hash = chain.w3.eth.send_transaction(
        {"from": who, "to": chain.staking.address, "data": data, "gas": 300_000}  # type: ignore[typeddict-item]
    )
    assert chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)["status"] == 1
    assert chain.staking.provider(who).registered
    Actor(chain, random.Random(5)).run(3)  # later activity must be indexed too
    index_to_head(db_url, chain)
    assert_projection_matches_chain(db_url, chain)


def test_indexer_status_counts_events_and_reaches_head(chain: Chain, db_url: str) -> None:
    random_actions(chain, random.Random(21), 10)
    indexer = make_indexer(db_url, chain)
    index_to_head(db_url, chain, indexer=indexer)
    st = indexer.status
    assert st.rpc_ok and st.caught_up and st.last_error is None
    assert st.head == st.indexed == chain.w3.eth.block_number and st.lag == 0
    assert st.events == len(dump_tables(db_url)["events"]) == indexer.store.count_events()
