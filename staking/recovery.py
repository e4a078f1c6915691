"""The recovery state machine: what the contract allows a provider's isolation and recovery to do
next, as plain functions over a small frozen state (no chain, no SQL).

It mirrors `contracts/SwarmStaking.sol`:

- `jail(v, sig, until)` isolates (`until = 0`: until recovery); a provider already jailed keeps
  the longer jail.
- `beginRecovery(provider, path)` opens `path` at stage **response** (detection and the response
  already happened when a verdict was decided); one recovery at a time.
- `advanceRecovery(provider)` moves the open recovery one stage: response → recovery →
  restoration (a recovery found at detection moves to response). Never past restoration.
- `reinstate(provider)` closes a recovery at restoration, or lifts a jail that had no recovery,
  and starts the probation.
- `unjail()` is the provider's own way out of a timed jail: expired, no recovery open, active
  stake at the class minimum, contract not paused.
- `tombstone(provider, reason)` ends everything: jailed for good, the recovery closed, and every
  later recovery call refused.

Each `why_not_*` answers None when the call would pass, else the contract's custom error name (a
`Refusal`), checked in the contract's order. Roles are not modelled: who may call is the
contract's and the signer's business. `next_step`, `jail_step` and `appeal_step` are the
sentences the provider document shows; `next_command` is what an operator types next at the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from staking.domain.clock import iso_seconds
from staking.domain.errors import SwarmError
from staking.domain.vocabulary import RecoveryPath, RecoveryStage

FINAL_STAGE = RecoveryStage.RESTORATION
FIRST_STAGE = RecoveryStage.RESPONSE  # where beginRecovery opens a path
_PATHS = frozenset(int(p) for p in RecoveryPath if p != RecoveryPath.NONE)


class Refusal(StrEnum):
    """Why the contract would revert: its custom error names."""

    NOT_REGISTERED = "NotRegistered"
    TOMBSTONED = "ProviderIsTombstoned"
    INVALID_PATH = "InvalidRecoveryPath"
    RECOVERY_OPEN = "RecoveryOpen"
    NO_RECOVERY_OPEN = "NoRecoveryOpen"
    AT_FINAL_STAGE = "RecoveryAtFinalStage"
    INCOMPLETE = "RecoveryIncomplete"
    NOTHING_TO_REINSTATE = "NothingToReinstate"
    NOT_JAILED = "NotJailed"
    JAIL_NOT_EXPIRED = "JailNotExpired"
    BELOW_MINIMUM = "BelowMinimumStake"
    PAUSED = "EnforcedPause"


class RecoveryRefused(SwarmError, ValueError):
    """A transition the contract would refuse."""

    def __init__(self, call: str, refusal: Refusal) -> None:
        super().__init__(f"{call} would revert: {refusal}")
        self.call = call
        self.refusal = refusal


@dataclass(frozen=True)
class RecoveryState:
    registered: bool = True
    tombstoned: bool = False
    jailed: bool = False
    jailed_until: int = 0  # with `jailed`: 0 = until recovery
    path: RecoveryPath = RecoveryPath.NONE
    stage: RecoveryStage = RecoveryStage.NONE

    @property
    def is_open(self) -> bool:
        """Whether a recovery path is open on chain."""
        return self.path != RecoveryPath.NONE


class RecoveryFacts(Protocol):
    """A provider as the indexer (`ProviderRow`) or the contract (`ProviderRecord`) has it."""

    @property
    def tombstoned(self) -> bool: ...
    @property
    def jailed(self) -> bool: ...
    @property
    def jailed_until(self) -> int: ...
    @property
    def recovery_path(self) -> int: ...
    @property
    def recovery_stage(self) -> int: ...


def state_of(p: RecoveryFacts | None, registered: bool = True) -> RecoveryState:
    """The machine's state of a provider row or record (None: not registered)."""
    if p is None or not registered:
        return RecoveryState(registered=False)
    return RecoveryState(
        tombstoned=bool(p.tombstoned),
        jailed=bool(p.jailed),
        jailed_until=int(p.jailed_until),
        path=RecoveryPath(p.recovery_path),
        stage=RecoveryStage(p.recovery_stage),
    )


