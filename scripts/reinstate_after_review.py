#!/usr/bin/env python3
"""Take a provider through the rest of its recovery and reinstate it (governance playbook).

\b
    .venv/bin/python scripts/reinstate_after_review.py 0x<provider> --dry-run  # plan, step 1 simulated
    .venv/bin/python scripts/reinstate_after_review.py 0x<provider>            # step by step, asking
    .venv/bin/python scripts/reinstate_after_review.py 0x<provider> --yes      # all steps, no questions

After the review of a recovery path (security review, service improvement, compliance
verification) has concluded, this advances the provider's open recovery through each remaining
stage (response -> recovery -> restoration) with `advanceRecovery`, then calls `reinstate`, which
lifts the jail and starts probation. A jailed provider without an open recovery is reinstated
directly. Each step is printed, simulated and confirmed separately; declining one stops there
(the steps already sent stay done, and running the playbook again continues from that stage).
A dry run can only simulate the first step, since every later one depends on it. Needs
GOVERNANCE_ROLE; configuration as for `swarm-staking` (SWARM_DEPLOYMENT, SWARM_RPC_URL,
SWARM_SIGNER_KEYSTORE + SWARM_SIGNER_PASSWORD_FILE).
"""

from __future__ import annotations

from typing import Annotated

import typer

from staking.cli.chainops import Signing, with_signing
from staking.cli.common import fail, parse_address, say
from staking.cli.governance.operations import advance_recovery, reinstate
from staking.domain.vocabulary import RecoveryPath, RecoveryStage


def plan(path: RecoveryPath, stage: RecoveryStage, jailed: bool) -> list[str]:
    """The remaining steps: one advance per stage before restoration, then reinstate."""
    if path == RecoveryPath.NONE:
        return ["reinstate"] if jailed else []
    advances = [
        f"advanceRecovery ({RecoveryStage(s).wire} -> {RecoveryStage(s + 1).wire})"
        for s in range(int(stage), int(RecoveryStage.RESTORATION))
    ]
    return [*advances, "reinstate"]


def main(
    address: Annotated[str, typer.Argument(help="the provider to reinstate")],
    signing: Signing,
) -> None:
    provider = parse_address(address)
    gov = signing.open()
    record = gov.staking.provider(provider)
    if record.tombstoned:
        fail(f"provider {provider} is tombstoned: permanent, there is nothing to reinstate")
    steps = plan(record.recovery_path, record.recovery_stage, record.jailed)
    if not steps:
        fail(f"provider {provider} is neither jailed nor in recovery: there is nothing to reinstate")
    say(f"plan for {provider}: " + ", then ".join(steps))
    for number, step in enumerate(steps, start=1):
        say(f"\nstep {number}/{len(steps)}: {step}")
        op = reinstate(gov, provider) if step == "reinstate" else advance_recovery(gov, provider)
        signing.run(gov, op)
        if signing.dry_run:
            if number < len(steps):
                say(f"dry run: steps {number + 1}-{len(steps)} depend on this one and are not simulated")
            return
    say(f"\nprovider {provider} reinstated")


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
app.command(help=__doc__)(with_signing(main))

if __name__ == "__main__":
    app()
