"""`rewards fund` and `rewards claim`: tokens into an epoch's reward pool (anyone, before the epoch
is published) and out of it (a provider with its own key, `pool * weight // totalWeight`, with the
weight and proof from the service database)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated

import typer

from staking.cli.allowance import approve_then_run
from staking.cli.chainops import Signing, with_signing
from staking.cli.common import fail, tokens
from staking.cli.reverts import HINTS
from staking.cli.rewards.read import eligible_proof
from staking.cli.rewards.shared import EpochArg, epoch_lines, stake_token
from staking.domain.vocabulary import TOKEN, Wei

if TYPE_CHECKING:
    from staking.chain.contracts import EpochRecord


def parse_amount(value: str, base_units: bool) -> int:
    try:
        amount = Decimal(value) * (1 if base_units else TOKEN)
    except InvalidOperation:
        amount = Decimal(-1)
    if amount <= 0 or amount != amount.to_integral_value():
        unit = "base units (a whole number)" if base_units else "SWARM with at most 18 decimals"
        fail(f"{value!r} is not a positive amount of {unit}")
    return int(amount)


# ------------------------------------------------------------------------------------ fund


@with_signing
def fund(
    epoch: EpochArg,
    amount: Annotated[str, typer.Argument(help="SWARM to add to the pool, e.g. 1000 or 0.5")],
    base_units: Annotated[bool, typer.Option("--base-units", help="AMOUNT is in base units")] = False,
    *,
    signing: Signing,
) -> None:
    """Add to an epoch's reward pool before it is published: approve (if needed) + fundRewards."""
    from staking.chain.contracts import EpochRecord
    from staking.cli.chainops import Operation

    value = parse_amount(amount, base_units)
    gov = signing.open()
    token = stake_token(gov)
    signer = gov.signer.address
    State = tuple[EpochRecord, int]

    def read() -> State:
        return gov.staking.epoch(epoch), token.balance_of(signer)

    def render(state: State) -> list[str]:
        rec, balance = state
        return [*epoch_lines(epoch, rec), f"funder {signer}: {tokens(balance)} SWARM"]

    def predict(state: State) -> State:
        rec, balance = state
        return replace(rec, pool=Wei(rec.pool + value)), balance - value

    op = Operation(gov.staking.fund_rewards(epoch, Wei(value)), (), read, render, predict)
    balance = token.balance_of(signer)
    if balance < value:
        fail(f"signer {signer} holds {tokens(balance)} SWARM; funding needs {tokens(value)} SWARM")

    def fundable() -> None:
        """What fundRewards depends on besides the allowance (the balance was checked)."""
        if gov.staking.epoch(epoch).published:
            fail(
                f"fundRewards would revert: EpochAlreadyPublished(epoch={epoch}): epoch {epoch} is published"
            )
        if gov.staking.paused():
            fail(f"fundRewards would revert: EnforcedPause: {HINTS['EnforcedPause']}")

    conditions = ("balance, epoch not published, not paused", fundable)
    approve_then_run(gov, token, value, op, signing, pulls="the amount", conditions=conditions)


# ------------------------------------------------------------------------------------ claim


@with_signing
def claim(epoch: EpochArg, signing: Signing) -> None:
    """Claim a provider's reward (its own key signs): pool * weight // totalWeight, proof from the DB."""
    from staking.cli.chainops import Operation

    gov = signing.open()
    if gov.signer_source.startswith("devnet "):
        fail("claim signs with the provider's own key: pass --keystore (or SWARM_SIGNER_KEY on the devnet)")
    provider = gov.signer.address
    doc = eligible_proof(epoch, provider)
    weight, total = int(doc["weight"]), int(doc["total_weight"])
    token = stake_token(gov)
    has_claimed = gov.staking.contract.functions.hasClaimed(epoch, provider)
    State = tuple["EpochRecord", int, bool]

    def read() -> State:
        return gov.staking.epoch(epoch), token.balance_of(provider), bool(has_claimed.call())

    def render(state: State) -> list[str]:
        rec, balance, claimed = state
        status = "claimed" if claimed else "not claimed"
        return [
            *epoch_lines(epoch, rec),
            f"provider {provider}: {tokens(balance)} SWARM; epoch {epoch} {status}",
        ]

    def predict(state: State) -> State:
        rec, balance, _ = state
        paid = rec.pool * weight // rec.total_weight if rec.total_weight else 0
        return replace(rec, claimed=Wei(rec.claimed + paid)), balance + paid, True

    notes = [f"weight {weight:,} of {total:,}: pays pool * weight // totalWeight (rounded down)"]
    proof_nodes = [bytes.fromhex(node[2:]) for node in doc["proof"]]
    op = Operation(gov.staking.claim(epoch, weight, proof_nodes), (), read, render, predict, notes)
    signing.run(gov, op)
