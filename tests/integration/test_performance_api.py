"""Performance report intake over HTTP (`POST /v1/performance`), against a real Anvil and each
database: detector-signed batches are stored once, replays are idempotent, a later batch replaces
a provider's earlier report, and every rejection (401, 409, 413, 422, 503) is problem+json and
stores nothing.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from eth_utils import to_checksum_address
from httpx import Response
from sqlalchemy import Engine, delete, func, select

from staking.api.rewards import BATCH_TYPE, MAX_PERFORMANCE_BODY
from staking.db import schema as t
from staking.devnet.accounts import devnet_account
from staking.domain.vocabulary import Address
from staking.intake.performance import PerformanceIntake
from staking.intake.results import Accepted, Outcome, Replay
from staking.performance import TYPES, PerformanceBatch, ProviderReport, sign_batch, to_wire
from staking.rewards.eligibility import PerformanceReport
from staking.verdict import Domain
from tests.support.chain import STRANGER_INDEX
from tests.support.intake import (
    NEW_DETECTOR_INDEX,
    PROBLEM_JSON,
)
from tests.support.intake import Api as VerdictApi

pytestmark = pytest.mark.integration

DETECTOR_KEY = devnet_account(2).key
TABLES = (t.performance_batches, t.performance_reports)
GOOD = PerformanceReport(uptime_bps=9_990, response_ms_p50=120, error_rate_bps=10, rating_bps=9_000)


@dataclass
class PerfApi(VerdictApi):
    """The verdict intake tests' app over an indexed devnet, driven with performance batches: what
    a rejection must leave untouched are the performance tables."""

    @property
    def domain(self) -> Domain:
        return self.intake.domain

    def epoch(self) -> int:
        return self.chain.staking.current_epoch()

    def batch(
        self,
        providers: range | list[int] = range(3),
        epoch: int | None = None,
        report: PerformanceReport = GOOD,
    ) -> PerformanceBatch:
        reports = tuple(
            ProviderReport(to_checksum_address(self.chain.providers[i]), report) for i in providers
        )
        return PerformanceBatch(os.urandom(32), self.epoch() if epoch is None else epoch, reports)

    def body(
        self, batch: PerformanceBatch, key: Any = DETECTOR_KEY, domain: Domain | None = None
    ) -> dict[str, Any]:
        return to_wire(batch, sign_batch(batch, domain or self.domain, key))

    def post(self, body: Any) -> Response:
        return self.client.post("/v1/performance", json=body)

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                tbl.name: int(conn.execute(select(func.count()).select_from(tbl)).scalar_one())
                for tbl in TABLES
            }

    def reports(self, epoch: int) -> dict[str, tuple[Any, ...]]:
        r = t.performance_reports
        columns = (r.c.batch_id, r.c.uptime_bps, r.c.response_ms_p50, r.c.error_rate_bps, r.c.rating_bps)
        with self.engine.connect() as conn:
            rows = conn.execute(select(r.c.provider, *columns).where(r.c.epoch == epoch)).all()
        return {row[0]: tuple(row[1:]) for row in rows}

    def rejects_body(self, status: int, body: Any) -> dict[str, Any]:
        return self.rejects(status, lambda: self.post(body))


@pytest.fixture
def perf(api: VerdictApi) -> PerfApi:
    # `api` indexed the devnet first: DETECTOR_ROLE in `roles`, the epoch clock in `meta`.
    return PerfApi(api.chain, api.engine, api.intake, api.client, api.on_chain_checks)


def close_epoch(engine: Engine, epoch: int) -> None:
    """What the rewards job leaves behind once it computed an epoch's weights."""
    with engine.begin() as conn:
        conn.execute(
            t.reward_epochs.insert().values(
                epoch=epoch,
                state="computed",
                merkle_root="0x" + "00" * 32,
                total_weight=0,
                eligible=0,
                providers=0,
                uri="",
                inputs_hash="0" * 64,
                computed_ms=0,
            )
        )


# ------------------------------------------------------------------------------------ acceptance


