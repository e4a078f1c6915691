"""The stolen SERVICE key: an attacker with the SLASHER key and real, detector-signed verdicts (as
the service's database holds them: any verdict an honest detector ever signed, co-signed ones
included) calls the contract directly. No service runs; only the contract's bounds stand.

The attack, in phases, every call pre-signed and mined in a few large blocks:
  probe                  per severity: one signature at the bound + 1, at the bound, at quorumBps,
                         at 100 %; two replayed signatures at the bound, unordered, duplicated
  jail_and_propose_all   jailAndProposeSlash(critical breach, until recovery, quorumBps) per provider
  jail_all               jail(critical attack) per provider
  propose_100_percent    proposeSlash(critical, 10,000 bps) per provider
  propose_at_bounds      proposeSlash at the most one signature may carry, severities in turn
  quorum_one_signature   proposeSlashQuorum(critical, [one signature], the critical bound)
  quorum_cosigned        proposeSlashQuorum(critical, [two real signatures], the critical bound)
Then the council contains it (vetoSlashes + liftJails from governance, 100 per transaction), the
chain's clock passes the veto window, and an account with no role tries executeSlash on every
proposed slash: the treasury must receive nothing.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_utils import keccak

from faults.rogue.chainview import Call, Sent, Tally
from faults.rogue.network import OUTSIDER, RogueNet, rogue_network
from staking.chain.contracts import TokenContract
from staking.devnet.accounts import GOVERNANCE, SERVICE, devnet_account
from staking.devnet.harness import VerdictSigner
from staking.devnet.provision import manual_mining
from staking.domain.vocabulary import BPS, EventType, Severity
from staking.verdict import Verdict

BATCH = 100  # ids or providers per vetoSlashes / liftJails transaction
BATCH_GAS = 12_000_000
ATTACK_BLOCK_GAS = 150_000_000  # 250 attack transactions per block: the clock moves 1 s per block


class ServiceKeyAttack:
    def __init__(self, rn: RogueNet, say: Callable[[str], None]) -> None:
        self.rn, self.say = rn, say
        self.c = rn.net.staking.contract
        self.to = rn.net.staking.address
        self.signer = VerdictSigner(rn.net, "replayed", key=bytes(rn.honest[0].key))
        self.cosigner = VerdictSigner(rn.net, "cosigner", key=bytes(rn.honest[1].key))
        self.detected_at = rn.view.chain_time()
        self.phases: dict[str, Tally] = {}
        self.probe: list[dict[str, Any]] = []
        self.sent: list[Sent] = []
        self.kind: dict[str, str] = {}  # verdict id -> the function its call used

    # ---- calls
    def _verdict(self, provider: str, event: EventType, severity: Severity) -> tuple[Verdict, bytes]:
        v = self.signer.verdict(provider, event, severity, self.detected_at)
        return v, self.signer.sign(v)

    def _sorted_signatures(self, v: Verdict, first: bytes) -> list[bytes]:
        pairs = sorted(
            [(self.signer.address.lower(), first), (self.cosigner.address.lower(), self.cosigner.sign(v))]
        )
        return [sig for _, sig in pairs]

    def _call(self, fn: str, v: Verdict, *args: Any) -> Call:
        ref = "0x" + v.id.hex()
        self.kind[ref] = fn
        return Call(self.to, self.c.encode_abi(fn, args=[v.as_tuple(), *args]), ref)

    def _probe_calls(self) -> list[tuple[dict[str, Any], Call]]:
        caps = self.rn.caps
        out: list[tuple[dict[str, Any], Call]] = []
        providers = self.rn.net.providers
        for s in Severity:
            bound, provider = caps.max_for(s), providers[int(s)]
            one = min(bound, caps.quorum_bps)
            tries: list[tuple[int, str]] = [(BPS, "one"), (bound + 1, "one"), (one, "one")]
            if bound > one:
                tries += [(bound, "one"), (bound, "quorum_one"), (bound, "unordered"), (bound, "duplicate")]
                tries += [(bound, "cosigned"), (bound + 1, "cosigned")]
            for bps, how in tries:
                if bps > BPS:
                    continue
                v, sig = self._verdict(provider, EventType.SECURITY_BREACH, s)
                if how == "one":
                    call = self._call("proposeSlash", v, sig, bps)
                elif how == "quorum_one":
                    call = self._call("proposeSlashQuorum", v, [sig], bps)
                else:
                    pair = self._sorted_signatures(v, sig)
                    sigs = {"unordered": pair[::-1], "duplicate": [sig, sig], "cosigned": pair}[how]
                    call = self._call("proposeSlashQuorum", v, sigs, bps)
                signatures = {"one": 1, "quorum_one": 1, "duplicate": 2}.get(how, 2)
                out.append(({"severity": s.wire, "bps": bps, "signatures": signatures, "how": how}, call))
        return out

    def _mass_phases(self) -> list[tuple[str, list[Call]]]:
        caps, providers = self.rn.caps, self.rn.net.providers
        crit = Severity.CRITICAL
        phases: list[tuple[str, list[Call]]] = []

        def each(fn: Callable[[str, int], Call]) -> list[Call]:
            return [fn(p, i) for i, p in enumerate(providers)]

        def jail_and_propose(p: str, _i: int) -> Call:
            v, sig = self._verdict(p, EventType.SECURITY_BREACH, crit)
            return self._call("jailAndProposeSlash", v, sig, 0, caps.quorum_bps)

        def jail(p: str, _i: int) -> Call:
            v, sig = self._verdict(p, EventType.SYSTEM_ATTACK, crit)
            return self._call("jail", v, sig, 0)

        def propose_all_of_it(p: str, _i: int) -> Call:
            v, sig = self._verdict(p, EventType.SECURITY_BREACH, crit)
            return self._call("proposeSlash", v, sig, BPS)

        def propose_at_bound(p: str, i: int) -> Call:
            s = Severity(i % 4)
            v, sig = self._verdict(p, EventType.POLICY_VIOLATION, s)
            return self._call("proposeSlash", v, sig, min(caps.max_for(s), caps.quorum_bps))

        def quorum_one(p: str, _i: int) -> Call:
            v, sig = self._verdict(p, EventType.SYSTEM_ATTACK, crit)
            return self._call("proposeSlashQuorum", v, [sig], caps.max_for(crit))

        def quorum_cosigned(p: str, _i: int) -> Call:
            v, sig = self._verdict(p, EventType.SYSTEM_ATTACK, crit)
            return self._call("proposeSlashQuorum", v, self._sorted_signatures(v, sig), caps.max_for(crit))

        phases.append(("jail_and_propose_all", each(jail_and_propose)))
        phases.append(("jail_all", each(jail)))
        phases.append(("propose_100_percent", each(propose_all_of_it)))
        phases.append(("propose_at_bounds", each(propose_at_bound)))
        phases.append(("quorum_one_signature", each(quorum_one)))
        phases.append(("quorum_cosigned", each(quorum_cosigned)))
        return phases

    # ---- the run
    def attack(self) -> None:
        view, attacker = self.rn.view, devnet_account(SERVICE)
        probe = self._probe_calls()
        phases = self._mass_phases()
        self.say(f"service key: {len(probe) + sum(len(c) for _, c in phases):,} attack calls signed")
        with manual_mining(self.rn.net.node.rpc_url, block_gas_limit=ATTACK_BLOCK_GAS):
            began = time.monotonic()
            sent = view.send(attacker, [c for _, c in probe], mine=True)
            self.phases["probe"] = Tally(seconds=time.monotonic() - began).add(sent)
            self.sent += sent
            for (what, _), s in zip(probe, sent, strict=True):
                self.probe.append({**what, "accepted": s.ok, "error": s.error})
            for name, calls in phases:
                began = time.monotonic()
                sent = view.send(attacker, calls, mine=True)
                self.phases[name] = Tally(seconds=time.monotonic() - began).add(sent)
                self.sent += sent
                self.say(f"service key: {name}: {self.phases[name].succeeded}/{len(calls)} succeeded")

    def contain_and_expire(self) -> dict[str, Any]:
        """The council's containment, then the veto window's end and executeSlash on every id."""
        rn, view, first = self.rn, self.rn.view, self.rn.first_block
        proposed = ["0x" + bytes(e["args"]["id"]).hex() for e in view.events("SlashProposed", first)]
        jailed = sorted({e["args"]["provider"] for e in view.events("Jailed", first)})
        gov = devnet_account(GOVERNANCE)
        reason = keccak(text="rogue trial: stolen service key")
        began = time.monotonic()
        calls = [
            Call(
                self.to,
                self.c.encode_abi(
                    "vetoSlashes", args=[[bytes.fromhex(i[2:]) for i in proposed[k : k + BATCH]], reason]
                ),
            )
            for k in range(0, len(proposed), BATCH)
        ]
        calls += [
            Call(self.to, self.c.encode_abi("liftJails", args=[jailed[k : k + BATCH], reason]))
            for k in range(0, len(jailed), BATCH)
        ]
        containment = Tally().add(view.send(gov, calls, mine=False, gas=BATCH_GAS))
        containment.seconds = time.monotonic() - began
        still_jailed = [p for p, j in view.jailed(jailed).items() if j]
        states = Counter(
            int(s) for s in view.view_many("slashState", [(bytes.fromhex(i[2:]),) for i in proposed])
        )
        token = TokenContract(view.w3, rn.net.deployment.contracts.SwarmToken)
        treasury = rn.net.staking.treasury()
        treasury_before, bonded_before = token.balance_of(treasury), rn.net.staking.total_bonded()
        advanced = view.pass_veto_window()
        executes = [
            Call(self.to, self.c.encode_abi("executeSlash", args=[bytes.fromhex(i[2:])]), i) for i in proposed
        ]
        execution = Tally().add(view.send(devnet_account(OUTSIDER), executes, mine=False))
        lost = token.balance_of(treasury) - treasury_before
        return {
            "council": {
                "transactions": containment.attempts,
                "failed_transactions": containment.attempts - containment.succeeded,
                "gas_used": containment.gas_used,
                "seconds": round(containment.seconds, 2),
                "slashes_vetoed": len(view.events("SlashVetoed", first)),
                "jails_lifted": len(view.events("JailLifted", first)),
                "providers_still_jailed": len(still_jailed),
                "slashes_still_pending": states.get(1, 0),
            },
            "after_veto_window": {
                "chain_seconds_advanced": advanced,
                "execute_slash_attempts": execution.attempts,
                "execute_slash_succeeded": execution.succeeded,
                "execute_slash_reverts_by_error": dict(execution.reverts),
                "slashes_executed": len(view.events("SlashExecuted", first)),
                "stake_lost": str(lost),
                "total_bonded_change": str(rn.net.staking.total_bonded() - bonded_before),
            },
        }


def evaluate(rn: RogueNet, attack: ServiceKeyAttack) -> tuple[dict[str, Any], list[str]]:
    """The attack's effect on chain against the caps: (figures, violations)."""
    view, caps, first = rn.view, rn.caps, rn.first_block
    jails = view.events("Jailed", first)
    proposals = view.events("SlashProposed", first)
    cosigned = {
        "0x" + bytes(e["args"]["id"]).hex(): len(e["args"]["signers"])
        for e in view.events("SlashCoSigned", first)
    }
    usage = rn.net.staking.cap_usage()
    providers = rn.net.providers
    at_stake_sum = sum(int(a) for a in view.view_many("atStakeOf", [(p,) for p in providers]))
    largest: dict[str, int] = {}
    over_quorum_without = 0
    for e in proposals:
        a = e["args"]
        name = Severity(a["severity"]).wire
        largest[name] = max(largest.get(name, 0), int(a["bps"]))
        if a["bps"] > caps.quorum_bps and cosigned.get("0x" + bytes(a["id"]).hex(), 0) < caps.quorum:
            over_quorum_without += 1
    jailed_ids = {"0x" + bytes(e["args"]["verdictId"]).hex() for e in jails}
    proposed_ids = {"0x" + bytes(e["args"]["id"]).hex() for e in proposals}
    half_done = sum(
        1
        for s in attack.sent
        if attack.kind.get(s.call.ref) == "jailAndProposeSlash"
        and not s.ok
        and (s.call.ref in jailed_ids or s.call.ref in proposed_ids)
    )
    reverts: Counter[str] = Counter()
    for t in attack.phases.values():
        reverts.update(t.reverts)
    figures = {
        "attack_transactions": len(attack.sent),
        "phases": {name: t.as_json() for name, t in attack.phases.items()},
        "probe": attack.probe,
        "jails_succeeded": len(jails),
        "providers_jailed": len({e["args"]["provider"] for e in jails}),
        "cap_usage_jails": usage.jails,
        "slash_proposals_accepted": len(proposals),
        "stake_at_stake_cap_usage": str(usage.at_stake),
        "stake_at_stake_by_provider": str(at_stake_sum),
        "stake_proposed_sum_of_events": str(sum(int(e["args"]["amount"]) for e in proposals)),
        "stake_at_stake_bps_of_bonded": round(usage.at_stake * BPS / usage.total_bonded, 1),
        "largest_bps_accepted": largest,
        "reverts_by_error": dict(reverts.most_common()),
    }
    bad: list[str] = []
    if len(jails) > caps.jail_cap or usage.jails > caps.jail_cap:
        bad.append(f"service key: {len(jails)} jails (cap usage {usage.jails}) > jailCap {caps.jail_cap}")
    if len(jails) < caps.jail_cap:
        bad.append(
            f"service key: the attack landed {len(jails)} jails, short of jailCap {caps.jail_cap}: "
            "it proves nothing"
        )
    for name, value in (("capUsage", usage.at_stake), ("sum of atStakeOf", at_stake_sum)):
        if value > rn.slash_cap:
            bad.append(f"service key: stake at stake ({name}) {value} > the slash cap {rn.slash_cap}")
    if "SlashCapExceeded" not in reverts:
        bad.append("service key: no proposal met SlashCapExceeded: the attack never reached the stake cap")
    for s in Severity:
        if largest.get(s.wire, 0) > caps.max_for(s):
            bad.append(
                f"service key: a {s.wire} verdict carried {largest[s.wire]} bps > its bound {caps.max_for(s)}"
            )
    if over_quorum_without:
        bad.append(
            f"service key: {over_quorum_without} proposals above quorumBps without {caps.quorum} signers"
        )
    if half_done:
        bad.append(
            f"service key: {half_done} failed jailAndProposeSlash calls left a jail or a proposal behind"
        )
    return figures, bad


