"""The projection: how SwarmStaking events fold into provider, slash, epoch, role and parameter
state. Pure: no SQL, no web3 (a provider's status from that state is `staking.domain.status`).

`Projection` is a working set. The store loads the rows a batch touches, `apply` folds the
batch's events in chain order, and the store writes back what changed. Replays after a reorg use
the same code on an empty working set, so there is one definition of the state.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from indexer.appeals import APPEAL_EVENTS, APPEAL_PARAM_EVENTS, AppealRow, fold_appeal
from staking.domain.errors import SwarmError
from staking.domain.events import DecodedEvent

PROVIDER_EVENTS = frozenset(
    {
        "ProviderRegistered",
        "Staked",
        "UnbondRequested",
        "Withdrawn",
        "Jailed",
        "Unjailed",
        "SlashProposed",
        "SlashVetoed",
        "SlashExecuted",
        "Tombstoned",
        "RecoveryBegun",
        "RecoveryAdvanced",
        "Reinstated",
        "JailLifted",
        "TombstonedStakeReleased",
    }
)
SLASH_EVENTS = frozenset({"SlashProposed", "SlashVetoed", "SlashExecuted"})
EPOCH_EVENTS = frozenset(
    {
        "EligibilityPublished",
        "RewardsFunded",
        "RewardClaimed",
        "ClaimsOpenAt",
        "EligibilityRevoked",
        "RewardsSwept",
    }
)
PARAM_EVENTS = {
    "VetoWindowSet": ("veto_window", "vetoWindow"),
    "MaxVerdictAgeSet": ("max_verdict_age", "maxVerdictAge"),
    "MaxJailDurationSet": ("max_jail_duration", "maxJailDuration"),
    "ProbationEpochsSet": ("probation_epochs", "probationEpochs"),
    "TreasurySet": ("treasury", "treasury"),
    "RewardChallengeDelaySet": ("reward_challenge_delay", "delay"),
}
# The on-chain bounds of the automatic path (SPEC section 8), as `params` rows. `severity_bounds`
# is a JSON list of four bps (low, medium, high, critical).
CAP_EVENTS = {
    "CapsSet": (
        ("cap_window", "window"),
        ("jail_cap", "jailCap"),
        ("slash_cap_bps", "slashCapBps"),
        ("max_slash_bps", "maxSlashBps"),
    ),
    "QuorumSet": (("quorum", "quorum"), ("quorum_bps", "quorumBps")),
}
# Events that set several `params` rows at once.
GROUP_PARAM_EVENTS = CAP_EVENTS | APPEAL_PARAM_EVENTS
CAP_PARAMS = (
    "cap_window",
    "jail_cap",
    "slash_cap_bps",
    "max_slash_bps",
    "severity_bounds",
    "quorum",
    "quorum_bps",
)
# Kept in `events` only (filed under the slash id): the detectors whose signatures a slash rests on.
CO_SIGNED = "SlashCoSigned"


@dataclass
class ProviderRow:
    address: str
    provider_class: int
    gpus: int
    metadata_uri: str
    registered_block: int
    updated_block: int
    active: int = 0
    unbonding: int = 0
    unbonding_end: int = 0
    withdrawn: int = 0
    slashed: int = 0
    jailed: bool = False
    jailed_until: int = 0
    jail_verdict_id: str | None = None
    jail_event_type: int | None = None
    jailed_at: int | None = None
    tombstoned: bool = False
    tombstone_reason: str | None = None
    recovery_path: int = 0
    recovery_stage: int = 0
    pending_slashes: int = 0
    reinstated_at: int | None = None
    probation_epochs: int = 0


@dataclass
class SlashRow:
    id: str
    provider: str
    state: int
    bps: int
    amount: int
    event_type: int
    severity: int
    evidence_hash: str
    executable_at: int
    proposed_block: int
    proposed_tx: str
    proposed_at: int
    from_active: int | None = None
    from_unbonding: int | None = None
    resolved_block: int | None = None
    resolved_tx: str | None = None
    veto_reason: str | None = None
    vetoer: str | None = None


@dataclass
class EpochRow:
    epoch: int
    pool: int = 0
    claimed: int = 0
    published: bool = False
    merkle_root: str | None = None
    total_weight: int | None = None
    uri: str | None = None
    published_block: int | None = None
    claims: int = 0
    claimable_at: int | None = None
    revocations: int = 0
    swept: int = 0


def row_dict(row: Any) -> dict[str, Any]:
    return asdict(row)


def row_from(cls: type[Any], mapping: Any) -> Any:
    names = {f.name for f in fields(cls)}
    return cls(**{k: mapping[k] for k in names})


@dataclass
class Projection:
    providers: dict[str, ProviderRow] = field(default_factory=dict)
    slashes: dict[str, SlashRow] = field(default_factory=dict)
    appeals: dict[str, AppealRow] = field(default_factory=dict)
    epochs: dict[int, EpochRow] = field(default_factory=dict)
    # (role, account) -> granted block, or None once revoked (the store deletes it)
    roles: dict[tuple[str, str], int | None] = field(default_factory=dict)
    params: dict[str, tuple[str, int]] = field(default_factory=dict)
    dirty_providers: set[str] = field(default_factory=set)
    dirty_slashes: set[str] = field(default_factory=set)
    dirty_appeals: set[str] = field(default_factory=set)
    dirty_epochs: set[int] = field(default_factory=set)

    def apply(self, ev: DecodedEvent, block_time: int) -> None:
        a = ev.args
        name = ev.name
        if name in PROVIDER_EVENTS:
            self._apply_provider(ev, block_time)
        if name in SLASH_EVENTS:
            self._apply_slash(ev, block_time)
        if name in APPEAL_EVENTS:
            self._apply_appeal(ev, block_time)
        if name in EPOCH_EVENTS:
            self._apply_epoch(ev)
        if name in PARAM_EVENTS:
            key, arg = PARAM_EVENTS[name]
            self.params[key] = (str(a[arg]), ev.block_number)
        elif name in GROUP_PARAM_EVENTS:
            for key, arg in GROUP_PARAM_EVENTS[name]:
                self.params[key] = (str(a[arg]), ev.block_number)
        elif name == "SeverityBoundsSet":
            bounds = [int(b) for b in a["bounds"]]
            self.params["severity_bounds"] = (json.dumps(bounds), ev.block_number)
        elif name == "ClassParamsSet":
            value = {
                "base_min_stake": str(a["baseMinStake"]),
                "per_gpu_min_stake": str(a["perGpuMinStake"]),
                "unbonding_period": a["unbondingPeriod"],
            }
            self.params[f"class.{a['class']}"] = (json.dumps(value, sort_keys=True), ev.block_number)
        elif name in ("Paused", "Unpaused"):
            self.params["paused"] = ("true" if name == "Paused" else "false", ev.block_number)
        elif name == "RoleGranted":
            self.roles[(a["role"], a["account"])] = ev.block_number
        elif name == "RoleRevoked":
            self.roles[(a["role"], a["account"])] = None

    def _apply_provider(self, ev: DecodedEvent, block_time: int) -> None:
        a = ev.args
        address = a["provider"]
        if ev.name == "ProviderRegistered":
            self.providers[address] = ProviderRow(
                address=address,
                provider_class=a["class"],
                gpus=a["gpus"],
                metadata_uri=a["metadataURI"],
                registered_block=ev.block_number,
                updated_block=ev.block_number,
            )
            self.dirty_providers.add(address)
            return
        p = self.providers.get(address)
        if p is None:
            raise ProjectionError(f"{ev.name} for unknown provider {address} at block {ev.block_number}")
        if ev.name == "Staked":
            p.active = a["active"]
        elif ev.name == "UnbondRequested":
            p.active, p.unbonding, p.unbonding_end = a["active"], a["unbonding"], a["unbondingEnd"]
        elif ev.name == "Withdrawn":
            p.unbonding = a["unbonding"]
            p.withdrawn += a["amount"]
        elif ev.name == "Jailed":
            p.jailed, p.jailed_until = True, a["until"]
            p.jail_verdict_id, p.jail_event_type, p.jailed_at = a["verdictId"], a["eventType"], block_time
        elif ev.name in ("Unjailed", "Reinstated", "JailLifted"):
            p.jailed, p.jailed_until = False, 0
            if ev.name == "Reinstated":
                p.recovery_path = p.recovery_stage = 0
                p.reinstated_at, p.probation_epochs = block_time, a["probationEpochs"]
            elif ev.name == "JailLifted":  # a wrongful jail: its recovery closes, no probation
                p.recovery_path = p.recovery_stage = 0
        elif ev.name == "SlashProposed":
            p.pending_slashes += 1
        elif ev.name == "SlashVetoed":
            p.pending_slashes -= 1
        elif ev.name == "SlashExecuted":
            p.active -= a["fromActive"]
            p.unbonding -= a["fromUnbonding"]
            p.slashed += a["amount"]
            p.pending_slashes -= 1
        elif ev.name == "Tombstoned":
            p.tombstoned, p.tombstone_reason = True, a["reasonHash"]
            p.jailed, p.jailed_until = True, 0
            p.recovery_path = p.recovery_stage = 0
        elif ev.name in ("RecoveryBegun", "RecoveryAdvanced"):
            p.recovery_path, p.recovery_stage = a["path"], a["stage"]
        # TombstonedStakeReleased has no column: the read model finds it in `events` (`released`).
        p.updated_block = ev.block_number
        self.dirty_providers.add(address)

    def _apply_slash(self, ev: DecodedEvent, block_time: int) -> None:
        a = ev.args
        sid = a["id"]
        if ev.name == "SlashProposed":
            self.slashes[sid] = SlashRow(
                id=sid,
                provider=a["provider"],
                state=1,
                bps=a["bps"],
                amount=a["amount"],
                event_type=a["eventType"],
                severity=a["severity"],
                evidence_hash=a["evidenceHash"],
                executable_at=a["executableAt"],
                proposed_block=ev.block_number,
                proposed_tx=ev.tx_hash,
                proposed_at=block_time,
            )
        else:
            s = self.slashes.get(sid)
            if s is None:
                raise ProjectionError(f"{ev.name} for unknown slash {sid} at block {ev.block_number}")
            s.resolved_block, s.resolved_tx = ev.block_number, ev.tx_hash
            if ev.name == "SlashVetoed":
                s.state, s.veto_reason, s.vetoer = 2, a["reasonHash"], a["vetoer"]
            else:
                s.state, s.amount = 3, a["amount"]
                s.from_active, s.from_unbonding = a["fromActive"], a["fromUnbonding"]
        self.dirty_slashes.add(sid)

    def _apply_appeal(self, ev: DecodedEvent, block_time: int) -> None:
        sid = ev.args["id"]
        if ev.name != "SlashAppealed" and sid not in self.appeals:
            raise ProjectionError(f"{ev.name} for unknown appeal {sid} at block {ev.block_number}")
        fold_appeal(self.appeals, self.slashes, ev, block_time)
        self.dirty_appeals.add(sid)
        if ev.name == "AppealResolved" and not ev.args["upheld"] and sid in self.slashes:
            self.dirty_slashes.add(sid)  # a rejection moves the slash's executableAt

    def _apply_epoch(self, ev: DecodedEvent) -> None:
        a = ev.args
        e = self.epochs.setdefault(a["epoch"], EpochRow(epoch=a["epoch"]))
        if ev.name == "RewardsFunded":
            e.pool = a["pool"]
        elif ev.name == "EligibilityPublished":
            e.published, e.merkle_root, e.total_weight = True, a["merkleRoot"], a["totalWeight"]
            e.uri, e.pool, e.published_block = a["uri"], a["pool"], ev.block_number
        elif ev.name == "ClaimsOpenAt":
            e.claimable_at = a["claimableAt"]
        elif ev.name == "EligibilityRevoked":  # withdrawn before any claim: unpublished again
            e.published, e.merkle_root, e.total_weight = False, None, None
            e.uri, e.published_block, e.claimable_at = None, None, None
            e.revocations += 1
        elif ev.name == "RewardsSwept":  # the contract closes the epoch: claimed == pool
            e.claimed += a["amount"]
            e.swept += a["amount"]
        else:  # RewardClaimed
            e.claimed += a["amount"]
            e.claims += 1
        self.dirty_epochs.add(e.epoch)


class ProjectionError(SwarmError, RuntimeError):
    """Events that cannot follow from the state: a gap in the indexed history."""


def event_keys(ev: DecodedEvent) -> tuple[str | None, str | None, int | None]:
    """(provider, slash id, epoch) a stored event is filed under, for targeted replays. An appeal's
    resolution or expiry names no provider: the store files it under its appeal's."""
    a = ev.args
    provider = a.get("provider") or a.get("account")
    slash_id = (
        a["id"] if ev.name in SLASH_EVENTS or ev.name in APPEAL_EVENTS or ev.name == CO_SIGNED else None
    )
    epoch = a["epoch"] if ev.name in EPOCH_EVENTS else None
    return provider, slash_id, epoch
