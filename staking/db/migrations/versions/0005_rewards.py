"""rewards: performance reports, epoch weights and their publication; drift findings

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 05:56:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from staking.db.types import Amount, Uint64

ADDRESS = sa.String(length=42)
HASH = sa.String(length=66)

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _id() -> sa.Column:
    return sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "performance_batches",
        sa.Column("id", HASH, nullable=False),
        sa.Column("epoch", Uint64(), nullable=False),
        sa.Column("signer", ADDRESS, nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_performance_batches")),
    )
    op.create_index(op.f("ix_performance_batches_epoch"), "performance_batches", ["epoch"])
    op.create_table(
        "performance_reports",
        sa.Column("epoch", Uint64(), nullable=False),
        sa.Column("provider", ADDRESS, nullable=False),
        sa.Column("batch_id", HASH, nullable=False),
        sa.Column("uptime_bps", sa.Integer(), nullable=False),
        sa.Column("response_ms_p50", sa.BigInteger(), nullable=False),
        sa.Column("error_rate_bps", sa.Integer(), nullable=False),
        sa.Column("rating_bps", sa.Integer(), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("epoch", "provider", name=op.f("pk_performance_reports")),
    )
    op.create_table(
        "reward_epochs",
        sa.Column("epoch", Uint64(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("merkle_root", HASH, nullable=False),
        sa.Column("total_weight", Amount(), nullable=False),
        sa.Column("eligible", sa.Integer(), nullable=False),
        sa.Column("providers", sa.Integer(), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("inputs_hash", sa.String(length=64), nullable=False),
        sa.Column("intent_id", sa.BigInteger(), nullable=True),
        sa.Column("computed_ms", sa.BigInteger(), nullable=False),
        sa.Column("published_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("epoch", name=op.f("pk_reward_epochs")),
    )
    op.create_table(
        "reward_weights",
        sa.Column("epoch", Uint64(), nullable=False),
        sa.Column("provider", ADDRESS, nullable=False),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("weight", Amount(), nullable=False),
        sa.Column("score_bps", sa.Integer(), nullable=False),
        sa.Column("time_weighted_stake", Amount(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("epoch", "provider", name=op.f("pk_reward_weights")),
    )
    op.create_table(
        "drift_findings",
        _id(),
        sa.Column("checked_ms", sa.BigInteger(), nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.Column("provider", ADDRESS, nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("projected", sa.Text(), nullable=False),
        sa.Column("on_chain", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_findings")),
    )
    op.create_index(op.f("ix_drift_findings_provider"), "drift_findings", ["provider"])


def downgrade() -> None:
    for table in (
        "drift_findings",
        "reward_weights",
        "reward_epochs",
        "performance_reports",
        "performance_batches",
    ):
        op.drop_table(table)
