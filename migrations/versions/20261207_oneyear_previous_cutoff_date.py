"""A scheme's previous_cutoff_date: the previous year's cut-off, which decides carry-over (结转)
into the scheme's year when the previous year's scheme is not in the database. Nullable: a
scheme whose previous year is in the database takes that scheme's cut-off, and a run that needs
a cut-off nobody gave is refused instead of guessing one.

Revision ID: 0012_oneyear
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012_oneyear"
down_revision: str | None = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("scheme", sa.Column("previous_cutoff_date", sa.Date(), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+ and PostgreSQL): a batch rebuild of ``scheme`` would have to
    # drop a table that every fact references.
    op.execute("ALTER TABLE scheme DROP COLUMN previous_cutoff_date")
