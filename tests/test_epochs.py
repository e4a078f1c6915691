"""Reward epochs: the standing fold (time-weighted stake, jails, probation), deterministic roots,
published epochs that never change, and a service that catches up on missed epochs in order with
the roots an uninterrupted run computes."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak
from sqlalchemy import Engine, select

from indexer.runner import Indexer
from staking.db import schema as t
from staking.db.engine import make_engine, upgrade
from staking.devnet.accounts import SERVICE, devnet_account
from staking.domain.clock import EpochClock
from staking.domain.events import DecodedEvent
from staking.domain.vocabulary import TOKEN
from staking.rewards.eligibility import PerformanceReport, RewardRules
from staking.rewards.epochs import (
    EpochFold,
    EpochImmutable,
    compute_epoch,
    epoch_row,
    evaluate_epoch,
    store_epoch,
    window,
)
from staking.rewards.merkle import verify
from staking.txmanager.manager import TxConfig, TxManager
from staking.worker.jobs import Reconciled, reconcile_epochs
from tests.support.chain import Chain

CLOCK = EpochClock(genesis=1_000, length=100)  # epoch 1 = [1100, 1200)
GRACE = 60  # the default report grace on the devnet: a tenth of its 600 s epochs
GOOD = PerformanceReport(uptime_bps=9_990, response_ms_p50=120, error_rate_bps=10, rating_bps=9_000)


# ------------------------------------------------------------------------------------ helpers


def chain_clock(chain: Chain) -> EpochClock:
    fns = chain.staking.contract.functions
    return EpochClock(int(fns.epochGenesis().call()), int(fns.epochLength().call()))


def file_reports(engine: Engine, epoch: int, reports: dict[str, PerformanceReport]) -> None:
    """Performance reports for `epoch`, as the intake stores them (the latest batch's per provider)."""
    batch = "0x" + keccak(text=f"batch-{epoch}-{sorted(reports)}").hex()
    with engine.begin() as conn:
        conn.execute(
            t.performance_reports.insert(),
            [
                {
                    "epoch": epoch,
                    "provider": provider,
                    "batch_id": batch,
                    "uptime_bps": r.uptime_bps,
                    "response_ms_p50": r.response_ms_p50,
                    "error_rate_bps": r.error_rate_bps,
                    "rating_bps": r.rating_bps,
                    "received_ms": int(time.time() * 1000),
                }
                for provider, r in reports.items()
            ],
        )


def varied_reports(providers: list[str], epoch: int) -> dict[str, PerformanceReport]:
    """A passing report for every provider, with scores that differ by provider and epoch."""
    return {
        p: PerformanceReport(9_990 - 40 * i, 100 + 150 * ((i + epoch) % 5), 10 * i, 9_000 - 500 * i)
        for i, p in enumerate(providers)
    }


@dataclass
class Oracle:
    """The rewards side of a service: its database, its indexer and, unless it only audits, the
    service signer's transaction manager (a new one per start, as after a restart)."""

    chain: Chain
    engine: Engine
    txm: TxManager | None
    rules: RewardRules = field(default_factory=RewardRules)

    @classmethod
    def start(cls, chain: Chain, db_url: str, publish: bool = True) -> Oracle:
        engine = make_engine(db_url)
        txm = None
        if publish:
            txm = TxManager(engine, chain.w3, devnet_account(SERVICE), TxConfig(), chain.staking.error_name)
            txm.reconcile()
        return cls(chain, engine, txm)

    def index(self) -> None:
        Indexer(self.engine, self.chain.w3, self.chain.deployment).run(exit_at_head=True)

    def reconcile(self) -> Reconciled:
        self.index()
        return reconcile_epochs(self.engine, self.chain.staking, self.txm, self.rules)

    def settle(self) -> list[Reconciled]:
        """Runs the job until nothing is publishing any more (receipts, the indexer and the job in
        turn, as the worker's scheduler does); returns every run."""
        runs = [self.reconcile()]
        for _ in range(10):
            if not self.states().intersection({"publishing", "computed", "empty"}):
                return runs
            if self.txm is not None:
                self.txm.tick()
            runs.append(self.reconcile())
        raise AssertionError(f"epochs still unpublished: {self.states()}")

    def states(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(t.reward_epochs.c.state)).scalars())

    def roots(self, epochs: list[int]) -> dict[int, str]:
        with self.engine.connect() as conn:
            return {e: (epoch_row(conn, e) or {}).get("merkle_root", "") for e in epochs}


