"""Replacements: where an undo kept the output, what went wrong, and an index on state (the monitor's housekeeping)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("replacements") as batch:
        batch.add_column(sa.Column("kept_path", sa.Text(), nullable=True))
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
    op.create_index("ix_replacements_state", "replacements", ["state"])


def downgrade():
    op.drop_index("ix_replacements_state", table_name="replacements")
    with op.batch_alter_table("replacements") as batch:
        batch.drop_column("note")
        batch.drop_column("kept_path")
