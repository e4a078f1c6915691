"""Reward epochs driven on the contract: fund a pool, publish a root, finish an epoch."""

from __future__ import annotations

from typing import Any

from web3.types import TxReceipt

from staking.rewards.merkle import WeightTree
from tests.support.chain import Chain

EPOCH_LENGTH = 600


def fn(chain: Chain) -> Any:
    """Raw contract functions (setters and views the typed wrapper does not expose)."""
    return chain.staking.contract.functions


def genesis(chain: Chain) -> int:
    return int(fn(chain).epochGenesis().call())


def finish_epoch(chain: Chain, epoch: int) -> None:
    """Mines a block in epoch `epoch + 1` so `epoch` counts as finished."""
    start_of_next = genesis(chain) + (epoch + 1) * EPOCH_LENGTH
    if chain.now() < start_of_next:
        chain.mine(start_of_next)


def fund(chain: Chain, epoch: int, amount: int, funder: str | None = None) -> TxReceipt:
    funder = funder or chain.governance
    chain.tx(chain.token.approve(chain.staking.address, amount), funder)
    return chain.tx(chain.staking.fund_rewards(epoch, amount), funder)


def publish(chain: Chain, epoch: int, tree: WeightTree, total_weight: int | None = None) -> TxReceipt:
    total = tree.total_weight if total_weight is None else total_weight
    return chain.tx(
        chain.staking.publish_eligibility(epoch, tree.root, total, "ipfs://weights"), chain.service
    )
