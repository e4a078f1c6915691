"""The rogue DETECTOR: one detector key signs `critical` `security_breach` and `system_attack`
verdicts against every provider, posted concurrently to the running service (`serve --role all`,
webhooks to a local receiver), while two honest detectors keep up a normal stream with a few
isolations of their own. Then `swarm-staking detector revoke ROGUE --veto-pending --release-jails
--yes` contains it, and the chain's clock passes the veto window.

Measured: providers the rogue's verdicts jailed (<= jailCap) and the stake its proposals put at
stake (<= slashCapBps), seconds from its first verdict to the `incident` webhook (goal < 30 s),
the containment command's seconds and the seconds until every provider jailed only on its
verdicts is active again on chain (goal < 60 s), the stake its slashes took after the veto window
(0), every honest isolation's seconds from detection to the confirmed jail against its deadline
(60 s breach, 30 s attack), and that the containment left the honest isolations jailed.
"""

from __future__ import annotations

import random
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from faults.burst import Burst
from faults.rogue.chainview import Call, Tally
from faults.rogue.network import OUTSIDER, RESERVE_JAILS, RogueNet, fresh_database, rogue_network
from faults.rogue.streams import HonestStream, TimedSink, isolation_report
from staking.devnet.accounts import devnet_account
from staking.devnet.harness import CLI, ServiceProcess, VerdictSigner
from staking.domain.vocabulary import BPS, EventType, Severity

WEBHOOK_SECRET = "rogue-trial-webhook-secret"  # noqa: S105 - a throw-away receiver on loopback
INCIDENT_GOAL, RELEASE_GOAL = 30.0, 60.0
INCIDENT_WAIT, QUIET_SECONDS, QUIET_WAIT = 45.0, 5.0, 45.0
REVOKE_TIMEOUT, RELEASE_WAIT, HONEST_SETTLE = 120.0, 90.0, 20.0
HONEST_TARGETS, HONEST_RATE = 8, 2.0  # below the per-detector incident threshold (20 providers)
ISOLATIONS = 6  # honest isolations in a trial (see run())
# The honest verdicts that may jail (isolations, escalated offences) stay within the policy's jail
# reserve, what the cap leaves honest detectors while a rogue one is contained; the rest of the
# normal stream opens investigations.
POSTERS = 16  # concurrent connections of the rogue detector
REVOKE = [CLI, "detector", "revoke"]  # the containment command, before its arguments


@dataclass(frozen=True)
class Options:
    providers: int
    rogue_verdicts: int
    seed: int


def _id(raw: Any) -> str:
    return "0x" + bytes(raw).hex()


