#!/usr/bin/env python3
"""Review a pending slash, then veto it with a reason (governance playbook).

\b
    .venv/bin/python scripts/review_and_veto.py 0x<slash id>                  # review only
    .venv/bin/python scripts/review_and_veto.py 0x<slash id> --reason "…" --dry-run
    .venv/bin/python scripts/review_and_veto.py 0x<slash id> --reason "…"     # asks, then sends

Shows the slash as the chain has it (amount, veto window) with its provider, and the verdict
behind it as the service recorded it (event type, severity, detector, evidence hash and URI, the
decided actions). With --reason it then vetoes the slash like `swarm-staking slash veto`: the
reason's keccak256 goes on chain as reasonHash, the signer needs VETOER_ROLE, and nothing is sent
without a confirmation (or --yes). Configuration as for `swarm-staking`: SWARM_DEPLOYMENT,
SWARM_RPC_URL, SWARM_DATABASE_URL, SWARM_SIGNER_KEYSTORE + SWARM_SIGNER_PASSWORD_FILE.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from staking.cli.chainops import Signing, with_signing
from staking.cli.common import load_settings, say
from staking.cli.governance.operations import parse_id, slash_view, veto_slash


def recorded_verdict(verdict_id: str) -> tuple[dict[str, Any] | None, str]:
    """The service's record of the verdict, or None and why it could not be read."""
    from staking.cli.records import find_verdict
    from staking.db.engine import make_engine, redacted, require_current_schema

    url = load_settings().database_url
    try:
        engine = make_engine(url)
        require_current_schema(engine)
        return find_verdict(engine, verdict_id), f"not in the service database {redacted(url)}"
    except Exception as exc:
        return None, f"service database unavailable ({type(exc).__name__})"


def show_verdict(verdict_id: str) -> None:
    verdict, why = recorded_verdict(verdict_id)
    if verdict is None:
        say(f"verdict  {why}")
        return
    say(
        f"verdict  {verdict['event_type']}/{verdict['severity']} detected at {verdict['detected_at']}, "
        f"signed by detector {verdict['signer']}, received {verdict['received_at']}"
    )
    decision = f"level {verdict['level']} (offence #{verdict['offence_number']})"
    say(f"         decision: {decision}, status {verdict['status']}")
    say(f"evidence {verdict['evidence_hash']} at {verdict['evidence_uri'] or '(no URI given)'}")
    for action in verdict["actions"]:
        note = f" ({action['note']})" if action["note"] else ""
        say(f"action   {action['kind']}: {action['state']}{note}")


def main(
    slash_id: Annotated[str, typer.Argument(help="the slash id (= the verdict id)")],
    reason: Annotated[str | None, typer.Option(help="veto with this reason; without it, review only")] = None,
    *,
    signing: Signing,
) -> None:
    sid = parse_id(slash_id)
    gov = signing.open()
    show_verdict("0x" + sid.hex())
    if reason is None:
        read, render = slash_view(gov, sid)
        for line in render(read()):
            say(line)
        say("review only: pass --reason TEXT to veto")
        return
    say("")
    signing.run(gov, veto_slash(gov, sid, reason))


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
app.command(help=__doc__)(with_signing(main))

if __name__ == "__main__":
    app()
