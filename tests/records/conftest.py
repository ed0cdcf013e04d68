"""One contract, two backends: every records test runs on SQLite and on a real PostgreSQL.

PostgreSQL comes from STATION_TEST_PG_URL (the test command starts a local server and sets
it). Without it the PostgreSQL half is skipped, except under CI=true, where it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from station.records.database import make_engine
from station.records.migrate import upgrade


@dataclass
class Backend:
    name: str
    engine: Engine
    url: str
    app_url: str | None = None


def _postgres_admin_url() -> str:
    url = os.environ.get("STATION_TEST_PG_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the PostgreSQL tests: STATION_TEST_PG_URL is not set")
        pytest.skip("no PostgreSQL configured (set STATION_TEST_PG_URL)")
    return url


def _fresh_postgres() -> Iterator[Backend]:
    admin_url = make_url(_postgres_admin_url()).set(drivername="postgresql+psycopg")
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


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path) -> Iterator[Backend]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'station.db'}"
        engine = make_engine(url)
        upgrade(engine)
        yield Backend("sqlite", engine, url)
        engine.dispose()
    else:
        yield from _fresh_postgres()
