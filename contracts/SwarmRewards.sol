// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ISwarmStaking} from "./ISwarmStaking.sol";
import {Held} from "./SwarmParams.sol";

/// @dev Storage form of {ISwarmStaking.Epoch}, three slots: the root; the pool and what was
///      claimed of it (read and written together by every claim); the total weight, when claims
///      open (the end of the council's challenge) and the published flag, which a claim reads
///      together.
struct EpochState {
    bytes32 merkleRoot;
    uint128 pool;
    uint128 claimed;
    uint184 totalWeight;
    uint64 claimableAt;
    bool published;
}

/// @dev The longest challenge of a published root governance may set.
uint64 constant MAX_CHALLENGE_DELAY = 7 days;
/// @dev How long after its claims open an epoch's rewards stay claimable; afterwards governance
///      sweeps what is left of the pool (unclaimed shares, rounding dust, an empty root's pool).
uint64 constant CLAIM_PERIOD = 180 days;

/// @title SwarmRewards
/// @notice The reward epochs of {SwarmStaking}: funding, the oracle's Merkle root, the council's
///         challenge of it, claims and the sweep of what strands. An external library, called by
///         DELEGATECALL, so its code does not count against SwarmStaking's size limit; its events
///         and errors are {ISwarmStaking}'s and are emitted from SwarmStaking's address.
library SwarmRewards {
    using SafeERC20 for IERC20;

    function fund(
        mapping(uint64 => EpochState) storage epochs,
        Held storage held,
        IERC20 token,
        uint64 epoch,
        uint256 amount
    ) external {
        if (amount == 0) revert ISwarmStaking.ZeroAmount();
        EpochState storage e = epochs[epoch];
        if (e.published) revert ISwarmStaking.EpochAlreadyPublished(epoch);
        uint256 pool = uint256(e.pool) + amount;
        uint256 owed = uint256(held.rewardPools) + amount;
        if (owed > type(uint128).max) revert ISwarmStaking.AmountTooLarge(owed);
        e.pool = uint128(pool);
        held.rewardPools = uint128(owed);
        emit ISwarmStaking.RewardsFunded(epoch, msg.sender, amount, pool);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @dev `current`: the current epoch; `delay`: the challenge delay in force.
    function publish(
        mapping(uint64 => EpochState) storage epochs,
        uint64 epoch,
        uint64 current,
        uint64 delay,
        bytes32 merkleRoot,
        uint256 totalWeight,
        string calldata uri
    ) external {
        if (epoch >= current) revert ISwarmStaking.EpochNotFinished(epoch);
        EpochState storage e = epochs[epoch];
        if (e.published) revert ISwarmStaking.EpochAlreadyPublished(epoch);
        if ((merkleRoot == bytes32(0)) != (totalWeight == 0) || totalWeight > type(uint184).max) {
            revert ISwarmStaking.InvalidEligibility();
        }
        uint64 claimableAt = uint64(block.timestamp) + delay;
        e.merkleRoot = merkleRoot;
        e.totalWeight = uint184(totalWeight);
        e.claimableAt = claimableAt;
        e.published = true;
        emit ISwarmStaking.EligibilityPublished(epoch, merkleRoot, totalWeight, e.pool, uri);
        emit ISwarmStaking.ClaimsOpenAt(epoch, claimableAt);
    }

    /// @dev The council's revocation of a root still under challenge: nothing was claimed of it
    ///      (claims open at `claimableAt`), and the oracle may publish the epoch again.
    function revoke(mapping(uint64 => EpochState) storage epochs, uint64 epoch, bytes32 reasonHash) external {
        EpochState storage e = epochs[epoch];
        if (!e.published) revert ISwarmStaking.EpochNotPublished(epoch);
        if (block.timestamp >= e.claimableAt) revert ISwarmStaking.ChallengeClosed(epoch, e.claimableAt);
        e.merkleRoot = bytes32(0);
        e.totalWeight = 0;
        e.claimableAt = 0;
        e.published = false;
        emit ISwarmStaking.EligibilityRevoked(epoch, msg.sender, reasonHash);
    }

    function claim(
        mapping(uint64 => EpochState) storage epochs,
        mapping(address => mapping(uint256 => uint256)) storage claimedEpochs,
        IERC20 token,
        uint64 epoch,
        uint256 weight,
        bytes32[] calldata proof
    ) external {
        EpochState storage e = epochs[epoch];
        if (!e.published) revert ISwarmStaking.EpochNotPublished(epoch);
        uint64 claimableAt = e.claimableAt;
        if (block.timestamp < claimableAt) revert ISwarmStaking.ClaimsNotOpen(epoch, claimableAt);
        if (block.timestamp >= claimableAt + CLAIM_PERIOD) revert ISwarmStaking.ClaimPeriodOver(epoch);
        mapping(uint256 => uint256) storage claimedWords = claimedEpochs[msg.sender];
        uint256 word = claimedWords[epoch >> 8];
        uint256 bit = 1 << (epoch & 0xff);
        if (word & bit != 0) revert ISwarmStaking.AlreadyClaimed(epoch, msg.sender);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(msg.sender, weight))));
        if (weight == 0 || !MerkleProof.verifyCalldata(proof, e.merkleRoot, leaf)) {
            revert ISwarmStaking.InvalidProof();
        }
        uint256 pool = e.pool;
        uint256 claimed = e.claimed;
        uint256 amount = (pool * weight) / e.totalWeight;
        // A root whose weights sum above totalWeight must not drain other epochs' pools.
        if (amount > pool - claimed) revert ISwarmStaking.PoolOverdrawn(epoch, amount, pool - claimed);
        claimedWords[epoch >> 8] = word | bit;
        e.claimed = uint128(claimed + amount);
        emit ISwarmStaking.RewardClaimed(epoch, msg.sender, weight, amount);
        if (amount != 0) token.safeTransfer(msg.sender, amount);
    }

    /// @dev What is left of a published epoch's pool once its claim period is over goes to
    ///      `treasury`; the epoch is then closed (`claimed == pool`).
    function sweepEpoch(
        mapping(uint64 => EpochState) storage epochs,
        Held storage held,
        IERC20 token,
        address treasury,
        uint64 epoch
    ) external {
        EpochState storage e = epochs[epoch];
        if (!e.published) revert ISwarmStaking.EpochNotPublished(epoch);
        uint256 closesAt = uint256(e.claimableAt) + CLAIM_PERIOD;
        if (block.timestamp < closesAt) revert ISwarmStaking.ClaimPeriodOpen(epoch, closesAt);
        uint256 pool = e.pool;
        uint256 amount = pool - e.claimed;
        if (amount == 0) revert ISwarmStaking.ZeroAmount();
        e.claimed = uint128(pool);
        held.rewardPools -= uint128(pool);
        emit ISwarmStaking.RewardsSwept(epoch, treasury, amount);
        token.safeTransfer(treasury, amount);
    }

    /// @dev Tokens beyond what the contract owes (`bonded` stake, `held`): sent to it directly,
    ///      or the claims of epochs swept since. Bonded stake and owed rewards are never touched.
    function sweepExcess(Held storage held, IERC20 token, address treasury, uint256 bonded) external {
        uint256 owed = bonded + held.rewardPools + held.appealBonds;
        uint256 balance = token.balanceOf(address(this));
        if (balance <= owed) revert ISwarmStaking.ZeroAmount();
        uint256 amount = balance - owed;
        emit ISwarmStaking.ExcessSwept(treasury, amount);
        token.safeTransfer(treasury, amount);
    }
}
