"""projection schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 02:54:45.817453
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import staking.db.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blocks",
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_blocks")),
    )
    op.create_table(
        "epochs",
        sa.Column("epoch", staking.db.types.Uint64(), nullable=False),
        sa.Column("pool", staking.db.types.Amount(), nullable=False),
        sa.Column("claimed", staking.db.types.Amount(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("merkle_root", sa.String(length=66), nullable=True),
        sa.Column("total_weight", staking.db.types.Amount(), nullable=True),
        sa.Column("uri", sa.Text(), nullable=True),
        sa.Column("published_block", sa.BigInteger(), nullable=True),
        sa.Column("claims", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("epoch", name=op.f("pk_epochs")),
    )
    op.create_table(
        "events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=42), nullable=True),
        sa.Column("slash_id", sa.String(length=66), nullable=True),
        sa.Column("epoch", staking.db.types.Uint64(), nullable=True),
        sa.Column("args", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("block_hash", "log_index", name="uq_events_block_log"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_block_number", ["block_number", "log_index"], unique=False)
        batch_op.create_index("ix_events_provider", ["provider", "block_number"], unique=False)
        batch_op.create_index("ix_events_slash_id", ["slash_id"], unique=False)

    op.create_table(
        "meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_meta")),
    )
    op.create_table(
        "params",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_params")),
    )
    op.create_table(
        "providers",
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("provider_class", sa.Integer(), nullable=False),
        sa.Column("gpus", sa.Integer(), nullable=False),
        sa.Column("metadata_uri", sa.Text(), nullable=False),
        sa.Column("active", staking.db.types.Amount(), nullable=False),
        sa.Column("unbonding", staking.db.types.Amount(), nullable=False),
        sa.Column("unbonding_end", sa.BigInteger(), nullable=False),
        sa.Column("withdrawn", staking.db.types.Amount(), nullable=False),
        sa.Column("slashed", staking.db.types.Amount(), nullable=False),
        sa.Column("jailed", sa.Boolean(), nullable=False),
        sa.Column("jailed_until", sa.BigInteger(), nullable=False),
        sa.Column("jail_verdict_id", sa.String(length=66), nullable=True),
        sa.Column("jail_event_type", sa.Integer(), nullable=True),
        sa.Column("jailed_at", sa.BigInteger(), nullable=True),
        sa.Column("tombstoned", sa.Boolean(), nullable=False),
        sa.Column("tombstone_reason", sa.String(length=66), nullable=True),
        sa.Column("recovery_path", sa.Integer(), nullable=False),
        sa.Column("recovery_stage", sa.Integer(), nullable=False),
        sa.Column("pending_slashes", sa.Integer(), nullable=False),
        sa.Column("reinstated_at", sa.BigInteger(), nullable=True),
        sa.Column("probation_epochs", sa.Integer(), nullable=False),
        sa.Column("registered_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_providers")),
    )
    op.create_table(
        "roles",
        sa.Column("role", sa.String(length=66), nullable=False),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("granted_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("role", "account", name=op.f("pk_roles")),
    )
    op.create_table(
        "slashes",
        sa.Column("id", sa.String(length=66), nullable=False),
        sa.Column("provider", sa.String(length=42), nullable=False),
        sa.Column("state", sa.Integer(), nullable=False),
        sa.Column("bps", sa.Integer(), nullable=False),
        sa.Column("amount", staking.db.types.Amount(), nullable=False),
        sa.Column("from_active", staking.db.types.Amount(), nullable=True),
        sa.Column("from_unbonding", staking.db.types.Amount(), nullable=True),
        sa.Column("event_type", sa.Integer(), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("evidence_hash", sa.String(length=66), nullable=False),
        sa.Column("executable_at", sa.BigInteger(), nullable=False),
        sa.Column("proposed_block", sa.BigInteger(), nullable=False),
        sa.Column("proposed_tx", sa.String(length=66), nullable=False),
        sa.Column("proposed_at", sa.BigInteger(), nullable=False),
        sa.Column("resolved_block", sa.BigInteger(), nullable=True),
        sa.Column("resolved_tx", sa.String(length=66), nullable=True),
        sa.Column("veto_reason", sa.String(length=66), nullable=True),
        sa.Column("vetoer", sa.String(length=42), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slashes")),
    )
    with op.batch_alter_table("slashes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slashes_provider"), ["provider"], unique=False)
        batch_op.create_index(batch_op.f("ix_slashes_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("slashes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slashes_state"))
        batch_op.drop_index(batch_op.f("ix_slashes_provider"))

    op.drop_table("slashes")
    op.drop_table("roles")
    op.drop_table("providers")
    op.drop_table("params")
    op.drop_table("meta")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_slash_id")
        batch_op.drop_index("ix_events_provider")
        batch_op.drop_index("ix_events_block_number")

    op.drop_table("events")
    op.drop_table("epochs")
    op.drop_table("blocks")
