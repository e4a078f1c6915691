"""What makes two submissions the same verdict (pure): the signed content, not the signature nor
the evidence URI; and how a revoked detector is told why it is refused."""

from __future__ import annotations

import dataclasses

import pytest

from staking.domain.vocabulary import Severity
from staking.intake.detectors import Revocation
from staking.intake.parse import SignedVerdict
from tests.support.signing import new_verdict

pytestmark = pytest.mark.unit

PROVIDER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


def test_the_signed_content_ignores_the_signature_and_the_evidence_uri() -> None:
    v = new_verdict(PROVIDER, 1_795_000_000)
    first = SignedVerdict(v, b"\x01" * 65, "ipfs://one")
    second = SignedVerdict(v, b"\x02" * 65, "ipfs://two")
    assert first.signed_content() == second.signed_content()
    assert first.signed_content() == (
        "0x" + v.id.hex(),
        PROVIDER,
        int(v.event_type),
        int(v.severity),
        v.detected_at,
        "0x" + v.evidence_hash.hex(),
    )
    assert first.content_hash() != second.content_hash()  # the stored fingerprint keeps both


@pytest.mark.parametrize(
    "change",
    [{"severity": Severity.LOW}, {"detected_at": 1_795_000_001}, {"evidence_hash": b"\x09" * 32}],
)
def test_any_signed_field_changes_the_signed_content(change: dict[str, object]) -> None:
    v = new_verdict(PROVIDER, 1_795_000_000)
    changed = dataclasses.replace(v, **change)  # type: ignore[arg-type]
    assert (
        SignedVerdict(v, b"\x01" * 65, None).signed_content()
        != SignedVerdict(changed, b"\x01" * 65, None).signed_content()
    )


def test_a_revoked_detector_is_told_who_revoked_it_when_and_why() -> None:
    text = Revocation(PROVIDER, 1_795_000_000_000, "0xGov", "stolen key").explain()
    assert text == (
        f"the signature recovers to {PROVIDER}, revoked by governance (0xGov) at "
        "2026-11-18T11:06:40.000Z: stolen key; its signatures are no longer accepted"
    )
    bare = Revocation(PROVIDER, 1_795_000_000_000, None, None).explain()
    assert bare.endswith(
        f"{PROVIDER}, revoked by governance at 2026-11-18T11:06:40.000Z; "
        "its signatures are no longer accepted"
    )
