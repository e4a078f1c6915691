// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ISwarmStaking
/// @notice The vocabulary of SwarmStaking, Swarm's provider performance bond: its enums, structs,
///         events, custom errors and external functions. Integrators and the off-chain service
///         read this file first; `SwarmStaking` implements it.
/// @dev    Every enum below is encoded as `uint8` in the ABI (function results, event fields,
///         error arguments, struct members). Inputs that arrive from outside as numbers
///         (`register`'s class, `beginRecovery`'s path, a verdict's event type and severity) stay
///         `uint8` in the signatures on purpose: an out-of-range value then reaches the contract's
///         own check and reverts with the matching custom error instead of an empty revert from
///         the ABI decoder.
interface ISwarmStaking {
    // ------------------------------------------------------------------ enums

    /// @notice Provider classes; each has its own minimum stake and unbonding period.
    enum ProviderClass {
        HardwareProvider,
        NetworkOperator,
        PlatformUser
    }

    /// @notice Kind of misbehaviour a verdict reports.
    enum EventType {
        SecurityBreach,
        PolicyViolation,
        SuspiciousActivity,
        SystemAttack,
        PerformanceViolation,
        OperationalFailure
    }

    /// @notice Severity a detector assigns to a verdict.
    enum Severity {
        Low,
        Medium,
        High,
        Critical
    }

    /// @notice Recovery path a jailed provider follows before reinstatement; `None` when no
    ///         recovery is open.
    enum RecoveryPath {
        None,
        ServiceImprovement,
        SecurityReview,
        ComplianceVerification
    }

    /// @notice Stage of an open recovery. `beginRecovery` opens it at `Response` (detection and
    ///         response already happened off chain); `reinstate` needs `Restoration`.
    enum RecoveryStage {
        None,
        Detection,
        Response,
        Recovery,
        Restoration
    }

    /// @notice Life cycle of a slash proposal; `None` for an id never proposed.
    enum SlashState {
        None,
        Pending,
        Vetoed,
        Executed
    }

    // ------------------------------------------------------------------ structs

    /// @notice A slashed provider's appeal of a pending slash.
    /// @dev `state`: 0 none, 1 open, 2 upheld, 3 rejected, 4 expired; `deadline` = appealed at +
    ///      appealTimeout; `bond` the tokens the provider put up.
    struct Appeal {
        uint8 state;
        uint64 deadline;
        uint128 bond;
        bytes32 evidenceHash;
    }

    /// @notice A risk-framework verdict, signed by a DETECTOR_ROLE account (EIP-712 type
    ///         `Verdict(bytes32 id,address provider,uint8 eventType,uint8 severity,uint64 detectedAt,bytes32 evidenceHash)`).
    /// @dev `eventType` holds an {EventType} and `severity` a {Severity}, as `uint8` so that an
    ///      out-of-range value is refused with {InvalidVerdict}.
    struct Verdict {
        bytes32 id;
        address provider;
        uint8 eventType;
        uint8 severity;
        uint64 detectedAt;
        bytes32 evidenceHash;
    }

    /// @notice Parameters of a provider class. Minimum stake is `baseMinStake + perGpuMinStake * gpus`
    ///         (base units); `unbondingPeriod` is in seconds.
    struct ClassParams {
        uint256 baseMinStake;
        uint256 perGpuMinStake;
        uint64 unbondingPeriod;
    }

    /// @notice Standing and stake of a provider. `jailedUntil` is 0 for a jail lasting until
    ///         recovery; `unbonding` matures at `unbondingEnd` and stays slashable until withdrawn;
    ///         `pendingSlashes` counts proposals not yet vetoed or executed.
    struct Provider {
        bool registered;
        bool tombstoned;
        bool jailed;
        ProviderClass class;
        RecoveryPath recoveryPath;
        RecoveryStage recoveryStage;
        uint32 gpus;
        uint32 pendingSlashes;
        uint64 jailedUntil;
        uint64 unbondingEnd;
        uint256 active;
        uint256 unbonding;
    }

    /// @notice A slash proposal, packed in two storage slots. `amount` is fixed when proposed; the
    ///         executed amount may be lower when earlier slashes took part of the stake (then
    ///         `amount` is rewritten on execution). The evidence hash is in {SlashProposed}.
    struct Slash {
        address provider;
        uint16 bps;
        SlashState state;
        EventType eventType;
        uint64 executableAt;
        uint128 amount;
        uint64 proposedAt;
        Severity severity;
    }

    /// @notice A reward epoch: its pool, what was claimed from it and, once published, the Merkle
    ///         root of reward weights and their declared total.
    struct Epoch {
        bytes32 merkleRoot;
        uint256 totalWeight;
        uint256 pool;
        uint256 claimed;
        bool published;
    }

    // ------------------------------------------------------------------ events

    /// @notice `provider` registered in `class` with `gpus` declared GPUs.
    /// @param provider the registering account
    /// @param class its provider class
    /// @param gpus declared GPU count (scales a hardware provider's minimum stake)
    /// @param metadataURI pointer to the provider's public profile
    event ProviderRegistered(address indexed provider, ProviderClass class, uint32 gpus, string metadataURI);

    /// @notice `provider` added `amount` to its active stake.
    /// @param provider the staking provider
    /// @param amount tokens added
    /// @param active active stake after the call
    event Staked(address indexed provider, uint256 amount, uint256 active);

    /// @notice `provider` moved `amount` from active stake to its unbonding bucket.
    /// @param provider the unbonding provider
    /// @param amount tokens moved
    /// @param active active stake after the call
    /// @param unbonding unbonding bucket after the call
    /// @param unbondingEnd when the whole bucket matures (unix seconds)
    event UnbondRequested(
        address indexed provider, uint256 amount, uint256 active, uint256 unbonding, uint64 unbondingEnd
    );

    /// @notice `provider` withdrew `amount` of matured unbonding stake.
    /// @param provider the withdrawing provider
    /// @param amount tokens paid out
    /// @param unbonding unbonding bucket after the call
    event Withdrawn(address indexed provider, uint256 amount, uint256 unbonding);

