"""Privacy: the key id beside every sealed (encrypted) biometric blob, and consent records.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SEALED = ("face_sample", "person_vector", "attendance_event", "unknown_sighting", "spoof_event")


def upgrade() -> None:
    # NULL: the row's blobs are plain (written without a key, or before encryption existed).
    for table in SEALED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("key_id", sa.String(16), nullable=True))
        op.create_index(f"ix_{table}_key_id", table, ["key_id"])
    op.create_table(
        "consent",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("purpose", sa.String(1024), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(255), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(255), nullable=True),
    )
    op.create_index("ix_consent_subject", "consent", ["subject"])


def downgrade() -> None:
    op.drop_table("consent")
    for table in SEALED:
        op.drop_index(f"ix_{table}_key_id", table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("key_id")
