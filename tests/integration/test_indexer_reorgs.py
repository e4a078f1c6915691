"""Reorgs injected with Anvil's `anvil_reorg`: the replacement blocks carry different stakes, unbonds
and slash proposals. After re-indexing, the projection equals the chain and no stored event or block
refers to an orphaned block hash.

`anvil_reorg [depth, [[tx, offset], ...]]` replaces the last `depth` blocks by as many new ones
(with the parent's timestamp), putting each tx object into the block at `offset` from the fork
point; the orphaned blocks' transactions are dropped. Every test runs on an Anvil of its own (see
the `chain` fixture below), and every reorg stays within blocks the test mined itself."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from indexer.source import ChainSource
from staking.deployment import Deployment
from staking.devnet.accounts import devnet_account
from tests.support.actors import PROVIDER_CANDIDATES, Actor, send
from tests.support.chain import Chain
from tests.support.indexing import dump_tables, index_to_head, make_indexer, noncanonical_rows
from tests.support.processes import anvil_from_state, dump_provisioned_state
from tests.support.views import Views, assert_projection_matches_chain

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Deployment]:
    path = tmp_path_factory.mktemp("state") / "state.json"
    return path, dump_provisioned_state(path)


@pytest.fixture
def chain(provisioned: tuple[Path, Deployment]) -> Iterator[Chain]:
    """A provisioned devnet of this test's own (this module overrides the shared session chain).

    Anvil's `anvil_reorg` builds the new blocks on an empty state (the contracts vanish) once the
    node has been through many snapshot/revert rounds: about 20 rounds of 60 blocks on the shared
    session node are enough. A node loaded from the provisioned state per test starts at ~0.3 s
    and has a short history."""
    state, deployment = provisioned
    with anvil_from_state(state) as (w3, url):
        yield Chain(w3, deployment.model_copy(update={"rpc_url": url}))


NO_PAUSE = frozenset({"pause+unpause"})  # a fork point inside a pause would make replacements revert


def replacement_txs(chain: Chain, rng: random.Random, depth: int) -> tuple[list[list[Any]], list[str]]:
    """Transactions for the `depth` replacement blocks, valid on the fork point's state: a stake of a
    fresh amount, an unbond, and a slash proposal that never existed. Returns ([[tx, offset]], new
    slash ids)."""
    fork = chain.w3.eth.block_number - depth
    v = Views(chain, block=fork)
    everyone = [devnet_account(i).address for i in PROVIDER_CANDIDATES]
    recs, balances, allowances = v.many(v.read_providers(everyone), v.read_balances(everyone),
                                        v.read_allowances(everyone))  # fmt: skip
    assert not v.scalar("paused()", "bool"), "fork point inside a pause"
    fork_time = v.now()
    registered = [a for a, r in recs.items() if r.registered]
    live = [a for a in registered if not recs[a].tombstoned]
    s = chain.staking
    txs: list[list[Any]] = []

    def add(fn: Any, sender: str) -> None:
        tx = {"from": sender, "to": s.address, "data": fn._encode_transaction_data(), "gas": hex(1_000_000)}
        txs.append([tx, rng.randrange(depth)])

    amount = rng.randrange(1, 10**18)
    stakers = [a for a in live if balances[a] >= amount and allowances[a] >= amount]
    bonded = [a for a in registered if recs[a].active > 0]
    if stakers:
        staker = rng.choice(stakers)
        add(s.stake(amount), staker)
        bonded = [a for a in bonded if a != staker]  # one transaction per provider: order-independent
    if bonded:
        unbonder = rng.choice(bonded)
        add(s.request_unbond(rng.randrange(1, recs[unbonder].active + 1)), unbonder)
    verdict = chain.verdict(rng.choice(registered), detected_at=fork_time)
    add(s.propose_slash(verdict, chain.sign(verdict), rng.choice([1, 2_500, 10_000])), chain.service)
    return txs, ["0x" + verdict.id.hex()]


def reorg(chain: Chain, depth: int, txs: list[list[Any]]) -> None:
    head = chain.w3.eth.block_number
    old = chain.rpc("eth_getBlockByNumber", hex(head), False)["hash"]
    chain.rpc("anvil_reorg", depth, txs)
    assert chain.w3.eth.block_number == head
    assert chain.rpc("eth_getBlockByNumber", hex(head), False)["hash"] != old, "the reorg changed nothing"
    receipts = [
        r for n in range(head - depth + 1, head + 1) for r in chain.rpc("eth_getBlockReceipts", hex(n))
    ]
    assert len(receipts) == len(txs), f"{len(txs)} replacement txs, {len(receipts)} mined"
    assert all(int(r["status"], 16) == 1 for r in receipts), "a replacement transaction reverted"


def build_history(chain: Chain, actor: Actor, blocks: int) -> None:
    """Random activity until the test has mined at least `blocks` blocks (so a reorg of that depth
    stays inside the test's own blocks)."""
    start = chain.w3.eth.block_number
    while chain.w3.eth.block_number - start < blocks:
        actor.step()


# seeds 1..5 x depths 1..20 on SQLite; PostgreSQL takes one depth per seed (the same code path, and
# each case costs a couple of seconds).
DEPTHS = (1, 2, 5, 10, 20)
CASES = [pytest.param(seed, depth, "sqlite", id=f"sqlite-seed{seed}-depth{depth}")
         for seed in range(1, 6) for depth in DEPTHS]  # fmt: skip
CASES += [pytest.param(seed, depth, "postgresql", id=f"postgresql-seed{seed}-depth{depth}")
          for seed, depth in zip(range(1, 6), DEPTHS, strict=True)]  # fmt: skip


@pytest.mark.parametrize(("seed", "depth", "db_url"), CASES, indirect=["db_url"])
def test_reorg_replacing_stakes_and_slashes_leaves_projection_equal_to_chain(
    chain: Chain, db_url: str, seed: int, depth: int
) -> None:
    rng = random.Random(seed * 1_000 + depth)
    actor = Actor(chain, rng, exclude=NO_PAUSE)
    actor.run(0)  # allowances
    build_history(chain, actor, depth + 2)
    indexed = index_to_head(db_url, chain).status.indexed
    assert indexed is not None
    if rng.random() < 0.5:  # the reorg then spans indexed and not yet indexed blocks
        actor.run(rng.randrange(1, 4))
    fork = chain.w3.eth.block_number - depth
    txs, new_slashes = replacement_txs(chain, rng, depth)
    reorg(chain, depth, txs)

    indexer = index_to_head(db_url, chain)
    assert indexer.status.reorgs == (1 if fork < indexed else 0)
    assert noncanonical_rows(db_url, chain) == []
    assert_projection_matches_chain(db_url, chain, actor.slash_ids + new_slashes)
    stored = {r["id"] for r in dump_tables(db_url)["slashes"]}
    assert set(new_slashes) <= stored, "the slash proposed only on the new fork is missing"


def test_reorg_deeper_than_the_last_batch_finds_an_older_common_ancestor(chain: Chain, db_url: str) -> None:
    rng = random.Random(77)
    actor = Actor(chain, rng, exclude=NO_PAUSE)
    actor.run(0)
    build_history(chain, actor, 12)
    index_to_head(db_url, chain)
    first_batch_tip = chain.w3.eth.block_number
    chain.rpc("anvil_mine", hex(25))  # no events: the next batch has only its last block to store
    index_to_head(db_url, chain)
    # The fork point lies 8 blocks below the previous batch's tip, in blocks that carried events:
    # nothing the last batch stored is a common ancestor.
    depth = chain.w3.eth.block_number - first_batch_tip + 8
    txs, new_slashes = replacement_txs(chain, rng, depth)
    reorg(chain, depth, txs)

    index_to_head(db_url, chain)
    assert_projection_matches_chain(db_url, chain, actor.slash_ids + new_slashes)


def test_reorg_orphaning_more_stored_blocks_than_one_ancestor_page(chain: Chain, db_url: str) -> None:
    # The ancestor search reads stored blocks 64 at a time; orphan 70 blocks that all carry events.
    actor = Actor(chain, random.Random(3), exclude=NO_PAUSE)
    actor.run(2)
    staker = chain.providers[0]
    for _ in range(70):
        send(chain, chain.staking.stake(1), staker)
    index_to_head(db_url, chain)
    assert len(dump_tables(db_url)["blocks"]) > 70
    txs, new_slashes = replacement_txs(chain, random.Random(4), 70)
    reorg(chain, 70, txs)

    index_to_head(db_url, chain)
    assert_projection_matches_chain(db_url, chain, actor.slash_ids + new_slashes)


class ReorgDuringHeadCheck(ChainSource):
    """Passes every call through to the node, but the first `head()` call lets a reorg land first:
    the node reorganises between the indexer's checkpoint check and its log query."""

    def __init__(self, w3: Web3, address: str, before_head: Any) -> None:
        super().__init__(w3, address)
        self.before_head = before_head

    def head(self) -> int:
        if self.before_head is not None:
            pending, self.before_head = self.before_head, None
            pending()
        return super().head()


def test_reorg_landing_between_checkpoint_check_and_log_query_is_still_detected(
    chain: Chain, db_url: str
) -> None:
    rng = random.Random(99)
    actor = Actor(chain, rng, exclude=NO_PAUSE)
    actor.run(0)
    build_history(chain, actor, 8)
    indexed = index_to_head(db_url, chain).status.indexed
    assert indexed is not None
    actor.run(3)  # not indexed yet
    depth = chain.w3.eth.block_number - indexed + 3  # the fork point lies below the checkpoint
    txs, new_slashes = replacement_txs(chain, rng, depth)

    indexer = make_indexer(db_url, chain)
    indexer.source = ReorgDuringHeadCheck(chain.w3, chain.staking.address, lambda: reorg(chain, depth, txs))
    index_to_head(db_url, chain, indexer=indexer)
    index_to_head(db_url, chain)  # and a later run must not leave the orphaned rows behind either
    assert_projection_matches_chain(db_url, chain, actor.slash_ids + new_slashes)


def test_long_lived_indexer_reaches_head_again_after_a_reorg(chain: Chain, db_url: str) -> None:
    # `serve` keeps one Indexer; `run(exit_at_head=True)` on it must not stop at the common ancestor.
    rng = random.Random(5)
    actor = Actor(chain, rng, exclude=NO_PAUSE)
    actor.run(0)
    build_history(chain, actor, 6)
    indexer = index_to_head(db_url, chain)
    txs, new_slashes = replacement_txs(chain, rng, 4)
    reorg(chain, 4, txs)
    index_to_head(db_url, chain, indexer=indexer)
    assert indexer.status.reorgs == 1
    assert_projection_matches_chain(db_url, chain, actor.slash_ids + new_slashes)


def test_reorgs_orphaning_an_appeals_resolution_then_the_appeal_roll_the_appeal_back(
    chain: Chain, db_url: str
) -> None:
    c, s = chain, chain.staking
    p = c.providers[0]
    v, sig = c.signed(p)
    c.tx(s.propose_slash(v, sig, 500), c.service)
    window_end = s.slash(v.id).executable_at
    c.tx(c.token.approve(s.address, s.appeal_params().bond), p)
    c.tx(s.appeal_slash(v.id, b"\x0e" * 32), p)
    c.tx(s.resolve_appeal(v.id, False, b"\x0f" * 32), c.governance)
    index_to_head(db_url, chain)
    (appeal,) = dump_tables(db_url)["appeals"]
    assert appeal["state"] == "rejected"

    reorg(chain, 1, [])  # the rejection's block replaced by an empty one
    index_to_head(db_url, chain)
    tables = dump_tables(db_url)
    (appeal,) = tables["appeals"]
    assert (appeal["state"], appeal["executable_at"], appeal["resolved_at"]) == ("open", None, None)
    (slash,) = [r for r in tables["slashes"] if r["id"] == "0x" + v.id.hex()]
    assert slash["executable_at"] == window_end == s.slash(v.id).executable_at
    assert s.get_appeal(v.id).state == 1  # the chain agrees: open again

    reorg(chain, 2, [])  # now the appeal's block too
    index_to_head(db_url, chain)
    assert dump_tables(db_url)["appeals"] == [] and s.get_appeal(v.id).state == 0
    assert noncanonical_rows(db_url, chain) == []
    assert_projection_matches_chain(db_url, chain, ["0x" + v.id.hex()])
