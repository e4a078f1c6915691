"""Verdict intake over HTTP (SPEC sections 3 and 4) where neither the chain nor PostgreSQL plays
a part, in-process (tests/support/offchain.py): a good verdict is decided and recorded once with
its action plan; replays are idempotent; every rejection (401, 409, 413, 422) is RFC 9457
problem+json and stores nothing; the reads, framework errors and documents of the API.

What needs the node or the database's concurrency (the detector granted or revoked on chain, the
unreachable chain, races, `app_from_settings`) stays in tests/integration/test_intake_api.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eth_utils import keccak

from staking.api.middleware import MAX_BODY
from staking.devnet.accounts import devnet_account
from staking.domain.vocabulary import EventType, Severity
from staking.intake.detectors import SECP256K1_N
from staking.policy import load_policy
from staking.policy.identity import policy_hash
from tests.support.chain import STRANGER_INDEX
from tests.support.intake import PROBLEM_JSON, kinds, wire
from tests.support.offchain import OTHER_CONTRACT, OffChainApi

pytestmark = pytest.mark.unit


# ----------------------------------------------------------------------------------- acceptance


def test_a_security_breach_is_accepted_with_isolation_first(api: OffChainApi) -> None:
    v, _, r = api.submit(event_type=EventType.SECURITY_BREACH, severity=Severity.HIGH)
    assert r.status_code == 202, r.text
    doc = r.json()
    vid = "0x" + v.id.hex()
    assert r.headers["location"] == f"/v1/verdicts/{vid}"
    assert doc["id"] == vid and doc["status"] == "received" and doc["provider"] == v.provider
    assert doc["decision"] == {
        "level": "penalty",
        "offence_number": 1,
        "recovery_path": "security_review",
        "slash_bps": 500,
        "jail_seconds": 0,
        "jail_until_recovery": True,
        "policy_hash": policy_hash(load_policy()),  # the policy that decided it (SPEC section 11)
    }
    assert kinds(doc) == ["jail", "propose_slash", "begin_recovery"]
    for action in doc["actions"]:
        assert action["state"] == "pending" and action["tx_hash"] is None and action["block"] is None
        assert action["confirmed_at"] is None
    # The response deadline of a security breach is one minute from detection.
    from datetime import datetime

    deadline = datetime.fromisoformat(doc["actions"][0]["deadline_at"].replace("Z", "+00:00"))
    assert deadline.timestamp() == v.detected_at + 60
    assert doc["received_at"].endswith("Z")
    assert api.client.get(f"/v1/verdicts/{vid}").json() == doc
    assert api.counts() == {"verdicts": 1, "actions": 3, "investigations": 0}


def test_a_critical_breach_is_severe_and_proposes_a_tombstone(api: OffChainApi) -> None:
    _, _, r = api.submit(event_type=EventType.SECURITY_BREACH, severity=Severity.CRITICAL)
    assert r.status_code == 202
    assert r.json()["decision"]["level"] == "severe"
    assert kinds(r.json()) == ["jail", "propose_slash", "begin_recovery", "propose_tombstone"]


# ------------------------------------------------------------------------------- authentication


def _malleable(sig: bytes) -> bytes:
    """The same signature with s' = n - s and flipped v: ecrecover accepts it, the contract not."""
    s = int.from_bytes(sig[32:64], "big")
    return sig[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - sig[64]])


@pytest.mark.parametrize(
    ("label", "mangle", "slug"),
    [
        ("zeros", lambda sig: b"\x00" * 65, "invalid-signature"),
        ("garbage", lambda sig: b"\x11" * 65, "invalid-signature"),
        ("max", lambda sig: b"\xff" * 64 + b"\x1b", "invalid-signature"),
        ("v as 0/1", lambda sig: sig[:64] + bytes([sig[64] - 27]), "invalid-signature"),
        ("high s", _malleable, "invalid-signature"),
    ],
)
def test_a_signature_that_is_not_a_detectors_is_unauthorized(
    api: OffChainApi, label: str, mangle: Callable[[bytes], bytes], slug: str
) -> None:
    v, sig = api.signed(api.providers[0])
    doc = api.rejects_body(401, wire(v, mangle(sig)))
    assert doc["type"] == f"/problems/{slug}", label


