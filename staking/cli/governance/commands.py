"""The governance commands as typer registers them: `slash`, `recovery` and `tombstone` groups,
`pause` and `unpause`. Each parses its arguments and hands an operation (staking/cli/governance/
operations.py) to the signer; the listings read the service database."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from staking.cli.chainops import Signing
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
from staking.cli.governance.operations import (
    advance_recovery,
    begin_recovery,
    execute_slash,
    parse_id,
    reinstate,
    set_paused,
    tombstone,
    veto_slash,
)
from staking.cli.routes import with_governance

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
    from staking.cli.records import all_slashes, indexed_to
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
    label = f"{state} {noun}" if state else f"{noun} ({pending} pending)"
    say(f"{len(items)} {label}; {indexed_to(engine)}")


@slash_app.command("veto")
@with_governance
def slash_veto(
    slash_id: SlashIdArg,
    reason: Annotated[str, typer.Option(help="why; its keccak256 goes on chain as reasonHash")],
    signing: Signing,
) -> None:
    """Veto a pending slash during its veto window (VETOER_ROLE)."""
    sid = parse_id(slash_id)
    signing.send(lambda gov: veto_slash(gov, sid, reason))


@slash_app.command("execute")
@with_governance
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
@with_governance
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
@with_governance
def recovery_advance(address: ProviderArg, signing: Signing) -> None:
    """Move a provider's open recovery to its next stage (GOVERNANCE_ROLE)."""
    provider = parse_address(address)
    signing.send(lambda gov: advance_recovery(gov, provider))


@recovery_app.command("reinstate")
@with_governance
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
@with_governance
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
    from staking.cli.records import indexed_to, tombstone_proposals

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
    say(f"{opened} open tombstone proposal{'' if opened == 1 else 's'}; {indexed_to(engine)}")
    if opened:
        console.print(
            "decide with: swarm-staking tombstone ADDRESS --reason TEXT [--dry-run]",
            highlight=False,
            markup=False,
        )


# ------------------------------------------------------------------------------------ pause


@app.command("pause", rich_help_panel=GOVERNANCE)
@with_governance
def pause(signing: Signing) -> None:
    """Emergency stop: staking, slashing, claims and withdrawals stop; vetoes still work."""
    signing.send(lambda gov: set_paused(gov, True))


@app.command("unpause", rich_help_panel=GOVERNANCE)
@with_governance
def unpause(signing: Signing) -> None:
    """Resume normal operation after an emergency pause."""
    signing.send(lambda gov: set_paused(gov, False))
