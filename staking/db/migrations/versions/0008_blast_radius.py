"""bounded blast radius: co-signatures, incidents, revoked detectors (SPEC section 8)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "verdict_signers",
        sa.Column("verdict_id", sa.String(length=66), nullable=False),
        sa.Column("signer", sa.String(length=42), nullable=False),
        sa.Column("signature", sa.String(length=132), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("verdict_id", "signer", name=op.f("pk_verdict_signers")),
    )
    op.create_table(
        "incidents",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=66), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("opened_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("closed_ms", sa.BigInteger(), nullable=True),
        sa.Column("closed_by", sa.String(length=80), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index(op.f("ix_incidents_state"), "incidents", ["state"], unique=False)
    op.create_table(
        "incident_verdicts",
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("verdict_id", sa.String(length=66), nullable=False),
        sa.Column("added_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("incident_id", "verdict_id", name=op.f("pk_incident_verdicts")),
    )
    op.create_index(
        op.f("ix_incident_verdicts_verdict_id"), "incident_verdicts", ["verdict_id"], unique=False
    )
    op.create_table(
        "detector_revocations",
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("revoked_ms", sa.BigInteger(), nullable=False),
        sa.Column("revoked_by", sa.String(length=80), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_detector_revocations")),
    )
    # The first signer of every verdict already stored is its first co-signer.
    op.execute(
        "INSERT INTO verdict_signers (verdict_id, signer, signature, received_ms) "
        "SELECT id, signer, signature, received_ms FROM verdicts"
    )


def downgrade() -> None:
    op.drop_table("detector_revocations")
    op.drop_index(op.f("ix_incident_verdicts_verdict_id"), table_name="incident_verdicts")
    op.drop_table("incident_verdicts")
    op.drop_index(op.f("ix_incidents_state"), table_name="incidents")
    op.drop_table("incidents")
    op.drop_table("verdict_signers")
