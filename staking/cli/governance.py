"""Governance commands: `slash list|veto|execute`, `recovery begin|advance|reinstate`,
`tombstone ADDRESS|proposals`, `pause`, `unpause`.

Each state-changing command goes through `chainops.run`: it prints the call, the signer and the
state before, checks the role, simulates, and with `--dry-run` stops there; otherwise it asks
(unless `--yes`), sends, and prints the transaction, its block and the state after. The builders
(`veto_slash`, `advance_recovery`, …) are what the playbooks in `scripts/` compose.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from staking.cli.chainops import Signing, with_signing
from staking.cli.common import (
    GOVERNANCE,
    app,
    console,
    fail,
    parse_address,
    relative,
    say,
    service_engine,
    tokens,
    utc,
)

if TYPE_CHECKING:
    from staking.chain.contracts import ProviderRecord, SlashRecord
    from staking.cli.chainops import Gov, Operation

Slash = tuple["SlashRecord", "ProviderRecord"]

NEXT_STEP = {
    "detection": "recovery advance (to response)",
    "response": "recovery advance (to recovery)",
    "recovery": "recovery advance (to restoration)",
    "restoration": "recovery reinstate",
}


# ------------------------------------------------------------------------------------ parsing


def parse_id(value: str, what: str = "slash id") -> bytes:
    from staking.domain.ids import normalize_id

    normal = normalize_id(value)
    if normal is None:
        fail(f"{value!r} is not a {what} (0x and 64 hex digits)")
    return bytes.fromhex(normal[2:])


def reason_hash(reason: str) -> bytes:
    """keccak256 of the reason's UTF-8 text: what goes on chain as `reasonHash`."""
    from web3 import Web3

    if not reason.strip():
        fail("--reason must say why (its keccak256 goes on chain, the text stays with you)")
    return bytes(Web3.keccak(text=reason))


# ------------------------------------------------------------------------------------ rendering


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
        recovery = f"recovery {p.recovery_path.wire} at stage {stage}, next: {NEXT_STEP[stage]}"
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


def provider_view(gov: Gov, address: str) -> tuple[Any, Any]:
    def read() -> ProviderRecord:
        return gov.staking.provider(address)

    def render(p: ProviderRecord) -> list[str]:
        return provider_lines(address, p, gov.now())

    return read, render


def begin_recovery(gov: Gov, address: str, path: str) -> Operation[ProviderRecord]:
    from staking.cli.chainops import Operation
    from staking.domain.vocabulary import RecoveryPath, RecoveryStage

    try:
        chosen = RecoveryPath.from_wire(path)
    except ValueError:
        chosen = RecoveryPath.NONE
    if chosen == RecoveryPath.NONE:
        fail(f"--path must be one of {', '.join(p.wire for p in RecoveryPath if p)}, not {path!r}")
    read, render = provider_view(gov, address)

    def predict(p: ProviderRecord) -> ProviderRecord:
        return replace(p, recovery_path=RecoveryPath(chosen), recovery_stage=RecoveryStage.RESPONSE)

    fn = gov.staking.begin_recovery(address, RecoveryPath(chosen))
    return Operation(fn, ("GOVERNANCE_ROLE", "SLASHER_ROLE"), read, render, predict)


def advance_recovery(gov: Gov, address: str) -> Operation[ProviderRecord]:
    from staking.cli.chainops import Operation
    from staking.domain.vocabulary import RecoveryStage

    read, render = provider_view(gov, address)

    def predict(p: ProviderRecord) -> ProviderRecord:
        return replace(p, recovery_stage=RecoveryStage(p.recovery_stage + 1))

    return Operation(gov.staking.advance_recovery(address), ("GOVERNANCE_ROLE",), read, render, predict)