class DetectorTrial:
    def __init__(
        self,
        rn: RogueNet,
        service: ServiceProcess,
        sink: TimedSink,
        opts: Options,
        say: Callable[[str], None],
    ) -> None:
        self.rn, self.service, self.sink, self.opts, self.say = rn, service, sink, opts, say
        self.view = rn.view
        net = rn.net
        self.rogue = VerdictSigner(net, "rogue", key=bytes(rn.rogue.key))
        signers = (
            VerdictSigner(net, "honest-a", key=bytes(rn.honest[0].key)),
            VerdictSigner(net, "honest-b", key=bytes(rn.honest[1].key)),
        )
        self.honest = HonestStream(
            service.base_url,
            signers,
            list(net.providers[-HONEST_TARGETS:]),
            HONEST_RATE,
            opts.seed,
            jailing_budget=RESERVE_JAILS - ISOLATIONS,
        )
        self.rogue_ids: set[str] = set()
        self.violations: list[str] = []
        self.skew = self.view.chain_time() - time.time()  # the chain's clock ahead of the wall clock

    # ---- chain reads
    def rogue_jails(self) -> list[Any]:
        return [
            e
            for e in self.view.events("Jailed", self.rn.first_block)
            if _id(e["args"]["verdictId"]) in self.rogue_ids
        ]

    def honest_jailed(self) -> set[str]:
        """Providers an honest verdict jailed on chain: containment must leave them jailed."""
        return {
            e["args"]["provider"]
            for e in self.view.events("Jailed", self.rn.first_block)
            if _id(e["args"]["verdictId"]) not in self.rogue_ids
        }

    def rogue_providers(self) -> set[str]:  # jailed on the rogue's verdicts
        return {e["args"]["provider"] for e in self.rogue_jails()}

    def rogue_proposals(self) -> list[Any]:
        return [
            e
            for e in self.view.events("SlashProposed", self.rn.first_block)
            if _id(e["args"]["id"]) in self.rogue_ids
        ]

    # ---- steps
    def rogue_bodies(self, count: int, label: str) -> list[dict[str, Any]]:
        providers = self.rn.net.providers
        now = int(time.time())
        bodies = []
        for i in range(count):
            event = EventType.SECURITY_BREACH if (i // len(providers)) % 2 == 0 else EventType.SYSTEM_ATTACK
            bodies.append(self.rogue.body(providers[i % len(providers)], event, Severity.CRITICAL, now))
        random.Random(f"{self.opts.seed}-{label}").shuffle(bodies)
        self.rogue_ids.update(b["id"] for b in bodies)
        return bodies

    def burst(self) -> dict[str, Any]:
        signing, bodies = time.monotonic(), self.rogue_bodies(self.opts.rogue_verdicts, "burst")
        signed_seconds = time.monotonic() - signing
        burst = Burst(self.service.base_url, bodies, detectors=POSTERS, give_up_after=30.0)
        self.first_rogue_at = time.time()
        poster = threading.Thread(target=burst.run, name="rogue-burst", daemon=True)
        poster.start()
        for after, event in ((3.0, EventType.SYSTEM_ATTACK), (6.0, EventType.SECURITY_BREACH)):
            poster.join(timeout=max(0.0, self.first_rogue_at + after - time.time()))
            self.honest.isolate(event, "during the rogue burst")
        poster.join()
        seconds = (burst.finished_at or time.time()) - self.first_rogue_at
        self.say(f"rogue: {len(burst.accepted)}/{len(bodies)} verdicts accepted in {seconds:.1f}s")
        return {
            "verdicts": len(bodies),
            "accepted": len(burst.accepted),
            "refused": len(burst.refused),
            "retries": burst.retries,
            "statuses": dict(Counter(str(s) for s in burst.accepted.values())),
            "signed_seconds": round(signed_seconds, 1),
            "burst_seconds": round(seconds, 1),
            "refusals_sample": burst.refused[:3],
        }

    def wait_incident(self) -> dict[str, Any]:
        deadline = self.first_rogue_at + INCIDENT_WAIT
        while "incident" not in self.sink.first_at and time.time() < deadline:
            time.sleep(0.2)
        at = self.sink.first_at.get("incident")
        seconds = None if at is None else round(at - self.first_rogue_at, 1)
        if seconds is None:
            self.violations.append(
                f"no incident webhook within {INCIDENT_WAIT:.0f}s of the first rogue verdict"
            )
        elif seconds >= INCIDENT_GOAL:
            self.violations.append(f"incident webhook after {seconds}s (goal < {INCIDENT_GOAL:.0f}s)")
        try:
            r = httpx.get(f"{self.service.base_url}/v1/incidents", timeout=10)
            body: Any = r.json() if r.headers.get("content-type", "").startswith("application/json") else None
            listed = body.get("items", []) if isinstance(body, dict) else []
            items = body if isinstance(body, list) else listed
            api = {
                "status": r.status_code,
                "incidents": len(items),
                "states": dict(Counter(str(i.get("state")) for i in items)),
            }
        except httpx.HTTPError as exc:
            api = {"status": f"unreachable ({type(exc).__name__})"}
        heard = "none" if seconds is None else f"after {seconds}s"
        self.say(f"incident webhook: {heard}; GET /v1/incidents: {api}")
        return {
            "webhook_seconds": seconds,
            "goal_seconds": INCIDENT_GOAL,
            "deliveries": len(self.sink.incidents),
            "api": api,
        }

    def wait_quiet(self) -> int:
        """Until no rogue jail has landed for QUIET_SECONDS (or the jail cap is used up)."""
        deadline, last, since = time.monotonic() + QUIET_WAIT, -1, time.monotonic()
        while time.monotonic() < deadline:
            n = len(self.rogue_jails())
            if n != last:
                last, since = n, time.monotonic()
            elif (
                time.monotonic() - since >= QUIET_SECONDS
                or self.rn.net.staking.cap_usage().jails >= self.rn.caps.jail_cap
            ):
                break
            time.sleep(0.5)
        return last

    def contain(self, isolated: set[str]) -> dict[str, Any]:
        """Runs the containment command; `isolated`: providers honest isolations jailed, which it
        must leave jailed."""
        rogue = self.rn.rogue.address
        honest_isolated = {i.provider for i in self.honest.isolations} | isolated
        command = [*REVOKE, rogue, "--veto-pending", "--release-jails", "--yes"]
        began = time.time()
        try:
            done = subprocess.run(
                command, env=self.service.env(), capture_output=True, timeout=REVOKE_TIMEOUT
            )
            code, output = done.returncode, (done.stdout + done.stderr).decode(errors="replace")
        except subprocess.TimeoutExpired as exc:
            code, output = -1, f"timed out after {REVOKE_TIMEOUT:.0f}s: {exc.output!r}"[-2000:]
        command_seconds = time.time() - began
        if code != 0:
            last = " | ".join(line.strip() for line in output.strip().splitlines()[-4:])
            self.violations.append(f"`detector revoke` exited {code}: {last[-300:]}")
        self.say(f"detector revoke: exit {code} in {command_seconds:.1f}s")
        with httpx.Client(base_url=self.service.base_url, timeout=10) as client:
            late = Counter(
                str(client.post("/v1/verdicts", json=b).status_code) for b in self.rogue_bodies(5, "late")
            )
        accepted_late = late.get("200", 0) + late.get("202", 0)
        if accepted_late:
            self.violations.append(f"{accepted_late} rogue verdicts accepted after `detector revoke`")
        release_seconds, wrongly, still = self._wait_released(began, honest_isolated, patient=code == 0)
        if release_seconds is None:
            self.violations.append(f"{len(still)} of {len(wrongly)} wrongly jailed providers still jailed")
        elif release_seconds >= RELEASE_GOAL:
            self.violations.append(
                f"wrongly jailed providers active again after {release_seconds}s (goal < {RELEASE_GOAL:.0f}s)"
            )
        time.sleep(QUIET_SECONDS)  # a rogue jail still in flight would land now
        rejailed = [p for p, j in self.view.jailed(sorted(wrongly - self.honest_jailed())).items() if j]
        if release_seconds is not None and rejailed:
            self.violations.append(
                f"{len(rejailed)} providers jailed again on rogue verdicts after the release"
            )
        released = [p for p, jailed in self.view.jailed(sorted(isolated)).items() if not jailed]
        if released:
            self.violations.append(
                f"containment released {len(released)} providers an honest detector isolated"
            )
        return {
            "command": " ".join(["swarm-staking", *command[1:]]),
            "exit_code": code,
            "command_seconds": round(command_seconds, 1),
            "output_tail": output.strip()[-600:],
            "rogue_verdicts_after_revoke": dict(late),
            "wrongly_jailed": len(wrongly),
            "rogue_jailed_also_jailed_by_honest_verdicts": len(self.rogue_providers() & honest_isolated),
            "release_seconds": release_seconds,
            "release_goal_seconds": RELEASE_GOAL,
            "still_jailed": len(still),
            "jailed_again": len(rejailed) if release_seconds is not None else None,
            "honestly_isolated_released": len(released),
        }

    def _wait_released(
        self, began: float, honest: set[str], patient: bool
    ) -> tuple[float | None, set[str], list[str]]:
        deadline = began + (RELEASE_WAIT if patient else 0.0)
        while True:
            wrongly = self.rogue_providers() - honest - self.honest_jailed()
            still = [p for p, j in self.view.jailed(sorted(wrongly)).items() if j]
            if not still:
                return round(time.time() - began, 1), wrongly, still
            if time.time() >= deadline:
                return None, wrongly, still
            time.sleep(0.5)

    def expire(self) -> dict[str, Any]:
        proposals = self.rogue_proposals()
        advanced = self.view.pass_veto_window()
        to = self.rn.net.staking.address
        contract = self.rn.net.staking.contract
        calls = [
            Call(to, contract.encode_abi("executeSlash", args=[bytes(e["args"]["id"])]), _id(e["args"]["id"]))
            for e in proposals
        ]
        tally = Tally().add(self.view.send(devnet_account(OUTSIDER), calls, mine=False))
        time.sleep(3.0)  # the service's own job executes matured slashes too
        executed = [
            e
            for e in self.view.events("SlashExecuted", self.rn.first_block)
            if _id(e["args"]["id"]) in self.rogue_ids
        ]
        lost = sum(int(e["args"]["amount"]) for e in executed)
        if lost or tally.succeeded:
            self.violations.append(f"the rogue's slashes took {lost} after the veto window (must be 0)")
        return {
            "chain_seconds_advanced": advanced,
            "rogue_slashes_proposed": len(proposals),
            "execute_slash_attempts": tally.attempts,
            "execute_slash_succeeded": tally.succeeded,
            "execute_slash_reverts_by_error": dict(tally.reverts),
            "rogue_slashes_executed": len(executed),
            "stake_lost": str(lost),
        }

    def honest_results(self) -> dict[str, Any]:
        jails = self.view.events("Jailed", self.rn.first_block)
        times = self.view.block_times(e["blockNumber"] for e in jails)
        jailed_at = {_id(e["args"]["verdictId"]): times[e["blockNumber"]] - self.skew for e in jails}
        rows, bad = isolation_report(self.service.base_url, self.honest.isolations, jailed_at, HONEST_SETTLE)
        self.violations += bad
        return {
            "verdicts_sent": len(self.honest.sent),
            "verdicts_that_may_jail": self.honest.jailing_sent,
            "statuses": {str(k): v for k, v in self.honest.statuses.items()},
            "isolations": rows,
            "all_within_deadline": all(r["within_deadline"] for r in rows),
        }

    # ---- the whole trial
    def run(self) -> dict[str, Any]:
        rn, started = self.rn, time.time()
        self.honest.start()
        time.sleep(3.0)
        self.honest.isolate(EventType.SECURITY_BREACH, "before the rogue burst")
        time.sleep(2.0)
        rogue = self.burst()
        self.honest.isolate(EventType.SYSTEM_ATTACK, "after the rogue burst")
        incident = self.wait_incident()
        jailed_at_containment = self.wait_quiet()
        # An honest jail (isolation or escalated offence) on chain by now must stay.
        containment = self.contain(self.honest_jailed())
        containment["rogue_jails_when_it_began"] = jailed_at_containment
        self.honest.isolate(EventType.SECURITY_BREACH, "after containment")
        self.honest.isolate(EventType.SYSTEM_ATTACK, "after containment")
        time.sleep(5.0)
        self.honest.stop()
        jails, proposals = self.rogue_jails(), self.rogue_proposals()
        usage = rn.net.staking.cap_usage()
        at_stake = sum(int(e["args"]["amount"]) for e in proposals)
        rogue_providers = len({e["args"]["provider"] for e in jails})
        rogue.update(
            {
                "jails": len(jails),
                "providers_jailed": rogue_providers,
                "slash_proposals": len(proposals),
                "stake_at_stake": str(at_stake),
                "stake_at_stake_bps_of_bonded": round(at_stake * BPS / rn.total_bonded, 1),
            }
        )
        if rogue_providers > rn.caps.jail_cap or usage.jails > rn.caps.jail_cap:
            self.violations.append(
                f"{rogue_providers} providers jailed by the rogue (cap usage {usage.jails}) "
                f"> jailCap {rn.caps.jail_cap}"
            )
        if at_stake > rn.slash_cap or usage.at_stake > rn.slash_cap:
            self.violations.append(
                f"the rogue put {at_stake} at stake (cap usage {usage.at_stake}) "
                f"> the slash cap {rn.slash_cap}"
            )
        honest = self.honest_results()
        after = self.expire()
        return {
            "setup": rn.figures(),
            "rogue": rogue,
            "cap_usage": {
                "jails": usage.jails,
                "at_stake": str(usage.at_stake),
                "total_bonded": str(usage.total_bonded),
            },
            "incident": incident,
            "containment": containment,
            "after_veto_window": after,
            "honest": honest,
            "seconds": round(time.time() - started, 1),
        }


def run_detector_variant(
    db: str, workroot: Path, opts: Options, say: Callable[[str], None]
) -> tuple[dict[str, Any], list[str], Path]:
    """The variant on its own chain and a fresh `db` database: (its JSON, violations, workdir)."""
    workdir = workroot / f"detector-{db}"
    workdir.mkdir(parents=True, exist_ok=True)
    with rogue_network(workdir, opts.providers, block_time=1) as rn, fresh_database(db, workdir) as url:
        say(f"{db}: {len(rn.net.providers)} providers staked, caps set ({rn.setup_seconds:.1f}s)")
        sink = TimedSink(WEBHOOK_SECRET.encode())
        sink.start()
        env = {"SWARM_WEBHOOK_URLS": sink.url("rogue"), "SWARM_WEBHOOK_SECRET": WEBHOOK_SECRET}
        service = ServiceProcess(rn.net, workdir, url, extra_env=env)
        try:
            service.upgrade_db()
            service.start()
            trial = DetectorTrial(rn, service, sink, opts, lambda m: say(f"{db}: {m}"))
            try:
                result = trial.run()
            finally:
                trial.honest.stop()
            return {"db": db, **result}, [f"{db}: {v}" for v in trial.violations], workdir
        finally:
            service.stop()
            sink.stop()
