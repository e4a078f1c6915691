"""Co-signatures and revoked detectors at the intake (SPEC section 8), over HTTP on the devnet,
on SQLite and on PostgreSQL: the same verdict content signed by another detector is a
co-signature (200, listed in `signers`, one `verdict_signers` row more, nothing else stored);
the same signer again is a plain replay, whatever its signature; other content is 409; a detector
revoked by governance is refused at once (401), while the chain and the roles index still list it.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from staking.db import schema as t
from staking.devnet.accounts import devnet_account
from staking.domain.vocabulary import Severity
from staking.verdict import Verdict
from tests.support.cosigning import SECOND_DETECTOR_INDEX, THIRD_DETECTOR_INDEX, signature_with_nonce
from tests.support.intake import Api, wire

pytestmark = pytest.mark.integration


def grant_detector(api: Api, index: int) -> str:
    account = devnet_account(index)
    api.chain.tx(api.chain.staking.grant_role("DETECTOR_ROLE", account.address), api.chain.governance)
    return account.address


def signer_rows(api: Api, vid: str) -> list[tuple[str, str]]:
    s = t.verdict_signers.c
    with api.engine.connect() as conn:
        rows = conn.execute(select(s.signer, s.signature).where(s.verdict_id == vid).order_by(s.received_ms))
        return [(r.signer, r.signature) for r in rows]


def first_verdict(api: Api) -> tuple[Verdict, dict[str, Any], dict[str, Any]]:
    v, body, r = api.submit(severity=Severity.HIGH)
    assert r.status_code == 202, r.text
    return v, body, r.json()


def test_every_accepted_verdict_records_its_first_signer(api: Api) -> None:
    _, body, doc = first_verdict(api)
    assert doc["signer"] == api.chain.detector and doc["signers"] == [api.chain.detector]
    assert signer_rows(api, doc["id"]) == [(api.chain.detector, body["signature"])]


def test_the_same_verdict_signed_by_another_detector_is_a_cosignature(api: Api) -> None:
    v, body, doc = first_verdict(api)
    second = grant_detector(api, SECOND_DETECTOR_INDEX)
    before = api.counts()
    cosig = api.chain.sign(v, key=devnet_account(SECOND_DETECTOR_INDEX).key)
    r = api.client.post("/v1/verdicts", json=wire(v, cosig))
    assert r.status_code == 200, r.text
    assert r.headers["content-location"] == f"/v1/verdicts/{doc['id']}"
    cosigned = r.json()
    assert cosigned["signers"] == [api.chain.detector, second]
    assert cosigned["signer"] == api.chain.detector  # the first signer stays the verdict's signer
    assert {k: x for k, x in cosigned.items() if k != "signers"} == {
        k: x for k, x in doc.items() if k != "signers"
    }
    assert api.client.get(f"/v1/verdicts/{doc['id']}").json() == cosigned
    assert dict(signer_rows(api, doc["id"])) == {
        api.chain.detector: body["signature"],
        second: "0x" + cosig.hex(),
    }
    assert api.counts() == before, "a co-signature adds a signer, not a verdict nor actions"

    # The co-signer again: a plain replay, nothing added.
    again = api.client.post("/v1/verdicts", json=wire(v, cosig))
    assert again.status_code == 200 and again.json() == cosigned
    assert len(signer_rows(api, doc["id"])) == 2
    assert "swarm_verdict_cosignatures 1.0" in api.client.get("/metrics").text

    # A third detector is listed after the second, in the order received.
    third = grant_detector(api, THIRD_DETECTOR_INDEX)
    r = api.client.post(
        "/v1/verdicts", json=wire(v, api.chain.sign(v, key=devnet_account(THIRD_DETECTOR_INDEX).key))
    )
    assert r.status_code == 200 and r.json()["signers"] == [api.chain.detector, second, third]


def test_a_cosignature_is_judged_by_the_signed_content_only(api: Api) -> None:
    # The evidence URI is not signed: a co-signer may point at its own copy of the evidence.
    v, _, doc = first_verdict(api)
    grant_detector(api, SECOND_DETECTOR_INDEX)
    cosig = api.chain.sign(v, key=devnet_account(SECOND_DETECTOR_INDEX).key)
    r = api.client.post("/v1/verdicts", json=wire(v, cosig, evidence_uri="ipfs://the-second-detectors-copy"))
    assert r.status_code == 200, r.text
    assert len(r.json()["signers"]) == 2 and r.json()["evidence_uri"] == doc["evidence_uri"]


def test_the_same_signer_with_another_valid_signature_is_a_plain_replay(api: Api) -> None:
    v, body, doc = first_verdict(api)
    other = signature_with_nonce(v, api.chain.staking.domain(), bytes(devnet_account(2).key))
    assert "0x" + other.hex() != body["signature"]
    before = api.counts()
    r = api.client.post("/v1/verdicts", json=wire(v, other))
    assert r.status_code == 200, r.text
    assert r.json() == doc and r.json()["signers"] == [api.chain.detector]
    assert api.counts() == before and len(signer_rows(api, doc["id"])) == 1


def test_other_content_under_the_id_is_a_conflict_whoever_signs_it(api: Api) -> None:
    v, _, doc = first_verdict(api)
    grant_detector(api, SECOND_DETECTOR_INDEX)
    changed = Verdict(v.id, v.provider, v.event_type, Severity.CRITICAL, v.detected_at, v.evidence_hash)
    problem = api.rejects_body(
        409, wire(changed, api.chain.sign(changed, key=devnet_account(SECOND_DETECTOR_INDEX).key))
    )
    assert problem["type"] == "/problems/verdict-conflict"
    assert signer_rows(api, doc["id"]) == [(api.chain.detector, doc_signature(api, doc["id"]))]
    api.rejects_body(409, wire(changed, api.chain.sign(changed)))


def doc_signature(api: Api, vid: str) -> str:
    with api.engine.connect() as conn:
        return str(conn.execute(select(t.verdicts.c.signature).where(t.verdicts.c.id == vid)).scalar_one())


def revoke_in_service(api: Api, account: str, revoked_ms: int = 1_795_000_000_000) -> None:
    with api.engine.begin() as conn:
        conn.execute(
            t.detector_revocations.insert().values(
                account=account, revoked_ms=revoked_ms, revoked_by="council", note="stolen key"
            )
        )


def test_a_revoked_detector_is_refused_at_once_whatever_the_chain_says(api: Api) -> None:
    _, body, doc = first_verdict(api)
    revoke_in_service(api, api.chain.detector)
    assert api.chain.staking.has_role("DETECTOR_ROLE", api.chain.detector)  # not revoked on chain yet
    v2, sig2 = api.chain.signed(api.chain.providers[1])
    problem = api.rejects_body(401, wire(v2, sig2))
    assert problem["type"] == "/problems/signer-not-detector" and problem["signer"] == api.chain.detector
    assert "revoked by governance (council) at 2026-11-18T" in problem["detail"]
    assert "stolen key" in problem["detail"]
    # Its replays and co-signatures are refused too: nothing more rests on its word.
    api.rejects_body(401, body)
    assert len(signer_rows(api, doc["id"])) == 1


def test_a_revoked_cosigner_adds_nothing(api: Api) -> None:
    v, _, doc = first_verdict(api)
    second = grant_detector(api, SECOND_DETECTOR_INDEX)
    revoke_in_service(api, second)
    cosig = api.chain.sign(v, key=devnet_account(SECOND_DETECTOR_INDEX).key)
    problem = api.rejects_body(401, wire(v, cosig))
    assert "revoked by governance" in problem["detail"]
    assert signer_rows(api, doc["id"]) == [(api.chain.detector, doc_signature(api, doc["id"]))]
