"""A run's frozen snapshot is as immutable as its firings: on PostgreSQL the trigger of migration
0002 refuses UPDATE, DELETE and TRUNCATE on run_snapshot (0008 moved the text there from the run
row, which had no trigger: the snapshot was guarded only by the ledger's snapshot_sha256).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels = None
depends_on = None

_REASON = "a run's frozen snapshot is immutable; a new run supersedes an old one"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER run_snapshot_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON run_snapshot "
            f"FOR EACH STATEMENT EXECUTE FUNCTION kaohe_refuse_change('{_REASON.replace(chr(39), chr(39) * 2)}')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER run_snapshot_append_only ON run_snapshot")