    /// @notice `provider` was jailed on the strength of verdict `verdictId`.
    /// @param provider the jailed provider
    /// @param verdictId id of the verdict (usable for one jail)
    /// @param until jail end in force after the call (unix seconds; 0 = until recovery)
    /// @param eventType the verdict's event type
    /// @param severity the verdict's severity
    event Jailed(
        address indexed provider, bytes32 indexed verdictId, uint64 until, EventType eventType, Severity severity
    );

    /// @notice `provider`'s jail was lifted by `by` (the provider itself, through `unjail`).
    /// @param provider the released provider
    /// @param by the account that lifted the jail
    event Unjailed(address indexed provider, address indexed by);

    /// @notice A slash of `bps` of `provider`'s stake was proposed under id `id`.
    /// @param id slash id (the verdict id)
    /// @param provider the provider to slash
    /// @param bps share of active plus unbonding stake, in basis points
    /// @param amount tokens to slash, measured when proposed
    /// @param executableAt earliest execution time, the end of the veto window (unix seconds)
    /// @param eventType the verdict's event type
    /// @param severity the verdict's severity
    /// @param evidenceHash the verdict's evidence hash
    event SlashProposed(
        bytes32 indexed id,
        address indexed provider,
        uint16 bps,
        uint256 amount,
        uint64 executableAt,
        EventType eventType,
        Severity severity,
        bytes32 evidenceHash
    );

    /// @notice Pending slash `id` against `provider` was vetoed by `vetoer`.
    /// @param id slash id
    /// @param provider the provider the slash was against
    /// @param vetoer the VETOER_ROLE account
    /// @param reasonHash hash of the off-chain justification
    event SlashVetoed(bytes32 indexed id, address indexed provider, address indexed vetoer, bytes32 reasonHash);

    /// @notice Slash `id` moved `amount` of `provider`'s stake to the treasury.
    /// @param id slash id
    /// @param provider the slashed provider
    /// @param amount tokens slashed (`fromActive + fromUnbonding`)
    /// @param fromActive part taken from active stake
    /// @param fromUnbonding part taken from the unbonding bucket
    event SlashExecuted(
        bytes32 indexed id, address indexed provider, uint256 amount, uint256 fromActive, uint256 fromUnbonding
    );

    /// @notice `provider` was permanently excluded.
    /// @param provider the tombstoned provider
    /// @param reasonHash hash of the off-chain justification
    event Tombstoned(address indexed provider, bytes32 reasonHash);

    /// @notice A recovery on `path` was opened for `provider` at `stage`.
    /// @param provider the jailed provider
    /// @param path the recovery path
    /// @param stage the stage it starts at (always `Response`)
    event RecoveryBegun(address indexed provider, RecoveryPath path, RecoveryStage stage);

    /// @notice `provider`'s recovery on `path` moved to `stage`.
    /// @param provider the recovering provider
    /// @param path the open recovery path
    /// @param stage the stage reached
    event RecoveryAdvanced(address indexed provider, RecoveryPath path, RecoveryStage stage);

    /// @notice `provider` was reinstated and serves `probationEpochs` of reduced reward weight.
    /// @param provider the reinstated provider
    /// @param path the recovery path it completed (`None` for a jail without recovery)
    /// @param probationEpochs probation length announced to the rewards oracle
    event Reinstated(address indexed provider, RecoveryPath path, uint32 probationEpochs);

    /// @notice Reward eligibility of `epoch` was published.
    /// @param epoch the reward epoch
    /// @param merkleRoot root of the (account, weight) leaves
    /// @param totalWeight declared sum of the weights, the denominator of every claim
    /// @param pool the epoch's reward pool, now final
    /// @param uri where the leaves and proofs can be fetched
    event EligibilityPublished(
        uint64 indexed epoch, bytes32 merkleRoot, uint256 totalWeight, uint256 pool, string uri
    );

    /// @notice `funder` added `amount` to `epoch`'s reward pool.
    /// @param epoch the reward epoch
    /// @param funder the paying account
    /// @param amount tokens added
    /// @param pool the pool after the call
    event RewardsFunded(uint64 indexed epoch, address indexed funder, uint256 amount, uint256 pool);

    /// @notice `account` claimed `amount` for its `weight` in `epoch`.
    /// @param epoch the reward epoch
    /// @param account the claimant
    /// @param weight its weight in the published root
    /// @param amount tokens paid, `pool * weight / totalWeight`
    event RewardClaimed(uint64 indexed epoch, address indexed account, uint256 weight, uint256 amount);

    /// @notice Claims of `epoch` open at `claimableAt`; until then the security council may revoke
    ///         the root just published ({revokeEligibility}).
    /// @param epoch the reward epoch
    /// @param claimableAt unix time of the end of the challenge
    event ClaimsOpenAt(uint64 indexed epoch, uint64 claimableAt);

    /// @notice The council revoked `epoch`'s root during its challenge; the epoch is unpublished
    ///         again and its pool untouched.
    /// @param epoch the reward epoch
    /// @param by the VETOER_ROLE account
    /// @param reasonHash hash of the reason, published off chain
    event EligibilityRevoked(uint64 indexed epoch, address indexed by, bytes32 reasonHash);

    /// @notice What was left of `epoch`'s pool after its claim period went to `treasury`.
    /// @param epoch the reward epoch, closed from now on
    /// @param treasury the receiver
    /// @param amount tokens swept (unclaimed shares and rounding dust)
    event RewardsSwept(uint64 indexed epoch, address treasury, uint256 amount);

    /// @notice Tokens beyond bonded stake, unswept reward pools and open appeal bonds (sent to
    ///         the contract directly, say) went to `treasury`.
    /// @param treasury the receiver
    /// @param amount tokens swept
    event ExcessSwept(address treasury, uint256 amount);

    /// @notice The challenge of newly published roots is now `delay` seconds.
    /// @param delay seconds between a root's publication and its first claim
    event RewardChallengeDelaySet(uint64 delay);

