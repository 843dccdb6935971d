"""Indexes for reading one unit's part of a run: firings and cuts by (run_id, unit_id).

A unit's scorecard and explanation read its firings and cuts; without these indexes each read
scanned every row of the run (700,000 firings on the province data set).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_firing_run_id_unit_id", "firing", ["run_id", "unit_id"])
    op.create_index("ix_cut_run_id_unit_id", "cut", ["run_id", "unit_id"])


def downgrade() -> None:
    op.drop_index("ix_cut_run_id_unit_id", table_name="cut")
    op.drop_index("ix_firing_run_id_unit_id", table_name="firing")
