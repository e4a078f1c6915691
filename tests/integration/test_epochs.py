"""Reward epochs on a real Anvil and each database: published epochs never change, and a service
that was stopped catches up on missed epochs in order, with the roots an uninterrupted run computes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak
from sqlalchemy import select

from staking.db import schema as t
from staking.db.engine import upgrade
from staking.domain.events import DecodedEvent
from staking.domain.vocabulary import TOKEN
from staking.rewards.epochs import (
    EpochImmutable,
    compute_epoch,
    epoch_row,
    store_epoch,
    window,
)
from tests.support.chain import Chain
from tests.support.epochs import GOOD, GRACE, Oracle, chain_clock, file_reports, varied_reports

pytestmark = pytest.mark.integration


Event = tuple[DecodedEvent, int]


def event(name: str, at: int, **args: Any) -> Event:
    """An event as the indexer decodes it, mined at time `at` (block number = time, for order)."""
    return DecodedEvent(name, at, f"0x{at:064x}", 0, "0x" + "ab" * 32, at, args), at


def jailed(provider: str, at: int) -> Event:
    return event(
        "Jailed", at, provider=provider, verdictId="0x" + "11" * 32, until=0, eventType=0, severity=3
    )


EPOCH_PUBLISHED_SIGNATURE = "EligibilityPublished(uint64,bytes32,uint256,uint256,string)"


def service_first(oracle: Oracle) -> int:
    """The first epoch the service reconciled: the deployment block's."""
    with oracle.engine.connect() as conn:
        return int(
            conn.execute(select(t.reward_epochs.c.epoch).order_by(t.reward_epochs.c.epoch)).scalars().first()
        )


@pytest.mark.integration
def test_an_unpublished_epoch_recomputes_to_the_same_root_and_a_published_one_never_changes(
    db_url: str, chain: Chain
) -> None:
    clock = chain_clock(chain)
    epoch = clock.epoch_at(chain.now()) + 1
    chain.mine(window(clock, epoch)[0] + 10)
    chain.approve_and_stake(chain.providers[0], 1_000 * TOKEN)  # mid-epoch
    oracle = Oracle.start(chain, db_url)
    file_reports(oracle.engine, epoch, varied_reports(chain.providers, epoch))
    chain.mine(window(clock, epoch + 1)[0] + GRACE)
    oracle.index()

    with oracle.engine.begin() as conn:
        first = compute_epoch(conn, epoch, clock, oracle.rules)
        store_epoch(conn, first, now_ms=1_000)
    with oracle.engine.begin() as conn:
        again = compute_epoch(conn, epoch, clock, oracle.rules)
        store_epoch(conn, again, now_ms=2_000)  # an unpublished epoch may be recomputed: to the same root
    assert (again.root, again.inputs_hash, again.weights) == (first.root, first.inputs_hash, first.weights)
    assert first.eligible == len(chain.providers) and first.root != "0x" + "00" * 32

    oracle.settle()
    assert chain.staking.epoch(epoch).merkle_root.hex() == first.root[2:]
    with oracle.engine.connect() as conn:
        published = epoch_row(conn, epoch)
    assert published is not None and published["state"] == "published"

    # A late report would change the weights: the published epoch keeps what went on chain.
    with oracle.engine.begin() as conn:
        conn.execute(t.performance_reports.delete().where(t.performance_reports.c.epoch == epoch))
    file_reports(oracle.engine, epoch, {chain.providers[1]: GOOD})
    with oracle.engine.begin() as conn:
        changed = compute_epoch(conn, epoch, clock, oracle.rules)
        assert changed.root != first.root
        with pytest.raises(EpochImmutable):
            store_epoch(conn, changed, now_ms=3_000)
    with oracle.engine.connect() as conn:
        assert epoch_row(conn, epoch) == published
        weights = conn.execute(select(t.reward_weights).where(t.reward_weights.c.epoch == epoch)).all()
    assert len([w for w in weights if w.eligible]) == first.eligible


