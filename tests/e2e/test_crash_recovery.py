"""The service SIGKILLed during a verdict burst and restarted: every verdict ends with exactly its
decided actions on chain. A small version of `make crash` (20 trials of 200 verdicts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from faults.verdict_crash import run_trial

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("seed", [101, 102])
def test_killed_mid_burst_every_verdict_ends_with_exactly_its_decided_actions(
    seed: int, tmp_path: Path
) -> None:
    result = run_trial(seed, verdicts=60, workroot=tmp_path, max_kills=2)
    assert result.kills >= 1
    assert result.violations == [], "\n".join(result.violations)
    assert result.actions.get("jail:confirmed", 0) > 0  # the burst did reach the chain