def reinstate(gov: Gov, address: str) -> Operation[ProviderRecord]:
    from staking.cli.chainops import Operation
    from staking.domain.vocabulary import RecoveryPath, RecoveryStage

    read, render = provider_view(gov, address)

    def predict(p: ProviderRecord) -> ProviderRecord:
        return replace(
            p,
            recovery_path=RecoveryPath.NONE,
            recovery_stage=RecoveryStage.NONE,
            jailed=False,
            jailed_until=0,
        )

    notes = ["lifts the jail and closes the recovery; probation (reduced reward weight) follows"]
    return Operation(gov.staking.reinstate(address), ("GOVERNANCE_ROLE",), read, render, predict, notes)


def tombstone(gov: Gov, address: str, reason: str) -> Operation[ProviderRecord]:
    from staking.cli.chainops import Operation
    from staking.domain.vocabulary import RecoveryPath, RecoveryStage

    digest = reason_hash(reason)
    read, render = provider_view(gov, address)

    def predict(p: ProviderRecord) -> ProviderRecord:
        return replace(
            p,
            tombstoned=True,
            jailed=True,
            jailed_until=0,
            recovery_path=RecoveryPath.NONE,
            recovery_stage=RecoveryStage.NONE,
        )

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
    return Operation(fn, ("GOVERNANCE_ROLE",), gov.staking.paused, render, lambda _: paused)


# ------------------------------------------------------------------------------------ slash


slash_app = typer.Typer(help="Slash proposals: list (indexed), veto, execute.", no_args_is_help=True)
app.add_typer(slash_app, name="slash", rich_help_panel=GOVERNANCE)

SlashIdArg = Annotated[str, typer.Argument(help="slash id (= the verdict id, 0x + 64 hex)")]
ProviderArg = Annotated[str, typer.Argument(help="provider address")]


