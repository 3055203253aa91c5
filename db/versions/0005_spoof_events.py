"""Spoof events: a confirmed run of faces the liveness check called prints or screens.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spoof_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id", ondelete="CASCADE"), nullable=True),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sightings", sa.Integer(), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("liveness_score", sa.Float(), nullable=False),
        sa.Column("snapshot", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_spoof_event_person_id", "spoof_event", ["person_id"])
    op.create_index("ix_spoof_event_first_seen", "spoof_event", ["first_seen"])
    op.create_index("ix_spoof_event_last_seen", "spoof_event", ["last_seen"])


def downgrade() -> None:
    op.drop_table("spoof_event")
