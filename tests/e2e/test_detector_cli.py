"""`swarm-staking detector list|revoke` as governance runs them, against a real Anvil and the
service database the real intake and executor filled (SPEC section 8; the scene is
tests/support/containment.py): `--dry-run` prints the whole plan and changes nothing, on chain or
in the database; a declined prompt sends nothing; `--veto-pending --release-jails --yes` leaves the
chain as the plan said (role revoked, the rogue's slashes vetoed, its jails lifted, the rest as it
was) and the service refusing the detector; a signer without the roles gets one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner, Result

from staking.cli import app
from staking.cli.common import tokens
from staking.db import schema as t
from staking.db.engine import make_engine
from staking.devnet.accounts import devnet_account
from staking.domain.vocabulary import SlashState
from staking.verdict import to_wire
from tests.support.chain import STRANGER_INDEX, Chain
from tests.support.cli import command_line
from tests.support.containment import Rogue

pytestmark = pytest.mark.e2e

REVOKE = ("--veto-pending", "--release-jails", "--reason", "bad model push, INC-77")


@dataclass
class Cli:
    scene: Rogue
    env: dict[str, str]
    runner: CliRunner

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(app, list(args), input=input, env=self.env)

    @property
    def rogue(self) -> str:
        return self.scene.rogue.address

    def chain_view(self) -> dict[str, Any]:
        c, s = self.scene.chain, self.scene
        return {
            "role": c.staking.has_role("DETECTOR_ROLE", self.rogue),
            "slashes": {n: s.slash_state(n) for n in ("P0", "P1", "P2", "P3", "P2 honest")},
            "jailed": [c.staking.is_jailed(p) for p in s.providers[:5]],
            "nonce": c.w3.eth.get_transaction_count(c.governance, "pending"),
            "block": c.w3.eth.block_number,
        }

    def db_view(self) -> dict[str, Any]:
        with self.scene.engine.connect() as conn:
            return {
                "revocations": conn.execute(select(t.detector_revocations)).all(),
                "actions": conn.execute(
                    select(t.actions.c.id, t.actions.c.state).order_by(t.actions.c.id)
                ).all(),
                "verdicts": conn.execute(
                    select(t.verdicts.c.id, t.verdicts.c.status).order_by(t.verdicts.c.id)
                ).all(),
            }


@pytest.fixture
def cli(chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    with command_line(chain, tmp_path, monkeypatch) as line:
        engine: Engine = make_engine(line.database_url)
        scene = Rogue(chain, engine).build(index_after=True)
        yield Cli(scene, line.env, CliRunner())
        engine.dispose()


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.stdout


def one_line_error(result: Result, *fragments: str) -> str:
    assert result.exit_code != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_detector_list_shows_each_detector_with_its_verdicts(cli: Cli) -> None:
    items = {d["account"]: d for d in json.loads(ok(cli("detector", "list", "--json")))}
    rogue, honest = items[cli.rogue], items[cli.scene.honest.address]
    assert (rogue["verdicts"], rogue["verdicts_24h"], rogue["cosignatures"]) == (5, 5, 0)
    assert (honest["verdicts"], honest["cosignatures"]) == (1, 1)  # P2 honest; P3 co-signed
    assert rogue["holds_role"] and rogue["revoked_at"] is None and rogue["last_seen"]
    text = ok(cli("detector", "list"))
    assert f"{cli.rogue}  detector  verdicts 5 (5 in 24 h), co-signatures 0" in text
    assert "2 detectors, 0 revoked; roles indexed to block" in text


def test_revoke_dry_run_prints_the_plan_and_changes_nothing(cli: Cli) -> None:
    s = cli.scene
    at_stake = sum(s.slash_amount(n) for n in ("P0", "P1", "P2"))
    chain_before, db_before = cli.chain_view(), cli.db_view()
    out = ok(cli("detector", "revoke", cli.rogue, *REVOKE, "--dry-run"))
    assert f"plan     detector {cli.rogue} (in the roles index; not revoked yet)" in out
    assert "4 verdicts signed by it alone; 1 co-signed by another detector" in out
    assert "cancel 4 unsent actions" in out
    assert f"veto 3 pending slashes worth {tokens(at_stake)} SWARM (1 vetoSlashes)" in out
    assert "lift 2 jails resting only on its verdicts (1 liftJails)" in out
    assert "keep 1 jail also resting on another verdict" in out
    assert f"call     SwarmStaking.revokeDetector({cli.rogue}) (about" in out
    assert "vetoSlashes(3 ids): would veto 3" in out and "liftJails(2 providers): would lift 2" in out
    assert "dry run: 3 transactions would succeed; nothing was sent and nothing recorded" in out
    assert cli.chain_view() == chain_before and cli.db_view() == db_before

    declined = cli("detector", "revoke", cli.rogue, *REVOKE, input="n\n")
    one_line_error(declined, "aborted")
    assert cli.chain_view() == chain_before and cli.db_view() == db_before


def outbox(cli: Cli) -> list[dict[str, Any]]:
    w = t.webhook_outbox.c
    with cli.scene.engine.connect() as conn:
        rows = conn.execute(select(w.kind, w.url, w.body).where(w.kind == "detector_revoked")).all()
    return [{"url": r.url, **json.loads(r.body)} for r in rows]


def test_revoke_with_veto_and_release_contains_the_detector(cli: Cli) -> None:
    s, c = cli.scene, cli.scene.chain
    cli.env |= {"SWARM_WEBHOOK_URLS": "http://127.0.0.1:9/hook", "SWARM_WEBHOOK_SECRET": "s3cret-for-tests"}
    ok(cli("detector", "revoke", cli.rogue, *REVOKE, "--dry-run"))
    assert outbox(cli) == [], "a dry run announces nothing"
    at_stake = sum(s.slash_amount(n) for n in ("P0", "P1", "P2"))
    nonce = c.w3.eth.get_transaction_count(c.governance)
    out = ok(cli("detector", "revoke", cli.rogue, *REVOKE, "--yes"))
    assert f"vetoed   3 slashes worth {tokens(at_stake)} SWARM" in out
    assert "lifted   2 jails" in out and "DETECTOR_ROLE revoked on chain" in out
    assert "cancelled 4 unsent actions; 4 verdicts rejected" in out
    # The chain afterwards.
    assert not c.staking.has_role("DETECTOR_ROLE", cli.rogue)
    assert [s.slash_state(n) for n in ("P0", "P1", "P2")] == [SlashState.VETOED] * 3
    assert s.slash_state("P3") == SlashState.PENDING and s.slash_state("P2 honest") == SlashState.PENDING
    assert [c.staking.is_jailed(p) for p in s.providers[:5]] == [False, False, True, True, False]
    assert c.w3.eth.get_transaction_count(c.governance) == nonce + 3
    # The service refuses it, and says so in the listing.
    v, _ = c.signed(s.providers[4])
    assert "revoked by governance" in s.intake.submit(to_wire(v, c.sign(v, key=s.rogue.key))).detail  # type: ignore[union-attr]
    listed = {d["account"]: d for d in json.loads(ok(cli("detector", "list", "--json")))}[cli.rogue]
    assert listed["revoked_at"] and listed["revocation_note"] == "bad model push, INC-77"
    assert listed["revoked_by"] == c.governance
    # The webhook, queued in the revocation's own transaction.
    (event,) = outbox(cli)
    assert event["url"] == "http://127.0.0.1:9/hook" and event["type"] == "detector_revoked"
    assert event["data"] | {"revoked_at": None} == {
        "account": cli.rogue,
        "revoked_at": None,
        "revoked_by": c.governance,
        "reason": "bad model push, INC-77",
        "cancelled_actions": 4,
        "slashes_to_veto": 3,
        "jails_to_lift": 2,
    }
    assert event["data"]["revoked_at"] == listed["revoked_at"]


def test_revoke_needs_a_signer_with_the_roles(cli: Cli) -> None:
    cli.env["SWARM_SIGNER_KEY"] = devnet_account(STRANGER_INDEX).key.to_0x_hex()
    before = cli.db_view()
    one_line_error(cli("detector", "revoke", cli.rogue, *REVOKE, "--yes"), "lacks VETOER_ROLE")
    assert cli.db_view() == before and cli.scene.chain.staking.has_role("DETECTOR_ROLE", cli.rogue)


def test_revoking_an_account_that_never_was_a_detector_is_refused(cli: Cli) -> None:
    stranger = devnet_account(STRANGER_INDEX).address
    before = cli.db_view()
    one_line_error(cli("detector", "revoke", stranger, "--yes"), f"{stranger} is not a detector")
    assert cli.db_view() == before