    /// @notice Parameters of provider class `class` were set.
    /// @param class the provider class
    /// @param baseMinStake minimum stake of any provider of the class (base units)
    /// @param perGpuMinStake additional minimum stake per declared GPU (base units)
    /// @param unbondingPeriod unbonding period of the class (seconds)
    event ClassParamsSet(
        ProviderClass indexed class, uint256 baseMinStake, uint256 perGpuMinStake, uint64 unbondingPeriod
    );

    /// @notice The veto window of future slash proposals was set.
    /// @param vetoWindow the new window (seconds)
    event VetoWindowSet(uint64 vetoWindow);

    /// @notice The oldest verdict age accepted was set.
    /// @param maxVerdictAge the new maximum age (seconds)
    event MaxVerdictAgeSet(uint64 maxVerdictAge);

    /// @notice The longest timed jail was set.
    /// @param maxJailDuration the new maximum duration (seconds)
    event MaxJailDurationSet(uint64 maxJailDuration);

    /// @notice The probation announced on reinstatement was set.
    /// @param probationEpochs the new probation length (epochs)
    event ProbationEpochsSet(uint32 probationEpochs);

    /// @notice The receiver of slashed tokens was set.
    /// @param treasury the new treasury
    event TreasurySet(address treasury);

    /// @notice The rolling caps were set.
    /// @param window seconds of the rolling window of both caps
    /// @param jailCap most jails by SLASHER_ROLE per window
    /// @param slashCapBps most stake put at stake by slash proposals per window, bps of total bonded stake
    /// @param maxSlashBps most one proposal may take
    event CapsSet(uint64 window, uint32 jailCap, uint16 slashCapBps, uint16 maxSlashBps);

    /// @notice The per-severity bounds of a proposal's bps were set (low, medium, high, critical).
    /// @param bounds the most a verdict of each severity may carry, bps
    event SeverityBoundsSet(uint16[4] bounds);

    /// @notice The detector quorum for large slashes was set.
    /// @param quorum distinct DETECTOR_ROLE signers a proposal above `quorumBps` needs
    /// @param quorumBps the largest proposal one signature may carry
    event QuorumSet(uint8 quorum, uint16 quorumBps);

    /// @notice A slash proposal rested on several detectors' signatures of the same verdict.
    /// @param id the slash (verdict) id
    /// @param signers the DETECTOR_ROLE signers, ascending
    event SlashCoSigned(bytes32 indexed id, address[] signers);

    /// @notice A wrongful jail was lifted (with any recovery it had opened), no probation.
    /// @param provider the provider, active again
    /// @param by the VETOER_ROLE account
    /// @param reasonHash hash of the off-chain justification
    event JailLifted(address indexed provider, address indexed by, bytes32 reasonHash);

    /// @notice Governance released a tombstoned provider's frozen stake for withdrawal.
    /// @param provider the tombstoned provider
    /// @param by the governance account
    event TombstonedStakeReleased(address indexed provider, address indexed by);

    /// @notice The slashed provider appealed slash `id`, putting up `bond`.
    /// @param deadline appealed at + appealTimeout: after it, the appeal expires
    event SlashAppealed(bytes32 indexed id, address indexed provider, bytes32 evidenceHash, uint256 bond, uint64 deadline);

    /// @notice The council resolved the appeal of slash `id`.
    /// @param executableAt rejected: the slash's new executableAt; upheld: 0
    event AppealResolved(bytes32 indexed id, bool upheld, bytes32 reasonHash, uint64 executableAt);

    /// @notice The appeal of slash `id` expired unresolved; its bond went back to the provider.
    event AppealExpired(bytes32 indexed id, uint256 bondRefunded);

    /// @notice New appeal parameters.
    event AppealParamsSet(uint256 bond, uint64 grace, uint64 timeout);

    // ------------------------------------------------------------------ errors

    /// @notice An address argument (token, treasury, governance) is the zero address.
    error ZeroAddress();

    /// @notice An amount argument is zero.
    error ZeroAmount();

    /// @notice `class` is not a {ProviderClass}.
    /// @param class the value given
    error InvalidClass(uint8 class);

    /// @notice `gpus` is above MAX_GPUS, or zero for a hardware provider.
    /// @param gpus the value given
    error InvalidGpuCount(uint32 gpus);

    /// @notice `provider` is registered already.
    /// @param provider the account
    error AlreadyRegistered(address provider);

    /// @notice `provider` is not registered.
    /// @param provider the account
    error NotRegistered(address provider);

    /// @notice `provider` is tombstoned: no stake, jail, recovery or reinstatement applies.
    /// @param provider the account
    error ProviderIsTombstoned(address provider);

    /// @notice More was requested than the stake bucket holds.
    /// @param requested the amount asked for
    /// @param available what the bucket (active or unbonding) holds
    error InsufficientStake(uint256 requested, uint256 available);

    /// @notice The unbonding bucket has not matured.
    /// @param unbondingEnd when it matures (unix seconds)
    error UnbondingNotFinished(uint64 unbondingEnd);

    /// @notice A withdrawal was refused because slashes are pending against `provider`.
    /// @param provider the withdrawing provider
    /// @param pendingSlashes how many proposals are pending
    error WithdrawalBlockedBySlash(address provider, uint32 pendingSlashes);

    /// @notice The verdict has a zero id, or an event type or severity outside its enum.
    error InvalidVerdict();

    /// @notice The verdict signature does not recover to a DETECTOR_ROLE account.
    /// @param signer the recovered address (zero when recovery failed)
    error InvalidVerdictSigner(address signer);

    /// @notice The verdict was detected after the current block's timestamp.
    /// @param detectedAt the verdict's detection time
    error VerdictFromFuture(uint64 detectedAt);

    /// @notice The verdict is older than `maxAge`.
    /// @param detectedAt the verdict's detection time
    /// @param maxAge the maximum verdict age in force
    error VerdictExpired(uint64 detectedAt, uint64 maxAge);

    /// @notice Verdict `id` already jailed its provider once.
    /// @param id the verdict id
    error VerdictAlreadyUsed(bytes32 id);

