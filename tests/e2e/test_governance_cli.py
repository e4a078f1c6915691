"""Governance and risk-team commands as a user runs them, against a real Anvil (SPEC section 5).

`slash list|veto|execute`, `recovery begin|advance|reinstate`, `tombstone ADDRESS|proposals`,
`pause`/`unpause`, `verdict sign|submit` and the playbooks in `scripts/`. For every state-changing
command: `--dry-run` changes nothing on chain (contract views, nonce and block number compared),
a declined prompt sends nothing, a signer without the role gets one line naming it, a reverting
call one line naming the custom error, and the state a dry run predicts is the state that follows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from sqlalchemy import Engine, select
from typer.testing import CliRunner, Result

from indexer.runner import Indexer
from staking.api.app import create_app
from staking.cli import app
from staking.config import REPO_ROOT
from staking.db import schema as t
from staking.db.engine import make_engine
from staking.devnet.accounts import devnet_account
from staking.devnet.node import free_port
from staking.domain.vocabulary import EventType, RecoveryPath, RecoveryStage, Severity, SlashState
from staking.intake.service import IntakeService
from staking.policy import load_policy
from staking.verdict import Verdict, recover_signer
from tests.support.chain import STRANGER_INDEX, Chain
from tests.support.cli import SIGNER_ENV, command_line

pytestmark = pytest.mark.e2e

CLI = str(Path(sys.executable).parent / "swarm-staking")
REASON = "false positive: the provider's own pentest, ticket SEC-1234"
LABELS = ("call", "contract", "signer", "before", "after", "sent", "dry run")


@dataclass
class Gov:
    chain: Chain
    workdir: Path
    env: dict[str, str]
    runner: CliRunner

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(app, list(args), input=input, env=self.env)

    def run(self, *cmd: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """A child process, as from a shell: the installed entry point or a playbook script."""
        env = {k: v for k, v in os.environ.items() if k not in SIGNER_ENV}
        return subprocess.run(
            list(cmd),
            cwd=self.workdir,
            env={**env, **self.env},
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def as_account(self, index: int) -> None:
        """Sign with devnet account `index` through SWARM_SIGNER_KEY (accepted on chain 31337)."""
        self.env["SWARM_SIGNER_KEY"] = devnet_account(index).key.to_0x_hex()

    @property
    def provider(self) -> str:
        return self.chain.providers[0]

    def view(self, slash_ids: tuple[bytes, ...] = ()) -> dict[str, Any]:
        """Everything a governance command could change, plus the signer's nonce and the block."""
        c = self.chain
        return {
            "paused": c.staking.paused(),
            "providers": [c.staking.provider(p) for p in c.providers],
            "slashes": [c.staking.slash(s) for s in slash_ids],
            "treasury": c.token.balance_of(c.treasury),
            "nonce": c.w3.eth.get_transaction_count(c.governance, "pending"),
            "block": c.w3.eth.block_number,
        }

    def propose_slash(self, provider: str | None = None, bps: int = 500) -> bytes:
        v, sig = self.chain.signed(provider or self.provider)
        self.chain.tx(self.chain.staking.propose_slash(v, sig, bps), self.chain.service)
        return v.id

    def jail(self, provider: str | None = None, recovery: RecoveryPath | None = None) -> None:
        who = provider or self.provider
        v, sig = self.chain.signed(who)
        self.chain.tx(self.chain.staking.jail(v, sig, 0), self.chain.service)
        if recovery is not None:
            self.chain.tx(self.chain.staking.begin_recovery(who, recovery), self.chain.service)


@pytest.fixture
def gov(chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gov]:
    with command_line(chain, tmp_path, monkeypatch) as line:
        yield Gov(chain, tmp_path, line.env, CliRunner())


def hex32(value: bytes) -> str:
    return "0x" + value.hex()


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.stdout


