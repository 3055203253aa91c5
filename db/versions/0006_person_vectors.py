"""Person centroids and a change log: what the identification index is made of, and how every
process sharing the store catches up with a change without rebuilding.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_vector",
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("centre", sa.String(64), nullable=True),
        sa.Column("dimension", sa.Integer(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("centroid", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_person_vector_kind", "person_vector", ["model", "centre"])
    op.create_table(
        "change_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
    )
    op.create_index("ix_change_log_revision", "change_log", ["revision"])
    # Every person's centroid from the samples the store holds (in id order, a person at a time).
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT person_id, model, centre, dimension, embedding FROM face_sample ORDER BY person_id, id")
    )
    person, kind, vectors = None, None, []

    def flush() -> None:
        if person is None:
            return
        total = np.sum(vectors, axis=0, dtype=np.float64)
        centroid = (total / max(np.linalg.norm(total), 1e-12)).astype("<f4")
        connection.execute(
            sa.text(
                "INSERT INTO person_vector (person_id, model, centre, dimension, samples, centroid) "
                "VALUES (:p, :m, :c, :d, :n, :v)"
            ),
            {"p": person, "m": kind[0], "c": kind[1], "d": kind[2], "n": len(vectors), "v": centroid.tobytes()},
        )

    for person_id, model, centre, dimension, blob in rows.fetchall():
        if person_id != person:
            flush()
            person, kind, vectors = person_id, (model, centre, dimension), []
        vectors.append(np.frombuffer(blob, dtype="<f4", count=dimension))
    flush()


def downgrade() -> None:
    op.drop_table("change_log")
    op.drop_table("person_vector")