# ------------------------------------------------------------------------------------ the fold (unit)


Event = tuple[DecodedEvent, int]


def event(name: str, at: int, **args: Any) -> Event:
    """An event as the indexer decodes it, mined at time `at` (block number = time, for order)."""
    return DecodedEvent(name, at, f"0x{at:064x}", 0, "0x" + "ab" * 32, at, args), at


def registered(provider: str, at: int = 1_000, gpus: int = 2) -> Event:
    return event("ProviderRegistered", at, provider=provider, **{"class": 0}, gpus=gpus, metadataURI="")


def staked(provider: str, at: int, active: int) -> Event:
    return event("Staked", at, provider=provider, amount=active, active=active)


def class_params(at: int, base: int, per_gpu: int) -> Event:
    args = {"class": 0, "baseMinStake": base, "perGpuMinStake": per_gpu, "unbondingPeriod": 7 * 86_400}
    return event("ClassParamsSet", at, **args)


def jailed(provider: str, at: int) -> Event:
    return event(
        "Jailed", at, provider=provider, verdictId="0x" + "11" * 32, until=0, eventType=0, severity=3
    )


def unjailed(provider: str, at: int) -> Event:
    return event("Unjailed", at, provider=provider, by=provider)


def proposed(provider: str, at: int, slash: int = 1) -> Event:
    args = {"bps": 1_000, "amount": 1_000, "executableAt": at + 120, "eventType": 0, "severity": 3}
    return event(
        "SlashProposed", at, id=f"0x{slash:064x}", provider=provider, evidenceHash="0x" + "22" * 32, **args
    )


def fold(events: list[Event], epoch: int = 1) -> EpochFold:
    f = EpochFold(CLOCK, epoch)
    for ev, at in [class_params(900, 1_000, 500), *events]:
        f.apply(ev, at)
    return f


@pytest.mark.unit
def test_time_weighted_stake_counts_each_amount_for_the_seconds_it_was_bonded_in_the_epoch() -> None:
    events = [
        *(registered(p) for p in "ABCDF"),
        staked("A", 1_010, 10_000),  # before the epoch: all of it, all along
        staked("B", 1_150, 4_000),  # staked mid-epoch: half the epoch
        staked("C", 1_010, 10_000),
        proposed("C", 1_100),
        event(
            "SlashExecuted",
            1_125,
            id=f"0x{1:064x}",
            provider="C",
            amount=1_000,
            fromActive=1_000,
            fromUnbonding=0,
        ),
        staked("D", 1_010, 10_000),
        event(
            "UnbondRequested",
            1_180,
            provider="D",
            amount=4_000,
            active=6_000,
            unbonding=4_000,
            unbondingEnd=9_999,
        ),
        registered("E", at=1_160),  # registers mid-epoch, stakes 3,000 for the last 30 s
        staked("E", 1_170, 3_000),
        staked("F", 1_199, 100_000),  # the last second
    ]
    s = fold(events).standings()
    assert s["A"].time_weighted_stake == 10_000
    assert s["B"].time_weighted_stake == 4_000 * 50 // 100
    assert s["C"].time_weighted_stake == (10_000 * 25 + 9_000 * 75) // 100 == 9_250
    assert not s["C"].pending_slash, "the slash was executed within the epoch"
    assert s["D"].time_weighted_stake == (10_000 * 80 + 6_000 * 20) // 100
    assert s["E"].time_weighted_stake == 900
    assert s["F"].time_weighted_stake == 1_000
    assert s["A"].min_stake == 1_000 + 500 * 2  # minStakeOf: base + per GPU x declared GPUs
    with pytest.raises(ValueError):  # a block stamped at the end belongs to the next epoch
        fold(events).apply(*staked("A", 1_200, 1))


