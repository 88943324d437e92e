"""recording modes: per-participant tracks, sessions over several classrooms, admin settings

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recording_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("mode IN ('composite', 'separate')", name=op.f("ck_recording_sessions_mode")),
        sa.ForeignKeyConstraint(
            ["started_by_id"], ["users.id"], name=op.f("fk_recording_sessions_started_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_sessions")),
    )  # fmt: skip
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mode", sa.String(length=16), nullable=False, server_default="composite")
        )
        batch_op.add_column(sa.Column("session_id", sa.Integer(), nullable=True))
        batch_op.create_check_constraint("mode", "mode IN ('composite', 'tracks', 'both')")
        batch_op.create_foreign_key(
            batch_op.f("fk_recordings_session_id_recording_sessions"), "recording_sessions",
            ["session_id"], ["id"], ondelete="SET NULL",
        )  # fmt: skip
        batch_op.create_index(batch_op.f("ix_recordings_session_id"), ["session_id"], unique=False)
    op.create_table(
        "recording_classrooms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("classroom_id", sa.Integer(), nullable=True),
        sa.Column("classroom_name", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active_classroom_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["recording_id"], ["recordings.id"], name=op.f("fk_recording_classrooms_recording_id_recordings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["classroom_id"], ["classrooms.id"],
            name=op.f("fk_recording_classrooms_classroom_id_classrooms"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_classrooms")),
        sa.UniqueConstraint("active_classroom_id", name="uq_recording_classrooms_active_classroom_id"),
    )  # fmt: skip
    op.create_index("ix_recording_classrooms_classroom_id", "recording_classrooms", ["classroom_id"])
    op.create_index(op.f("ix_recording_classrooms_recording_id"), "recording_classrooms", ["recording_id"])
    # Every recording so far covers its own classroom; an active one holds it.
    op.execute(
        "INSERT INTO recording_classrooms "
        "(recording_id, classroom_id, classroom_name, position, active_classroom_id) "
        "SELECT id, classroom_id, classroom_name, 0, "
        "CASE WHEN state IN ('starting', 'recording', 'finishing') THEN classroom_id ELSE NULL END "
        "FROM recordings"
    )
    op.create_table(
        "recording_tracks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("codec", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("offset_ms", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["recording_id"], ["recordings.id"], name=op.f("fk_recording_tracks_recording_id_recordings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_tracks")),
        sa.UniqueConstraint("file_name", name="uq_recording_tracks_file_name"),
    )  # fmt: skip
    op.create_index(op.f("ix_recording_tracks_recording_id"), "recording_tracks", ["recording_id"])
    op.create_table(
        "server_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_server_settings")),
    )


def downgrade() -> None:
    op.drop_table("server_settings")
    op.drop_index(op.f("ix_recording_tracks_recording_id"), table_name="recording_tracks")
    op.drop_table("recording_tracks")
    op.drop_index(op.f("ix_recording_classrooms_recording_id"), table_name="recording_classrooms")
    op.drop_index("ix_recording_classrooms_classroom_id", table_name="recording_classrooms")
    op.drop_table("recording_classrooms")
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recordings_session_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_recordings_session_id_recording_sessions"), type_="foreignkey"
        )
        batch_op.drop_constraint("mode", type_="check")
        batch_op.drop_column("session_id")
        batch_op.drop_column("mode")
    op.drop_table("recording_sessions")