def test_a_detectors_batch_is_accepted_and_stored_once(perf: PerfApi) -> None:
    batch = perf.batch(range(3))
    r = perf.post(perf.body(batch))
    assert r.status_code == 202, r.text
    doc = r.json()
    assert doc["id"] == batch.id_hex and doc["epoch"] == batch.epoch and doc["reports"] == 3
    assert doc["signer"] == perf.chain.detector and doc["received_at"].endswith("Z")
    assert perf.counts() == {"performance_batches": 1, "performance_reports": 3}
    expected = (batch.id_hex, 9_990, 120, 10, 9_000)
    assert perf.reports(batch.epoch) == {perf.chain.providers[i]: expected for i in range(3)}


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


# ------------------------------------------------------------------------------ authentication


@pytest.mark.parametrize("signer_index", [1, STRANGER_INDEX, 3], ids=["service-key", "stranger", "provider"])
def test_a_batch_signed_by_a_non_detector_is_unauthorized(perf: PerfApi, signer_index: int) -> None:
    account = devnet_account(signer_index)
    doc = perf.rejects_body(401, perf.body(perf.batch(), key=account.key))
    assert doc["type"] == "/problems/signer-not-detector" and doc["signer"] == account.address


@pytest.mark.parametrize("which", ["chain_id", "contract"])
def test_a_batch_signed_for_another_domain_is_unauthorized(perf: PerfApi, which: str) -> None:
    d = perf.domain
    if which == "chain_id":
        other = Domain(chain_id=1, verifying_contract=d.verifying_contract)
    else:
        token = perf.chain.deployment.contracts.SwarmToken
        other = Domain(chain_id=d.chain_id, verifying_contract=Address(to_checksum_address(token)))
    body = perf.body(perf.batch(), domain=other)
    doc = perf.rejects_body(401, body)
    assert doc["type"] == "/problems/signer-not-detector" and doc["signer"] != perf.chain.detector
    assert str(d.chain_id) in doc["detail"] and d.verifying_contract in doc["detail"]
    assert "www-authenticate" in perf.post(body).headers


def test_a_batch_changed_after_signing_is_unauthorized(perf: PerfApi) -> None:
    body = perf.body(perf.batch())
    body["reports"][1]["uptime_bps"] = 10_000
    doc = perf.rejects_body(401, body)
    assert doc["type"] == "/problems/signer-not-detector" and doc["signer"] != perf.chain.detector


@pytest.mark.parametrize(
    "mangle",
    [lambda sig: b"\x00" * 65, lambda sig: sig[:64] + bytes([sig[64] - 27])],
    ids=["zeros", "v as 0/1"],
)
def test_a_signature_the_contract_would_refuse_is_unauthorized(
    perf: PerfApi, mangle: Callable[[bytes], bytes]
) -> None:
    batch = perf.batch()
    body = to_wire(batch, mangle(sign_batch(batch, perf.domain, DETECTOR_KEY)))
    assert perf.rejects_body(401, body)["type"] == "/problems/invalid-signature"


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


# ------------------------------------------------------------------------------------- epochs


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


def test_without_the_indexed_epoch_clock_the_answer_is_a_retryable_503(perf: PerfApi) -> None:
    with perf.engine.begin() as conn:
        conn.execute(delete(t.meta).where(t.meta.c.key == "epoch_genesis"))
    r = perf.post(perf.body(perf.batch()))
    assert r.status_code == 503 and r.headers["content-type"] == PROBLEM_JSON
    assert r.json()["type"] == "/problems/epoch-clock-unknown" and r.headers["retry-after"].isdigit()
    assert perf.counts() == {"performance_batches": 0, "performance_reports": 0}


# -------------------------------------------------------------------------------- malformed input


