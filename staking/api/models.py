"""The API's wire format as pydantic models (SPEC sections 3 and 4), for validation and for the
OpenAPI document. The service builds plain dicts of the same shape.

Every enumeration comes from the domain's vocabulary (`staking.domain.vocabulary`): the service's
own states are its `StrEnum`s, used as they are (`VerdictStatus`, `Level`, ...); the contract's
uint8 codes (`EventType`, `Severity`, ...) travel as their snake_case wire names, whose `Literal`
types are generated here, once, from the `IntEnum`s (`NONE` codes left out: the API shows null).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from staking.domain.ids import ADDRESS_PATTERN, ID_PATTERN
from staking.domain.reasons import Ineligible
from staking.domain.vocabulary import (
    ActionKind,
    ActionState,
    AppealState,
    EventType,
    InvestigationStatus,
    Level,
    ProviderClass,
    RecoveryPath,
    RecoveryStage,
    Severity,
    SlashState,
    VerdictStatus,
)

EXAMPLE_ID = "0x5f1d3c6a2b0e4f8a9c7d6e5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a392817"
EXAMPLE_PROVIDER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


def wire_names(members: Iterable[Enum], *, exclude: Iterable[Enum] = ()) -> tuple[str, ...]:
    """The wire names of `members` in declaration order: an IntEnum code's snake_case name, a
    StrEnum's value."""
    left_out = set(exclude)
    return tuple(str(getattr(m, "wire", m.value)) for m in members if m not in left_out)


def wire_literal(members: Iterable[Enum], *, exclude: Iterable[Enum] = ()) -> Any:
    """`Literal[...]` of `wire_names(members)`: a pydantic field (and an OpenAPI `enum`) that
    allows exactly those strings."""
    return Literal[wire_names(members, exclude=exclude)]  # Literal[("a", "b")] is Literal["a", "b"]


# The type checker sees plain strings; pydantic sees the generated Literals.
if TYPE_CHECKING:
    EventTypeName = str
    SeverityName = str
    ClassName = str
    PathName = str
    StageName = str
    SlashStateName = str
    AppealStateName = str
    LiveReason = str
else:
    EventTypeName = wire_literal(EventType)
    SeverityName = wire_literal(Severity)
    ClassName = wire_literal(ProviderClass)
    PathName = wire_literal(RecoveryPath, exclude=[RecoveryPath.NONE])
    StageName = wire_literal(RecoveryStage, exclude=[RecoveryStage.NONE])
    # In the order SPEC section 4 lists them (`state=pending|executed|vetoed`), which 422s repeat.
    SlashStateName = wire_literal([SlashState.PENDING, SlashState.EXECUTED, SlashState.VETOED])
    AppealStateName = wire_literal(AppealState, exclude=[AppealState.NONE])
    # What the live provider document lists; the others are a computed epoch's reasons only.
    LiveReason = wire_literal(
        Ineligible, exclude=[Ineligible.NO_REPORT, Ineligible.NOT_IN_SET, Ineligible.ZERO_WEIGHT]
    )


# ---------------------------------------------------------------------------------------- verdicts


class VerdictSubmission(BaseModel):
    """The body of `POST /v1/verdicts` (SPEC section 3). Read and checked by the intake itself, so
    every bad field is reported at once; this model documents it."""

    id: str = Field(pattern=ID_PATTERN, description="bytes32, also the on-chain slash id")
    provider: str = Field(
        pattern=ADDRESS_PATTERN, description="Provider address; mixed case must be valid EIP-55"
    )
    event_type: EventTypeName
    severity: SeverityName
    detected_at: int = Field(
        gt=0, description="Unix seconds; not in the future, not older than the contract's maxVerdictAge"
    )
    evidence_hash: str = Field(pattern=ID_PATTERN)
    evidence_uri: str | None = Field(default=None, max_length=2048, description="Not signed")
    signature: str = Field(
        pattern=r"^0x[0-9a-fA-F]{130}$",
        description="EIP-712 signature (r, s, v; v 27/28, low s) by an account holding DETECTOR_ROLE",
    )

    model_config = {
        "extra": "forbid",
        "json_schema_extra": {
            "examples": [
                {
                    "id": EXAMPLE_ID,
                    "provider": EXAMPLE_PROVIDER,
                    "event_type": "security_breach",
                    "severity": "critical",
                    "detected_at": 1795000000,
                    "evidence_hash": "0x" + "ab" * 32,
                    "evidence_uri": "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
                    "signature": "0x" + "11" * 64 + "1b",
                }
            ]
        },
    }


