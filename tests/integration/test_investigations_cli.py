"""`swarm-staking investigation list|resolve` against a migrated database (SQLite and PostgreSQL).

Governance resolves what suspicious activity opened: cleared or confirmed, once, with a note and a
name; mistakes (unknown id, second resolution, declined prompt) are one-line errors that change
nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner, Result

from staking.cli import app
from staking.db import schema as t
from staking.db.engine import make_engine
from staking.domain.vocabulary import EventType
from staking.intake.errors import InvestigationError
from staking.intake.investigations import open_investigation, resolve_investigation
from tests.support.verdict_rows import OPENED_MS, PROVIDER, add_verdict, verdict_id

pytestmark = pytest.mark.integration


@dataclass
class Cli:
    engine: Engine
    runner: CliRunner

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(app, ["investigation", *args], input=input)

    def row(self, vid: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            r = conn.execute(select(t.investigations).where(t.investigations.c.verdict_id == vid)).one()
        return dict(r._mapping)


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.setenv("SWARM_DATABASE_URL", db_url)
    monkeypatch.setenv("USER", "alice")
    engine = make_engine(db_url)
    yield Cli(engine, CliRunner())
    engine.dispose()


def one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_list_shows_investigations_newest_first_and_filters_by_status(cli: Cli) -> None:
    first, second = add_verdict(cli.engine, 1), add_verdict(cli.engine, 2)
    add_verdict(cli.engine, 3, event_type=EventType.SECURITY_BREACH, investigation=False)

    result = cli("list", "--json")
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert [i["verdict_id"] for i in items] == [second, first]
    assert items[0]["status"] == "open" and items[0]["provider"] == PROVIDER
    assert items[0]["event_type"] == "suspicious_activity" and items[0]["severity"] == "high"

    text = cli("list")
    assert text.exit_code == 0, text.output
    assert text.stdout.index(second) < text.stdout.index(first)  # full ids, never cut
    assert PROVIDER in text.stdout and "2 investigations (2 open)" in text.stdout

    assert json.loads(cli("list", "--status", "resolved", "--json").stdout) == []
    assert len(json.loads(cli("list", "--status", "open", "--json").stdout)) == 2
    one_line_error(cli("list", "--status", "closed"), "--status must be one of open, resolved")


def test_resolve_cleared_records_outcome_note_resolver_and_time(cli: Cli) -> None:
    vid = add_verdict(cli.engine, 1)
    other = add_verdict(cli.engine, 2)
    upper = "0x" + vid[2:].upper()  # ids are matched case-insensitively
    result = cli("resolve", upper, "--outcome", "cleared", "--note", " false positive ", "--yes")
    assert result.exit_code == 0, result.output
    row = cli.row(vid)
    assert row["status"] == "resolved"
    assert row["resolution"] == "cleared: false positive"
    assert row["resolved_by"] == "alice"  # $USER by default
    assert row["resolved_ms"] is not None and row["resolved_ms"] > OPENED_MS
    assert "penalty" not in result.stdout
    assert cli.row(other)["status"] == "open"

    listed = json.loads(cli("list", "--status", "resolved", "--json").stdout)
    assert [(i["verdict_id"], i["resolution"], i["resolved_by"]) for i in listed] == [
        (vid, "cleared: false positive", "alice")
    ]
    assert listed[0]["resolved_at"].endswith("Z")
    assert "1 resolved investigation" in cli("list", "--status", "resolved").stdout


def test_resolve_confirmed_says_a_penalty_needs_a_new_verdict(cli: Cli) -> None:
    vid = add_verdict(cli.engine, 1)
    result = cli(
        "resolve", vid, "--outcome", "confirmed", "--note", "crypto mining", "--by", "security-team", "--yes"
    )
    assert result.exit_code == 0, result.output
    row = cli.row(vid)
    assert (row["status"], row["resolution"], row["resolved_by"]) == (
        "resolved",
        "confirmed: crypto mining",
        "security-team",
    )
    out = " ".join(result.stdout.split())
    assert "new verdict of the confirmed event type" in out and "detector" in out and PROVIDER in out
    # Resolving penalizes nobody: no action or verdict is added.
    with cli.engine.connect() as conn:
        assert conn.execute(select(t.actions)).all() == []
        assert len(conn.execute(select(t.verdicts)).all()) == 1


def test_resolving_an_unknown_investigation_is_a_one_line_error(cli: Cli) -> None:
    add_verdict(cli.engine, 1)
    plain = add_verdict(cli.engine, 2, event_type=EventType.POLICY_VIOLATION, investigation=False)
    for vid in (verdict_id(99), plain):
        one_line_error(
            cli("resolve", vid, "--outcome", "cleared", "--note", "n/a", "--yes"),
            f"no investigation for verdict {vid}",
        )
    one_line_error(
        cli("resolve", "0x12", "--outcome", "cleared", "--note", "n/a", "--yes"), "not a verdict id"
    )
    one_line_error(
        cli("resolve", verdict_id(1), "--outcome", "maybe", "--note", "n/a", "--yes"), "cleared, confirmed"
    )
    one_line_error(cli("resolve", verdict_id(1), "--outcome", "cleared", "--note", "  ", "--yes"), "note")
    assert cli.row(verdict_id(1))["status"] == "open"


def test_resolving_twice_is_a_one_line_error_and_keeps_the_first_resolution(cli: Cli) -> None:
    vid = add_verdict(cli.engine, 1)
    assert cli("resolve", vid, "--outcome", "cleared", "--note", "first", "--yes").exit_code == 0
    first = cli.row(vid)
    for outcome in ("cleared", "confirmed"):
        one_line_error(
            cli("resolve", vid, "--outcome", outcome, "--note", "second", "--by", "bob", "--yes"),
            "already resolved",
            "cleared: first",
            "alice",
        )
    assert cli.row(vid) == first


def test_a_declined_prompt_changes_nothing(cli: Cli) -> None:
    vid = add_verdict(cli.engine, 1)
    result = cli("resolve", vid, "--outcome", "confirmed", "--note", "bad", input="n\n")
    assert "resolve the investigation" in result.stdout and vid in result.stdout
    one_line_error(result, "aborted")
    row = cli.row(vid)
    assert (row["status"], row["resolution"], row["resolved_by"], row["resolved_ms"]) == (
        "open",
        None,
        None,
        None,
    )

    accepted = cli("resolve", vid, "--outcome", "confirmed", "--note", "bad", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert cli.row(vid)["resolution"] == "confirmed: bad"


def test_without_user_or_by_the_resolver_must_be_named(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    vid = add_verdict(cli.engine, 1)
    monkeypatch.delenv("USER")
    monkeypatch.delenv("LOGNAME", raising=False)
    one_line_error(cli("resolve", vid, "--outcome", "cleared", "--note", "ok", "--yes"), "--by")
    assert cli.row(vid)["status"] == "open"


def test_an_unmigrated_database_is_a_one_line_error(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWARM_DATABASE_URL", f"sqlite:///{tmp_path}/empty.db")
    one_line_error(CliRunner().invoke(app, ["investigation", "list"]), "swarm-staking db upgrade")


def test_of_two_racing_resolutions_only_one_wins(cli: Cli) -> None:
    """Both passed the CLI's open check; the conditional update lets only the first through."""
    vid = add_verdict(cli.engine, 1)
    assert open_investigation(cli.engine, vid)["status"] == "open"
    done = resolve_investigation(cli.engine, vid, "confirmed", "first", "alice", OPENED_MS + 10)
    assert (done["status"], done["resolution"], done["resolved_by"]) == (
        "resolved",
        "confirmed: first",
        "alice",
    )
    with pytest.raises(InvestigationError, match="already resolved"):
        resolve_investigation(cli.engine, vid, "cleared", "second", "bob", OPENED_MS + 20)
    assert cli.row(vid)["resolution"] == "confirmed: first"
    with pytest.raises(InvestigationError, match="no investigation"):
        resolve_investigation(cli.engine, verdict_id(7), "cleared", "x", "bob", OPENED_MS)
