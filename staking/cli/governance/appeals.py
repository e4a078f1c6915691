"""Appeals of slashes (SPEC section 9) on the command line:

- `slash appeal ID --evidence FILE`: the slashed provider, with its own key, inside the veto window;
  the evidence file's sha256 is the evidenceHash; `appealBond()` tokens are approved first when
  the allowance is short; one-line errors for what the contract would refuse.
- `appeal list [--state] [--json]`: the indexed appeals, newest first.
- `appeal resolve ID --upheld|--rejected --reason TEXT`: the council's decision (VETOER_ROLE), a
  governance `Operation` (`operations.resolve_appeal`) like every other.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from staking.cli.chainops import Signing, with_signing
from staking.cli.common import GOVERNANCE, app, console, fail, relative, say, service_engine, tokens, utc
from staking.cli.governance.commands import SlashIdArg, slash_app
from staking.cli.governance.operations import appeal_view, parse_id, resolve_appeal
from staking.cli.reverts import HINTS
from staking.cli.routes import with_governance

if TYPE_CHECKING:
    from staking.cli.chainops import Gov, Operation
    from staking.cli.governance.operations import Appealed

# One-line explanations of the appeal reverts, next to the governance ones.
HINTS.update(
    {
        "AppealPending": (
            "the slash is under appeal until unix time {deadline}: the council resolves it first; "
            "from then on executeSlash expires the appeal (bond refunded) and executes"
        ),
        "AlreadyAppealed": "the slash already has an appeal (one per slash): swarm-staking appeal list",
        "NotSlashedProvider": "{caller} is not the slashed provider: sign with the provider's own key",
        "NoOpenAppeal": (
            "no open appeal to resolve (none, already resolved, or past its deadline: a veto still "
            "upholds an unsettled one)"
        ),
    }
)


# ------------------------------------------------------------------------------------ slash appeal


@slash_app.command("appeal")
@with_signing
def slash_appeal(
    slash_id: SlashIdArg,
    evidence: Annotated[Path, typer.Option("--evidence", help="the evidence file; its sha256 goes on chain")],
    signing: Signing,
) -> None:
    """Appeal your own pending slash inside its veto window (the provider's key).

    Bonds appealBond() tokens (approved first if needed); execution waits for the council."""
    from staking.cli.allowance import approve_then_run
    from staking.cli.rewards.shared import stake_token

    sid = parse_id(slash_id)
    digest = evidence_hash(evidence)
    gov = provider_signer(signing.open(), sid)
    op, bond = appeal_operation(gov, sid, digest, evidence)
    token = stake_token(gov)
    balance = token.balance_of(gov.signer.address)
    if balance < bond:
        holds = f"signer {gov.signer.address} holds {tokens(balance)} SWARM"
        fail(f"{holds}; the appeal bond is {tokens(bond)} SWARM (too few tokens)")
    conditions = (
        "slash pending, veto window open, no appeal yet, signed by the provider, not paused, balance",
        lambda: None,
    )
    approve_then_run(gov, token, bond, op, signing, pulls="the bond", conditions=conditions)


def evidence_hash(path: Path) -> bytes:
    """sha256 of the evidence file: what goes on chain as `evidenceHash` (the file stays with you)."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        fail(f"cannot read the evidence file {path}: {exc.strerror or type(exc).__name__}")
    if not content:
        fail(f"the evidence file {path} is empty")
    return hashlib.sha256(content).digest()


def provider_signer(gov: Gov, slash_id: bytes) -> Gov:
    """`gov` signing with the slashed provider's key: the configured signer, or on the devnet with
    nothing configured the provider's default-mnemonic account when the deployment lists it."""
    from staking.devnet.accounts import ACCOUNT_COUNT, FIRST_PROVIDER, devnet_account
    from staking.domain.vocabulary import SlashState

    slash = gov.staking.slash(slash_id)
    if not gov.signer_source.startswith("devnet ") or slash.state == SlashState.NONE:
        return gov  # an unknown slash is refused as such next
    provider = slash.provider
    if provider in gov.deployment.accounts.providers:
        for index in range(FIRST_PROVIDER, ACCOUNT_COUNT):
            account = devnet_account(index)
            if account.address == provider:
                source = f"devnet provider account #{index}, public default mnemonic"
                return replace(gov, signer=account, signer_source=source)
    fail(
        "slash appeal signs with the provider's own key: pass --keystore (or SWARM_SIGNER_KEY on the devnet)"
    )


def appeal_operation(
    gov: Gov, slash_id: bytes, digest: bytes, evidence: Path
) -> tuple[Operation[Appealed], int]:
    """The appealSlash operation and its bond, after the checks that make the contract's refusals
    one line each: the slash is pending, its window open, not appealed yet, the signer its provider."""
    from staking.chain.appeals import AppealRecord
    from staking.cli.chainops import Operation
    from staking.domain.vocabulary import AppealState, SlashState

    read, render = appeal_view(gov, slash_id)
    s, a, _ = read()
    head = f"slash 0x{slash_id.hex()}"
    if s.state != SlashState.PENDING:
        what = "no such slash" if s.state == SlashState.NONE else f"it is {s.state.wire}"
        fail(f"{head} cannot be appealed: {what} (only a pending slash can)")
    if a.state != AppealState.NONE:
        fail(f"{head} already has an appeal ({a.state.name.lower()}): one appeal per slash")
    if gov.signer.address != s.provider:
        fail(
            f"signer {gov.signer.address} is not the slashed provider {s.provider}: sign with its key "
            "(--keystore)"
        )
    now = gov.now()
    if now >= s.executable_at:
        fail(f"the appeal window of {head} closed at {utc(s.executable_at)} (the end of its veto window)")
    if gov.staking.paused():
        fail(f"appealSlash would revert: EnforcedPause: {HINTS['EnforcedPause']}")
    params = gov.staking.appeal_params()
    bond, timeout = params.bond, params.timeout

    def predict(state: Appealed) -> Appealed:
        s, _, p = state
        return s, AppealRecord(AppealState.OPEN, now + timeout, bond, digest), p

    notes = [
        f"evidence {evidence} (sha256 = evidenceHash 0x{digest.hex()})",
        f"bond {tokens(bond)} SWARM: refunded if upheld or undecided by the deadline, to the treasury "
        "if rejected",
    ]
    return Operation(gov.staking.appeal_slash(slash_id, digest), (), read, render, predict, notes), bond


# ------------------------------------------------------------------------------------ appeal


appeal_app = typer.Typer(
    help="Appeals of slashes: list (indexed), resolve (the council, VETOER_ROLE).", no_args_is_help=True
)
app.add_typer(appeal_app, name="appeal", rich_help_panel=GOVERNANCE)


@appeal_app.command("list")
def appeal_list(
    state: Annotated[
        str | None, typer.Option(help="open, upheld, rejected or expired (default: all)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="a JSON array")] = False,
) -> None:
    """List indexed appeals, newest first (from SWARM_DATABASE_URL)."""
    from staking.cli.records import all_appeals, indexed_to
    from staking.readmodel.appeals import APPEAL_STATES

    if state is not None and state not in APPEAL_STATES:
        fail(f"--state must be one of {', '.join(APPEAL_STATES)}, not {state!r}")
    engine = service_engine()
    items = all_appeals(engine, state)
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    now = int(time.time())
    for a in items:
        when = f"deadline {utc(a['deadline'])}"
        if a["state"] == "open":
            when += f" ({relative(a['deadline'], now)})"
        say(
            f"{a['id']}  {a['state']:8}  provider {a['provider']}  bond {tokens(int(a['bond']))} SWARM  "
            f"{when}  slash {a['slash']['state']}"
        )
    opened = sum(1 for a in items if a["state"] == "open")
    noun = "appeal" if len(items) == 1 else "appeals"
    label = f"{state} {noun}" if state else f"{noun} ({opened} open)"
    say(f"{len(items)} {label}; {indexed_to(engine)}")
    if opened:
        console.print(
            "decide with: swarm-staking appeal resolve ID --upheld|--rejected --reason TEXT [--dry-run]",
            highlight=False,
            markup=False,
        )


@appeal_app.command("resolve")
@with_governance
def appeal_resolve(
    slash_id: SlashIdArg,
    reason: Annotated[str, typer.Option(help="why; its keccak256 goes on chain as reasonHash")],
    signing: Signing,
    upheld: Annotated[
        bool | None,
        typer.Option(
            "--upheld/--rejected",
            help="upheld: veto the slash, refund the bond; rejected: the bond to the treasury",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Decide an open appeal (VETOER_ROLE, the council), before its deadline."""
    sid = parse_id(slash_id)
    if upheld is None:
        fail("say --upheld or --rejected")
    decision: bool = upheld
    signing.send(lambda gov: resolve_appeal(gov, sid, decision, reason))
