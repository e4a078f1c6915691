"""`swarm-staking investigation list|resolve`: what suspicious activity opened, for the security team."""

from __future__ import annotations

from typing import Annotated

import typer

from staking.cli.common import GOVERNANCE, app, confirm_or_abort, console, fail, runtime, service_engine

investigation_app = typer.Typer(
    help="Investigations opened by suspicious activity: list, resolve.", no_args_is_help=True
)
app.add_typer(investigation_app, name="investigation", rich_help_panel=GOVERNANCE)


@investigation_app.command("list")
def investigation_list(
    status: Annotated[str | None, typer.Option(help="open or resolved (default: both)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="a JSON array, as GET /v1/investigations")] = False,
) -> None:
    """List investigations, newest first."""
    from staking.intake.investigations import INVESTIGATION_STATUSES, MAX_PAGE, list_investigations

    if status is not None and status not in INVESTIGATION_STATUSES:
        fail(f"--status must be one of {', '.join(INVESTIGATION_STATUSES)}, not {status!r}")
    engine = service_engine()
    items: list[dict[str, object]] = []
    cursor: str | None = None
    try:
        while True:
            page = list_investigations(engine, status, MAX_PAGE, cursor)
            items += page["items"]
            if (cursor := page["next_cursor"]) is None:
                break
    except Exception as exc:
        fail(f"cannot read investigations: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    if as_json:
        import json

        typer.echo(json.dumps(items, indent=2))
        return
    for i in items:
        console.print(
            f"{i['verdict_id']}  {i['status']:8}  {i['event_type']}/{i['severity']}  "
            f"provider {i['provider']}  opened {i['opened_at']}",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
        if i["status"] == "resolved":
            console.print(
                f"    resolved {i['resolved_at']} by {i['resolved_by']}: {i['resolution']}",
                soft_wrap=True,
                highlight=False,
                markup=False,
            )
    noun = "investigation" if len(items) == 1 else "investigations"
    opened = sum(1 for i in items if i["status"] == "open")
    what = f"{status} {noun}" if status else f"{noun} ({opened} open)"
    console.print(f"{len(items)} {what}", highlight=False)


@investigation_app.command("resolve")
def investigation_resolve(
    verdict_id: Annotated[str, typer.Argument(help="id of the verdict that opened the investigation")],
    outcome: Annotated[str, typer.Option(help="cleared or confirmed")],
    note: Annotated[str, typer.Option(help="why: kept with the resolution")],
    by: Annotated[str | None, typer.Option(help="who resolves it (default: $USER)")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
) -> None:
    """Resolve an open investigation as cleared or confirmed (governance / security team)."""
    import os

    from staking.intake.errors import InvestigationError
    from staking.intake.investigations import check_resolution, open_investigation, resolve_investigation

    resolver = by if by is not None else os.environ.get("USER") or os.environ.get("LOGNAME")
    if resolver is None:
        fail("who resolves it? $USER is not set: pass --by NAME")
    try:
        vid, resolution, resolver = check_resolution(verdict_id, outcome, note, resolver)
    except ValueError as exc:
        fail(str(exc))
    engine = service_engine()
    try:
        item = open_investigation(engine, vid)
    except InvestigationError as exc:
        fail(str(exc))
    confirm_or_abort(
        f"resolve the investigation of verdict {vid} (provider {item['provider']}) as {resolution}?", yes
    )
    try:
        done = resolve_investigation(engine, vid, outcome, note, resolver, runtime().now_ms())
    except (InvestigationError, ValueError) as exc:
        fail(str(exc))
    console.print(
        f"investigation of verdict {vid} resolved by {done['resolved_by']}: {done['resolution']}",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
    if outcome == "confirmed":
        console.print(
            f"no penalty follows from this by itself: to penalize provider {done['provider']}, a "
            "detector must sign and submit a new verdict of the confirmed event type (e.g. "
            "security_breach or policy_violation); a suspicious_activity verdict never penalizes "
            "(SPEC section 1)",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
