"""`swarm-staking params show|set`: the contract's governance parameters and who may change them.

In the Safe shape a change is a timelocked operation (`--via timelock`, the default there): the
governance Safe schedules it, anyone executes it after the delay (`swarm-staking timelock`)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from staking.cli.chainops import Gov, Operation, Signing, open_reader
from staking.cli.common import GOVERNANCE, app, fail, say, tokens
from staking.cli.routes import with_governance

params_app = typer.Typer(
    help="Governance parameters: show, set (timelocked in the Safe shape).", no_args_is_help=True
)
app.add_typer(params_app, name="params", rich_help_panel=GOVERNANCE)
set_app = typer.Typer(help="Change one parameter (GOVERNANCE_ROLE).", no_args_is_help=True)
params_app.add_typer(set_app, name="set")


def _seconds(value: int) -> str:
    units = [(86_400, "d"), (3_600, "h"), (60, "min")]
    for size, unit in units:
        if value >= size and value % size == 0:
            return f"{value} s ({value // size} {unit})"
    return f"{value} s"


@params_app.command("show")
def params_show(as_json: Annotated[bool, typer.Option("--json", help="a JSON object")] = False) -> None:
    """The parameters as the contract holds them now, and the governance shape."""
    gov = open_reader()
    f = gov.staking.contract.functions
    caps = gov.staking.caps()
    appeal = gov.staking.appeal_params()
    challenge = gov.staking.reward_challenge_delay()
    g = gov.deployment.governance
    window, floor = gov.staking.veto_window(), int(f.minVetoWindow().call())
    age, epoch = gov.staking.max_verdict_age(), int(f.epochLength().call())
    doc = {
        "veto_window": window,
        "min_veto_window": floor,
        "max_verdict_age": age,
        "epoch_length": epoch,
        "treasury": gov.staking.treasury(),
        "paused": gov.staking.paused(),
        "cap_window": caps.window,
        "jail_cap": caps.jail_cap,
        "slash_cap_bps": int(caps.slash_cap_bps),
        "max_slash_bps": int(caps.max_slash_bps),
        "severity_bounds_bps": [int(b) for b in caps.severity_bounds],
        "quorum": caps.quorum,
        "quorum_bps": int(caps.quorum_bps),
        "appeal_bond": str(appeal.bond),
        "appeal_grace": appeal.grace,
        "appeal_timeout": appeal.timeout,
        "reward_challenge_delay": challenge,
        "admin": gov.staking.default_admin(),
        "governance": g.model_dump(),
    }
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    say(f"veto window      {_seconds(window)}; minimum {_seconds(floor)}")
    say(f"max verdict age  {_seconds(age)} · epoch length {_seconds(epoch)}")
    say(f"caps             {caps.jail_cap} jails and {caps.slash_cap_bps} bps of stake per "
        f"{_seconds(caps.window)}; "
        f"max slash {caps.max_slash_bps} bps; quorum {caps.quorum} above {caps.quorum_bps} bps")  # fmt: skip
    say(
        f"appeals          bond {tokens(appeal.bond)} SWARM, grace {_seconds(appeal.grace)}, timeout "
        f"{_seconds(appeal.timeout)}"
    )
    say(f"rewards          a published root is challenged for {_seconds(challenge)} "
        "before claims open")  # fmt: skip
    say(f"treasury         {doc['treasury']} · {'PAUSED' if doc['paused'] else 'running'}")
    say(f"admin            {doc['admin']} (two-step transfers: swarm-staking admin show)")
    if g.mode == "safe":
        say(f"governance       timelock {g.timelock} ({_seconds(g.min_delay)} delay), proposed by Safe "
            f"{g.governance_safe} ({g.threshold} of {len(g.owners)}); council Safe {g.council_safe} "
            f"({g.council_threshold} of {len(g.council_owners)})")  # fmt: skip
    else:
        say(f"governance       one key: {gov.deployment.accounts.governance}")


@set_app.command("veto-window")
@with_governance
def set_veto_window(
    seconds: Annotated[int, typer.Argument(help="the new veto window, seconds (at least minVetoWindow)")],
    signing: Signing,
) -> None:
    """Set how long a slash proposal waits before it can be executed (GOVERNANCE_ROLE)."""
    if seconds <= 0:
        fail("the veto window is a positive number of seconds")
    signing.send(lambda gov: veto_window_operation(gov, seconds))


@set_app.command("reward-challenge-delay")
@with_governance
def set_reward_challenge_delay(
    seconds: Annotated[int, typer.Argument(help="seconds (at most 7 days; at least 1 day off the devnet)")],
    signing: Signing,
) -> None:
    """Set how long the council may revoke a published reward root before claims open
    (GOVERNANCE_ROLE)."""
    if seconds < 0:
        fail("the challenge delay is a number of seconds, 0 or more")

    def build(gov: Gov) -> Operation[int]:
        return Operation(
            gov.staking.set_reward_challenge_delay(seconds),
            ("GOVERNANCE_ROLE",),
            gov.staking.reward_challenge_delay,
            lambda delay: [f"reward challenge delay {_seconds(delay)}"],
            lambda _: seconds,
            ["applies to epochs published after the change"],
        )

    signing.send(build)


def veto_window_operation(gov: Gov, seconds: int) -> Operation[int]:
    def render(window: int) -> list[str]:
        return [f"veto window {_seconds(window)}"]

    notes = ["applies to slashes proposed after the change; pending ones keep their executableAt"]
    return Operation(
        gov.staking.set_veto_window(seconds),
        ("GOVERNANCE_ROLE",),
        gov.staking.veto_window,
        render,
        lambda _: seconds,
        notes,
    )
