"""what students may publish in a classroom: microphone, camera, screen

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing classrooms keep what students could do before (talk and show themselves) and lose only
    # screen sharing, which now needs a moderator's leave.
    with op.batch_alter_table("classrooms", schema=None) as batch_op:
        for name, default in (
            ("student_microphone", sa.true()),
            ("student_camera", sa.true()),
            ("student_screen", sa.false()),
        ):
            batch_op.add_column(sa.Column(name, sa.Boolean(), nullable=False, server_default=default))


def downgrade() -> None:
    with op.batch_alter_table("classrooms", schema=None) as batch_op:
        batch_op.drop_column("student_screen")
        batch_op.drop_column("student_camera")
        batch_op.drop_column("student_microphone")
