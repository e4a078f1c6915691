"""Performance report intake over HTTP (`POST /v1/performance`), against a real Anvil and each
database: what involves the chain or the database's concurrency and upserts. A later batch
replaces a provider's earlier report; concurrent duplicates are stored once; a detector the index
has not seen is looked up on chain; a batch's epoch is judged by the chain's clock. And, on each
database, replays and conflicts by content and the refusal of a computed epoch.

The rest of the endpoint's behaviour (bodies, fields, signatures, documents) needs neither:
tests/unit/test_performance_intake_http.py, in-process.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from staking.devnet.accounts import devnet_account
from staking.intake.performance import PerformanceIntake
from staking.intake.results import Accepted, Outcome, Replay
from staking.performance import PerformanceBatch, ProviderReport
from staking.rewards.eligibility import PerformanceReport
from staking.verdict import Domain
from tests.support.intake import NEW_DETECTOR_INDEX
from tests.support.intake import Api as VerdictApi
from tests.support.performance import (
    PostsBatches,
    close_epoch,
)

pytestmark = pytest.mark.integration


@dataclass
class PerfApi(PostsBatches, VerdictApi):
    """The verdict intake tests' app over an indexed devnet, driven with performance batches: what
    a rejection must leave untouched are the performance tables."""

    @property
    def domain(self) -> Domain:
        return self.intake.domain

    def epoch(self) -> int:
        return self.chain.staking.current_epoch()

    def batch_providers(self) -> list[str]:
        return list(self.chain.providers)


@pytest.fixture
def perf(api: VerdictApi) -> PerfApi:
    # `api` indexed the devnet first: DETECTOR_ROLE in `roles`, the epoch clock in `meta`.
    return PerfApi(api.chain, api.engine, api.intake, api.client, api.on_chain_checks)


# ------------------------------------------------------------- upserts and concurrent duplicates


def test_a_later_batch_replaces_a_providers_earlier_report(perf: PerfApi) -> None:
    first = perf.batch([0, 1])
    assert perf.post(perf.body(first)).status_code == 202
    worse = PerformanceReport(uptime_bps=9_000, response_ms_p50=400, error_rate_bps=300, rating_bps=7_000)
    second = perf.batch([1, 2], report=worse)
    assert perf.post(perf.body(second)).status_code == 202
    p = perf.chain.providers
    assert perf.reports(first.epoch) == {
        p[0]: (first.id_hex, 9_990, 120, 10, 9_000),
        p[1]: (second.id_hex, 9_000, 400, 300, 7_000),
        p[2]: (second.id_hex, 9_000, 400, 300, 7_000),
    }
    assert perf.counts() == {"performance_batches": 2, "performance_reports": 3}


def test_concurrent_duplicate_submissions_store_one_batch(perf: PerfApi) -> None:
    now = perf.chain.now()
    intake = PerformanceIntake(perf.engine, perf.intake.detectors, clock=lambda: float(now))
    body = perf.body(perf.batch(range(5)))
    gate = threading.Barrier(8)

    def send(_: int) -> Outcome:
        gate.wait()  # all eight at once
        return intake.submit(dict(body))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(send, range(8), timeout=60))
    assert [type(r) for r in results].count(Accepted) == 1
    assert [type(r) for r in results].count(Replay) == 7
    resources = [r.resource for r in results if isinstance(r, Accepted | Replay)]
    assert all(doc == resources[0] for doc in resources)
    assert perf.counts() == {"performance_batches": 1, "performance_reports": 5}


# -------------------------------------------------------------------- the detector role on chain


def test_a_detector_granted_after_indexing_is_accepted_through_the_chain(perf: PerfApi) -> None:
    fresh = devnet_account(NEW_DETECTOR_INDEX)
    perf.rejects_body(401, perf.body(perf.batch(), key=fresh.key))
    perf.chain.tx(perf.chain.staking.grant_role("DETECTOR_ROLE", fresh.address), perf.chain.governance)
    r = perf.post(perf.body(perf.batch(), key=fresh.key))
    assert r.status_code == 202, r.text
    assert r.json()["signer"] == fresh.address
    assert perf.on_chain_checks == [fresh.address, fresh.address]


def test_the_indexed_detector_needs_no_chain_call(perf: PerfApi) -> None:
    assert perf.post(perf.body(perf.batch())).status_code == 202
    assert perf.on_chain_checks == []


# ------------------------------------------------------------------- epochs on the chain's clock


def test_a_batch_for_an_epoch_that_has_not_begun_is_malformed_until_it_begins(perf: PerfApi) -> None:
    current = perf.epoch()
    future = perf.body(perf.batch(epoch=current + 1))
    doc = perf.rejects_body(422, future)
    assert doc["type"] == "/problems/invalid-performance-batch"
    assert [e["field"] for e in doc["errors"]] == ["epoch"] and str(current) in doc["errors"][0]["message"]
    perf.rejects_body(422, perf.body(perf.batch(epoch=2**64 - 1)))
    # Once the chain's clock reaches that epoch, the same signed batch is welcome.
    length = perf.chain.staking.contract.functions.epochLength().call()
    perf.chain.advance(length)
    assert perf.epoch() == current + 1
    assert perf.post(future).status_code == 202


def test_a_batch_for_an_earlier_open_epoch_is_accepted(perf: PerfApi) -> None:
    length = perf.chain.staking.contract.functions.epochLength().call()
    perf.chain.advance(2 * length)
    r = perf.post(perf.body(perf.batch(epoch=perf.epoch() - 1)))
    assert r.status_code == 202, r.text


# ---- the same answers on each database: replays, conflicts, history and paging in SQL


def test_the_same_batch_again_is_answered_identically_and_stored_once(perf: PerfApi) -> None:
    body = perf.body(perf.batch())
    first = perf.post(body)
    assert first.status_code == 202
    for _ in range(3):
        again = perf.post(body)
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
    assert perf.counts() == {"performance_batches": 1, "performance_reports": 3}
    # Lower-case and upper-case hex ids name the same batch.
    assert perf.post(dict(body, id=body["id"].upper().replace("0X", "0x"))).status_code == 200


def test_a_used_id_with_other_reports_is_a_conflict_and_changes_nothing(perf: PerfApi) -> None:
    batch = perf.batch(range(2))
    assert perf.post(perf.body(batch)).status_code == 202
    before = perf.reports(batch.epoch)
    worse = PerformanceReport(uptime_bps=5_000, response_ms_p50=900, error_rate_bps=800, rating_bps=100)
    changed = PerformanceBatch(batch.id, batch.epoch, (ProviderReport(batch.reports[0].provider, worse),))
    doc = perf.rejects_body(409, perf.body(changed))
    assert doc["type"] == "/problems/performance-batch-conflict"
    assert perf.reports(batch.epoch) == before


def test_a_batch_for_a_computed_epoch_is_refused(perf: PerfApi) -> None:
    accepted = perf.body(perf.batch([0]))
    assert perf.post(accepted).status_code == 202
    epoch = accepted["epoch"]
    before = perf.reports(epoch)
    close_epoch(perf.engine, epoch)
    doc = perf.rejects_body(409, perf.body(perf.batch([0, 1], report=PerformanceReport(0, 5_000, 10_000, 0))))
    assert doc["type"] == "/problems/epoch-closed" and doc["epoch"] == epoch
    assert doc["href"] == f"/v1/epochs/{epoch}"
    assert perf.reports(epoch) == before
    # A detector retrying a batch that was accepted before the epoch closed still gets its answer.
    assert perf.post(accepted).status_code == 200
