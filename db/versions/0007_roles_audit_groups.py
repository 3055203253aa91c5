"""API key roles, the audit log of changes made through the API, and groups of people.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Keys made before roles could do everything: they keep doing so.
    with op.batch_alter_table("api_key") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="admin"))
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(1024), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "group_member",
        sa.Column("group_name", sa.String(255), primary_key=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_group_member_person_id", "group_member", ["person_id"])


def downgrade() -> None:
    op.drop_table("group_member")
    op.drop_table("audit_log")
    with op.batch_alter_table("api_key") as batch:
        batch.drop_column("role")
