"""The whole service as an operator runs it: `swarm-staking serve --role all` against Anvil with
1-second blocks, driven through the HTTP API. Each event type must end in its decided on-chain
result; replays must not add actions."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_utils import keccak

from staking.chain.contracts import StakingContract
from staking.devnet.accounts import devnet_account
from staking.devnet.node import LocalNode, free_port
from staking.devnet.provision import provision_devnet
from staking.domain.vocabulary import EventType, Severity
from staking.notify.webhooks import signature
from staking.verdict import Verdict, sign_verdict, to_wire
from tests.support.webhooks import Receiver

pytestmark = pytest.mark.e2e
CLI = str(Path(sys.executable).parent / "swarm-staking")
HOOK_SECRET = b"e2e-webhook-secret"


class Service:
    def __init__(self, node: LocalNode, staking: StakingContract, base: str, providers: list[str]) -> None:
        self.node, self.staking, self.base, self.providers = node, staking, base, providers
        self.http = httpx.Client(base_url=base, timeout=10)
        self.hooks: Receiver
        self.env: dict[str, str] = {}
        self._n = 0

    def body(
        self,
        provider: str,
        event: EventType,
        severity: Severity = Severity.HIGH,
        verdict_id: bytes | None = None,
    ) -> dict[str, Any]:
        self._n += 1
        now = int(self.node.w3.eth.get_block("latest")["timestamp"])
        v = Verdict(
            verdict_id or keccak(text=f"e2e-{self._n}-{time.time()}"),
            provider,
            event,
            severity,
            now,
            keccak(text=f"evidence-{self._n}"),
        )
        return to_wire(v, sign_verdict(v, self.staking.domain(), devnet_account(2).key))

    def wait_done(self, verdict_id: str, timeout: float = 45) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.http.get(f"/v1/verdicts/{verdict_id}").json()
            if r["status"] in ("done", "failed"):
                return r
            time.sleep(0.3)
        raise AssertionError(f"verdict {verdict_id} not settled in {timeout}s: {r}")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("service")
    with LocalNode.start("anvil") as node:
        deployment = provision_devnet(node.w3, node.rpc_url)
        node.set_block_time(1)
        dep = tmp / "localhost.json"
        deployment.save(dep)
        port = free_port()
        hooks = Receiver(fail_first=0)
        env = dict(
            os.environ,
            SWARM_DEPLOYMENT=str(dep),
            SWARM_DATABASE_URL=f"sqlite:///{tmp}/svc.db",
            SWARM_LOG_JSON="true",
            SWARM_WEBHOOK_URLS=hooks.url,
            SWARM_WEBHOOK_SECRET=HOOK_SECRET.decode(),
        )
        subprocess.run([CLI, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60)
        log = open(tmp / "service.log", "wb")  # noqa: SIM115 - closed in the finally below
        proc = subprocess.Popen(
            [CLI, "serve", "--role", "all", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            else:
                raise AssertionError((tmp / "service.log").read_text()[-3000:])
            svc = Service(
                node,
                StakingContract(node.w3, deployment.contracts.SwarmStaking),
                base,
                deployment.accounts.providers,
            )
            svc.hooks, svc.env = hooks, env
            yield svc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
            hooks.server.shutdown()


def kinds(resource: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["kind"], a["state"]) for a in resource["actions"]]


def test_a_security_breach_isolates_proposes_a_slash_and_opens_a_security_review(service: Service) -> None:
    provider = service.providers[0]
    body = service.body(provider, EventType.SECURITY_BREACH)
    assert service.http.post("/v1/verdicts", json=body).status_code == 202
    done = service.wait_done(body["id"])
    assert done["status"] == "done", done["actions"]
    assert kinds(done)[0] == ("jail", "confirmed")
    assert service.staking.is_jailed(provider)
    assert service.staking.slash_state(bytes.fromhex(body["id"][2:])) == 1  # pending, vetoable
    assert service.staking.provider(provider).recovery_path == 2  # security_review
    jail = next(a for a in done["actions"] if a["kind"] == "jail")
    assert jail["tx_hash"] and jail["block"]
    # The isolation was announced by a webhook signed with the shared secret.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
        json.loads(b)["type"] == "isolation" and json.loads(b)["data"]["verdict_id"] == body["id"]
        for _, b in service.hooks.requests
    ):
        time.sleep(0.1)
    headers, raw = next(
        (h, b)
        for h, b in service.hooks.requests
        if json.loads(b)["type"] == "isolation" and json.loads(b)["data"]["verdict_id"] == body["id"]
    )
    assert hmac.compare_digest(headers["x-swarm-signature"], signature(HOOK_SECRET, raw))


def test_replaying_a_verdict_ten_times_yields_one_set_of_actions(service: Service) -> None:
    body = service.body(service.providers[1], EventType.SYSTEM_ATTACK)
    codes = [service.http.post("/v1/verdicts", json=body).status_code for _ in range(10)]
    assert codes[0] == 202 and set(codes[1:]) == {200}
    done = service.wait_done(body["id"])
    assert done["status"] == "done" and [k for k, _ in kinds(done)].count("jail") == 1
    # Same id, different content, validly signed: a conflict, not a replay.
    conflict = service.body(
        service.providers[1], EventType.SYSTEM_ATTACK, Severity.LOW, bytes.fromhex(body["id"][2:])
    )
    assert service.http.post("/v1/verdicts", json=conflict).status_code == 409
    tampered = dict(body, severity="low")  # signed fields changed without a new signature
    assert service.http.post("/v1/verdicts", json=tampered).status_code == 401


def test_suspicious_activity_opens_an_investigation_without_touching_the_chain(service: Service) -> None:
    provider = service.providers[2]
    body = service.body(provider, EventType.SUSPICIOUS_ACTIVITY)
    assert service.http.post("/v1/verdicts", json=body).status_code == 202
    done = service.wait_done(body["id"])
    assert kinds(done) == [("open_investigation", "confirmed")]
    assert not service.staking.is_jailed(provider)
    listed = service.http.get("/v1/investigations", params={"status": "open"}).json()
    assert body["id"] in str(listed)


def test_a_first_performance_violation_is_a_warning_and_the_second_a_timed_jail_and_slash(
    service: Service,
) -> None:
    provider = service.providers[3]
    first = service.body(provider, EventType.PERFORMANCE_VIOLATION, Severity.LOW)
    service.http.post("/v1/verdicts", json=first)
    assert kinds(service.wait_done(first["id"])) == [("warn", "confirmed")]
    assert not service.staking.is_jailed(provider)
    second = service.body(provider, EventType.PERFORMANCE_VIOLATION, Severity.LOW)
    service.http.post("/v1/verdicts", json=second)
    done = service.wait_done(second["id"])
    assert done["decision"]["level"] == "penalty" and done["status"] == "done"
    assert service.staking.is_jailed(provider) and service.staking.provider(provider).jailed_until > 0
    assert service.staking.slash_state(bytes.fromhex(second["id"][2:])) == 1


def test_policy_violation_and_operational_failure_reach_their_decided_results(service: Service) -> None:
    pv = service.body(service.providers[4], EventType.POLICY_VIOLATION, Severity.LOW)
    service.http.post("/v1/verdicts", json=pv)
    assert kinds(service.wait_done(pv["id"])) == [("warn", "confirmed")]
    of = service.body(service.providers[5], EventType.OPERATIONAL_FAILURE, Severity.MEDIUM)
    service.http.post("/v1/verdicts", json=of)
    done = service.wait_done(of["id"])
    assert done["decision"]["level"] == "penalty" and done["status"] == "done"
    assert service.staking.is_jailed(service.providers[5])
    assert service.staking.slash_state(bytes.fromhex(of["id"][2:])) == 1


def test_a_provider_appeals_its_slash_and_the_council_gets_the_appeal_webhook(
    service: Service, tmp_path: Path
) -> None:
    """The provider appeals with the command line (its default-mnemonic key on the devnet); the
    service's indexer writes the `appeal` webhook, its worker delivers it signed, and the provider
    document shows the appeal."""
    provider = service.providers[6]
    body = service.body(provider, EventType.SECURITY_BREACH)
    assert service.http.post("/v1/verdicts", json=body).status_code == 202
    assert service.wait_done(body["id"])["status"] == "done"
    evidence = tmp_path / "evidence.txt"
    evidence.write_bytes(b"the flagged traffic is our announced load test\n")
    env = {k: v for k, v in service.env.items() if not k.startswith("SWARM_SIGNER")}
    appealed = subprocess.run(
        [CLI, "slash", "appeal", body["id"], "--evidence", str(evidence), "--yes"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert appealed.returncode == 0, appealed.stderr
    assert service.staking.get_appeal(bytes.fromhex(body["id"][2:])).state == 1  # open

    def announced() -> list[tuple[dict[str, str], bytes]]:
        return [
            (h, b) for h, b in service.hooks.requests
            if h["x-swarm-event"] == "appeal" and json.loads(b)["data"]["slash_id"] == body["id"]
        ]  # fmt: skip

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not announced():
        time.sleep(0.2)
    ((headers, raw),) = announced()
    assert hmac.compare_digest(headers["x-swarm-signature"], signature(HOOK_SECRET, raw))
    data = json.loads(raw)["data"]
    assert (
        data["provider"] == provider
        and data["evidence_hash"] == "0x" + hashlib.sha256(evidence.read_bytes()).hexdigest()
    )
    doc = service.http.get(f"/v1/providers/{provider}").json()
    (pending,) = [x for x in doc["pending_slashes"] if x["id"] == body["id"]]
    assert pending["appeal"]["state"] == "open" and pending["appeal"]["deadline"] == data["deadline"]
