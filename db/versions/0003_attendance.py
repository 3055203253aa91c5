"""Attendance: events, unknown sightings, HTTP API keys.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attendance_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id", ondelete="CASCADE"), nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("best_similarity", sa.Float(), nullable=False),
        sa.Column("sightings", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_attendance_event_person_id", "attendance_event", ["person_id"])
    op.create_index("ix_attendance_event_first_seen", "attendance_event", ["first_seen"])
    op.create_index("ix_attendance_event_last_seen", "attendance_event", ["last_seen"])
    op.create_table(
        "unknown_sighting",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sightings", sa.Integer(), nullable=False),
        sa.Column("best_similarity", sa.Float(), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("dimension", sa.Integer(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("preprocessing", sa.JSON(), nullable=False),
        sa.Column("snapshot", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_unknown_sighting_first_seen", "unknown_sighting", ["first_seen"])
    op.create_index("ix_unknown_sighting_last_seen", "unknown_sighting", ["last_seen"])
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("key_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("api_key")
    op.drop_table("unknown_sighting")
    op.drop_table("attendance_event")