    /// @notice A timed jail end that is not in the future or beyond `maxJailDuration`.
    /// @param until the value given
    error InvalidJailUntil(uint64 until);

    /// @notice `provider` is not jailed.
    /// @param provider the account
    error NotJailed(address provider);

    /// @notice The jail has not expired, or lasts until recovery (`until` = 0).
    /// @param until the jail end in force
    error JailNotExpired(uint64 until);

    /// @notice A recovery is open for `provider`.
    /// @param provider the account
    error RecoveryOpen(address provider);

    /// @notice Active stake is below the class minimum.
    /// @param active the provider's active stake
    /// @param minimum its minimum stake
    error BelowMinimumStake(uint256 active, uint256 minimum);

    /// @notice `bps` is 0 or above MAX_BPS.
    /// @param bps the value given
    error InvalidBps(uint16 bps);

    /// @notice A slash with id `id` was proposed before (whatever became of it).
    /// @param id the slash id
    error SlashAlreadyExists(bytes32 id);

    /// @notice Slash `id` is not pending.
    /// @param id the slash id
    /// @param state its state
    error SlashNotPending(bytes32 id, SlashState state);

    /// @notice The veto window of slash `id` has closed (and the contract is not paused).
    /// @param id the slash id
    /// @param executableAt when the window closed
    error VetoWindowClosed(bytes32 id, uint64 executableAt);

    /// @notice The veto window of slash `id` is still open.
    /// @param id the slash id
    /// @param executableAt when it closes
    error VetoWindowOpen(bytes32 id, uint64 executableAt);

    /// @notice `path` is `None` or not a {RecoveryPath}.
    /// @param path the value given
    error InvalidRecoveryPath(uint8 path);

    /// @notice No recovery is open for `provider`.
    /// @param provider the account
    error NoRecoveryOpen(address provider);

    /// @notice `provider`'s recovery is at `Restoration` already.
    /// @param provider the account
    error RecoveryAtFinalStage(address provider);

    /// @notice `provider`'s recovery has not reached `Restoration`.
    /// @param provider the account
    /// @param stage the stage it is at
    error RecoveryIncomplete(address provider, RecoveryStage stage);

    /// @notice `provider` is neither jailed nor in recovery.
    /// @param provider the account
    error NothingToReinstate(address provider);

    /// @notice Reward epoch `epoch` is published already.
    /// @param epoch the reward epoch
    error EpochAlreadyPublished(uint64 epoch);

    /// @notice Reward epoch `epoch` has not ended.
    /// @param epoch the reward epoch
    error EpochNotFinished(uint64 epoch);

    /// @notice Reward epoch `epoch` is not published.
    /// @param epoch the reward epoch
    error EpochNotPublished(uint64 epoch);

    /// @notice A zero root with a non-zero total weight, or the reverse.
    error InvalidEligibility();

    /// @notice `account` has claimed its reward of `epoch` already.
    /// @param epoch the reward epoch
    /// @param account the claimant
    error AlreadyClaimed(uint64 epoch, address account);

    /// @notice The weight is zero, or the (caller, weight) leaf and proof do not match the root.
    error InvalidProof();

    /// @notice A valid claim of `amount` exceeds what is left of `epoch`'s pool: the published
    ///         root's weights sum above its declared total weight.
    /// @param epoch the reward epoch
    /// @param amount the claim's payout, `pool * weight / totalWeight`
    /// @param remaining what is left of the pool (`pool - claimed`)
    error PoolOverdrawn(uint64 epoch, uint256 amount, uint256 remaining);

    /// @notice `epoch`'s root is under the council's challenge until `claimableAt`.
    /// @param epoch the reward epoch
    /// @param claimableAt when its claims open
    error ClaimsNotOpen(uint64 epoch, uint64 claimableAt);

    /// @notice `epoch`'s challenge ended at `claimableAt`: its root is final.
    /// @param epoch the reward epoch
    /// @param claimableAt when its claims opened
    error ChallengeClosed(uint64 epoch, uint64 claimableAt);

    /// @notice `epoch`'s claim period (`REWARD_CLAIM_PERIOD` after its claims opened) is over.
    /// @param epoch the reward epoch
    error ClaimPeriodOver(uint64 epoch);

    /// @notice `epoch` is still claimable until `closesAt`; it cannot be swept before.
    /// @param epoch the reward epoch
    /// @param closesAt end of its claim period
    error ClaimPeriodOpen(uint64 epoch, uint256 closesAt);

    /// @notice A governance parameter outside its documented bounds.
    error ParameterOutOfBounds();

    /// @notice The network's bonded stake would not fit the contract's 128-bit accounting.
    /// @param total the bonded stake it would reach
    error AmountTooLarge(uint256 total);

    /// @notice The jail cap of the rolling window is used up (governance's actions are never capped).
    /// @param used jails by SLASHER_ROLE in the current window
    /// @param cap the jail cap
    error JailCapExceeded(uint32 used, uint32 cap);

    /// @notice The proposal would put more stake at stake in the rolling window than the cap allows.
    /// @param atStake the window's stake at stake including this proposal (base units)
    /// @param cap the window's cap (`totalBonded * slashCapBps / MAX_BPS`, base units)
    error SlashCapExceeded(uint256 atStake, uint256 cap);

    /// @notice A proposal above `quorumBps` needs `quorum` distinct detectors' signatures.
    /// @param signers distinct DETECTOR_ROLE signers supplied
    /// @param quorum signers required
    error QuorumNotMet(uint8 signers, uint8 quorum);

    /// @notice Quorum signatures must be ordered by signer address, ascending, each signer once.
    /// @param previous the signer before
    /// @param signer the signer out of order (or repeated)
    error SignersNotAscending(address previous, address signer);

    /// @notice A jailed provider cannot withdraw (a tombstoned one until governance releases its stake).
    /// @param provider the provider
    error ProviderIsJailed(address provider);

    /// @notice Only a tombstoned provider's stake can be released or slashed by governance.
    /// @param provider the provider
    error NotTombstoned(address provider);