def one_line_error(result: Result | subprocess.CompletedProcess[str], *fragments: str) -> str:
    code = result.exit_code if isinstance(result, Result) else result.returncode
    assert code != 0, result.stdout
    if isinstance(result, Result):
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def block(out: str, label: str) -> list[str]:
    """The lines printed under `label` (e.g. "after"), with the label column cut off."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(label.ljust(9)):
            found = [line[9:]]
            for more in lines[i + 1 :]:
                if not more.startswith(" " * 9) or any(more.startswith(lbl) for lbl in LABELS):
                    break
                found.append(more[9:])
            return found
    raise AssertionError(f"no {label!r} block in:\n{out}")


def predicted(out: str) -> list[str]:
    first, *rest = block(out, "after")
    assert first.startswith("(predicted) "), first
    return [first.removeprefix("(predicted) "), *rest]


def dry_run_then_send(gov: Gov, args: list[str], slash_ids: tuple[bytes, ...] = ()) -> tuple[str, str]:
    """`args --dry-run` changes nothing; declining the prompt sends nothing; `--yes` sends and
    ends in the state the dry run predicted. Returns both outputs."""
    before = gov.view(slash_ids)
    dry = ok(gov(*args, "--dry-run"))
    assert "nothing was sent" in dry and "would succeed" in dry
    assert gov.view(slash_ids) == before, "a dry run must change nothing on chain"

    declined = gov(*args, input="n\n")
    one_line_error(declined, "aborted")
    assert "send " in declined.stdout and "[y/N]" in declined.stdout
    assert gov.view(slash_ids) == before, "a declined prompt must send nothing"

    sent = ok(gov(*args, "--yes"))
    tx_line = block(sent, "sent")[0]
    tx_hash = tx_line.split()[1].rstrip(",")
    receipt = gov.chain.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    assert receipt["status"] == 1 and f"mined in block {receipt['blockNumber']}" in tx_line
    assert receipt["from"] == gov.chain.governance
    assert gov.view(slash_ids)["nonce"] == before["nonce"] + 1
    assert block(sent, "after") == predicted(dry), "the dry run's prediction must come true"
    return dry, sent


# ------------------------------------------------------------------------------------ slash


def test_veto_dry_run_declined_and_sent(gov: Gov) -> None:
    sid = gov.propose_slash()
    dry, sent = dry_run_then_send(gov, ["slash", "veto", hex32(sid), "--reason", REASON], (sid,))
    for out in (dry, sent):
        assert f"vetoSlash(id={hex32(sid)}, reasonHash={hex32(keccak(text=REASON))})" in out
        assert json.dumps(REASON) in out  # the text stays in the output; only its hash goes on chain
        assert f"signer   {gov.chain.governance}" in out
        assert block(out, "before")[0].startswith(f"slash {hex32(sid)}: pending, 500 bps = 500 SWARM")
    assert "vetoed" in block(sent, "after")[0] and "0 pending slashes" in block(sent, "after")[2]
    assert gov.chain.staking.slash_state(sid) == SlashState.VETOED
    events = gov.chain.staking.contract.events.SlashVetoed.get_logs(from_block=0)
    assert [(e.args.id, e.args.reasonHash, e.args.vetoer) for e in events] == [
        (sid, keccak(text=REASON), gov.chain.governance)
    ]


def test_veto_reverts_name_the_custom_error(gov: Gov) -> None:
    sid = gov.propose_slash()
    veto = ["slash", "veto", hex32(sid), "--reason", REASON]
    unknown = keccak(text="no such slash")
    gov.chain.advance(gov.chain.staking.veto_window() + 1)
    before = gov.view((sid,))
    for extra in (["--dry-run"], ["--yes"]):
        one_line_error(
            gov(*veto, *extra), "vetoSlash would revert: VetoWindowClosed(", "only a pause reopens vetoes"
        )
        one_line_error(
            gov("slash", "veto", hex32(unknown), "--reason", "x", *extra),
            "SlashNotPending(",
            "unknown id",
        )
    assert gov.view((sid,)) == before
    one_line_error(gov("slash", "veto", "0x1234", "--reason", "x"), "not a slash id")
    one_line_error(gov("slash", "veto", hex32(sid), "--reason", "  ", "--yes"), "--reason")


def test_execute_after_the_veto_window(gov: Gov) -> None:
    sid = gov.propose_slash(bps=1000)
    treasury = gov.chain.token.balance_of(gov.chain.treasury)
    for extra in (["--dry-run"], ["--yes"]):
        one_line_error(gov("slash", "execute", hex32(sid), *extra), "VetoWindowOpen(", "execute it after")
    assert gov.chain.staking.slash_state(sid) == SlashState.PENDING

    gov.chain.advance(gov.chain.staking.veto_window() + 1)
    _, sent = dry_run_then_send(gov, ["slash", "execute", hex32(sid)], (sid,))
    assert "executed, 1000 bps = 1,000 SWARM taken to the treasury" in block(sent, "after")[0]
    assert "stake 9,000 SWARM active" in block(sent, "after")[2]
    assert gov.chain.staking.slash_state(sid) == SlashState.EXECUTED
    assert gov.chain.token.balance_of(gov.chain.treasury) == treasury + 1000 * 10**18
    one_line_error(gov("slash", "execute", hex32(sid), "--yes"), "SlashNotPending(", "executed")


def test_anyone_may_execute_but_only_a_vetoer_may_veto(gov: Gov) -> None:
    sid = gov.propose_slash()
    gov.as_account(STRANGER_INDEX)
    stranger = gov.chain.stranger
    before = gov.view((sid,))
    for extra in ([], ["--dry-run"], ["--yes"]):
        one_line_error(
            gov("slash", "veto", hex32(sid), "--reason", REASON, *extra),
            f"signer {stranger} lacks VETOER_ROLE, which vetoSlash requires",
        )
    assert gov.view((sid,)) == before
    gov.chain.advance(gov.chain.staking.veto_window() + 1)
    out = ok(gov("slash", "execute", hex32(sid), "--yes"))
    assert f"signer   {stranger} (SWARM_SIGNER_KEY)" in out
    assert gov.chain.staking.slash_state(sid) == SlashState.EXECUTED


def test_slash_list_from_the_indexed_database(gov: Gov, db_url: str) -> None:
    gov.env["SWARM_DATABASE_URL"] = db_url
    first, second = gov.propose_slash(), gov.propose_slash(gov.chain.providers[1], bps=2000)
    ok(gov("slash", "veto", hex32(first), "--reason", REASON, "--yes"))
    engine = make_engine(db_url)
    Indexer(engine, gov.chain.w3, gov.chain.deployment).run(exit_at_head=True)

    items = json.loads(ok(gov("slash", "list", "--json")))
    assert [(i["id"], i["state"]) for i in items] == [(hex32(second), "pending"), (hex32(first), "vetoed")]
    assert items[0]["provider"] == gov.chain.providers[1] and items[0]["bps"] == 2000
    assert items[0]["amount"] == str(1000 * 10**18)  # 20 % of 5,000, in base units
    assert items[0]["event_type"] == "security_breach" and items[0]["severity"] == "critical"
    assert items[1]["veto_reason"] == hex32(keccak(text=REASON))
    assert items[1]["vetoer"] == gov.chain.governance

    pending = json.loads(ok(gov("slash", "list", "--state", "pending", "--json")))
    assert [i["id"] for i in pending] == [hex32(second)]
    assert json.loads(ok(gov("slash", "list", "--state", "executed", "--json"))) == []
    text = ok(gov("slash", "list"))
    assert text.index(hex32(second)) < text.index(hex32(first))  # full ids, newest first
    assert "2 slashes (1 pending); indexed to block" in text
    one_line_error(
        gov("slash", "list", "--state", "open"), "--state must be one of pending, executed, vetoed"
    )
    engine.dispose()


# ------------------------------------------------------------------------------------ recovery


def test_recovery_begin_advance_reinstate(gov: Gov) -> None:
    p = gov.provider
    gov.jail(p)
    one_line_error(gov("recovery", "advance", p, "--dry-run"), "NoRecoveryOpen(", p)
    one_line_error(gov("recovery", "begin", p, "--path", "rehab"), "--path must be one of")

    _, sent = dry_run_then_send(gov, ["recovery", "begin", p, "--path", "security_review"])
    assert "recovery security_review at stage response" in block(sent, "after")[0]
    one_line_error(gov("recovery", "begin", p, "--path", "security_review", "--yes"), "RecoveryOpen(")
    one_line_error(gov("recovery", "reinstate", p, "--yes"), "RecoveryIncomplete(", "stage response")

    dry_run_then_send(gov, ["recovery", "advance", p])
    _, sent = dry_run_then_send(gov, ["recovery", "advance", p])
    assert "stage restoration, next: recovery reinstate" in block(sent, "after")[0]
    one_line_error(gov("recovery", "advance", p, "--dry-run"), "RecoveryAtFinalStage(")

    _, sent = dry_run_then_send(gov, ["recovery", "reinstate", p])
    assert block(sent, "after")[0] == f"provider {p}: not jailed; no recovery open"
    record = gov.chain.staking.provider(p)
    assert not record.jailed and record.recovery_path == RecoveryPath.NONE
    one_line_error(gov("recovery", "reinstate", p, "--yes"), "NothingToReinstate(")
    one_line_error(gov("recovery", "advance", "0xnot-an-address"), "is not an address")


def test_recovery_and_tombstone_need_governance(gov: Gov) -> None:
    p = gov.provider
    gov.jail(p, RecoveryPath.SECURITY_REVIEW)
    provider_key = 4  # another provider: registered, staked, no role
    gov.as_account(provider_key)
    who = devnet_account(provider_key).address
    before = gov.view()
    for args, role in (
        (["recovery", "advance", p], "GOVERNANCE_ROLE, which advanceRecovery"),
        (["recovery", "reinstate", p], "GOVERNANCE_ROLE, which reinstate"),
        (
            ["recovery", "begin", gov.chain.providers[2], "--path", "service_improvement"],
            "GOVERNANCE_ROLE (or SLASHER_ROLE)",
        ),
        (["tombstone", p, "--reason", "x"], "GOVERNANCE_ROLE, which tombstone"),
        (["pause"], "VETOER_ROLE (or GOVERNANCE_ROLE), which pause"),
        (["unpause"], "VETOER_ROLE (or GOVERNANCE_ROLE), which unpause"),
    ):
        for extra in (["--dry-run"], ["--yes"]):
            one_line_error(gov(*args, *extra), f"signer {who} lacks {role}")
    assert gov.view() == before


# ------------------------------------------------------------------------------------ tombstone


@contextmanager
def api_server(chain: Chain, db_url: str) -> Iterator[tuple[str, Engine]]:
    """The intake API (no worker) on a free port, in this process, over `db_url`."""
    engine = make_engine(db_url)
    Indexer(engine, chain.w3, chain.deployment).run(exit_at_head=True)
    intake = IntakeService(
        engine,
        chain.staking.domain(),
        lambda account: chain.staking.has_role("DETECTOR_ROLE", account),
        load_policy(),
        max_age=chain.staking.max_verdict_age(),
        clock=lambda: float(chain.now()),
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(engine, intake), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the API did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", engine
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


def sign(gov: Gov, provider: str, *extra: str) -> dict[str, Any]:
    result = gov(
        "verdict",
        "sign",
        "--provider",
        provider,
        "--event-type",
        "security_breach",
        "--severity",
        "critical",
        "--detected-at",
        str(gov.chain.now()),
        *extra,
    )
    body: dict[str, Any] = json.loads(ok(result))
    return body


def test_verdict_sign_then_submit_round_trip(gov: Gov) -> None:
    evidence = gov.workdir / "evidence.log"
    evidence.write_bytes(b"sshd: 4000 failed logins from 203.0.113.7\n")
    vid = keccak(text="round-trip")
    body = sign(gov, gov.provider.lower(), "--evidence-file", str(evidence), "--id", hex32(vid))
    assert body["id"] == hex32(vid) and body["provider"] == gov.provider
    assert (body["event_type"], body["severity"]) == ("security_breach", "critical")
    assert body["evidence_hash"] == hex32(keccak(evidence.read_bytes())) and "evidence_uri" not in body
    verdict = Verdict(
        vid,
        gov.provider,  # type: ignore[arg-type]
        EventType.SECURITY_BREACH,
        Severity.CRITICAL,
        body["detected_at"],
        keccak(evidence.read_bytes()),
    )
    signature = bytes.fromhex(body["signature"][2:])
    assert recover_signer(verdict, gov.chain.staking.domain(), signature) == gov.chain.detector

    path = gov.workdir / "verdict.json"
    path.write_text(json.dumps(body))
    with api_server(gov.chain, gov.env["SWARM_DATABASE_URL"]) as (url, engine):
        first = ok(gov("verdict", "submit", str(path), "--api", url))
        assert first.startswith(f"202 accepted, new verdict {hex32(vid)}: status received, level severe")
        assert "propose_tombstone" in first
        resource = json.loads(first.split("\n", 1)[1])
        assert resource["id"] == hex32(vid) and resource["signer"] == gov.chain.detector

        again = gov("verdict", "submit", "-", "--api", url, "--json", input=json.dumps(body))
        assert json.loads(ok(again)) == resource  # idempotent: the same resource, 200

        conflict = sign(gov, gov.provider, "--id", hex32(vid), "--evidence-hash", "0x" + "ab" * 32)
        one_line_error(gov("verdict", "submit", "-", "--api", url, input=json.dumps(conflict)), "409 ")
        tampered = dict(body, severity="low")  # the signature no longer matches the content
        one_line_error(
            gov("verdict", "submit", "-", "--api", url, input=json.dumps(tampered)), "401 ", "DETECTOR_ROLE"
        )
        one_line_error(
            gov("verdict", "submit", "-", "--api", url, input=json.dumps(dict(body, id="0x12"))), "422 "
        )
        with engine.connect() as conn:
            assert conn.execute(select(t.verdicts.c.id)).scalars().all() == [hex32(vid)]

    one_line_error(gov("verdict", "submit", str(path), "--api", url), "cannot reach the API")
    path.write_text("{not json")
    one_line_error(gov("verdict", "submit", str(path)), "is not JSON")
    one_line_error(gov("verdict", "submit", str(gov.workdir / "missing.json")), "cannot read")


def test_verdict_sign_defaults_to_a_detection_time_the_chain_accepts(gov: Gov) -> None:
    args = [
        "verdict",
        "sign",
        "--provider",
        gov.provider,
        "--event-type",
        "system_attack",
        "--severity",
        "low",
    ]
    deadline = time.monotonic() + 5
    while gov.chain.now() >= int(time.time()):  # until the latest block lags the wall clock
        assert time.monotonic() < deadline, "the chain's clock is ahead of the wall clock"
        time.sleep(0.1)
    signed = gov(*args)
    body = json.loads(ok(signed))
    assert body["detected_at"] <= gov.chain.now(), "a verdict from the chain's future is refused"
    assert "note: no evidence given" in signed.stderr and f"signed by {gov.chain.detector}" in signed.stderr
    assert len(body["id"]) == 66 and body["evidence_hash"] == "0x" + "00" * 32
    verdict = Verdict(
        bytes.fromhex(body["id"][2:]),
        gov.provider,  # type: ignore[arg-type]
        EventType.SYSTEM_ATTACK,
        Severity.LOW,
        body["detected_at"],
        b"\x00" * 32,
    )
    jail = gov.chain.staking.jail(verdict, bytes.fromhex(body["signature"][2:]), 0)
    jail.call({"from": gov.chain.service})  # the contract takes it as it stands

    gov.chain.advance(3600)  # the chain's clock now runs ahead of the wall clock
    later = json.loads(ok(gov(*args)))
    assert int(time.time()) - 5 <= later["detected_at"] <= int(time.time())


def test_verdict_sign_refuses_bad_input_in_one_line(gov: Gov) -> None:
    base = ["verdict", "sign", "--provider", gov.provider, "--severity", "high"]
    one_line_error(gov(*base, "--event-type", "theft"), "--event-type must be one of security_breach")
    one_line_error(gov(*base, "--event-type", "security_breach", "--id", "0x12"), "--id must be 0x")
    one_line_error(
        gov(
            *base,
            "--event-type",
            "security_breach",
            "--evidence-hash",
            "0x" + "00" * 32,
            "--evidence-file",
            "f",
        ),
        "not both",
    )
    one_line_error(
        gov("verdict", "sign", "--provider", "0x12", "--event-type", "x", "--severity", "low"), "0x12"
    )


def test_tombstone_proposals_then_tombstone(gov: Gov) -> None:
    target, other = gov.chain.providers[0], gov.chain.providers[1]
    db = gov.env["SWARM_DATABASE_URL"]
    with api_server(gov.chain, db) as (url, engine):
        for provider in (target, other):
            body = json.dumps(sign(gov, provider, "--evidence-uri", "ipfs://bafy-evidence"))
            ok(gov("verdict", "submit", "-", "--api", url, input=body))

        proposals = json.loads(ok(gov("tombstone", "proposals", "--json")))
        assert [(p["provider"], p["status"], p["level"]) for p in proposals] == [
            (other, "open", "severe"),
            (target, "open", "severe"),
        ]
        assert proposals[0]["evidence_uri"] == "ipfs://bafy-evidence"
        assert "2 open tombstone proposals" in ok(gov("tombstone", "proposals"))

        dry, sent = dry_run_then_send(gov, ["tombstone", target, "--reason", REASON])
        assert f"tombstone(provider={target}, reasonHash={hex32(keccak(text=REASON))})" in dry
        assert json.dumps(REASON) in sent
        assert block(sent, "after")[0] == f"provider {target}: tombstoned (permanent); no recovery open"
        assert gov.chain.staking.is_tombstoned(target)
        one_line_error(gov("tombstone", target, "--reason", "again", "--dry-run"), "ProviderIsTombstoned(")

        Indexer(engine, gov.chain.w3, gov.chain.deployment).run(exit_at_head=True)
        still_open = json.loads(ok(gov("tombstone", "proposals", "--json")))
        assert [p["provider"] for p in still_open] == [other]
        every = json.loads(ok(gov("tombstone", "proposals", "--all", "--json")))
        assert {p["provider"]: p["status"] for p in every} == {other: "open", target: "tombstoned"}
    one_line_error(gov("tombstone", "0x" + "00" * 19 + "01", "--reason", "x", "--yes"), "NotRegistered(")


# ------------------------------------------------------------------------------------ provider


def test_provider_status_shows_where_a_provider_stands(gov: Gov, db_url: str) -> None:
    gov.env["SWARM_DATABASE_URL"] = db_url
    p = gov.provider
    gov.jail(p, RecoveryPath.SECURITY_REVIEW)
    sid = gov.propose_slash(p)
    engine = make_engine(db_url)
    Indexer(engine, gov.chain.w3, gov.chain.deployment).run(exit_at_head=True)
    engine.dispose()

    doc = json.loads(ok(gov("provider", "status", p.lower(), "--json")))
    assert (doc["address"], doc["class"], doc["gpus"], doc["status"]) == (
        p,
        "hardware_provider",
        8,
        "in_recovery",
    )
    assert doc["stake"]["active"] == str(10_000 * 10**18) and doc["stake"]["meets_minimum"] is True
    assert doc["jail"]["until"] is None
    assert (doc["recovery"]["path"], doc["recovery"]["stage"]) == ("security_review", "response")
    assert [s["id"] for s in doc["pending_slashes"]] == [hex32(sid)] and doc["slashes"] == []
    assert doc["rewards"]["eligible"] is False and "pending_slash" in doc["rewards"]["reasons"]
    assert doc["as_of"]["block"] == gov.chain.w3.eth.block_number

    text = ok(gov("provider", "status", p))
    for fragment in (
        f"{p} (hardware_provider, 8 GPUs)",
        "in_recovery: a recovery path is open",
        "10,000 SWARM active",
        "minimum 5,000 SWARM: meets it",
        "jailed until recovery",
        "security_review at stage response",
        f"next: {doc['recovery']['next_step']}",
        f"{hex32(sid)}  500 bps = 500 SWARM  security_breach/critical  executable",
        "not eligible (in_recovery, pending_slash)",
        f"block {doc['as_of']['block']}",
    ):
        assert fragment in " ".join(text.split()) or fragment in text, fragment

    nobody = json.loads(ok(gov("provider", "status", gov.chain.stranger, "--json")))
    assert nobody["status"] == "unregistered"
    one_line_error(gov("provider", "status", "0x12"), "'0x12' is not an address")


# ------------------------------------------------------------------------------------ pause


def test_pause_and_unpause(gov: Gov) -> None:
    one_line_error(gov("unpause", "--dry-run"), "ExpectedPause()", "not paused")
    _, sent = dry_run_then_send(gov, ["pause"])
    assert block(sent, "after")[0].startswith("contract paused")
    assert gov.chain.staking.paused()
    one_line_error(gov("pause", "--yes"), "EnforcedPause()")
    accepted = gov("unpause", input="y\n")
    assert "running" in block(ok(accepted), "after")[0]
    assert not gov.chain.staking.paused()


# ------------------------------------------------------------------------------------ signers


def test_a_keystore_signs_and_a_wrong_password_is_one_line(gov: Gov) -> None:
    keystore = gov.workdir / "governance.json"
    keystore.write_text(
        json.dumps(Account.encrypt(devnet_account(0).key, "correct horse", kdf="pbkdf2", iterations=2))
    )
    password = gov.workdir / "pw.txt"
    password.write_text("correct horse\n")
    for secret in (keystore, password):  # secret files must be owner-only
        secret.chmod(0o600)
    out = ok(gov("pause", "--dry-run", "--keystore", str(keystore), "--password-file", str(password)))
    assert f"signer   {gov.chain.governance} (keystore {keystore})" in out

    gov.env.update(SWARM_SIGNER_KEYSTORE=str(keystore), SWARM_SIGNER_PASSWORD_FILE=str(password))
    assert "(keystore" in ok(gov("pause", "--yes"))
    assert gov.chain.staking.paused()

    wrong = gov.workdir / "wrong.txt"
    wrong.write_text("battery staple")
    wrong.chmod(0o600)
    result = gov("unpause", "--yes", "--password-file", str(wrong))
    one_line_error(result, "wrong password")
    assert "battery" not in result.output, "a password must never be printed"
    one_line_error(gov("unpause", "--keystore", str(gov.workdir / "nope.json")), "not found")
    assert gov.chain.staking.paused()


def test_configuration_errors_are_one_line(gov: Gov) -> None:
    gov.env["SWARM_DEPLOYMENT"] = str(gov.workdir / "missing.json")
    one_line_error(gov("pause", "--dry-run"), "deployment file")
    gov.env["SWARM_DEPLOYMENT"] = str(gov.workdir / "deployment.json")
    gov.env["SWARM_RPC_URL"] = f"http://127.0.0.1:{free_port()}"
    one_line_error(gov("pause", "--dry-run"), "cannot reach the chain")


# ------------------------------------------------------------------------------------ as from a shell


def test_the_installed_command_and_the_playbooks(gov: Gov) -> None:
    sid = gov.propose_slash()
    before = gov.view((sid,))
    dry = gov.run(CLI, "slash", "veto", hex32(sid), "--reason", REASON, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "vetoSlash" in dry.stdout and "nothing was sent" in dry.stdout
    assert gov.view((sid,)) == before

    scripts = REPO_ROOT / "scripts"
    for script in ("review_and_veto.py", "reinstate_after_review.py", "emergency_pause.py"):
        helped = gov.run(sys.executable, str(scripts / script), "--help")
        assert helped.returncode == 0 and "--dry-run" in helped.stdout and "Usage" in helped.stdout

    review = [sys.executable, str(scripts / "review_and_veto.py"), hex32(sid)]
    shown = gov.run(*review)
    assert shown.returncode == 0, shown.stderr
    assert "review only" in shown.stdout and f"slash {hex32(sid)}: pending" in shown.stdout
    dry = gov.run(*review, "--reason", REASON, "--dry-run")
    assert dry.returncode == 0 and "(predicted) slash" in dry.stdout
    declined = gov.run(*review, "--reason", REASON, input="n\n")
    one_line_error(declined, "aborted")
    assert gov.view((sid,)) == before
    vetoed = gov.run(*review, "--reason", REASON, "--yes")
    assert vetoed.returncode == 0, vetoed.stderr
    assert gov.chain.staking.slash_state(sid) == SlashState.VETOED

    p = gov.chain.providers[1]
    gov.jail(p, RecoveryPath.COMPLIANCE_VERIFICATION)
    reinstate = [sys.executable, str(scripts / "reinstate_after_review.py"), p]
    before = gov.view()
    dry = gov.run(*reinstate, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "advanceRecovery (response -> recovery), then advanceRecovery" in dry.stdout
    assert "steps 2-3 depend on this one" in dry.stdout
    assert gov.view() == before
    stepwise = gov.run(*reinstate, input="y\nn\n")  # first step confirmed, second declined
    one_line_error(stepwise, "aborted")
    assert gov.chain.staking.provider(p).recovery_stage == RecoveryStage.RECOVERY
    finished = gov.run(*reinstate, "--yes")
    assert finished.returncode == 0, finished.stderr
    assert "step 2/2: reinstate" in finished.stdout and f"provider {p} reinstated" in finished.stdout
    assert not gov.chain.staking.is_jailed(p)
    one_line_error(gov.run(*reinstate, "--yes"), "nothing to reinstate")

    pause = [sys.executable, str(scripts / "emergency_pause.py")]
    before = gov.view()
    dry = gov.run(*pause, "--dry-run")
    assert dry.returncode == 0 and "would succeed" in dry.stdout
    assert gov.view() == before
    assert gov.run(*pause, "--yes").returncode == 0 and gov.chain.staking.paused()
    assert gov.run(*pause, "--unpause", "--yes").returncode == 0 and not gov.chain.staking.paused()


def test_provider_addresses_are_accepted_in_any_case(gov: Gov) -> None:
    gov.jail()
    out = ok(gov("recovery", "begin", gov.provider.lower(), "--path", "service_improvement", "--dry-run"))
    assert f"beginRecovery(provider={to_checksum_address(gov.provider)}, path=1)" in out
