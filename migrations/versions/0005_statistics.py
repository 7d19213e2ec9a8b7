"""Statistics: per-job facts, daily and monthly roll-ups, and an index on jobs.updated_at for incremental refresh

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_jobs_updated_at", "jobs", ["updated_at"])
    op.create_table(
        "job_stats",
        sa.Column("job_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("folder", sa.String(length=255), nullable=False),
        sa.Column("follower", sa.String(length=255), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("preset", sa.String(length=32), nullable=False),
        sa.Column("codec_in", sa.String(length=32), nullable=False),
        sa.Column("codec_out", sa.String(length=32), nullable=False),
        sa.Column("container_in", sa.String(length=16), nullable=False),
        sa.Column("container_out", sa.String(length=16), nullable=False),
        sa.Column("input_bytes", sa.BigInteger(), nullable=False),
        sa.Column("output_bytes", sa.BigInteger(), nullable=False),
        sa.Column("ratio", sa.Float(), nullable=True),
        sa.Column("media_seconds", sa.Float(), nullable=False),
        sa.Column("work_seconds", sa.Float(), nullable=True),
        sa.Column("wait_seconds", sa.Float(), nullable=True),
        sa.Column("fps", sa.Float(), nullable=True),
        sa.Column("wait_bucket", sa.Integer(), nullable=True),
        sa.Column("work_bucket", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_index("ix_job_stats_day", "job_stats", ["day"])
    op.create_index("ix_job_stats_reason", "job_stats", ["reason", "job_id"])
    for table in ("stats_daily", "stats_monthly"):
        op.create_table(
            table,
            sa.Column("day", sa.Date(), nullable=False),
            sa.Column("dim", sa.String(length=16), nullable=False),
            sa.Column("key1", sa.String(length=255), nullable=False),
            sa.Column("key2", sa.String(length=64), nullable=False),
            sa.Column("outcome", sa.String(length=16), nullable=False),
            sa.Column("jobs", sa.Integer(), nullable=False),
            sa.Column("input_bytes", sa.BigInteger(), nullable=False),
            sa.Column("output_bytes", sa.BigInteger(), nullable=False),
            sa.Column("ratio_sum", sa.Float(), nullable=False),
            sa.Column("ratio_n", sa.Integer(), nullable=False),
            sa.Column("media_seconds", sa.Float(), nullable=False),
            sa.Column("work_seconds", sa.Float(), nullable=False),
            sa.Column("fps_sum", sa.Float(), nullable=False),
            sa.Column("fps_n", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("day", "dim", "key1", "key2", "outcome"),
        )
    op.create_index("ix_stats_daily_dim_day", "stats_daily", ["dim", "day"])


def downgrade():
    op.drop_index("ix_stats_daily_dim_day", table_name="stats_daily")
    op.drop_table("stats_monthly")
    op.drop_table("stats_daily")
    op.drop_index("ix_job_stats_reason", table_name="job_stats")
    op.drop_index("ix_job_stats_day", table_name="job_stats")
    op.drop_table("job_stats")
    op.drop_index("ix_jobs_updated_at", table_name="jobs")
