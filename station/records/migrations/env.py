"""Alembic environment: runs on the connection ``station db upgrade`` hands it."""

from __future__ import annotations

from alembic import context

from station.records.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
