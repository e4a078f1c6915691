"""`swarm-staking devnet` and `scripts/deploy.py` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import is_checksum_address, keccak

from staking.chain.connect import connect
from staking.chain.contracts import StakingContract
from staking.chain.sender import Sender
from staking.config import REPO_ROOT
from staking.devnet.accounts import devnet_account
from staking.devnet.node import LocalNode, free_port, port_in_use
from staking.devnet.provision import DEMO_PROVIDERS
from staking.domain.vocabulary import EventType, Severity
from staking.verdict import Verdict, sign_verdict

CLI = str(Path(sys.executable).parent / "swarm-staking")
pytestmark = pytest.mark.e2e


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return
        if proc.poll() is not None:
            raise AssertionError(f"devnet exited early: {proc.stdout.read().decode() if proc.stdout else ''}")
        time.sleep(0.2)
    raise AssertionError(f"{path} not written within {timeout}s")


def _stop(proc: subprocess.Popen[bytes]) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    return out.decode()


@pytest.mark.parametrize("node", ["anvil", "hardhat"])
def test_devnet_command_deploys_stakes_demo_providers_and_stops_cleanly_on_ctrl_c(
    node: str, tmp_path: Path
) -> None:
    port = free_port()
    deployment_path = tmp_path / "localhost.json"
    proc = subprocess.Popen(
        [
            CLI,
            "devnet",
            "--node",
            node,
            "--port",
            str(port),
            "--block-time",
            "0",
            "--deployment",
            str(deployment_path),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(deployment_path, proc, timeout=90)
        d = json.loads(deployment_path.read_text())
        # SPEC section 6 shape.
        assert d["chain_id"] == 31337
        assert d["rpc_url"] == f"http://127.0.0.1:{port}"
        assert isinstance(d["deployed_block"], int) and d["deployed_block"] >= 1
        assert set(d["contracts"]) == {"SwarmStaking", "SwarmToken"}
        assert d["accounts"]["governance"] == devnet_account(0).address
        assert d["accounts"]["service"] == devnet_account(1).address
        assert d["accounts"]["detector"] == devnet_account(2).address
        assert d["accounts"]["providers"] == [devnet_account(i).address for i in range(3, 10)]
        assert all(is_checksum_address(a) for a in d["contracts"].values())

        w3 = connect(d["rpc_url"])
        staking = StakingContract(w3, d["contracts"]["SwarmStaking"])
        assert [staking.stake_of(p) for p in d["accounts"]["providers"]] == [p.stake for p in DEMO_PROVIDERS]
        assert staking.has_role("SLASHER_ROLE", d["accounts"]["service"])
        assert staking.has_role("REWARDS_ORACLE_ROLE", d["accounts"]["service"])
        assert staking.has_role("DETECTOR_ROLE", d["accounts"]["detector"])
        assert staking.has_role("VETOER_ROLE", d["accounts"]["governance"])

        # Smoke: the service jails a provider on a detector-signed verdict.
        provider = d["accounts"]["providers"][0]
        verdict = Verdict(
            id=keccak(text=f"smoke-{node}"),
            provider=provider,
            event_type=EventType.SECURITY_BREACH,
            severity=Severity.CRITICAL,
            detected_at=int(w3.eth.get_block("latest")["timestamp"]),
            evidence_hash=keccak(text="evidence"),
        )
        signature = sign_verdict(verdict, staking.domain(), devnet_account(2).key)
        Sender(w3, devnet_account(1)).transact(staking.jail(verdict, signature, 0))
        assert staking.is_jailed(provider)
    finally:
        out = _stop(proc)
    assert proc.returncode == 0, out
    assert "devnet ready" in out and "devnet stopped" in out
    assert not port_in_use(port), "the chain process outlived the devnet command"


def test_devnet_command_refuses_a_port_in_use_with_one_line(tmp_path: Path) -> None:
    with LocalNode.start("anvil") as busy:
        result = subprocess.run(
            [CLI, "devnet", "--port", str(busy.port), "--deployment", str(tmp_path / "x.json")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode != 0
    assert "already in use" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "x.json").exists()


def test_deploy_script_deploys_the_safe_shape_from_a_keystore_and_grants_the_roles(tmp_path: Path) -> None:
    gov = devnet_account(0)
    keystore = tmp_path / "gov.keystore.json"
    keystore.write_text(json.dumps(Account.encrypt(gov.key, "correct horse", kdf="pbkdf2", iterations=2)))
    password = tmp_path / "pw.txt"
    password.write_text("correct horse\n")
    for secret in (keystore, password):  # secret files must be owner-only
        secret.chmod(0o600)
    service, detector, treasury = (devnet_account(i).address for i in (13, 14, 15))
    with LocalNode.start("anvil") as node:
        env = dict(
            os.environ,
            SWARM_RPC_URL=node.rpc_url,
            SWARM_SIGNER_KEYSTORE=str(keystore),
            SWARM_SIGNER_PASSWORD_FILE=str(password),
        )
        args = [
            sys.executable,
            str(REPO_ROOT / "scripts" / "deploy.py"),
            "--network",
            "testnet",
            "--treasury",
            treasury,
            "--service",
            service,
            "--detector",
            detector,
            *[x for i in (3, 4, 5) for x in ("--owner", devnet_account(i).address)],
            "--threshold",
            "2",
            *[x for i in (6, 7, 8) for x in ("--council-owner", devnet_account(i).address)],
            "--council-threshold",
            "2",
            "--min-delay",
            "120",
        ]
        shared = [*args, "--council-owner", devnet_account(3).address, "--dry-run"]
        unsafe = subprocess.run(
            shared, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert unsafe.returncode == 1 and "the council must be independent of governance" in unsafe.stderr
        dry = subprocess.run(
            [*args, "--dry-run"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert dry.returncode == 0, dry.stderr
        assert node.w3.eth.block_number == 0, "a dry run must send nothing"

        result = subprocess.run(
            args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr
        d = json.loads((tmp_path / "deployments" / "testnet.json").read_text())
        staking = StakingContract(node.w3, d["contracts"]["SwarmStaking"])
        shape = d["governance"]
        assert (shape["mode"], shape["threshold"], shape["council_threshold"], shape["min_delay"]) == (
            "safe",
            2,
            2,
            120,
        )
        assert (
            staking.has_role("GOVERNANCE_ROLE", shape["timelock"])
            and d["accounts"]["governance"] == shape["timelock"]
        )
        assert staking.has_role("DEFAULT_ADMIN_ROLE", shape["timelock"])
        assert staking.has_role("VETOER_ROLE", shape["council_safe"])
        assert not any(
            staking.has_role(r, gov.address) for r in ("DEFAULT_ADMIN_ROLE", "GOVERNANCE_ROLE", "VETOER_ROLE")
        )
        assert staking.has_role("SLASHER_ROLE", service) and staking.has_role("REWARDS_ORACLE_ROLE", service)
        assert staking.has_role("DETECTOR_ROLE", detector)
        assert staking.treasury() == treasury
        assert staking.veto_window() == 3 * 24 * 3600  # production default off the devnet command

        wrong = tmp_path / "wrong.txt"
        wrong.write_text("nope")
        wrong.chmod(0o600)
        bad = subprocess.run(
            args,
            cwd=tmp_path,
            env=dict(env, SWARM_SIGNER_PASSWORD_FILE=str(wrong)),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert bad.returncode == 1
        assert "wrong password" in bad.stderr and "Traceback" not in bad.stderr
        assert "nope" not in bad.stderr + bad.stdout, "a password must never be printed"
