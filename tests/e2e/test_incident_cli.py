"""`swarm-staking incident list|show|release|dismiss` as governance runs them, against a real
Anvil, after a misfiring detector's verdicts went through the real intake and executor: the
isolations landed, the slashes were held (one proposed before the incident opened).

Dismissal vetoes the slash that reached the chain and lifts the jails that rest only on the
incident's verdicts — not the one another detector's verdict also holds; release lets the held
slashes through to the chain. `--dry-run` and a declined prompt change nothing, on chain or in
the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner, Result

from indexer.runner import Indexer
from staking.cli import app
from staking.db import schema as t
from staking.db.engine import make_engine, upgrade
from staking.devnet.accounts import COUNCIL_OWNERS, devnet_account
from staking.domain.vocabulary import EventType, Severity, SlashState
from staking.intake.results import Accepted
from staking.intake.service import IntakeService
from staking.txmanager.manager import TxConfig, TxManager
from staking.verdict import to_wire
from staking.worker.executor import ActionExecutor
from tests.support.chain import Chain
from tests.support.incidents import action_states, incident_policy, incident_rows, providers_over
from tests.support.intake import NEW_DETECTOR_INDEX

pytestmark = pytest.mark.e2e

SIGNER_ENV = ("SWARM_SIGNER_KEY", "SWARM_SIGNER_KEYSTORE", "SWARM_SIGNER_PASSWORD_FILE", "SWARM_RPC_URL")
REASON = "bad model push v2.3.1: every breach was a false positive"


@dataclass
class Service:
    """The intake (a detector incident over 2 providers) and the executor over one database, and
    the command line over the same database and deployment."""

    chain: Chain
    engine: Engine
    intake: IntakeService
    executor: ActionExecutor
    txm: TxManager
    env: dict[str, str]

    def cli(self, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(app, list(args), input=input, env=self.env)

    def submit(self, provider: str, key: bytes | None = None) -> str:
        v = self.chain.verdict(provider, EventType.SECURITY_BREACH, Severity.HIGH)
        outcome = self.intake.submit(to_wire(v, self.chain.sign(v, key=key)))
        assert isinstance(outcome, Accepted), outcome
        return "0x" + v.id.hex()

    def settle(self) -> None:
        """The executor until nothing moves, then the indexer to the head."""
        for _ in range(8):
            self.executor.step()
            self.txm.tick()
        Indexer(self.engine, self.chain.w3, self.chain.deployment).run(exit_at_head=True)

    def view(self) -> dict[str, Any]:
        """What a dismissal could change: on chain and in the database."""
        c = self.chain
        with self.engine.connect() as conn:
            actions = sorted(conn.execute(select(t.actions.c.id, t.actions.c.state)).all())
        return {
            "providers": [c.staking.provider(p) for p in c.providers[:3]],
            "nonce": c.w3.eth.get_transaction_count(c.governance, "pending"),
            "block": c.w3.eth.block_number,
            "incidents": [(r.id, r.state) for r in incident_rows(self.engine)],
            "actions": actions,
        }


@pytest.fixture
def service(chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    yield from _service(chain, tmp_path, monkeypatch)


@pytest.fixture
def safe_service(safe_chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    yield from _service(safe_chain, tmp_path, monkeypatch)


def _service(chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    deployment = tmp_path / "deployment.json"
    chain.deployment.save(deployment)
    db = f"sqlite:///{tmp_path}/swarm.db"
    upgrade(db)
    monkeypatch.chdir(tmp_path)
    for name in SIGNER_ENV:
        monkeypatch.delenv(name, raising=False)
    engine = make_engine(db)
    Indexer(engine, chain.w3, chain.deployment).run(exit_at_head=True)
    s = chain.staking
    intake = IntakeService(
        engine,
        s.domain(),
        lambda account: s.has_role("DETECTOR_ROLE", account),
        incident_policy(per_detector=providers_over(2)),
        max_age=s.max_verdict_age(),
        clock=lambda: float(chain.now()),
    )
    txm = TxManager(engine, chain.w3, devnet_account(1), TxConfig(), error_name=s.error_name)
    txm.reconcile()
    env = {"SWARM_DEPLOYMENT": str(deployment), "SWARM_DATABASE_URL": db, "USER": "council"}
    yield Service(chain, engine, intake, ActionExecutor(engine, s, txm), txm, env)
    engine.dispose()


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def misfire(svc: Service) -> tuple[int, list[str]]:
    """The devnet detector's breaches against providers 0, 1 and 2: the first is isolated and
    its slash proposed before the third opens the incident; then the rest are isolated too."""
    p = svc.chain.providers
    first = svc.submit(p[0])
    svc.settle()
    assert svc.chain.staking.slash_state(bytes.fromhex(first[2:])) == SlashState.PENDING
    ids = [first, svc.submit(p[1]), svc.submit(p[2])]
    (incident,) = incident_rows(svc.engine)
    svc.settle()
    for vid in ids[1:]:
        assert action_states(svc.engine, vid)["propose_slash"] == "held"
        assert svc.chain.staking.slash_state(bytes.fromhex(vid[2:])) == SlashState.NONE
    assert all(svc.chain.staking.is_jailed(a) for a in p[:3])  # isolation went on
    return incident.id, ids


def test_dismiss_vetoes_the_proposed_slash_and_lifts_only_the_jails_resting_on_the_incident(
    service: Service,
) -> None:
    svc, p = service, service.chain.providers
    # Another detector, honest, isolates provider 2 as well: that jail is not the incident's.
    honest = devnet_account(NEW_DETECTOR_INDEX)
    svc.chain.tx(svc.chain.staking.grant_role("DETECTOR_ROLE", honest.address), svc.chain.governance)
    incident, ids = misfire(svc)
    svc.submit(p[2], key=bytes(honest.key))
    svc.settle()

    listed = ok(svc.cli("incident", "list"))
    assert f"#{incident}  open" in listed and "1 incident (1 open)" in listed
    shown = ok(svc.cli("incident", "show", str(incident)))
    assert "3 verdicts against 3 providers" in shown and "1 confirmed, 2 held" in shown

    before = svc.view()
    dry = ok(svc.cli("incident", "dismiss", str(incident), "--reason", REASON, "--dry-run"))
    assert "actions of its verdicts to cancel: 2 (2 held, 0 pending)" in dry
    assert "slashes to veto: 1, " in dry and "jails to lift: 2 provider(s)" in dry
    assert "kept jailed: 1 provider(s)" in dry and "transactions: 2" in dry
    assert "dry run: nothing changed, nothing was sent" in dry
    assert svc.view() == before
    declined = svc.cli("incident", "dismiss", str(incident), "--reason", REASON, input="n\n")
    assert declined.exit_code == 1 and "aborted" in declined.output
    assert svc.view() == before

    done = ok(svc.cli("incident", "dismiss", str(incident), "--reason", REASON, "--yes"))
    assert "vetoed 1 slash(es), lifted 2 jail(s)" in done, done
    s = svc.chain.staking
    assert s.slash_state(bytes.fromhex(ids[0][2:])) == SlashState.VETOED
    assert not s.is_jailed(p[0]) and not s.is_jailed(p[1])
    assert s.is_jailed(p[2])  # the honest detector's jail stands
    assert incident_rows(svc.engine)[0].state == "dismissed"
    for vid in ids[1:]:
        assert action_states(svc.engine, vid)["propose_slash"] == "skipped"
    svc.settle()  # nothing of the incident's is sent afterwards
    assert all(s.slash_state(bytes.fromhex(v[2:])) == SlashState.NONE for v in ids[1:])

    again = ok(svc.cli("incident", "dismiss", str(incident), "--reason", REASON, "--yes"))
    assert "dismissed already and nothing is left to veto or lift" in again
    assert "dismissed" in ok(svc.cli("incident", "list", "--state", "dismissed"))


def test_in_the_safe_shape_the_council_safe_dismisses_in_one_transaction(safe_service: Service) -> None:
    svc, p = safe_service, safe_service.chain.providers
    incident, ids = misfire(svc)
    s, council = svc.chain.staking, svc.chain.deployment.governance.council_safe
    args = ("incident", "dismiss", str(incident), "--reason", REASON)
    svc.env["SWARM_SIGNER_KEY"] = devnet_account(COUNCIL_OWNERS[0]).key.to_0x_hex()
    block = svc.chain.w3.eth.block_number
    first = ok(svc.cli(*args, "--sign", "--signature-out", "d1.sig.json", "--yes"))
    assert f"route    the council Safe {council}" in first and "signers  1 of 2" in first
    assert incident_rows(svc.engine)[0].state == "dismissed"  # the service cancels at once
    assert svc.chain.w3.eth.block_number == block and s.is_jailed(p[0])  # the chain waits for a 2nd owner

    svc.env["SWARM_SIGNER_KEY"] = devnet_account(COUNCIL_OWNERS[1]).key.to_0x_hex()
    done = ok(svc.cli(*args, "--sign", "--signatures", "d1.sig.json", "--yes"))
    assert "dismissed already: what remains on chain" in done and "the Safe executed it" in done
    assert "vetoed 1 slash(es), lifted 3 jail(s)" in done, done
    assert svc.chain.w3.eth.block_number == block + 1  # vetoSlashes and liftJails in one Safe transaction
    assert s.slash_state(bytes.fromhex(ids[0][2:])) == SlashState.VETOED
    assert not any(s.is_jailed(a) for a in p[:3])


def test_release_lets_the_held_slashes_through_to_the_chain(service: Service) -> None:
    svc = service
    incident, ids = misfire(svc)
    before = svc.view()
    dry = ok(svc.cli("incident", "release", str(incident), "--dry-run"))
    assert "2 held action(s) back to pending" in dry and "dry run: nothing changed" in dry
    assert svc.view() == before

    ok(svc.cli("incident", "release", str(incident), "--yes", "--note", "a real outbreak"))
    svc.settle()
    for vid in ids:
        assert svc.chain.staking.slash_state(bytes.fromhex(vid[2:])) == SlashState.PENDING
    doc = ok(svc.cli("incident", "show", str(incident), "--json"))
    assert '"state": "released"' in doc and '"closed_by": "council"' in doc
    failed = svc.cli("incident", "release", str(incident), "--yes")
    assert failed.exit_code == 1 and f"incident {incident} is released, not open" in failed.output