def test_a_signature_over_other_content_is_unauthorized(api: OffChainApi) -> None:
    v, sig = api.signed(api.providers[0], severity=Severity.LOW)
    doc = api.rejects_body(401, wire(v, sig, severity="critical"))  # tampered after signing
    assert doc["type"] == "/problems/signer-not-detector" and doc["signer"] != api.detector


def test_unauthorized_answers_carry_a_challenge(api: OffChainApi) -> None:
    v = api.verdict(api.providers[0])
    r = api.client.post("/v1/verdicts", json=wire(v, b"\x00" * 65))
    assert r.status_code == 401 and "www-authenticate" in r.headers


def test_an_unsigned_verdict_is_rejected_naming_the_signature(api: OffChainApi) -> None:
    v, sig = api.signed(api.providers[0])
    body = wire(v, sig)
    del body["signature"]
    doc = api.rejects_body(422, body)
    assert [e["field"] for e in doc["errors"]] == ["signature"]


@pytest.mark.parametrize("signer_index", [1, STRANGER_INDEX, 3], ids=["service-key", "stranger", "provider"])
def test_a_verdict_signed_by_a_non_detector_is_unauthorized(api: OffChainApi, signer_index: int) -> None:
    account = devnet_account(signer_index)
    v = api.verdict(api.providers[0])
    doc = api.rejects_body(401, wire(v, api.sign(v, key=account.key)))
    assert doc["type"] == "/problems/signer-not-detector" and doc["signer"] == account.address


@pytest.mark.parametrize("domain", ["chain_id", "contract"])
def test_a_verdict_signed_for_another_domain_is_unauthorized(api: OffChainApi, domain: str) -> None:
    v = api.verdict(api.providers[0])
    sig = api.sign(v, chain_id=1) if domain == "chain_id" else api.sign(v, contract=OTHER_CONTRACT)
    doc = api.rejects_body(401, wire(v, sig))
    assert str(api.domain.chain_id) in doc["detail"] and api.domain.verifying_contract in doc["detail"]


# ------------------------------------------------------------------------------ malformed input


