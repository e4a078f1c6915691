"""The blast-radius half of the demo: a second detector misfires (a bad model push) and signs
security breaches against two dozen providers within seconds. The service isolates them, as it
must, but sees verdicts against many providers from one detector at once: it opens an incident and
holds the slashes. Containment is one command: the detector is revoked, its unsent actions are
cancelled, its pending slashes vetoed and the jails that rest only on its verdicts lifted."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from eth_utils import keccak

from staking.chain.sender import Sender
from staking.devnet.accounts import GOVERNANCE, devnet_account
from staking.devnet.demo.session import DemoError, Session
from staking.devnet.provision import provision_extra_providers
from staking.domain.vocabulary import Address, EventType, Severity
from staking.verdict import Verdict, sign_verdict, to_wire

MISFIRING_DETECTOR = 11  # an account of the public devnet mnemonic; a detector only signs
TARGETS = 24  # more providers than the policy's per-detector threshold (20)


def run_misfiring_detector(s: Session) -> None:
    detector = devnet_account(MISFIRING_DETECTOR)

    s.step("A second detector misfires: security breaches against 24 providers within seconds")
    targets = _more_providers(s, TARGETS)
    gov = Sender(s.w3, devnet_account(GOVERNANCE))
    gov.wait(gov.send(s.staking.grant_role("DETECTOR_ROLE", detector.address)))
    s.say(f"(devnet) governance granted DETECTOR_ROLE to a second detector, {detector.address[:10]}…")
    started = time.monotonic()
    ids = _post_all(s, detector.key, targets)
    s.say(
        f"POST /v1/verdicts: {len(ids)} security_breach/high verdicts, one per provider, "
        f"in {time.monotonic() - started:.1f} s"
    )

    incident = _wait_incident(s, detector.address)
    held = [a for a in incident["held_actions"] if a["state"] == "held"]
    s.say(
        f"incident {incident['id']} opened: {incident['reason']}; {len(incident['verdicts'])} verdicts, "
        f"{len(incident['providers'])} providers, {len(held)} slashes held"
    )
    s.say("isolation went on: a breach must not wait for people (the on-chain jail cap bounds it)")
    s.wait_indexed(targets[-1], lambda d: d["status"] in ("jailed", "in_recovery"), "the isolation", 60)
    s.standing(targets[-1])
    network = s.http.get("/v1/network").json()
    usage = network.get("usage") or {}
    s.say(
        f"GET /v1/network: {usage.get('jails')} jails of {network['caps']['jail_cap']} in the cap window; "
        f"open incidents {network['incidents']['open']}"
    )

    s.step("Containment in one command: revoke the detector, veto its slashes, lift its jails")
    s.cli("detector", "revoke", detector.address, "--veto-pending", "--release-jails", "--dry-run")
    s.cli("detector", "revoke", detector.address, "--veto-pending", "--release-jails", "--yes",
          "--reason", "demo: model push misfired")  # fmt: skip
    for provider in targets:
        s.wait_indexed(provider, lambda d: d["status"] == "active", "the lifted jail", 60)
    s.say(f"all {len(targets)} providers are active again on chain and in the API")
    s.cli(
        "incident",
        "dismiss",
        str(incident["id"]),
        "--reason",
        "demo: model push misfired",
        "--by",
        "demo",
        "--yes",
    )
    s.standing(targets[-1])


def _more_providers(s: Session, count: int) -> list[Address]:
    """The devnet's seven demo providers are too few for an incident: stake two dozen more."""
    s.say(f"(devnet) registering and staking {count} more providers for this step")
    return provision_extra_providers(s.w3, s.deployment, count)


def _post_all(s: Session, key: Any, providers: list[Address]) -> list[str]:
    domain = s.staking.domain()
    now = s.chain_time()

    def post(provider: Address) -> str:
        label = f"demo-misfire-{s.run_id}-{provider}"
        v = Verdict(
            keccak(text=label),
            provider,
            EventType.SECURITY_BREACH,
            Severity.HIGH,
            now,
            keccak(text=label + "-e"),
        )
        r = s.http.post("/v1/verdicts", json=to_wire(v, sign_verdict(v, domain, key)))
        if r.status_code not in (200, 202):
            raise DemoError(f"POST /v1/verdicts answered {r.status_code}: {r.text[:300]}")
        return str(r.json()["id"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(post, providers))


def _wait_incident(s: Session, detector: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in s.http.get("/v1/incidents", params={"state": "open"}).json().get("items", []):
            if str(item.get("subject", "")).lower() == detector.lower():
                return dict(s.http.get(f"/v1/incidents/{item['id']}").json())
        time.sleep(0.5)
    raise DemoError(f"no incident opened for detector {detector} within {timeout}s")
