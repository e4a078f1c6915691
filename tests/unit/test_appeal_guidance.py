"""What the provider document tells a provider about appealing a pending slash (SPEC section 9),
built from recorded parts (`tests/fixtures/provider_documents.json`) with the appeal changed."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from staking.api.providers import ProviderStanding
from staking.domain.clock import iso_seconds
from staking.policy import load_policy
from staking.readmodel.documents import standing_from_parts
from staking.readmodel.parts import parts_from_json
from staking.recovery import appeal_step

pytestmark = pytest.mark.unit

FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "provider_documents.json").read_text())
SCENARIOS = {s["name"]: s for s in FIXTURE["scenarios"]}
PENDING = "unbonding, matured but a slash is pending"
JAILED = (
    "timed jail running, below the minimum, pending slash, paused contract: the policy's path as guidance; "
    "a slash held by incident 3, and a pending slash co-signed by two detectors"
)
APPEALS = next(n for n in SCENARIOS if n.startswith("appeals:"))


def document(name: str, change: Any = None, now: int | None = None) -> dict[str, Any]:
    s = copy.deepcopy(SCENARIOS[name])
    if change is not None:
        change(s["parts"])
    doc = standing_from_parts(
        parts_from_json(s["parts"]), FIXTURE["address"], now or s["now"], load_policy(), s["head"]
    )
    ProviderStanding.model_validate(doc)
    return doc


def test_a_pending_unappealed_slash_tells_the_command_and_the_utc_time_it_must_be_appealed_before() -> None:
    doc = document(PENDING)
    (slash,) = doc["pending_slashes"]
    assert slash["appeal"] is None and slash["appeal_until"] == slash["executable_at"]
    step = doc["recovery"]["next_step"]
    assert f"swarm-staking slash appeal {slash['id']} --evidence FILE" in step
    assert f"before {iso_seconds(slash['executable_at'])}" in step and "provider's key" in step
    assert "appealBond() tokens" in step, "the bond is named even before its parameter is indexed"
    assert doc["recovery"]["path"] is None and doc["recovery"]["stage"] is None


def test_the_indexed_bond_is_named_in_base_units() -> None:
    doc = document(PENDING, lambda p: p["params"].update(appeal_bond="100000000000000000000"))
    assert "a bond of 100000000000000000000 base units" in doc["recovery"]["next_step"]


def test_once_the_veto_window_closed_there_is_nothing_to_appeal() -> None:
    until = SCENARIOS[PENDING]["parts"]["slashes"][0]["executable_at"]
    doc = document(PENDING, now=until)
    assert doc["recovery"] is None
    assert doc["pending_slashes"][0]["appeal_until"] == until  # still shown: when it closed


def test_an_appealed_slash_shows_its_appeal_and_is_not_offered_again() -> None:
    def appeal(parts: dict[str, Any]) -> None:
        parts["slashes"][0].update(
            appeal_state="rejected",
            appeal_evidence_hash="0x" + "e7" * 32,
            appeal_bond=10**20,
            appeal_deadline=1701900000,
            appeal_resolved_at=1701814550,
            appeal_reason_hash="0x" + "33" * 32,
        )

    doc = document(PENDING, appeal)
    (slash,) = doc["pending_slashes"]
    assert slash["appeal"] == {
        "state": "rejected",
        "evidence_hash": "0x" + "e7" * 32,
        "bond": str(10**20),
        "deadline": 1701900000,
        "resolved_at": 1701814550,
        "reason_hash": "0x" + "33" * 32,
    }
    assert slash["appeal_until"] is None and doc["recovery"] is None


def test_the_appeal_comes_before_the_way_out_of_a_jail() -> None:
    before = SCENARIOS[JAILED]["document"]["recovery"]["next_step"]
    doc = document(JAILED)
    step = doc["recovery"]["next_step"]
    assert step.startswith("to contest slash ") and step.endswith("; and: " + before.split("; and: ")[-1])
    assert "wait until the jail ends" in step and doc["recovery"]["path"] == "service_improvement"


def test_the_first_window_to_close_is_named_and_the_others_counted() -> None:
    doc = document(APPEALS)
    appealed, unappealed = doc["pending_slashes"]
    assert appealed["appeal"]["state"] == "open" and appealed["appeal_until"] is None
    assert (
        unappealed["id"] in doc["recovery"]["next_step"]
        and appealed["id"] not in doc["recovery"]["next_step"]
    )
    assert doc["slashes"][0]["state"] == "vetoed" and doc["slashes"][0]["appeal"]["state"] == "upheld"

    def reopen(parts: dict[str, Any]) -> None:  # the open appeal's slash without it: two to appeal
        parts["slashes"][0].update({k: None for k in parts["slashes"][0] if k.startswith("appeal_")})

    step = document(APPEALS, reopen)["recovery"]["next_step"]
    first = min(doc["pending_slashes"], key=lambda s: s["executable_at"])
    assert (
        step.startswith(f"to contest slash {first['id']}") and "1 more pending slash may be appealed" in step
    )


def test_a_tombstoned_provider_is_still_told_it_may_appeal() -> None:
    def tombstone(parts: dict[str, Any]) -> None:
        parts["provider"].update(tombstoned=True, jailed=True, tombstone_reason="0x" + "99" * 32)

    doc = document(PENDING, tombstone)
    assert doc["status"] == "tombstoned" and doc["recovery"]["next_step"].startswith("to contest slash")


def test_the_appeal_sentence_counts_further_slashes() -> None:
    sid = "0x" + "ab" * 32
    assert "more pending" not in appeal_step(sid, 1_700_000_000, None)
    assert "2 more pending slashes may be appealed likewise" in appeal_step(sid, 1_700_000_000, 5, more=2)
