"""Tables of the projection. Rows are derived from SwarmStaking events only (plus chain identity),
so any of them can be rebuilt by replaying `events`.

Addresses are stored checksummed; bytes32 values as 0x-hex; amounts as `Amount` (exact ints).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from staking.db.appeals import appeals
from staking.db.blast_radius import detector_revocations, incident_verdicts, incidents, verdict_signers
from staking.db.columns import ADDRESS, HASH, metadata
from staking.db.stream import stream_events
from staking.db.types import Amount, Uint64

# Chain identity the database was built from, and indexer bookkeeping (key -> value).
meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# One row per processed block that carried events, plus each batch's last block: enough to
# detect a reorg (parent-hash / stored-hash mismatch) and find the common ancestor.
blocks = Table(
    "blocks",
    metadata,
    Column("number", BigInteger, primary_key=True),
    Column("hash", HASH, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
)

# Every decoded SwarmStaking event; the source of truth for replays after a reorg.
events = Table(
    "events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("block_number", BigInteger, nullable=False),
    Column("block_hash", HASH, nullable=False),
    Column("log_index", Integer, nullable=False),
    Column("tx_hash", HASH, nullable=False),
    Column("block_time", BigInteger, nullable=False),
    Column("name", String(40), nullable=False),
    Column("provider", ADDRESS),
    Column("slash_id", HASH),
    Column("epoch", Uint64()),
    Column("args", Text, nullable=False),  # JSON; ints as decimal strings
    UniqueConstraint("block_hash", "log_index", name="uq_events_block_log"),
    Index("ix_events_block_number", "block_number", "log_index"),
    Index("ix_events_provider", "provider", "block_number"),
    Index("ix_events_slash_id", "slash_id"),
)

providers = Table(
    "providers",
    metadata,
    Column("address", ADDRESS, primary_key=True),
    Column("provider_class", Integer, nullable=False),
    Column("gpus", Integer, nullable=False),
    Column("metadata_uri", Text, nullable=False),
    Column("active", Amount, nullable=False),
    Column("unbonding", Amount, nullable=False),
    Column("unbonding_end", BigInteger, nullable=False),
    Column("withdrawn", Amount, nullable=False),
    Column("slashed", Amount, nullable=False),
    Column("jailed", Boolean, nullable=False),
    Column("jailed_until", BigInteger, nullable=False),  # 0 with jailed = until recovery
    Column("jail_verdict_id", HASH),
    Column("jail_event_type", Integer),
    Column("jailed_at", BigInteger),
    Column("tombstoned", Boolean, nullable=False),
    Column("tombstone_reason", HASH),
    Column("recovery_path", Integer, nullable=False),
    Column("recovery_stage", Integer, nullable=False),
    Column("pending_slashes", Integer, nullable=False),
    Column("reinstated_at", BigInteger),
    Column("probation_epochs", Integer, nullable=False),
    Column("registered_block", BigInteger, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
)

slashes = Table(
    "slashes",
    metadata,
    Column("id", HASH, primary_key=True),
    Column("provider", ADDRESS, nullable=False, index=True),
    Column("state", Integer, nullable=False, index=True),  # 1 pending, 2 vetoed, 3 executed
    Column("bps", Integer, nullable=False),
    Column("amount", Amount, nullable=False),  # proposed; executed amount once executed
    Column("from_active", Amount),
    Column("from_unbonding", Amount),
    Column("event_type", Integer, nullable=False),
    Column("severity", Integer, nullable=False),
    Column("evidence_hash", HASH, nullable=False),
    Column("executable_at", BigInteger, nullable=False),
    Column("proposed_block", BigInteger, nullable=False),
    Column("proposed_tx", HASH, nullable=False),
    Column("proposed_at", BigInteger, nullable=False),
    Column("resolved_block", BigInteger),
    Column("resolved_tx", HASH),
    Column("veto_reason", HASH),
    Column("vetoer", ADDRESS),
)

epochs = Table(
    "epochs",
    metadata,
    Column("epoch", Uint64(), primary_key=True),
    Column("pool", Amount, nullable=False),
    Column("claimed", Amount, nullable=False),
    Column("published", Boolean, nullable=False),
    Column("merkle_root", HASH),
    Column("total_weight", Amount),
    Column("uri", Text),
    Column("published_block", BigInteger),
    Column("claims", Integer, nullable=False),
    Column("claimable_at", BigInteger),  # when claims open (ClaimsOpenAt); null while unpublished
    Column("revocations", Integer, nullable=False, server_default="0"),  # roots the council revoked
    Column("swept", Amount, nullable=False, server_default="0"),  # to the treasury after the claim period
)

roles = Table(
    "roles",
    metadata,
    Column("role", HASH, primary_key=True),
    Column("account", ADDRESS, primary_key=True),
    Column("granted_block", BigInteger, nullable=False),
)

params = Table(
    "params",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_block", BigInteger, nullable=False),
)

PROJECTION_TABLES = (providers, slashes, appeals, epochs, roles, params)


# ---- the service's own records (not derived from events): verdicts, their actions, and the
# transaction manager's write-ahead log. Times are unix milliseconds (latency is measured in ms).

verdicts = Table(
    "verdicts",
    metadata,
    Column("id", HASH, primary_key=True),
    Column("provider", ADDRESS, nullable=False, index=True),
    Column("event_type", Integer, nullable=False),
    Column("severity", Integer, nullable=False),
    Column("detected_at", BigInteger, nullable=False),
    Column("evidence_hash", HASH, nullable=False),
    Column("evidence_uri", Text),
    Column("signature", String(132), nullable=False),
    Column("signer", ADDRESS, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False, index=True),  # received|executing|done|rejected|failed
    Column("level", String(16), nullable=False),  # none|warning|penalty|severe
    Column("offence_number", Integer, nullable=False),
    Column("slash_bps", Integer, nullable=False),
    Column("jail_seconds", BigInteger),  # None: no jail; 0: until recovery
    Column("recovery_path", Integer, nullable=False),
    Column("deadline_ms", BigInteger, nullable=False),
    Column("received_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("policy_hash", String(71)),  # sha256: of the policy that decided it (null: before 0012)
)

actions = Table(
    "actions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("verdict_id", HASH, nullable=False),
    Column("seq", Integer, nullable=False),  # order within the verdict: isolation first
    Column("kind", String(24), nullable=False),
    Column("state", String(16), nullable=False, index=True),  # pending|submitted|confirmed|failed|skipped
    Column("intent_id", BigInteger),
    Column("deadline_ms", BigInteger, nullable=False),
    Column("confirmed_ms", BigInteger),
    Column("note", Text),
    UniqueConstraint("verdict_id", "seq", name="uq_actions_verdict_seq"),
)

investigations = Table(
    "investigations",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("verdict_id", HASH, nullable=False, unique=True),
    Column("provider", ADDRESS, nullable=False, index=True),
    Column("status", String(16), nullable=False, index=True),  # open|resolved
    Column("resolution", Text),
    Column("resolved_by", String(80)),
    Column("opened_ms", BigInteger, nullable=False),
    Column("resolved_ms", BigInteger),
)

# Write-ahead record of every transaction the service means to send. A row exists (with its
# signed payload) before the payload reaches the node, so a crash can never lose or double it.
tx_intents = Table(
    "tx_intents",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("idempotency_key", String(100), nullable=False, unique=True),  # e.g. jail:<verdict id>
    Column("signer", ADDRESS, nullable=False),
    Column("nonce", BigInteger),
    Column("to_address", ADDRESS, nullable=False),
    Column("data", Text, nullable=False),
    Column("gas", BigInteger, nullable=False),
    Column("state", String(16), nullable=False, index=True),  # TxState: planned|sent|mined|…
    Column("tx_hash", HASH),  # latest attempt
    Column("attempts", Integer, nullable=False),
    Column("mined_block", BigInteger),
    Column("mined_block_hash", HASH),
    Column("created_ms", BigInteger, nullable=False),
    Column("sent_ms", BigInteger),
    Column("confirmed_ms", BigInteger),
    Column("error", Text),
    # When a stuck payload was found unable to be replaced within the fee cap (None: it can be).
    Column("fee_capped_ms", BigInteger),
    UniqueConstraint("signer", "nonce", name="uq_tx_intents_signer_nonce"),
)

# Every signed payload sent for an intent (replacements share the nonce): any one may be mined.
tx_attempts = Table(
    "tx_attempts",
    metadata,
    Column("tx_hash", HASH, primary_key=True),
    Column("intent_id", BigInteger, nullable=False, index=True),
    Column("raw_tx", Text, nullable=False),
    Column("max_fee", Amount, nullable=False),
    Column("priority_fee", Amount, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

signer_nonces = Table(
    "signer_nonces",
    metadata,
    Column("signer", ADDRESS, primary_key=True),
    Column("next_nonce", BigInteger, nullable=False),
)

# One row per scheduled job of the worker: every run is counted here, so any API process (not only
# the worker that ran it) can expose it at /metrics.
job_runs = Table(
    "job_runs",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("runs", BigInteger, nullable=False),  # finished runs
    Column("failures", BigInteger, nullable=False),
    Column("last_started_ms", BigInteger),
    Column("last_finished_ms", BigInteger),
    Column("last_duration_ms", BigInteger),
    Column("last_success_ms", BigInteger),  # finish time of the latest run that did not fail
    Column("last_status", String(16)),  # ok|failed
    Column("last_result", Text),  # what the run did, or the error of a failed run
)

# Webhook deliveries, one row per (event, receiver URL), kept until the receiver accepts or the
# attempts run out; a restart resumes them, and a dead receiver's backoff never delays another's.
webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("delivery", String(32), nullable=False),  # X-Swarm-Delivery, stable across retries
    Column("url", Text, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("body", Text, nullable=False),  # the exact JSON that is signed and sent
    Column("state", String(16), nullable=False),  # pending|delivered|failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_ms", BigInteger, nullable=False),
    Column("last_error", Text),
    Column("created_ms", BigInteger, nullable=False),
    Column("delivered_ms", BigInteger),
    Index("ix_webhook_outbox_due", "state", "next_attempt_ms"),
)

# ---- rewards: detectors' performance reports, each epoch's computed weights and their publication

performance_batches = Table(
    "performance_batches",
    metadata,
    Column("id", HASH, primary_key=True),
    Column("epoch", Uint64(), nullable=False, index=True),
    Column("signer", ADDRESS, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("reports", Integer, nullable=False),
    Column("received_ms", BigInteger, nullable=False),
)

# The report that counts for (epoch, provider): the latest accepted batch's, until the epoch's
# weights are computed; afterwards reports for that epoch are refused.
performance_reports = Table(
    "performance_reports",
    metadata,
    Column("epoch", Uint64(), primary_key=True),
    Column("provider", ADDRESS, primary_key=True),
    Column("batch_id", HASH, nullable=False),
    Column("uptime_bps", Integer, nullable=False),
    Column("response_ms_p50", BigInteger, nullable=False),
    Column("error_rate_bps", Integer, nullable=False),
    Column("rating_bps", Integer, nullable=False),
    Column("received_ms", BigInteger, nullable=False),
)

# One row per reconciled epoch. Immutable once `published`; an unpublished epoch recomputes to
# the same root from the same inputs (`inputs_hash` records them).
reward_epochs = Table(
    "reward_epochs",
    metadata,
    Column("epoch", Uint64(), primary_key=True),
    Column("state", String(16), nullable=False),  # computed|publishing|published|empty
    Column("merkle_root", HASH, nullable=False),
    Column("total_weight", Amount, nullable=False),
    Column("eligible", Integer, nullable=False),
    Column("providers", Integer, nullable=False),
    Column("uri", Text, nullable=False),
    Column("inputs_hash", String(64), nullable=False),
    Column("intent_id", BigInteger),  # the publishEligibility transaction intent
    Column("computed_ms", BigInteger, nullable=False),
    Column("published_ms", BigInteger),
)

reward_weights = Table(
    "reward_weights",
    metadata,
    Column("epoch", Uint64(), primary_key=True),
    Column("provider", ADDRESS, primary_key=True),
    Column("eligible", Boolean, nullable=False),
    Column("weight", Amount, nullable=False),
    Column("score_bps", Integer, nullable=False),
    Column("time_weighted_stake", Amount, nullable=False),
    Column("reasons", Text, nullable=False),  # JSON list of strings
)

# The latest drift check: every field where the projection and the contract disagree.
drift_findings = Table(
    "drift_findings",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("checked_ms", BigInteger, nullable=False),
    Column("block", BigInteger, nullable=False),  # the block both sides were read at
    Column("provider", ADDRESS, nullable=False, index=True),
    Column("field", String(40), nullable=False),
    Column("projected", Text, nullable=False),
    Column("on_chain", Text, nullable=False),
)

# ---- leadership of the single-writer roles (worker, indexer) when several processes run them

# One row per role. The holder of the role's lock (a PostgreSQL advisory lock, or a file lock
# beside a SQLite file) renews its lease here; `term` grows by one with every new holder, and every
# write-ahead transaction of the transaction manager checks it (fencing), so a deposed leader can
# never plan or sign a transaction. Times are unix milliseconds of the database's clock.
leader_leases = Table(
    "leader_leases",
    metadata,
    Column("name", String(64), primary_key=True),  # worker | indexer
    Column("holder", Text, nullable=False),  # hostname:pid:token of the leading process
    Column("term", BigInteger, nullable=False),
    Column("backend_pid", Integer),  # PostgreSQL backend holding the advisory lock
    Column("acquired_at", BigInteger, nullable=False),
    Column("renewed_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

__all__ = [
    "ADDRESS",
    "HASH",
    "appeals",
    "detector_revocations",
    "incident_verdicts",
    "incidents",
    "metadata",
    "stream_events",
    "verdict_signers",
]
