"""Calls that pull stake tokens from the signer (`transferFrom`): `rewards fund` (the amount into an
epoch's pool) and `slash appeal` (the appeal bond). When the allowance is short, the token's
`approve` goes first; a dry run then simulates the approval and checks the pulling call's own
conditions instead (it cannot be simulated before the approval exists)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from staking.cli.chainops import describe_call, run, send
from staking.cli.common import confirm_or_abort, say, tokens
from staking.domain.vocabulary import Wei

if TYPE_CHECKING:
    from staking.chain.contracts import TokenContract
    from staking.cli.chainops import Gov, Operation, Signing


def approve_then_run(
    gov: Gov,
    token: TokenContract,
    amount: int,
    op: Operation[Any],
    signing: Signing,
    *,
    pulls: str,
    conditions: tuple[str, Callable[[], None]],
) -> None:
    """Run `op`, which pulls `amount` of `token` from the signer (`pulls`: what, in words); approve
    first if the allowance is short. `conditions`: (their names, a check that fails with a one-line
    error) of `op` besides the allowance, for a dry run that cannot simulate it."""
    signer = gov.signer.address
    allowance = int(token.contract.functions.allowance(signer, gov.staking.address).call())
    if allowance >= amount:
        signing.run(gov, op)
        return
    name = op.fn.fn_name
    approve = token.approve(gov.staking.address, Wei(amount))
    say(f"signer   {signer} ({gov.signer_source})")
    say(f"call     SwarmToken.{describe_call(approve)} at {token.address}")
    say(f"         first: the allowance is {tokens(allowance)} SWARM and {name} pulls {pulls}")
    call = {"from": signer, "to": token.address, "data": approve._encode_transaction_data()}
    gas = int(gov.w3.eth.estimate_gas(call))  # type: ignore[arg-type]  # also simulates it
    if signing.dry_run:
        _dry_run_unapproved(op, conditions)
        return
    confirm_or_abort(
        f"send approve and {name} from {signer} on chain {gov.deployment.chain_id}?", signing.yes
    )
    receipt = send(gov, approve, gas)
    tx = receipt["transactionHash"].to_0x_hex()
    say(f"sent     approve tx {tx}, mined in block {receipt['blockNumber']}")
    run(gov, op, dry_run=False, yes=True)


def _dry_run_unapproved(op: Operation[Any], conditions: tuple[str, Callable[[], None]]) -> None:
    names, check = conditions
    check()
    say(f"call     SwarmStaking.{describe_call(op.fn)}")
    before = op.read()
    assert op.predict is not None
    for label, lines in (("before", op.render(before)), ("after", op.render(op.predict(before)))):
        for i, line in enumerate(lines):
            prefix = "(predicted) " if label == "after" and i == 0 else ""
            say(f"{label if i == 0 else '':9}{prefix}{line}")
    say(
        f"dry run: approve would succeed, and {op.fn.fn_name}'s conditions hold ({names}; it cannot be "
        "simulated before the approval); nothing was sent"
    )
