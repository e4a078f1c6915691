"""Performance report intake over HTTP (`POST /v1/performance`) where neither the chain nor
PostgreSQL plays a part, in-process (tests/support/offchain.py): a detector's signed batch is
stored once and replays are idempotent; a reused id, a computed epoch, a bad signature or a
malformed body is refused as problem+json and stores nothing; the endpoint's documents.

What needs the node or the database's concurrency and upserts (the detector granted on chain,
epochs following the chain's clock, concurrent duplicates, a later batch replacing a report) stays
in tests/integration/test_performance_api.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from eth_utils import to_checksum_address
from sqlalchemy import delete

from staking.api.rewards import BATCH_TYPE, MAX_PERFORMANCE_BODY
from staking.db import schema as t
from staking.devnet.accounts import devnet_account
from staking.domain.vocabulary import Address
from staking.performance import TYPES, sign_batch, to_wire
from staking.verdict import Domain
from tests.support.chain import STRANGER_INDEX
from tests.support.intake import PROBLEM_JSON
from tests.support.offchain import OTHER_CONTRACT, OffChainPerformanceApi
from tests.support.signing import detector_key

pytestmark = pytest.mark.unit


# ------------------------------------------------------------------------------------ acceptance


def test_a_detectors_batch_is_accepted_and_stored_once(perf: OffChainPerformanceApi) -> None:
    batch = perf.batch(range(3))
    r = perf.post(perf.body(batch))
    assert r.status_code == 202, r.text
    doc = r.json()
    assert doc["id"] == batch.id_hex and doc["epoch"] == batch.epoch and doc["reports"] == 3
    assert doc["signer"] == perf.detector and doc["received_at"].endswith("Z")
    assert perf.counts() == {"performance_batches": 1, "performance_reports": 3}
    expected = (batch.id_hex, 9_990, 120, 10, 9_000)
    assert perf.reports(batch.epoch) == {perf.providers[i]: expected for i in range(3)}


# -------------------------------------------------------------------------------- authentication


@pytest.mark.parametrize("signer_index", [1, STRANGER_INDEX, 3], ids=["service-key", "stranger", "provider"])
def test_a_batch_signed_by_a_non_detector_is_unauthorized(
    perf: OffChainPerformanceApi, signer_index: int
) -> None:
    account = devnet_account(signer_index)
    doc = perf.rejects_body(401, perf.body(perf.batch(), key=account.key))
    assert doc["type"] == "/problems/signer-not-detector" and doc["signer"] == account.address


@pytest.mark.parametrize("which", ["chain_id", "contract"])
def test_a_batch_signed_for_another_domain_is_unauthorized(perf: OffChainPerformanceApi, which: str) -> None:
    d = perf.domain
    if which == "chain_id":
        other = Domain(chain_id=1, verifying_contract=d.verifying_contract)
    else:
        token = OTHER_CONTRACT
        other = Domain(chain_id=d.chain_id, verifying_contract=Address(to_checksum_address(token)))
    body = perf.body(perf.batch(), domain=other)
    doc = perf.rejects_body(401, body)
    assert doc["type"] == "/problems/signer-not-detector" and doc["signer"] != perf.detector
    assert str(d.chain_id) in doc["detail"] and d.verifying_contract in doc["detail"]
    assert "www-authenticate" in perf.post(body).headers


def test_a_batch_changed_after_signing_is_unauthorized(perf: OffChainPerformanceApi) -> None:
    body = perf.body(perf.batch())
    body["reports"][1]["uptime_bps"] = 10_000
    doc = perf.rejects_body(401, body)
    assert doc["type"] == "/problems/signer-not-detector" and doc["signer"] != perf.detector


@pytest.mark.parametrize(
    "mangle",
    [lambda sig: b"\x00" * 65, lambda sig: sig[:64] + bytes([sig[64] - 27])],
    ids=["zeros", "v as 0/1"],
)
def test_a_signature_the_contract_would_refuse_is_unauthorized(
    perf: OffChainPerformanceApi, mangle: Callable[[bytes], bytes]
) -> None:
    batch = perf.batch()
    body = to_wire(batch, mangle(sign_batch(batch, perf.domain, detector_key())))
    assert perf.rejects_body(401, body)["type"] == "/problems/invalid-signature"


# ---------------------------------------------------------------------------------------- epochs


def test_without_the_indexed_epoch_clock_the_answer_is_a_retryable_503(perf: OffChainPerformanceApi) -> None:
    with perf.engine.begin() as conn:
        conn.execute(delete(t.meta).where(t.meta.c.key == "epoch_genesis"))
    r = perf.post(perf.body(perf.batch()))
    assert r.status_code == 503 and r.headers["content-type"] == PROBLEM_JSON
    assert r.json()["type"] == "/problems/epoch-clock-unknown" and r.headers["retry-after"].isdigit()
    assert perf.counts() == {"performance_batches": 0, "performance_reports": 0}


# ------------------------------------------------------------------------------- malformed input


def test_every_malformed_field_is_named_and_nothing_is_stored(perf: OffChainPerformanceApi) -> None:
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
def test_a_malformed_field_is_named(perf: OffChainPerformanceApi, change: dict[str, Any], field: str) -> None:
    doc = perf.rejects_body(422, dict(perf.body(perf.batch()), **change))
    assert [e["field"] for e in doc["errors"]] == [field]


def test_a_provider_reported_twice_is_malformed(perf: OffChainPerformanceApi) -> None:
    body = perf.body(perf.batch([0]))
    body["reports"] = body["reports"] * 2
    doc = perf.rejects_body(422, body)
    assert [e["field"] for e in doc["errors"]] == ["reports[1].provider"]


@pytest.mark.parametrize(
    "raw", [b"", b"{not json", b"\xff\xfe\x00", b"[1, 2]"], ids=["empty", "broken", "binary", "array"]
)
def test_a_body_that_is_not_a_json_object_is_malformed(perf: OffChainPerformanceApi, raw: bytes) -> None:
    headers = {"content-type": "application/json"}
    doc = perf.rejects(422, lambda: perf.client.post("/v1/performance", content=raw, headers=headers))
    assert [e["field"] for e in doc["errors"]] == ["body"]


def test_an_oversized_body_is_refused_and_the_largest_batch_is_not(perf: OffChainPerformanceApi) -> None:
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


def test_openapi_documents_the_endpoint_and_its_problems(perf: OffChainPerformanceApi) -> None:
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
