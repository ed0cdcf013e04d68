"""Create or migrate a record database (``station db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def upgrade(engine: Engine, app_role: str | None = None) -> None:
    """Bring the schema to the newest revision; on PostgreSQL, let ``app_role`` append only."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        # Independent features add migrations that branch from a shared revision: take them all.
        command.upgrade(config, "heads")
        if app_role is not None and engine.dialect.name == "postgresql":
            role = connection.dialect.identifier_preparer.quote(app_role)
            for statement in (
                f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO {role}",
                f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}",
                f"REVOKE UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public FROM {role}",
            ):
                connection.execute(text(statement))
