"""What counts as a strike: the one rule behind the escalation ladder (policy), the intake's
history, and the `strikes` of a provider's document.

A strike is a verdict the service did not reject and decided at a level other than "none",
detected within the policy's rolling window: after `at - window_seconds`, not after `at`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

from staking.domain.vocabulary import Level, VerdictStatus

NOT_A_STRIKE_STATUS = VerdictStatus.REJECTED
NOT_A_STRIKE_LEVEL = Level.NONE


class Offence(Protocol):
    @property
    def detected_at(self) -> int: ...
    @property
    def level(self) -> str: ...


OffenceT = TypeVar("OffenceT", bound=Offence)


def in_window(detected_at: int, at: int, window_seconds: int) -> bool:
    return at - window_seconds < detected_at <= at


def strikes_in_window(offences: Iterable[OffenceT], at: int, window_seconds: int) -> list[OffenceT]:
    """The offences (already of non-rejected verdicts) that are strikes at `at`, in their order."""
    return [
        o for o in offences if o.level != NOT_A_STRIKE_LEVEL and in_window(o.detected_at, at, window_seconds)
    ]
