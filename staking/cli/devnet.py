"""`swarm-staking devnet`: a local chain with the contracts deployed and the demo providers staked."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from staking.cli.common import SERVICE, app, console, fail, tokens

if TYPE_CHECKING:
    from staking.chain.contracts import StakingContract
    from staking.deployment import Deployment


@app.command(rich_help_panel=SERVICE)
def devnet(
    node: Annotated[str, typer.Option(help="local chain: anvil or hardhat")] = "anvil",
    port: Annotated[int, typer.Option(help="JSON-RPC port on 127.0.0.1")] = 8545,
    block_time: Annotated[int, typer.Option(help="seconds per block after set-up; 0 = automine")] = 1,
    deployment: Annotated[Path, typer.Option(help="where to write the deployment file")] = Path(
        "deployments/localhost.json"
    ),
    governance: Annotated[
        str,
        typer.Option(
            help="eoa: account #0 governs (quick demos); "
            "safe: a timelock and two 2-of-3 Safes (SPEC section 9)"
        ),
    ] = "eoa",
) -> None:
    """Start a local chain, compile, deploy, stake the demo providers; run until Ctrl-C."""
    from staking.chain.contracts import StakingContract
    from staking.devnet.build import BuildError, ensure_compiled
    from staking.devnet.node import LocalNode, NodeError
    from staking.devnet.provision import provision_devnet

    if node not in ("anvil", "hardhat"):
        fail(f"--node must be anvil or hardhat, not {node!r}")
    if governance not in ("eoa", "safe"):
        fail(f"--governance must be eoa or safe, not {governance!r}")
    if block_time < 0:
        fail("--block-time must be 0 (automine) or a positive number of seconds")
    try:
        if ensure_compiled():
            console.print("compiled contracts")
        chain = LocalNode.start(node, port)  # type: ignore[arg-type]
    except (BuildError, NodeError) as exc:
        fail(str(exc))

    # Ctrl-C and SIGTERM both stop the chain cleanly. SIGINT is re-armed explicitly because a
    # process started in the background by a non-interactive shell inherits it as ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        try:
            result = provision_devnet(chain.w3, chain.rpc_url, governance=governance)
        except Exception as exc:
            fail(f"devnet set-up failed: {exc} (chain log: {chain.log_path})")
        result.save(deployment)
        chain.set_block_time(block_time)
        staking = StakingContract(chain.w3, result.contracts.SwarmStaking)
        _print_summary(node, chain.rpc_url, block_time, deployment, result, staking)
        while chain.alive():
            time.sleep(0.5)
        fail(f"the {node} process exited unexpectedly; see {chain.log_path}")
    except KeyboardInterrupt:
        console.print(f"\nstopping {node} …")
    finally:
        chain.stop()
    console.print("devnet stopped")


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _print_summary(
    node: str, rpc_url: str, block_time: int, path: Path, result: Deployment, staking: StakingContract
) -> None:
    console.print(
        f"[bold green]devnet ready[/]: {node} at {rpc_url} (chain id {result.chain_id}, "
        f"{'automine' if block_time == 0 else f'{block_time}s blocks'})"
    )
    console.print(f"  SwarmStaking {result.contracts.SwarmStaking}")
    console.print(f"  SwarmToken   {result.contracts.SwarmToken}")
    console.print(f"  deployment   {path}")
    a, g = result.accounts, result.governance
    if g.mode == "safe":
        console.print(f"  timelock     {g.timelock} (GOVERNANCE_ROLE, admin; {g.min_delay} s delay)")
        console.print(
            f"  governance   Safe {g.governance_safe}, {g.threshold} of accounts #11-#13 (proposes)"
        )
        console.print(
            f"  council      Safe {g.council_safe}, {g.council_threshold} of accounts #14-#16 (vetoes, "
            "pauses)"
        )
        console.print(f"  service #1 {a.service} · detector #2 {a.detector} · #0 deployed and holds no role")
    else:
        console.print(f"  governance #0 {a.governance} · service #1 {a.service} · detector #2 {a.detector}")
    table = Table(title="demo providers", show_edge=False)
    for col in ("account", "class", "gpus", "stake (SWARM)", "minimum"):
        table.add_column(col)
    for p in a.providers:
        rec = staking.provider(p)
        table.add_row(
            p, rec.provider_class.wire, str(rec.gpus), tokens(rec.active), tokens(staking.min_stake_of(p))
        )
    console.print(table)
    console.print(
        "keys: the public default mnemonic 'test test … junk' (devnet only). Ctrl-C stops the chain."
    )