@pytest.mark.integration
def test_a_service_stopped_for_three_epochs_publishes_them_in_order_with_an_uninterrupted_runs_roots(
    db_url: str, chain: Chain, tmp_path: Path
) -> None:
    """The service (on `db_url`) runs through epoch k, stops for k+1..k+3 and restarts after them.
    An auditor on a second database (SQLite), indexed and reconciled after every epoch without
    sending anything, computes each epoch while later ones have not happened yet: the restarted
    service must publish the three epochs in order, with exactly the auditor's roots."""
    s, p = chain.staking, chain.providers
    clock = chain_clock(chain)
    k = clock.epoch_at(chain.now())
    auditor_url = f"sqlite:///{tmp_path}/auditor.db"
    upgrade(auditor_url)
    service = Oracle.start(chain, db_url)
    auditor = Oracle.start(chain, auditor_url, publish=False)

    def start_of(epoch: int, offset: int = 0) -> None:
        chain.mine(window(clock, epoch)[0] + offset)

    start_of(k + 1, GRACE)
    service.settle()  # epochs up to k: published (empty: no reports)
    assert auditor.reconcile().computed == list(range(service_first(service), k + 1))
    # ---- the service is stopped from here on
    for epoch in (k + 1, k + 2, k + 3):
        for oracle in (service, auditor):  # the detectors' reports reach both databases
            file_reports(oracle.engine, epoch, varied_reports(p, epoch))
    chain.approve_and_stake(p[0], 4_000 * TOKEN)  # epoch k+1: more stake mid-epoch
    v, sig = chain.signed(p[1])
    chain.tx(s.jail(v, sig, 0), chain.service)  # jailed: nothing for k+1 and k+2
    slash, slash_sig = chain.signed(p[2])
    chain.tx(s.propose_slash(slash, slash_sig, 1_000), chain.service)  # pending at the end of k+1
    chain.tx(s.request_unbond(500 * TOKEN), p[3])
    start_of(k + 2, GRACE)
    assert auditor.reconcile().computed == [k + 1]
    chain.tx(s.execute_slash(slash.id), chain.governance)  # epoch k+2: the slash takes 10 % mid-epoch
    chain.approve_and_stake(p[4], 1_000 * TOKEN)
    start_of(k + 3, GRACE)
    assert auditor.reconcile().computed == [k + 2]
    chain.tx(s.reinstate(p[1]), chain.governance)  # epoch k+3: reinstated, jailed in it still
    chain.advance(200)
    chain.tx(s.request_unbond(1_000 * TOKEN), p[5])
    start_of(k + 4, GRACE)
    assert auditor.reconcile().computed == [k + 3]
    missed = [k + 1, k + 2, k + 3]

    # ---- restart
    service = Oracle.start(chain, db_url)
    runs = service.settle()
    assert runs[0].computed == missed and runs[0].submitted == missed, runs[0]
    assert sorted(e for r in runs for e in r.published) == missed
    logs = chain.w3.eth.get_logs(
        {"address": s.address, "fromBlock": 0, "topics": [keccak(text=EPOCH_PUBLISHED_SIGNATURE)]}
    )
    order = [
        int(log["topics"][1].hex(), 16)
        for log in sorted(logs, key=lambda x: (x["blockNumber"], x["logIndex"]))
    ]
    assert [e for e in order if e in missed] == missed, "published in epoch order"

    ours, theirs = service.roots(missed), auditor.roots(missed)
    assert ours == theirs, "the catch-up computes what an uninterrupted run computed"
    assert {e: "0x" + s.epoch(e).merkle_root.hex() for e in missed} == ours
    with service.engine.connect() as conn:
        eligible = {e: (epoch_row(conn, e) or {})["eligible"] for e in missed}
        weights = {
            (int(r.epoch), r.provider): (r.eligible, json.loads(r.reasons))
            for r in conn.execute(select(t.reward_weights).where(t.reward_weights.c.epoch.in_(missed)))
        }
    assert eligible == {k + 1: len(p) - 2, k + 2: len(p) - 1, k + 3: len(p) - 1}, eligible
    assert weights[(k + 1, p[1])][0] is False and weights[(k + 3, p[1])][0] is False  # jailed in both
    assert weights[(k + 1, p[2])] == (False, ["a slash is pending"])
    assert weights[(k + 2, p[2])][0] is True  # the slash executed: no longer pending
    # The auditor now sees the service's publications and finds the same roots on chain.
    audit = auditor.reconcile()
    assert sorted(audit.published) == missed and not audit.mismatched
