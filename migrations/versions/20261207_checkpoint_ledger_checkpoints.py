"""Signed checkpoints of the audit ledger (issue 16 §4): table ledger_checkpoint, append-only on
PostgreSQL like the ledger itself (the trigger function of migration 0002).

Revision ID: 0012_checkpoint
Revises: 0012_oneyear (linearised after main merged oneyear)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0012_checkpoint"
down_revision: str | None = "0012_oneyear"
branch_labels = None
depends_on = None

_REASON = "a signed checkpoint is kept as it was signed; sign a new one instead"


def upgrade() -> None:
    op.create_table(
        "ledger_checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("key_name", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("made_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("made_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint("length(key_id) = 8", name=op.f("ck_ledger_checkpoint_key_id")),
        sa.CheckConstraint("length(root_hash) = 64", name=op.f("ck_ledger_checkpoint_root_hash")),
        sa.CheckConstraint("reason IN ('publish', 'seal', 'demand', 'export')",
                           name=op.f("ck_ledger_checkpoint_reason")),
        sa.CheckConstraint("tree_size >= 0", name=op.f("ck_ledger_checkpoint_tree_size")),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], name=op.f("fk_ledger_checkpoint_run_id_run"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_checkpoint")),
    )
    with op.batch_alter_table("ledger_checkpoint", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_checkpoint_tree_size"), ["tree_size"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER ledger_checkpoint_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON "
            f"ledger_checkpoint FOR EACH STATEMENT EXECUTE FUNCTION kaohe_refuse_change('{_REASON}')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER ledger_checkpoint_append_only ON ledger_checkpoint")
    with op.batch_alter_table("ledger_checkpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_checkpoint_tree_size"))
    op.drop_table("ledger_checkpoint")
