"""What a stored vector is: the centre subtracted before normalisation (NULL: none, as before 0004).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Vectors stored before this revision are the network's own unit vectors: NULL says so, and
    # facerec refuses to match them against centred ones until `facerec reembed` re-centres them.
    with op.batch_alter_table("face_sample") as batch:
        batch.add_column(sa.Column("centre", sa.String(64), nullable=True))
    with op.batch_alter_table("unknown_sighting") as batch:
        batch.add_column(sa.Column("centre", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("unknown_sighting") as batch:
        batch.drop_column("centre")
    with op.batch_alter_table("face_sample") as batch:
        batch.drop_column("centre")
