"""Alembic migrations build the schema from an empty database and match the models exactly."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from server.db.engine import alembic_config, make_engine, migrate
from server.db.models import Base

TABLES = {
    "users",
    "classrooms",
    "classroom_members",
    "recordings",
    "user_settings",
    "chat_messages",
    "consent_answers",
    "auth_sessions",
    "timeline_events",
    "bookmarks",
    "recording_sessions",
    "recording_classrooms",
    "recording_tracks",
    "server_settings",
}


async def test_an_empty_database_is_migrated_to_the_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        await migrate(engine)

        def facts(connection: Connection) -> tuple[set[str], list[object], str | None]:
            context = MigrationContext.configure(connection)
            diff = compare_metadata(context, Base.metadata)
            return set(inspect(connection).get_table_names()), diff, context.get_current_revision()

        async with engine.connect() as connection:
            tables, diff, revision = await connection.run_sync(facts)
        assert tables == {*TABLES, "alembic_version"}
        assert diff == []
        assert revision == "0006"
        await migrate(engine)  # applying again on start changes nothing

        def downgrade(connection: Connection) -> None:
            config = alembic_config(str(engine.url))
            config.attributes["connection"] = connection
            command.downgrade(config, "base")

        async with engine.begin() as connection:
            await connection.run_sync(downgrade)
        async with engine.connect() as connection:
            tables, _, revision = await connection.run_sync(facts)
        assert tables == {"alembic_version"}
        assert revision is None
    finally:
        await engine.dispose()
