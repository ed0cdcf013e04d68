"""Where the record lives, and how to connect to it.

Embedded default: SQLite in the user's data directory, in WAL mode with full sync, each
write transaction taken with ``BEGIN IMMEDIATE`` so appends are serialised. Many hoods and
remote pharmacists: a PostgreSQL URL (``postgresql://…``, through psycopg 3). The URL comes
from ``--db``, else ``STATION_DB``, else the embedded default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

APP_NAME = "iv-station"


def data_dir() -> Path:
    """The user's data directory for the station (created on demand)."""
    path = Path(platformdirs.user_data_dir(APP_NAME))
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url(explicit: str | None = None) -> str:
    """The database to use: ``explicit``, else ``STATION_DB``, else the embedded SQLite file."""
    if explicit:
        return explicit
    from_environment = os.environ.get("STATION_DB")
    if from_environment:
        return from_environment
    return f"sqlite:///{data_dir() / 'station.db'}"


def is_sqlite(url: str) -> bool:
    """True for an SQLite URL."""
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str) -> Engine:
    """An engine configured for durability on either backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"isolation_level": None, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True)


def _sqlite_pragmas(connection: Any, record: object) -> None:
    del record
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")
