"""The recovery flow end to end, driven as its users drive it: the risk team signs and submits a
verdict with the CLI, the service jails, governance walks the recovery with the CLI, the provider
unjails itself, and at every step `GET /v1/providers/{address}` tells the provider where it stands
and what happens next."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from staking.chain.sender import Sender
from staking.devnet.accounts import DETECTOR, GOVERNANCE, devnet_account
from staking.devnet.harness import CLI, LocalDeployment, ServiceProcess, local_deployment

pytestmark = pytest.mark.e2e


class Flow:
    def __init__(self, net: LocalDeployment, service: ServiceProcess) -> None:
        self.net, self.service = net, service
        self.http = httpx.Client(base_url=service.base_url, timeout=10)

    def cli(self, *args: str, key_index: int = GOVERNANCE) -> str:
        env = dict(
            os.environ,
            SWARM_DEPLOYMENT=str(self.net.deployment_path),
            SWARM_DATABASE_URL=self.service.database_url,
            SWARM_SIGNER_KEY=devnet_account(key_index).key.hex(),
        )
        done = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"swarm-staking {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def standing(self, provider: str) -> dict[str, Any]:
        r = self.http.get(f"/v1/providers/{provider}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def until(self, provider: str, check: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        deadline = time.monotonic() + 45
        doc: dict[str, Any] = {}
        while time.monotonic() < deadline:
            doc = self.standing(provider)
            if check(doc):
                return doc
            time.sleep(0.3)
        raise AssertionError(f"{what}: the API still says {json.dumps(doc, indent=1)[:3000]}")

    def advance_time(self, seconds: int) -> None:
        self.net.node.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.net.node.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def submit_verdict(self, provider: str, event_type: str, severity: str) -> str:
        body = self.cli(
            "verdict", "sign", "--provider", provider, "--event-type", event_type, "--severity", severity,
            key_index=DETECTOR,
        )  # fmt: skip
        verdict_id = json.loads(body)["id"]
        path = self.service.workdir / f"verdict-{verdict_id[:10]}.json"
        path.write_text(body)
        self.cli("verdict", "submit", str(path), "--api", self.service.base_url, key_index=DETECTOR)
        return str(verdict_id)


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    workdir = tmp_path_factory.mktemp("recovery")
    with local_deployment(workdir, block_time=1) as net:
        service = ServiceProcess(net, workdir, f"sqlite:///{workdir}/recovery.db")
        service.upgrade_db()
        service.start()
        try:
            yield Flow(net, service)
        finally:
            service.stop()


def test_a_breach_walks_the_security_review_to_probation_and_back_to_active(flow: Flow) -> None:
    provider = flow.net.providers[0]
    assert flow.standing(provider)["status"] == "active"

    flow.submit_verdict(provider, "security_breach", "high")
    doc = flow.until(provider, lambda d: d["status"] == "in_recovery", "breach isolated and reviewed")
    assert doc["jail"] is not None and doc["jail"]["until"] in (0, None)
    assert doc["recovery"]["path"] == "security_review" and doc["recovery"]["stage"] == "response"
    assert doc["recovery"]["next_step"], "the provider is told what happens next"
    assert doc["pending_slashes"] and doc["strikes"]["in_window"] >= 1
    assert doc["rewards"]["eligible"] is False and doc["rewards"]["reasons"]

    seen_steps = {doc["recovery"]["next_step"]}
    for stage in ("recovery", "restoration"):
        flow.cli("recovery", "advance", provider, "--yes")
        doc = flow.until(
            provider, lambda d, s=stage: (d["recovery"] or {}).get("stage") == s, f"stage {stage}"
        )
        assert doc["status"] == "in_recovery"
        seen_steps.add(doc["recovery"]["next_step"])
    assert len(seen_steps) == 3, "each stage has its own next step"

    flow.cli("recovery", "reinstate", provider, "--yes")
    doc = flow.until(provider, lambda d: d["status"] == "probation", "reinstated into probation")
    assert doc["jail"] is None
    # The contract closed the recovery path; while the breach's slash is pending, the document
    # still tells the provider how to appeal it (SPEC section 9), with no path or stage.
    rec = doc["recovery"]
    assert rec is None or (rec["path"] is None and rec["stage"] is None and "appeal" in rec["next_step"])
    assert doc["probation"]["until_epoch"] > doc["rewards"]["epoch"]
    assert "reduced" in doc["status_reason"]

    probation = flow.net.staking.contract.functions.probationEpochs().call()
    epoch_length = 600  # StakingParams.devnet()
    flow.advance_time((probation + 1) * epoch_length)
    flow.until(provider, lambda d: d["status"] == "active", "probation over")


def test_a_performance_jail_expires_and_the_provider_unjails_itself(flow: Flow) -> None:
    provider = flow.net.providers[3]
    flow.submit_verdict(provider, "performance_violation", "low")  # a warning
    doc = flow.until(provider, lambda d: d["strikes"]["in_window"] >= 1, "the warning recorded")
    assert doc["status"] == "active" and doc["jail"] is None

    flow.submit_verdict(provider, "performance_violation", "low")  # the ladder's penalty: timed jail
    doc = flow.until(provider, lambda d: d["status"] == "jailed", "the timed jail")
    until = doc["jail"]["until"]
    assert until and until > flow.net.now()
    assert doc["recovery"] is None or doc["recovery"]["path"] == "service_improvement"

    flow.advance_time(until - flow.net.now() + 1)
    doc = flow.until(provider, lambda d: "expired" in d["status_reason"], "the jail expiry")
    assert doc["status"] == "jailed"

    owner = next(a for a in (devnet_account(i) for i in range(3, 10)) if a.address == provider)
    Sender(flow.net.node.w3, owner).transact(flow.net.staking.unjail())
    doc = flow.until(provider, lambda d: d["status"] == "active", "self-unjailed")
    assert doc["jail"] is None
