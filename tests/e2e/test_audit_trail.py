"""`swarm-staking audit export|verify` (SPEC section 11) against a live `serve` on Anvil: a
breach's trail (verdict, decision, jail / slash proposal / recovery transactions, their indexed
events) verifies against the node, and a trail with one altered field, a removed line, a forged
signature or a claimed transaction that is not on chain fails, naming the line."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_utils import keccak

from staking.audit.lines import chain
from staking.devnet.accounts import devnet_account
from staking.devnet.harness import CLI, LocalDeployment, ServiceProcess, local_deployment
from staking.verdict import Domain, Verdict, sign_verdict
from tests.support.live_service import post_breach

pytestmark = pytest.mark.e2e


@dataclass
class Trail:
    net: LocalDeployment
    service: ServiceProcess
    path: Path
    lines: list[str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, SWARM_DATABASE_URL=self.service.database_url,
                   SWARM_DEPLOYMENT=str(self.net.deployment_path))  # fmt: skip
        return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)

    def verify(self, lines: list[str], name: str) -> subprocess.CompletedProcess[str]:
        path = self.path.with_name(name)
        path.write_text("\n".join(lines) + "\n")
        return self.cli("audit", "verify", str(path), "--rpc", self.net.node.rpc_url)


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trail]:
    workdir = tmp_path_factory.mktemp("audit")
    with local_deployment(workdir, block_time=0) as net:
        service = ServiceProcess(net, workdir, f"sqlite:///{workdir}/audit.db")
        service.upgrade_db()
        service.start()
        try:
            provider = net.providers[0]
            post_breach(net, service.base_url, provider, "audit-breach")
            deadline = time.monotonic() + 60
            while True:  # every action confirmed and indexed
                doc = httpx.get(f"{service.base_url}/v1/providers/{provider}", timeout=10).json()
                if doc["status"] == "in_recovery" and doc["pending_slashes"] and not doc["in_flight"]:
                    break
                assert time.monotonic() < deadline, doc
                time.sleep(0.3)
            path = workdir / "trail.jsonl"
            t = Trail(net, service, path, [])
            done = t.cli("audit", "export", "--output", str(path))
            assert done.returncode == 0, done.stderr
            assert "head sha256" in done.stderr
            t.lines = path.read_text().splitlines()
            yield t
        finally:
            service.stop()


def records(lines: list[str]) -> list[dict[str, Any]]:
    return [{k: v for k, v in json.loads(line).items() if k not in ("n", "prev")} for line in lines]


def index_of(lines: list[str], kind: str, **match: Any) -> int:
    return next(
        i
        for i, r in enumerate(records(lines))
        if r["kind"] == kind and all(r.get(k) == v for k, v in match.items())
    )


def test_the_exported_trail_verifies_against_the_node(trail: Trail) -> None:
    kinds = [r["kind"] for r in records(trail.lines)]
    assert kinds[:3] == ["deployment", "verdict", "decision"]
    assert kinds.count("action") >= 3 and kinds.count("event") >= 3
    events = {r["name"] for r in records(trail.lines) if r["kind"] == "event"}
    assert {"Jailed", "SlashProposed", "RecoveryBegun"} <= events
    done = trail.cli("audit", "verify", str(trail.path), "--rpc", trail.net.node.rpc_url)
    assert done.returncode == 0, done.stderr
    assert "against the node" in done.stdout and "1 verdicts" in done.stdout
    offline = trail.cli("audit", "verify", str(trail.path))
    assert offline.returncode == 0 and "offline" in offline.stdout
    head = done.stdout.rsplit("head sha256 ", 1)[1].strip()
    cut = trail.verify(trail.lines[:-1], "cut.jsonl")
    assert cut.returncode == 0  # a shorter trail is a valid trail: --head holds it to the published one
    held = trail.cli("audit", "verify", str(trail.path.with_name("cut.jsonl")), "--head", head)
    assert held.returncode == 1 and "cut or extended" in held.stderr


def test_one_altered_field_is_named(trail: Trail) -> None:
    i = index_of(trail.lines, "decision")
    altered = list(trail.lines)
    rec = json.loads(altered[i])
    rec["slash_bps"] = 1
    altered[i] = json.dumps(rec, sort_keys=True, separators=(",", ":"))
    done = trail.verify(altered, "altered.jsonl")
    assert done.returncode == 1 and f"line {i + 1} (decision): altered" in done.stderr, done.stderr


def test_a_removed_line_is_named(trail: Trail) -> None:
    i = index_of(trail.lines, "action")
    done = trail.verify(trail.lines[:i] + trail.lines[i + 1 :], "removed.jsonl")
    assert done.returncode == 1 and f"line {i + 1} " in done.stderr and "removed" in done.stderr, done.stderr


def test_a_forged_signature_is_named_even_in_a_rechained_trail(trail: Trail) -> None:
    recs = records(trail.lines)
    i = index_of(trail.lines, "verdict")
    v = recs[i]
    first = recs[0]
    forged = Verdict(bytes.fromhex(v["verdict_id"][2:]), v["provider"], v["event_type"], v["severity"],
                     v["detected_at"], bytes.fromhex(v["evidence_hash"][2:]))  # fmt: skip
    domain = Domain(first["chain_id"], trail.net.staking.address)
    signature = sign_verdict(forged, domain, devnet_account(15).key)  # not a detector's key
    v["signatures"][0]["signature"] = "0x" + signature.hex()
    done = trail.verify(list(chain(recs)), "forged.jsonl")
    assert done.returncode == 1 and f"line {i + 1} (verdict)" in done.stderr and "made by" in done.stderr, (
        done.stderr
    )


def test_a_claimed_transaction_that_is_not_on_chain_is_named(trail: Trail) -> None:
    recs = records(trail.lines)
    i = next(n for n, r in enumerate(recs) if r["kind"] == "action" and (r["intent"] or {}).get("tx_hash"))
    recs[i]["intent"]["tx_hash"] = "0x" + keccak(text="never sent").hex()
    done = trail.verify(list(chain(recs)), "phantom.jsonl")
    assert done.returncode == 1 and f"line {i + 1} (action)" in done.stderr and "not on chain" in done.stderr
