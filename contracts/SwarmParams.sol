// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ISwarmStaking} from "./ISwarmStaking.sol";

/// @dev The caps' window is `BUCKETS` buckets of `ceil(capWindow / BUCKETS)` seconds; the
///      current bucket counts too, so the sums cover at least `capWindow` and any interval of
///      `capWindow` seconds lies within what one check sees: a strict bound, at O(1) gas.
uint256 constant BUCKETS = 24;
uint256 constant RING = BUCKETS + 1;

/// @dev One slot read by every verdict consequence: the verdict clock, the caps, the jail
///      counters of the rolling window (`jailsInHead` in bucket `jailHead`, `jailsInRing` in
///      the window's older buckets), the veto window (at most 30 days: 24 bits) and the pause
///      flag, so `whenNotPaused` costs a proposal or a jail no slot of its own.
struct Limits {
    uint32 maxVerdictAge;
    uint32 capWindow;
    uint32 jailCap;
    uint32 jailHead;
    uint32 jailsInHead;
    uint32 jailsInRing;
    uint16 slashCapBps;
    uint16 maxSlashBps;
    uint24 vetoWindow;
    bool paused;
}

/// @dev The bonded total, the per-severity bounds (4 x 16 bits, low first), the quorum and
///      the bucket of `_atStake.inHead`: one slot, read by every proposal.
struct Bonds {
    uint128 totalBonded;
    uint64 severityBounds;
    uint8 quorum;
    uint16 quorumBps;
    uint32 stakeHead;
}

/// @dev Stake put at stake in the current bucket and in the window's older buckets.
struct AtStake {
    uint128 inHead;
    uint128 inRing;
}

struct JailBucket {
    uint32 index;
    uint32 jails;
}

struct StakeBucket {
    uint32 index;
    uint128 amount;
}

/// @dev The appeal parameters, one slot.
struct AppealParams {
    uint128 bond;
    uint64 grace;
    uint64 timeout;
}


/// @dev What the contract owes besides bonded stake, so a sweep of the excess never touches it:
///      the pools of reward epochs not swept yet (claims already paid still count, which only
///      makes the excess smaller until the epoch is swept) and the bonds of open appeals.
struct Held {
    uint128 rewardPools;
    uint128 appealBonds;
}

/// @dev Storage form of {ISwarmStaking.Slash}: the jail of the verdict with the same id is flagged
///      in its second slot, so a verdict's jail and its proposal fill one fresh slot, not two.
struct SlashRecord {
    address provider;
    uint16 bps;
    ISwarmStaking.SlashState state;
    ISwarmStaking.EventType eventType;
    uint64 executableAt;
    uint128 amount;
    uint64 proposedAt;
    ISwarmStaking.Severity severity;
    bool jailUsed;
}

/// @dev {ISwarmStaking.Appeal} states, as `appealOf` returns them.
uint8 constant APPEAL_NONE = 0;
uint8 constant APPEAL_OPEN = 1;
uint8 constant APPEAL_UPHELD = 2;
uint8 constant APPEAL_REJECTED = 3;
uint8 constant APPEAL_EXPIRED = 4;

/// @dev Storage form of {Provider}: `released` fits the first slot, and `active` shares its
///      slot with `pendingAmount` (the sum of the pending proposals' amounts).
struct ProviderState {
    bool registered;
    bool tombstoned;
    bool jailed;
    ISwarmStaking.ProviderClass class;
    ISwarmStaking.RecoveryPath recoveryPath;
    ISwarmStaking.RecoveryStage recoveryStage;
    uint32 gpus;
    uint32 pendingSlashes;
    uint64 jailedUntil;
    uint64 unbondingEnd;
    bool released;
    uint128 active;
    uint128 pendingAmount;
    uint256 unbonding;
}

