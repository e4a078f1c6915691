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
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from staking.db.types import Amount

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ADDRESS = String(42)
HASH = String(66)

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
    Column("epoch", BigInteger),
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
    Column("epoch", BigInteger, primary_key=True),
    Column("pool", Amount, nullable=False),
    Column("claimed", Amount, nullable=False),
    Column("published", Boolean, nullable=False),
    Column("merkle_root", HASH),
    Column("total_weight", Amount),
    Column("uri", Text),
    Column("published_block", BigInteger),
    Column("claims", Integer, nullable=False),
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

PROJECTION_TABLES = (providers, slashes, epochs, roles, params)
