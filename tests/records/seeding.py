"""A record seeded once through the real workflow (``station.demo.seed``), for the tests that
read a realistic record: the seeder's own, search, review, the compounding record PDF."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from station.cli.main import main
from station.config.model import DEFAULT_SITE_TOLERANCE
from station.core.quantities import Tolerance
from station.demo.seed import SeedReport, seed, simulated_balance
from station.records.formulary_versions import FormularyVersions
from station.records.record import Record, open_record
from station.records.schema import events
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


def unidentified_components(record: Record) -> list[tuple[str, int, dict[str, object]]]:
    """Accepted component scans stored without a lot or an expiry, queried from the events.

    A ``product_scanned`` event names a product; it was accepted unless the preparation's next
    event is a hard stop (a wrong, expired or recalled product is recorded, then stopped).
    Returns (preparation id, version, payload) of each one lacking a lot or an expiry.
    """
    query = (select(events.c.preparation_id, events.c.version, events.c.kind,
                    events.c.payload)
             .where(events.c.kind.in_(("product_scanned", "hard_stop")))
             .order_by(events.c.preparation_id, events.c.version))
    with record.engine.connect() as connection:
        rows = [(p, v, k, json.loads(text)) for p, v, k, text in connection.execute(query)]
    stopped = {(p, v - 1) for p, v, k, _ in rows if k == "hard_stop"}
    return [(p, v, payload) for p, v, k, payload in rows
            if k == "product_scanned" and payload.get("product") and (p, v) not in stopped
            and not (payload.get("lot") and payload.get("expiry"))]


def accepted_sources(record: Record) -> Counter[str]:
    """How many accepted component scans took their lot from each source (``lot_source``)."""
    query = (select(events.c.preparation_id, events.c.version, events.c.kind,
                    events.c.payload)
             .where(events.c.kind.in_(("product_scanned", "hard_stop")))
             .order_by(events.c.preparation_id, events.c.version))
    with record.engine.connect() as connection:
        rows = [(p, v, k, json.loads(text)) for p, v, k, text in connection.execute(query)]
    stopped = {(p, v - 1) for p, v, k, _ in rows if k == "hard_stop"}
    return Counter(str(payload.get("lot_source") or "barcode") for p, v, k, payload in rows
                   if k == "product_scanned" and payload.get("product")
                   and (p, v) not in stopped)
