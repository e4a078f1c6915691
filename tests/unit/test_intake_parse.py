"""Parsing verdict bodies: every malformed field is named; good bodies become Verdicts."""

from __future__ import annotations

from typing import Any

import pytest

from staking.devnet.accounts import devnet_account
from staking.domain.vocabulary import EventType, Severity
from staking.intake.parse import InvalidVerdictBody, parse_verdict

pytestmark = pytest.mark.unit
NOW = 1_795_000_000
GOOD: dict[str, Any] = {
    "id": "0x" + "ab" * 32,
    "provider": devnet_account(3).address,
    "event_type": "security_breach",
    "severity": "critical",
    "detected_at": NOW - 5,
    "evidence_hash": "0x" + "cd" * 32,
    "evidence_uri": "ipfs://bafy",
    "signature": "0x" + "11" * 65,
}


def fields_of(body: Any) -> set[str]:
    with pytest.raises(InvalidVerdictBody) as exc:
        parse_verdict(body, NOW, 3600)
    return {e["field"] for e in exc.value.errors}


def test_a_well_formed_body_parses_into_a_verdict() -> None:
    sv = parse_verdict(GOOD, NOW, 3600)
    assert sv.verdict.event_type is EventType.SECURITY_BREACH and sv.verdict.severity is Severity.CRITICAL
    assert sv.id_hex == GOOD["id"] and sv.evidence_uri == "ipfs://bafy" and len(sv.signature) == 65
    lower = parse_verdict(dict(GOOD, provider=GOOD["provider"].lower()), NOW, 3600)
    assert lower.verdict.provider == GOOD["provider"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_type": "meteor_strike"}, "event_type"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"id": "0x1234"}, "id"),
        ({"id": "0x" + "00" * 32}, "id"),
        ({"evidence_hash": "ab" * 32}, "evidence_hash"),
        ({"provider": "0x90f79bf6EB2c4f870365E785982E1f101E93b906"}, "provider"),
        ({"provider": "not-an-address"}, "provider"),
        ({"detected_at": NOW + 3600}, "detected_at"),
        ({"detected_at": NOW - 3601}, "detected_at"),
        ({"detected_at": "yesterday"}, "detected_at"),
        ({"detected_at": True}, "detected_at"),
        ({"signature": "0x" + "11" * 64}, "signature"),
        ({"evidence_uri": "x" * 5000}, "evidence_uri"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_each_malformed_field_is_named(change: dict[str, Any], field: str) -> None:
    assert fields_of(dict(GOOD, **change)) == {field}


def test_all_problems_are_reported_at_once_and_non_objects_are_refused() -> None:
    assert fields_of({}) == {
        "id",
        "provider",
        "event_type",
        "severity",
        "detected_at",
        "evidence_hash",
        "signature",
    }
    assert fields_of([GOOD]) == {"body"}


def test_content_hash_differs_for_any_changed_field_and_is_stable() -> None:
    base = parse_verdict(GOOD, NOW, 3600).content_hash()
    assert base == parse_verdict(dict(GOOD), NOW, 3600).content_hash()
    for change in ({"severity": "high"}, {"evidence_uri": "ipfs://other"}, {"signature": "0x" + "22" * 65}):
        assert parse_verdict(dict(GOOD, **change), NOW, 3600).content_hash() != base
