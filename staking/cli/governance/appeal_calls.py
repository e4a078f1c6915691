"""TEMPORARY: the appeal calls of SwarmStaking (SPEC section 9) until helper A's wrapper methods
land in `staking.chain.contracts`; replaced by them after the merge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from staking.domain.vocabulary import AppealState, Wei

if TYPE_CHECKING:
    from web3.contract.contract import ContractFunction

    from staking.chain.contracts import StakingContract


@dataclass(frozen=True)
class AppealRecord:
    state: AppealState
    deadline: int
    bond: Wei
    evidence_hash: bytes


def get_appeal(staking: StakingContract, slash_id: bytes) -> AppealRecord:
    r = staking.contract.functions.getAppeal(slash_id).call()
    return AppealRecord(AppealState(r[0]), int(r[1]), Wei(r[2]), bytes(r[3]))


def appeal_bond(staking: StakingContract) -> Wei:
    return Wei(staking.contract.functions.appealBond().call())


def appeal_grace(staking: StakingContract) -> int:
    return int(staking.contract.functions.appealGrace().call())


def appeal_timeout(staking: StakingContract) -> int:
    return int(staking.contract.functions.appealTimeout().call())


def appeal_slash(staking: StakingContract, slash_id: bytes, evidence_hash: bytes) -> ContractFunction:
    return staking.contract.functions.appealSlash(slash_id, evidence_hash)


def resolve_appeal(
    staking: StakingContract, slash_id: bytes, upheld: bool, reason_hash: bytes
) -> ContractFunction:
    return staking.contract.functions.resolveAppeal(slash_id, upheld, reason_hash)
