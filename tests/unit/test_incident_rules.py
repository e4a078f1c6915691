"""The pure parts of incidents (SPEC section 8): when a window of verdicts crosses a threshold
(providers hit, share of the bonded stake, exact integers), what stake an incident still puts at
risk, and the incident document built from plain rows."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staking.domain.vocabulary import TOKEN, SlashState
from staking.intake.incidents import Exposure, crossing, needs_stake, share_text
from staking.policy.engine import Incidents, IncidentThreshold, load_policy
from staking.readmodel.incidents import Counts, incident_document, incident_summary, stake_at_risk

pytestmark = pytest.mark.unit

RULE = IncidentThreshold(max_providers=20, max_stake_bps=1_000, min_providers_for_stake=10)


# ------------------------------------------------------------------------------------ thresholds


def test_more_providers_than_the_threshold_crosses_it_and_exactly_as_many_does_not() -> None:
    assert crossing(RULE, Exposure(20)) is None
    assert crossing(RULE, Exposure(21)) == "against 21 providers (more than 20)"


def test_the_stake_rule_counts_only_once_enough_providers_are_hit() -> None:
    """A verdict against one large operator is not an incident, however much stake it holds."""
    everything = Exposure(9, stake=100 * TOKEN, bonded=100 * TOKEN)
    assert crossing(RULE, everything) is None
    assert not needs_stake(RULE, 9)
    assert needs_stake(RULE, 10) and needs_stake(RULE, 20)
    assert not needs_stake(RULE, 21)  # the provider count decides already
    reason = crossing(RULE, Exposure(10, stake=100 * TOKEN, bonded=100 * TOKEN))
    assert reason == "against 10 providers holding 100.00 % of the bonded stake (more than 10.00 %)"


def test_the_stake_share_is_compared_exactly_at_the_boundary() -> None:
    bonded = 3 * 10**27 + 7  # no float could tell these apart
    at_limit = bonded * 1_000 // 10_000  # 10 % rounded down: not more than 10 %
    assert crossing(RULE, Exposure(10, stake=at_limit, bonded=bonded)) is None
    assert crossing(RULE, Exposure(10, stake=at_limit + 1, bonded=bonded)) is not None


def test_a_network_without_bonded_stake_never_crosses_the_stake_rule() -> None:
    assert crossing(RULE, Exposure(15, stake=0, bonded=0)) is None
    assert crossing(RULE, Exposure(15)) is None  # not measured


@given(
    providers=st.integers(0, 100),
    stake=st.integers(0, 10**30),
    extra=st.integers(0, 10**30),
)
def test_crossing_agrees_with_the_rule_in_integers(providers: int, stake: int, extra: int) -> None:
    bonded = stake + extra
    expected = providers > RULE.max_providers or (
        providers >= RULE.min_providers_for_stake
        and bonded > 0
        and stake * 10_000 > RULE.max_stake_bps * bonded
    )
    assert (crossing(RULE, Exposure(providers, stake, bonded)) is not None) == expected


def test_share_text_rounds_down_to_hundredths_of_a_percent() -> None:
    assert share_text(1, 3) == "33.33 %"
    assert share_text(2, 3) == "66.66 %"
    assert share_text(0, 0) == "0.00 %"
    assert share_text(1_000, 10_000) == "10.00 %"


def test_the_default_policy_never_trips_on_the_seven_provider_devnet() -> None:
    """The devnet has 7 providers: fewer than either count threshold and than the stake rule's
    minimum, so the existing runs never open an incident."""
    rules = load_policy().incidents
    assert rules == Incidents()
    assert rules.enabled
    for threshold in (rules.per_detector, rules.per_event_type):
        assert crossing(threshold, Exposure(7, stake=1, bonded=1)) is None
        assert threshold.min_providers_for_stake > 7


# ------------------------------------------------------------------------------------ stake at risk

A, B = "0x" + "aa" * 20, "0x" + "bb" * 20


def verdict(vid: str, provider: str, bps: int = 1_000, **kw: Any) -> SimpleNamespace:
    fields = {"event_type": 0, "severity": 3, "signer": "0x" + "dd" * 20, "status": "received"}
    return SimpleNamespace(id=vid, provider=provider, slash_bps=bps, **{**fields, **kw})


def test_stake_at_risk_counts_held_slashes_at_their_bps_and_proposed_ones_at_their_amount() -> None:
    verdicts = [verdict("v1", A, 1_000), verdict("v2", B, 2_000), verdict("v3", B, 500)]
    actions = {"v1": "held", "v2": "confirmed", "v3": "pending"}
    slashes = {"v2": (int(SlashState.PENDING), 7 * TOKEN)}  # proposed, indexed: its own amount
    bonded = {A: 100 * TOKEN, B: 50 * TOKEN}
    assert stake_at_risk(verdicts, actions, slashes, bonded) == 10 * TOKEN + 7 * TOKEN + 5 * TOKEN // 2


def test_vetoed_executed_skipped_and_failed_slashes_put_nothing_at_risk() -> None:
    verdicts = [verdict(f"v{i}", A) for i in range(4)] + [verdict("w", B)]
    actions = {"v0": "confirmed", "v1": "confirmed", "v2": "skipped", "v3": "failed"}  # w: no slash
    slashes = {"v0": (int(SlashState.VETOED), TOKEN), "v1": (int(SlashState.EXECUTED), TOKEN)}
    assert stake_at_risk(verdicts, actions, slashes, {A: 10 * TOKEN, B: 10 * TOKEN}) == 0


def test_a_providers_stake_at_risk_never_exceeds_its_bonded_stake() -> None:
    """Concurrent proposals share a provider's stake, as the contract counts them."""
    verdicts = [verdict(f"v{i}", A, 5_000) for i in range(5)]
    actions = {v.id: "held" for v in verdicts}
    assert stake_at_risk(verdicts, actions, {}, {A: 3 * TOKEN}) == 3 * TOKEN
    assert stake_at_risk(verdicts, actions, {}, {}) == 0  # not a registered provider


