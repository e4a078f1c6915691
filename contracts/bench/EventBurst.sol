// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice The slice of SwarmStaking that the benchmark fixture calls.
interface ISwarmStakingBurst {
    function register(uint8 class, uint32 gpus, string calldata metadataURI) external;
    function stake(uint256 amount) external;
    function requestUnbond(uint256 amount) external;
}

/// @title EventBurst
/// @notice BENCHMARK FIXTURE, devnet only (used by `benchmarks/indexer_backfill.py`); never deploy
///         it to a real network. It is a SwarmStaking provider of its own: deployment registers it
///         as a platform user with 0 GPUs and approves the staking contract for its token balance.
///         Each `burst` call then makes hundreds of tiny stakes and unbond requests, so one
///         transaction emits hundreds of SwarmStaking events (Staked, UnbondRequested) for the
///         indexer to backfill.
/// @dev    Fund it by transferring stake tokens to its address; every stake moves 1 base unit.
contract EventBurst {
    /// @notice Provider class 2: platform_user (no GPU count, the smallest minimum stake).
    uint8 public constant PLATFORM_USER = 2;

    /// @notice The SwarmStaking contract this fixture stakes in.
    ISwarmStakingBurst public immutable staking;
    /// @notice The stake token (sent to this contract beforehand).
    IERC20 public immutable token;

    /// @param staking_ the SwarmStaking deployment
    /// @param token_ its stake token
    constructor(ISwarmStakingBurst staking_, IERC20 token_) {
        staking = staking_;
        token = token_;
        // An infinite allowance: OpenZeppelin's ERC20 then skips the allowance update per transfer.
        require(token_.approve(address(staking_), type(uint256).max), "EventBurst: approve failed");
        staking_.register(PLATFORM_USER, 0, "bench://event-burst");
    }

    /// @notice Emits `stakes` Staked events (stake(1) each), then `unbonds` UnbondRequested events
    ///         (requestUnbond(1) each) from SwarmStaking. Needs `stakes` base units of the token here
    ///         and `unbonds` no larger than the active stake after the stakes.
    /// @param stakes number of 1-unit stakes
    /// @param unbonds number of 1-unit unbond requests, made after the stakes
    function burst(uint256 stakes, uint256 unbonds) external {
        for (uint256 i = 0; i < stakes; ++i) {
            staking.stake(1);
        }
        for (uint256 i = 0; i < unbonds; ++i) {
            staking.requestUnbond(1);
        }
    }
}
