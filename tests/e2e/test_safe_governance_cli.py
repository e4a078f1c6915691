"""Governance through the production shape (SPEC section 9), as an operator runs it, on a devnet
deployed with `--governance safe`: a timelock holding the admin and governance roles, proposed to by
a 2-of-3 governance Safe, and a 2-of-3 council Safe holding the vetoer role (Safe's own 1.4.1
contracts, OpenZeppelin's TimelockController).

One owner alone changes nothing; a timelocked setVetoWindow cannot execute before its delay and does
after; the council vetoes with two owners' signatures in one transaction; the Transaction Builder
export has the Safe app's shape; dry-runs change nothing and write nothing; a tampered signature
file is refused."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result
from web3.logs import DISCARD

from staking.chain.safe import SafeContract
from staking.chain.timelock import TimelockContract
from staking.deploy_governance import HANDED_OVER
from staking.devnet.accounts import (
    COUNCIL_OWNERS,
    DEVNET_MIN_DELAY,
    GOVERNANCE,
    GOVERNANCE_OWNERS,
    devnet_account,
)
from staking.domain.vocabulary import SlashState
from tests.support.chain import Chain
from tests.support.cli import CommandLine, command_line, refused, succeeded

pytestmark = pytest.mark.e2e

REASON = "false positive: the provider's own maintenance window"
HEIR = 17  # a devnet account with no role: the admin's successor


@pytest.fixture
def chain(safe_chain: Chain) -> Chain:
    return safe_chain


@pytest.fixture
def cli(chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CommandLine]:
    with command_line(chain, tmp_path, monkeypatch) as c:
        yield c


def safes(chain: Chain) -> tuple[SafeContract, SafeContract, TimelockContract]:
    g = chain.deployment.governance
    assert g.governance_safe and g.council_safe and g.timelock
    return (
        SafeContract(chain.w3, g.governance_safe),
        SafeContract(chain.w3, g.council_safe),
        TimelockContract(chain.w3, g.timelock),
    )


def signature_files(workdir: Path) -> list[Path]:
    return sorted(workdir.glob("*.sig.json"))


def pending_slash(chain: Chain) -> bytes:
    v, sig = chain.signed(chain.providers[0])
    chain.tx(chain.staking.propose_slash(v, sig, 500), chain.service)
    return v.id


def veto(cli: CommandLine, sid: bytes, *extra: str, reason: str = REASON) -> Result:
    return cli("slash", "veto", "0x" + sid.hex(), "--reason", reason, *extra)


def test_the_devnet_hands_every_governance_role_to_the_timelock_and_the_council(chain: Chain) -> None:
    gsafe, council, timelock = safes(chain)
    g = chain.deployment.governance
    assert (g.mode, g.threshold, g.council_threshold, g.min_delay) == ("safe", 2, 2, DEVNET_MIN_DELAY)
    assert gsafe.threshold() == 2 and council.threshold() == 2 and timelock.min_delay() == DEVNET_MIN_DELAY
    assert set(gsafe.owners()) == {chain.account(i).address for i in GOVERNANCE_OWNERS}
    assert set(council.owners()) == {chain.account(i).address for i in COUNCIL_OWNERS}
    deployer = chain.account(GOVERNANCE).address
    assert not any(chain.staking.has_role(r, deployer) for r in HANDED_OVER)
    assert chain.staking.has_role("DEFAULT_ADMIN_ROLE", timelock.address)
    assert chain.staking.has_role("GOVERNANCE_ROLE", timelock.address)
    assert chain.staking.has_role("VETOER_ROLE", council.address)
    assert not chain.staking.has_role("VETOER_ROLE", gsafe.address)
    assert timelock.has_role("PROPOSER_ROLE", gsafe.address) and not timelock.has_role(
        "CANCELLER_ROLE", council.address
    )


def test_one_owner_alone_cannot_change_a_parameter(cli: CommandLine, chain: Chain) -> None:
    window = chain.staking.veto_window()
    cli.sign_as(GOVERNANCE_OWNERS[0])
    # Directly, the owner's key holds no role.
    refused(cli("params", "set", "veto-window", "300", "--via", "eoa", "--yes"), "lacks GOVERNANCE_ROLE")
    # Through the Safe, one signature of two is written to a file, and nothing is sent.
    out = succeeded(cli("params", "set", "veto-window", "300", "--sign", "--yes"))
    assert "signers  1 of 2" in out and "needs 1 more" in out
    assert len(signature_files(cli.workdir)) == 1
    assert chain.staking.veto_window() == window
    assert "0 queued operations" in succeeded(cli("timelock", "list"))
    # The same owner's signature twice counts once.
    refused(
        cli(
            "params",
            "set",
            "veto-window",
            "300",
            "--sign",
            "--signatures",
            str(signature_files(cli.workdir)[0]),
        ),
        "already signed",
    )


def test_a_timelocked_veto_window_change_executes_only_after_its_delay(
    cli: CommandLine, chain: Chain
) -> None:
    cli.sign_as(GOVERNANCE_OWNERS[0])
    succeeded(cli("params", "set", "veto-window", "300", "--sign", "--yes"))
    first = signature_files(cli.workdir)[0]
    cli.sign_as(GOVERNANCE_OWNERS[2])
    out = succeeded(cli("params", "set", "veto-window", "300", "--sign", "--signatures", str(first), "--yes"))
    assert "the Safe executed it" in out and "queued   operation 0x" in out
    listed = json.loads(succeeded(cli("timelock", "list", "--json")))
    assert [(o["state"], o["call"]) for o in listed] == [
        ("pending", "SwarmStaking.setVetoWindow(window=300)")
    ]
    op_id, eta = listed[0]["id"], listed[0]["eta"]
    assert eta - chain.now() <= DEVNET_MIN_DELAY

    refused(cli("timelock", "execute", op_id, "--yes"), "is not ready", "ETA")
    assert chain.staking.veto_window() != 300
    chain.mine(eta)
    before = chain.w3.eth.block_number
    assert "would succeed" in succeeded(cli("timelock", "execute", op_id, "--dry-run"))
    assert chain.w3.eth.block_number == before and chain.staking.veto_window() != 300
    succeeded(cli("timelock", "execute", op_id, "--yes"))
    assert chain.staking.veto_window() == 300
    states = {o["id"]: o["state"] for o in json.loads(succeeded(cli("timelock", "list", "--all", "--json")))}
    assert states[op_id] == "done"
    refused(cli("timelock", "execute", op_id, "--yes"), "is done")


def test_the_council_vetoes_with_two_signatures_in_one_transaction(cli: CommandLine, chain: Chain) -> None:
    sid = pending_slash(chain)
    _, council, _ = safes(chain)
    # No key configured: the devnet signs as the council Safe's first owner.
    out = succeeded(veto(cli, sid, "--sign", "--yes"))
    assert f"devnet Safe owner #{COUNCIL_OWNERS[0]}" in out and "signers  1 of 2" in out
    assert chain.staking.slash(sid).state == SlashState.PENDING
    cli.sign_as(COUNCIL_OWNERS[1])
    first = str(signature_files(cli.workdir)[0])
    out = succeeded(veto(cli, sid, "--sign", "--signatures", first, "--yes"))
    assert chain.staking.slash(sid).state == SlashState.VETOED
    tx_hash = next(line.split()[2].rstrip(",") for line in out.splitlines() if line.startswith("sent "))
    receipt = chain.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    assert receipt["to"] == council.address  # one transaction: the Safe's execTransaction
    vetoed = chain.staking.contract.events.SlashVetoed().process_receipt(receipt, errors=DISCARD)
    assert [bytes(e["args"]["id"]) for e in vetoed] == [sid]
    assert council.nonce() == 1


def test_dry_runs_send_and_write_nothing(cli: CommandLine, chain: Chain) -> None:
    sid = pending_slash(chain)
    gsafe, council, _ = safes(chain)
    cli.sign_as(COUNCIL_OWNERS[0])
    out = succeeded(veto(cli, sid, "--sign", "--dry-run"))
    assert "(predicted) slash" in out and "nothing was sent or written" in out
    assert signature_files(cli.workdir) == []
    succeeded(veto(cli, sid, "--sign", "--yes"))
    cli.sign_as(COUNCIL_OWNERS[2])
    first = str(signature_files(cli.workdir)[0])
    block = chain.w3.eth.block_number
    out = succeeded(veto(cli, sid, "--sign", "--signatures", first, "--dry-run"))
    assert "execTransaction would succeed" in out
    assert (
        chain.w3.eth.block_number == block and council.nonce() == 0 and len(signature_files(cli.workdir)) == 1
    )
    assert chain.staking.slash(sid).state == SlashState.PENDING
    cli.sign_as(GOVERNANCE_OWNERS[0])
    succeeded(cli("params", "set", "veto-window", "300", "--sign", "--dry-run"))
    assert gsafe.nonce() == 0 and chain.w3.eth.block_number == block


def test_the_transaction_builder_export_has_the_safe_apps_shape(cli: CommandLine, chain: Chain) -> None:
    sid = pending_slash(chain)
    _, council, _ = safes(chain)
    out = succeeded(veto(cli, sid, "--export", "batch.json"))
    assert "exported batch.json" in out
    doc: dict[str, Any] = json.loads((cli.workdir / "batch.json").read_text())
    assert doc["version"] == "1.0" and doc["chainId"] == str(chain.deployment.chain_id)
    assert doc["meta"]["createdFromSafeAddress"] == council.address
    [call] = doc["transactions"]
    assert call["to"] == chain.staking.address and call["value"] == "0"
    assert call["data"].startswith(
        "0x" + chain.staking.contract.functions.vetoSlash(sid, b"\0" * 32).selector[2:]
    )
    assert chain.staking.slash(sid).state == SlashState.PENDING


def test_a_tampered_signature_file_is_refused(cli: CommandLine, chain: Chain) -> None:
    sid = pending_slash(chain)
    cli.sign_as(COUNCIL_OWNERS[0])
    succeeded(veto(cli, sid, "--sign", "--yes"))
    path = signature_files(cli.workdir)[0]
    doc = json.loads(path.read_text())
    doc["signer"] = chain.account(COUNCIL_OWNERS[2]).address  # claims another owner signed
    path.write_text(json.dumps(doc))
    cli.sign_as(COUNCIL_OWNERS[1])
    refused(
        veto(cli, sid, "--sign", "--signatures", str(path), "--yes"),
        "recovers to",
    )
    # A signature of another call (a different reason) does not count for this one.
    doc["signer"] = chain.account(COUNCIL_OWNERS[0]).address
    path.write_text(json.dumps(doc))
    refused(
        veto(cli, sid, "--sign", "--signatures", str(path), "--yes", reason="another"),
        "not 0x",
    )
    assert chain.staking.slash(sid).state == SlashState.PENDING


def test_governance_cancels_a_queued_operation_through_its_safe(cli: CommandLine, chain: Chain) -> None:
    cli.sign_as(GOVERNANCE_OWNERS[0])
    succeeded(cli("params", "set", "veto-window", "300", "--sign", "--signature-out", "a.sig.json", "--yes"))
    cli.sign_as(GOVERNANCE_OWNERS[1])
    succeeded(cli("params", "set", "veto-window", "300", "--sign", "--signatures", "a.sig.json", "--yes"))
    [op] = json.loads(succeeded(cli("timelock", "list", "--json")))
    succeeded(cli("timelock", "cancel", op["id"], "--sign", "--signature-out", "c1.sig.json", "--yes"))
    cli.sign_as(GOVERNANCE_OWNERS[2])
    out = succeeded(cli("timelock", "cancel", op["id"], "--sign", "--signatures", "c1.sig.json", "--yes"))
    assert "cancelled" in out
    states = {o["id"]: o["state"] for o in json.loads(succeeded(cli("timelock", "list", "--all", "--json")))}
    assert states[op["id"]] == "cancelled"  # (the deployment's own hand-over operations are done)
    chain.mine(op["eta"] + 1)
    refused(cli("timelock", "execute", op["id"], "--yes"), "is cancelled")


def test_the_council_pauses_at_once_and_governance_routes_refuse_the_wrong_safe(
    cli: CommandLine, chain: Chain
) -> None:
    cli.sign_as(COUNCIL_OWNERS[0])
    succeeded(cli("pause", "--sign", "--signature-out", "p.sig.json", "--yes"))
    cli.sign_as(COUNCIL_OWNERS[1])
    succeeded(cli("pause", "--sign", "--signatures", "p.sig.json", "--yes"))
    assert chain.staking.paused()
    refused(cli("params", "set", "veto-window", "300", "--via", "safe", "--sign"), "not a council call")
    refused(
        cli("slash", "veto", "0x" + "11" * 32, "--reason", REASON, "--via", "timelock"),
        "does not need GOVERNANCE_ROLE",
    )


def test_the_governance_demo_runs_end_to_end() -> None:
    """`make demo-governance`: its own devnet in the Safe shape, a timelocked change, a council
    veto and an upheld appeal, each step checked by the demo itself (exit 1 when one fails)."""
    done = subprocess.run(
        [sys.executable, "-m", "staking.devnet.demo.governance"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Done: a timelocked change, a council veto and an upheld appeal" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_an_admin_transfer_needs_both_steps_and_the_admin_delay(cli: CommandLine, chain: Chain) -> None:
    _, _, timelock = safes(chain)
    heir = devnet_account(HEIR)
    assert chain.staking.default_admin() == timelock.address
    cli.sign_as(GOVERNANCE_OWNERS[0])
    succeeded(cli("admin", "transfer", heir.address, "--sign", "--signature-out", "t.sig.json", "--yes"))
    cli.sign_as(GOVERNANCE_OWNERS[1])
    out = succeeded(cli("admin", "transfer", heir.address, "--sign", "--signatures", "t.sig.json", "--yes"))
    assert "queued   operation 0x" in out  # step 1 is the admin's call: the timelock's
    [op] = json.loads(succeeded(cli("timelock", "list", "--json")))
    assert op["call"] == f"SwarmStaking.beginDefaultAdminTransfer(newAdmin={heir.address})"
    chain.mine(op["eta"])
    succeeded(cli("timelock", "execute", op["id"], "--yes"))
    shown = json.loads(succeeded(cli("admin", "show", "--json")))
    assert (shown["admin"], shown["pending"], shown["delay"]) == (
        timelock.address,
        heir.address,
        DEVNET_MIN_DELAY,
    )
    assert shown["accept_after"] > chain.now()

    refused(cli("admin", "accept", "--yes"), "only it accepts")  # an owner is not the heir
    cli.sign_as(HEIR)
    refused(cli("admin", "accept", "--yes"), "the admin delay has not passed")
    assert chain.staking.default_admin() == timelock.address
    chain.mine(shown["accept_after"] + 1)
    before = chain.w3.eth.block_number
    assert "would succeed" in succeeded(cli("admin", "accept", "--dry-run"))
    assert chain.w3.eth.block_number == before
    succeeded(cli("admin", "accept", "--yes"))
    assert chain.staking.default_admin() == heir.address
    assert not chain.staking.has_role("DEFAULT_ADMIN_ROLE", timelock.address)
    refused(cli("admin", "accept", "--yes"), "no admin transfer is pending")
