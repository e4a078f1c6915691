"""`swarm-staking provider status ADDRESS [--json]`: where a provider stands (SPEC section 4).

The document is `staking.readmodel.provider_standing` over the indexed database, the same one
`GET /v1/providers/{address}` answers; `--json` prints it as is, otherwise a table.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from staking.cli.common import PROVIDERS, app, console, fail, runtime, service_engine, tokens, utc

provider_app = typer.Typer(help="Node providers: where one stands.", no_args_is_help=True)
app.add_typer(provider_app, name="provider", rich_help_panel=PROVIDERS)


def _amount(value: str | None) -> str:
    return "unknown" if value is None else f"{tokens(int(value))} SWARM"


def _slash_line(s: dict[str, Any]) -> str:
    when = f"executable {utc(s['executable_at'])}" if s["state"] == "pending" else s["state"]
    appeal = s.get("appeal")
    if appeal is not None:
        when += f"; appeal {appeal['state']} (council's deadline {utc(appeal['deadline'])})"
    elif s.get("appeal_until") is not None:
        when += f"; appealable before {utc(s['appeal_until'])}"
    return f"{s['id']}  {s['bps']} bps = {_amount(s['amount'])}  {s['event_type']}/{s['severity']}  {when}"


def rows(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """The standing document as (field, value) rows for a table."""
    stake = doc["stake"]
    minimum = stake["min_required"]
    meets = {True: "meets it", False: "BELOW it", None: "not indexed"}[stake["meets_minimum"]]
    stake_text = (
        f"{_amount(stake['active'])} active, {_amount(stake['unbonding'])} unbonding, "
        f"{_amount(stake['withdrawable'])} withdrawable\nminimum {_amount(minimum)}: {meets}"
    )
    if stake["unbonding_end"]:
        stake_text += f"; unbonding ends {utc(stake['unbonding_end'])}"
    jail = doc["jail"]
    if jail is None:
        jail_text = "not jailed"
    else:
        until = "until recovery" if jail["until"] is None else f"until {utc(jail['until'])}"
        jail_text = f"jailed {until}: {jail['reason']}"
    recovery = doc["recovery"]
    if recovery is None:
        recovery_text = "none"
    else:
        where = " at stage ".join(x for x in (recovery["path"], recovery["stage"]) if x) or "none open"
        recovery_text = f"{where}\nnext: {recovery['next_step']}"
    strikes = doc["strikes"]
    strikes_text = (
        f"{strikes['in_window']} in the last {strikes['window_days']} days, level {strikes['level']}"
    )
    rewards = doc["rewards"]
    reasons = f" ({', '.join(rewards['reasons'])})" if rewards["reasons"] else ""
    eligible = "eligible" if rewards["eligible"] else "not eligible"
    as_of = doc["as_of"]
    lag = "" if as_of["lag_blocks"] is None else f", {as_of['lag_blocks']} blocks behind the head"
    indexed = "not indexed yet" if as_of["block"] is None else f"block {as_of['block']}{lag}"
    in_flight = [
        f"{a['kind']} of verdict {a['verdict_id']}: mined in block {a['block']} "
        f"(tx {a['tx_hash']}), not yet indexed"
        for a in doc["in_flight"]
    ]
    identity = doc["class"] or "unregistered"
    if doc["class"] == "hardware_provider":
        identity += f", {doc['gpus']} GPUs"
    return [
        ("provider", f"{doc['address']} ({identity})"),
        ("status", f"{doc['status']}: {doc['status_reason']}"),
        ("stake", stake_text),
        ("jail", jail_text),
        ("recovery", recovery_text),
        (
            "pending slashes",
            "\n".join(_slash_line(s) for s in doc["pending_slashes"]) or "none",
        ),
        ("slashes", "\n".join(_slash_line(s) for s in doc["slashes"]) or "none"),
        ("strikes", strikes_text),
        ("rewards", f"epoch {rewards['epoch']}: {eligible}{reasons}"),
        *([("in flight", "\n".join(in_flight))] if in_flight else []),
        ("as of", indexed),
    ]


@provider_app.command("status")
def provider_status(
    address: Annotated[str, typer.Argument(help="provider address (any case)")],
    as_json: Annotated[bool, typer.Option("--json", help="the GET /v1/providers/{address} document")] = False,
) -> None:
    """Where a provider stands: stake, status, jail, recovery and next step, slashes, strikes, rewards."""
    from staking.domain.ids import InvalidAddress
    from staking.readmodel import provider_standing, snapshot

    rt = runtime()
    try:
        policy = rt.policy
    except ValueError as exc:
        fail(str(exc))
    engine = service_engine()
    try:
        with snapshot(engine) as conn:
            doc = provider_standing(conn, address, int(rt.clock()), policy)
    except InvalidAddress as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    table = Table(show_header=False, show_edge=False, box=None, padding=(0, 2, 0, 0))
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for field, value in rows(doc):
        table.add_row(field, Text(value))
    console.print(table)
