"""Gas benchmark: `gasUsed` of every state-changing SwarmStaking function, in a steady state.

One run, on a private automining Anvil provisioned like the devnet (`provision_devnet`): each
function is called once the way it is called in production, and the figure is the receipt's
`gasUsed` (21k base included). Steady state means not the first write of anything that is
written once: `jail` is the second jail in the same cap bucket, `proposeSlash` the second
proposal (the cap ring's bucket already written) on a provider with stake, `stake` and
`requestUnbond` the second ones, `claim` a depth-14 proof (an epoch of 2^14 leaves) by a
provider whose token balance is not zero. Compared with the issue's targets, the anchors of
comparable contracts, and the audit's figures before the caps.

    .venv/bin/python -m benchmarks.gas [--time-limit 600]

Progress on stderr, one JSON object on stdout. The contract is not changed by this run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3.contract.contract import ContractFunction

from benchmarks.common import machine, say, time_limit
from staking.chain.contracts import StakingContract, TokenContract, role_id
from staking.chain.sender import Sender
from staking.devnet.accounts import DETECTOR, GOVERNANCE, SERVICE, devnet_account, provider_accounts
from staking.devnet.node import LocalNode
from staking.devnet.provision import provision_devnet
from staking.domain.vocabulary import TOKEN, Bps, EventType, ProviderClass, RecoveryPath, Severity, Wei
from staking.rewards.merkle import WeightTree
from staking.verdict import Verdict, sign_verdict

TARGETS = {"jail": 80_000, "proposeSlash": 110_000, "claim_depth14": 90_000}
ANCHORS = {
    "uniswap_merkle_distributor_claim": [78_500, 91_700],
    "eigenlayer_slash_operator": [167_000, 176_000],
}
# /work/shared/AUDIT.md, "Gas on Anvil" (before the caps); "/" separates first and later calls.
AUDIT_BEFORE = {
    "register": 50_000,
    "stake_first": 88_000,
    "stake": 54_000,
    "requestUnbond_first": 62_000,
    "requestUnbond": 42_000,
    "withdraw": 52_000,
    "jail": 72_000,
    "proposeSlash": 147_000,
    "vetoSlash": 40_000,
    "executeSlash": 70_000,
    "publishEligibility": 101_000,
    "fundRewards": 71_000,
    "claim": 100_000,
    "claim_depth14": 110_000,
}
DEPTH = 14
NEW_PROVIDER, SECOND_DETECTOR, SPARE = 11, 12, 13  # accounts of the public devnet mnemonic


class Bench:
    def __init__(self, node: LocalNode, governance: str = "eoa") -> None:
        self.node = node
        self.w3 = node.w3
        deployment = provision_devnet(node.w3, node.rpc_url, governance=governance)
        self.deployment = deployment
        self.staking = StakingContract(node.w3, deployment.contracts.SwarmStaking)
        self.token = TokenContract(node.w3, deployment.contracts.SwarmToken)
        self.fns = self.staking.contract.functions
        self.gov = Sender(node.w3, devnet_account(GOVERNANCE))
        self.service = Sender(node.w3, devnet_account(SERVICE))
        self.detectors = [devnet_account(DETECTOR)]
        self.providers = [Sender(node.w3, a) for a in provider_accounts()]
        self.gas: dict[str, int] = {}
        self.failed: dict[str, str] = {}
        self.verdicts = 0

    # ---- plumbing
    def rpc(self, method: str, params: list[Any]) -> Any:
        return self.w3.provider.make_request(method, params)  # type: ignore[arg-type]

    def advance(self, seconds: int) -> None:
        self.rpc("evm_increaseTime", [seconds])
        self.rpc("evm_mine", [])

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def send(self, sender: Sender, fn: ContractFunction, name: str | None = None) -> int:
        """Sends `fn`, waits; records its gasUsed under `name` (None: a set-up call)."""
        receipt = sender.transact(fn)
        used = int(receipt["gasUsed"])
        if name is not None:
            self.gas[name] = used
            say(f"{name}: {used:,} gas", "gas")
        return used

    def step(self, label: str, action: Callable[[], None]) -> None:
        """One scenario; a failure is reported and the others still run."""
        try:
            action()
        except Exception as exc:
            self.failed[label] = f"{type(exc).__name__}: {str(exc)[:300]}"
            say(f"{label} failed: {self.failed[label]}", "gas")

    def verdict(self, provider: str, severity: Severity = Severity.HIGH) -> Verdict:
        self.verdicts += 1
        return Verdict(
            keccak(text=f"gas-bench-{self.verdicts}"),
            to_checksum_address(provider),
            EventType.SECURITY_BREACH,
            severity,
            self.now(),
            keccak(text=f"gas-bench-evidence-{self.verdicts}"),
        )

    def sign(self, v: Verdict, signer: LocalAccount | None = None) -> bytes:
        return sign_verdict(v, self.staking.domain(), (signer or self.detectors[0]).key)

    def p(self, index: int) -> str:
        return self.providers[index].address

    # ---- scenarios
    def bonding(self) -> None:
        account = devnet_account(NEW_PROVIDER)
        self.rpc("anvil_setBalance", [account.address, hex(10**20)])
        self.send(self.gov, self.token.transfer(account.address, Wei(10_000 * TOKEN)))
        new = Sender(self.w3, account)
        self.send(new, self.token.approve(self.staking.address, Wei(10_000 * TOKEN)))
        self.send(new, self.staking.register(ProviderClass.PLATFORM_USER, 0, "ipfs://gas-bench"), "register")
        self.send(new, self.staking.stake(Wei(1_000 * TOKEN)), "stake_first")
        self.send(new, self.staking.stake(Wei(1_000 * TOKEN)), "stake")
        self.send(new, self.staking.request_unbond(Wei(100 * TOKEN)), "requestUnbond_first")
        self.send(new, self.staking.request_unbond(Wei(100 * TOKEN)), "requestUnbond")
        self.advance(self.staking.class_params(ProviderClass.PLATFORM_USER).unbonding_period + 1)
        self.send(new, self.staking.withdraw(Wei(200 * TOKEN)), "withdraw")

    def jails(self) -> None:
        first, second = self.verdict(self.p(0)), self.verdict(self.p(1))
        self.send(self.service, self.staking.jail(first, self.sign(first), 0))  # the bucket's first write
        self.send(self.service, self.staking.jail(second, self.sign(second), self.now() + 600), "jail")
        self.send(
            self.gov, self.staking.lift_jails([self.p(0)], keccak(text="false positive")), "liftJails_1"
        )
        self.advance(601)
        self.send(self.providers[1], self.staking.unjail(), "unjail")

    def slashes(self) -> None:
        bps = Bps(1_000)
        first, second = self.verdict(self.p(2)), self.verdict(self.p(3))
        self.send(
            self.service, self.staking.propose_slash(first, self.sign(first), bps)
        )  # the ring's first write
        self.send(self.service, self.staking.propose_slash(second, self.sign(second), bps), "proposeSlash")
        self.send(self.gov, self.staking.veto_slash(second.id, keccak(text="false positive")), "vetoSlash")
        self.send(
            self.gov, self.fns.grantRole(role_id("DETECTOR_ROLE"), devnet_account(SECOND_DETECTOR).address)
        )
        signers = sorted(
            (self.detectors[0], devnet_account(SECOND_DETECTOR)), key=lambda a: int(a.address, 16)
        )
        quorum = self.verdict(self.p(4))
        signatures = [self.sign(quorum, s) for s in signers]
        self.send(
            self.service, self.staking.propose_slash_quorum(quorum, signatures, bps), "proposeSlashQuorum_2"
        )
        both = self.verdict(self.p(5))
        call = self.staking.jail_and_propose_slash(both, self.sign(both), 0, bps)
        self.send(self.service, call, "jailAndProposeSlash")
        ids = [quorum.id, both.id]
        self.send(self.gov, self.staking.veto_slashes(ids, keccak(text="rogue detector")), "vetoSlashes_2")
        self.advance(self.staking.veto_window() + 1)
        self.send(self.service, self.staking.execute_slash(first.id), "executeSlash")

    def appeals(self) -> None:
        """An appeal rejected (the bond to the treasury) and one upheld (the slash vetoed, the bond back)."""
        bond = self.staking.appeal_params().bond
        for index, upheld, label in ((4, False, "resolveAppeal_rejected"), (5, True, "resolveAppeal_upheld")):
            v = self.verdict(self.p(index))
            self.send(self.service, self.staking.propose_slash(v, self.sign(v), Bps(1_000)))
            provider = self.providers[index]
            self.send(self.gov, self.token.transfer(provider.address, bond))
            self.send(provider, self.token.approve(self.staking.address, bond))
            self.send(provider, self.staking.appeal_slash(v.id, keccak(text="evidence")), "appealSlash")
            call = self.staking.resolve_appeal(v.id, upheld, keccak(text="council"))
            self.send(self.gov, call, label)

    def recovery(self) -> None:
        provider = self.p(5)  # jailed for good by jailAndProposeSlash, its proposal vetoed
        call = self.staking.begin_recovery(provider, RecoveryPath.SERVICE_IMPROVEMENT)
        self.send(self.service, call, "beginRecovery")
        self.send(self.gov, self.staking.advance_recovery(provider), "advanceRecovery")
        while self.staking.provider(provider).recovery_stage < 4:  # Restoration
            self.send(self.gov, self.staking.advance_recovery(provider))
        self.send(self.gov, self.staking.reinstate(provider), "reinstate")

    def tombstones(self) -> None:
        provider = self.p(6)
        self.send(self.gov, self.staking.tombstone(provider, keccak(text="breach")), "tombstone")
        call = self.staking.slash_tombstoned(provider, Bps(2_500), keccak(text="forfeit"))
        self.send(self.gov, call, "slashTombstoned")
        self.send(self.gov, self.staking.release_tombstoned(provider), "releaseTombstoned")

    def rewards(self) -> None:
        claimer = self.providers[3]
        assert self.token.balance_of(claimer.address) > 0, "the claimer must hold tokens already"
        weights: dict[str, int] = {
            to_checksum_address(keccak(text=f"leaf-{i}")[-20:]): 1 + i % 97 for i in range(2**DEPTH - 1)
        }
        weights[claimer.address] = 500
        tree = WeightTree.build(weights)
        proof = tree.proofs[claimer.address]
        assert len(proof) == DEPTH, f"proof depth {len(proof)}"
        epoch = self.staking.current_epoch()
        self.send(self.gov, self.token.approve(self.staking.address, Wei(2_000 * TOKEN)))
        self.send(self.gov, self.staking.fund_rewards(epoch, Wei(1_000 * TOKEN)), "fundRewards")
        self.send(self.gov, self.staking.fund_rewards(epoch, Wei(1_000 * TOKEN)))
        self.advance(self.staking.contract.functions.epochLength().call() + 1)
        call = self.staking.publish_eligibility(epoch, tree.root, tree.total_weight, "ipfs://gas-bench-epoch")
        self.send(self.service, call, "publishEligibility")
        self.send(claimer, self.staking.claim(epoch, 500, proof), "claim_depth14")
        # The council's challenge of a root, and the sweeps of what strands (audit finding 4).
        self.send(self.gov, self.staking.set_reward_challenge_delay(3_600), "setRewardChallengeDelay")
        later = self.staking.current_epoch()
        self.send(self.gov, self.token.approve(self.staking.address, Wei(1_001 * TOKEN)))
        self.send(self.gov, self.staking.fund_rewards(later, Wei(1_000 * TOKEN)))
        self.advance(self.staking.contract.functions.epochLength().call() + 1)
        self.send(
            self.service, self.staking.publish_eligibility(later, tree.root, tree.total_weight, "ipfs://x")
        )
        self.send(
            self.gov, self.staking.revoke_eligibility(later, keccak(text="wrong root")), "revokeEligibility"
        )
        self.advance(self.staking.contract.functions.REWARD_CLAIM_PERIOD().call() + 1)
        self.send(self.gov, self.staking.sweep_epoch(epoch), "sweepEpoch")
        self.send(self.gov, self.token.transfer(self.staking.address, Wei(TOKEN)))
        self.send(self.gov, self.staking.sweep_excess(), "sweepExcess")

    def governance(self) -> None:
        caps = self.staking.caps()
        call = self.staking.set_caps(caps.window, caps.jail_cap - 1, caps.slash_cap_bps, caps.max_slash_bps)
        self.send(self.gov, call, "setCaps")
        self.send(
            self.gov, self.staking.set_severity_bounds((9_000, 9_500, 10_000, 10_000)), "setSeverityBounds"
        )
        self.send(self.gov, self.staking.set_quorum(1, 9_000), "setQuorum")
        self.send(self.gov, self.fns.setVetoWindow(self.staking.veto_window() + 60), "setVetoWindow")
        self.send(
            self.gov, self.fns.setMaxVerdictAge(self.staking.max_verdict_age() - 60), "setMaxVerdictAge"
        )
        duration = self.fns.maxJailDuration().call()
        self.send(self.gov, self.fns.setMaxJailDuration(duration - 60), "setMaxJailDuration")
        self.send(
            self.gov, self.fns.setProbationEpochs(self.fns.probationEpochs().call() + 1), "setProbationEpochs"
        )
        params = self.staking.class_params(ProviderClass.PLATFORM_USER)
        call = self.fns.setClassParams(
            int(ProviderClass.PLATFORM_USER),
            params.base_min_stake + 1,
            params.per_gpu_min_stake,
            params.unbonding_period,
        )
        self.send(self.gov, call, "setClassParams")
        self.send(self.gov, self.fns.setTreasury(devnet_account(SPARE).address), "setTreasury")
        spare = devnet_account(SPARE).address
        self.send(self.gov, self.staking.grant_role("DETECTOR_ROLE", spare), "grantRole")
        self.send(self.gov, self.staking.revoke_role("DETECTOR_ROLE", spare), "revokeRole")
        self.send(self.gov, self.staking.grant_role("DETECTOR_ROLE", spare))
        self.rpc("anvil_setBalance", [spare, hex(10**20)])
        call = self.fns.renounceRole(role_id("DETECTOR_ROLE"), spare)
        self.send(Sender(self.w3, devnet_account(SPARE)), call, "renounceRole")
        self.send(self.gov, self.staking.pause(), "pause")
        self.send(self.gov, self.staking.unpause(), "unpause")
        self.send(self.gov, self.staking.grant_role("DETECTOR_ROLE", spare))
        self.send(self.gov, self.staking.revoke_detector(spare), "revokeDetector")
        self.send(self.gov, self.fns.beginDefaultAdminTransfer(spare), "beginDefaultAdminTransfer")
        self.send(self.gov, self.fns.cancelDefaultAdminTransfer(), "cancelDefaultAdminTransfer")

    def production_shape(self) -> dict[str, Any]:
        """The Safe shape (SPEC section 9), on a deployment provisioned with governance "safe": the
        council Safe's 2-of-3 execTransaction of a veto and of a pause, the governance Safe's
        schedule of setVetoWindow on the timelock, and the timelock's execute after the delay."""
        from staking.chain.safe import SafeContract, SafeOperation, calldata, multi_send_calldata
        from staking.chain.timelock import TimelockCall, TimelockContract
        from staking.devnet.accounts import COUNCIL_OWNERS, GOVERNANCE_OWNERS

        g = self.deployment.governance
        assert g.council_safe and g.governance_safe and g.timelock
        council = SafeContract(self.w3, to_checksum_address(g.council_safe))
        gsafe = SafeContract(self.w3, to_checksum_address(g.governance_safe))
        timelock = TimelockContract(self.w3, to_checksum_address(g.timelock))
        council_owners = [devnet_account(i) for i in COUNCIL_OWNERS[:2]]
        owners = [devnet_account(i) for i in GOVERNANCE_OWNERS[:2]]
        submitter = Sender(self.w3, council_owners[0])

        def through(safe: SafeContract, fn: ContractFunction, signers: list[LocalAccount], name: str) -> None:
            receipt = safe.execute(submitter, safe.build_tx(fn.address, calldata(fn)), signers)
            self.gas[name] = int(receipt["gasUsed"])
            say(f"{name}: {self.gas[name]:,} gas", "gas")

        v = self.verdict(self.p(0))
        self.send(self.service, self.staking.propose_slash(v, self.sign(v), Bps(500)))
        through(
            council,
            self.staking.veto_slash(v.id, keccak(text="council")),
            council_owners,
            "safe_vetoSlash_2of3",
        )
        call = TimelockCall(target=self.staking.address, data=calldata(self.fns.setVetoWindow(300)))
        through(
            gsafe, timelock.schedule(call, timelock.min_delay()), owners, "safe_schedule_setVetoWindow_2of3"
        )
        self.advance(timelock.min_delay() + 1)
        self.send(submitter, timelock.execute(call), "timelock_execute_setVetoWindow")
        through(council, self.staking.pause(), council_owners, "safe_pause_2of3")
        through(council, self.staking.unpause(), council_owners, "safe_unpause_2of3")
        # Containment in one council transaction: revokeDetector, vetoSlashes and liftJails
        # through Safe's MultiSendCallOnly (what `detector revoke` sends in this shape).
        v = self.verdict(self.p(1))
        self.send(self.service, self.staking.jail_and_propose_slash(v, self.sign(v), 0, Bps(500)))
        reason = keccak(text="contained")
        calls = [
            self.staking.revoke_detector(self.detectors[0].address),
            self.staking.veto_slashes([v.id], reason),
            self.staking.lift_jails([self.p(1)], reason),
        ]
        assert g.multi_send is not None
        data = multi_send_calldata(
            self.w3, g.multi_send, [(self.staking.address, calldata(f)) for f in calls]
        )
        tx = council.build_tx(g.multi_send, data, operation=SafeOperation.DELEGATECALL)
        receipt = council.execute(submitter, tx, council_owners)
        self.gas["safe_contain_multisend_2of3"] = int(receipt["gasUsed"])
        say(f"safe_contain_multisend_2of3: {self.gas['safe_contain_multisend_2of3']:,} gas", "gas")
        return {k: v for k, v in self.gas.items() if k.startswith(("safe_", "timelock_"))}

    def run(self) -> dict[str, Any]:
        for label, action in (
            ("bonding", self.bonding),
            ("jails", self.jails),
            ("slashes", self.slashes),
            ("appeals", self.appeals),
            ("recovery", self.recovery),
            ("tombstones", self.tombstones),
            ("rewards", self.rewards),
            ("governance", self.governance),
        ):
            self.step(label, action)
        within = {k: self.gas[k] <= v for k, v in TARGETS.items() if k in self.gas}
        return {
            "functions": dict(sorted(self.gas.items())),
            "targets": TARGETS,
            "within_targets": within,
            "anchors": ANCHORS,
            "audit_before": AUDIT_BEFORE,
            "failed": self.failed,
            "machine": machine(),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--time-limit", type=int, default=600, help="seconds before the run is stopped")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when a target is missed or a step failed"
    )
    args = parser.parse_args(argv)
    cancel_limit = time_limit(args.time_limit)
    try:
        with tempfile.TemporaryDirectory(prefix="swarm-gas-") as workdir:
            say("starting Anvil and provisioning the devnet", "gas")
            with LocalNode.start("anvil", log_dir=Path(workdir)) as node:
                result = Bench(node).run()
            say("a second Anvil in the Safe shape (SPEC section 9)", "gas")
            with LocalNode.start("anvil", log_dir=Path(workdir)) as node:
                result["production_governance"] = Bench(node, governance="safe").production_shape()
    finally:
        cancel_limit()
    print(json.dumps(result, indent=2))
    if args.check and (result["failed"] or not all(result["within_targets"].values())):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
