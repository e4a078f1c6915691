"""Deploying SwarmStaking (and, on a devnet, SwarmToken) and granting the service's roles.

Used by `swarm-staking devnet` and by `scripts/deploy.py` for any other network.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.types import TxReceipt

from staking.chain.artifacts import DEFAULT_ARTIFACTS, Artifact, load_artifact
from staking.chain.contracts import StakingContract
from staking.chain.sender import Sender
from staking.deploy_governance import GovernanceContracts, SafeShape, deploy_governance, hand_over
from staking.domain.vocabulary import TOKEN, Address, Wei


@dataclass(frozen=True)
class StakingParams:
    """Deployment parameters. Production defaults (the README argues the caps); `devnet()`
    shortens the clocks for demos and opens the caps wide, so load and fault runs are never
    capped (the tests of the caps set tight ones themselves)."""

    veto_window: int = 3 * 24 * 3600
    max_verdict_age: int = 24 * 3600
    epoch_length: int = 24 * 3600
    # SPEC section 8: the automatic path's bounds, enforced on chain.
    cap_window: int = 24 * 3600
    jail_cap: int = 50  # 10 % of a 500-provider network per day
    slash_cap_bps: int = 500  # 5 % of the bonded stake put at stake per day
    max_slash_bps: int = 5_000  # the policy's own cap
    severity_bounds: tuple[int, int, int, int] = (500, 1_000, 2_500, 5_000)
    quorum: int = 2
    quorum_bps: int = 1_000  # above 10 %, two detectors must sign

    @classmethod
    def devnet(cls) -> StakingParams:
        return cls(
            veto_window=120,
            max_verdict_age=3600,
            epoch_length=600,
            cap_window=3600,
            jail_cap=1_000_000,
            slash_cap_bps=10_000,
            max_slash_bps=10_000,
            severity_bounds=(10_000, 10_000, 10_000, 10_000),
            quorum=1,
            quorum_bps=10_000,
        )


@dataclass(frozen=True)
class RoleHolders:
    governance: Address
    service: Address  # SLASHER_ROLE + REWARDS_ORACLE_ROLE
    detectors: tuple[Address, ...]
    vetoers: tuple[Address, ...] = ()  # governance is always a vetoer


@dataclass(frozen=True)
class Deployed:
    token: Address
    staking: Address
    deployed_block: int
    governance: GovernanceContracts | None = None  # the Safe shape; None: one EOA governs


def _created(receipt: TxReceipt) -> Address:
    created = receipt["contractAddress"]
    if created is None:
        raise RuntimeError("deployment receipt has no contract address")
    return Web3.to_checksum_address(created)


def deploy_token(sender: Sender, supply: Wei = Wei(100_000_000 * TOKEN)) -> Address:
    art = load_artifact("SwarmToken", DEFAULT_ARTIFACTS)
    receipt = sender.wait(
        sender.deploy(art.abi, art.bytecode, sender.address, supply, label="deploy SwarmToken")
    )
    return _created(receipt)


def linked_bytecode(art: Artifact, libraries: dict[str, str]) -> str:
    """`art`'s creation bytecode with each library placeholder replaced by its address in
    `libraries` (library name -> address): the one home for linking."""
    code = art.bytecode[2:] if art.bytecode.startswith("0x") else art.bytecode
    for refs in art.link_references.values():
        for library, spots in refs.items():
            address = libraries[library].lower().removeprefix("0x")
            for spot in spots:
                start = 2 * spot["start"]
                code = code[:start] + address + code[start + 2 * spot["length"] :]
    return "0x" + code


def deploy_libraries(sender: Sender, art: Artifact) -> dict[str, str]:
    """Deploys every library `art` links against (they link against none themselves)."""
    libraries: dict[str, str] = {}
    for refs in art.link_references.values():
        for library in refs:
            lib = load_artifact(library, DEFAULT_ARTIFACTS)
            receipt = sender.wait(sender.deploy(lib.abi, lib.bytecode, label=f"deploy {library}"))
            libraries[library] = _created(receipt)
    return libraries


def deploy_staking(
    sender: Sender, token: str, treasury: str, governance: str, params: StakingParams
) -> tuple[Address, int]:
    art = load_artifact("SwarmStaking", DEFAULT_ARTIFACTS)
    pending = sender.deploy(
        art.abi,
        linked_bytecode(art, deploy_libraries(sender, art)),
        Web3.to_checksum_address(token),
        Web3.to_checksum_address(treasury),
        Web3.to_checksum_address(governance),
        params.veto_window,
        params.max_verdict_age,
        params.epoch_length,
        label="deploy SwarmStaking",
    )
    receipt = sender.wait(pending)
    return _created(receipt), int(receipt["blockNumber"])


def grant_service_roles(governance: Sender, staking: StakingContract, roles: RoleHolders) -> None:
    """Grants the roles SPEC section 2 names; skips grants already in place, so re-runs are safe."""
    wanted = [("SLASHER_ROLE", roles.service), ("REWARDS_ORACLE_ROLE", roles.service)]
    wanted += [("DETECTOR_ROLE", d) for d in roles.detectors]
    wanted += [("VETOER_ROLE", v) for v in roles.vetoers]
    batch = [
        governance.send(staking.grant_role(role, who), label=f"grant {role} to {who}")
        for role, who in wanted
        if not staking.has_role(role, who)
    ]
    governance.wait_all(batch)


def apply_bounds(governance: Sender, staking: StakingContract, params: StakingParams) -> None:
    """Sets the caps, the per-severity bounds and the quorum of `params` (governance's key).

    Every severity bound must stay at or under `maxSlashBps`, so the bounds go first when the
    cap comes down and last when it goes up."""
    caps = staking.set_caps(params.cap_window, params.jail_cap, params.slash_cap_bps, params.max_slash_bps)
    bounds = staking.set_severity_bounds(params.severity_bounds)
    current = staking.caps()
    order = [caps, bounds] if params.max_slash_bps >= max(current.severity_bounds) else [bounds, caps]
    order.append(staking.set_quorum(params.quorum, params.quorum_bps))
    for fn in order:  # one at a time: each is estimated against the state the previous one left
        governance.wait(governance.send(fn))


def deploy_all(
    w3: Web3,
    deployer: LocalAccount,
    roles: RoleHolders,
    treasury: str,
    params: StakingParams,
    token: str | None = None,
    shape: SafeShape | None = None,
) -> Deployed:
    """Deploys (a devnet token if `token` is None and) SwarmStaking, then grants the roles.
    The deployer must be `roles.governance` for the grants to succeed. With a `shape`, the two
    Safes and the timelock follow and the deployer hands every governance role over to them."""
    sender = Sender(w3, deployer)
    token_address = Address(Web3.to_checksum_address(token)) if token else deploy_token(sender)
    staking_address, block = deploy_staking(sender, token_address, treasury, roles.governance, params)
    staking = StakingContract(w3, staking_address)
    apply_bounds(sender, staking, params)
    grant_service_roles(sender, staking, roles)
    governance = None
    if shape is not None:
        governance = deploy_governance(sender, shape)
        hand_over(sender, staking, governance)
    return Deployed(token=token_address, staking=staking_address, deployed_block=block, governance=governance)
