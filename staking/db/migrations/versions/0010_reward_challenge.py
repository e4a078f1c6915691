"""reward roots under challenge and swept epochs (SPEC section 9, audit finding 4)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from staking.db.types import Amount

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("epochs") as batch:
        # When claims open (ClaimsOpenAt); null while unpublished.
        batch.add_column(sa.Column("claimable_at", sa.BigInteger(), nullable=True))
        # How many published roots of the epoch the council revoked (EligibilityRevoked).
        batch.add_column(sa.Column("revocations", sa.Integer(), nullable=False, server_default="0"))
        # What governance swept to the treasury after the claim period (RewardsSwept).
        batch.add_column(sa.Column("swept", Amount(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("epochs") as batch:
        batch.drop_column("swept")
        batch.drop_column("revocations")
        batch.drop_column("claimable_at")
