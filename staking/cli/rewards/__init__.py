"""`swarm-staking rewards show|proof|publish|fund|claim|revoke|sweep|sweep-excess`: reward epochs
from the command line.

`show` and `proof` read the service database (SWARM_DATABASE_URL): what the worker computed for an
epoch (staking/rewards/epochs.py) and the Merkle proof a provider claims with (`read`). The others
are state-changing commands on the shape of `chainops.run` (print, check the role, simulate,
`--dry-run` or ask, send, print the state after):

- `publish EPOCH`: the rewards oracle's path (REWARDS_ORACLE_ROLE; on the devnet with nothing
  configured, the service account #1): computes the epoch from the indexed database if the worker
  has not, then `publishEligibility(epoch, root, totalWeight, uri)` (`publish`).
- `fund EPOCH AMOUNT`: `approve` (when the allowance is short) and `fundRewards`, by anyone (`pool`).
- `claim EPOCH`: a provider, signing with its own key, claims `pool * weight // totalWeight` with
  the weight and proof from the database (`pool`), once the council's challenge of the root is over.
- `revoke EPOCH`, `sweep EPOCH`, `sweep-excess`: the council withdraws a root under challenge;
  governance sweeps what strands to the treasury (`challenge`).

This module is the group: its commands are registered here, in the order `--help` lists them.
"""

from __future__ import annotations

import typer

from staking.cli.common import PROVIDERS, app
from staking.cli.rewards import challenge, pool, publish, read

rewards_app = typer.Typer(
    help="Reward epochs: weights and proofs (indexed), publish, fund, claim, revoke, sweep.",
    no_args_is_help=True,
)
app.add_typer(rewards_app, name="rewards", rich_help_panel=PROVIDERS)

rewards_app.command("show")(read.show)
rewards_app.command("proof")(read.proof)
rewards_app.command("publish")(publish.publish)
rewards_app.command("fund")(pool.fund)
rewards_app.command("claim")(pool.claim)
rewards_app.command("revoke")(challenge.revoke)
rewards_app.command("sweep")(challenge.sweep)
rewards_app.command("sweep-excess")(challenge.sweep_excess)
