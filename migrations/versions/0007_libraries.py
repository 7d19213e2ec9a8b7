"""Libraries: watched folders, what is remembered of their files, media facts, replaced originals

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "libraries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("preset", sa.String(length=120), nullable=True),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("output_policy", sa.String(length=16), nullable=False),
        sa.Column("output_dir", sa.Text(), nullable=True),
        sa.Column("recycle_days", sa.Integer(), nullable=False),
        sa.Column("min_saving_percent", sa.Float(), nullable=False),
        sa.Column("scan_minutes", sa.Integer(), nullable=False),
        sa.Column("watch", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("last_scan_at", sa.DateTime(), nullable=True),
        sa.Column("scan_requested_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "library_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("library_id", sa.Integer(), sa.ForeignKey("libraries.id", ondelete="CASCADE"), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_library_files_path", "library_files", ["library_id", "path"], unique=True)
    op.create_index("ix_library_files_fingerprint", "library_files", ["library_id", "fingerprint", "size"])
    op.create_index("ix_library_files_state", "library_files", ["library_id", "state"])
    op.create_table(
        "media_facts",
        sa.Column("path", sa.String(length=4096), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("container", sa.String(length=64), nullable=True),
        sa.Column("video_codec", sa.String(length=32), nullable=True),
        sa.Column("bit_depth", sa.Integer(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("bitrate", sa.BigInteger(), nullable=True),
        sa.Column("audio_codec", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("probed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("path"),
    )
    op.create_table(
        "replacements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("library_id", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("original_path", sa.Text(), nullable=False),
        sa.Column("recycled_path", sa.Text(), nullable=True),
        sa.Column("output_path", sa.Text(), nullable=False),
        sa.Column("original_size", sa.BigInteger(), nullable=False),
        sa.Column("output_size", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("replaced_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_replacements_library_id", "replacements", ["library_id"])
    op.create_index("ix_replacements_job_id", "replacements", ["job_id"])


def downgrade():
    op.drop_table("replacements")
    op.drop_table("media_facts")
    op.drop_table("library_files")
    op.drop_table("libraries")