/// @title  SwarmParams
/// @notice SwarmStaking's cold governance code (the parameter setters and their bounds, the
///         tombstone and recovery standing), linked as an external
///         library (DELEGATECALL) so the staking contract stays under the 24,576-byte code limit.
///         The events and errors are ISwarmStaking's; delegate-called, they come from the staking
///         contract, whose storage the setters write.
library SwarmParams {
    using SafeERC20 for IERC20;

    uint16 internal constant MAX_BPS = 10_000;
    uint64 internal constant MAX_VETO_WINDOW = 30 days;
    uint64 internal constant MIN_VERDICT_AGE = 60;
    uint64 internal constant MAX_VERDICT_AGE = 30 days;
    uint64 internal constant MAX_UNBONDING_PERIOD = 365 days;
    uint64 internal constant UNBONDING_MARGIN = 1 hours;
    uint64 internal constant MIN_CAP_WINDOW = 1 hours;
    uint64 internal constant MAX_CAP_WINDOW = 30 days;
    uint8 internal constant MAX_QUORUM = 16;
    uint32 internal constant MAX_GPUS = 100_000;
    /// @dev The largest appeal bond setAppealParams accepts: 1,000,000 tokens.
    uint256 internal constant MAX_APPEAL_BOND = 1_000_000 ether;

    function setClassParams(
        mapping(uint8 => ISwarmStaking.ClassParams) storage classParams,
        Limits storage limits,
        uint8 class,
        uint256 baseMinStake,
        uint256 perGpuMinStake,
        uint64 unbondingPeriod
    ) external {
        if (class > uint8(type(ISwarmStaking.ProviderClass).max)) revert ISwarmStaking.InvalidClass(class);
        if (baseMinStake == 0 || unbondingPeriod > MAX_UNBONDING_PERIOD) revert ISwarmStaking.ParameterOutOfBounds();
        if (unbondingPeriod < limits.maxVerdictAge + UNBONDING_MARGIN) revert ISwarmStaking.ParameterOutOfBounds();
        classParams[class] = ISwarmStaking.ClassParams(baseMinStake, perGpuMinStake, unbondingPeriod);
        emit ISwarmStaking.ClassParamsSet(
            ISwarmStaking.ProviderClass(class), baseMinStake, perGpuMinStake, unbondingPeriod
        );
    }

    /// @dev `floor`: the chain's minVetoWindow, the shortest grace and timeout too.
    function setAppealParams(AppealParams storage params, uint64 floor, uint256 bond, uint64 grace, uint64 timeout)
        external
    {
        if (bond == 0 || bond > MAX_APPEAL_BOND || grace < floor || grace > MAX_VETO_WINDOW) {
            revert ISwarmStaking.ParameterOutOfBounds();
        }
        if (timeout < floor || timeout > MAX_VETO_WINDOW) revert ISwarmStaking.ParameterOutOfBounds();
        params.bond = uint128(bond);
        params.grace = grace;
        params.timeout = timeout;
        emit ISwarmStaking.AppealParamsSet(bond, grace, timeout);
    }

    function setVetoWindow(Limits storage limits, uint64 floor, uint64 window) external {
        if (window < floor || window > MAX_VETO_WINDOW) revert ISwarmStaking.ParameterOutOfBounds();
        limits.vetoWindow = uint24(window); // at most MAX_VETO_WINDOW, 30 days
        emit ISwarmStaking.VetoWindowSet(window);
    }

    /// @dev The age must leave every configured class's unbonding UNBONDING_MARGIN beyond it.
    function setMaxVerdictAge(
        mapping(uint8 => ISwarmStaking.ClassParams) storage classParams,
        Limits storage limits,
        uint64 age
    ) external {
        if (age < MIN_VERDICT_AGE || age > MAX_VERDICT_AGE) revert ISwarmStaking.ParameterOutOfBounds();
        for (uint8 c; c <= uint8(type(ISwarmStaking.ProviderClass).max); ++c) {
            ISwarmStaking.ClassParams storage params = classParams[c];
            if (params.baseMinStake != 0 && params.unbondingPeriod < age + UNBONDING_MARGIN) {
                revert ISwarmStaking.ParameterOutOfBounds();
            }
        }
        limits.maxVerdictAge = uint32(age);
        emit ISwarmStaking.MaxVerdictAgeSet(age);
    }

    /// @dev A new window length starts the buckets afresh (`index`: the new window's current
    ///      bucket); what the old window counted is carried into the new head bucket, so a change
    ///      never frees headroom early.
    function setCaps(
        Limits storage l,
        Bonds storage bonds,
        AtStake storage atStake,
        JailBucket[RING] storage jailRing,
        StakeBucket[RING] storage stakeRing,
        uint32 index,
        uint64 window,
        uint32 jailCap_,
        uint16 slashCapBps_,
        uint16 maxSlashBps_
    ) external {
        if (window < MIN_CAP_WINDOW || window > MAX_CAP_WINDOW || jailCap_ == 0) {
            revert ISwarmStaking.ParameterOutOfBounds();
        }
        if (slashCapBps_ == 0 || slashCapBps_ > MAX_BPS || maxSlashBps_ == 0 || maxSlashBps_ > MAX_BPS) {
            revert ISwarmStaking.ParameterOutOfBounds();
        }
        uint64 bounds = bonds.severityBounds;
        for (uint256 i; i < 4; ++i) {
            if (uint16(bounds >> (16 * i)) > maxSlashBps_) revert ISwarmStaking.ParameterOutOfBounds();
        }
        if (window != l.capWindow) {
            l.jailsInHead += l.jailsInRing;
            l.jailsInRing = 0;
            l.jailHead = index;
            atStake.inHead += atStake.inRing;
            atStake.inRing = 0;
            bonds.stakeHead = index;
            for (uint256 i; i < RING; ++i) {
                delete jailRing[i];
                delete stakeRing[i];
            }
        }
        l.capWindow = uint32(window);
        l.jailCap = jailCap_;
        l.slashCapBps = slashCapBps_;
        l.maxSlashBps = maxSlashBps_;
        emit ISwarmStaking.CapsSet(window, jailCap_, slashCapBps_, maxSlashBps_);
    }

    function setSeverityBounds(Bonds storage bonds, Limits storage limits, uint16[4] memory bounds) external {
        uint64 packed;
        uint16 previous;
        for (uint256 i; i < 4; ++i) {
            if (bounds[i] < previous || bounds[i] > limits.maxSlashBps) revert ISwarmStaking.ParameterOutOfBounds();
            previous = bounds[i];
            packed |= uint64(bounds[i]) << uint64(16 * i);
        }
        bonds.severityBounds = packed;
        emit ISwarmStaking.SeverityBoundsSet(bounds);
    }

    function setQuorum(Bonds storage bonds, uint8 quorum, uint16 quorumBps_) external {
        if (quorum == 0 || quorum > MAX_QUORUM || quorumBps_ > MAX_BPS) revert ISwarmStaking.ParameterOutOfBounds();
        bonds.quorum = quorum;
        bonds.quorumBps = quorumBps_;
        emit ISwarmStaking.QuorumSet(quorum, quorumBps_);
    }

    /// @dev The registered provider's state; reverts NotRegistered otherwise.
    function registered(mapping(address => ProviderState) storage providers, address provider)
        internal
        view
        returns (ProviderState storage p)
    {
        p = providers[provider];
        if (!p.registered) revert ISwarmStaking.NotRegistered(provider);
    }

    function tombstone(mapping(address => ProviderState) storage providers, address provider, bytes32 reasonHash)
        external
    {
        ProviderState storage p = registered(providers, provider);
        if (p.tombstoned) revert ISwarmStaking.ProviderIsTombstoned(provider);
        p.tombstoned = true;
        p.jailed = true;
        p.jailedUntil = 0;
        p.recoveryPath = ISwarmStaking.RecoveryPath.None;
        p.recoveryStage = ISwarmStaking.RecoveryStage.None;
        emit ISwarmStaking.Tombstoned(provider, reasonHash);
    }

    function releaseTombstoned(mapping(address => ProviderState) storage providers, address provider) external {
        ProviderState storage p = registered(providers, provider);
        if (!p.tombstoned) revert ISwarmStaking.NotTombstoned(provider);
        if (p.released) revert ISwarmStaking.NothingToReinstate(provider);
        p.released = true;
        emit ISwarmStaking.TombstonedStakeReleased(provider, msg.sender);
    }

    function advanceRecovery(mapping(address => ProviderState) storage providers, address provider) external {
        ProviderState storage p = registered(providers, provider);
        if (p.recoveryPath == ISwarmStaking.RecoveryPath.None) revert ISwarmStaking.NoRecoveryOpen(provider);
        if (p.recoveryStage >= ISwarmStaking.RecoveryStage.Restoration) {
            revert ISwarmStaking.RecoveryAtFinalStage(provider);
        }
        p.recoveryStage = ISwarmStaking.RecoveryStage(uint8(p.recoveryStage) + 1);
        emit ISwarmStaking.RecoveryAdvanced(provider, p.recoveryPath, p.recoveryStage);
    }

    function reinstate(mapping(address => ProviderState) storage providers, address provider, uint32 probationEpochs)
        external
    {
        ProviderState storage p = registered(providers, provider);
        if (p.tombstoned) revert ISwarmStaking.ProviderIsTombstoned(provider);
        ISwarmStaking.RecoveryPath path = p.recoveryPath;
        if (path == ISwarmStaking.RecoveryPath.None && !p.jailed) revert ISwarmStaking.NothingToReinstate(provider);
        if (path != ISwarmStaking.RecoveryPath.None && p.recoveryStage != ISwarmStaking.RecoveryStage.Restoration) {
            revert ISwarmStaking.RecoveryIncomplete(provider, p.recoveryStage);
        }
        p.recoveryPath = ISwarmStaking.RecoveryPath.None;
        p.recoveryStage = ISwarmStaking.RecoveryStage.None;
        p.jailed = false;
        p.jailedUntil = 0;
        emit ISwarmStaking.Reinstated(provider, path, probationEpochs);
    }

    /// @dev The council's lift of wrongful jails; tombstoned or free providers are skipped.
    function liftJails(mapping(address => ProviderState) storage providers, address[] calldata list, bytes32 reasonHash)
        external
        returns (uint256 lifted)
    {
        for (uint256 i; i < list.length; ++i) {
            ProviderState storage p = providers[list[i]];
            if (!p.jailed || p.tombstoned) continue;
            p.jailed = false;
            p.jailedUntil = 0;
            p.recoveryPath = ISwarmStaking.RecoveryPath.None;
            p.recoveryStage = ISwarmStaking.RecoveryStage.None;
            emit ISwarmStaking.JailLifted(list[i], msg.sender, reasonHash);
            ++lifted;
        }
    }

    /// @dev `path` is checked against the enum's range before it becomes a {RecoveryPath}.
    function beginRecovery(mapping(address => ProviderState) storage providers, address provider, uint8 path)
        external
    {
        if (path == uint8(ISwarmStaking.RecoveryPath.None) || path > uint8(type(ISwarmStaking.RecoveryPath).max)) {
            revert ISwarmStaking.InvalidRecoveryPath(path);
        }
        ISwarmStaking.RecoveryPath recoveryPath = ISwarmStaking.RecoveryPath(path);
        ProviderState storage p = registered(providers, provider);
        if (p.tombstoned) revert ISwarmStaking.ProviderIsTombstoned(provider);
        if (p.recoveryPath != ISwarmStaking.RecoveryPath.None) revert ISwarmStaking.RecoveryOpen(provider);
        p.recoveryStage = ISwarmStaking.RecoveryStage.Response;
        p.recoveryPath = recoveryPath; // last, as in register
        emit ISwarmStaking.RecoveryBegun(provider, recoveryPath, ISwarmStaking.RecoveryStage.Response);
    }

    /// @dev `class` is range-checked (InvalidClass) before it becomes a {ProviderClass}.
    function register(
        mapping(address => ProviderState) storage providers,
        uint8 class,
        uint32 gpus,
        string calldata metadataURI
    ) external {
        if (class > uint8(type(ISwarmStaking.ProviderClass).max)) revert ISwarmStaking.InvalidClass(class);
        ISwarmStaking.ProviderClass providerClass = ISwarmStaking.ProviderClass(class);
        if (gpus > MAX_GPUS || (providerClass == ISwarmStaking.ProviderClass.HardwareProvider && gpus == 0)) {
            revert ISwarmStaking.InvalidGpuCount(gpus);
        }
        ProviderState storage p = providers[msg.sender];
        if (p.registered) revert ISwarmStaking.AlreadyRegistered(msg.sender);
        p.registered = true;
        p.gpus = gpus;
        // Enum stores go last in a slot: their range check would keep the optimizer from merging
        // the writes that follow into one SSTORE.
        p.class = providerClass;
        emit ISwarmStaking.ProviderRegistered(msg.sender, providerClass, gpus, metadataURI);
    }

    function requestUnbond(
        mapping(address => ProviderState) storage providers,
        mapping(uint8 => ISwarmStaking.ClassParams) storage classParams,
        uint256 amount
    ) external {
        if (amount == 0) revert ISwarmStaking.ZeroAmount();
        ProviderState storage p = registered(providers, msg.sender);
        if (amount > p.active) revert ISwarmStaking.InsufficientStake(amount, p.active);
        p.active -= uint128(amount);
        p.unbonding += amount;
        uint64 end = uint64(block.timestamp) + classParams[uint8(p.class)].unbondingPeriod;
        if (end > p.unbondingEnd) p.unbondingEnd = end;
        emit ISwarmStaking.UnbondRequested(msg.sender, amount, p.active, p.unbonding, p.unbondingEnd);
    }

    /// @dev A timed jail that has run out, with no recovery open and the class minimum staked.
    function unjail(
        mapping(address => ProviderState) storage providers,
        mapping(uint8 => ISwarmStaking.ClassParams) storage classParams
    ) external {
        ProviderState storage p = registered(providers, msg.sender);
        if (p.tombstoned) revert ISwarmStaking.ProviderIsTombstoned(msg.sender);
        if (!p.jailed) revert ISwarmStaking.NotJailed(msg.sender);
        if (p.jailedUntil == 0 || block.timestamp < p.jailedUntil) revert ISwarmStaking.JailNotExpired(p.jailedUntil);
        if (p.recoveryPath != ISwarmStaking.RecoveryPath.None) revert ISwarmStaking.RecoveryOpen(msg.sender);
        uint256 minimum = minStake(classParams[uint8(p.class)], p.gpus);
        if (p.active < minimum) revert ISwarmStaking.BelowMinimumStake(p.active, minimum);
        p.jailed = false;
        p.jailedUntil = 0;
        emit ISwarmStaking.Unjailed(msg.sender, msg.sender);
    }

    /// @dev A jail blocks withdrawals (the stake must still be there when its slash lands); a
    ///      timed jail that has run out does not. A tombstoned provider's stake stays frozen
    ///      until governance releases it.
    function withdraw(
        mapping(address => ProviderState) storage providers,
        Bonds storage bonds,
        IERC20 token,
        uint256 amount
    ) external {
        if (amount == 0) revert ISwarmStaking.ZeroAmount();
        ProviderState storage p = registered(providers, msg.sender);
        if (p.jailed && !p.released && (p.jailedUntil == 0 || block.timestamp < p.jailedUntil)) {
            revert ISwarmStaking.ProviderIsJailed(msg.sender);
        }
        if (p.pendingSlashes != 0) revert ISwarmStaking.WithdrawalBlockedBySlash(msg.sender, p.pendingSlashes);
        if (block.timestamp < p.unbondingEnd) revert ISwarmStaking.UnbondingNotFinished(p.unbondingEnd);
        if (amount > p.unbonding) revert ISwarmStaking.InsufficientStake(amount, p.unbonding);
        p.unbonding -= amount;
        bonds.totalBonded -= uint128(amount);
        emit ISwarmStaking.Withdrawn(msg.sender, amount, p.unbonding);
        token.safeTransfer(msg.sender, amount);
    }

    /// @return the minimum active stake of a provider with `gpus` GPUs under class parameters `c`
    function minStake(ISwarmStaking.ClassParams storage c, uint32 gpus) internal view returns (uint256) {
        return c.baseMinStake + c.perGpuMinStake * gpus;
    }

    function stake(
        mapping(address => ProviderState) storage providers,
        Bonds storage bonds,
        IERC20 token,
        uint256 amount
    ) external {
        if (amount == 0) revert ISwarmStaking.ZeroAmount();
        ProviderState storage p = registered(providers, msg.sender);
        if (p.tombstoned) revert ISwarmStaking.ProviderIsTombstoned(msg.sender);
        uint256 total = uint256(bonds.totalBonded) + amount;
        if (total > type(uint128).max) revert ISwarmStaking.AmountTooLarge(total);
        bonds.totalBonded = uint128(total);
        p.active += uint128(amount); // fits: the total bonded does
        emit ISwarmStaking.Staked(msg.sender, amount, p.active);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }
}
