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

/// @title SwarmStaking
/// @notice Performance bond of Swarm's node providers. Providers register in a class, stake the
///         stake token and unbond it through a class-specific unbonding period. The risk
///         framework's detectors sign EIP-712 verdicts; the slashing service (SLASHER_ROLE) turns
///         them into a jail (isolation) or a slash proposal that governance may veto during the
///         veto window, after which anyone may execute it. Slashed tokens go to the treasury.
///         Each epoch the rewards oracle publishes a Merkle root of reward weights and providers
///         claim their pro-rata share of that epoch's pool.
/// @dev    Every state change emits an event so the off-chain indexer can rebuild all state from
///         logs alone; events therefore carry resulting totals, not only deltas.
contract SwarmStaking is AccessControl, Pausable, ReentrancyGuard, EIP712 {
    using SafeERC20 for IERC20;

    // ------------------------------------------------------------------ roles

    /// @notice Governance: parameters, tombstones, recovery, pause.
    bytes32 public constant GOVERNANCE_ROLE = keccak256("GOVERNANCE_ROLE");
    /// @notice The slashing service's signer: jails, slash proposals, recovery start.
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");
    /// @notice Governance or security council: may veto pending slashes.
    bytes32 public constant VETOER_ROLE = keccak256("VETOER_ROLE");
    /// @notice Risk-framework signers whose EIP-712 verdicts are accepted.
    bytes32 public constant DETECTOR_ROLE = keccak256("DETECTOR_ROLE");
    /// @notice The service's signer publishing per-epoch reward eligibility.
    bytes32 public constant REWARDS_ORACLE_ROLE = keccak256("REWARDS_ORACLE_ROLE");

    /// @notice EIP-712 type hash of {Verdict}.
    bytes32 public constant VERDICT_TYPEHASH = keccak256(
        "Verdict(bytes32 id,address provider,uint8 eventType,uint8 severity,uint64 detectedAt,bytes32 evidenceHash)"
    );

    // ------------------------------------------------------------------ bounds

    uint16 public constant MAX_BPS = 10_000;
    uint64 public constant MIN_VETO_WINDOW = 60;
    uint64 public constant MAX_VETO_WINDOW = 30 days;
    uint64 public constant MIN_VERDICT_AGE = 60;
    uint64 public constant MAX_VERDICT_AGE = 30 days;
    uint64 public constant MAX_UNBONDING_PERIOD = 365 days;
    uint64 public constant MAX_JAIL_DURATION_LIMIT = 365 days;
    uint32 public constant MAX_PROBATION_EPOCHS = 52;
    uint32 public constant MAX_GPUS = 100_000;
    uint8 public constant NUM_CLASSES = 3;
    uint8 public constant NUM_EVENT_TYPES = 6;
    uint8 public constant NUM_SEVERITIES = 4;

    // ------------------------------------------------------------------ types

    /// @notice A risk-framework verdict, signed by a DETECTOR_ROLE account (EIP-712).
    /// @dev eventType: 0 security_breach, 1 policy_violation, 2 suspicious_activity,
    ///      3 system_attack, 4 performance_violation, 5 operational_failure.
    ///      severity: 0 low, 1 medium, 2 high, 3 critical.
    struct Verdict {
        bytes32 id;
        address provider;
        uint8 eventType;
        uint8 severity;
        uint64 detectedAt;
        bytes32 evidenceHash;
    }

    /// @notice Provider classes: 0 hardware_provider, 1 network_operator, 2 platform_user.
    struct ClassParams {
        uint256 baseMinStake; // base units
        uint256 perGpuMinStake; // base units per declared GPU (hardware providers)
        uint64 unbondingPeriod; // seconds
    }

    struct Provider {
        bool registered;
        bool tombstoned;
        bool jailed;
        uint8 class;
        uint8 recoveryPath; // 0 none, 1 service_improvement, 2 security_review, 3 compliance_verification
        uint8 recoveryStage; // 0 none, 1 detection, 2 response, 3 recovery, 4 restoration
        uint32 gpus;
        uint32 pendingSlashes;
        uint64 jailedUntil; // 0 with jailed = until recovery
        uint64 unbondingEnd;
        uint256 active;
        uint256 unbonding;
    }

    struct Slash {
        address provider;
        uint16 bps;
        uint8 state; // 0 none, 1 pending, 2 vetoed, 3 executed
        uint8 eventType;
        uint64 proposedAt;
        uint64 executableAt;
        uint256 amount; // proposed amount; the executed amount may be lower
        bytes32 evidenceHash;
    }

    struct Epoch {
        bytes32 merkleRoot;
        uint256 totalWeight;
        uint256 pool;
        uint256 claimed;
        bool published;
    }

    uint8 public constant SLASH_NONE = 0;
    uint8 public constant SLASH_PENDING = 1;
    uint8 public constant SLASH_VETOED = 2;
    uint8 public constant SLASH_EXECUTED = 3;

    uint8 public constant PATH_NONE = 0;
    uint8 public constant PATH_SERVICE_IMPROVEMENT = 1;
    uint8 public constant PATH_SECURITY_REVIEW = 2;
    uint8 public constant PATH_COMPLIANCE_VERIFICATION = 3;

    uint8 public constant STAGE_NONE = 0;
    uint8 public constant STAGE_DETECTION = 1;
    uint8 public constant STAGE_RESPONSE = 2;
    uint8 public constant STAGE_RECOVERY = 3;
    uint8 public constant STAGE_RESTORATION = 4;

    // ------------------------------------------------------------------ state

    IERC20 private immutable _stakeToken;
    /// @notice Unix time at which epoch 0 starts.
    uint64 public immutable epochGenesis;
    /// @notice Length of a reward epoch in seconds.
    uint64 public immutable epochLength;

    address private _treasury;
    uint64 private _vetoWindow;
    /// @notice Oldest verdict (now - detectedAt, seconds) that jail/proposeSlash accept.
    uint64 public maxVerdictAge;
    /// @notice Longest timed jail the slasher may impose.
    uint64 public maxJailDuration;
    /// @notice Epochs of reduced reward weight after reinstatement (enforced off-chain by the oracle).
    uint32 public probationEpochs;

    mapping(uint8 => ClassParams) private _classParams;
    mapping(address => Provider) private _providers;
    mapping(bytes32 => Slash) private _slashes;
    mapping(bytes32 => bool) public verdictJailUsed;
    mapping(uint64 => Epoch) private _epochs;
    mapping(uint64 => mapping(address => bool)) public hasClaimed;

    // ------------------------------------------------------------------ events

    event ProviderRegistered(address indexed provider, uint8 class, uint32 gpus, string metadataURI);
    event Staked(address indexed provider, uint256 amount, uint256 active);
    event UnbondRequested(address indexed provider, uint256 amount, uint256 active, uint256 unbonding, uint64 unbondingEnd);
    event Withdrawn(address indexed provider, uint256 amount, uint256 unbonding);
    event Jailed(address indexed provider, bytes32 indexed verdictId, uint64 until, uint8 eventType, uint8 severity);
    event Unjailed(address indexed provider, address indexed by);
    event SlashProposed(
        bytes32 indexed id,
        address indexed provider,
        uint16 bps,
        uint256 amount,
        uint64 executableAt,
        uint8 eventType,
        uint8 severity,
        bytes32 evidenceHash
    );
    event SlashVetoed(bytes32 indexed id, address indexed provider, address indexed vetoer, bytes32 reasonHash);
    event SlashExecuted(
        bytes32 indexed id, address indexed provider, uint256 amount, uint256 fromActive, uint256 fromUnbonding
    );
    event Tombstoned(address indexed provider, bytes32 reasonHash);
    event RecoveryBegun(address indexed provider, uint8 path, uint8 stage);
    event RecoveryAdvanced(address indexed provider, uint8 path, uint8 stage);
    event Reinstated(address indexed provider, uint8 path, uint32 probationEpochs);
    event EligibilityPublished(uint64 indexed epoch, bytes32 merkleRoot, uint256 totalWeight, uint256 pool, string uri);
    event RewardsFunded(uint64 indexed epoch, address indexed funder, uint256 amount, uint256 pool);
    event RewardClaimed(uint64 indexed epoch, address indexed account, uint256 weight, uint256 amount);
    event ClassParamsSet(uint8 indexed class, uint256 baseMinStake, uint256 perGpuMinStake, uint64 unbondingPeriod);
    event VetoWindowSet(uint64 vetoWindow);
    event MaxVerdictAgeSet(uint64 maxVerdictAge);
    event MaxJailDurationSet(uint64 maxJailDuration);
    event ProbationEpochsSet(uint32 probationEpochs);
    event TreasurySet(address treasury);

    // ------------------------------------------------------------------ errors

    error ZeroAddress();
    error ZeroAmount();
    error InvalidClass(uint8 class);
    error InvalidGpuCount(uint32 gpus);
    error AlreadyRegistered(address provider);
    error NotRegistered(address provider);
    error ProviderIsTombstoned(address provider);
    error InsufficientStake(uint256 requested, uint256 available);
    error UnbondingNotFinished(uint64 unbondingEnd);
    error WithdrawalBlockedBySlash(address provider, uint32 pendingSlashes);
    error InvalidVerdict();
    error InvalidVerdictSigner(address signer);
    error VerdictFromFuture(uint64 detectedAt);
    error VerdictExpired(uint64 detectedAt, uint64 maxAge);
    error VerdictAlreadyUsed(bytes32 id);
    error InvalidJailUntil(uint64 until);
    error NotJailed(address provider);
    error JailNotExpired(uint64 until);
    error RecoveryOpen(address provider);
    error BelowMinimumStake(uint256 active, uint256 minimum);
    error InvalidBps(uint16 bps);
    error SlashAlreadyExists(bytes32 id);
    error SlashNotPending(bytes32 id, uint8 state);
    error VetoWindowClosed(bytes32 id, uint64 executableAt);
    error VetoWindowOpen(bytes32 id, uint64 executableAt);
    error InvalidRecoveryPath(uint8 path);
    error NoRecoveryOpen(address provider);
    error RecoveryAtFinalStage(address provider);
    error RecoveryIncomplete(address provider, uint8 stage);
    error NothingToReinstate(address provider);
    error EpochAlreadyPublished(uint64 epoch);
    error EpochNotFinished(uint64 epoch);
    error EpochNotPublished(uint64 epoch);
    error InvalidEligibility();
    error AlreadyClaimed(uint64 epoch, address account);
    error InvalidProof();
    error ParameterOutOfBounds();

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
        _setClassParams(0, 1_000 ether, 500 ether, 7 days); // hardware_provider
        _setClassParams(1, 50_000 ether, 0, 28 days); // network_operator
        _setClassParams(2, 100 ether, 0, 1 days); // platform_user
    }

    // ------------------------------------------------------------------ providers

    /// @notice Registers the caller as a provider of `class`.
    /// @param class 0 hardware_provider, 1 network_operator, 2 platform_user
    /// @param gpus declared GPUs; at least 1 for hardware providers, which scales their minimum stake
    /// @param metadataURI free-form pointer to the provider's public profile
    function register(uint8 class, uint32 gpus, string calldata metadataURI) external whenNotPaused {
        if (class >= NUM_CLASSES) revert InvalidClass(class);
        if (gpus > MAX_GPUS || (class == 0 && gpus == 0)) revert InvalidGpuCount(gpus);
        Provider storage p = _providers[msg.sender];
        if (p.registered) revert AlreadyRegistered(msg.sender);
        p.registered = true;
        p.class = class;
        p.gpus = gpus;
        emit ProviderRegistered(msg.sender, class, gpus, metadataURI);
    }

    /// @notice Adds `amount` of the stake token (approved beforehand) to the caller's active stake.
    function stake(uint256 amount) external whenNotPaused nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Provider storage p = _registered(msg.sender);
        if (p.tombstoned) revert ProviderIsTombstoned(msg.sender);
        p.active += amount;
        emit Staked(msg.sender, amount, p.active);
        _stakeToken.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Moves `amount` from active stake to unbonding. The unbonding bucket matures one
    ///         class unbonding period after the latest request, and stays slashable until withdrawn.
    function requestUnbond(uint256 amount) external whenNotPaused {
        if (amount == 0) revert ZeroAmount();
        Provider storage p = _registered(msg.sender);
        if (amount > p.active) revert InsufficientStake(amount, p.active);
        p.active -= amount;
        p.unbonding += amount;
        uint64 end = uint64(block.timestamp) + _classParams[p.class].unbondingPeriod;
        if (end > p.unbondingEnd) p.unbondingEnd = end;
        emit UnbondRequested(msg.sender, amount, p.active, p.unbonding, p.unbondingEnd);
    }

    /// @notice Withdraws `amount` of matured unbonding stake. Blocked while any slash is pending
    ///         against the caller, so a provider cannot outrun a proposed slash.
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

    /// @notice Lifts the caller's own timed jail once it has expired, provided no recovery path is
    ///         open and the active stake still meets the class minimum.
    function unjail() external whenNotPaused {
        Provider storage p = _registered(msg.sender);
        if (p.tombstoned) revert ProviderIsTombstoned(msg.sender);
        if (!p.jailed) revert NotJailed(msg.sender);
        if (p.jailedUntil == 0 || block.timestamp < p.jailedUntil) revert JailNotExpired(p.jailedUntil);
        if (p.recoveryPath != PATH_NONE) revert RecoveryOpen(msg.sender);
        uint256 minimum = _minStake(p);
        if (p.active < minimum) revert BelowMinimumStake(p.active, minimum);
        p.jailed = false;
        p.jailedUntil = 0;
        emit Unjailed(msg.sender, msg.sender);
    }

    // ------------------------------------------------------------------ verdict consequences

    /// @notice Isolates `v.provider` on the strength of a detector-signed verdict.
    /// @param v the verdict; its signer must hold DETECTOR_ROLE and it must be fresh
    /// @param signature EIP-712 signature of `v` (65 bytes)
    /// @param until jail end (unix seconds); 0 jails until a recovery path completes.
    ///        A provider already jailed keeps the longer of the two jails.
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
        emit Jailed(v.provider, v.id, p.jailedUntil, v.eventType, v.severity);
    }

    /// @notice Proposes slashing `bps` of the provider's total stake (active + unbonding, measured
    ///         now) with id `v.id`. Executable by anyone after the veto window. An id is usable once.
    function proposeSlash(Verdict calldata v, bytes calldata signature, uint16 bps)
        external
        whenNotPaused
        onlyRole(SLASHER_ROLE)
    {
        if (bps == 0 || bps > MAX_BPS) revert InvalidBps(bps);
        _verifyVerdict(v, signature);
        Slash storage s = _slashes[v.id];
        if (s.state != SLASH_NONE) revert SlashAlreadyExists(v.id);
        _recordSlash(s, v, bps);
        emit SlashProposed(v.id, v.provider, bps, s.amount, s.executableAt, v.eventType, v.severity, v.evidenceHash);
    }

    /// @notice Cancels a pending slash during its veto window (or at any time while paused).
    /// @param reasonHash hash of the off-chain justification
    function vetoSlash(bytes32 id, bytes32 reasonHash) external onlyRole(VETOER_ROLE) {
        Slash storage s = _slashes[id];
        if (s.state != SLASH_PENDING) revert SlashNotPending(id, s.state);
        if (block.timestamp >= s.executableAt && !paused()) revert VetoWindowClosed(id, s.executableAt);
        s.state = SLASH_VETOED;
        _providers[s.provider].pendingSlashes -= 1;
        emit SlashVetoed(id, s.provider, msg.sender, reasonHash);
    }

    /// @notice Executes a pending slash whose veto window has passed, moving the tokens to the
    ///         treasury: active stake first, then unbonding. Anyone may call it.
    function executeSlash(bytes32 id) external whenNotPaused nonReentrant {
        Slash storage s = _slashes[id];
        if (s.state != SLASH_PENDING) revert SlashNotPending(id, s.state);
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
        s.state = SLASH_EXECUTED;
        s.amount = amount;
        emit SlashExecuted(id, s.provider, amount, fromActive, fromUnbonding);
        if (amount != 0) _stakeToken.safeTransfer(_treasury, amount);
    }

    // ------------------------------------------------------------------ governance: standing

    /// @notice Permanently excludes `provider`: jailed for good, no recovery, no new stake.
    ///         Existing stake stays slashable and can be unbonded and withdrawn.
    function tombstone(address provider, bytes32 reasonHash) external onlyRole(GOVERNANCE_ROLE) {
        Provider storage p = _registered(provider);
        if (p.tombstoned) revert ProviderIsTombstoned(provider);
        p.tombstoned = true;
        p.jailed = true;
        p.jailedUntil = 0;
        p.recoveryPath = PATH_NONE;
        p.recoveryStage = STAGE_NONE;
        emit Tombstoned(provider, reasonHash);
    }

    /// @notice Opens recovery `path` for `provider` at stage "response" (detection and the
    ///         response already happened). Callable by governance or the slashing service.
    /// @param path 1 service_improvement, 2 security_review, 3 compliance_verification
    function beginRecovery(address provider, uint8 path) external {
        if (!hasRole(GOVERNANCE_ROLE, msg.sender)) _checkRole(SLASHER_ROLE, msg.sender);
        if (path == PATH_NONE || path > PATH_COMPLIANCE_VERIFICATION) revert InvalidRecoveryPath(path);
        Provider storage p = _registered(provider);
        if (p.tombstoned) revert ProviderIsTombstoned(provider);
        if (p.recoveryPath != PATH_NONE) revert RecoveryOpen(provider);
        p.recoveryPath = path;
        p.recoveryStage = STAGE_RESPONSE;
        emit RecoveryBegun(provider, path, STAGE_RESPONSE);
    }

    /// @notice Moves `provider`'s open recovery to its next stage (response → recovery → restoration).
    function advanceRecovery(address provider) external onlyRole(GOVERNANCE_ROLE) {
        Provider storage p = _registered(provider);
        if (p.recoveryPath == PATH_NONE) revert NoRecoveryOpen(provider);
        if (p.recoveryStage >= STAGE_RESTORATION) revert RecoveryAtFinalStage(provider);
        p.recoveryStage += 1;
        emit RecoveryAdvanced(provider, p.recoveryPath, p.recoveryStage);
    }

    /// @notice Closes a completed recovery (stage restoration) and lifts the jail; the provider
    ///         then serves `probationEpochs` of reduced reward weight. Also lifts a jail that had
    ///         no recovery path. Never applies to a tombstoned provider.
    function reinstate(address provider) external onlyRole(GOVERNANCE_ROLE) {
        Provider storage p = _registered(provider);
        if (p.tombstoned) revert ProviderIsTombstoned(provider);
        uint8 path = p.recoveryPath;
        if (path == PATH_NONE && !p.jailed) revert NothingToReinstate(provider);
        if (path != PATH_NONE && p.recoveryStage != STAGE_RESTORATION) {
            revert RecoveryIncomplete(provider, p.recoveryStage);
        }
        p.recoveryPath = PATH_NONE;
        p.recoveryStage = STAGE_NONE;
        p.jailed = false;
        p.jailedUntil = 0;
        emit Reinstated(provider, path, probationEpochs);
    }

    /// @notice Stops staking, slashing, claims and withdrawals (vetoes stay possible).
    function pause() external onlyRole(GOVERNANCE_ROLE) {
        _pause();
    }

    /// @notice Resumes normal operation.
    function unpause() external onlyRole(GOVERNANCE_ROLE) {
        _unpause();
    }

    // ------------------------------------------------------------------ rewards

    /// @notice Adds `amount` (approved beforehand) to the reward pool of `epoch`, before it is published.
    function fundRewards(uint64 epoch, uint256 amount) external whenNotPaused nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Epoch storage e = _epochs[epoch];
        if (e.published) revert EpochAlreadyPublished(epoch);
        e.pool += amount;
        emit RewardsFunded(epoch, msg.sender, amount, e.pool);
        _stakeToken.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Publishes the reward eligibility of a finished epoch, once. Leaves are
    ///         keccak256(bytes.concat(keccak256(abi.encode(account, weight)))).
    /// @param uri where the full list of leaves (and proofs) can be fetched
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

    /// @notice Pays the caller its share `pool * weight / totalWeight` of `epoch`'s pool.
    function claim(uint64 epoch, uint256 weight, bytes32[] calldata proof) external whenNotPaused nonReentrant {
        Epoch storage e = _epochs[epoch];
        if (!e.published) revert EpochNotPublished(epoch);
        if (hasClaimed[epoch][msg.sender]) revert AlreadyClaimed(epoch, msg.sender);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(msg.sender, weight))));
        if (weight == 0 || !MerkleProof.verifyCalldata(proof, e.merkleRoot, leaf)) revert InvalidProof();
        uint256 amount = (e.pool * weight) / e.totalWeight;
        // A root whose weights sum above totalWeight must not drain other epochs' pools.
        if (amount > e.pool - e.claimed) revert InvalidProof();
        hasClaimed[epoch][msg.sender] = true;
        e.claimed += amount;
        emit RewardClaimed(epoch, msg.sender, weight, amount);
        if (amount != 0) _stakeToken.safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------ governance: parameters

    /// @notice Sets a class's minimum stake (`baseMinStake + perGpuMinStake * gpus`) and unbonding period.
    function setClassParams(uint8 class, uint256 baseMinStake, uint256 perGpuMinStake, uint64 unbondingPeriod)
        external
        onlyRole(GOVERNANCE_ROLE)
    {
        _setClassParams(class, baseMinStake, perGpuMinStake, unbondingPeriod);
    }

    /// @notice Sets the veto window of future slash proposals (60 s – 30 days).
    function setVetoWindow(uint64 window) external onlyRole(GOVERNANCE_ROLE) {
        _setVetoWindow(window);
    }

    /// @notice Sets the oldest verdict age accepted (60 s – 30 days).
    function setMaxVerdictAge(uint64 age) external onlyRole(GOVERNANCE_ROLE) {
        _setMaxVerdictAge(age);
    }

    /// @notice Sets the longest timed jail (1 hour – 365 days).
    function setMaxJailDuration(uint64 duration) external onlyRole(GOVERNANCE_ROLE) {
        _setMaxJailDuration(duration);
    }

    /// @notice Sets the probation length announced on reinstatement (0 – 52 epochs).
    function setProbationEpochs(uint32 epochs) external onlyRole(GOVERNANCE_ROLE) {
        _setProbationEpochs(epochs);
    }

    /// @notice Sets the receiver of slashed tokens.
    function setTreasury(address treasury_) external onlyRole(GOVERNANCE_ROLE) {
        _setTreasury(treasury_);
    }

    // ------------------------------------------------------------------ views

    /// @notice Active (bonded) stake of `provider`.
    function stakeOf(address provider) external view returns (uint256) {
        return _providers[provider].active;
    }

    /// @notice Stake of `provider` in the unbonding bucket (still slashable).
    function unbondingOf(address provider) external view returns (uint256) {
        return _providers[provider].unbonding;
    }

    /// @notice Unbonding stake `provider` could withdraw now.
    function withdrawableOf(address provider) external view returns (uint256) {
        Provider storage p = _providers[provider];
        if (p.pendingSlashes != 0 || block.timestamp < p.unbondingEnd) return 0;
        return p.unbonding;
    }

    /// @notice Whether `provider` is isolated. A timed jail stays in force until `unjail`.
    function isJailed(address provider) external view returns (bool) {
        return _providers[provider].jailed;
    }

    /// @notice Whether `provider` is permanently excluded.
    function isTombstoned(address provider) external view returns (bool) {
        return _providers[provider].tombstoned;
    }

    /// @notice State of slash `id`: 0 none, 1 pending, 2 vetoed, 3 executed.
    function slashState(bytes32 id) external view returns (uint8) {
        return _slashes[id].state;
    }

    /// @notice Full record of slash `id`.
    function getSlash(bytes32 id) external view returns (Slash memory) {
        return _slashes[id];
    }

    /// @notice Full record of `provider`.
    function getProvider(address provider) external view returns (Provider memory) {
        return _providers[provider];
    }

    /// @notice Minimum active stake for `provider` given its class and declared GPUs.
    function minStakeOf(address provider) external view returns (uint256) {
        return _minStake(_providers[provider]);
    }

    /// @notice Parameters of provider class `class`.
    function classParams(uint8 class) external view returns (ClassParams memory) {
        return _classParams[class];
    }

    /// @notice Published data of reward `epoch`.
    function getEpoch(uint64 epoch) external view returns (Epoch memory) {
        return _epochs[epoch];
    }

    /// @notice The reward epoch containing the current block's timestamp.
    function currentEpoch() public view returns (uint64) {
        return (uint64(block.timestamp) - epochGenesis) / epochLength;
    }

    /// @notice Seconds between a slash proposal and its earliest execution.
    function vetoWindow() external view returns (uint64) {
        return _vetoWindow;
    }

    /// @notice Receiver of slashed tokens.
    function treasury() external view returns (address) {
        return _treasury;
    }

    /// @notice The staked ERC-20.
    function stakeToken() external view returns (address) {
        return address(_stakeToken);
    }

    /// @notice EIP-712 digest of `v` under this contract's domain (what detectors sign).
    function verdictDigest(Verdict calldata v) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(VERDICT_TYPEHASH, v.id, v.provider, v.eventType, v.severity, v.detectedAt, v.evidenceHash))
        );
    }

    /// @notice The EIP-712 domain separator of this deployment.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ------------------------------------------------------------------ internals

    function _registered(address provider) private view returns (Provider storage p) {
        p = _providers[provider];
        if (!p.registered) revert NotRegistered(provider);
    }

    function _minStake(Provider storage p) private view returns (uint256) {
        ClassParams storage c = _classParams[p.class];
        return c.baseMinStake + c.perGpuMinStake * p.gpus;
    }

    /// @dev Checks enums, freshness, the provider and the DETECTOR_ROLE signature of `v`.
    function _verifyVerdict(Verdict calldata v, bytes calldata signature) private view {
        if (v.id == bytes32(0) || v.eventType >= NUM_EVENT_TYPES || v.severity >= NUM_SEVERITIES) {
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
        s.state = SLASH_PENDING;
        s.eventType = v.eventType;
        s.proposedAt = uint64(block.timestamp);
        s.executableAt = uint64(block.timestamp) + _vetoWindow;
        s.amount = ((p.active + p.unbonding) * bps) / MAX_BPS;
        s.evidenceHash = v.evidenceHash;
        p.pendingSlashes += 1;
    }

    function _setClassParams(uint8 class, uint256 baseMinStake, uint256 perGpuMinStake, uint64 unbondingPeriod)
        private
    {
        if (class >= NUM_CLASSES) revert InvalidClass(class);
        if (baseMinStake == 0 || unbondingPeriod > MAX_UNBONDING_PERIOD) revert ParameterOutOfBounds();
        _classParams[class] = ClassParams(baseMinStake, perGpuMinStake, unbondingPeriod);
        emit ClassParamsSet(class, baseMinStake, perGpuMinStake, unbondingPeriod);
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
