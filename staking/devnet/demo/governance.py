"""`make demo-governance`: the production governance shape (SPEC section 9) end to end, on a devnet
of its own deployed with `--governance safe`: a timelocked parameter change signed by two of the
governance Safe's three owners, a council veto signed by two of three in one transaction, and a
provider's appeal upheld by the council. Every step is the `swarm-staking` command an operator
types; the chain's clock is moved forward where a real deployment would wait. Exit 0 at the end,
1 when a step did not happen (the reason printed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from eth_utils import keccak, to_checksum_address
from web3 import Web3

from staking.chain.contracts import StakingContract, TokenContract
from staking.chain.sender import Sender
from staking.devnet.accounts import COUNCIL_OWNERS, GOVERNANCE_OWNERS, SERVICE, devnet_account
from staking.devnet.demo.session import DemoError
from staking.devnet.harness import CLI
from staking.devnet.node import LocalNode
from staking.devnet.provision import provision_devnet
from staking.domain.vocabulary import Address, Bps, EventType, Severity, SlashState
from staking.verdict import Domain, Verdict, sign_verdict


class GovernanceDemo:
    def __init__(self, w3: Web3, deployment_path: Path, workdir: Path) -> None:
        from staking.deployment import Deployment

        self.w3, self.workdir = w3, workdir
        self.deployment = Deployment.load(deployment_path)
        self.deployment_path = deployment_path
        self.staking = StakingContract(w3, self.deployment.contracts.SwarmStaking)
        self.step_no = 0

    def step(self, title: str) -> None:
        self.step_no += 1
        print(f"\n== {self.step_no}. {title}", flush=True)

    def say(self, text: str) -> None:
        print(f"   {text}", flush=True)

    def cli(self, *args: str, as_account: int | None = None, expect_failure: bool = False) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWARM_")}
        env |= {
            "SWARM_DEPLOYMENT": str(self.deployment_path),
            "SWARM_DATABASE_URL": f"sqlite:///{self.workdir}/x.db",
        }
        who = ""
        if as_account is not None:
            env["SWARM_SIGNER_KEY"] = "0x" + bytes(devnet_account(as_account).key).hex()  # public devnet key
            who = f"SWARM_SIGNER_KEY=<#{as_account}> "
        self.say(f"$ {who}swarm-staking " + " ".join(args))
        done = subprocess.run(
            [CLI, *args], env=env, cwd=self.workdir, capture_output=True, text=True, timeout=120
        )
        for line in (done.stdout + done.stderr).strip().splitlines():
            self.say(f"  {line}")
        if (done.returncode != 0) != expect_failure:
            raise DemoError(f"`swarm-staking {' '.join(args)}` exited {done.returncode}")
        return done.stdout

    def advance(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        self.say(f"(devnet) chain clock moved {seconds} s forward")

    def propose_slash(self, provider: str, bps: int) -> bytes:
        """What the service does on a detector's verdict: propose a slash (service key #1)."""
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        verdict = Verdict(
            id=keccak(text=f"governance-demo-{provider}-{now}"),
            provider=Address(to_checksum_address(provider)),
            event_type=EventType.POLICY_VIOLATION,
            severity=Severity.MEDIUM,
            detected_at=now,
            evidence_hash=keccak(text="demo evidence"),
        )
        domain = Domain(chain_id=self.deployment.chain_id, verifying_contract=self.staking.address)
        signature = sign_verdict(verdict, domain, bytes(devnet_account(2).key))
        Sender(self.w3, devnet_account(SERVICE)).transact(
            self.staking.propose_slash(verdict, signature, Bps(bps)), "proposeSlash"
        )
        self.say(f"the service proposed slash 0x{verdict.id.hex()[:16]}… of {bps} bps on {provider[:10]}…")
        return verdict.id

    def newest_signature(self) -> str:
        return str(max(self.workdir.glob("*.sig.json"), key=lambda p: p.stat().st_mtime_ns))


