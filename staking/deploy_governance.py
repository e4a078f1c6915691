"""The production governance shape of SPEC section 9, deployed and handed over.

    governance Safe (k of n) ──proposes/cancels──▶ TimelockController (min delay)
                                                     │ DEFAULT_ADMIN_ROLE, GOVERNANCE_ROLE
                                                     ▼
    council Safe (k of m) ──VETOER_ROLE, pause──▶ SwarmStaking ◀── service (SLASHER, ORACLE), detectors

The deployer sets everything up with its own key, then grants the council its role, moves the admin
role to the timelock in AccessControlDefaultAdminRules' two steps and renounces every role it held;
`check_handed_over` proves it holds none afterwards. The second step must be the timelock's own call,
so the timelock is born with no delay and the deployer as a temporary proposer and admin: it runs
`acceptDefaultAdminTransfer` and then `updateDelay(min delay)` through the timelock at once, and
renounces those roles last. From then on the timelock administers itself, its executors are open
(anyone runs a ready operation), and only the governance Safe proposes and cancels: the council
cannot cancel governance's operations, so a rogue council cannot block its own removal, which
still waits out the delay like everything else.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from eth_utils import to_checksum_address
from web3.contract.contract import ContractFunction

from staking.chain.contracts import StakingContract
from staking.chain.safe import (
    ZERO_ADDRESS,
    SafeContract,
    SafeSingletons,
    calldata,
    create_safe,
    deploy_singletons,
)
from staking.chain.sender import Sender
from staking.chain.timelock import TimelockCall, TimelockContract, deploy_timelock
from staking.deployment import Governance
from staking.domain.vocabulary import Address

PRODUCTION_MIN_DELAY = 2 * 24 * 3600
LEAST_PRODUCTION_DELAY = 24 * 3600  # below this, off the devnet, `problems` refuses the shape
HANDED_OVER = ("DEFAULT_ADMIN_ROLE", "GOVERNANCE_ROLE", "VETOER_ROLE")  # the deployer's, renounced
TEMPORARY_TIMELOCK_ROLES = ("PROPOSER_ROLE", "CANCELLER_ROLE", "DEFAULT_ADMIN_ROLE")  # the deployer's


@dataclass(frozen=True)
class SafeShape:
    """Who governs: the governance Safe's owners and threshold, the council Safe's, the delay."""

    owners: tuple[Address, ...]
    threshold: int
    council_owners: tuple[Address, ...]
    council_threshold: int
    min_delay: int = PRODUCTION_MIN_DELAY

    def problems(self, production: bool) -> list[str]:
        """Every reason the shape is unsafe or invalid, one line each (empty: fine). `production`
        (any chain but the devnet's) also refuses 1-of-n Safes and a delay under a day."""
        out: list[str] = []
        for name, owners, threshold in (
            ("governance", self.owners, self.threshold),
            ("council", self.council_owners, self.council_threshold),
        ):
            normal = [to_checksum_address(o) for o in owners]
            if not normal:
                out.append(f"the {name} Safe needs at least one owner")
            if len(set(normal)) != len(normal):
                out.append(f"the {name} Safe lists an owner twice")
            if not 1 <= threshold <= max(1, len(normal)):
                out.append(f"the {name} threshold {threshold} is outside 1..{len(normal)}")
            elif production and threshold < 2:
                out.append(f"the {name} threshold is 1: one stolen key would act alone; use 2 or more")
        shared = {to_checksum_address(o) for o in self.owners} & {
            to_checksum_address(o) for o in self.council_owners
        }
        if shared:
            out.append(
                f"the council must be independent of governance: shared owners {', '.join(sorted(shared))}"
            )
        if self.min_delay < 0:
            out.append("the timelock's minimum delay cannot be negative")
        elif production and self.min_delay < LEAST_PRODUCTION_DELAY:
            out.append(
                f"a timelock delay of {self.min_delay} s leaves no time to react; use at least "
                f"{LEAST_PRODUCTION_DELAY} s (1 day) off the devnet"
            )
        return out


@dataclass(frozen=True)
class GovernanceContracts:
    singletons: SafeSingletons
    governance_safe: SafeContract
    council_safe: SafeContract
    timelock: TimelockContract
    min_delay: int


def deploy_governance(
    sender: Sender, shape: SafeShape, singletons: SafeSingletons | None = None
) -> GovernanceContracts:
    """The two Safes (Safe's own 1.4.1 contracts; `singletons` already on the chain, or deployed
    here) and the timelock, self-administered, the governance Safe its proposer and canceller."""
    problems = shape.problems(production=False)
    if problems:
        raise ValueError("; ".join(problems))
    singletons = singletons or deploy_singletons(sender)
    governance_safe = create_safe(sender, singletons, shape.owners, shape.threshold, salt_nonce=0)
    council_safe = create_safe(
        sender, singletons, shape.council_owners, shape.council_threshold, salt_nonce=1
    )
    # No delay and the deployer as proposer and admin until hand_over sets the delay and renounces.
    timelock = deploy_timelock(
        sender,
        0,
        proposers=[governance_safe.address, sender.address],
        executors=[ZERO_ADDRESS],
        admin=sender.address,
    )
    return GovernanceContracts(singletons, governance_safe, council_safe, timelock, shape.min_delay)


def hand_over(sender: Sender, staking: StakingContract, contracts: GovernanceContracts) -> None:
    """Grants the timelock GOVERNANCE_ROLE and the council VETOER_ROLE (which also pauses), moves
    DEFAULT_ADMIN_ROLE to the timelock in two steps, sets the admin delay and the timelock's delay
    (both `min_delay`), then the deployer
    (`sender`) renounces every role it held, on SwarmStaking and on the timelock."""
    timelock, council = contracts.timelock, contracts.council_safe.address
    for role, holder in (("GOVERNANCE_ROLE", timelock.address), ("VETOER_ROLE", council)):
        if not staking.has_role(role, holder):
            sender.wait(sender.send(staking.grant_role(role, holder), label=f"grant {role} to {holder}"))
    if not staking.has_role("DEFAULT_ADMIN_ROLE", timelock.address):
        _move_admin_to(sender, staking, timelock)
    if _admin_delay(staking) != contracts.min_delay:
        # The next admin transfer waits this long after the timelock's own delay (the change takes
        # effect that many seconds from now, OpenZeppelin's rule for an increase).
        fn = staking.contract.functions.changeDefaultAdminDelay(contracts.min_delay)
        _through_timelock(sender, timelock, fn)
    if timelock.min_delay() != contracts.min_delay:
        _through_timelock(sender, timelock, timelock.contract.functions.updateDelay(contracts.min_delay))
    for role in ("VETOER_ROLE", "GOVERNANCE_ROLE"):
        if staking.has_role(role, sender.address):
            sender.wait(sender.send(staking.renounce_role(role, sender.address), label=f"renounce {role}"))
    for role in TEMPORARY_TIMELOCK_ROLES:  # the admin role last
        if timelock.has_role(role, sender.address):
            fn = timelock.contract.functions.renounceRole(timelock.role(role), sender.address)
            sender.wait(sender.send(fn, label=f"renounce timelock {role}"))
    check_handed_over(staking, contracts, sender.address)


def _move_admin_to(sender: Sender, staking: StakingContract, timelock: TimelockContract) -> None:
    """beginDefaultAdminTransfer by the deployer, acceptDefaultAdminTransfer by the timelock. The
    admin delay is 0 at deployment, but the acceptance must land in a later second than the start
    (OpenZeppelin: `schedule < block.timestamp`)."""
    fn = staking.contract.functions
    receipt = sender.wait(
        sender.send(fn.beginDefaultAdminTransfer(timelock.address), label="begin admin transfer")
    )
    started = int(sender.w3.eth.get_block(receipt["blockNumber"])["timestamp"])
    _, schedule = fn.pendingDefaultAdmin().call()
    # The acceptance needs a block timestamp strictly after the schedule. One second more than
    # that: a node's clock may lag the wall clock by a fraction (Anvil counts from its whole start second).
    while time.time() < max(started, int(schedule)) + 2:
        time.sleep(0.2)
    _through_timelock(sender, timelock, fn.acceptDefaultAdminTransfer())


def _admin_delay(staking: StakingContract) -> int:
    """The admin delay in force, or the one a pending change sets."""
    f = staking.contract.functions
    pending, effect = f.pendingDefaultAdminDelay().call()
    return int(pending) if int(effect) else int(f.defaultAdminDelay().call())


def _through_timelock(sender: Sender, timelock: TimelockContract, fn: ContractFunction) -> None:
    """Schedules and executes `fn` through the timelock while its delay is still 0."""
    call = TimelockCall(Address(to_checksum_address(fn.address)), calldata(fn))
    sender.wait(sender.send(timelock.schedule(call, 0), label=f"timelock schedule {fn.fn_name}"))
    sender.wait(sender.send(timelock.execute(call), label=f"timelock execute {fn.fn_name}"))


def check_handed_over(staking: StakingContract, contracts: GovernanceContracts, deployer: str) -> None:
    """Raises unless the roles sit where SPEC section 9 puts them and `deployer` holds none."""
    timelock, council = contracts.timelock, contracts.council_safe.address
    wrong = [
        f"{holder} lacks {role}"
        for role, holder in (
            ("DEFAULT_ADMIN_ROLE", timelock.address),
            ("GOVERNANCE_ROLE", timelock.address),
            ("VETOER_ROLE", council),
        )
        if not staking.has_role(role, holder)
    ]
    wrong += [
        f"the deployer {deployer} still holds {role}"
        for role in HANDED_OVER
        if staking.has_role(role, deployer)
    ]
    pending, _ = staking.contract.functions.pendingDefaultAdmin().call()
    if int(pending, 16) != 0:
        wrong.append(f"an admin transfer to {pending} is still pending")
    if _admin_delay(staking) != contracts.min_delay:
        wrong.append(f"the admin delay is {_admin_delay(staking)} s, not {contracts.min_delay} s")
    if timelock.min_delay() != contracts.min_delay:
        wrong.append(f"the timelock's delay is {timelock.min_delay()} s, not {contracts.min_delay} s")
    wrong += [
        f"the deployer {deployer} still holds timelock {role}"
        for role in TEMPORARY_TIMELOCK_ROLES
        if timelock.has_role(role, deployer)
    ]
    proposer = contracts.governance_safe.address
    wrong += [
        f"the governance Safe lacks timelock {r}"
        for r in ("PROPOSER_ROLE", "CANCELLER_ROLE")
        if not timelock.has_role(r, proposer)
    ]
    if not timelock.has_role("EXECUTOR_ROLE", ZERO_ADDRESS):
        wrong.append("the timelock's executors are not open")
    if wrong:
        raise RuntimeError("governance hand-over incomplete: " + "; ".join(wrong))


def owners_of(addresses: Sequence[str]) -> tuple[Address, ...]:
    return tuple(Address(to_checksum_address(a)) for a in addresses)


def governance_record(contracts: GovernanceContracts, shape: SafeShape) -> Governance:
    """The deployment file's `governance` section for a deployed shape."""
    return Governance(
        mode="safe",
        timelock=contracts.timelock.address,
        governance_safe=contracts.governance_safe.address,
        council_safe=contracts.council_safe.address,
        owners=list(owners_of(shape.owners)),
        threshold=shape.threshold,
        council_owners=list(owners_of(shape.council_owners)),
        council_threshold=shape.council_threshold,
        min_delay=shape.min_delay,
        multi_send=contracts.singletons.multi_send,
    )
