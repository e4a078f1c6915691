"""What the intake raises on purpose, rooted in the project's one base
(`staking.domain.errors.SwarmError`): a caller catches every intake failure in one clause and still
tells them apart by class. The rate limit's `RateLimited` (`staking.intake.ratelimit`) and a
malformed body's `InvalidVerdictBody` (`staking.intake.parse`) are `IntakeError`s too.

Outcomes a client is told about (accepted, replayed, rejected, ...) are not errors: they are the
values of `staking.intake.results`.
"""

from __future__ import annotations

from staking.domain.errors import SwarmError


class IntakeError(SwarmError):
    """Base of the intake's errors."""


class DetectorCheckUnavailable(IntakeError, RuntimeError):
    """The signer is not in the index and the chain could not be asked."""


class InvestigationError(IntakeError, ValueError):
    """No investigation for that verdict, or it is resolved already."""