@pytest.mark.parametrize("offset", [-1, "future"], ids=["expired", "future"])
def test_an_expired_or_future_verdict_is_malformed(api: OffChainApi, offset: int | str) -> None:
    now = api.now()
    detected = now + 3600 if offset == "future" else now - api.intake.max_age - 60
    v = api.verdict(api.providers[0], detected_at=detected)
    doc = api.rejects_body(422, wire(v, api.sign(v)))
    assert [e["field"] for e in doc["errors"]] == ["detected_at"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_type": "meteor_strike"}, "event_type"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"id": "0xnothex" + "0" * 57}, "id"),
        ({"evidence_hash": "0x1234"}, "evidence_hash"),
        ({"signature": "0x12"}, "signature"),
        ({"provider": "0x90f79bf6EB2c4f870365E785982E1f101E93b906"}, "provider"),  # bad EIP-55 checksum
        ({"detected_at": "now"}, "detected_at"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_a_malformed_field_is_named(api: OffChainApi, change: dict[str, Any], field: str) -> None:
    v, sig = api.signed(api.providers[0])
    doc = api.rejects_body(422, wire(v, sig, **change))
    assert doc["type"] == "/problems/invalid-verdict"
    assert [e["field"] for e in doc["errors"]] == [field]
    assert field in doc["detail"]


@pytest.mark.parametrize(
    "raw",
    [b"", b"{not json", b"\xff\xfe\x00", b"[1, 2]", b'"a string"'],
    ids=["empty", "broken", "binary", "array", "string"],
)
def test_a_body_that_is_not_a_json_object_is_malformed(api: OffChainApi, raw: bytes) -> None:
    headers = {"content-type": "application/json"}
    doc = api.rejects(422, lambda: api.client.post("/v1/verdicts", content=raw, headers=headers))
    assert [e["field"] for e in doc["errors"]] == ["body"]


def test_an_oversized_body_is_refused_before_parsing(api: OffChainApi) -> None:
    v, sig = api.signed(api.providers[0])
    big = json.dumps(wire(v, sig, evidence_uri="x" * MAX_BODY)).encode()
    doc = api.rejects(413, lambda: api.client.post("/v1/verdicts", content=big))
    assert doc["type"] == "/problems/body-too-large"

    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        for i in range(0, len(big), 1024):
            yield big[i : i + 1024]

    api.rejects(413, lambda: api.client.post("/v1/verdicts", content=chunked()))
    # Just under the limit is read and judged on its content.
    api.rejects(422, lambda: api.client.post("/v1/verdicts", content=b" " * (MAX_BODY - 2) + b"{}"))


# -------------------------------------------------------------------------------- the decisions


def test_suspicious_activity_opens_an_investigation_and_no_penalty(api: OffChainApi) -> None:
    v, _, r = api.submit(event_type=EventType.SUSPICIOUS_ACTIVITY, severity=Severity.HIGH)
    assert r.status_code == 202, r.text
    doc = r.json()
    assert doc["decision"]["level"] == "none" and doc["decision"]["slash_bps"] == 0
    assert doc["decision"]["jail_seconds"] is None
    assert kinds(doc) == ["open_investigation"]
    listed = api.client.get("/v1/investigations", params={"status": "open"}).json()
    assert [i["verdict_id"] for i in listed["items"]] == [doc["id"]]
    item = listed["items"][0]
    assert item["status"] == "open" and item["provider"] == v.provider
    assert item["event_type"] == "suspicious_activity" and item["opened_at"].endswith("Z")
    assert listed["next_cursor"] is None
    assert api.client.get("/v1/investigations", params={"status": "resolved"}).json()["items"] == []
    assert api.counts()["investigations"] == 1


def test_a_first_performance_violation_is_a_warning(api: OffChainApi) -> None:
    _, _, r = api.submit(event_type=EventType.PERFORMANCE_VIOLATION, severity=Severity.MEDIUM)
    assert r.status_code == 202
    doc = r.json()
    assert doc["decision"]["level"] == "warning" and doc["decision"]["slash_bps"] == 0
    assert doc["decision"]["recovery_path"] is None
    assert kinds(doc) == ["warn"]


# ----------------------------------------------------------------------------- reads and errors


def test_an_unknown_verdict_is_a_404_problem(api: OffChainApi) -> None:
    r = api.client.get("/v1/verdicts/0x" + keccak(b"nothing").hex())
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM_JSON
    assert r.json()["status"] == 404 and r.json()["type"] == "about:blank"


def test_a_malformed_verdict_id_is_a_422_problem(api: OffChainApi) -> None:
    r = api.client.get("/v1/verdicts/0x1234")
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM_JSON
    assert r.json()["errors"][0]["field"] == "verdict_id"


def test_every_framework_error_is_problem_json(api: OffChainApi) -> None:
    for response, status in [
        (api.client.get("/v1/nowhere"), 404),
        (api.client.get("/v1/verdicts"), 405),
        (api.client.delete("/v1/verdicts/0x" + "ab" * 32), 405),
        (api.client.get("/v1/investigations", params={"limit": "many"}), 422),
    ]:
        assert response.status_code == status
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["status"] == status and response.json()["title"]
    assert "POST" in api.client.get("/v1/verdicts").headers["allow"]


def test_an_internal_error_is_a_500_problem_without_internals(
    api: OffChainApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(verdict_id: str) -> None:
        raise RuntimeError("secret database detail")

    monkeypatch.setattr(api.intake, "get", explode)
    r = api.client.get("/v1/verdicts/0x" + "ab" * 32)
    assert r.status_code == 500 and r.headers["content-type"] == PROBLEM_JSON
    assert "secret" not in r.text


def test_problem_types_are_documented_where_they_point(api: OffChainApi) -> None:
    doc = api.client.get("/problems/verdict-conflict").json()
    assert doc["status"] == 409 and doc["description"]
    assert api.client.get("/problems/unknown").status_code == 404


def test_healthz_answers(api: OffChainApi) -> None:
    r = api.client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_openapi_documents_answers_and_problem_media_type(api: OffChainApi) -> None:
    spec = api.client.get("/openapi.json").json()
    post = spec["paths"]["/v1/verdicts"]["post"]
    assert set(post["responses"]) >= {"200", "202", "401", "409", "413", "422"}
    assert "application/json" in post["requestBody"]["content"]
    for code in ("401", "409", "413", "422"):
        assert list(post["responses"][code]["content"]) == [PROBLEM_JSON]
    assert "example" in post["responses"]["202"]["content"]["application/json"]
    get = spec["paths"]["/v1/verdicts/{verdict_id}"]["get"]
    assert PROBLEM_JSON in get["responses"]["404"]["content"]
    assert "/v1/investigations" in spec["paths"] and "/healthz" in spec["paths"]
