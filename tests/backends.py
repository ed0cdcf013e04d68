"""The record's two backends for the tests: SQLite in a temporary folder, and a real PostgreSQL.

PostgreSQL comes from STATION_TEST_PG_URL (the test command starts a local server and sets
it). Without it the PostgreSQL half is skipped, except under CI=true, where it fails. The
``backend`` fixture (tests/conftest.py) runs a test on each.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from station.records.database import make_engine
from station.records.migrate import upgrade

#: The fixtures' parameters: SQLite in the inner loop, PostgreSQL (a database made and
#: dropped for each test or module) with the slow tests.
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]


@dataclass
class Backend:
    """A migrated, empty record: its backend's name, engine and URL.

    ``app_url`` is the URL of the application role (PostgreSQL only, when one is set), which
    may only read and insert, as a deployed station's.
    """

    name: str
    engine: Engine
    url: str
    app_url: str | None = None


def postgres_admin_url() -> str:
    """The PostgreSQL server to make scratch databases on; skips (or fails on CI) without one."""
    url = os.environ.get("STATION_TEST_PG_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the PostgreSQL tests: STATION_TEST_PG_URL is not set")
        pytest.skip("no PostgreSQL configured (set STATION_TEST_PG_URL)")
    return url


def fresh_sqlite(folder: Path) -> Iterator[Backend]:
    """A migrated SQLite record in ``folder``; its engine is disposed of afterwards."""
    url = f"sqlite:///{folder / 'station.db'}"
    engine = make_engine(url)
    upgrade(engine)
    try:
        yield Backend("sqlite", engine, url)
    finally:
        engine.dispose()


def fresh_postgres() -> Iterator[Backend]:
    """A new, migrated PostgreSQL database of its own; dropped afterwards."""
    admin_url = make_url(postgres_admin_url()).set(drivername="postgresql+psycopg")
    name = f"station_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    app_role = os.environ.get("STATION_TEST_PG_APP_ROLE", "")
    app_user, _, app_password = app_role.partition(":")
    upgrade(engine, app_role=app_user or None)
    app_url = (make_url(url).set(username=app_user, password=app_password)
               .render_as_string(hide_password=False) if app_user else None)
    try:
        yield Backend("postgresql", engine, url, app_url)
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
