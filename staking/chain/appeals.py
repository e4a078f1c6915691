"""SwarmStaking's appeals (SPEC section 9): the typed views and writes, mixed into
`StakingContract` so its module stays small. Writes return `ContractFunction`s, as there."""

from __future__ import annotations

from dataclasses import dataclass

from web3.contract import Contract
from web3.contract.contract import ContractFunction

from staking.domain.vocabulary import AppealState, Wei


@dataclass(frozen=True)
class AppealRecord:
    state: AppealState
    deadline: int  # appealed at + appealTimeout, unix seconds
    bond: Wei
    evidence_hash: bytes


@dataclass(frozen=True)
class AppealParams:
    bond: Wei
    grace: int  # seconds a rejected appeal's slash stays vetoable at least
    timeout: int  # seconds an appeal stays open


class AppealsMixin:
    contract: Contract

    # ---- views
    def appeal_of(self, slash_id: bytes) -> AppealState:
        return AppealState(self.contract.functions.appealOf(slash_id).call())

    def get_appeal(self, slash_id: bytes) -> AppealRecord:
        r = self.contract.functions.getAppeal(slash_id).call()
        return AppealRecord(state=AppealState(r[0]), deadline=r[1], bond=Wei(r[2]), evidence_hash=bytes(r[3]))

    def appeal_params(self) -> AppealParams:
        f = self.contract.functions
        return AppealParams(
            bond=Wei(f.appealBond().call()), grace=f.appealGrace().call(), timeout=f.appealTimeout().call()
        )

    # ---- writes
    def appeal_slash(self, slash_id: bytes, evidence_hash: bytes) -> ContractFunction:
        """The slashed provider, inside the veto window; approve appealBond() tokens first."""
        return self.contract.functions.appealSlash(slash_id, evidence_hash)

    def resolve_appeal(self, slash_id: bytes, upheld: bool, reason_hash: bytes) -> ContractFunction:
        """VETOER_ROLE, while the appeal is open."""
        return self.contract.functions.resolveAppeal(slash_id, upheld, reason_hash)

    def set_appeal_params(self, bond: Wei, grace: int, timeout: int) -> ContractFunction:
        """GOVERNANCE_ROLE, bounded on chain."""
        return self.contract.functions.setAppealParams(bond, grace, timeout)
