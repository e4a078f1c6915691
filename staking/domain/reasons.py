"""Why a provider earns no reward: each reason once, as a code (what the live provider document
lists) with the sentence the rewards job records for a computed epoch."""

from __future__ import annotations

from enum import StrEnum


class Ineligible(StrEnum):
    UNREGISTERED = "unregistered"
    EXITED = "exited"
    UNBONDING = "unbonding"
    TOMBSTONED = "tombstoned"
    JAILED = "jailed"
    IN_RECOVERY = "in_recovery"
    PENDING_SLASH = "pending_slash"
    BELOW_MINIMUM_STAKE = "below_minimum_stake"
    NO_REPORT = "no_report"
    NOT_IN_SET = "not_in_set"
    ZERO_WEIGHT = "zero_weight"
    PROBATION = "probation"  # not an exclusion: a reduced weight

    @property
    def sentence(self) -> str:
        return _SENTENCES[self]


_SENTENCES = {
    Ineligible.UNREGISTERED: "not registered",
    Ineligible.EXITED: "no stake bonded",
    Ineligible.UNBONDING: "all stake is unbonding",
    Ineligible.TOMBSTONED: "tombstoned",
    Ineligible.JAILED: "jailed during the epoch",
    Ineligible.IN_RECOVERY: "a recovery path is open",
    Ineligible.PENDING_SLASH: "a slash is pending",
    Ineligible.BELOW_MINIMUM_STAKE: "time-weighted stake below the class minimum",
    Ineligible.NO_REPORT: "no performance report for the epoch",
    Ineligible.NOT_IN_SET: "not in the epoch's provider set",
    Ineligible.ZERO_WEIGHT: "weight rounds to zero",
    Ineligible.PROBATION: "probation",
}

# Statuses under which a provider earns nothing (the status is its own reason code).
INELIGIBLE_STATUSES = frozenset(
    {
        Ineligible.UNREGISTERED,
        Ineligible.EXITED,
        Ineligible.UNBONDING,
        Ineligible.TOMBSTONED,
        Ineligible.JAILED,
        Ineligible.IN_RECOVERY,
    }
)


def low_uptime(uptime_bps: int, min_uptime_bps: int) -> str:
    return f"uptime {uptime_bps / 100:.2f} % below {min_uptime_bps / 100:.2f} %"


def high_error_rate(error_rate_bps: int, max_error_rate_bps: int) -> str:
    return f"error rate {error_rate_bps / 100:.2f} % above {max_error_rate_bps / 100:.2f} %"


def probation_note(multiplier_bps: int) -> str:
    return f"probation: weight at {multiplier_bps / 100:.0f} %"
