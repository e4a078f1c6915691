"""`swarm-staking timelock list|execute|cancel`: what the governance Safe queued on the timelock
(SPEC section 9), read from the timelock's own events (CallScheduled, CallSalt) and its state now.

`execute` may be sent by anyone once the ETA has passed (the timelock's executors are open);
`cancel` is the governance Safe's, signed and collected like any Safe transaction."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from eth_utils import to_checksum_address

from staking.cli.chainops import Gov, Signing, describe_call, open_reader, simulate_call, with_signing
from staking.cli.common import GOVERNANCE, app, confirm_or_abort, fail, relative, say, utc
from staking.cli.routes import GovernanceSigning, owner_signer, through_safe, with_governance

if TYPE_CHECKING:
    from staking.chain.timelock import ScheduledOperation, TimelockContract

timelock_app = typer.Typer(
    help="The governance timelock: list, execute, cancel queued operations.", no_args_is_help=True
)
app.add_typer(timelock_app, name="timelock", rich_help_panel=GOVERNANCE)

OperationArg = Annotated[str, typer.Argument(help="operation id (0x + 64 hex), from `timelock list`")]


def _timelock(gov: Gov) -> TimelockContract:
    from staking.chain.timelock import TimelockContract

    g = gov.deployment.governance
    if g.mode != "safe" or g.timelock is None:
        fail("this deployment has no timelock: governance is one key (devnet --governance eoa)")
    return TimelockContract(gov.w3, to_checksum_address(g.timelock))


def describe(gov: Gov, op: ScheduledOperation) -> str:
    """The queued call in words: `SwarmStaking.setVetoWindow(window=300)` when it decodes."""
    if op.call.target == gov.staking.address:
        try:
            fn, args = gov.staking.contract.decode_function_input(op.call.data)
            bound = fn(*(args[i["name"]] for i in fn.abi["inputs"]))
            return f"SwarmStaking.{describe_call(bound)}"
        except ValueError:
            pass
    return f"call {op.call.target} data 0x{op.call.data.hex()[:16]}…"


def _operations(gov: Gov) -> list[ScheduledOperation]:
    from staking.chain.timelock import scheduled_operations

    return scheduled_operations(_timelock(gov), gov.deployment.deployed_block)


def _find(gov: Gov, value: str) -> ScheduledOperation:
    from staking.cli.governance.operations import parse_id

    wanted = parse_id(value, "operation id")
    for op in _operations(gov):
        if op.operation_id == wanted:
            return op
    fail(f"no operation 0x{wanted.hex()} was scheduled on the timelock {gov.deployment.governance.timelock}")


@timelock_app.command("list")
def timelock_list(
    everything: Annotated[bool, typer.Option("--all", help="also done and cancelled operations")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="a JSON array")] = False,
) -> None:
    """Queued operations with their ETA, oldest first (pending and ready; --all: every one)."""
    gov = open_reader()
    ops = [o for o in _operations(gov) if everything or o.state in ("pending", "ready")]
    now = gov.now()
    if as_json:
        typer.echo(json.dumps([
            {"id": "0x" + o.operation_id.hex(), "state": o.state, "eta": o.eta if o.eta > 1 else None,
             "delay": o.delay, "scheduled_block": o.scheduled_block, "target": o.call.target,
             "data": "0x" + o.call.data.hex(), "salt": "0x" + o.call.salt.hex(), "call": describe(gov, o)}
            for o in ops
        ], indent=2))  # fmt: skip
        return
    for o in ops:
        when = f"ETA {utc(o.eta)} ({relative(o.eta, now)})" if o.eta > 1 else ""
        say(f"0x{o.operation_id.hex()}  {o.state:9}  {describe(gov, o)}  {when}".rstrip())
    waiting = sum(1 for o in ops if o.state in ("pending", "ready"))
    say(
        f"{waiting} queued operation{'' if waiting == 1 else 's'} on the timelock "
        f"{gov.deployment.governance.timelock}"
    )


@timelock_app.command("execute")
@with_signing
def timelock_execute(operation: OperationArg, signing: Signing) -> None:
    """Run a queued operation whose ETA has passed (anyone may: the executors are open)."""
    gov = signing.open()
    timelock = _timelock(gov)
    op = _find(gov, operation)
    say(f"operation 0x{op.operation_id.hex()}: {describe(gov, op)}")
    now = gov.now()
    if op.state == "pending":
        fail(
            f"operation 0x{op.operation_id.hex()} is not ready: its ETA is {utc(op.eta)} "
            f"({relative(op.eta, now)})"
        )
    if op.state != "ready":
        fail(f"operation 0x{op.operation_id.hex()} is {op.state}")
    fn = timelock.execute(op.call)
    say(f"signer   {gov.signer.address} ({gov.signer_source})")
    gas = simulate_call(
        gov, gov.signer.address, timelock.address, fn._encode_transaction_data(), "TimelockController.execute"
    )
    if signing.dry_run:
        say(f"dry run: execute would succeed (about {gas:,} gas); nothing was sent")
        return
    confirm_or_abort(f"execute it from {gov.signer.address} on chain {gov.deployment.chain_id}?", signing.yes)
    from staking.chain.sender import Sender

    receipt = Sender(gov.w3, gov.signer).transact(fn, "TimelockController.execute")
    say(
        f"sent     tx {receipt['transactionHash'].to_0x_hex()}, mined in block "
        f"{receipt['blockNumber']}; operation done"
    )


@timelock_app.command("cancel")
@with_governance
def timelock_cancel(operation: OperationArg, signing: Signing) -> None:
    """Cancel a queued operation (the governance Safe: its owners sign as for any Safe call)."""
    from staking.chain.safe import SafeContract, calldata

    assert isinstance(signing, GovernanceSigning)
    gov = signing.open()
    timelock = _timelock(gov)
    op = _find(gov, operation)
    say(f"operation 0x{op.operation_id.hex()}: {describe(gov, op)} ({op.state})")
    if op.state not in ("pending", "ready"):
        fail(f"operation 0x{op.operation_id.hex()} is {op.state}: nothing to cancel")
    g = gov.deployment.governance
    assert g.governance_safe is not None
    safe = SafeContract(gov.w3, to_checksum_address(g.governance_safe))
    data = calldata(timelock.cancel(op.operation_id))
    signer = owner_signer(gov, safe)
    say(f"route    the governance Safe {safe.address} cancels it (CANCELLER_ROLE)")
    say(f"signer   {signer.address} ({gov.signer_source})")
    simulate_call(gov, safe.address, timelock.address, "0x" + data.hex(), "TimelockController.cancel")
    if through_safe(gov, safe, signer, timelock.address, data, "cancel", signing) is not None:
        say(f"after    operation 0x{op.operation_id.hex()} cancelled")