def stage_after_advance(stage: RecoveryStage) -> RecoveryStage:
    """The stage `advanceRecovery` moves an open recovery to (RecoveryRefused at the last one)."""
    if stage == RecoveryStage.NONE:
        raise RecoveryRefused("advanceRecovery", Refusal.NO_RECOVERY_OPEN)
    if stage >= FINAL_STAGE:
        raise RecoveryRefused("advanceRecovery", Refusal.AT_FINAL_STAGE)
    return RecoveryStage(stage + 1)


# ---------------------------------------------------------------------------- preconditions


def why_not_jail(s: RecoveryState) -> Refusal | None:
    """`jail` (the verdict's own checks aside: signature, age, one jail per verdict)."""
    if not s.registered:
        return Refusal.NOT_REGISTERED
    return Refusal.TOMBSTONED if s.tombstoned else None


def why_not_begin(s: RecoveryState, path: int) -> Refusal | None:
    if int(path) not in _PATHS:
        return Refusal.INVALID_PATH
    if not s.registered:
        return Refusal.NOT_REGISTERED
    if s.tombstoned:
        return Refusal.TOMBSTONED
    return Refusal.RECOVERY_OPEN if s.is_open else None


def why_not_advance(s: RecoveryState) -> Refusal | None:
    if not s.registered:
        return Refusal.NOT_REGISTERED
    if not s.is_open:
        return Refusal.NO_RECOVERY_OPEN
    return Refusal.AT_FINAL_STAGE if s.stage >= FINAL_STAGE else None


def why_not_reinstate(s: RecoveryState) -> Refusal | None:
    if not s.registered:
        return Refusal.NOT_REGISTERED
    if s.tombstoned:
        return Refusal.TOMBSTONED
    if not s.is_open and not s.jailed:
        return Refusal.NOTHING_TO_REINSTATE
    return Refusal.INCOMPLETE if s.is_open and s.stage != FINAL_STAGE else None


def why_not_unjail(
    s: RecoveryState, now: int, active: int, minimum: int, paused: bool = False
) -> Refusal | None:
    """`unjail()` by the provider at chain time `now` with `active` stake against `minimum`."""
    if paused:
        return Refusal.PAUSED
    if not s.registered:
        return Refusal.NOT_REGISTERED
    if s.tombstoned:
        return Refusal.TOMBSTONED
    if not s.jailed:
        return Refusal.NOT_JAILED
    if s.jailed_until == 0 or now < s.jailed_until:
        return Refusal.JAIL_NOT_EXPIRED
    if s.is_open:
        return Refusal.RECOVERY_OPEN
    return Refusal.BELOW_MINIMUM if active < minimum else None


def why_not_tombstone(s: RecoveryState) -> Refusal | None:
    if not s.registered:
        return Refusal.NOT_REGISTERED
    return Refusal.TOMBSTONED if s.tombstoned else None


# ------------------------------------------------------------------------------ transitions


def _check(call: str, refusal: Refusal | None) -> None:
    if refusal is not None:
        raise RecoveryRefused(call, refusal)


def jail(s: RecoveryState, until: int) -> RecoveryState:
    """After `jail(..., until)`: a provider already jailed keeps the longer jail (0 is longest)."""
    _check("jail", why_not_jail(s))
    if not s.jailed:
        return replace(s, jailed=True, jailed_until=until)
    if s.jailed_until != 0 and (until == 0 or until > s.jailed_until):
        return replace(s, jailed_until=until)
    return s


def begin(s: RecoveryState, path: int) -> RecoveryState:
    _check("beginRecovery", why_not_begin(s, path))
    return replace(s, path=RecoveryPath(path), stage=FIRST_STAGE)


def advance(s: RecoveryState) -> RecoveryState:
    _check("advanceRecovery", why_not_advance(s))
    return replace(s, stage=stage_after_advance(s.stage))


def reinstate(s: RecoveryState) -> RecoveryState:
    """Closes the recovery and lifts the jail; the probation that follows is the indexer's to record."""
    _check("reinstate", why_not_reinstate(s))
    return replace(s, path=RecoveryPath.NONE, stage=RecoveryStage.NONE, jailed=False, jailed_until=0)


def unjail(s: RecoveryState, now: int, active: int, minimum: int, paused: bool = False) -> RecoveryState:
    _check("unjail", why_not_unjail(s, now, active, minimum, paused))
    return replace(s, jailed=False, jailed_until=0)


