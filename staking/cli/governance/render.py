"""Slashes and providers as the contract holds them, as the lines the governance commands print
before and after a call (pure: records and the chain's time in, text out)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from staking.cli.common import relative, tokens, utc
from staking.recovery import next_command

if TYPE_CHECKING:
    from staking.chain.appeals import AppealRecord
    from staking.chain.contracts import ProviderRecord, SlashRecord


def provider_lines(address: str, p: ProviderRecord, now: int) -> list[str]:
    from staking.domain.vocabulary import RecoveryPath

    if not p.registered:
        return [f"provider {address}: not registered"]
    if p.tombstoned:
        standing = "tombstoned (permanent)"
    elif p.jailed and p.jailed_until == 0:
        standing = "jailed until recovery"
    elif p.jailed:
        standing = f"jailed until {utc(p.jailed_until)} ({relative(p.jailed_until, now)})"
    else:
        standing = "not jailed"
    if p.recovery_path == RecoveryPath.NONE:
        recovery = "no recovery open"
    else:
        stage = p.recovery_stage.wire
        recovery = f"recovery {p.recovery_path.wire} at stage {stage}, next: {next_command(p.recovery_stage)}"
    pending = f"{p.pending_slashes} pending slash{'' if p.pending_slashes == 1 else 'es'}"
    return [
        f"provider {address}: {standing}; {recovery}",
        f"  stake {tokens(p.active)} SWARM active, {tokens(p.unbonding)} unbonding; {pending}",
    ]


def slash_lines(slash_id: bytes, s: SlashRecord, now: int) -> list[str]:
    from staking.domain.vocabulary import SlashState

    head = f"slash 0x{slash_id.hex()}"
    if s.state == SlashState.NONE:
        return [f"{head}: no such slash proposal"]
    if s.state == SlashState.PENDING:
        window = "veto window open" if now < s.executable_at else "veto window closed, executable"
        timing = f"executable from {utc(s.executable_at)} ({relative(s.executable_at, now)}; {window})"
    else:
        timing = f"proposed {utc(s.proposed_at)}"
    moved = "taken to the treasury" if s.state == SlashState.EXECUTED else "of the stake"
    return [
        f"{head}: {s.state.wire}, {s.bps} bps = {tokens(s.amount)} SWARM {moved}; "
        f"{s.event_type.wire}; {timing}"
    ]


def appeal_lines(a: AppealRecord, now: int) -> list[str]:
    """A slash's appeal as `getAppeal` answers it (SPEC section 9)."""
    from staking.domain.vocabulary import AppealState

    if a.state == AppealState.NONE:
        return ["  no appeal"]
    bond = f"bond {tokens(a.bond)} SWARM"
    if a.state == AppealState.OPEN:
        timing = f"the council decides until {utc(a.deadline)} ({relative(a.deadline, now)})"
        return [f"  appeal open, {bond}, evidence sha256 0x{a.evidence_hash.hex()}; {timing}"]
    where = "to the treasury" if a.state == AppealState.REJECTED else "refunded"
    return [f"  appeal {a.state.name.lower()}, {bond} {where}"]
