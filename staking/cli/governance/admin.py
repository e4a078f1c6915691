"""`swarm-staking admin show|transfer|accept|cancel`: DEFAULT_ADMIN_ROLE, which moves in two steps.

SwarmStaking's admin (OpenZeppelin `AccessControlDefaultAdminRules`) is one account, the timelock
in the Safe shape. `transfer` begins a transfer (the admin's call: timelocked in the Safe shape);
the new admin `accept`s it once the admin delay has passed since; until then the admin may
`cancel`. A stolen proposer key therefore needs the timelock delay, then the admin delay, in full
view, before anyone else administers the roles."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Annotated

import typer
from eth_utils import to_checksum_address

from staking.cli.chainops import Gov, Operation, Signing, open_reader, with_signing
from staking.cli.common import GOVERNANCE, app, fail, parse_address, relative, say, utc
from staking.cli.routes import with_governance

admin_app = typer.Typer(
    help="SwarmStaking's admin (DEFAULT_ADMIN_ROLE): show it, move it in two steps.", no_args_is_help=True
)
app.add_typer(admin_app, name="admin", rich_help_panel=GOVERNANCE)

ZERO = "0x" + "00" * 20


@dataclass(frozen=True)
class AdminState:
    admin: str
    pending: str | None  # the account that may accept, None: no transfer under way
    accept_after: int  # when it may (unix seconds); 0 with no transfer
    delay: int  # the admin delay in force
    pending_delay: int | None  # a delay change under way, and when it takes effect
    delay_changes_at: int


def read_admin(gov: Gov) -> AdminState:
    f = gov.staking.contract.functions
    pending, schedule = f.pendingDefaultAdmin().call()
    new_delay, delay_at = f.pendingDefaultAdminDelay().call()
    return AdminState(
        admin=to_checksum_address(f.defaultAdmin().call()),
        pending=None if int(pending, 16) == 0 else to_checksum_address(pending),
        accept_after=int(schedule),
        delay=int(f.defaultAdminDelay().call()),
        pending_delay=int(new_delay) if int(delay_at) else None,
        delay_changes_at=int(delay_at),
    )


def _lines(gov: Gov, s: AdminState) -> list[str]:
    out = [f"admin {s.admin}; admin delay {s.delay} s"]
    if s.pending is not None:
        out.append(
            f"transfer to {s.pending} pending: accept after {utc(s.accept_after)} "
            f"({relative(s.accept_after, gov.now())})"
        )
    else:
        out.append("no transfer pending")
    if s.pending_delay is not None:
        out.append(f"admin delay becomes {s.pending_delay} s at {utc(s.delay_changes_at)}")
    return out


@admin_app.command("show")
def admin_show(as_json: Annotated[bool, typer.Option("--json", help="a JSON object")] = False) -> None:
    """Who holds DEFAULT_ADMIN_ROLE, the admin delay, and any transfer under way."""
    gov = open_reader()
    s = read_admin(gov)
    if as_json:
        typer.echo(json.dumps(s.__dict__, indent=2))
        return
    for line in _lines(gov, s):
        say(line)


@admin_app.command("transfer")
@with_governance
def admin_transfer(
    new_admin: Annotated[str, typer.Argument(help="the account that will be the admin once it accepts")],
    signing: Signing,
) -> None:
    """Step 1: begin moving DEFAULT_ADMIN_ROLE to NEW_ADMIN (the admin's call; timelocked in the
    Safe shape). NEW_ADMIN accepts with `admin accept` once the admin delay has passed."""
    target = parse_address(new_admin)
    if int(target, 16) == 0:
        fail("the new admin is the zero address: renouncing the admin is not a transfer")
    signing.send(lambda gov: transfer_operation(gov, target))


def transfer_operation(gov: Gov, target: str) -> Operation[AdminState]:
    def predict(s: AdminState) -> AdminState:
        return replace(s, pending=target, accept_after=gov.now() + s.delay)

    return Operation(
        gov.staking.contract.functions.beginDefaultAdminTransfer(target),
        ("DEFAULT_ADMIN_ROLE",),
        lambda: read_admin(gov),
        lambda s: _lines(gov, s),
        predict,
        [
            f"then {target} runs `swarm-staking admin accept` after the admin delay; a new transfer "
            "replaces a pending one"
        ],
    )


@admin_app.command("accept")
@with_signing
def admin_accept(signing: Signing) -> None:
    """Step 2: the pending admin (the signer) takes DEFAULT_ADMIN_ROLE, once the delay has passed."""
    gov = signing.open()
    s = read_admin(gov)
    if s.pending is None:
        fail(f"no admin transfer is pending; the admin is {s.admin}")
    if s.pending != gov.signer.address:
        fail(f"the transfer is to {s.pending}, not to the signer {gov.signer.address}: only it accepts")
    now = gov.now()
    if now <= s.accept_after:
        fail(
            f"the admin delay has not passed: {s.pending} may accept after {utc(s.accept_after)} "
            f"({relative(s.accept_after, now)})"
        )

    def predict(st: AdminState) -> AdminState:
        return replace(st, admin=s.pending or st.admin, pending=None, accept_after=0)

    op = Operation(
        gov.staking.contract.functions.acceptDefaultAdminTransfer(),
        (),
        lambda: read_admin(gov),
        lambda st: _lines(gov, st),
        predict,
        [f"the admin {s.admin} loses DEFAULT_ADMIN_ROLE"],
    )
    signing.run(gov, op)


@admin_app.command("cancel")
@with_governance
def admin_cancel(signing: Signing) -> None:
    """Cancel a pending admin transfer (the admin's call; timelocked in the Safe shape)."""

    def operation(gov: Gov) -> Operation[AdminState]:
        if read_admin(gov).pending is None:
            fail("no admin transfer is pending")

        def predict(s: AdminState) -> AdminState:
            return replace(s, pending=None, accept_after=0)

        return Operation(
            gov.staking.contract.functions.cancelDefaultAdminTransfer(),
            ("DEFAULT_ADMIN_ROLE",),
            lambda: read_admin(gov),
            lambda s: _lines(gov, s),
            predict,
        )

    signing.send(operation)
