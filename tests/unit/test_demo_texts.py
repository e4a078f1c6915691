"""How `make demo` words a verdict's decision: GET /v1/verdicts/{id} gives `jail_seconds` null for
no jail and 0 (with `jail_until_recovery`) for a jail until recovery; the narration must say which,
never `None` or `0 s`."""

from __future__ import annotations

import pytest

from staking.devnet.demo.texts import decision_text, jail_text, swarm

pytestmark = pytest.mark.unit


def decision(
    jail_seconds: int | None, recovery_path: str | None, level: str = "penalty"
) -> dict[str, object]:
    return {
        "level": level,
        "offence_number": 1,
        "recovery_path": recovery_path,
        "slash_bps": 500 if level == "penalty" else 0,
        "jail_seconds": jail_seconds,
        "jail_until_recovery": jail_seconds == 0,
    }


def test_a_decision_without_a_jail_says_no_jail_and_no_recovery_path() -> None:
    assert decision_text(decision(None, None, "warning")) == (
        "level warning, slash 0 bps, no jail, recovery path none"
    )


def test_a_jail_until_recovery_is_not_a_zero_second_jail() -> None:
    d = decision(0, "security_review")
    assert jail_text(d) == "jail until recovery"
    assert (
        decision_text(d) == "level penalty, slash 500 bps, jail until recovery, recovery path security_review"
    )


def test_a_timed_jail_gives_its_length() -> None:
    assert jail_text(decision(86_400, "service_improvement")) == "jail 86400 s"


def test_the_flag_alone_marks_a_jail_until_recovery() -> None:
    assert jail_text({"jail_seconds": None, "jail_until_recovery": True}) == "jail until recovery"


def test_amounts_are_swarm_with_two_decimals_rounded_down() -> None:
    assert swarm(1_234_567_000_000_000_000_000) == "1,234.56"
    assert swarm("0") == "0.00"


def test_a_recovery_reads_as_its_stage_or_as_guidance_never_as_none() -> None:
    from staking.devnet.demo.texts import recovery_text

    assert (
        recovery_text({"path": "security_review", "stage": "response"}) == "recovery security_review/response"
    )
    timed = recovery_text({"path": "service_improvement", "stage": None})
    assert timed == "recovery path service_improvement (guidance, nothing open on chain)"
    assert recovery_text({"path": None, "stage": None}) == "no recovery path open yet"
