"""A record seeded once through the real workflow (``station.demo.seed``), for the tests that
read a realistic record: the seeder's own, search, review, the compounding record PDF."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from station.cli.main import main
from station.config.model import DEFAULT_SITE_TOLERANCE
from station.core.quantities import Tolerance
from station.demo.seed import SeedReport, seed, simulated_balance
from station.records.formulary_versions import FormularyVersions
from station.records.record import Record, open_record
from station.records.search import PreparationSummary, summaries
from station.services.preparations import PreparationService
from tests.backends import fresh_postgres
from tests.clock import FakeClock

COUNT = 6
SEED = 7
# The shift ends at 01:30 UTC, so six half-hour slots start on one UTC day and end on the next.
END = dt.datetime(2026, 11, 27, 1, 30, tzinfo=dt.UTC)
STATION = Path(sys.executable).with_name("station")


@dataclass
class Seeded:
    """A record seeded once per backend and module, with what the seeder reported."""

    backend: str
    url: str
    record: Record
    report: SeedReport
    found: list[PreparationSummary]

    def service(self) -> PreparationService:
        """A preparation service over the seeded record, its clock stopped at the shift's end."""
        return PreparationService(self.record, station_id="audit", clock=FakeClock(END),
                                  site_tolerance=Tolerance(Decimal("0.05")))


def seed_record(url: str, count: int = COUNT, seed_value: int = SEED) -> tuple[Record, SeedReport]:
    """Open (and migrate) the record at ``url`` and seed ``count`` preparations into it."""
    record = open_record(url)
    return record, seed(record, count, seed=seed_value, clock=FakeClock(END),
                        pan=simulated_balance, site_tolerance=DEFAULT_SITE_TOLERANCE)


def seeded_backend(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """Yield a seeded record on ``kind`` ("sqlite" or "postgresql")."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('seeded') / 'station.db'}"
        backends: Iterator[str] = iter([url])
    else:
        backends = (b.url for b in fresh_postgres())
    for url in backends:
        record, report = seed_record(url)
        try:
            yield Seeded(kind, url, record, report,
                         summaries(record.events, FormularyVersions(record.engine)))
        finally:
            record.close()


def station_command(*argv: str) -> tuple[int, str]:
    """Run ``station ARGV…`` in this process: its exit status and what it printed on stdout."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(list(argv))
    return status, out.getvalue()
