"""The words of the domain. `IntEnum`s mirror the contract's uint8 codes (and carry a snake_case
wire name); `StrEnum`s are the service's own states, whose values are what the database stores
and the API shows."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import NewType

from eth_typing import ChecksumAddress

Address = ChecksumAddress  # checksummed 0x-address (what web3 expects)
Wei = NewType("Wei", int)  # token amount in base units (18 decimals); never a float
Bps = NewType("Bps", int)  # basis points, 0..10_000
BlockNumber = NewType("BlockNumber", int)

TOKEN = 10**18  # one whole SWARM in base units
BPS = 10_000  # 100 % in basis points
DEVNET_CHAIN_ID = 31337  # Anvil's and Hardhat's default chain id: where devnet-only shortcuts apply


class _Named(IntEnum):
    """An on-chain uint8 code with a snake_case wire name (`EventType.SECURITY_BREACH.wire`)."""

    @property
    def wire(self) -> str:
        return self.name.lower()

    @classmethod
    def from_wire(cls, name: str) -> _Named:
        try:
            return cls[name.upper()]
        except KeyError:
            allowed = ", ".join(m.wire for m in cls)
            raise ValueError(f"unknown {cls.__name__} {name!r}; expected one of: {allowed}") from None


# ---------------------------------------------------------------- on chain (the contract's codes)


class EventType(_Named):
    SECURITY_BREACH = 0
    POLICY_VIOLATION = 1
    SUSPICIOUS_ACTIVITY = 2
    SYSTEM_ATTACK = 3
    PERFORMANCE_VIOLATION = 4
    OPERATIONAL_FAILURE = 5


class Severity(_Named):
    LOW = 0
    MEDIUM = 1
    HIGH = 2
    CRITICAL = 3


class ProviderClass(_Named):
    HARDWARE_PROVIDER = 0
    NETWORK_OPERATOR = 1
    PLATFORM_USER = 2


class RecoveryPath(_Named):
    NONE = 0
    SERVICE_IMPROVEMENT = 1
    SECURITY_REVIEW = 2
    COMPLIANCE_VERIFICATION = 3


class RecoveryStage(_Named):
    NONE = 0
    DETECTION = 1
    RESPONSE = 2
    RECOVERY = 3
    RESTORATION = 4


class SlashState(_Named):
    NONE = 0
    PENDING = 1
    VETOED = 2
    EXECUTED = 3


class AppealState(_Named):
    """`appealOf(id)`: a provider's appeal of a slash (SPEC section 9); one per slash."""

    NONE = 0
    OPEN = 1  # execution frozen until the council resolves it or `appealTimeout()` passes
    UPHELD = 2  # the slash is vetoed, the bond refunded
    REJECTED = 3  # the bond went to the treasury; the slash is executable after `appealGrace()`
    EXPIRED = 4  # unresolved at the deadline: the bond refunded, the slash executable


# ------------------------------------------------------------------ the service's own states


class ProviderStatus(StrEnum):
    """Where a provider stands (SPEC section 4), most severe last; see `domain.status`."""

    UNREGISTERED = "unregistered"
    ACTIVE = "active"
    JAILED = "jailed"
    IN_RECOVERY = "in_recovery"
    PROBATION = "probation"
    UNBONDING = "unbonding"
    EXITED = "exited"
    TOMBSTONED = "tombstoned"


class VerdictStatus(StrEnum):
    RECEIVED = "received"  # stored and decided; no action sent yet
    EXECUTING = "executing"  # some actions still open
    DONE = "done"  # every action confirmed or skipped
    REJECTED = "rejected"
    FAILED = "failed"  # an action failed for good


class Level(StrEnum):
    """Penalty levels of the escalation ladder, in order."""

    NONE = "none"
    WARNING = "warning"
    PENALTY = "penalty"
    SEVERE = "severe"

    @property
    def rank(self) -> int:
        return list(Level).index(self)


class ActionKind(StrEnum):
    WARN = "warn"
    JAIL = "jail"
    PROPOSE_SLASH = "propose_slash"
    BEGIN_RECOVERY = "begin_recovery"
    OPEN_INVESTIGATION = "open_investigation"
    PROPOSE_TOMBSTONE = "propose_tombstone"


class ActionState(StrEnum):
    PENDING = "pending"
    HELD = "held"  # an open incident holds it until governance releases or dismisses the incident
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    SKIPPED = "skipped"


class IncidentState(StrEnum):
    OPEN = "open"
    RELEASED = "released"
    DISMISSED = "dismissed"


class IncidentKind(StrEnum):
    DETECTOR = "detector"  # verdicts of one detector
    EVENT_TYPE = "event_type"  # verdicts of one event type


class TxState(StrEnum):
    """A write-ahead transaction intent (see `txmanager`)."""

    PLANNED = "planned"  # nonce taken, payload signed, not yet known to be sent
    SENT = "sent"
    MINED = "mined"  # receipt seen, fewer than the confirmations required
    CONFIRMED = "confirmed"
    FAILED = "failed"
    VOIDING = "voiding"  # the nonce is being filled with a no-op


class InvestigationStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class InvestigationOutcome(StrEnum):
    CLEARED = "cleared"
    CONFIRMED = "confirmed"