def tombstone(s: RecoveryState) -> RecoveryState:
    _check("tombstone", why_not_tombstone(s))
    return replace(
        s, tombstoned=True, jailed=True, jailed_until=0, path=RecoveryPath.NONE, stage=RecoveryStage.NONE
    )


# -------------------------------------------------------------------------------- what next

_RESPONSE_WORK = {
    RecoveryPath.SERVICE_IMPROVEMENT: "fix the performance / availability problems the verdict named",
    RecoveryPath.SECURITY_REVIEW: "the security team reviews the incident with the provider",
    RecoveryPath.COMPLIANCE_VERIFICATION: "bring the node back into compliance with the policy",
}
# The CLI command that moves each stage on (`swarm-staking recovery ...`).
NEXT_COMMAND = {
    RecoveryStage.DETECTION: "recovery advance (to response)",
    RecoveryStage.RESPONSE: "recovery advance (to recovery)",
    RecoveryStage.RECOVERY: "recovery advance (to restoration)",
    RecoveryStage.RESTORATION: "recovery reinstate",
}


def path_name(path: int) -> str:
    return RecoveryPath(path).wire.replace("_", " ")


def next_step(path: int, stage: int) -> str:
    """What happens next at `stage` of an open recovery `path`, and who acts."""
    name = path_name(path)
    if stage == RecoveryStage.DETECTION:
        return f"governance moves the {name} to the response stage (advanceRecovery)"
    if stage == RecoveryStage.RESPONSE:
        work = _RESPONSE_WORK[RecoveryPath(path)]
        return f"{work}; governance then advances the {name} to the recovery stage (advanceRecovery)"
    if stage == RecoveryStage.RECOVERY:
        return (
            f"governance verifies the outcome of the {name} and advances it to the restoration "
            "stage (advanceRecovery)"
        )
    return (
        "governance reinstates the provider (reinstate): the jail is lifted and a probation of "
        "reduced reward weight begins"
    )


def next_command(stage: int) -> str:
    """The `swarm-staking` command that moves an open recovery at `stage` on."""
    return NEXT_COMMAND[RecoveryStage(stage)]


def jail_step(s: RecoveryState, now: int, shortfall: int = 0, paused: bool = False) -> str | None:
    """The way out of a jail with no recovery open (None when that is not the situation):
    governance's for a jail until recovery; the provider's own `unjail()` for a timed one, with
    the stake it must add first (`shortfall`, base units) and whether a pause holds it."""
    if not s.jailed or s.tombstoned or s.is_open:
        return None
    if s.jailed_until == 0:
        return "governance opens a recovery path (beginRecovery) or reinstates the provider (reinstate)"
    top_up = f"stake {shortfall} more base units (to min_required), then " if shortfall else ""
    if now >= s.jailed_until:
        step = f"the jail expired at {iso_seconds(s.jailed_until)}: {top_up}call unjail() to return to active"
    else:
        step = f"wait until the jail ends at {iso_seconds(s.jailed_until)}, then {top_up}call unjail()"
    if paused:
        step += " (the contract is paused: unjail() waits until governance unpauses it)"
    return step


def appeal_step(slash_id: str, until: int, bond: int | None, more: int = 0) -> str:
    """How the provider appeals its pending slash `slash_id` (SPEC section 9): with its own key,
    inside the veto window (before `until`), with a bond of `appealBond()` tokens (`bond` base
    units when indexed); `more` other pending slashes may be appealed as well."""
    deposit = f"{bond} base units" if bond is not None else "appealBond() tokens"
    step = (
        f"to contest slash {slash_id}, appeal before {iso_seconds(until)}: swarm-staking slash appeal "
        f"{slash_id} --evidence FILE (signed with the provider's key; a bond of {deposit}, refunded "
        "if the council upholds the appeal or does not decide in time)"
    )
    if more:
        noun = "slash" if more == 1 else "slashes"
        step += f"; {more} more pending {noun} may be appealed likewise, each before its appeal_until"
    return step


def then(first: str | None, step: str) -> str:
    """`step`, after `first` when there is one (an appeal comes first: its window closes)."""
    return step if first is None else f"{first}; and: {step}"
