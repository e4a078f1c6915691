// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ISwarmStaking} from "./ISwarmStaking.sol";
import {
    SwarmParams,
    Limits,
    Bonds,
    AtStake,
    JailBucket,
    StakeBucket,
    AppealParams,
    Held,
    ProviderState,
    SlashRecord,
    BUCKETS,
    RING
} from "./SwarmParams.sol";
import {SwarmSlashes, SlashBook} from "./SwarmSlashes.sol";
import {SwarmRewards, EpochState, CLAIM_PERIOD, MAX_CHALLENGE_DELAY} from "./SwarmRewards.sol";

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
contract SwarmStaking is ISwarmStaking, AccessControlDefaultAdminRules, ReentrancyGuardTransient, EIP712 {
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
    uint16 public constant MAX_BPS = SwarmParams.MAX_BPS;
    /// @inheritdoc ISwarmStaking
    uint64 public constant MIN_VETO_WINDOW = 60;
    /// @inheritdoc ISwarmStaking
    uint64 public constant MAX_VETO_WINDOW = SwarmParams.MAX_VETO_WINDOW;
    /// @inheritdoc ISwarmStaking
    uint64 public constant MIN_VERDICT_AGE = SwarmParams.MIN_VERDICT_AGE;
    /// @inheritdoc ISwarmStaking
    uint64 public constant MAX_VERDICT_AGE = SwarmParams.MAX_VERDICT_AGE;
    /// @inheritdoc ISwarmStaking
    uint64 public constant MAX_UNBONDING_PERIOD = SwarmParams.MAX_UNBONDING_PERIOD;
    /// @inheritdoc ISwarmStaking
    uint64 public constant MAX_JAIL_DURATION_LIMIT = 365 days;
    /// @inheritdoc ISwarmStaking
    uint32 public constant MAX_PROBATION_EPOCHS = 52;
    /// @inheritdoc ISwarmStaking
    uint32 public constant MAX_GPUS = SwarmParams.MAX_GPUS;
    /// @notice Shortest veto window off the devnet (chain id 31337 may go down to MIN_VETO_WINDOW).
    /// @return seconds
    uint64 public constant PRODUCTION_MIN_VETO_WINDOW = 1 days;
    /// @notice Unbonding must outlast the oldest usable verdict by this much, so stake that was
    ///         unbonding when a provider misbehaved is still there when the verdict lands.
    /// @return seconds
    uint64 public constant UNBONDING_MARGIN = SwarmParams.UNBONDING_MARGIN;
    /// @notice Bounds of `capWindow`.
    /// @return seconds
    uint64 public constant MIN_CAP_WINDOW = SwarmParams.MIN_CAP_WINDOW;
    /// @notice Bounds of `capWindow`.
    /// @return seconds
    uint64 public constant MAX_CAP_WINDOW = SwarmParams.MAX_CAP_WINDOW;
    /// @notice Most distinct detectors a quorum may require.
    /// @return signers
    uint8 public constant MAX_QUORUM = SwarmParams.MAX_QUORUM;
    /// @notice Chain id of the local devnet (Anvil, Hardhat), where short test clocks are allowed.
    /// @return 31337
    uint256 public constant DEVNET_CHAIN_ID = 31337;
    /// @notice How long an epoch stays claimable after its claims open; then it may be swept.
    uint64 public constant REWARD_CLAIM_PERIOD = CLAIM_PERIOD;


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

    // ------------------------------------------------------------------ state

    IERC20 private immutable _stakeToken;
    /// @inheritdoc ISwarmStaking
    uint64 public immutable epochGenesis;
    /// @inheritdoc ISwarmStaking
    uint64 public immutable epochLength;

    address private _treasury;
    /// @dev Off the hot slot: only a timed jail reads it.
    uint32 private _maxJailDuration;
    /// @inheritdoc ISwarmStaking
    uint64 public immutable minVetoWindow;

    Limits private _limits;
    Bonds private _bonds;
    AtStake private _atStake;
    JailBucket[RING] private _jailRing;
    StakeBucket[RING] private _stakeRing;
    /// @inheritdoc ISwarmStaking
    uint32 public probationEpochs;

    /// @dev Keyed by the raw class number, so `classParams` of a value outside {ProviderClass}
    ///      reads zeros instead of reverting.
    mapping(uint8 => ClassParams) private _classParams;
    mapping(address => ProviderState) private _providers;
    /// @dev The slash records and their appeals.
    SlashBook private _book;
    mapping(uint64 => EpochState) private _epochs;
    /// @dev Per account, a bitmap of the epochs it claimed (bit `epoch % 256` of word `epoch / 256`):
    ///      an account that claims epoch after epoch writes one warm word, not a fresh slot each time.
    mapping(address => mapping(uint256 => uint256)) private _claimedEpochs;

    AppealParams private _appealParams;
    Held private _held;
    uint64 private _rewardChallengeDelay;

    // ------------------------------------------------------------------ pause
    // OpenZeppelin Pausable's events, errors and `paused()`, with the flag in `_limits`.

    /// @notice The contract was paused by `account`.
    /// @param account the governance account
    event Paused(address account);

    /// @notice The contract was unpaused by `account`.
    /// @param account the governance account
    event Unpaused(address account);

    /// @notice The contract is paused.
    error EnforcedPause();

    /// @notice The contract is not paused.
    error ExpectedPause();

    modifier whenNotPaused() {
        _requireNotPaused();
        _;
    }

    function _requireNotPaused() private view {
        if (_limits.paused) revert EnforcedPause();
    }

    /// @notice Whether the contract is paused.
    /// @return true while paused
    function paused() public view returns (bool) {
        return _limits.paused;
    }

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
    ) AccessControlDefaultAdminRules(0, governance) EIP712("SwarmRiskFramework", "1") {
        if (address(stakeToken_) == address(0) || treasury_ == address(0) || governance == address(0)) {
            revert ZeroAddress();
        }
        if (epochLength_ < 60 || epochLength_ > 366 days) revert ParameterOutOfBounds();
        _stakeToken = stakeToken_;
        epochGenesis = uint64(block.timestamp);
        epochLength = epochLength_;
        minVetoWindow = block.chainid == DEVNET_CHAIN_ID ? MIN_VETO_WINDOW : PRODUCTION_MIN_VETO_WINDOW;

        _grantRole(GOVERNANCE_ROLE, governance);
        _grantRole(VETOER_ROLE, governance);

        _setTreasury(treasury_);
        SwarmParams.setVetoWindow(_limits, minVetoWindow, vetoWindow_);
        SwarmParams.setMaxVerdictAge(_classParams, _limits, maxVerdictAge_);
        _setMaxJailDuration(30 days);
        _setProbationEpochs(3);
        // Defaults in whole tokens (18 decimals); governance tunes them with setClassParams.
        // Unbonding outlasts the oldest usable verdict (maxVerdictAge + UNBONDING_MARGIN).
        uint64 shortest = maxVerdictAge_ + UNBONDING_MARGIN > 1 days ? maxVerdictAge_ + UNBONDING_MARGIN : 1 days;
        mapping(uint8 => ClassParams) storage classes = _classParams;
        uint8 hardware = uint8(ProviderClass.HardwareProvider);
        SwarmParams.setClassParams(classes, _limits, hardware, 1_000 ether, 500 ether, 7 days);
        SwarmParams.setClassParams(classes, _limits, uint8(ProviderClass.NetworkOperator), 50_000 ether, 0, 28 days);
        SwarmParams.setClassParams(classes, _limits, uint8(ProviderClass.PlatformUser), 100 ether, 0, shortest);
        // Tight until governance sizes them for its network (scripts/deploy.py, the devnet).
        _setCaps(1 days, 10, 500, 5_000);
        SwarmParams.setSeverityBounds(_bonds, _limits, [uint16(500), 1_000, 2_500, 5_000]);
        SwarmParams.setQuorum(_bonds, 2, 1_000);
        SwarmParams.setAppealParams(_appealParams, minVetoWindow, 100 ether, 1 days, 7 days);
        _setRewardChallengeDelay(block.chainid == DEVNET_CHAIN_ID ? 0 : 1 days);
    }

    // ------------------------------------------------------------------ providers

    /// @inheritdoc ISwarmStaking
    function register(uint8 class, uint32 gpus, string calldata metadataURI) external whenNotPaused {
        SwarmParams.register(_providers, class, gpus, metadataURI);
    }

    /// @inheritdoc ISwarmStaking
    function stake(uint256 amount) external whenNotPaused nonReentrant {
        SwarmParams.stake(_providers, _bonds, _stakeToken, amount);
    }

    /// @inheritdoc ISwarmStaking
    function requestUnbond(uint256 amount) external whenNotPaused {
        SwarmParams.requestUnbond(_providers, _classParams, amount);
    }

    /// @inheritdoc ISwarmStaking
    function withdraw(uint256 amount) external whenNotPaused nonReentrant {
        SwarmParams.withdraw(_providers, _bonds, _stakeToken, amount);
    }

    /// @inheritdoc ISwarmStaking
    function unjail() external whenNotPaused {
        SwarmParams.unjail(_providers, _classParams);
    }

    // ------------------------------------------------------------------ verdict consequences

    /// @inheritdoc ISwarmStaking
    function jail(Verdict calldata v, bytes calldata signature, uint64 until)
        external
        whenNotPaused
        onlyRole(SLASHER_ROLE)
    {
        _verifyVerdict(v, signature);
        _jail(v, until);
    }

    /// @inheritdoc ISwarmStaking
    function proposeSlash(Verdict calldata v, bytes calldata signature, uint16 bps)
        external
        whenNotPaused
        onlyRole(SLASHER_ROLE)
    {
        _verifyVerdict(v, signature);
        _propose(v, bps, 1);
    }

    /// @inheritdoc ISwarmStaking
    function proposeSlashQuorum(Verdict calldata v, bytes[] calldata signatures, uint16 bps)
        external
        whenNotPaused
        onlyRole(SLASHER_ROLE)
    {
        uint256 n = signatures.length;
        if (n == 0 || n > MAX_QUORUM) revert QuorumNotMet(uint8(n > MAX_QUORUM ? MAX_QUORUM : n), _bonds.quorum);
        address[] memory signers = new address[](n);
        address previous;
        for (uint256 i; i < n; ++i) {
            address signer = _verifyVerdict(v, signatures[i]);
            if (signer <= previous) revert SignersNotAscending(previous, signer);
            signers[i] = signer;
            previous = signer;
        }
        _propose(v, bps, uint8(n));
        emit SlashCoSigned(v.id, signers);
    }

    /// @inheritdoc ISwarmStaking
    function jailAndProposeSlash(Verdict calldata v, bytes calldata signature, uint64 until, uint16 bps)
        external
        whenNotPaused
        onlyRole(SLASHER_ROLE)
    {
        _verifyVerdict(v, signature);
        _jail(v, until);
        _propose(v, bps, 1);
    }

    /// @inheritdoc ISwarmStaking
    function vetoSlash(bytes32 id, bytes32 reasonHash) external onlyRole(VETOER_ROLE) nonReentrant {
        SwarmSlashes.vetoSlash(_book, _providers, _held, _stakeToken, id, reasonHash, paused());
    }

    /// @inheritdoc ISwarmStaking
    function vetoSlashes(bytes32[] calldata ids, bytes32 reasonHash)
        external
        onlyRole(VETOER_ROLE)
        nonReentrant
        returns (uint256)
    {
        return SwarmSlashes.vetoSlashes(_book, _providers, _held, _stakeToken, ids, reasonHash, paused());
    }

    /// @inheritdoc ISwarmStaking
    function executeSlash(bytes32 id) external whenNotPaused nonReentrant {
        SwarmSlashes.executeSlash(_book, _providers, _held, _bonds, _stakeToken, _treasury, id);
    }

    // ------------------------------------------------------------------ appeals

    /// @inheritdoc ISwarmStaking
    function appealSlash(bytes32 id, bytes32 evidenceHash) external whenNotPaused nonReentrant {
        SwarmSlashes.appealSlash(_book, _held, _appealParams, _stakeToken, id, evidenceHash);
    }

    /// @inheritdoc ISwarmStaking
    function resolveAppeal(bytes32 id, bool upheld, bytes32 reasonHash)
        external
        onlyRole(VETOER_ROLE)
        nonReentrant
    {
        SwarmSlashes.resolveAppeal(
            _book, _providers, _held, _stakeToken, _treasury, _appealParams.grace, id, upheld, reasonHash
        );
    }

    /// @inheritdoc ISwarmStaking
    function setRewardChallengeDelay(uint64 delay) external onlyRole(GOVERNANCE_ROLE) {
        _setRewardChallengeDelay(delay);
    }

    /// @inheritdoc ISwarmStaking
    function setAppealParams(uint256 bond, uint64 grace, uint64 timeout) external onlyRole(GOVERNANCE_ROLE) {
        SwarmParams.setAppealParams(_appealParams, minVetoWindow, bond, grace, timeout);
    }

    // ------------------------------------------------------------------ governance: standing

    /// @inheritdoc ISwarmStaking
    function tombstone(address provider, bytes32 reasonHash) external onlyRole(GOVERNANCE_ROLE) {
        SwarmParams.tombstone(_providers, provider, reasonHash);
    }

    /// @inheritdoc ISwarmStaking
    function revokeDetector(address detector) external onlyRole(VETOER_ROLE) {
        _revokeRole(DETECTOR_ROLE, detector);
    }

    /// @inheritdoc ISwarmStaking
    function liftJails(address[] calldata providers, bytes32 reasonHash)
        external
        onlyRole(VETOER_ROLE)
        returns (uint256)
    {
        return SwarmParams.liftJails(_providers, providers, reasonHash);
    }

    /// @inheritdoc ISwarmStaking
    function releaseTombstoned(address provider) external onlyRole(GOVERNANCE_ROLE) {
        SwarmParams.releaseTombstoned(_providers, provider);
    }

    /// @inheritdoc ISwarmStaking
    /// @dev Recorded as a critical policy violation: the tombstone is governance's finding.
    function slashTombstoned(address provider, uint16 bps, bytes32 reasonHash)
        external
        whenNotPaused
        onlyRole(GOVERNANCE_ROLE)
    {
        ProviderState storage p = _registered(provider);
        if (!p.tombstoned) revert NotTombstoned(provider);
        if (bps == 0 || bps > MAX_BPS) revert InvalidBps(bps);
        bytes32 id = keccak256(abi.encode(provider, reasonHash));
        if (_book.slashes[id].state != SlashState.None) revert SlashAlreadyExists(id);
        (uint256 amount,, uint64 executableAt) =
            _recordSlash(id, p, provider, bps, EventType.PolicyViolation, Severity.Critical);
        emit SlashProposed(
            id, provider, bps, amount, executableAt, EventType.PolicyViolation, Severity.Critical, reasonHash
        );
    }

    /// @inheritdoc ISwarmStaking
    function beginRecovery(address provider, uint8 path) external {
        if (!hasRole(GOVERNANCE_ROLE, msg.sender)) _checkRole(SLASHER_ROLE, msg.sender);
        SwarmParams.beginRecovery(_providers, provider, path);
    }

    /// @inheritdoc ISwarmStaking
    function advanceRecovery(address provider) external onlyRole(GOVERNANCE_ROLE) {
        SwarmParams.advanceRecovery(_providers, provider);
    }

    /// @inheritdoc ISwarmStaking
    function reinstate(address provider) external onlyRole(GOVERNANCE_ROLE) {
        SwarmParams.reinstate(_providers, provider, probationEpochs);
    }

    /// @dev The council (VETOER_ROLE) pauses and unpauses at once: in the production shape
    ///      governance acts only after the timelock's delay, too late for an emergency stop.
    function _requireGovernanceOrCouncil() private view {
        if (!hasRole(GOVERNANCE_ROLE, msg.sender)) _checkRole(VETOER_ROLE, msg.sender);
    }

    /// @inheritdoc ISwarmStaking
    function pause() external {
        _requireGovernanceOrCouncil();
        _requireNotPaused();
        _limits.paused = true;
        emit Paused(msg.sender);
    }

    /// @inheritdoc ISwarmStaking
    function unpause() external {
        _requireGovernanceOrCouncil();
        if (!_limits.paused) revert ExpectedPause();
        _limits.paused = false;
        emit Unpaused(msg.sender);
    }

    // ------------------------------------------------------------------ rewards

    /// @inheritdoc ISwarmStaking
    function fundRewards(uint64 epoch, uint256 amount) external whenNotPaused nonReentrant {
        SwarmRewards.fund(_epochs, _held, _stakeToken, epoch, amount);
    }

    /// @inheritdoc ISwarmStaking
    function publishEligibility(uint64 epoch, bytes32 merkleRoot, uint256 totalWeight, string calldata uri)
        external
        whenNotPaused
        onlyRole(REWARDS_ORACLE_ROLE)
    {
        SwarmRewards.publish(_epochs, epoch, currentEpoch(), _rewardChallengeDelay, merkleRoot, totalWeight, uri);
    }

    /// @inheritdoc ISwarmStaking
    function claim(uint64 epoch, uint256 weight, bytes32[] calldata proof) external whenNotPaused nonReentrant {
        SwarmRewards.claim(_epochs, _claimedEpochs, _stakeToken, epoch, weight, proof);
    }

    /// @inheritdoc ISwarmStaking
    function revokeEligibility(uint64 epoch, bytes32 reasonHash) external onlyRole(VETOER_ROLE) {
        SwarmRewards.revoke(_epochs, epoch, reasonHash);
    }

    /// @inheritdoc ISwarmStaking
    function sweepEpoch(uint64 epoch) external onlyRole(GOVERNANCE_ROLE) nonReentrant {
        SwarmRewards.sweepEpoch(_epochs, _held, _stakeToken, _treasury, epoch);
    }

    /// @inheritdoc ISwarmStaking
    function sweepExcess() external onlyRole(GOVERNANCE_ROLE) nonReentrant {
        SwarmRewards.sweepExcess(_held, _stakeToken, _treasury, _bonds.totalBonded);
    }

    // ------------------------------------------------------------------ governance: parameters

    /// @inheritdoc ISwarmStaking
    function setClassParams(uint8 class, uint256 baseMinStake, uint256 perGpuMinStake, uint64 unbondingPeriod)
        external
        onlyRole(GOVERNANCE_ROLE)
    {
        SwarmParams.setClassParams(_classParams, _limits, class, baseMinStake, perGpuMinStake, unbondingPeriod);
    }

    /// @inheritdoc ISwarmStaking
    function setVetoWindow(uint64 window) external onlyRole(GOVERNANCE_ROLE) {
        SwarmParams.setVetoWindow(_limits, minVetoWindow, window);
    }

    /// @inheritdoc ISwarmStaking
    function setMaxVerdictAge(uint64 age) external onlyRole(GOVERNANCE_ROLE) {
        SwarmParams.setMaxVerdictAge(_classParams, _limits, age);
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

    /// @inheritdoc ISwarmStaking
    function setCaps(uint64 window, uint32 jailCap_, uint16 slashCapBps_, uint16 maxSlashBps_)
        external
        onlyRole(GOVERNANCE_ROLE)
    {
        _setCaps(window, jailCap_, slashCapBps_, maxSlashBps_);
    }

    function _setCaps(uint64 window, uint32 jailCap_, uint16 slashCapBps_, uint16 maxSlashBps_) private {
        uint32 index = _bucketIndex(uint32(window));
        SwarmParams.setCaps(
            _limits, _bonds, _atStake, _jailRing, _stakeRing, index, window, jailCap_, slashCapBps_, maxSlashBps_
        );
    }

    /// @inheritdoc ISwarmStaking
    function setSeverityBounds(uint16[4] calldata bounds) external onlyRole(GOVERNANCE_ROLE) {
        SwarmParams.setSeverityBounds(_bonds, _limits, bounds);
    }

    /// @inheritdoc ISwarmStaking
    function setQuorum(uint8 quorum, uint16 quorumBps_) external onlyRole(GOVERNANCE_ROLE) {
        SwarmParams.setQuorum(_bonds, quorum, quorumBps_);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc ISwarmStaking
    function appealOf(bytes32 id) external view returns (uint8) {
        return SwarmSlashes.appealState(_book, id);
    }

    /// @inheritdoc ISwarmStaking
    function getAppeal(bytes32 id) external view returns (Appeal memory a) {
        a = _book.appeals[id];
        a.state = SwarmSlashes.appealState(_book, id);
    }

    /// @inheritdoc ISwarmStaking
    function appealBond() external view returns (uint256) {
        return _appealParams.bond;
    }

    /// @inheritdoc ISwarmStaking
    function appealGrace() external view returns (uint64) {
        return _appealParams.grace;
    }

    /// @inheritdoc ISwarmStaking
    function appealTimeout() external view returns (uint64) {
        return _appealParams.timeout;
    }

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
        ProviderState storage p = _providers[provider];
        if (p.pendingSlashes != 0 || block.timestamp < p.unbondingEnd) return 0;
        if (p.jailed && !p.released && (p.jailedUntil == 0 || block.timestamp < p.jailedUntil)) return 0;
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
    function isReleased(address provider) external view returns (bool) {
        return _providers[provider].released;
    }

    /// @inheritdoc ISwarmStaking
    function atStakeOf(address provider) external view returns (uint256) {
        ProviderState storage p = _providers[provider];
        uint256 total = p.active + p.unbonding;
        return p.pendingAmount < total ? p.pendingAmount : total;
    }

    /// @inheritdoc ISwarmStaking
    function slashState(bytes32 id) external view returns (SlashState) {
        return _book.slashes[id].state;
    }

    /// @inheritdoc ISwarmStaking
    function getSlash(bytes32 id) external view returns (Slash memory) {
        SlashRecord storage s = _book.slashes[id];
        return Slash(s.provider, s.bps, s.state, s.eventType, s.executableAt, s.amount, s.proposedAt, s.severity);
    }

    /// @inheritdoc ISwarmStaking
    function verdictJailUsed(bytes32 id) external view returns (bool) {
        return _book.slashes[id].jailUsed;
    }

    /// @inheritdoc ISwarmStaking
    function getProvider(address provider) external view returns (Provider memory) {
        ProviderState storage p = _providers[provider];
        return Provider({
            registered: p.registered,
            tombstoned: p.tombstoned,
            jailed: p.jailed,
            class: p.class,
            recoveryPath: p.recoveryPath,
            recoveryStage: p.recoveryStage,
            gpus: p.gpus,
            pendingSlashes: p.pendingSlashes,
            jailedUntil: p.jailedUntil,
            unbondingEnd: p.unbondingEnd,
            active: p.active,
            unbonding: p.unbonding
        });
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
        EpochState storage e = _epochs[epoch];
        return Epoch(e.merkleRoot, e.totalWeight, e.pool, e.claimed, e.published);
    }

    /// @inheritdoc ISwarmStaking
    function claimableAt(uint64 epoch) external view returns (uint64) {
        return _epochs[epoch].claimableAt;
    }

    /// @inheritdoc ISwarmStaking
    function rewardChallengeDelay() external view returns (uint64) {
        return _rewardChallengeDelay;
    }

    /// @inheritdoc ISwarmStaking
    function hasClaimed(uint64 epoch, address account) external view returns (bool) {
        return _claimedEpochs[account][epoch >> 8] & (1 << (epoch & 0xff)) != 0;
    }

    /// @inheritdoc ISwarmStaking
    function currentEpoch() public view returns (uint64) {
        return (uint64(block.timestamp) - epochGenesis) / epochLength;
    }

    /// @inheritdoc ISwarmStaking
    function vetoWindow() external view returns (uint64) {
        return _limits.vetoWindow;
    }

    /// @inheritdoc ISwarmStaking
    function maxVerdictAge() external view returns (uint64) {
        return _limits.maxVerdictAge;
    }

    /// @inheritdoc ISwarmStaking
    function maxJailDuration() external view returns (uint64) {
        return _maxJailDuration;
    }

    /// @inheritdoc ISwarmStaking
    function capWindow() external view returns (uint64) {
        return _limits.capWindow;
    }

    /// @inheritdoc ISwarmStaking
    function jailCap() external view returns (uint32) {
        return _limits.jailCap;
    }

    /// @inheritdoc ISwarmStaking
    function slashCapBps() external view returns (uint16) {
        return _limits.slashCapBps;
    }

    /// @inheritdoc ISwarmStaking
    function maxSlashBps() external view returns (uint16) {
        return _limits.maxSlashBps;
    }

    /// @inheritdoc ISwarmStaking
    function maxSlashBpsFor(uint8 severity) public view returns (uint16) {
        if (severity > uint8(type(Severity).max)) return 0;
        return uint16(_bonds.severityBounds >> (16 * severity));
    }

    /// @inheritdoc ISwarmStaking
    function detectorQuorum() external view returns (uint8) {
        return _bonds.quorum;
    }

    /// @inheritdoc ISwarmStaking
    function quorumBps() external view returns (uint16) {
        return _bonds.quorumBps;
    }

    /// @inheritdoc ISwarmStaking
    function totalBonded() external view returns (uint256) {
        return _bonds.totalBonded;
    }

    /// @inheritdoc ISwarmStaking
    function capUsage() external view returns (uint32 jails, uint256 atStake, uint256 bonded) {
        Limits storage l = _limits;
        uint32 index = _bucketIndex(l.capWindow);
        uint32 head = l.jailHead;
        jails = _jailsInRing(head, l.jailsInHead, l.jailsInRing, index) + (index == head ? l.jailsInHead : 0);
        AtStake storage a = _atStake;
        uint32 stakeHead = _bonds.stakeHead;
        atStake = uint256(_stakeInRing(stakeHead, a.inHead, a.inRing, index)) + (index == stakeHead ? a.inHead : 0);
        bonded = _bonds.totalBonded;
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
    function _registered(address provider) private view returns (ProviderState storage p) {
        p = SwarmParams.registered(_providers, provider);
    }

    /// @return minimum active stake of `p` under its class's current parameters
    function _minStake(ProviderState storage p) private view returns (uint256) {
        return SwarmParams.minStake(_classParams[uint8(p.class)], p.gpus);
    }

    /// @dev Checks enums, freshness, the provider and the DETECTOR_ROLE signature of `v`.
    /// @return signer the detector that signed `v`
    function _verifyVerdict(Verdict calldata v, bytes calldata signature) private view returns (address signer) {
        if (
            v.id == bytes32(0) || v.eventType > uint8(type(EventType).max)
                || v.severity > uint8(type(Severity).max)
        ) {
            revert InvalidVerdict();
        }
        if (v.detectedAt > block.timestamp) revert VerdictFromFuture(v.detectedAt);
        uint64 maxAge = _limits.maxVerdictAge;
        if (block.timestamp - v.detectedAt > maxAge) revert VerdictExpired(v.detectedAt, maxAge);
        if (!_providers[v.provider].registered) revert NotRegistered(v.provider);
        ECDSA.RecoverError err;
        (signer, err,) = ECDSA.tryRecover(verdictDigest(v), signature);
        if (err != ECDSA.RecoverError.NoError || !hasRole(DETECTOR_ROLE, signer)) revert InvalidVerdictSigner(signer);
    }

    /// @dev The jail of a verified verdict, counted against the jail cap.
    function _jail(Verdict calldata v, uint64 until) private {
        SlashRecord storage record = _book.slashes[v.id];
        if (record.jailUsed) revert VerdictAlreadyUsed(v.id);
        if (until != 0 && (until <= block.timestamp || until > block.timestamp + _maxJailDuration)) {
            revert InvalidJailUntil(until);
        }
        ProviderState storage p = _providers[v.provider];
        if (p.tombstoned) revert ProviderIsTombstoned(v.provider);
        _useJailCap();
        record.jailUsed = true;
        if (!p.jailed) {
            p.jailed = true;
            p.jailedUntil = until;
        } else if (p.jailedUntil != 0 && (until == 0 || until > p.jailedUntil)) {
            p.jailedUntil = until;
        }
        emit Jailed(v.provider, v.id, p.jailedUntil, EventType(v.eventType), Severity(v.severity));
    }

    /// @dev The slash proposal of a verdict verified by `signers` distinct detectors: the bounds
    ///      (per proposal, per severity, quorum), then the stake cap of the window.
    function _propose(Verdict calldata v, uint16 bps, uint8 signers) private {
        Limits storage l = _limits;
        Bonds storage b = _bonds;
        if (bps == 0 || bps > l.maxSlashBps || bps > uint16(b.severityBounds >> (16 * v.severity))) {
            revert InvalidBps(bps);
        }
        if (bps > b.quorumBps && signers < b.quorum) revert QuorumNotMet(signers, b.quorum);
        if (_book.slashes[v.id].state != SlashState.None) revert SlashAlreadyExists(v.id);
        (uint256 amount, uint256 fresh, uint64 executableAt) = _recordSlash(
            v.id, _providers[v.provider], v.provider, bps, EventType(v.eventType), Severity(v.severity)
        );
        _useStakeCap(fresh, l.capWindow, l.slashCapBps);
        emit SlashProposed(
            v.id, v.provider, bps, amount, executableAt, EventType(v.eventType), Severity(v.severity), v.evidenceHash
        );
    }

    /// @dev Writes a new pending slash record, one store per slot.
    /// @return amount the proposed amount
    /// @return fresh what the proposal newly puts at stake: concurrent proposals share the stake
    /// @return executableAt the end of its veto window
    function _recordSlash(
        bytes32 id,
        ProviderState storage p,
        address provider,
        uint16 bps,
        EventType eventType,
        Severity severity
    ) private returns (uint256 amount, uint256 fresh, uint64 executableAt) {
        uint256 total = p.active + p.unbonding;
        amount = (total * bps) / MAX_BPS;
        uint256 pending = p.pendingAmount;
        if (pending < total) fresh = (pending + amount < total ? pending + amount : total) - pending;
        executableAt = uint64(block.timestamp) + _limits.vetoWindow;
        SlashRecord storage s = _book.slashes[id];
        s.provider = provider;
        s.bps = bps;
        s.state = SlashState.Pending;
        s.executableAt = executableAt;
        s.eventType = eventType; // last in its slot, as in register
        s.amount = uint128(amount);
        s.proposedAt = uint64(block.timestamp);
        s.severity = severity;
        p.pendingAmount = uint128(pending + amount);
        p.pendingSlashes += 1;
    }

    // ---- the rolling caps

    /// @return the current bucket of a window of `window` seconds
    function _bucketIndex(uint32 window) private view returns (uint32) {
        uint256 length = (uint256(window) + BUCKETS - 1) / BUCKETS;
        return uint32(block.timestamp / length);
    }

    /// @dev The jails in the window's buckets before `index` once the counters move to bucket
    ///      `index` (buckets older than the window leave it; the head bucket joins the ring).
    function _jailsInRing(uint32 head, uint32 inHead, uint32 stored, uint32 index)
        private
        view
        returns (uint32 inRing)
    {
        if (index == head) return stored;
        if (index - head > BUCKETS) return 0;
        inRing = stored + inHead;
        // Buckets head - BUCKETS .. index - BUCKETS - 1 leave the window; bucket k - BUCKETS - 1
        // is in ring slot k % RING (never the head's slot: index - head <= BUCKETS).
        for (uint32 k = head + 1; k <= index; ++k) {
            if (k <= BUCKETS) continue;
            JailBucket memory old = _jailRing[k % RING];
            if (old.index == k - BUCKETS - 1) inRing -= old.jails;
        }
    }

    /// @dev As {_jailsInRing}, for the stake put at stake.
    function _stakeInRing(uint32 head, uint128 inHead, uint128 stored, uint32 index)
        private
        view
        returns (uint128 inRing)
    {
        if (index == head) return stored;
        if (index - head > BUCKETS) return 0;
        inRing = stored + inHead;
        for (uint32 k = head + 1; k <= index; ++k) {
            if (k <= BUCKETS) continue;
            StakeBucket memory old = _stakeRing[k % RING];
            if (old.index == k - BUCKETS - 1) inRing -= old.amount;
        }
    }

    /// @dev Counts one jail against the jail cap of the window, or reverts {JailCapExceeded}.
    function _useJailCap() private {
        Limits storage l = _limits;
        uint32 head = l.jailHead;
        uint32 inHead = l.jailsInHead;
        uint32 index = _bucketIndex(l.capWindow);
        uint32 inRing = _jailsInRing(head, inHead, l.jailsInRing, index);
        if (index != head) {
            if (index - head <= BUCKETS) _jailRing[head % RING] = JailBucket(head, inHead);
            inHead = 0;
        }
        uint32 used = inHead + inRing;
        if (used >= l.jailCap) revert JailCapExceeded(used, l.jailCap);
        l.jailHead = index;
        l.jailsInHead = inHead + 1;
        l.jailsInRing = inRing;
    }

    /// @dev Counts `amount` against the stake cap of the window, or reverts {SlashCapExceeded}.
    function _useStakeCap(uint256 amount, uint32 window, uint16 capBps) private {
        Bonds storage b = _bonds;
        AtStake storage a = _atStake;
        uint32 head = b.stakeHead;
        uint128 inHead = a.inHead;
        uint32 index = _bucketIndex(window);
        uint128 inRing = _stakeInRing(head, inHead, a.inRing, index);
        if (index != head) {
            if (index - head <= BUCKETS) _stakeRing[head % RING] = StakeBucket(head, inHead);
            b.stakeHead = index;
            inHead = 0;
        }
        uint256 used = uint256(inHead) + inRing + amount;
        uint256 cap = (uint256(b.totalBonded) * capBps) / MAX_BPS;
        if (used > cap) revert SlashCapExceeded(used, cap);
        a.inHead = inHead + uint128(amount);
        a.inRing = inRing;
    }

    function _setMaxJailDuration(uint64 duration) private {
        if (duration < 1 hours || duration > MAX_JAIL_DURATION_LIMIT) revert ParameterOutOfBounds();
        _maxJailDuration = uint32(duration);
        emit MaxJailDurationSet(duration);
    }

    /// @dev At least a day outside the devnet: the council's time to notice a stolen oracle key.
    function _setRewardChallengeDelay(uint64 delay) private {
        uint64 floor = block.chainid == DEVNET_CHAIN_ID ? 0 : 1 days;
        if (delay < floor || delay > MAX_CHALLENGE_DELAY) revert ParameterOutOfBounds();
        _rewardChallengeDelay = delay;
        emit RewardChallengeDelaySet(delay);
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