@pytest.mark.unit
def test_a_jail_at_any_moment_of_the_epoch_counts_and_standing_at_the_end_is_what_counts() -> None:
    events = [
        *(registered(p) for p in "JKLMNOPQ"),
        jailed("J", 1_020),  # jailed before, freed before: clean
        unjailed("J", 1_050),
        jailed("K", 1_020),  # jailed before, freed mid-epoch
        unjailed("K", 1_130),
        jailed("L", 1_110),  # jailed and freed within the epoch
        unjailed("L", 1_111),
        jailed("M", 1_020),  # jailed all along, no event of its own in the epoch
        event("Tombstoned", 1_150, provider="N", reasonHash="0x" + "33" * 32),
        event("RecoveryBegun", 1_150, provider="O", path=2, stage=2),
        proposed("P", 1_190, slash=2),
        proposed("Q", 1_010, slash=3),  # pending before, vetoed within
        event("SlashVetoed", 1_120, id=f"0x{3:064x}", provider="Q", vetoer="V", reasonHash="0x" + "44" * 32),
    ]
    s = fold(events).standings()
    assert [p for p in "JKLMNOPQ" if s[p].jailed] == ["K", "L", "M", "N"]
    assert [p for p in s if s[p].tombstoned] == ["N"]
    assert [p for p in s if s[p].in_recovery] == ["O"]
    assert [p for p in s if s[p].pending_slash] == ["P"]


@pytest.mark.unit
def test_probation_covers_the_reinstatement_epoch_and_the_next_ones_up_to_probation_epochs() -> None:
    events = [registered("R"), event("Reinstated", 1_150, provider="R", path=2, probationEpochs=3)]
    on = [e for e in range(1, 6) if fold(events, e).standings()["R"].probation]
    assert on == [1, 2, 3]  # reinstated in epoch 1: epochs 1-3 at reduced weight, 4 at full


@pytest.mark.unit
def test_the_class_minimum_is_the_one_in_force_at_the_end_of_the_epoch() -> None:
    f = fold([registered("G", gpus=4)])
    f.apply(*class_params(1_150, 2_000, 100))
    assert f.standings()["G"].min_stake == 2_000 + 4 * 100


@pytest.mark.unit
def test_the_same_standings_and_reports_always_give_the_same_root_and_inputs_hash() -> None:
    providers = [f"0x{i:040x}" for i in range(1, 8)]
    events = [e for i, p in enumerate(providers) for e in (registered(p), staked(p, 1_010, 5_000 + i))]
    rules = RewardRules()
    reports = varied_reports(providers, 1)
    a = evaluate_epoch(1, 1_100, 1_200, fold(events).standings(), reports, rules)
    b = evaluate_epoch(
        1, 1_100, 1_200, fold(list(events)).standings(), dict(reversed(reports.items())), rules
    )
    assert (a.root, a.inputs_hash, a.total_weight) == (b.root, b.inputs_hash, b.total_weight)
    assert a.eligible == 7 and a.state == "computed"
    for address, weight in a.weights.items():
        assert verify(a.tree.proofs[address], a.tree.root, address, weight)
    worse = {**reports, providers[0]: PerformanceReport(9_990, 1_500, 10, 9_000)}
    c = evaluate_epoch(1, 1_100, 1_200, fold(events).standings(), worse, rules)
    assert c.inputs_hash != a.inputs_hash and c.root != a.root
    nobody = evaluate_epoch(1, 1_100, 1_200, fold(events).standings(), {}, rules)
    assert nobody.state == "empty" and nobody.total_weight == 0 and nobody.root == "0x" + "00" * 32


# ------------------------------------------------------------------------------------ on chain


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
        store_epoch(conn, first)
    with oracle.engine.begin() as conn:
        again = compute_epoch(conn, epoch, clock, oracle.rules)
        store_epoch(conn, again)  # an unpublished epoch may be recomputed: to the same root
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
            store_epoch(conn, changed)
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


EPOCH_PUBLISHED_SIGNATURE = "EligibilityPublished(uint64,bytes32,uint256,uint256,string)"


def service_first(oracle: Oracle) -> int:
    """The first epoch the service reconciled: the deployment block's."""
    with oracle.engine.connect() as conn:
        return int(
            conn.execute(select(t.reward_epochs.c.epoch).order_by(t.reward_epochs.c.epoch)).scalars().first()
        )
