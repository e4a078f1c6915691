"""`swarm-staking policy check|diff|simulate` as governance runs them (SPEC section 11), over a
history the real intake recorded: every error of a bad file at once, the parameter diff, and the
simulation of a policy with doubled penalties — exactly double the stake slashed, each changed
decision listed, the database left as it was."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from staking.cli import app
from staking.domain.vocabulary import EventType, Severity
from staking.policy import load_policy
from staking.policy.engine import DEFAULT_POLICY
from staking.policy.identity import policy_hash
from tests.support.recorded_history import PROVIDERS, T0, Step, migrated_template, record

pytestmark = pytest.mark.e2e

HISTORY = [
    Step(PROVIDERS[0], EventType.POLICY_VIOLATION, Severity.LOW, 60),  # warning
    Step(PROVIDERS[0], EventType.POLICY_VIOLATION, Severity.LOW, 3_600),  # penalty: 500 bps
    Step(PROVIDERS[1], EventType.SECURITY_BREACH, Severity.HIGH, 60),  # penalty: 500 bps, isolated
    Step(PROVIDERS[2], EventType.SUSPICIOUS_ACTIVITY, Severity.MEDIUM, 60),  # an investigation
    Step(PROVIDERS[1], EventType.PERFORMANCE_VIOLATION, Severity.LOW, 86_400),  # 2nd offence: penalty
]


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args), env=env)
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    template = migrated_template(tmp_path / "template.db")
    engine, _ = record(template, tmp_path / "history.db", HISTORY, load_policy())
    engine.dispose()
    return {"SWARM_DATABASE_URL": f"sqlite:///{tmp_path / 'history.db'}", "SWARM_LOG_JSON": "false"}


def doubled_file(tmp_path: Path) -> Path:
    text = DEFAULT_POLICY.read_text()
    text = text.replace("\nslash_bps = 500\n", "\nslash_bps = 1000\n").replace(
        "\nslash_bps = 2000\n", "\nslash_bps = 4000\n"
    )
    path = tmp_path / "doubled.toml"
    path.write_text(text)
    return path


def test_check_lists_every_error_and_names_a_good_file_by_its_hash(
    env: dict[str, str], tmp_path: Path
) -> None:
    code, out, _ = run(env, "policy", "check", str(DEFAULT_POLICY))
    assert code == 0 and policy_hash(load_policy()) in out
    bad = tmp_path / "bad.toml"
    bad.write_text(
        DEFAULT_POLICY.read_text().replace("window_days = 30", "window_days = -1") + "\ntypo = 1\n"
    )
    code, out, err = run(env, "policy", "check", str(bad))
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("error: ") for line in lines)
    assert "window_days" in err and "typo" in err


def test_diff_names_each_parameter_that_differs(env: dict[str, str], tmp_path: Path) -> None:
    code, out, _ = run(env, "policy", "diff", str(DEFAULT_POLICY), str(doubled_file(tmp_path)), "--json")
    assert code == 0
    assert json.loads(out) == [
        {"parameter": "levels.penalty.slash_bps", "a": 500, "b": 1000},
        {"parameter": "levels.severe.slash_bps", "a": 2000, "b": 4000},
    ]
    code, out, _ = run(env, "policy", "diff", str(DEFAULT_POLICY), str(DEFAULT_POLICY))
    assert code == 0 and "the same" in out


def test_simulate_a_doubled_policy_doubles_the_stake_slashed_and_writes_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    db = Path(env["SWARM_DATABASE_URL"].removeprefix("sqlite:///"))
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    code, out, err = run(env, "policy", "simulate", str(doubled_file(tmp_path)), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["current_policy"] == policy_hash(load_policy())
    assert doc["parameters_changed"] == ["levels.penalty.slash_bps", "levels.severe.slash_bps"]
    totals = doc["totals"]
    assert totals["verdicts"] == 5 and totals["decisions_changed"] == 3
    assert int(totals["slashed_other"]) == 2 * int(totals["slashed_recorded"]) > 0
    assert {(c["current"]["slash_bps"], c["other"]["slash_bps"]) for c in doc["changed"]} == {(500, 1000)}
    assert "simulated 5 recorded verdicts" in err
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before, "the simulation wrote to the database"

    code, out, _ = run(env, "policy", "simulate", str(doubled_file(tmp_path)))
    assert code == 0 and "3 decision(s) would change" in out and "slash_bps 500 -> 1000" in out
    same = run(env, "policy", "simulate", str(DEFAULT_POLICY), "--json")
    assert json.loads(same[1])["totals"]["decisions_changed"] == 0
    late = run(env, "policy", "simulate", str(doubled_file(tmp_path)), "--json", "--since", str(T0 + 80_000))
    assert [c["provider"] for c in json.loads(late[1])["changed"]] == [PROVIDERS[1]]
    code, _, err = run(env, "policy", "simulate", str(doubled_file(tmp_path)), "--since", "yesterday")
    assert code == 1 and "--since" in err
