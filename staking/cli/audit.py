"""`swarm-staking audit export|verify` (SPEC section 11): the evidence trail from signed verdict to
the tokens that moved, as hash-chained JSON lines anyone can check against the chain."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from staking.cli.common import GOVERNANCE, app, fail, parse_address, service_engine
from staking.cli.policy import parse_time

audit_app = typer.Typer(
    help="The evidence trail: export it (hash-chained JSON lines), verify it against the chain.",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit", rich_help_panel=GOVERNANCE)


@audit_app.command("export")
def audit_export(
    from_: Annotated[
        str | None, typer.Option("--from", help="verdicts received from then (unix s or ISO)")
    ] = None,
    to: Annotated[str | None, typer.Option(help="verdicts received until then (unix s or ISO)")] = None,
    provider: Annotated[
        str | None, typer.Option(help="only this provider's verdicts (its own trail)")
    ] = None,
    output: Annotated[Path | None, typer.Option(help="write here instead of stdout")] = None,
) -> None:
    """JSON lines: each verdict (with its signatures), its decision (with the policy hash), each
    action with its transaction and block, the indexed events and the webhook deliveries; each
    line's `prev` is the sha256 of the line before, the first anchored to the deployment."""
    from staking.audit.export import NotIndexed, trail_records
    from staking.audit.lines import chain, sha256
    from staking.readmodel.queries import snapshot

    since, until = parse_time(from_, "--from"), parse_time(to, "--to")
    who = parse_address(provider) if provider else None
    engine = service_engine()
    out = output.open("w") if output else sys.stdout
    count, last = 0, None
    try:
        with snapshot(engine) as conn:
            for line in chain(trail_records(conn, since and since * 1000, until and until * 1000 + 999, who)):
                out.write(line + "\n")
                count, last = count + 1, line
    except NotIndexed as exc:
        fail(str(exc))
    finally:
        if output:
            out.close()
    head = sha256(last) if last else "-"
    note = "publish it: `audit verify --head` holds a trail to it"
    print(f"exported {count} lines; head sha256 {head} ({note})", file=sys.stderr)


@audit_app.command("verify")
def audit_verify(
    file: Annotated[Path, typer.Argument(help="a trail written by `audit export`", show_default=False)],
    rpc: Annotated[
        str | None, typer.Option(help="a node of the trail's chain: check every claim against it")
    ] = None,
    head: Annotated[str | None, typer.Option(help="the sha256 the trail's last line must have")] = None,
) -> None:
    """Check the hash chain and every verdict signature; with --rpc, that each signer was a
    detector then and that every transaction and event the trail claims is on chain as claimed.
    Stops at the first line that fails and says why (exit 1)."""
    from staking.audit.verify import Node, TrailInvalid, verify

    try:
        lines = file.read_text().splitlines()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    node = None
    if rpc is not None:
        node = Node(_rpc(rpc), _abi())
    try:
        report = verify(lines, node)
    except TrailInvalid as exc:
        fail(f"{file}: {exc}")
    except Exception as exc:  # the node failed us: not the trail's fault
        first = str(exc).splitlines()[0] if str(exc) else ""
        fail(f"cannot check {file} against {rpc}: {type(exc).__name__}: {first}")
    if head is not None and report.head != head:
        fail(f"{file}: its last line's sha256 is {report.head}, not {head}: the trail was cut or extended")
    against = "against the node" if node else "offline (no --rpc: transactions and events not checked)"
    typer.echo(
        f"ok: {report.lines} lines, {report.verdicts} verdicts, {report.signatures} signatures, "
        f"{report.transactions} transactions and {report.events} events checked {against}; "
        f"head sha256 {report.head}"
    )


def _rpc(url: str) -> Callable[[str, list[Any]], Any]:
    from web3 import HTTPProvider, Web3

    from staking.chain.rpc import RawRpc

    raw = RawRpc(Web3(HTTPProvider(url, request_kwargs={"timeout": 30})))
    return raw.call


def _abi() -> list[dict[str, object]]:
    from staking.chain.artifacts import load_artifact
    from staking.cli.common import load_settings

    return load_artifact("SwarmStaking", load_settings().artifacts_dir).abi
