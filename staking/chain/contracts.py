"""Typed wrappers of the deployed contracts: the only module that knows their ABIs' shape.

Views return dataclasses; writes return web3 `ContractFunction`s for a sender to simulate and
send, so no other module builds raw calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import BlockIdentifier

from staking.chain.appeals import AppealsMixin
from staking.chain.artifacts import DEFAULT_ARTIFACTS, load_artifact
from staking.chain.council import CouncilMixin
from staking.domain.vocabulary import (
    Address,
    Bps,
    EventType,
    ProviderClass,
    RecoveryPath,
    RecoveryStage,
    Severity,
    SlashState,
    Wei,
)
from staking.verdict import Domain, Verdict

ROLE_NAMES = ("GOVERNANCE_ROLE", "SLASHER_ROLE", "VETOER_ROLE", "DETECTOR_ROLE", "REWARDS_ORACLE_ROLE")
DEFAULT_ADMIN_ROLE = b"\x00" * 32


def role_id(name: str) -> bytes:
    """bytes32 id of a role constant (`keccak256("SLASHER_ROLE")`; admin is zero)."""
    return DEFAULT_ADMIN_ROLE if name == "DEFAULT_ADMIN_ROLE" else Web3.keccak(text=name)


@dataclass(frozen=True)
class ProviderRecord:
    registered: bool
    tombstoned: bool
    jailed: bool
    provider_class: ProviderClass
    recovery_path: RecoveryPath
    recovery_stage: RecoveryStage
    gpus: int
    pending_slashes: int
    jailed_until: int
    unbonding_end: int
    active: Wei
    unbonding: Wei


@dataclass(frozen=True)
class SlashRecord:
    """A slash as stored on chain (two slots; its evidence hash is in the SlashProposed event)."""

    provider: Address
    bps: Bps
    state: SlashState
    event_type: EventType
    executable_at: int
    amount: Wei
    proposed_at: int
    severity: Severity


@dataclass(frozen=True)
class Caps:
    """The on-chain bounds of the automatic path (SPEC section 8)."""

    window: int
    jail_cap: int
    slash_cap_bps: Bps
    max_slash_bps: Bps
    severity_bounds: tuple[Bps, Bps, Bps, Bps]  # low, medium, high, critical
    quorum: int
    quorum_bps: Bps

    def max_for(self, severity: Severity) -> Bps:
        """The most a verdict of `severity` may carry: its bound, never above `max_slash_bps`."""
        return Bps(min(self.severity_bounds[int(severity)], self.max_slash_bps))


@dataclass(frozen=True)
class CapUsage:
    """Use of the caps in the current window: `capUsage()`."""

    jails: int
    at_stake: Wei
    total_bonded: Wei


@dataclass(frozen=True)
class EpochRecord:
    merkle_root: bytes
    total_weight: int
    pool: Wei
    claimed: Wei
    published: bool


@dataclass(frozen=True)
class ClassParams:
    base_min_stake: Wei
    per_gpu_min_stake: Wei
    unbonding_period: int


def _abi_type(inp: dict[str, Any]) -> str:
    if inp["type"].startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in inp["components"]) + ")" + inp["type"][5:]
    return str(inp["type"])


class StakingContract(AppealsMixin, CouncilMixin):
    """SwarmStaking at `address` (its appeals in `staking.chain.appeals`; reward challenges,
    sweeps, detector revocation and the admin in `staking.chain.council`)."""

    def __init__(self, w3: Web3, address: str, artifacts_dir: Path = DEFAULT_ARTIFACTS) -> None:
        self.w3 = w3
        self.address = Address(to_checksum_address(address))
        self.contract: Contract = w3.eth.contract(
            address=self.address, abi=load_artifact("SwarmStaking", artifacts_dir).abi
        )

    @property
    def abi(self) -> list[dict[str, Any]]:
        return [dict(item) for item in self.contract.abi]

    def error_name(self, revert_data: str) -> str:
        """Name of the custom error whose selector starts `revert_data` (or the raw selector)."""
        if not hasattr(self, "_errors"):
            self._errors = {}
            for item in self.abi:
                if item["type"] == "error":
                    types = ",".join(_abi_type(i) for i in item["inputs"])
                    self._errors["0x" + Web3.keccak(text=f"{item['name']}({types})")[:4].hex()] = item["name"]
        return self._errors.get(revert_data[:10], revert_data[:10])

    def domain(self) -> Domain:
        return Domain(chain_id=self.w3.eth.chain_id, verifying_contract=self.address)

    # ---- views
    def stake_of(self, provider: str, block: BlockIdentifier = "latest") -> Wei:
        return Wei(
            self.contract.functions.stakeOf(to_checksum_address(provider)).call(block_identifier=block)
        )

    def unbonding_of(self, provider: str, block: BlockIdentifier = "latest") -> Wei:
        fn = self.contract.functions.unbondingOf(to_checksum_address(provider))
        return Wei(fn.call(block_identifier=block))

    def withdrawable_of(self, provider: str) -> Wei:
        return Wei(self.contract.functions.withdrawableOf(to_checksum_address(provider)).call())

    def min_stake_of(self, provider: str) -> Wei:
        return Wei(self.contract.functions.minStakeOf(to_checksum_address(provider)).call())

    def is_jailed(self, provider: str) -> bool:
        return bool(self.contract.functions.isJailed(to_checksum_address(provider)).call())

    def is_tombstoned(self, provider: str) -> bool:
        return bool(self.contract.functions.isTombstoned(to_checksum_address(provider)).call())

    def slash_state(self, slash_id: bytes) -> SlashState:
        return SlashState(self.contract.functions.slashState(slash_id).call())

    def provider(self, provider: str, block: BlockIdentifier = "latest") -> ProviderRecord:
        r = self.contract.functions.getProvider(to_checksum_address(provider)).call(block_identifier=block)
        return ProviderRecord(
            registered=r[0],
            tombstoned=r[1],
            jailed=r[2],
            provider_class=ProviderClass(r[3]),
            recovery_path=RecoveryPath(r[4]),
            recovery_stage=RecoveryStage(r[5]),
            gpus=r[6],
            pending_slashes=r[7],
            jailed_until=r[8],
            unbonding_end=r[9],
            active=Wei(r[10]),
            unbonding=Wei(r[11]),
        )

    def slash(self, slash_id: bytes) -> SlashRecord:
        r = self.contract.functions.getSlash(slash_id).call()
        return SlashRecord(
            provider=Address(r[0]),
            bps=Bps(r[1]),
            state=SlashState(r[2]),
            event_type=EventType(r[3]),
            executable_at=r[4],
            amount=Wei(r[5]),
            proposed_at=r[6],
            severity=Severity(r[7]),
        )

    def caps(self, block: BlockIdentifier = "latest") -> Caps:
        f = self.contract.functions
        return Caps(
            window=int(f.capWindow().call(block_identifier=block)),
            jail_cap=int(f.jailCap().call(block_identifier=block)),
            slash_cap_bps=Bps(f.slashCapBps().call(block_identifier=block)),
            max_slash_bps=Bps(f.maxSlashBps().call(block_identifier=block)),
            severity_bounds=tuple(  # type: ignore[arg-type]
                Bps(f.maxSlashBpsFor(int(s)).call(block_identifier=block)) for s in Severity
            ),
            quorum=int(f.detectorQuorum().call(block_identifier=block)),
            quorum_bps=Bps(f.quorumBps().call(block_identifier=block)),
        )

    def cap_usage(self, block: BlockIdentifier = "latest") -> CapUsage:
        jails, at_stake, bonded = self.contract.functions.capUsage().call(block_identifier=block)
        return CapUsage(jails=int(jails), at_stake=Wei(at_stake), total_bonded=Wei(bonded))

    def total_bonded(self, block: BlockIdentifier = "latest") -> Wei:
        return Wei(self.contract.functions.totalBonded().call(block_identifier=block))

    def at_stake_of(self, provider: str) -> Wei:
        return Wei(self.contract.functions.atStakeOf(to_checksum_address(provider)).call())

    def is_released(self, provider: str) -> bool:
        return bool(self.contract.functions.isReleased(to_checksum_address(provider)).call())

    def epoch(self, epoch: int) -> EpochRecord:
        r = self.contract.functions.getEpoch(epoch).call()
        return EpochRecord(bytes(r[0]), r[1], Wei(r[2]), Wei(r[3]), r[4])

    def class_params(self, provider_class: ProviderClass) -> ClassParams:
        r = self.contract.functions.classParams(int(provider_class)).call()
        return ClassParams(Wei(r[0]), Wei(r[1]), r[2])

    def current_epoch(self) -> int:
        return int(self.contract.functions.currentEpoch().call())

    def veto_window(self) -> int:
        return int(self.contract.functions.vetoWindow().call())

    def max_verdict_age(self) -> int:
        return int(self.contract.functions.maxVerdictAge().call())

    def treasury(self) -> Address:
        return Address(self.contract.functions.treasury().call())

    def stake_token(self) -> Address:
        return Address(self.contract.functions.stakeToken().call())

    def has_role(self, role: str, account: str) -> bool:
        return bool(self.contract.functions.hasRole(role_id(role), to_checksum_address(account)).call())

    def paused(self) -> bool:
        return bool(self.contract.functions.paused().call())

    # ---- writes (unsent calls)
    def register(self, provider_class: ProviderClass, gpus: int, metadata_uri: str) -> ContractFunction:
        return self.contract.functions.register(int(provider_class), gpus, metadata_uri)

    def stake(self, amount: Wei) -> ContractFunction:
        return self.contract.functions.stake(amount)

    def request_unbond(self, amount: Wei) -> ContractFunction:
        return self.contract.functions.requestUnbond(amount)

    def withdraw(self, amount: Wei) -> ContractFunction:
        return self.contract.functions.withdraw(amount)

    def unjail(self) -> ContractFunction:
        return self.contract.functions.unjail()

    def jail(self, verdict: Verdict, signature: bytes, until: int) -> ContractFunction:
        return self.contract.functions.jail(verdict.as_tuple(), signature, until)

    def propose_slash(self, verdict: Verdict, signature: bytes, bps: Bps) -> ContractFunction:
        return self.contract.functions.proposeSlash(verdict.as_tuple(), signature, bps)

    def propose_slash_quorum(self, verdict: Verdict, signatures: list[bytes], bps: Bps) -> ContractFunction:
        """`signatures` ordered by signer address, ascending (the contract checks it)."""
        return self.contract.functions.proposeSlashQuorum(verdict.as_tuple(), signatures, bps)

    def jail_and_propose_slash(
        self, verdict: Verdict, signature: bytes, until: int, bps: Bps
    ) -> ContractFunction:
        return self.contract.functions.jailAndProposeSlash(verdict.as_tuple(), signature, until, bps)

    def veto_slash(self, slash_id: bytes, reason_hash: bytes) -> ContractFunction:
        return self.contract.functions.vetoSlash(slash_id, reason_hash)

    def veto_slashes(self, slash_ids: list[bytes], reason_hash: bytes) -> ContractFunction:
        """Vetoes many in one transaction; ids no longer vetoable are skipped on chain."""
        return self.contract.functions.vetoSlashes(slash_ids, reason_hash)

    def lift_jails(self, providers: list[str], reason_hash: bytes) -> ContractFunction:
        """VETOER_ROLE: lifts wrongful jails (and the recoveries they opened) in one transaction."""
        return self.contract.functions.liftJails([to_checksum_address(p) for p in providers], reason_hash)

    def release_tombstoned(self, provider: str) -> ContractFunction:
        return self.contract.functions.releaseTombstoned(to_checksum_address(provider))

    def slash_tombstoned(self, provider: str, bps: Bps, reason_hash: bytes) -> ContractFunction:
        return self.contract.functions.slashTombstoned(to_checksum_address(provider), bps, reason_hash)

    def set_caps(
        self, window: int, jail_cap: int, slash_cap_bps: int, max_slash_bps: int
    ) -> ContractFunction:
        return self.contract.functions.setCaps(window, jail_cap, slash_cap_bps, max_slash_bps)

    def set_severity_bounds(self, bounds: tuple[int, int, int, int]) -> ContractFunction:
        return self.contract.functions.setSeverityBounds(list(bounds))

    def set_veto_window(self, window: int) -> ContractFunction:
        return self.contract.functions.setVetoWindow(window)

    def set_quorum(self, quorum: int, quorum_bps: int) -> ContractFunction:
        return self.contract.functions.setQuorum(quorum, quorum_bps)

    def execute_slash(self, slash_id: bytes) -> ContractFunction:
        return self.contract.functions.executeSlash(slash_id)

    def tombstone(self, provider: str, reason_hash: bytes) -> ContractFunction:
        return self.contract.functions.tombstone(to_checksum_address(provider), reason_hash)

    def begin_recovery(self, provider: str, path: RecoveryPath) -> ContractFunction:
        return self.contract.functions.beginRecovery(to_checksum_address(provider), int(path))

    def advance_recovery(self, provider: str) -> ContractFunction:
        return self.contract.functions.advanceRecovery(to_checksum_address(provider))

    def reinstate(self, provider: str) -> ContractFunction:
        return self.contract.functions.reinstate(to_checksum_address(provider))

    def fund_rewards(self, epoch: int, amount: Wei) -> ContractFunction:
        return self.contract.functions.fundRewards(epoch, amount)

    def publish_eligibility(self, epoch: int, root: bytes, total_weight: int, uri: str) -> ContractFunction:
        return self.contract.functions.publishEligibility(epoch, root, total_weight, uri)

    def claim(self, epoch: int, weight: int, proof: list[bytes]) -> ContractFunction:
        return self.contract.functions.claim(epoch, weight, proof)

    def grant_role(self, role: str, account: str) -> ContractFunction:
        return self.contract.functions.grantRole(role_id(role), to_checksum_address(account))

    def revoke_role(self, role: str, account: str) -> ContractFunction:
        return self.contract.functions.revokeRole(role_id(role), to_checksum_address(account))

    def renounce_role(self, role: str, account: str) -> ContractFunction:
        """`account` gives up `role` (only `account` itself may send it)."""
        return self.contract.functions.renounceRole(role_id(role), to_checksum_address(account))

    def pause(self) -> ContractFunction:
        return self.contract.functions.pause()

    def unpause(self) -> ContractFunction:
        return self.contract.functions.unpause()


class TokenContract:
    """The ERC-20 stake token (SwarmToken on the devnet)."""

    def __init__(self, w3: Web3, address: str, artifacts_dir: Path = DEFAULT_ARTIFACTS) -> None:
        self.w3 = w3
        self.address = Address(to_checksum_address(address))
        self.contract: Contract = w3.eth.contract(
            address=self.address, abi=load_artifact("SwarmToken", artifacts_dir).abi
        )

    def balance_of(self, account: str, block: BlockIdentifier = "latest") -> Wei:
        fn = self.contract.functions.balanceOf(to_checksum_address(account))
        return Wei(fn.call(block_identifier=block))

    def total_supply(self, block: BlockIdentifier = "latest") -> Wei:
        return Wei(self.contract.functions.totalSupply().call(block_identifier=block))

    def transfer(self, to: str, amount: Wei) -> ContractFunction:
        return self.contract.functions.transfer(to_checksum_address(to), amount)

    def approve(self, spender: str, amount: Wei) -> ContractFunction:
        return self.contract.functions.approve(to_checksum_address(spender), amount)
