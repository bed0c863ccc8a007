"""Datasets may hold many series: each one's id, row count, time axis and filled values.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: every dataset stored before is a single series, which keeps NULL.
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("series", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("series")
