#!/usr/bin/env python3
"""Emergency stop of SwarmStaking, or the restart after it (governance playbook).

\b
    .venv/bin/python scripts/emergency_pause.py --dry-run          # what pausing would do
    .venv/bin/python scripts/emergency_pause.py                     # pause (asks first)
    .venv/bin/python scripts/emergency_pause.py --unpause --yes     # resume without asking

Pausing stops registration, staking, unbonding, withdrawals, unjail, jails, slash proposals and
executions, reward funding, publication and claims. Vetoes keep working (and are allowed past the
veto window while paused), so governance can cancel wrongful slashes before resuming. The playbook
first shows the pending slashes of the indexed projection that a veto could still cancel (when the
service database is reachable). Needs GOVERNANCE_ROLE; configuration as for `swarm-staking`
(SWARM_DEPLOYMENT, SWARM_RPC_URL, SWARM_DATABASE_URL, SWARM_SIGNER_KEYSTORE +
SWARM_SIGNER_PASSWORD_FILE).
"""

from __future__ import annotations

from typing import Annotated

import typer

from staking.cli.chainops import Signing, with_signing
from staking.cli.common import load_settings, say
from staking.cli.governance.operations import set_paused


def pending_slashes() -> str:
    from staking.cli.records import all_slashes
    from staking.db.engine import make_engine, require_current_schema

    try:
        engine = make_engine(load_settings().database_url)
        require_current_schema(engine)
        pending = all_slashes(engine, "pending")
    except Exception as exc:
        return f"pending slashes: unknown (service database unavailable: {type(exc).__name__})"
    ids = ", ".join(s["id"] for s in pending[:5]) + (", …" if len(pending) > 5 else "")
    return f"pending slashes (indexed): {len(pending)}" + (f": {ids}" if pending else "")


def main(
    unpause: Annotated[bool, typer.Option("--unpause", help="resume instead of pausing")] = False,
    *,
    signing: Signing,
) -> None:
    gov = signing.open()
    say(pending_slashes())
    if not unpause:
        say("while paused, vetoes still work: swarm-staking slash veto ID --reason TEXT")
    signing.run(gov, set_paused(gov, not unpause))


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
app.command(help=__doc__)(with_signing(main))

if __name__ == "__main__":
    app()
