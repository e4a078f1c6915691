"""Domain vocabulary shared by every stage: enums mirror the contract's uint8 codes."""

from __future__ import annotations

from enum import IntEnum
from typing import NewType

from eth_typing import ChecksumAddress

Address = ChecksumAddress  # checksummed 0x-address (what web3 expects)
Wei = NewType("Wei", int)  # token amount in base units (18 decimals); never a float
Bps = NewType("Bps", int)  # basis points, 0..10_000
BlockNumber = NewType("BlockNumber", int)

TOKEN = 10**18  # one whole SWARM in base units


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
