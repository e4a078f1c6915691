"""SwarmStaking's challenge of published reward roots, the sweeps of what strands, the council's
revocation of a detector and the two-step admin (SPEC section 9): typed views and writes, mixed
into `StakingContract` so its module stays small. Writes return `ContractFunction`s, as there."""

from __future__ import annotations

from eth_utils import to_checksum_address
from web3.contract import Contract
from web3.contract.contract import ContractFunction


class CouncilMixin:
    contract: Contract

    # ---- views
    def reward_challenge_delay(self) -> int:
        """Seconds after a publication during which the council may revoke the root."""
        return int(self.contract.functions.rewardChallengeDelay().call())

    def claimable_at(self, epoch: int) -> int:
        """When claims of `epoch` open (unix seconds; 0 while unpublished)."""
        return int(self.contract.functions.claimableAt(epoch).call())

    def default_admin(self) -> str:
        return str(to_checksum_address(self.contract.functions.defaultAdmin().call()))

    # ---- writes
    def revoke_detector(self, account: str) -> ContractFunction:
        """VETOER_ROLE: DETECTOR_ROLE off `account`, at once (the council contains a detector)."""
        return self.contract.functions.revokeDetector(to_checksum_address(account))

    def revoke_eligibility(self, epoch: int, reason_hash: bytes) -> ContractFunction:
        """VETOER_ROLE, before claims open: the root is withdrawn and may be published again."""
        return self.contract.functions.revokeEligibility(epoch, reason_hash)

    def sweep_epoch(self, epoch: int) -> ContractFunction:
        """GOVERNANCE_ROLE, after the claim period: the epoch's unclaimed remainder to the treasury."""
        return self.contract.functions.sweepEpoch(epoch)

    def sweep_excess(self) -> ContractFunction:
        """GOVERNANCE_ROLE: tokens beyond bonded stake, reward pools and appeal bonds to the treasury."""
        return self.contract.functions.sweepExcess()

    def set_reward_challenge_delay(self, seconds: int) -> ContractFunction:
        return self.contract.functions.setRewardChallengeDelay(seconds)
