"""one recorder per classroom, consent answers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 15:37:10.162377
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consent_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("display_name", sa.String(length=80), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_consent_answers_recording_id_recordings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_consent_answers_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_answers")),
    )
    with op.batch_alter_table("consent_answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_answers_recording_id"), ["recording_id"], unique=False)

    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.create_index(
            "uq_recordings_one_active_per_classroom",
            ["classroom_id"],
            unique=True,
            sqlite_where=sa.text("state IN ('starting', 'recording', 'finishing')"),
            postgresql_where=sa.text("state IN ('starting', 'recording', 'finishing')"),
        )


def downgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_recordings_one_active_per_classroom",
            sqlite_where=sa.text("state IN ('starting', 'recording', 'finishing')"),
            postgresql_where=sa.text("state IN ('starting', 'recording', 'finishing')"),
        )

    with op.batch_alter_table("consent_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_answers_recording_id"))

    op.drop_table("consent_answers")