# ------------------------------------------------------------------------------------ the document


def incident_row(**kw: Any) -> SimpleNamespace:
    fields = {
        "id": 7,
        "kind": "detector",
        "subject": "0x" + "dd" * 20,
        "state": "open",
        "reason": "detector 0xdd…: verdicts against 21 providers (more than 20) within 10 minutes",
        "opened_ms": 1_750_000_000_123,
        "updated_ms": 1_750_000_001_000,
        "closed_ms": None,
        "closed_by": None,
        "note": None,
    }
    return SimpleNamespace(**{**fields, **kw})


def test_the_incident_document_lists_verdicts_providers_and_held_actions_with_the_stake_as_a_string() -> None:
    verdicts = [verdict("v1", B), verdict("v2", A, event_type=3, severity=2), verdict("v3", B)]
    actions = [
        SimpleNamespace(verdict_id="v1", kind="propose_slash", state="held"),
        SimpleNamespace(verdict_id="v1", kind="propose_tombstone", state="held"),
        SimpleNamespace(verdict_id="v2", kind="propose_slash", state="held"),
        SimpleNamespace(verdict_id="v3", kind="propose_slash", state="confirmed"),
    ]
    doc = incident_document(incident_row(), verdicts, actions, {}, {A: 10 * TOKEN, B: 10**30})
    assert doc["id"] == 7 and doc["kind"] == "detector" and doc["state"] == "open"
    assert doc["opened_at"] == "2025-06-15T15:06:40.123Z" and doc["closed_at"] is None
    assert [v["id"] for v in doc["verdicts"]] == ["v1", "v2", "v3"]
    assert doc["verdicts"][1] == {
        "id": "v2",
        "provider": A,
        "event_type": "system_attack",
        "severity": "high",
        "signer": "0x" + "dd" * 20,
        "status": "received",
        "verdict": "/v1/verdicts/v2",
    }
    assert doc["providers"] == [A, B]
    assert doc["held_actions"] == [
        {"verdict_id": "v1", "kind": "propose_slash", "state": "held"},
        {"verdict_id": "v1", "kind": "propose_tombstone", "state": "held"},
        {"verdict_id": "v2", "kind": "propose_slash", "state": "held"},
        {"verdict_id": "v3", "kind": "propose_slash", "state": "confirmed"},
    ]
    # v1 + v3 on B (10 % each of 10^30, unindexed) and v2 on A (10 % of 10 SWARM), exact.
    assert doc["stake_at_risk"] == str(2 * 10**29 + TOKEN)
    assert doc["incident"] == "/v1/incidents/7"


def test_a_closed_incidents_summary_says_who_closed_it_when_and_why() -> None:
    row = incident_row(
        state="dismissed", closed_ms=1_750_000_100_000, closed_by="alice", note="bad model push"
    )
    item = incident_summary(row, Counts(verdicts=30, providers=25, held_actions=0))
    assert (item["state"], item["closed_by"], item["note"]) == ("dismissed", "alice", "bad model push")
    assert item["closed_at"] == "2025-06-15T15:08:20.000Z"
    assert (item["verdicts"], item["providers"], item["held_actions"]) == (30, 25, 0)


# ------------------------------------------------------------------------------------ batching


class RecordingStaking:
    """Stands in for `StakingContract`: each call is (function, its list argument, reason)."""

    def veto_slashes(self, ids: list[bytes], reason: bytes) -> tuple[str, int, bytes]:
        return "vetoSlashes", len(ids), reason

    def lift_jails(self, providers: list[str], reason: bytes) -> tuple[str, int, bytes]:
        return "liftJails", len(providers), reason


def test_vetoes_go_first_and_both_are_batched_at_200_per_transaction() -> None:
    from staking.intake.containment import SlashToVeto, UndoPlan, undo_calls

    vetoes = tuple(SlashToVeto("0x" + f"{i:064x}", A, TOKEN, None) for i in range(450))
    lifts = tuple("0x" + f"{i:040x}" for i in range(201))
    calls = undo_calls(RecordingStaking(), UndoPlan(vetoes, lifts=lifts), b"r" * 32)  # type: ignore[arg-type]
    assert calls == [
        ("vetoSlashes", 200, b"r" * 32),
        ("vetoSlashes", 200, b"r" * 32),
        ("vetoSlashes", 50, b"r" * 32),
        ("liftJails", 200, b"r" * 32),
        ("liftJails", 1, b"r" * 32),
    ]
    assert undo_calls(RecordingStaking(), UndoPlan(), b"r" * 32) == []  # type: ignore[arg-type]
