"""What a submission to the intake comes to: one plain value per outcome.

The intakes (`staking.intake.service` for verdicts, `staking.intake.performance` for performance
batches) return these and know nothing of HTTP; the API alone turns them into status codes,
problem documents and headers (`staking.api.outcomes`). Each value carries what explains it: the
stored resource, the field errors, the signer, the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Rejection(StrEnum):
    """Why a submission is refused for good (sending it again changes nothing)."""

    MALFORMED = "malformed"  # `field_errors` names every bad field
    INVALID_SIGNATURE = "invalid_signature"  # does not recover, or in a form the contract refuses
    NOT_A_DETECTOR = "not_a_detector"  # recovers to `signer`, which does not hold DETECTOR_ROLE


class ConflictKind(StrEnum):
    """Why a well-formed, authenticated submission contradicts what is stored."""

    ID_REUSED = "id_reused"  # the id was accepted before with other content
    EPOCH_CLOSED = "epoch_closed"  # the epoch's reward weights are computed


class Unavailability(StrEnum):
    """What the intake could not judge now (sending it again shortly may succeed)."""

    DETECTOR_CHECK = "detector_check"  # neither the index nor the chain says whether the signer is a detector
    EPOCH_CLOCK = "epoch_clock"  # the indexer has not recorded the contract's epoch clock yet


@dataclass(frozen=True)
class Accepted:
    """New: stored now, with its consequences (the resource as the API shows it)."""

    resource: dict[str, Any]


@dataclass(frozen=True)
class Replay:
    """The very same submission was accepted before: nothing new is stored, same resource."""

    resource: dict[str, Any]


@dataclass(frozen=True)
class CoSigned(Replay):
    """The same verdict content, signed by another detector: its signature is added to the
    verdict's signers (SPEC section 8); answered as a replay, with the signers listed."""


@dataclass(frozen=True)
class Conflict:
    kind: ConflictKind
    id: str  # the submission's id (verdict id, batch id)
    detail: str
    epoch: int | None = None  # EPOCH_CLOSED: the closed epoch


@dataclass(frozen=True)
class Rejected:
    reason: Rejection
    detail: str
    field_errors: list[dict[str, str]] = field(default_factory=list)  # MALFORMED: {"field", "message"}
    signer: str | None = None  # NOT_A_DETECTOR: whom the signature recovers to


@dataclass(frozen=True)
class Unavailable:
    reason: Unavailability
    detail: str


Outcome = Accepted | Replay | Conflict | Rejected | Unavailable


def malformed(field_errors: list[dict[str, str]]) -> Rejected:
    """A body refused field by field, every bad field named at once."""
    listed = "; ".join(f"{e['field']}: {e['message']}" for e in field_errors)
    return Rejected(Rejection.MALFORMED, f"{len(field_errors)} field(s) are invalid: {listed}", field_errors)
