// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ISwarmStaking} from "./ISwarmStaking.sol";

/// @title SwarmStaking
/// @notice Performance bond of Swarm's node providers. Providers register in a class, stake the
///         stake token and unbond it through a class-specific unbonding period. The risk
///         framework's detectors sign EIP-712 verdicts; the slashing service (SLASHER_ROLE) turns
///         them into a jail (isolation) or a slash proposal that governance may veto during the
///         veto window, after which anyone may execute it. Slashed tokens go to the treasury.
///         Each epoch the rewards oracle publishes a Merkle root of reward weights and providers
///         claim their pro-rata share of that epoch's pool.
///         Enums, structs, events, errors and the external functions are declared in
///         {ISwarmStaking}.
/// @dev    Every state change emits an event so the off-chain indexer can rebuild all state from
///         logs alone; events therefore carry resulting totals, not only deltas.
contract SwarmStaking is ISwarmStaking, AccessControl, Pausable, ReentrancyGuard, EIP712 {
    using SafeERC20 for IERC20;

    // ------------------------------------------------------------------ roles

    /// @inheritdoc ISwarmStaking
    bytes32 public constant GOVERNANCE_ROLE = keccak256("GOVERNANCE_ROLE");
    /// @inheritdoc ISwarmStaking
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");
    /// @inheritdoc ISwarmStaking
    bytes32 public constant VETOER_ROLE = keccak256("VETOER_ROLE");
    /// @inheritdoc ISwarmStaking
    bytes32 public constant DETECTOR_ROLE = keccak256("DETECTOR_ROLE");
    /// @inheritdoc ISwarmStaking
    bytes32 public constant REWARDS_ORACLE_ROLE = keccak256("REWARDS_ORACLE_ROLE");

    /// @inheritdoc ISwarmStaking
    bytes32 public constant VERDICT_TYPEHASH = keccak256(
        "Verdict(bytes32 id,address provider,uint8 eventType,uint8 severity,uint64 detectedAt,bytes32 evidenceHash)"
    );

    // ------------------------------------------------------------------ bounds

    /// @inheritdoc ISwarmStaking
    uint16 public constant MAX_BPS = 10_000;
    /// @inheritdoc ISwarmStaking
    uint64 public constant MIN_VETO_WINDOW = 60;
    /// @inheritdoc ISwarmStaking
    uint64 public constant MAX_VETO_WINDOW = 30 days;
    /// @inheritdoc ISwarmStaking
    uint64 public constant MIN_VERDICT_AGE = 60;
    /// @inheritdoc ISwarmStaking
    uint64 public constant MAX_VERDICT_AGE = 30 days;
    /// @inheritdoc ISwarmStaking
    uint64 public constant MAX_UNBONDING_PERIOD = 365 days;
    /// @inheritdoc ISwarmStaking
    uint64 public constant MAX_JAIL_DURATION_LIMIT = 365 days;
    /// @inheritdoc ISwarmStaking
    uint32 public constant MAX_PROBATION_EPOCHS = 52;
    /// @inheritdoc ISwarmStaking
    uint32 public constant MAX_GPUS = 100_000;

    // ------------------------------------------------------------------ enum values
    // The enums of ISwarmStaking are the source of these numbers. The constants stay public for
    // callers that read them from the ABI; the contract itself uses the enums, and checks ranges
    // against `type(E).max` (a constant is re-evaluated where it is used, `+ 1` with its overflow check).

    /// @notice Number of {ProviderClass} values; `register` refuses a class at or above it.
    /// @return 3
    uint8 public constant NUM_CLASSES = uint8(type(ProviderClass).max) + 1;
    /// @notice Number of {EventType} values; a verdict's event type must be below it.
    /// @return 6
    uint8 public constant NUM_EVENT_TYPES = uint8(type(EventType).max) + 1;
    /// @notice Number of {Severity} values; a verdict's severity must be below it.
    /// @return 4
    uint8 public constant NUM_SEVERITIES = uint8(type(Severity).max) + 1;

    /// @notice SlashState.None as a number (kept for ABI readers; the enum is the source).
    /// @return 0
    uint8 public constant SLASH_NONE = uint8(SlashState.None);
    /// @notice SlashState.Pending as a number (kept for ABI readers; the enum is the source).
    /// @return 1
    uint8 public constant SLASH_PENDING = uint8(SlashState.Pending);
    /// @notice SlashState.Vetoed as a number (kept for ABI readers; the enum is the source).
    /// @return 2
    uint8 public constant SLASH_VETOED = uint8(SlashState.Vetoed);
    /// @notice SlashState.Executed as a number (kept for ABI readers; the enum is the source).
    /// @return 3
    uint8 public constant SLASH_EXECUTED = uint8(SlashState.Executed);

    /// @notice RecoveryPath.None as a number (kept for ABI readers; the enum is the source).
    /// @return 0
    uint8 public constant PATH_NONE = uint8(RecoveryPath.None);
    /// @notice RecoveryPath.ServiceImprovement as a number (kept for ABI readers; the enum is the source).
    /// @return 1
    uint8 public constant PATH_SERVICE_IMPROVEMENT = uint8(RecoveryPath.ServiceImprovement);
    /// @notice RecoveryPath.SecurityReview as a number (kept for ABI readers; the enum is the source).
    /// @return 2
    uint8 public constant PATH_SECURITY_REVIEW = uint8(RecoveryPath.SecurityReview);
    /// @notice RecoveryPath.ComplianceVerification as a number (kept for ABI readers; the enum is the source).
    /// @return 3
    uint8 public constant PATH_COMPLIANCE_VERIFICATION = uint8(RecoveryPath.ComplianceVerification);

    /// @notice RecoveryStage.None as a number (kept for ABI readers; the enum is the source).
    /// @return 0
    uint8 public constant STAGE_NONE = uint8(RecoveryStage.None);
    /// @notice RecoveryStage.Detection as a number (kept for ABI readers; the enum is the source).
    /// @return 1
    uint8 public constant STAGE_DETECTION = uint8(RecoveryStage.Detection);
    /// @notice RecoveryStage.Response as a number (kept for ABI readers; the enum is the source).
    /// @return 2
    uint8 public constant STAGE_RESPONSE = uint8(RecoveryStage.Response);
    /// @notice RecoveryStage.Recovery as a number (kept for ABI readers; the enum is the source).
    /// @return 3
    uint8 public constant STAGE_RECOVERY = uint8(RecoveryStage.Recovery);
    /// @notice RecoveryStage.Restoration as a number (kept for ABI readers; the enum is the source).
    /// @return 4
    uint8 public constant STAGE_RESTORATION = uint8(RecoveryStage.Restoration);

    // ------------------------------------------------------------------ state

    IERC20 private immutable _stakeToken;
    /// @inheritdoc ISwarmStaking
    uint64 public immutable epochGenesis;
    /// @inheritdoc ISwarmStaking
    uint64 public immutable epochLength;

    address private _treasury;
    uint64 private _vetoWindow;
    /// @inheritdoc ISwarmStaking
    uint64 public maxVerdictAge;
    /// @inheritdoc ISwarmStaking
    uint64 public maxJailDuration;
    /// @inheritdoc ISwarmStaking
    uint32 public probationEpochs;

    /// @dev Keyed by the raw class number, so `classParams` of a value outside {ProviderClass}
    ///      reads zeros instead of reverting.
    mapping(uint8 => ClassParams) private _classParams;
    mapping(address => Provider) private _providers;
    mapping(bytes32 => Slash) private _slashes;
    /// @inheritdoc ISwarmStaking
    mapping(bytes32 => bool) public verdictJailUsed;
    mapping(uint64 => Epoch) private _epochs;
    /// @inheritdoc ISwarmStaking
    mapping(uint64 => mapping(address => bool)) public hasClaimed;

    // ------------------------------------------------------------------ construction

    /// @param stakeToken_ ERC-20 staked and paid as rewards
    /// @param treasury_ receiver of slashed tokens
    /// @param governance receives DEFAULT_ADMIN_ROLE, GOVERNANCE_ROLE and VETOER_ROLE
    /// @param vetoWindow_ seconds a slash proposal waits before it can be executed
    /// @param maxVerdictAge_ oldest acceptable verdict, seconds
    /// @param epochLength_ reward epoch length, seconds; epoch 0 starts at deployment
    constructor(
        IERC20 stakeToken_,
        address treasury_,
        address governance,
        uint64 vetoWindow_,
        uint64 maxVerdictAge_,
        uint64 epochLength_
    ) EIP712("SwarmRiskFramework", "1") {
        if (address(stakeToken_) == address(0) || treasury_ == address(0) || governance == address(0)) {
            revert ZeroAddress();
        }
        if (epochLength_ < 60 || epochLength_ > 366 days) revert ParameterOutOfBounds();
        _stakeToken = stakeToken_;
        epochGenesis = uint64(block.timestamp);
        epochLength = epochLength_;

        _grantRole(DEFAULT_ADMIN_ROLE, governance);
        _grantRole(GOVERNANCE_ROLE, governance);
        _grantRole(VETOER_ROLE, governance);

        _setTreasury(treasury_);
        _setVetoWindow(vetoWindow_);
        _setMaxVerdictAge(maxVerdictAge_);
        _setMaxJailDuration(30 days);
        _setProbationEpochs(3);
        // Defaults in whole tokens (18 decimals); governance tunes them with setClassParams.
        _setClassParams(uint8(ProviderClass.HardwareProvider), 1_000 ether, 500 ether, 7 days);
        _setClassParams(uint8(ProviderClass.NetworkOperator), 50_000 ether, 0, 28 days);
        _setClassParams(uint8(ProviderClass.PlatformUser), 100 ether, 0, 1 days);
    }

    // ------------------------------------------------------------------ providers

    /// @inheritdoc ISwarmStaking
    /// @dev `class` is range-checked (InvalidClass) before it becomes a {ProviderClass}.
    function register(uint8 class, uint32 gpus, string calldata metadataURI) external whenNotPaused {
        if (class > uint8(type(ProviderClass).max)) revert InvalidClass(class);
        ProviderClass providerClass = ProviderClass(class);
        if (gpus > MAX_GPUS || (providerClass == ProviderClass.HardwareProvider && gpus == 0)) {
            revert InvalidGpuCount(gpus);
        }
        Provider storage p = _providers[msg.sender];
        if (p.registered) revert AlreadyRegistered(msg.sender);
        p.registered = true;
        p.gpus = gpus;
        // Enum stores go last in a slot: their range check would keep the optimizer from merging
        // the writes that follow into one SSTORE.
        p.class = providerClass;
        emit ProviderRegistered(msg.sender, providerClass, gpus, metadataURI);
    }

    /// @inheritdoc ISwarmStaking
    function stake(uint256 amount) external whenNotPaused nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Provider storage p = _registered(msg.sender);
        if (p.tombstoned) revert ProviderIsTombstoned(msg.sender);
        p.active += amount;
        emit Staked(msg.sender, amount, p.active);
        _stakeToken.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc ISwarmStaking
    function requestUnbond(uint256 amount) external whenNotPaused {
        if (amount == 0) revert ZeroAmount();
        Provider storage p = _registered(msg.sender);
        if (amount > p.active) revert InsufficientStake(amount, p.active);
        p.active -= amount;
        p.unbonding += amount;
        uint64 end = uint64(block.timestamp) + _classParams[uint8(p.class)].unbondingPeriod;
        if (end > p.unbondingEnd) p.unbondingEnd = end;
        emit UnbondRequested(msg.sender, amount, p.active, p.unbonding, p.unbondingEnd);
    }

    /// @inheritdoc ISwarmStaking
    function withdraw(uint256 amount) external whenNotPaused nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Provider storage p = _registered(msg.sender);
        if (p.pendingSlashes != 0) revert WithdrawalBlockedBySlash(msg.sender, p.pendingSlashes);
        if (block.timestamp < p.unbondingEnd) revert UnbondingNotFinished(p.unbondingEnd);
        if (amount > p.unbonding) revert InsufficientStake(amount, p.unbonding);
        p.unbonding -= amount;
        emit Withdrawn(msg.sender, amount, p.unbonding);
        _stakeToken.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc ISwarmStaking
    function unjail() external whenNotPaused {
        Provider storage p = _registered(msg.sender);
        if (p.tombstoned) revert ProviderIsTombstoned(msg.sender);
        if (!p.jailed) revert NotJailed(msg.sender);
        if (p.jailedUntil == 0 || block.timestamp < p.jailedUntil) revert JailNotExpired(p.jailedUntil);
        if (p.recoveryPath != RecoveryPath.None) revert RecoveryOpen(msg.sender);
        uint256 minimum = _minStake(p);
        if (p.active < minimum) revert BelowMinimumStake(p.active, minimum);
        p.jailed = false;
        p.jailedUntil = 0;
        emit Unjailed(msg.sender, msg.sender);
    }

    // ------------------------------------------------------------------ verdict consequences

    /// @inheritdoc ISwarmStaking
    function jail(Verdict calldata v, bytes calldata signature, uint64 until)
        external
        whenNotPaused
        onlyRole(SLASHER_ROLE)
    {
        _verifyVerdict(v, signature);
        if (verdictJailUsed[v.id]) revert VerdictAlreadyUsed(v.id);
        if (until != 0 && (until <= block.timestamp || until > block.timestamp + maxJailDuration)) {
            revert InvalidJailUntil(until);
        }
        Provider storage p = _providers[v.provider];
        if (p.tombstoned) revert ProviderIsTombstoned(v.provider);
        verdictJailUsed[v.id] = true;
        if (!p.jailed) {
            p.jailed = true;
            p.jailedUntil = until;
        } else if (p.jailedUntil != 0 && (until == 0 || until > p.jailedUntil)) {
            p.jailedUntil = until;
        }
        emit Jailed(v.provider, v.id, p.jailedUntil, EventType(v.eventType), Severity(v.severity));
    }

    /// @inheritdoc ISwarmStaking
    /// @dev The record is written by {_recordSlash}; the slash id is the verdict id.
    function proposeSlash(Verdict calldata v, bytes calldata signature, uint16 bps)
        external
        whenNotPaused
        onlyRole(SLASHER_ROLE)
    {
        if (bps == 0 || bps > MAX_BPS) revert InvalidBps(bps);
        _verifyVerdict(v, signature);
        Slash storage s = _slashes[v.id];
        if (s.state != SlashState.None) revert SlashAlreadyExists(v.id);
        _recordSlash(s, v, bps);
        emit SlashProposed(
            v.id,
            v.provider,
            bps,
            s.amount,
            s.executableAt,
            EventType(v.eventType),
            Severity(v.severity),
            v.evidenceHash
        );
    }

    /// @inheritdoc ISwarmStaking
    function vetoSlash(bytes32 id, bytes32 reasonHash) external onlyRole(VETOER_ROLE) {
        Slash storage s = _slashes[id];
        if (s.state != SlashState.Pending) revert SlashNotPending(id, s.state);
        if (block.timestamp >= s.executableAt && !paused()) revert VetoWindowClosed(id, s.executableAt);
        s.state = SlashState.Vetoed;
        _providers[s.provider].pendingSlashes -= 1;
        emit SlashVetoed(id, s.provider, msg.sender, reasonHash);
    }

    /// @inheritdoc ISwarmStaking
    function executeSlash(bytes32 id) external whenNotPaused nonReentrant {
        Slash storage s = _slashes[id];
        if (s.state != SlashState.Pending) revert SlashNotPending(id, s.state);
        if (block.timestamp < s.executableAt) revert VetoWindowOpen(id, s.executableAt);
        Provider storage p = _providers[s.provider];
        uint256 amount = s.amount;
        uint256 available = p.active + p.unbonding;
        if (amount > available) amount = available; // earlier slashes may have taken part of it
        uint256 fromActive = amount <= p.active ? amount : p.active;
        uint256 fromUnbonding = amount - fromActive;
        p.active -= fromActive;
        p.unbonding -= fromUnbonding;
        p.pendingSlashes -= 1;
        s.state = SlashState.Executed;
        s.amount = amount;
        emit SlashExecuted(id, s.provider, amount, fromActive, fromUnbonding);
        if (amount != 0) _stakeToken.safeTransfer(_treasury, amount);
    }

    // ------------------------------------------------------------------ governance: standing

    /// @inheritdoc ISwarmStaking
    function tombstone(address provider, bytes32 reasonHash) external onlyRole(GOVERNANCE_ROLE) {
        Provider storage p = _registered(provider);
        if (p.tombstoned) revert ProviderIsTombstoned(provider);
        p.tombstoned = true;
        p.jailed = true;
        p.jailedUntil = 0;
        p.recoveryPath = RecoveryPath.None;
        p.recoveryStage = RecoveryStage.None;
        emit Tombstoned(provider, reasonHash);
    }

    /// @inheritdoc ISwarmStaking
    /// @dev `path` is checked against the enum's range before it becomes a {RecoveryPath}.
    function beginRecovery(address provider, uint8 path) external {
        if (!hasRole(GOVERNANCE_ROLE, msg.sender)) _checkRole(SLASHER_ROLE, msg.sender);
        if (path == uint8(RecoveryPath.None) || path > uint8(type(RecoveryPath).max)) {
            revert InvalidRecoveryPath(path);
        }
        RecoveryPath recoveryPath = RecoveryPath(path);
        Provider storage p = _registered(provider);
        if (p.tombstoned) revert ProviderIsTombstoned(provider);
        if (p.recoveryPath != RecoveryPath.None) revert RecoveryOpen(provider);
        p.recoveryStage = RecoveryStage.Response;
        p.recoveryPath = recoveryPath; // last, as in register
        emit RecoveryBegun(provider, recoveryPath, RecoveryStage.Response);
    }

    /// @inheritdoc ISwarmStaking
    function advanceRecovery(address provider) external onlyRole(GOVERNANCE_ROLE) {
        Provider storage p = _registered(provider);
        if (p.recoveryPath == RecoveryPath.None) revert NoRecoveryOpen(provider);
        if (p.recoveryStage >= RecoveryStage.Restoration) revert RecoveryAtFinalStage(provider);
        p.recoveryStage = RecoveryStage(uint8(p.recoveryStage) + 1);
        emit RecoveryAdvanced(provider, p.recoveryPath, p.recoveryStage);
    }

    /// @inheritdoc ISwarmStaking
    function reinstate(address provider) external onlyRole(GOVERNANCE_ROLE) {
        Provider storage p = _registered(provider);
        if (p.tombstoned) revert ProviderIsTombstoned(provider);
        RecoveryPath path = p.recoveryPath;
        if (path == RecoveryPath.None && !p.jailed) revert NothingToReinstate(provider);
        if (path != RecoveryPath.None && p.recoveryStage != RecoveryStage.Restoration) {
            revert RecoveryIncomplete(provider, p.recoveryStage);
        }
        p.recoveryPath = RecoveryPath.None;
        p.recoveryStage = RecoveryStage.None;
        p.jailed = false;
        p.jailedUntil = 0;
        emit Reinstated(provider, path, probationEpochs);
    }

    /// @inheritdoc ISwarmStaking
    function pause() external onlyRole(GOVERNANCE_ROLE) {
        _pause();
    }

    /// @inheritdoc ISwarmStaking
    function unpause() external onlyRole(GOVERNANCE_ROLE) {
        _unpause();
    }

    // ------------------------------------------------------------------ rewards

    /// @inheritdoc ISwarmStaking
    function fundRewards(uint64 epoch, uint256 amount) external whenNotPaused nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Epoch storage e = _epochs[epoch];
        if (e.published) revert EpochAlreadyPublished(epoch);
        e.pool += amount;
        emit RewardsFunded(epoch, msg.sender, amount, e.pool);
        _stakeToken.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc ISwarmStaking
    function publishEligibility(uint64 epoch, bytes32 merkleRoot, uint256 totalWeight, string calldata uri)
        external
        whenNotPaused
        onlyRole(REWARDS_ORACLE_ROLE)
    {
        if (epoch >= currentEpoch()) revert EpochNotFinished(epoch);
        Epoch storage e = _epochs[epoch];
        if (e.published) revert EpochAlreadyPublished(epoch);
        if ((merkleRoot == bytes32(0)) != (totalWeight == 0)) revert InvalidEligibility();
        e.published = true;
        e.merkleRoot = merkleRoot;
        e.totalWeight = totalWeight;
        emit EligibilityPublished(epoch, merkleRoot, totalWeight, e.pool, uri);
    }

    /// @inheritdoc ISwarmStaking
    function claim(uint64 epoch, uint256 weight, bytes32[] calldata proof) external whenNotPaused nonReentrant {
        Epoch storage e = _epochs[epoch];
        if (!e.published) revert EpochNotPublished(epoch);
        if (hasClaimed[epoch][msg.sender]) revert AlreadyClaimed(epoch, msg.sender);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(msg.sender, weight))));
        if (weight == 0 || !MerkleProof.verifyCalldata(proof, e.merkleRoot, leaf)) revert InvalidProof();
        uint256 amount = (e.pool * weight) / e.totalWeight;
        // A root whose weights sum above totalWeight must not drain other epochs' pools.
        uint256 remaining = e.pool - e.claimed;
        if (amount > remaining) revert PoolOverdrawn(epoch, amount, remaining);
        hasClaimed[epoch][msg.sender] = true;
        e.claimed += amount;
        emit RewardClaimed(epoch, msg.sender, weight, amount);
        if (amount != 0) _stakeToken.safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------ governance: parameters

    /// @inheritdoc ISwarmStaking
    function setClassParams(uint8 class, uint256 baseMinStake, uint256 perGpuMinStake, uint64 unbondingPeriod)
        external
        onlyRole(GOVERNANCE_ROLE)
    {
        _setClassParams(class, baseMinStake, perGpuMinStake, unbondingPeriod);
    }

    /// @inheritdoc ISwarmStaking
    function setVetoWindow(uint64 window) external onlyRole(GOVERNANCE_ROLE) {
        _setVetoWindow(window);
    }

    /// @inheritdoc ISwarmStaking
    function setMaxVerdictAge(uint64 age) external onlyRole(GOVERNANCE_ROLE) {
        _setMaxVerdictAge(age);
    }

    /// @inheritdoc ISwarmStaking
    function setMaxJailDuration(uint64 duration) external onlyRole(GOVERNANCE_ROLE) {
        _setMaxJailDuration(duration);
    }

    /// @inheritdoc ISwarmStaking
    function setProbationEpochs(uint32 epochs) external onlyRole(GOVERNANCE_ROLE) {
        _setProbationEpochs(epochs);
    }

    /// @inheritdoc ISwarmStaking
    function setTreasury(address treasury_) external onlyRole(GOVERNANCE_ROLE) {
        _setTreasury(treasury_);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc ISwarmStaking
    function stakeOf(address provider) external view returns (uint256) {
        return _providers[provider].active;
    }

    /// @inheritdoc ISwarmStaking
    function unbondingOf(address provider) external view returns (uint256) {
        return _providers[provider].unbonding;
    }

    /// @inheritdoc ISwarmStaking
    function withdrawableOf(address provider) external view returns (uint256) {
        Provider storage p = _providers[provider];
        if (p.pendingSlashes != 0 || block.timestamp < p.unbondingEnd) return 0;
        return p.unbonding;
    }

    /// @inheritdoc ISwarmStaking
    function isJailed(address provider) external view returns (bool) {
        return _providers[provider].jailed;
    }

    /// @inheritdoc ISwarmStaking
    function isTombstoned(address provider) external view returns (bool) {
        return _providers[provider].tombstoned;
    }

    /// @inheritdoc ISwarmStaking
    function slashState(bytes32 id) external view returns (SlashState) {
        return _slashes[id].state;
    }

    /// @inheritdoc ISwarmStaking
    function getSlash(bytes32 id) external view returns (Slash memory) {
        return _slashes[id];
    }

    /// @inheritdoc ISwarmStaking
    function getProvider(address provider) external view returns (Provider memory) {
        return _providers[provider];
    }

    /// @inheritdoc ISwarmStaking
    function minStakeOf(address provider) external view returns (uint256) {
        return _minStake(_providers[provider]);
    }

    /// @inheritdoc ISwarmStaking
    function classParams(uint8 class) external view returns (ClassParams memory) {
        return _classParams[class];
    }

    /// @inheritdoc ISwarmStaking
    function getEpoch(uint64 epoch) external view returns (Epoch memory) {
        return _epochs[epoch];
    }

    /// @inheritdoc ISwarmStaking
    function currentEpoch() public view returns (uint64) {
        return (uint64(block.timestamp) - epochGenesis) / epochLength;
    }

    /// @inheritdoc ISwarmStaking
    function vetoWindow() external view returns (uint64) {
        return _vetoWindow;
    }

    /// @inheritdoc ISwarmStaking
    function treasury() external view returns (address) {
        return _treasury;
    }

    /// @inheritdoc ISwarmStaking
    function stakeToken() external view returns (address) {
        return address(_stakeToken);
    }

    /// @inheritdoc ISwarmStaking
    function verdictDigest(Verdict calldata v) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(VERDICT_TYPEHASH, v.id, v.provider, v.eventType, v.severity, v.detectedAt, v.evidenceHash))
        );
    }

    /// @inheritdoc ISwarmStaking
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ------------------------------------------------------------------ internals

    /// @dev Reverts with {NotRegistered} unless `provider` registered.
    /// @return p `provider`'s record
    function _registered(address provider) private view returns (Provider storage p) {
        p = _providers[provider];
        if (!p.registered) revert NotRegistered(provider);
    }

    /// @return minimum active stake of `p` under its class's current parameters
    function _minStake(Provider storage p) private view returns (uint256) {
        ClassParams storage c = _classParams[uint8(p.class)];
        return c.baseMinStake + c.perGpuMinStake * p.gpus;
    }

    /// @dev Checks enums, freshness, the provider and the DETECTOR_ROLE signature of `v`.
    function _verifyVerdict(Verdict calldata v, bytes calldata signature) private view {
        if (
            v.id == bytes32(0) || v.eventType > uint8(type(EventType).max)
                || v.severity > uint8(type(Severity).max)
        ) {
            revert InvalidVerdict();
        }
        if (v.detectedAt > block.timestamp) revert VerdictFromFuture(v.detectedAt);
        if (block.timestamp - v.detectedAt > maxVerdictAge) revert VerdictExpired(v.detectedAt, maxVerdictAge);
        if (!_providers[v.provider].registered) revert NotRegistered(v.provider);
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(verdictDigest(v), signature);
        if (err != ECDSA.RecoverError.NoError || !hasRole(DETECTOR_ROLE, signer)) revert InvalidVerdictSigner(signer);
    }

    /// @dev Fills a new pending slash record; split out of proposeSlash to keep the stack shallow.
    function _recordSlash(Slash storage s, Verdict calldata v, uint16 bps) private {
        Provider storage p = _providers[v.provider];
        s.provider = v.provider;
        s.bps = bps;
        s.state = SlashState.Pending;
        s.proposedAt = uint64(block.timestamp);
        s.eventType = EventType(v.eventType); // last in its slot, as in register
        s.executableAt = uint64(block.timestamp) + _vetoWindow;
        s.amount = ((p.active + p.unbonding) * bps) / MAX_BPS;
        s.evidenceHash = v.evidenceHash;
        p.pendingSlashes += 1;
    }

    function _setClassParams(uint8 class, uint256 baseMinStake, uint256 perGpuMinStake, uint64 unbondingPeriod)
        private
    {
        if (class > uint8(type(ProviderClass).max)) revert InvalidClass(class);
        if (baseMinStake == 0 || unbondingPeriod > MAX_UNBONDING_PERIOD) revert ParameterOutOfBounds();
        _classParams[class] = ClassParams(baseMinStake, perGpuMinStake, unbondingPeriod);
        emit ClassParamsSet(ProviderClass(class), baseMinStake, perGpuMinStake, unbondingPeriod);
    }

    function _setVetoWindow(uint64 window) private {
        if (window < MIN_VETO_WINDOW || window > MAX_VETO_WINDOW) revert ParameterOutOfBounds();
        _vetoWindow = window;
        emit VetoWindowSet(window);
    }

    function _setMaxVerdictAge(uint64 age) private {
        if (age < MIN_VERDICT_AGE || age > MAX_VERDICT_AGE) revert ParameterOutOfBounds();
        maxVerdictAge = age;
        emit MaxVerdictAgeSet(age);
    }

    function _setMaxJailDuration(uint64 duration) private {
        if (duration < 1 hours || duration > MAX_JAIL_DURATION_LIMIT) revert ParameterOutOfBounds();
        maxJailDuration = duration;
        emit MaxJailDurationSet(duration);
    }

    function _setProbationEpochs(uint32 epochs) private {
        if (epochs > MAX_PROBATION_EPOCHS) revert ParameterOutOfBounds();
        probationEpochs = epochs;
        emit ProbationEpochsSet(epochs);
    }

    function _setTreasury(address treasury_) private {
        if (treasury_ == address(0)) revert ZeroAddress();
        _treasury = treasury_;
        emit TreasurySet(treasury_);
    }
}
