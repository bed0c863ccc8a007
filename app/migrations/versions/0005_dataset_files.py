"""Datasets keep their values and series index in files (Parquet); the row is the catalogue.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Datasets stored before keep their values and series in the row (stored_as NULL).
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("stored_as", sa.String(16)))
        batch.add_column(sa.Column("series_count", sa.Integer()))
        batch.add_column(sa.Column("series_length", sa.JSON()))
        batch.alter_column("values", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    # Datasets stored as files have no values in the row to keep; they go.
    op.execute("DELETE FROM datasets WHERE stored_as IS NOT NULL")
    with op.batch_alter_table("datasets") as batch:
        batch.alter_column("values", existing_type=sa.LargeBinary(), nullable=False)
        batch.drop_column("series_length")
        batch.drop_column("series_count")
        batch.drop_column("stored_as")