    /// @notice Slash `id` has an open appeal until `deadline`.
    error AppealPending(bytes32 id, uint64 deadline);

    /// @notice Slash `id` was already appealed.
    error AlreadyAppealed(bytes32 id);

    /// @notice Only the slashed provider may appeal its slash.
    error NotSlashedProvider(address caller);

    /// @notice Slash `id` has no open appeal.
    error NoOpenAppeal(bytes32 id);

    // ------------------------------------------------------------------ roles and constants

    /// @notice Role of governance: parameters, tombstones, recovery, pause.
    /// @return keccak256("GOVERNANCE_ROLE")
    function GOVERNANCE_ROLE() external view returns (bytes32);

    /// @notice Role of the slashing service's signer: jails, slash proposals, recovery start.
    /// @return keccak256("SLASHER_ROLE")
    function SLASHER_ROLE() external view returns (bytes32);

    /// @notice Role of governance or a security council: may veto pending slashes.
    /// @return keccak256("VETOER_ROLE")
    function VETOER_ROLE() external view returns (bytes32);

    /// @notice Role of the risk-framework signers whose EIP-712 verdicts are accepted.
    /// @return keccak256("DETECTOR_ROLE")
    function DETECTOR_ROLE() external view returns (bytes32);

    /// @notice Role of the service's signer publishing per-epoch reward eligibility.
    /// @return keccak256("REWARDS_ORACLE_ROLE")
    function REWARDS_ORACLE_ROLE() external view returns (bytes32);

    /// @notice EIP-712 type hash of {Verdict}.
    /// @return keccak256 of the type string given at {Verdict}
    function VERDICT_TYPEHASH() external view returns (bytes32);

    /// @notice Basis points of a whole stake (100 %), the largest slash.
    /// @return 10 000
    function MAX_BPS() external view returns (uint16);

    /// @notice Shortest veto window governance may set.
    /// @return seconds
    function MIN_VETO_WINDOW() external view returns (uint64);

    /// @notice Longest veto window governance may set.
    /// @return seconds
    function MAX_VETO_WINDOW() external view returns (uint64);

    /// @notice Smallest `maxVerdictAge` governance may set.
    /// @return seconds
    function MIN_VERDICT_AGE() external view returns (uint64);

    /// @notice Largest `maxVerdictAge` governance may set.
    /// @return seconds
    function MAX_VERDICT_AGE() external view returns (uint64);

    /// @notice Longest unbonding period of a class.
    /// @return seconds
    function MAX_UNBONDING_PERIOD() external view returns (uint64);

    /// @notice Largest `maxJailDuration` governance may set.
    /// @return seconds
    function MAX_JAIL_DURATION_LIMIT() external view returns (uint64);

    /// @notice Longest probation governance may set.
    /// @return epochs
    function MAX_PROBATION_EPOCHS() external view returns (uint32);

    /// @notice Most GPUs a provider may declare.
    /// @return GPU count
    function MAX_GPUS() external view returns (uint32);

    // ------------------------------------------------------------------ providers

    /// @notice Registers the caller as a provider of `class`.
    /// @param class a {ProviderClass} value; anything else reverts with {InvalidClass}
    /// @param gpus declared GPUs; at least 1 for hardware providers, which scales their minimum stake
    /// @param metadataURI free-form pointer to the provider's public profile
    function register(uint8 class, uint32 gpus, string calldata metadataURI) external;

    /// @notice Adds `amount` of the stake token (approved beforehand) to the caller's active stake.
    /// @param amount tokens to stake (base units)
    function stake(uint256 amount) external;

    /// @notice Moves `amount` from active stake to unbonding. The unbonding bucket matures one
    ///         class unbonding period after the latest request, and stays slashable until withdrawn.
    /// @param amount tokens to unbond (base units)
    function requestUnbond(uint256 amount) external;

    /// @notice Withdraws `amount` of matured unbonding stake. Blocked while any slash is pending
    ///         against the caller, so a provider cannot outrun a proposed slash.
    /// @param amount tokens to withdraw (base units)
    function withdraw(uint256 amount) external;

    /// @notice Lifts the caller's own timed jail once it has expired, provided no recovery path is
    ///         open and the active stake still meets the class minimum.
    function unjail() external;

    // ------------------------------------------------------------------ verdict consequences

    /// @notice Isolates `v.provider` on the strength of a detector-signed verdict.
    /// @param v the verdict; its signer must hold DETECTOR_ROLE and it must be fresh
    /// @param signature EIP-712 signature of `v` (65 bytes)
    /// @param until jail end (unix seconds); 0 jails until a recovery path completes.
    ///        A provider already jailed keeps the longer of the two jails.
    function jail(Verdict calldata v, bytes calldata signature, uint64 until) external;

    /// @notice Proposes slashing `bps` of the provider's total stake (active + unbonding, measured
    ///         now) with id `v.id`. Executable by anyone after the veto window. An id is usable once.
    /// @param v the verdict; its signer must hold DETECTOR_ROLE and it must be fresh
    /// @param signature EIP-712 signature of `v` (65 bytes)
    /// @param bps share of the stake to slash, 1 – MAX_BPS
    function proposeSlash(Verdict calldata v, bytes calldata signature, uint16 bps) external;

    /// @notice Proposes a slash resting on several detectors' signatures of the same verdict;
    ///         needed above `quorumBps`. Same checks and effects as {proposeSlash}.
    /// @param v the verdict; it must be fresh
    /// @param signatures EIP-712 signatures of `v` by distinct DETECTOR_ROLE accounts, ordered by
    ///        signer address, ascending
    /// @param bps share of the stake to slash, 1 – `maxSlashBpsFor(v.severity)`
    function proposeSlashQuorum(Verdict calldata v, bytes[] calldata signatures, uint16 bps) external;

