"""Fixtures shared across the test folders: the record on both backends, and a preparation
service over it with the test formulary imported.

Fixtures are shared through conftest.py files, never imported from another test module;
builders and drivers live in plain helper modules (``builders.py``, ``seeding.py`` …).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest

from station.core.quantities import Tolerance
from station.records.formulary_versions import FormularyVersion
from station.records.photostore import DatabasePhotoStore, FolderPhotoStore
from station.records.record import Record
from station.records.store import EventStore
from station.services.preparations import PreparationService
from tests.backends import BACKENDS, Backend, fresh_postgres, fresh_sqlite
from tests.clock import FakeClock
from tests.station.builders import NOW, formulary_toml

#: When the ``service`` fixture's clock starts; each reading is a second after the one before.
SERVICE_START = dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path) -> Iterator[Backend]:
    """An empty, migrated record: once on SQLite, once on PostgreSQL (marked slow)."""
    if request.param == "sqlite":
        yield from fresh_sqlite(tmp_path)
    else:
        yield from fresh_postgres()


@pytest.fixture
def service(backend: Backend, tmp_path) -> PreparationService:
    """The preparation service at station hood-1, its photos in a folder (SQLite) or in the
    database (PostgreSQL), on a clock that ticks a second per reading."""
    photos = (FolderPhotoStore(tmp_path / "photos") if backend.name == "sqlite"
              else DatabasePhotoStore(backend.engine))
    record = Record(backend.url, backend.engine, EventStore(backend.engine), photos)
    return PreparationService(record, station_id="hood-1", site_tolerance=Tolerance(
        Decimal("0.05")), clock=FakeClock(SERVICE_START, step=dt.timedelta(seconds=1)))


@pytest.fixture
def version(service: PreparationService) -> FormularyVersion:
    """The test formulary, imported into the service's record as version 1."""
    return service.versions.import_text(formulary_toml(), "test formulary",
                                        imported_by="rph.ben", utc=NOW)
