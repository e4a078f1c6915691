"""Governance commands: `slash list|veto|execute|appeal`, `appeal list|resolve`, `recovery
begin|advance|reinstate`, `tombstone ADDRESS|proposals`, `pause`, `unpause`, `params show|set`, `admin
show|transfer|accept|cancel`.

Each state-changing command goes through `chainops.run`: it prints the call, the signer and the
state before, checks the role, simulates, and with `--dry-run` stops there; otherwise it asks
(unless `--yes`), sends, and prints the transaction, its block and the state after.

- `commands`: the typer commands, thin: parse the arguments, hand an operation to the signer;
- `appeals`: a provider's appeal of its slash (its own key) and the council's appeal commands;
- `operations`: the builders (`veto_slash`, `advance_recovery`, …), what the playbooks in
  `scripts/` compose;
- `render`: slashes and providers as the contract holds them, in lines (pure).
"""

from staking.cli.governance import admin, appeals, commands, params  # noqa: F401 - registers the commands on `app`