    /// @notice {jail} and {proposeSlash} of one verdict in one transaction, so that no provider
    ///         can withdraw between the two.
    /// @param v the verdict
    /// @param signature EIP-712 signature of `v` by a DETECTOR_ROLE account
    /// @param until jail end as in {jail}
    /// @param bps share of the stake to slash, as in {proposeSlash}
    function jailAndProposeSlash(Verdict calldata v, bytes calldata signature, uint64 until, uint16 bps) external;

    /// @notice Cancels a pending slash during its veto window (or at any time while paused).
    /// @param id the slash id
    /// @param reasonHash hash of the off-chain justification
    function vetoSlash(bytes32 id, bytes32 reasonHash) external;

    /// @notice Vetoes many pending slashes in one transaction; ids that are not pending or whose
    ///         window has closed are skipped (nothing changes for them).
    /// @param ids the slash ids
    /// @param reasonHash hash of the off-chain justification
    /// @return vetoed how many were vetoed
    function vetoSlashes(bytes32[] calldata ids, bytes32 reasonHash) external returns (uint256 vetoed);

    /// @notice Executes a pending slash whose veto window has passed, moving the tokens to the
    ///         treasury: active stake first, then unbonding. Anyone may call it.
    /// @param id the slash id
    function executeSlash(bytes32 id) external;

    /// @notice The slashed provider appeals pending slash `id` inside its veto window, putting
    ///         up appealBond() tokens (approve them first). Execution waits for the council's
    ///         resolution or the appeal's deadline.
    /// @param id the slash id
    /// @param evidenceHash hash of the provider's off-chain evidence
    function appealSlash(bytes32 id, bytes32 evidenceHash) external;

    /// @notice VETOER_ROLE resolves the open appeal of slash `id`. Upheld: the slash is vetoed and
    ///         the bond refunded. Rejected: the bond goes to the treasury and the slash becomes
    ///         executable at max(executableAt, now + appealGrace).
    /// @param id the slash id
    /// @param upheld whether the appeal succeeds
    /// @param reasonHash hash of the off-chain justification
    function resolveAppeal(bytes32 id, bool upheld, bytes32 reasonHash) external;

    /// @notice GOVERNANCE_ROLE sets the appeal bond, the grace after a rejection and the timeout.
    /// @param bond base units, 1 to 1,000,000 tokens
    /// @param grace seconds, minVetoWindow() to MAX_VETO_WINDOW
    /// @param timeout seconds, minVetoWindow() to MAX_VETO_WINDOW
    function setAppealParams(uint256 bond, uint64 grace, uint64 timeout) external;

    /// @notice The state of slash `id`'s appeal: 0 none, 1 open, 2 upheld, 3 rejected, 4 expired
    ///         (an open appeal past its deadline reads 4 before executeSlash settles it).
    /// @param id the slash id
    /// @return the state
    function appealOf(bytes32 id) external view returns (uint8);

    /// @notice The appeal of slash `id` (state as in appealOf).
    /// @param id the slash id
    /// @return the appeal
    function getAppeal(bytes32 id) external view returns (Appeal memory);

    /// @notice Tokens an appeal puts up.
    /// @return base units
    function appealBond() external view returns (uint256);

    /// @notice Seconds a rejected appeal's slash stays vetoable at least.
    /// @return seconds
    function appealGrace() external view returns (uint64);

    /// @notice Seconds an appeal stays open before it expires.
    /// @return seconds
    function appealTimeout() external view returns (uint64);

    // ------------------------------------------------------------------ governance: standing

    /// @notice Permanently excludes `provider`: jailed for good, no recovery, no new stake.
    ///         Existing stake stays slashable and can be unbonded and withdrawn.
    /// @param provider the provider to exclude
    /// @param reasonHash hash of the off-chain justification
    function tombstone(address provider, bytes32 reasonHash) external;

    /// @notice Opens recovery `path` for `provider` at stage `Response` (detection and the
    ///         response already happened). Callable by governance or the slashing service.
    /// @param provider the provider to recover
    /// @param path a {RecoveryPath} value other than `None`; anything else reverts with
    ///        {InvalidRecoveryPath}
    function beginRecovery(address provider, uint8 path) external;

    /// @notice Moves `provider`'s open recovery to its next stage (response → recovery → restoration).
    /// @param provider the recovering provider
    function advanceRecovery(address provider) external;

    /// @notice Closes a completed recovery (stage `Restoration`) and lifts the jail; the provider
    ///         then serves `probationEpochs` of reduced reward weight. Also lifts a jail that had
    ///         no recovery path. Never applies to a tombstoned provider.
    /// @param provider the provider to reinstate
    function reinstate(address provider) external;

    /// @notice Takes DETECTOR_ROLE from a rogue or stolen detector key at once: the council's
    ///         containment, without the timelock's delay that granting and other revocations wait
    ///         for. The council can only remove a detector, never add one. Emits RoleRevoked.
    /// @param detector the detector whose verdicts must stop counting
    function revokeDetector(address detector) external;

    /// @notice Lifts wrongful jails (say, of a rogue detector's verdicts) with the recoveries they
    ///         opened, in one transaction; the security council's fast path beside {vetoSlashes}.
    ///         Providers not jailed, or tombstoned, are skipped. Never capped.
    /// @param providers the providers to set free
    /// @param reasonHash hash of the off-chain justification
    /// @return lifted how many jails were lifted
    function liftJails(address[] calldata providers, bytes32 reasonHash) external returns (uint256 lifted);

    /// @notice Releases a tombstoned provider's frozen stake: it may then unbond and withdraw it.
    /// @param provider the tombstoned provider
    function releaseTombstoned(address provider) external;

    /// @notice Proposes a slash of a tombstoned provider without a fresh verdict (the veto window
    ///         applies; governance is never capped). Its id is `keccak256(abi.encode(provider, reasonHash))`.
    /// @param provider the tombstoned provider
    /// @param bps share of the stake to slash, 1 – MAX_BPS
    /// @param reasonHash hash of the off-chain justification (also the slash's evidence hash)
    function slashTombstoned(address provider, uint16 bps, bytes32 reasonHash) external;

    /// @notice Stops staking, slashing, claims and withdrawals (vetoes stay possible).
    ///         GOVERNANCE_ROLE or VETOER_ROLE (the security council, which acts without delay).
    function pause() external;

