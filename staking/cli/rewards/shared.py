"""What the `rewards` commands share: their arguments, the one-line explanations of the rewards
reverts, and the rendering of an epoch as the contract holds it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from staking.cli.common import tokens
from staking.cli.reverts import HINTS

if TYPE_CHECKING:
    from staking.chain.contracts import EpochRecord, TokenContract
    from staking.cli.chainops import Gov

EpochArg = Annotated[int, typer.Argument(min=0, help="reward epoch number")]
JsonOpt = Annotated[bool, typer.Option("--json", help="the JSON document")]

# One-line explanations of the rewards reverts, next to the governance ones.
HINTS.update(
    {
        "EpochAlreadyPublished": "epoch {epoch} is already published (swarm-staking rewards show {epoch})",
        "EpochNotFinished": "epoch {epoch} is still running on chain; publish it after it ends",
        "EpochNotPublished": "epoch {epoch} is not published yet: claims open once its root is",
        "AlreadyClaimed": "{account} already claimed its reward of epoch {epoch}",
        "InvalidProof": "the weight and proof do not match the root published for the epoch",
        "PoolOverdrawn": (
            "the claim of {amount} exceeds the {remaining} left in epoch {epoch}'s pool: the published"
            " weights sum above its total weight, so the root is wrong (report it to the rewards oracle)"
        ),
        "InvalidEligibility": "a zero root goes with a zero total weight, and only with it",
        "ZeroAmount": "the amount must be positive",
        "ClaimsNotOpen": "claims of epoch {epoch} open at {claimableAt_utc} (the council's challenge)",
        "ChallengeClosed": "claims of epoch {epoch} opened at {claimableAt_utc}: too late to revoke its root",
        "ClaimPeriodOver": "the claim period of epoch {epoch} is over: what is left goes to the treasury",
        "ClaimPeriodOpen": "epoch {epoch} stays claimable until {closesAt_utc}; sweep it afterwards",
    }
)


def not_computed(epoch: int) -> str:
    return f"epoch {epoch} is not computed (the worker computes each epoch once it has ended)"


def epoch_lines(epoch: int, rec: EpochRecord) -> list[str]:
    """An epoch as `getEpoch` answers it: published or not, its root, total weight and pool."""
    pool = f"pool {tokens(rec.pool)} SWARM, {tokens(rec.claimed)} SWARM claimed"
    if not rec.published:
        return [f"epoch {epoch}: not published; {pool}"]
    return [
        f"epoch {epoch}: published, root 0x{rec.merkle_root.hex()}, total weight {rec.total_weight:,}; {pool}"
    ]


def stake_token(gov: Gov) -> TokenContract:
    """The token the contract stakes and pays rewards in."""
    from staking.chain.contracts import TokenContract

    return TokenContract(gov.w3, gov.staking.stake_token())