@slash_app.command("list")
def slash_list(
    state: Annotated[str | None, typer.Option(help="pending, executed or vetoed (default: all)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="a JSON array")] = False,
) -> None:
    """List indexed slashes, newest first (from SWARM_DATABASE_URL)."""
    from staking.cli.records import all_slashes, indexed_block
    from staking.readmodel import SLASH_STATES

    if state is not None and state not in SLASH_STATES:
        fail(f"--state must be one of {', '.join(SLASH_STATES)}, not {state!r}")
    engine = service_engine()
    items = all_slashes(engine, state)
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    now = int(time.time())
    for s in items:
        when = f"executable {utc(s['executable_at'])}"
        if s["state"] == "pending":
            when += f" ({relative(s['executable_at'], now)})"
        say(
            f"{s['id']}  {s['state']:8}  provider {s['provider']}  {s['bps']} bps = "
            f"{tokens(int(s['amount']))} SWARM  {s['event_type']}/{s['severity']}  {when}"
        )
    pending = sum(1 for s in items if s["state"] == "pending")
    noun = "slash" if len(items) == 1 else "slashes"
    block = indexed_block(engine)
    where = "the chain is not indexed yet" if block is None else f"indexed to block {block}"
    label = f"{state} {noun}" if state else f"{noun} ({pending} pending)"
    say(f"{len(items)} {label}; {where}")


@slash_app.command("veto")
@with_signing
def slash_veto(
    slash_id: SlashIdArg,
    reason: Annotated[str, typer.Option(help="why; its keccak256 goes on chain as reasonHash")],
    signing: Signing,
) -> None:
    """Veto a pending slash during its veto window (VETOER_ROLE)."""
    sid = parse_id(slash_id)
    signing.send(lambda gov: veto_slash(gov, sid, reason))


@slash_app.command("execute")
@with_signing
def slash_execute(slash_id: SlashIdArg, signing: Signing) -> None:
    """Execute a pending slash whose veto window has passed (anyone may)."""
    sid = parse_id(slash_id)
    signing.send(lambda gov: execute_slash(gov, sid))


# ------------------------------------------------------------------------------------ recovery


recovery_app = typer.Typer(
    help="Recovery paths: begin, advance (response → recovery → restoration), reinstate.",
    no_args_is_help=True,
)
app.add_typer(recovery_app, name="recovery", rich_help_panel=GOVERNANCE)


@recovery_app.command("begin")
@with_signing
def recovery_begin(
    address: ProviderArg,
    path: Annotated[
        str, typer.Option(help="security_review, service_improvement or compliance_verification")
    ],
    signing: Signing,
) -> None:
    """Open a recovery path for a provider, at stage response (GOVERNANCE_ROLE)."""
    provider = parse_address(address)
    signing.send(lambda gov: begin_recovery(gov, provider, path))


@recovery_app.command("advance")
@with_signing
def recovery_advance(address: ProviderArg, signing: Signing) -> None:
    """Move a provider's open recovery to its next stage (GOVERNANCE_ROLE)."""
    provider = parse_address(address)
    signing.send(lambda gov: advance_recovery(gov, provider))


@recovery_app.command("reinstate")
@with_signing
def recovery_reinstate(address: ProviderArg, signing: Signing) -> None:
    """Close a completed recovery (or a jail without one) and lift the jail (GOVERNANCE_ROLE)."""
    provider = parse_address(address)
    signing.send(lambda gov: reinstate(gov, provider))


# ------------------------------------------------------------------------------------ tombstone


class _AddressOrCommand(TyperGroup):
    """`tombstone ADDRESS …` runs the hidden `address` command; `tombstone proposals` lists."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # ctx: typer's vendored click Context
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["address", *args]
        return super().parse_args(ctx, args)


tombstone_app = typer.Typer(
    cls=_AddressOrCommand,
    help=(
        "Permanent exclusion: `tombstone ADDRESS --reason TEXT` (see `tombstone ADDRESS --help`), "
        "or list the open proposals."
    ),
    no_args_is_help=True,
)
app.add_typer(tombstone_app, name="tombstone", rich_help_panel=GOVERNANCE)


@tombstone_app.command("address", hidden=True)
@with_signing
def tombstone_address(
    address: ProviderArg,
    reason: Annotated[str, typer.Option(help="why; its keccak256 goes on chain as reasonHash")],
    signing: Signing,
) -> None:
    """Tombstone a provider: permanent exclusion (GOVERNANCE_ROLE)."""
    provider = parse_address(address)
    signing.send(lambda gov: tombstone(gov, provider, reason))


@tombstone_app.command("proposals")
def tombstone_list(
    include_decided: Annotated[
        bool, typer.Option("--all", help="also proposals whose provider is already tombstoned")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="a JSON array")] = False,
) -> None:
    """Tombstone proposals of severe verdicts still waiting for governance, newest first."""
    from staking.cli.records import indexed_block, tombstone_proposals

    engine = service_engine()
    items = tombstone_proposals(engine, include_decided)
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    for p in items:
        say(
            f"{p['verdict_id']}  {p['status']:10}  provider {p['provider']}  "
            f"{p['event_type']}/{p['severity']} ({p['level']})  proposed {p['proposed_at']}"
        )
    opened = sum(1 for p in items if p["status"] == "open")
    block = indexed_block(engine)
    where = "the chain is not indexed yet" if block is None else f"indexed to block {block}"
    say(f"{opened} open tombstone proposal{'' if opened == 1 else 's'}; {where}")
    if opened:
        console.print(
            "decide with: swarm-staking tombstone ADDRESS --reason TEXT [--dry-run]",
            highlight=False,
            markup=False,
        )


# ------------------------------------------------------------------------------------ pause


@app.command("pause", rich_help_panel=GOVERNANCE)
@with_signing
def pause(signing: Signing) -> None:
    """Emergency stop: staking, slashing, claims and withdrawals stop; vetoes still work."""
    signing.send(lambda gov: set_paused(gov, True))


@app.command("unpause", rich_help_panel=GOVERNANCE)
@with_signing
def unpause(signing: Signing) -> None:
    """Resume normal operation after an emergency pause."""
    signing.send(lambda gov: set_paused(gov, False))
