"""`swarm-staking incident list|show|release|dismiss` (SPEC section 8): the incidents the intake
opened, and governance's decision on each.

- `release ID`: the held slashes go back to `pending`; the executor proposes them through the
  on-chain caps. Database only.
- `dismiss ID --reason TEXT`: the held and pending actions of its verdicts are cancelled, then the
  slashes they already proposed that are still pending are vetoed (`vetoSlashes`) and the jails
  that rest only on them are lifted (`liftJails`), batched, with the vetoer's key (the signer of
  the governance commands). A dismissed incident can be dismissed again: that vetoes and lifts
  what was still in flight the first time.

Both print the plan first; `--dry-run` prints only the plan (and simulates the transactions);
without `--yes` they ask before changing anything.
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from staking.cli.chainops import DryRun, Signing, Yes
from staking.cli.common import GOVERNANCE, app, confirm_or_abort, fail, runtime, say, service_engine, tokens
from staking.cli.routes import with_governance

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from staking.cli.chainops import Gov
    from staking.intake.incident_resolution import DismissPlan
    from staking.intake.incidents import Outbox

incident_app = typer.Typer(
    help="Incidents (verdicts against many providers at once, slashes held): list, show, release, dismiss.",
    no_args_is_help=True,
)
app.add_typer(incident_app, name="incident", rich_help_panel=GOVERNANCE)

IdArg = Annotated[int, typer.Argument(help="incident id (swarm-staking incident list)", min=1)]
By = Annotated[str | None, typer.Option(help="who decides (default: $USER)")]
SHOWN = 20  # verdicts `show` prints before "... and N more" (all with --json)
NAMED = 10  # providers a dismissal plan names


def _closer(by: str | None) -> str:
    closer = by if by is not None else os.environ.get("USER") or os.environ.get("LOGNAME")
    if not closer:
        fail("who decides? $USER is not set: pass --by NAME")
    return closer


def _outbox() -> Outbox:
    from staking.chain.keys import SignerError

    try:
        return runtime().webhook_notifier(start=False).record
    except SignerError as exc:
        fail(str(exc))


def _chain_time(engine: Engine) -> int:
    """Now, as the chain judges veto windows and timed jails, without asking the node: the wall
    clock, or the last indexed block's time when the chain runs ahead of it (a devnet)."""
    from sqlalchemy import select

    from staking.db import schema as t

    with engine.connect() as conn:
        value = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "checkpoint_time")).scalar()
    return max(int(time.time()), int(value) if value and value.isdigit() else 0)


# ------------------------------------------------------------------------------------ list, show


