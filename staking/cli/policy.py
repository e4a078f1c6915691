"""`swarm-staking policy check|diff|simulate` (SPEC section 11): a policy file checked with every
error at once, two policies compared parameter by parameter, and what another policy would have
decided over the recorded verdicts — read from SWARM_DATABASE_URL, never the chain; nothing is
written."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from staking.cli.common import GOVERNANCE, app, console, fail, runtime, service_engine

policy_app = typer.Typer(
    help="Slashing policies: check a file, diff two, simulate one over the recorded verdicts.",
    no_args_is_help=True,
)
app.add_typer(policy_app, name="policy", rich_help_panel=GOVERNANCE)

FileArg = Annotated[Path, typer.Argument(help="a policy TOML file", show_default=False)]
SHOWN = 50  # changed decisions listed in the text output (--json has them all)


def _load(path: Path) -> Any:
    from staking.policy.identity import check_policy_file

    policy, errors = check_policy_file(path)
    if policy is None:
        for e in errors:
            typer.echo(f"error: {path}: {e}" if not e.startswith(str(path)) else f"error: {e}", err=True)
        raise typer.Exit(1)
    return policy


@policy_app.command("check")
def policy_check(file: FileArg) -> None:
    """Validate a policy file: every error at once, one line each; its hash when it is valid."""
    from staking.policy.identity import policy_hash

    policy = _load(file)
    typer.echo(f"ok: {file} is a valid policy, {policy_hash(policy)}")


@policy_app.command("diff")
def policy_diff_command(
    a: FileArg,
    b: FileArg,
    as_json: Annotated[bool, typer.Option("--json", help="a JSON array of {parameter, a, b}")] = False,
) -> None:
    """Parameter by parameter, what differs between two policies (defaults filled in)."""
    from staking.policy.identity import policy_diff, policy_hash

    pa, pb = _load(a), _load(b)
    rows = policy_diff(pa, pb)
    if as_json:
        typer.echo(json.dumps([{"parameter": k, "a": x, "b": y} for k, x, y in rows], indent=2))
        return
    typer.echo(f"a: {a} {policy_hash(pa)}\nb: {b} {policy_hash(pb)}")
    if not rows:
        typer.echo("the two policies are the same (every parameter equal)")
        return
    width = max(len(k) for k, _, _ in rows)
    for k, x, y in rows:
        typer.echo(f"{k:<{width}}  {json.dumps(x)}  ->  {json.dumps(y)}")
    typer.echo(f"{len(rows)} parameter(s) differ")


def parse_time(value: str | None, name: str) -> int | None:
    """Unix seconds, or an ISO 8601 date / date-time (UTC unless it says otherwise)."""
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(
            f"{name}: {value!r} is neither unix seconds nor an ISO 8601 date (2026-12-01, 2026-12-01T10:00Z)"
        )
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())


@policy_app.command("simulate")
def policy_simulate(
    file: FileArg,
    since: Annotated[
        str | None, typer.Option(help="report verdicts received from then (unix s or ISO)")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="replay verdicts received until then (unix s or ISO)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the whole result as one JSON document")] = False,
) -> None:
    """Replay every recorded verdict, in the order received, through the policy FILE: each decision
    that would change, per provider the stake slashed under the recorded decisions and under FILE,
    totals, and providers whose standing would differ today. Reads only; the chain is not asked."""
    from staking.policy.identity import policy_diff, policy_hash
    from staking.policy.simulate import simulate
    from staking.readmodel.queries import snapshot
    from staking.readmodel.verdict_history import bonded_stakes, recorded_verdicts

    other = _load(file)
    current = runtime().policy
    since_s, until_s = parse_time(since, "--since"), parse_time(until, "--until")
    engine = service_engine()
    started = time.monotonic()
    try:
        with snapshot(engine) as conn:
            stakes = bonded_stakes(conn)
            verdicts = recorded_verdicts(conn, None if until_s is None else until_s * 1000 + 999)
            result = simulate(verdicts, current, other, stakes, int(until_s or time.time()))
    except Exception as exc:
        fail(f"cannot read the recorded verdicts: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    changed = [c for c in result.changed if since_s is None or c["received_ms"] >= since_s * 1000]
    elapsed = time.monotonic() - started
    print(f"simulated {result.verdicts} recorded verdicts in {elapsed:.2f} s", file=sys.stderr)
    providers = {
        a: {
            "stake": str(p.stake),
            "slashed_recorded": str(p.slashed_recorded),
            "slashed_other": str(p.slashed_other),
            "decisions_changed": p.changed,
            "standing_recorded": {"strikes": p.standing_recorded[0], "level": p.standing_recorded[1]},
            "standing_other": {"strikes": p.standing_other[0], "level": p.standing_other[1]},
        }
        for a, p in sorted(result.providers.items())
        if p.changed or p.standing_recorded != p.standing_other
    }
    totals = {k: (str(v) if k.startswith("slashed") else v) for k, v in result.totals().items()}
    incident_rules_differ = current.incidents != other.incidents
    doc = {
        "current_policy": policy_hash(current),
        "other_policy": policy_hash(other),
        "parameters_changed": [k for k, _, _ in policy_diff(current, other)],
        "since": since_s,
        "until": until_s,
        "totals": totals,
        "changed": changed,
        "providers": providers,
        "standing_differs": result.standing_differs(),
        "incident_rules_differ": incident_rules_differ,
    }
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    _print(doc)


def _print(doc: dict[str, Any]) -> None:
    from staking.cli.common import tokens

    t = doc["totals"]
    say = console.print
    typer.echo(f"recorded decisions: {doc['current_policy']}\nsimulated with:     {doc['other_policy']}")
    typer.echo(f"parameters changed: {', '.join(doc['parameters_changed']) or 'none'}")
    typer.echo(
        f"{t['verdicts']} verdicts replayed; {len(doc['changed'])} decision(s) would change, "
        f"{t['providers_affected']} provider(s)"
    )
    difference = int(t["slashed_difference"])
    sign = "+" if difference >= 0 else "-"
    typer.echo(
        f"stake slashed: {tokens(int(t['slashed_recorded']))} SWARM recorded -> "
        f"{tokens(int(t['slashed_other']))} SWARM ({sign}{tokens(abs(difference))})"
    )
    for c in doc["changed"][:SHOWN]:
        a, b = c["current"], c["other"]
        diffs = ", ".join(f"{k} {a[k]} -> {b[k]}" for k in a if a[k] != b[k])
        say(
            f"  {c['verdict_id'][:18]}…  {c['provider']}  {c['event_type']}/{c['severity']}: {diffs}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if len(doc["changed"]) > SHOWN:
        typer.echo(f"  … and {len(doc['changed']) - SHOWN} more (--json lists them all)")
    for addr, p in doc["providers"].items():
        typer.echo(
            f"  {addr}: slashed {tokens(int(p['slashed_recorded']))} -> "
            f"{tokens(int(p['slashed_other']))} SWARM; "
            f"today {p['standing_recorded']['strikes']} strike(s) ({p['standing_recorded']['level']}) -> "
            f"{p['standing_other']['strikes']} ({p['standing_other']['level']})"
        )
    typer.echo(f"standing would differ today for {len(doc['standing_differs'])} provider(s)")
    if doc["incident_rules_differ"]:
        typer.echo(
            "note: the incident thresholds differ; incidents are not re-simulated (the recorded holds stand)"
        )