def check_containment(result: dict[str, Any]) -> list[str]:
    council, after = result["council"], result["after_veto_window"]
    bad = []
    if council["failed_transactions"]:
        bad.append(f"service key: {council['failed_transactions']} council transactions failed")
    if council["providers_still_jailed"] or council["slashes_still_pending"]:
        bad.append(
            f"service key: after containment {council['providers_still_jailed']} providers jailed, "
            f"{council['slashes_still_pending']} slashes pending"
        )
    if after["execute_slash_succeeded"] or after["slashes_executed"] or int(after["stake_lost"]):
        bad.append(f"service key: stake lost after the veto window: {after['stake_lost']} (must be 0)")
    return bad


def run_service_key(
    workdir: Path, providers: int, say: Callable[[str], None]
) -> tuple[dict[str, Any], list[str]]:
    """The whole variant on its own chain: (its JSON, its violations)."""
    with rogue_network(workdir, providers, block_time=0) as rn:
        say(f"service key: {len(rn.net.providers)} providers staked, caps set ({rn.setup_seconds:.1f}s)")
        attack = ServiceKeyAttack(rn, say)
        attack.attack()
        figures, bad = evaluate(rn, attack)
        contained = attack.contain_and_expire()
        bad += check_containment(contained)
        return {"setup": rn.figures(), **figures, **contained}, bad