@incident_app.command("list")
def incident_list(
    state: Annotated[str | None, typer.Option(help="open, released or dismissed (default: all)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="a JSON array, as GET /v1/incidents")] = False,
) -> None:
    """List incidents, newest first."""
    from staking.readmodel.incidents import INCIDENT_STATES, MAX_PAGE, list_incidents

    if state is not None and state not in INCIDENT_STATES:
        fail(f"--state must be one of {', '.join(INCIDENT_STATES)}, not {state!r}")
    engine = service_engine()
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = list_incidents(engine, state, MAX_PAGE, cursor)
        items += page["items"]
        if (cursor := page["next_cursor"]) is None:
            break
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    for i in items:
        say(
            f"#{i['id']}  {i['state']:9}  {i['kind']} {i['subject']}  {i['verdicts']} verdicts, "
            f"{i['providers']} providers, {i['held_actions']} held  opened {i['opened_at']}"
        )
        say(f"    {i['reason']}")
        if i["state"] != "open":
            say(
                f"    {i['state']} {i['closed_at']} by {i['closed_by']}"
                + (f": {i['note']}" if i["note"] else "")
            )
    opened = sum(1 for i in items if i["state"] == "open")
    noun = "incident" if len(items) == 1 else "incidents"
    say(f"{len(items)} {state + ' ' if state else ''}{noun}" + ("" if state else f" ({opened} open)"))


@incident_app.command("show")
def incident_show(
    incident: IdArg,
    as_json: Annotated[bool, typer.Option("--json", help="the document, as GET /v1/incidents/{id}")] = False,
) -> None:
    """An incident: its verdicts, providers, held actions and the stake at risk."""
    from staking.readmodel.incidents import read_incident

    doc = read_incident(service_engine(), incident)
    if doc is None:
        fail(f"no incident {incident}")
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    say(f"incident #{doc['id']}: {doc['state']}, {doc['kind']} {doc['subject']}, opened {doc['opened_at']}")
    say(f"  {doc['reason']}")
    if doc["state"] != "open":
        say(
            f"  {doc['state']} {doc['closed_at']} by {doc['closed_by']}"
            + (f": {doc['note']}" if doc["note"] else "")
        )
    states: dict[str, int] = {}
    for a in doc["held_actions"]:
        states[a["state"]] = states.get(a["state"], 0) + 1
    held = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "none"
    say(
        f"  {len(doc['verdicts'])} verdicts against {len(doc['providers'])} providers; slash and tombstone "
        f"actions: {held}; stake at risk {tokens(int(doc['stake_at_risk']))} SWARM"
    )
    for v in doc["verdicts"][:SHOWN]:
        say(f"    {v['id']}  {v['status']:9}  {v['event_type']}/{v['severity']}  provider {v['provider']}")
    if len(doc["verdicts"]) > SHOWN:
        say(f"    ... and {len(doc['verdicts']) - SHOWN} more (--json lists every one)")
    if doc["state"] == "open":
        say(
            f"decide with: swarm-staking incident release {incident} [--dry-run], "
            f"or: swarm-staking incident dismiss {incident} --reason TEXT [--dry-run]"
        )


# ------------------------------------------------------------------------------------ release


@incident_app.command("release")
def incident_release(
    incident: IdArg,
    by: By = None,
    note: Annotated[str | None, typer.Option(help="why: kept with the incident")] = None,
    dry_run: DryRun = False,
    yes: Yes = False,
) -> None:
    """Release an open incident: its held slashes go to the executor, through the on-chain caps."""
    from staking.intake.incident_resolution import IncidentError, release_incident, release_plan

    closer = _closer(by)
    engine = service_engine()
    try:
        plan = release_plan(engine, incident)
    except IncidentError as exc:
        fail(str(exc))
    say(
        f"release incident #{incident}: {plan.release} held action(s) back to pending; the executor "
        "proposes them"
    )
    say("  through the on-chain caps (slashCapBps of the bonded stake, maxSlashBps per severity)")
    if plan.kept:
        say(f"  {plan.kept} held action(s) stay held: another open incident holds them too")
    if dry_run:
        say("dry run: nothing changed")
        return
    confirm_or_abort(f"release incident #{incident}?", yes)
    try:
        done = release_incident(engine, incident, closer, runtime().now_ms(), _outbox(), note)
    except (IncidentError, ValueError) as exc:
        fail(str(exc))
    say(f"incident #{incident} released by {closer}: {done.release} action(s) pending again")


# ------------------------------------------------------------------------------------ dismiss


def _print_plan(plan: DismissPlan, calls: int) -> None:
    undo = plan.undo
    say(
        f"  actions of its verdicts to cancel: {plan.skip} "
        f"({plan.held} held, {plan.skip - plan.held} pending)"
    )
    known = [s for s in undo.vetoes if s.amount is not None]
    unindexed = len(undo.vetoes) - len(known)
    amount = f", {tokens(undo.veto_amount)} SWARM" if known else ""
    say(
        f"  slashes to veto: {len(undo.vetoes)}{amount}"
        + (f" ({unindexed} not indexed yet)" if unindexed else "")
    )
    if undo.too_late:
        late = sum(s.amount or 0 for s in undo.too_late)
        say(
            f"  past their veto window: {len(undo.too_late)}, {tokens(late)} SWARM (vetoSlashes skips them "
            "unless the contract is paused: swarm-staking pause, then dismiss again)"
        )
    say(f"  jails to lift: {len(undo.lifts)} provider(s)")
    for address in undo.lifts[:NAMED]:
        say(f"    {address}")
    if len(undo.lifts) > NAMED:
        say(f"    ... and {len(undo.lifts) - NAMED} more")
    if undo.kept_jailed:
        say(
            f"  kept jailed: {len(undo.kept_jailed)} provider(s), jailed by verdicts outside the incident too"
        )
    if undo.in_flight:
        say(
            f"  in flight: {undo.in_flight} transaction(s) of its verdicts sent, not settled: dismiss "
            "again once they settle, to veto and lift what they did"
        )
    say(f"  transactions: {calls} (vetoSlashes, then liftJails; at most 200 ids each)")


def _events(gov: Gov, receipt: Any, name: str) -> int:
    from web3.logs import DISCARD

    return len(getattr(gov.staking.contract.events, name)().process_receipt(receipt, errors=DISCARD))


@incident_app.command("dismiss")
@with_governance
def incident_dismiss(
    incident: IdArg,
    reason: Annotated[str, typer.Option(help="why; kept as the note, its keccak256 goes on chain")],
    signing: Signing,
    by: By = None,
) -> None:
    """Dismiss an incident: cancel its actions, veto its slashes, lift the jails resting only on it.

    The vetoes and lifts are VETOER_ROLE's: the council key's transactions, batched (200 ids
    each); in the Safe shape one council Safe transaction once its owners signed (the service
    cancels the actions at the first signing run)."""
    from staking.cli.chainops import require_role, simulate_call
    from staking.cli.common import reason_hash
    from staking.cli.routes import GovernanceSigning, choose_via
    from staking.intake.incident_resolution import (
        IncidentError,
        dismiss_incident,
        dismiss_plan,
        dismissal_calls,
    )

    assert isinstance(signing, GovernanceSigning)
    closer = _closer(by)
    digest = reason_hash(reason)
    engine = service_engine()
    try:
        plan = dismiss_plan(engine, incident, _chain_time(engine))
    except IncidentError as exc:
        fail(str(exc))
    gov: Gov | None = None
    council: Any = None
    if plan.undo.vetoes or plan.undo.lifts:
        gov = signing.open()
        if choose_via(gov, ("VETOER_ROLE",), signing.via) == "safe":
            from staking.cli.council import open_council

            council, signer = open_council(gov, signing)
        else:
            if signing.via == "timelock":
                fail("vetoes and lifts are the council's calls (VETOER_ROLE): --via safe, not the timelock")
            require_role(gov, ("VETOER_ROLE",), "vetoSlashes and liftJails")
        plan = dismiss_plan(engine, incident, gov.now())
    again = " (dismissed already: what remains on chain)" if plan.state == "dismissed" else ""
    say(f"dismiss incident #{incident}{again}: {reason}")
    calls = dismissal_calls(gov.staking, plan, digest) if gov is not None else []
    _print_plan(plan, len(calls))
    if gov is not None:
        caller = council.address if council is not None else gov.signer.address
        if council is None:
            say(f"  signer {gov.signer.address} ({gov.signer_source}); reasonHash 0x{digest.hex()}")
        else:
            say(f"  reasonHash 0x{digest.hex()}")
        gas = sum(
            simulate_call(gov, caller, gov.staking.address, fn._encode_transaction_data(), fn.fn_name)
            for fn in calls
        )
        say(f"  simulated: every transaction would succeed (about {gas:,} gas)")
    if signing.dry_run:
        say("dry run: nothing changed, nothing was sent")
        return
    if plan.state != "open" and not calls:
        say(f"incident #{incident} is dismissed already and nothing is left to veto or lift")
        return
    if council is not None and not (signing.sign or signing.signatures or signing.export):
        fail("the council Safe signs the vetoes and lifts: pass --sign, --signatures FILE or --export FILE")
    sends = f" and send {len(calls)} transaction(s)" if calls and council is None else ""
    if council is not None and calls:
        sends = f" and sign the council Safe's transaction of {len(calls)} call(s)"
    if signing.export is None:
        confirm_or_abort(f"dismiss incident #{incident}{sends}?", signing.yes)
    if plan.state == "open" and signing.export is None:
        try:
            now_ms = runtime().now_ms()
            plan = dismiss_incident(engine, incident, reason, closer, now_ms, _outbox(), _chain_time(engine))
        except (IncidentError, ValueError) as exc:
            fail(str(exc))
        say(f"incident #{incident} dismissed by {closer}: the actions of its verdicts are cancelled")
    if gov is None:
        return
    if council is not None:
        from staking.cli.council import send_as_council

        receipt = send_as_council(gov, council, signer, calls, f"dismiss incident #{incident}", signing)
        if receipt is not None:
            say(f"vetoed {_events(gov, receipt, 'SlashVetoed')} slash(es), lifted "
                f"{_events(gov, receipt, 'JailLifted')} jail(s)")  # fmt: skip
        return
    _send_undo(gov, engine, incident, digest)


def _send_undo(gov: Gov, engine: Engine, incident: int, digest: bytes) -> None:
    """The council key sends the vetoes and lifts what remains of the plan needs, one by one."""
    from staking.cli.chainops import send, simulate
    from staking.intake.incident_resolution import dismiss_plan, dismissal_calls

    plan = dismiss_plan(engine, incident, gov.now())
    vetoed = lifted = 0
    for fn in dismissal_calls(gov.staking, plan, digest):
        receipt = send(gov, fn, simulate(gov, fn))
        vetoed += _events(gov, receipt, "SlashVetoed")
        lifted += _events(gov, receipt, "JailLifted")
        say(
            f"sent     {fn.fn_name}({len(fn.args[0])}) tx {receipt['transactionHash'].to_0x_hex()}, "
            f"block {receipt['blockNumber']} (gas used {receipt['gasUsed']:,})"
        )
    say(f"vetoed {vetoed} slash(es), lifted {lifted} jail(s)")