    /// @notice Resumes normal operation. GOVERNANCE_ROLE or VETOER_ROLE.
    function unpause() external;

    // ------------------------------------------------------------------ rewards

    /// @notice Adds `amount` (approved beforehand) to the reward pool of `epoch`, before it is published.
    /// @param epoch the reward epoch
    /// @param amount tokens to add (base units)
    function fundRewards(uint64 epoch, uint256 amount) external;

    /// @notice Publishes the reward eligibility of a finished epoch, once. Leaves are
    ///         keccak256(bytes.concat(keccak256(abi.encode(account, weight)))).
    /// @param epoch the reward epoch, which must have ended
    /// @param merkleRoot root of the leaves; zero exactly when `totalWeight` is zero
    /// @param totalWeight sum of the leaves' weights
    /// @param uri where the full list of leaves (and proofs) can be fetched
    function publishEligibility(uint64 epoch, bytes32 merkleRoot, uint256 totalWeight, string calldata uri)
        external;

    /// @notice Pays the caller its share `pool * weight / totalWeight` of `epoch`'s pool.
    /// @param epoch a published reward epoch
    /// @param weight the caller's weight in the published root
    /// @param proof Merkle proof of the caller's (account, weight) leaf
    function claim(uint64 epoch, uint256 weight, bytes32[] calldata proof) external;

    /// @notice Revokes the root of `epoch` while it is under challenge (before `claimableAt`),
    ///         unpublishing the epoch so the oracle publishes it again: the security council's
    ///         answer to a stolen oracle key. VETOER_ROLE. Emits {EligibilityRevoked}.
    /// @param epoch a published epoch whose claims have not opened
    /// @param reasonHash hash of the reason, published off chain
    function revokeEligibility(uint64 epoch, bytes32 reasonHash) external;

    /// @notice Sends what is left of a published epoch's pool to the treasury once its claim
    ///         period is over, and closes the epoch. GOVERNANCE_ROLE. Emits {RewardsSwept}.
    /// @param epoch a published epoch past `claimableAt + REWARD_CLAIM_PERIOD`
    function sweepEpoch(uint64 epoch) external;

    /// @notice Sends the tokens the contract holds beyond bonded stake (active and unbonding),
    ///         unswept reward pools and open appeal bonds to the treasury. GOVERNANCE_ROLE.
    ///         Emits {ExcessSwept}; reverts {ZeroAmount} when there is none.
    function sweepExcess() external;

    /// @notice Sets the challenge of roots published from now on, at least the chain's
    ///         minimum (0 on the devnet, 1 day elsewhere), at most 7 days. GOVERNANCE_ROLE.
    /// @param delay seconds between a root's publication and its first claim
    function setRewardChallengeDelay(uint64 delay) external;

    /// @notice Seconds between a root's publication and its first claim.
    /// @return the challenge delay of newly published roots
    function rewardChallengeDelay() external view returns (uint64);

    /// @notice When claims of `epoch` open (zero while unpublished).
    /// @param epoch the reward epoch
    /// @return unix time of the end of its challenge
    function claimableAt(uint64 epoch) external view returns (uint64);

    // ------------------------------------------------------------------ governance: parameters

    /// @notice Sets a class's minimum stake (`baseMinStake + perGpuMinStake * gpus`) and unbonding period.
    /// @param class a {ProviderClass} value; anything else reverts with {InvalidClass}
    /// @param baseMinStake minimum stake of any provider of the class (base units, > 0)
    /// @param perGpuMinStake additional minimum stake per declared GPU (base units)
    /// @param unbondingPeriod seconds, at most MAX_UNBONDING_PERIOD
    function setClassParams(uint8 class, uint256 baseMinStake, uint256 perGpuMinStake, uint64 unbondingPeriod)
        external;

    /// @notice Sets the veto window of future slash proposals (60 s – 30 days).
    /// @param window seconds
    function setVetoWindow(uint64 window) external;

    /// @notice Sets the oldest verdict age accepted (60 s – 30 days).
    /// @param age seconds
    function setMaxVerdictAge(uint64 age) external;

    /// @notice Sets the longest timed jail (1 hour – 365 days).
    /// @param duration seconds
    function setMaxJailDuration(uint64 duration) external;

    /// @notice Sets the probation length announced on reinstatement (0 – 52 epochs).
    /// @param epochs probation length
    function setProbationEpochs(uint32 epochs) external;

    /// @notice Sets the rolling caps of the automatic path (SLASHER_ROLE).
    /// @param window seconds, 1 hour – 30 days
    /// @param jailCap_ jails per window, at least 1
    /// @param slashCapBps_ stake put at stake per window, bps of the total bonded stake, 1 – MAX_BPS
    /// @param maxSlashBps_ the most one proposal may take, 1 – MAX_BPS, at least every severity bound
    function setCaps(uint64 window, uint32 jailCap_, uint16 slashCapBps_, uint16 maxSlashBps_) external;

    /// @notice Sets the most a verdict of each severity may carry (low, medium, high, critical),
    ///         non-decreasing, each at most `maxSlashBps`.
    /// @param bounds bps per severity
    function setSeverityBounds(uint16[4] calldata bounds) external;

    /// @notice Sets the detector quorum of large slashes.
    /// @param quorum distinct signers required above `quorumBps_`, 1 – MAX_QUORUM
    /// @param quorumBps_ the largest proposal one signature may carry, 0 – MAX_BPS
    function setQuorum(uint8 quorum, uint16 quorumBps_) external;

    /// @notice Sets the receiver of slashed tokens.
    /// @param treasury_ the new treasury (not the zero address)
    function setTreasury(address treasury_) external;

    // ------------------------------------------------------------------ views

    /// @notice Active (bonded) stake of `provider`.
    /// @param provider the account
    /// @return active stake, base units
    function stakeOf(address provider) external view returns (uint256);

    /// @notice Stake of `provider` in the unbonding bucket (still slashable).
    /// @param provider the account
    /// @return unbonding stake, base units
    function unbondingOf(address provider) external view returns (uint256);