def run(demo: GovernanceDemo) -> None:
    g = demo.deployment.governance
    owner_a, owner_b = GOVERNANCE_OWNERS[0], GOVERNANCE_OWNERS[1]
    council_a, council_b = COUNCIL_OWNERS[0], COUNCIL_OWNERS[1]

    demo.step("The shape: a timelock governs, two 2-of-3 Safes decide, the deployer holds nothing")
    demo.cli("params", "show")

    demo.step("One governance owner alone cannot change a parameter")
    demo.cli(
        "params",
        "set",
        "veto-window",
        "300",
        "--via",
        "eoa",
        "--yes",
        as_account=owner_a,
        expect_failure=True,
    )
    demo.cli("params", "set", "veto-window", "300", "--sign", "--yes", as_account=owner_a)
    if demo.staking.veto_window() == 300:
        raise DemoError("one owner's signature changed the veto window")

    demo.step("A second owner signs: the governance Safe schedules setVetoWindow on the timelock")
    first = demo.newest_signature()
    demo.cli(
        "params", "set", "veto-window", "300", "--sign", "--signatures", first, "--yes", as_account=owner_b
    )
    [op] = json.loads(demo.cli("timelock", "list", "--json"))
    demo.cli("timelock", "execute", op["id"], "--yes", expect_failure=True)
    demo.advance(g.min_delay + 1)
    demo.cli("timelock", "execute", op["id"], "--yes")
    if demo.staking.veto_window() != 300:
        raise DemoError("the timelocked setVetoWindow did not take effect")

    demo.step("The council vetoes a slash at once: two owners' signatures, one transaction")
    providers = demo.deployment.accounts.providers
    disputed = demo.propose_slash(providers[0], 500)
    demo.cli("slash", "veto", "0x" + disputed.hex(), "--reason", "demo: evidence disputed", "--sign", "--yes",
             as_account=council_a)  # fmt: skip
    demo.cli("slash", "veto", "0x" + disputed.hex(), "--reason", "demo: evidence disputed", "--sign",
             "--signatures", demo.newest_signature(), "--yes", as_account=council_b)  # fmt: skip
    if demo.staking.slash(disputed).state != SlashState.VETOED:
        raise DemoError("the council's veto did not land")

    demo.step("A provider appeals its slash; the council upholds the appeal through its Safe")
    appellant = providers[1]
    appealed = demo.propose_slash(appellant, 1_000)
    evidence = demo.workdir / "evidence.txt"
    evidence.write_text("maintenance window announced on 2026-12-01, ticket OPS-42\n")
    index = next(i for i in range(3, 10) if devnet_account(i).address == appellant)
    token = TokenContract(demo.w3, demo.deployment.contracts.SwarmToken)
    before = token.balance_of(appellant)
    demo.cli("slash", "appeal", "0x" + appealed.hex(), "--evidence", str(evidence), "--yes", as_account=index)
    resolve = (
        "appeal",
        "resolve",
        "0x" + appealed.hex(),
        "--upheld",
        "--reason",
        "demo: maintenance was announced",
    )
    demo.cli(*resolve, "--sign", "--yes", as_account=council_a)
    demo.cli(*resolve, "--sign", "--signatures", demo.newest_signature(), "--yes", as_account=council_b)
    if demo.staking.slash(appealed).state != SlashState.VETOED or token.balance_of(appellant) != before:
        raise DemoError("the upheld appeal did not veto the slash and refund the bond")
    demo.say("the slash is vetoed and the appeal bond is back with the provider")


def main() -> int:
    with (
        tempfile.TemporaryDirectory(prefix="swarm-governance-demo-") as tmp,
        LocalNode.start("anvil") as node,
    ):
        workdir = Path(tmp)
        path = workdir / "deployment.json"
        print(f"devnet: anvil at {node.rpc_url}, deploying the Safe shape …", flush=True)
        provision_devnet(node.w3, node.rpc_url, governance="safe").save(path)
        try:
            run(GovernanceDemo(node.w3, path, workdir))
        except DemoError as exc:
            print(f"\ndemo stopped: {exc}")
            return 1
    print(
        "\nDone: a timelocked change, a council veto and an upheld appeal, each signed by two of "
        "three owners."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
