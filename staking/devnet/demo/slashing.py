"""The verdicts half of the demo: a verdict of every event type goes in through the API (signed by
the devnet detector), the service decides and acts on chain, and governance reviews from the
command line: a slash vetoed, another executed after its veto window, a breached provider walked
through its recovery path and reinstated into probation."""

from __future__ import annotations

import time
from typing import Any

from eth_utils import keccak, to_checksum_address

from staking.devnet.accounts import DETECTOR, devnet_account
from staking.devnet.demo.session import DemoError, Session
from staking.devnet.demo.texts import decision_text
from staking.domain.vocabulary import Address, EventType, Severity
from staking.verdict import Verdict, sign_verdict, to_wire


def post_verdict(s: Session, provider: str, event: EventType, severity: Severity) -> dict[str, Any]:
    """Sign a verdict as the detector, POST it, and wait until the service has settled it."""
    label = f"demo-{s.run_id}-{provider}-{event.wire}-{severity.wire}-{time.monotonic_ns()}"
    v = Verdict(
        keccak(text=label),
        Address(to_checksum_address(provider)),
        event,
        severity,
        s.chain_time(),
        keccak(text=f"{label}-evidence"),
    )
    body = to_wire(v, sign_verdict(v, s.staking.domain(), devnet_account(DETECTOR).key))
    r = s.http.post("/v1/verdicts", json=body)
    if r.status_code not in (200, 202):
        raise DemoError(f"POST /v1/verdicts answered {r.status_code}: {r.text[:300]}")
    s.say(f"POST /v1/verdicts {event.wire}/{severity.wire} for {provider[:10]}… → {r.status_code}")
    return settled(s, body["id"])


def settled(s: Session, verdict_id: str, timeout: float = 60) -> dict[str, Any]:
    """`GET /v1/verdicts/{id}` once it is done or failed, narrating its decision and actions."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = s.http.get(f"/v1/verdicts/{verdict_id}").json()
        if r["status"] in ("done", "failed"):
            s.say(f"decision: {decision_text(r['decision'])} → verdict {r['status']}")
            for a in r["actions"]:
                tx = f" tx {a['tx_hash'][:12]}… block {a['block']}" if a.get("tx_hash") else ""
                s.say(f"  action {a['kind']}: {a['state']}{tx}")
            return dict(r)
        time.sleep(0.5)
    raise DemoError(f"verdict {verdict_id} not settled within {timeout}s")


def require_fresh(s: Session) -> None:
    """The story needs untouched providers: a second run on the same devnet meets the first
    run's strikes (the escalation ladder) and jails, so it stops here instead of half-way."""
    touched = []
    for address in s.providers[:6]:
        doc = s.http.get(f"/v1/providers/{address}").json()
        if doc.get("status") != "active" or doc.get("strikes", {}).get("in_window"):
            touched.append(f"{address[:10]}… {doc.get('status')}")
    if touched:
        raise DemoError(
            "this devnet has already run the demo (" + ", ".join(touched) + "); "
            "stop `make run` (Ctrl-C) and start it again for a fresh devnet"
        )


def run_verdicts(s: Session) -> dict[str, str]:
    """Steps 1-9; returns each demo provider's role in them (the reward epoch reports by role)."""
    p = s.providers
    breached, attacked, warned, slow, failing, suspicious = p[0], p[1], p[2], p[3], p[4], p[5]
    require_fresh(s)

    s.step("A security breach: isolation within the minute, a slash proposal, a security review")
    breach = post_verdict(s, breached, EventType.SECURITY_BREACH, Severity.HIGH)
    s.wait_indexed(breached, lambda d: d["status"] == "in_recovery", "the recovery")
    s.standing(breached)

    s.step("A system attack: isolated first, then a penalty proposed")
    attack = post_verdict(s, attacked, EventType.SYSTEM_ATTACK, Severity.HIGH)
    s.standing(attacked)

    s.step("A policy violation, a first offence: a warning (a strike, no slash)")
    post_verdict(s, warned, EventType.POLICY_VIOLATION, Severity.LOW)

    s.step("Poor performance twice: a warning, then the escalation ladder's penalty")
    post_verdict(s, slow, EventType.PERFORMANCE_VIOLATION, Severity.LOW)
    post_verdict(s, slow, EventType.PERFORMANCE_VIOLATION, Severity.LOW)
    s.wait_indexed(slow, lambda d: d["status"] == "jailed", "the timed jail")
    s.standing(slow)

    s.step("An operational failure: penalty, recovery path compliance verification")
    post_verdict(s, failing, EventType.OPERATIONAL_FAILURE, Severity.MEDIUM)

    s.step("Suspicious activity: an investigation for the security team, no penalty")
    post_verdict(s, suspicious, EventType.SUSPICIOUS_ACTIVITY, Severity.MEDIUM)
    s.cli("investigation", "list", "--status", "open")

    s.step("Governance reviews the pending slashes and vetoes the attack's (dry run first)")
    s.wait_indexed(attacked, lambda d: len(d["pending_slashes"]) > 0, "the pending slash")
    s.cli("slash", "list", "--state", "pending")
    s.cli("slash", "veto", attack["id"], "--reason", "demo: evidence disputed", "--dry-run")
    s.cli("slash", "veto", attack["id"], "--reason", "demo: evidence disputed", "--yes")

    s.step("The breach's slash matures: the service's scheduled job executes it")
    s.advance_chain_time(s.staking.veto_window() + 1)
    doc = s.wait_indexed(
        breached, lambda d: any(x["id"] == breach["id"] for x in d["slashes"]), "the executed slash", 60
    )
    executed = next(x for x in doc["slashes"] if x["id"] == breach["id"])
    s.say(f"slash {breach['id'][:12]}… {executed['state']}: {executed['amount']} base units to the treasury")
    s.say(f"stake now: active {doc['stake']['active']}, meets minimum: {doc['stake']['meets_minimum']}")

    s.step("The security review: governance advances the recovery and reinstates the provider")
    for _ in range(2):
        s.cli("recovery", "advance", breached, "--yes")
    s.cli("recovery", "reinstate", breached, "--yes")
    s.wait_indexed(breached, lambda d: d["status"] in ("probation", "active"), "the reinstatement")
    s.standing(breached)

    return {
        breached: "breached",
        attacked: "attacked",
        warned: "warned",
        slow: "slow",
        failing: "failing",
        suspicious: "suspicious",
        p[6]: "flaky",
    }