    /// @notice Unbonding stake `provider` could withdraw now.
    /// @param provider the account
    /// @return the whole unbonding bucket once it matured and no slash is pending, else 0
    function withdrawableOf(address provider) external view returns (uint256);

    /// @notice Whether `provider` is isolated. A timed jail stays in force until `unjail`.
    /// @param provider the account
    /// @return true while jailed (also after a timed jail expired, until lifted)
    function isJailed(address provider) external view returns (bool);

    /// @notice Whether `provider` is permanently excluded.
    /// @param provider the account
    /// @return true once tombstoned
    function isTombstoned(address provider) external view returns (bool);

    /// @notice State of slash `id`.
    /// @param id the slash id
    /// @return the slash's {SlashState} (`None` for an unknown id)
    function slashState(bytes32 id) external view returns (SlashState);

    /// @notice Full record of slash `id`.
    /// @param id the slash id
    /// @return the record (all zero for an unknown id)
    function getSlash(bytes32 id) external view returns (Slash memory);

    /// @notice Full record of `provider`.
    /// @param provider the account
    /// @return the record (all zero for an unregistered account)
    function getProvider(address provider) external view returns (Provider memory);

    /// @notice Minimum active stake for `provider` given its class and declared GPUs.
    /// @param provider the account
    /// @return minimum stake, base units
    function minStakeOf(address provider) external view returns (uint256);

    /// @notice Parameters of provider class `class`.
    /// @param class a {ProviderClass} value
    /// @return the class's parameters (all zero for a value outside the enum)
    function classParams(uint8 class) external view returns (ClassParams memory);

    /// @notice Published data of reward `epoch`.
    /// @param epoch the reward epoch
    /// @return the epoch's record (pool and claims also before publication)
    function getEpoch(uint64 epoch) external view returns (Epoch memory);

    /// @notice The reward epoch containing the current block's timestamp.
    /// @return the epoch number, counted from `epochGenesis` in steps of `epochLength`
    function currentEpoch() external view returns (uint64);

    /// @notice Seconds between a slash proposal and its earliest execution.
    /// @return the veto window of new proposals, seconds
    function vetoWindow() external view returns (uint64);

    /// @notice Receiver of slashed tokens.
    /// @return the treasury
    function treasury() external view returns (address);

    /// @notice The staked ERC-20.
    /// @return the stake token, also paid as rewards
    function stakeToken() external view returns (address);

    /// @notice EIP-712 digest of `v` under this contract's domain (what detectors sign).
    /// @param v the verdict
    /// @return the digest a DETECTOR_ROLE account signs
    function verdictDigest(Verdict calldata v) external view returns (bytes32);

    /// @notice The EIP-712 domain separator of this deployment.
    /// @return the domain separator (name "SwarmRiskFramework", version "1")
    function domainSeparator() external view returns (bytes32);

    /// @notice Whether verdict `id` has jailed its provider already (one jail per verdict).
    /// @param id the verdict id
    /// @return true once used for a jail
    function verdictJailUsed(bytes32 id) external view returns (bool);

    /// @notice Whether `account` has claimed its reward of `epoch`.
    /// @param epoch the reward epoch
    /// @param account the claimant
    /// @return true once claimed
    function hasClaimed(uint64 epoch, address account) external view returns (bool);

    /// @notice Unix time at which epoch 0 starts.
    /// @return the deployment's block timestamp
    function epochGenesis() external view returns (uint64);

    /// @notice Length of a reward epoch.
    /// @return seconds
    function epochLength() external view returns (uint64);

    /// @notice Oldest verdict (now - detectedAt) that `jail` and `proposeSlash` accept.
    /// @return seconds
    function maxVerdictAge() external view returns (uint64);

    /// @notice Longest timed jail the slasher may impose.
    /// @return seconds
    function maxJailDuration() external view returns (uint64);

    /// @notice Epochs of reduced reward weight after reinstatement (enforced off chain by the oracle).
    /// @return probation length, epochs
    function probationEpochs() external view returns (uint32);

    /// @notice The rolling window of both caps.
    /// @return seconds
    function capWindow() external view returns (uint64);

    /// @notice Most jails by SLASHER_ROLE within any `capWindow`.
    /// @return the cap
    function jailCap() external view returns (uint32);

    /// @notice Most stake slash proposals may put at stake within any `capWindow`.
    /// @return bps of the total bonded stake
    function slashCapBps() external view returns (uint16);

    /// @notice Most one slash proposal may take.
    /// @return bps
    function maxSlashBps() external view returns (uint16);

    /// @notice Most a verdict of `severity` may carry.
    /// @param severity a {Severity} value
    /// @return bps (0 for a value outside the enum)
    function maxSlashBpsFor(uint8 severity) external view returns (uint16);

    /// @notice Distinct detectors a proposal above `quorumBps` needs.
    /// @return signers
    function detectorQuorum() external view returns (uint8);

    /// @notice The largest proposal one detector's signature may carry.
    /// @return bps
    function quorumBps() external view returns (uint16);

    /// @notice The network's bonded stake: active + unbonding of every provider.
    /// @return base units
    function totalBonded() external view returns (uint256);

    /// @notice Use of the caps in the current window.
    /// @return jails jails by SLASHER_ROLE in the window
    /// @return atStake stake put at stake by proposals in the window (base units)
    /// @return bonded the network's bonded stake (base units)
    function capUsage() external view returns (uint32 jails, uint256 atStake, uint256 bonded);

    /// @notice Stake of `provider` put at stake by its pending slashes (at most its stake).
    /// @param provider the provider
    /// @return base units
    function atStakeOf(address provider) external view returns (uint256);

    /// @notice Whether governance released a tombstoned provider's stake.
    /// @param provider the provider
    /// @return true once released
    function isReleased(address provider) external view returns (bool);

    /// @notice The shortest veto window the setters accept on this chain (production floor off the devnet).
    /// @return seconds
    function minVetoWindow() external view returns (uint64);
}
