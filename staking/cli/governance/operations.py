"""The governance operations: one builder per contract call (`veto_slash`, `execute_slash`,
`resolve_appeal`, `begin_recovery`, `advance_recovery`, `reinstate`, `tombstone`, `set_paused`),
each an `Operation` that `chainops.run` prints, checks, simulates and sends. The commands and the
playbooks in `scripts/` compose them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from staking import recovery
from staking.cli.common import fail, reason_hash
from staking.cli.governance.render import appeal_lines, provider_lines, slash_lines

if TYPE_CHECKING:
    from staking.chain.appeals import AppealRecord
    from staking.chain.contracts import ProviderRecord, SlashRecord
    from staking.cli.chainops import Gov, Operation

Slash = tuple["SlashRecord", "ProviderRecord"]
Appealed = tuple["SlashRecord", "AppealRecord", "ProviderRecord"]


# ------------------------------------------------------------------------------------ parsing


def parse_id(value: str, what: str = "slash id") -> bytes:
    from staking.domain.ids import normalize_id

    normal = normalize_id(value)
    if normal is None:
        fail(f"{value!r} is not a {what} (0x and 64 hex digits)")
    return bytes.fromhex(normal[2:])


# ------------------------------------------------------------------------------------ operations


def slash_view(gov: Gov, slash_id: bytes) -> tuple[Any, Any]:
    """`read` and `render` of a slash and its provider."""

    def read() -> Slash:
        s = gov.staking.slash(slash_id)
        return s, gov.staking.provider(s.provider)

    def render(state: Slash) -> list[str]:
        s, p = state
        now = gov.now()
        lines = slash_lines(slash_id, s, now)
        return lines if not int(s.state) else lines + provider_lines(s.provider, p, now)

    return read, render


def veto_slash(gov: Gov, slash_id: bytes, reason: str) -> Operation[Slash]:
    from staking.cli.chainops import Operation
    from staking.domain.vocabulary import SlashState

    digest = reason_hash(reason)
    read, render = slash_view(gov, slash_id)

    def predict(state: Slash) -> Slash:
        s, p = state
        return replace(s, state=SlashState.VETOED), replace(p, pending_slashes=p.pending_slashes - 1)

    note = f"reason {json.dumps(reason)} (keccak256 = reasonHash 0x{digest.hex()})"
    return Operation(
        gov.staking.veto_slash(slash_id, digest), ("VETOER_ROLE",), read, render, predict, [note]
    )


def execute_slash(gov: Gov, slash_id: bytes) -> Operation[Slash]:
    from staking.cli.chainops import Operation
    from staking.domain.vocabulary import SlashState, Wei

    read, render = slash_view(gov, slash_id)

    def predict(state: Slash) -> Slash:
        s, p = state
        amount = min(s.amount, p.active + p.unbonding)  # earlier slashes may have taken part of it
        from_active = min(amount, p.active)
        return (
            replace(s, state=SlashState.EXECUTED, amount=Wei(amount)),
            replace(
                p,
                active=Wei(p.active - from_active),
                unbonding=Wei(p.unbonding - (amount - from_active)),
                pending_slashes=p.pending_slashes - 1,
            ),
        )

    return Operation(gov.staking.execute_slash(slash_id), (), read, render, predict)


def appeal_view(gov: Gov, slash_id: bytes) -> tuple[Callable[[], Appealed], Callable[[Appealed], list[str]]]:
    """`read` and `render` of a slash, its appeal and its provider."""

    def read() -> Appealed:
        s = gov.staking.slash(slash_id)
        return s, gov.staking.get_appeal(slash_id), gov.staking.provider(s.provider)

    def render(state: Appealed) -> list[str]:
        s, a, p = state
        now = gov.now()
        lines = slash_lines(slash_id, s, now)
        return (
            lines if not int(s.state) else lines + appeal_lines(a, now) + provider_lines(s.provider, p, now)
        )

    return read, render


def resolve_appeal(gov: Gov, slash_id: bytes, upheld: bool, reason: str) -> Operation[Appealed]:
    """The council's decision on an open appeal (VETOER_ROLE, SPEC section 9): upheld vetoes the
    slash and refunds the bond; rejected sends the bond to the treasury and leaves the slash
    executable after appealGrace()."""
    from staking.cli.chainops import Operation
    from staking.domain.vocabulary import AppealState, SlashState

    digest = reason_hash(reason)
    read, render = appeal_view(gov, slash_id)
    s, a, _ = read()
    if a.state != AppealState.OPEN:
        what = "no appeal" if a.state == AppealState.NONE else f"its appeal is {a.state.name.lower()}"
        if a.state == AppealState.EXPIRED and s.state == SlashState.PENDING:
            what += " (past its deadline: `slash veto` still upholds it until the slash is executed)"
        fail(f"slash 0x{slash_id.hex()} has no open appeal to resolve: {what}")
    grace = gov.staking.appeal_params().grace

    def predict(state: Appealed) -> Appealed:
        s, a, p = state
        if upheld:
            return (
                replace(s, state=SlashState.VETOED),
                replace(a, state=AppealState.UPHELD),
                replace(p, pending_slashes=p.pending_slashes - 1),
            )
        later = max(s.executable_at, gov.now() + grace)
        return replace(s, executable_at=later), replace(a, state=AppealState.REJECTED), p

    rejected = (
        f"rejected: the bond goes to the treasury; the slash is executable {grace} s later at the earliest"
    )
    outcome = "upheld: the slash is vetoed and the bond refunded to the provider" if upheld else rejected
    notes = [f"reason {json.dumps(reason)} (keccak256 = reasonHash 0x{digest.hex()})", outcome]
    fn = gov.staking.resolve_appeal(slash_id, upheld, digest)
    return Operation(fn, ("VETOER_ROLE",), read, render, predict, notes)


def provider_view(gov: Gov, address: str) -> tuple[Any, Any]:
    def read() -> ProviderRecord:
        return gov.staking.provider(address)

    def render(p: ProviderRecord) -> list[str]:
        return provider_lines(address, p, gov.now())

    return read, render


def _after(
    p: ProviderRecord, transition: Callable[[recovery.RecoveryState], recovery.RecoveryState]
) -> ProviderRecord:
    """`p` as the recovery machine (`staking.recovery`, the contract's rules) says `transition`
    leaves it: what a dry run shows as the state that would follow."""
    s = transition(recovery.state_of(p, p.registered))
    return replace(
        p,
        tombstoned=s.tombstoned,
        jailed=s.jailed,
        jailed_until=s.jailed_until,
        recovery_path=s.path,
        recovery_stage=s.stage,
    )


def begin_recovery(gov: Gov, address: str, path: str) -> Operation[ProviderRecord]:
    from staking.cli.chainops import Operation
    from staking.domain.vocabulary import RecoveryPath

    try:
        chosen = RecoveryPath.from_wire(path)
    except ValueError:
        chosen = RecoveryPath.NONE
    if chosen == RecoveryPath.NONE:
        fail(f"--path must be one of {', '.join(p.wire for p in RecoveryPath if p)}, not {path!r}")
    read, render = provider_view(gov, address)

    def predict(p: ProviderRecord) -> ProviderRecord:
        return _after(p, lambda s: recovery.begin(s, chosen))

    fn = gov.staking.begin_recovery(address, RecoveryPath(chosen))
    return Operation(fn, ("GOVERNANCE_ROLE", "SLASHER_ROLE"), read, render, predict)


def advance_recovery(gov: Gov, address: str) -> Operation[ProviderRecord]:
    from staking.cli.chainops import Operation

    read, render = provider_view(gov, address)

    def predict(p: ProviderRecord) -> ProviderRecord:
        return _after(p, recovery.advance)

    return Operation(gov.staking.advance_recovery(address), ("GOVERNANCE_ROLE",), read, render, predict)


def reinstate(gov: Gov, address: str) -> Operation[ProviderRecord]:
    from staking.cli.chainops import Operation

    read, render = provider_view(gov, address)

    def predict(p: ProviderRecord) -> ProviderRecord:
        return _after(p, recovery.reinstate)

    notes = ["lifts the jail and closes the recovery; probation (reduced reward weight) follows"]
    return Operation(gov.staking.reinstate(address), ("GOVERNANCE_ROLE",), read, render, predict, notes)


def tombstone(gov: Gov, address: str, reason: str) -> Operation[ProviderRecord]:
    from staking.cli.chainops import Operation

    digest = reason_hash(reason)
    read, render = provider_view(gov, address)

    def predict(p: ProviderRecord) -> ProviderRecord:
        return _after(p, recovery.tombstone)

    notes = [
        f"reason {json.dumps(reason)} (keccak256 = reasonHash 0x{digest.hex()})",
        "permanent: no recovery and no new stake afterwards; existing stake stays slashable",
    ]
    return Operation(
        gov.staking.tombstone(address, digest), ("GOVERNANCE_ROLE",), read, render, predict, notes
    )


def set_paused(gov: Gov, paused: bool) -> Operation[bool]:
    from staking.cli.chainops import Operation

    def render(is_paused: bool) -> list[str]:
        if is_paused:
            return ["contract paused: staking, slashing, claims and withdrawals stopped; vetoes still work"]
        return ["contract running (not paused)"]

    fn = gov.staking.pause() if paused else gov.staking.unpause()
    # The council (VETOER_ROLE) pauses at once; governance may too (through its timelock).
    return Operation(fn, ("VETOER_ROLE", "GOVERNANCE_ROLE"), gov.staking.paused, render, lambda _: paused)
