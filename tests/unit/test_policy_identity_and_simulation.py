"""Policy identity (its canonical hash, every error of a file at once, the parameter diff) and the
simulator over generated histories: the same policy changes nothing, doubled penalty bps slash
exactly double, a rejected verdict stops counting from its rejection on (SPEC section 11)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from staking.domain.vocabulary import EventType, Severity
from staking.policy import Policy, load_policy
from staking.policy.engine import DEFAULT_POLICY
from staking.policy.identity import check_policy_file, policy_diff, policy_hash
from staking.policy.simulate import Outcome, RecordedVerdict, penalties_scaled, replay, simulate

pytestmark = pytest.mark.unit

ACTIVE = load_policy()
PROVIDERS = [f"0x{n:040x}" for n in range(1, 5)]
T0 = 1_800_000_000


def test_the_hash_names_what_decides_not_how_the_file_is_written(tmp_path: Path) -> None:
    text = DEFAULT_POLICY.read_text()
    reworded = tmp_path / "same.toml"
    # Comments dropped, a default spelled out: the same policy.
    body = "\n".join(line.split("#")[0].rstrip() for line in text.splitlines())
    reworded.write_text(body.replace("[quorum]", "[quorum]\n# spelled out\n"))
    assert policy_hash(load_policy(reworded)) == policy_hash(ACTIVE)
    assert policy_hash(ACTIVE).startswith("sha256:") and len(policy_hash(ACTIVE)) == 71
    changed = tmp_path / "changed.toml"
    changed.write_text(text.replace("\nslash_bps = 500\n", "\nslash_bps = 600\n"))
    assert policy_hash(load_policy(changed)) != policy_hash(ACTIVE)
    assert policy_diff(ACTIVE, load_policy(changed)) == [("levels.penalty.slash_bps", 500, 600)]
    assert policy_diff(ACTIVE, ACTIVE) == []


def test_a_bad_file_reports_every_error_at_once_one_line_each(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    text = DEFAULT_POLICY.read_text()
    text = text.replace("window_days = 30", "window_days = 0").replace(
        "max_slash_bps = 5000", "max_slash_bps = 20000"
    )
    text = text.replace('ladder = ["warning", "penalty", "severe"]', 'ladder = ["severe", "warning"]', 1)
    bad.write_text(text + "\nunknown_key = 1\n")
    policy, errors = check_policy_file(bad)
    assert policy is None and len(errors) == 4, errors
    assert all("\n" not in e for e in errors)
    joined = "\n".join(errors)
    for where in ("window_days", "caps.max_slash_bps", "ladder", "unknown_key"):
        assert where in joined
    assert check_policy_file(tmp_path / "missing.toml")[1] == [f"{tmp_path / 'missing.toml'}: no such file"]
    (tmp_path / "broken.toml").write_text("window_days = ")
    assert "not valid TOML" in check_policy_file(tmp_path / "broken.toml")[1][0]


def doubled(policy: Policy) -> Policy:
    return penalties_scaled(policy, 2)


@st.composite
def histories(draw: st.DrawFn) -> list[RecordedVerdict]:
    """Verdicts of a few providers, detected out of order now and then, some rejected later, each
    with the decision the active policy gave it on this history (as the intake would record)."""
    n = draw(st.integers(1, 40))
    raw = []
    received = T0 * 1000
    for i in range(n):
        received += draw(st.integers(1, 3 * 86_400_000))
        detected = received // 1000 - draw(st.integers(0, 3_600))
        rejected = draw(st.none() | st.integers(1, 10 * 86_400_000))
        raw.append(
            RecordedVerdict(
                id=f"0x{i:064x}",
                provider=draw(st.sampled_from(PROVIDERS)),
                event_type=int(draw(st.sampled_from(list(EventType)))),
                severity=int(draw(st.sampled_from(list(Severity)))),
                detected_at=detected,
                received_ms=received,
                recorded=Outcome("none", 0, 0, None, 0),
                rejected_ms=None if rejected is None else received + rejected,
            )
        )
    outcomes = replay(raw, ACTIVE)
    return [RecordedVerdict(**{**v.__dict__, "recorded": o}) for v, o in zip(raw, outcomes, strict=True)]


STAKES = {p: (n + 1) * 10_000 * 10**18 for n, p in enumerate(PROVIDERS)}  # multiples of 10,000: exact bps


@settings(max_examples=60, deadline=None)
@given(histories())
def test_the_active_policy_changes_nothing(history: list[RecordedVerdict]) -> None:
    result = simulate(history, ACTIVE, ACTIVE, STAKES, T0 + 400 * 86_400)
    assert result.changed == [] and result.standing_differs() == []
    assert all(p.slashed_recorded == p.slashed_other for p in result.providers.values())


@settings(max_examples=60, deadline=None)
@given(histories())
def test_doubled_penalty_bps_slash_exactly_double(history: list[RecordedVerdict]) -> None:
    result = simulate(history, ACTIVE, doubled(ACTIVE), STAKES, T0 + 400 * 86_400)
    for p in result.providers.values():
        assert p.slashed_other == 2 * p.slashed_recorded
    totals = result.totals()
    assert int(totals["slashed_other"]) == 2 * int(totals["slashed_recorded"])
    slashing = [v for v in history if v.recorded.slash_bps and v.rejected_ms is None]
    assert len(result.changed) == len([v for v in history if v.recorded.slash_bps])
    assert (totals["slashed_difference"] > 0) == bool(slashing)


def test_a_rejected_verdict_counts_until_it_is_rejected() -> None:
    def verdict(i: int, received_s: int, rejected_s: int | None = None) -> RecordedVerdict:
        return RecordedVerdict(
            f"0x{i:064x}", PROVIDERS[0], int(EventType.POLICY_VIOLATION), int(Severity.LOW), T0 + received_s,
            (T0 + received_s) * 1000, Outcome("none", 0, 0, None, 0),
            None if rejected_s is None else (T0 + rejected_s) * 1000,
        )  # fmt: skip

    # The first is rejected between the second and the third: the second escalates on it, the
    # third does not.
    history = [verdict(1, 0, rejected_s=150), verdict(2, 100), verdict(3, 200)]
    levels = [o.level for o in replay(history, ACTIVE)]
    assert levels == ["warning", "penalty", "penalty"]
    never = [verdict(1, 0), verdict(2, 100), verdict(3, 200)]
    assert [o.level for o in replay(never, ACTIVE)] == ["warning", "penalty", "severe"]
