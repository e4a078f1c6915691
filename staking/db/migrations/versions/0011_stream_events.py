"""the live event stream (SPEC section 10, GET /v1/stream)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 19:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stream_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("provider", sa.String(length=42), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stream_events")),
        sqlite_autoincrement=True,  # ids are resume ids: never reused
    )
    op.create_index("ix_stream_events_provider", "stream_events", ["provider", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_stream_events_provider", table_name="stream_events")
    op.drop_table("stream_events")