class DecisionModel(BaseModel):
    level: Level
    offence_number: int = Field(description="Position in the provider's rolling window (0: not an offence)")
    recovery_path: PathName | None
    slash_bps: int = Field(ge=0, le=10_000)
    jail_seconds: int | None = Field(description="null: no jail; 0: until recovery; > 0: timed jail")
    jail_until_recovery: bool
    policy_hash: str | None = Field(
        description="sha256 of the canonical policy that made the decision (GET /v1/policy); null for "
        "decisions recorded before the service kept it",
        pattern=r"^sha256:[0-9a-f]{64}$",
    )


class ActionModel(BaseModel):
    kind: ActionKind
    state: ActionState
    tx_hash: str | None
    block: int | None
    deadline_at: str | None = Field(description="ISO-8601 UTC: detection time + the response deadline")
    confirmed_at: str | None
    note: str | None = Field(default=None, description="why an action was skipped or failed, or what it did")


class VerdictResource(BaseModel):
    id: str
    status: VerdictStatus
    provider: str
    event_type: EventTypeName
    severity: SeverityName
    detected_at: int
    evidence_hash: str
    evidence_uri: str | None
    signer: str = Field(description="The detector whose signature was received first")
    signers: list[str] = Field(
        description="Every detector that signed this verdict's content, checksummed, in the order "
        "received (the first signer first); a slash above the contract's quorumBps waits for "
        "detectorQuorum of them"
    )
    decision: DecisionModel
    actions: list[ActionModel] = Field(description="In the order they go out: isolation first")
    deadline_at: str | None
    received_at: str | None
    updated_at: str | None


# ---------------------------------------------------------------------------------------- appeals


class SlashAppeal(BaseModel):
    """A provider's appeal of a slash (SPEC section 9), as each slash of the provider document shows it."""

    state: AppealStateName = Field(
        description="open: execution frozen until the council resolves it or the deadline passes; "
        "upheld: the slash is vetoed and the bond refunded; rejected: the bond went to the treasury "
        "and the slash is executable after appealGrace(); expired: unresolved at the deadline, the "
        "bond refunded and the slash executable"
    )
    evidence_hash: str = Field(description="sha256 of the provider's evidence file")
    bond: str = Field(
        description="The bond held (appealBond() when appealed), base units as a decimal string"
    )
    deadline: int = Field(description="Unix time until which the council may resolve it (appealTimeout())")
    resolved_at: int | None = Field(description="Block time of the resolution or the expiry")
    reason_hash: str | None = Field(description="The council's reasonHash once resolved")


# ---------------------------------------------------------------------------------- investigations


class Investigation(BaseModel):
    id: int
    verdict_id: str
    provider: str
    status: InvestigationStatus
    event_type: EventTypeName
    severity: SeverityName
    detected_at: int
    evidence_hash: str
    evidence_uri: str | None
    opened_at: str | None
    resolved_at: str | None
    resolution: str | None
    resolved_by: str | None
    verdict: str = Field(description="Link to the verdict resource")


class InvestigationPage(BaseModel):
    items: list[Investigation]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")


# -------------------------------------------------------------------------------------- operations


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Readiness(BaseModel):
    status: Literal["ready"]
    checks: dict[str, dict[str, Any]] = Field(
        description="database, chain, indexer and drift: each with `status` (ok, failed, skipped, "
        "unknown; drift: degraded when the projection differs from the contract) and what was measured"
    )


# ---------------------------------------------------------------------------------------- examples

EXAMPLE_RESOURCE: dict[str, Any] = {
    "id": EXAMPLE_ID,
    "status": "received",
    "provider": EXAMPLE_PROVIDER,
    "event_type": "security_breach",
    "severity": "critical",
    "detected_at": 1795000000,
    "evidence_hash": "0x" + "ab" * 32,
    "evidence_uri": None,
    "signer": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "signers": ["0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"],
    "decision": {
        "level": "severe",
        "offence_number": 1,
        "recovery_path": "security_review",
        "slash_bps": 2000,
        "jail_seconds": 0,
        "jail_until_recovery": True,
        "policy_hash": "sha256:" + "3f" * 32,
    },
    "actions": [
        {
            "kind": kind,
            "state": "pending",
            "tx_hash": None,
            "block": None,
            "deadline_at": "2026-11-18T07:07:20.000Z",
            "confirmed_at": None,
        }
        for kind in ("jail", "propose_slash", "begin_recovery", "propose_tombstone")
    ],
    "deadline_at": "2026-11-18T07:07:20.000Z",
    "received_at": "2026-11-18T07:06:21.412Z",
    "updated_at": "2026-11-18T07:06:21.412Z",
}