def test_every_malformed_field_is_named_and_nothing_is_stored(perf: PerfApi) -> None:
    body = perf.body(perf.batch(range(2)))
    body["id"] = "0x1234"
    body["epoch"] = "twelve"
    body["reports"][0]["uptime_bps"] = 10_001
    body["reports"][1]["provider"] = "0x90f79bf6EB2c4f870365E785982E1f101E93b906"  # bad EIP-55 checksum
    body["surprise"] = True
    doc = perf.rejects_body(422, body)
    assert doc["type"] == "/problems/invalid-performance-batch"
    assert {e["field"] for e in doc["errors"]} == {
        "id",
        "epoch",
        "reports[0].uptime_bps",
        "reports[1].provider",
        "surprise",
    }
    assert "5 field(s)" in doc["detail"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"signature": "0x12"}, "signature"),
        ({"reports": []}, "reports"),
        ({"epoch": -1}, "epoch"),
    ],
)
def test_a_malformed_field_is_named(perf: PerfApi, change: dict[str, Any], field: str) -> None:
    doc = perf.rejects_body(422, dict(perf.body(perf.batch()), **change))
    assert [e["field"] for e in doc["errors"]] == [field]


def test_a_provider_reported_twice_is_malformed(perf: PerfApi) -> None:
    body = perf.body(perf.batch([0]))
    body["reports"] = body["reports"] * 2
    doc = perf.rejects_body(422, body)
    assert [e["field"] for e in doc["errors"]] == ["reports[1].provider"]


@pytest.mark.parametrize(
    "raw", [b"", b"{not json", b"\xff\xfe\x00", b"[1, 2]"], ids=["empty", "broken", "binary", "array"]
)
def test_a_body_that_is_not_a_json_object_is_malformed(perf: PerfApi, raw: bytes) -> None:
    headers = {"content-type": "application/json"}
    doc = perf.rejects(422, lambda: perf.client.post("/v1/performance", content=raw, headers=headers))
    assert [e["field"] for e in doc["errors"]] == ["body"]


def test_an_oversized_body_is_refused_and_the_largest_batch_is_not(perf: PerfApi) -> None:
    big = b'{"pad": "' + b"x" * MAX_PERFORMANCE_BODY + b'"}'
    doc = perf.rejects(413, lambda: perf.client.post("/v1/performance", content=big))
    assert doc["type"] == "/problems/body-too-large"
    # 1,000 reports, pretty-printed, fit under the limit (and are judged on their content).
    reports = [
        {
            "provider": "0x" + f"{i:040x}",
            "uptime_bps": 10_000,
            "response_ms_p50": 2**32 - 1,
            "error_rate_bps": 10_000,
            "rating_bps": 10_000,
        }
        for i in range(1, 1_001)
    ]
    body = json.dumps(
        {"id": "0x" + "ab" * 32, "epoch": 0, "reports": reports, "signature": "0x" + "00" * 65}, indent=2
    )
    assert len(body) < MAX_PERFORMANCE_BODY
    perf.rejects(401, lambda: perf.client.post("/v1/performance", content=body))


def test_openapi_documents_the_endpoint_and_its_problems(perf: PerfApi) -> None:
    spec = perf.client.get("/openapi.json").json()
    post = spec["paths"]["/v1/performance"]["post"]
    assert set(post["responses"]) >= {"200", "202", "401", "409", "413", "422", "503"}
    for code in ("401", "409", "413", "422", "503"):
        assert list(post["responses"][code]["content"]) == [PROBLEM_JSON]
    body_schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert "$defs" not in json.dumps(body_schema), "fuzzers cannot resolve a body schema's own $defs"
    assert body_schema["properties"]["reports"]["items"]["properties"]["uptime_bps"]["maximum"] == 10_000

    # The type string the docs show is the one signatures are made over.
    def encode(name: str) -> str:
        return f"{name}(" + ",".join(f"{f['type']} {f['name']}" for f in TYPES[name]) + ")"

    assert encode("PerformanceBatch") + encode("PerformanceReport") == BATCH_TYPE
    assert BATCH_TYPE in post["description"]
    for slug in ("epoch-closed", "invalid-performance-batch", "performance-batch-conflict"):
        assert perf.client.get(f"/problems/{slug}").json()["description"]
