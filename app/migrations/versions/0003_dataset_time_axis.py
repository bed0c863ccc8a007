"""Datasets keep their time axis (start, frequency, length) and how many values were filled.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("time_axis", sa.JSON()))
        batch.add_column(sa.Column("filled", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("filled")
        batch.drop_column("time_axis")
