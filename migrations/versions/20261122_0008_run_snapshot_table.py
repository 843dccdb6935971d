"""A unit's part of a run is read without touching the whole run: the snapshot moves to its own
table, and the (run_id, unit_id) indexes of firing and cut take seq.

The run's frozen snapshot moves out of the run row into its own table, run_snapshot.

On the province data set a run's snapshot is ~170 MB of JSON. Inline in the run row, SQLite stores
every column after it (snapshot_sha256, run_hash, supersedes_id, created_at, created_by) past the
snapshot's overflow chain, so each read of a run walked ~40,000 overflow pages (~70 ms) even with
the column deferred; every scorecard and explanation reads its run. The text moves byte for byte
(the audit ledger binds it through run.snapshot_sha256, which does not change).

``WHERE run_id = ? AND unit_id = ? ORDER BY seq`` did not use 0007's (run_id, unit_id) indexes on
SQLite: the planner took the unique (run_id, seq) index to save the sort and read every firing of
the run (709,337 on the province data set) for each scorecard. With seq as the third column the
unit's rows come in order from its own index, on both backends.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_snapshot",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], name=op.f("fk_run_snapshot_run_id_run"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_snapshot")),
    )
    op.execute("INSERT INTO run_snapshot (run_id, body) SELECT id, snapshot FROM run")
    # SQLite (3.35+) and PostgreSQL both drop a plain column in place; a batch rebuild of ``run``
    # would have to drop a table that firings, sheets and cases reference.
    op.drop_column("run", "snapshot")
    for table in ("firing", "cut"):
        op.create_index(f"ix_{table}_run_id_unit_id_seq", table, ["run_id", "unit_id", "seq"])
        op.drop_index(f"ix_{table}_run_id_unit_id", table_name=table)


def downgrade() -> None:
    for table in ("firing", "cut"):
        op.create_index(f"ix_{table}_run_id_unit_id", table, ["run_id", "unit_id"])
        op.drop_index(f"ix_{table}_run_id_unit_id_seq", table_name=table)
    op.add_column("run", sa.Column("snapshot", sa.Text(), nullable=True))
    op.execute("UPDATE run SET snapshot = (SELECT body FROM run_snapshot WHERE run_snapshot.run_id = run.id)")
    if op.get_bind().dialect.name == "postgresql":  # SQLite cannot add NOT NULL in place
        op.alter_column("run", "snapshot", nullable=False)
    op.drop_table("run_snapshot")
