"""the class timeline: events and bookmarks at media time, pauses, codes lists, recording names

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("classrooms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("codes_lists", sa.Text(), nullable=False, server_default="[]"))
    with op.batch_alter_table("user_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("default_recording_name", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("edit_name_on_stop", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("paused_ms", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("codes_list", sa.Text(), nullable=True))
    op.create_table(
        "timeline_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("media_ms", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["recording_id"], ["recordings.id"], name=op.f("fk_timeline_events_recording_id_recordings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline_events")),
    )  # fmt: skip
    op.create_index(
        "ix_timeline_events_recording_id_media_ms", "timeline_events", ["recording_id", "media_ms", "id"]
    )
    op.create_table(
        "bookmarks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=True),
        sa.Column("label", sa.String(length=120), nullable=True),
        sa.Column("remark", sa.Text(), nullable=True),
        sa.Column("media_ms", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["recording_id"], ["recordings.id"], name=op.f("fk_bookmarks_recording_id_recordings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_bookmarks_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookmarks")),
    )  # fmt: skip
    op.create_index("ix_bookmarks_recording_id_media_ms", "bookmarks", ["recording_id", "media_ms"])


def downgrade() -> None:
    op.drop_index("ix_bookmarks_recording_id_media_ms", table_name="bookmarks")
    op.drop_table("bookmarks")
    op.drop_index("ix_timeline_events_recording_id_media_ms", table_name="timeline_events")
    op.drop_table("timeline_events")
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_column("codes_list")
        batch_op.drop_column("paused_ms")
        batch_op.drop_column("paused_at")
    with op.batch_alter_table("user_settings", schema=None) as batch_op:
        batch_op.drop_column("edit_name_on_stop")
        batch_op.drop_column("default_recording_name")
    with op.batch_alter_table("classrooms", schema=None) as batch_op:
        batch_op.drop_column("codes_lists")
