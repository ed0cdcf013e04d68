"""The seeder, on both backends: complete, realistic preparations through the real service."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import subprocess
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from station.cli import audit, records
from station.config.model import DEFAULT_SITE_TOLERANCE
from station.core.bud import BudTable
from station.core.components import LotSource
from station.core.workflow import ProductScanned
from station.demo.seed import TECHNICIANS, SeedError, seed, simulated_balance
from station.records.audit import photo_hashes, verify_record
from station.records.formulary_versions import FormularyVersions
from station.records.opened_vials import OpenedVials
from station.records.record import open_record
from station.records.schema import events
from station.records.search import summaries
from tests.backends import fresh_postgres
from tests.clock import FakeClock
from tests.records.seeding import (
    COUNT,
    END,
    SEED,
    STATION,
    accepted_sources,
    seed_record,
    unidentified_components,
)

#: The seeder itself: several records seeded through the whole workflow.
pytestmark = pytest.mark.slow


def command_parser() -> argparse.ArgumentParser:
    """``station`` with just the commands under test, wired as the lead wires them."""
    parser = argparse.ArgumentParser(prog="station")
    commands = parser.add_subparsers(dest="command")
    records.add_commands(commands)
    audit.add_commands(commands)
    return parser


def run(*argv: str) -> tuple[int, str]:
    args = command_parser().parse_args(argv)
    out = io.StringIO()
    return args.run(args, out), out.getvalue()


# ------------------------------------------------------------------------------ the record


def test_every_seeded_preparation_is_complete_and_the_record_passes_the_audit(seeded):
    report = seeded.report
    assert len(report.preparation_ids) == COUNT == len(seeded.found)
    assert [s.preparation_id for s in seeded.found] == list(report.preparation_ids)
    assert report.formulary_imported and report.formulary_version == 1
    audit = verify_record(seeded.record.events, seeded.record.photos)
    assert audit.intact, audit.summary()
    assert (audit.events, audit.preparations, audit.photos) == (
        report.events, COUNT, report.photos)
    service = seeded.service()
    for summary in seeded.found:
        replayed = service.load(summary.preparation_id)  # replays through the workflow
        assert replayed.phase.value == summary.state
        if summary.outcome != "cancelled":
            assert replayed.step is None  # every step was done
            kinds = [e.kind for e in seeded.record.events.events_of(summary.preparation_id)]
            assert kinds.count("label_scanned") == 1 and kinds.count("weight_read") >= 2


def test_outcomes_are_mixed_and_decided_by_another_pharmacist(seeded):
    outcomes = Counter(s.outcome for s in seeded.found)
    assert dict(outcomes) == dict(seeded.report.outcomes)
    assert {"verified", "rejected", "awaiting verification"} <= set(outcomes)
    assert sum(outcomes.values()) == COUNT
    for summary in seeded.found:
        assert summary.prepared_by is not None and summary.prepared_by.startswith("tech.")
        if summary.outcome == "verified":
            assert summary.verified_by is not None and summary.verified_by.startswith("rph.")
            assert summary.rejected_by is None
        if summary.outcome == "rejected":
            assert summary.rejected_by is not None and summary.rejected_by.startswith("rph.")
            assert summary.decision_reason
        if summary.outcome in ("verified", "rejected"):
            assert summary.stations[-1] == "sim-rph-remote"
            assert summary.stations[0] in ("sim-hood-1", "sim-hood-2")
            decision = seeded.record.events.events_of(summary.preparation_id)[-2]
            signature = decision.payload["signature"]
            assert signature["user_id"] == decision.user_id != summary.prepared_by
            assert signature["meaning"] == summary.outcome
            assert signature["printed_name"].endswith("PharmD")
        if summary.outcome == "awaiting verification":
            assert summary.verified_by is None and summary.rejected_by is None


def test_hard_stops_are_a_wrong_product_and_a_bad_draw_each_followed_by_a_retry(seeded):
    stops: list[str] = []
    for preparation_id in seeded.report.preparation_ids:
        stored = seeded.record.events.events_of(preparation_id)
        for position, event in enumerate(stored):
            if event.kind != "hard_stop":
                continue
            stops.append(event.payload["reason"])
            cause = stored[position - 1]
            after = [e.kind for e in stored[position + 1:] if e.kind != "state_changed"]
            assert after[0] == "retried"
            if event.payload["reason"] == "wrong product":
                assert cause.kind == "product_scanned"
                retry = next(e for e in stored[position + 1:] if e.kind == "product_scanned")
                assert retry.payload["product"] != cause.payload["product"]
            else:
                assert cause.kind == "weight_read"
                assert event.payload["message"].startswith("out of tolerance: ")
    assert {"wrong product", "out of tolerance"} <= set(stops)
    assert len(stops) == seeded.report.hard_stops


def test_inputs_are_real_scans_balance_readings_and_photos(seeded):
    service = seeded.service()
    balances: set[str] = set()
    for preparation_id in seeded.report.preparation_ids:
        stored = seeded.record.events.events_of(preparation_id)
        order = stored[0].payload["order"]
        assert order["order_id"].startswith("RX-2601")  # derived from a sample order
        prep = service.load(preparation_id)
        for record in prep.records:
            attempt = record.accepted
            if attempt is None or not isinstance(attempt.event, ProductScanned):
                continue
            event = attempt.event
            scan = event.scan
            # every accepted component has a lot and an expiry, wherever they came from
            assert scan.lot and scan.expiry, event
            assert not scan.expiry.is_expired_on(event.at.date())
            assert event.product is not None
            assert scan.gtin in event.product.gtins
            if event.source is LotSource.BARCODE:
                assert scan.raw.startswith("]d2") and scan.serial
            elif event.source is LotSource.OPENED_VIAL:
                assert event.opened_vial is not None and event.opened_vial.key.startswith("OV-")
            else:  # only a UPC-A: the printed lot read and confirmed, or typed twice
                assert scan.raw.startswith("]E0") and event.source in (
                    LotSource.PRINTED_TEXT, LotSource.TYPED)
        readings = [e for e in stored if e.kind == "weight_read"]
        balances |= {e.payload["balance_id"] for e in readings}
        assert len({e.payload["balance_id"] for e in readings}) == 1  # one hood, one balance
        for reading in readings:
            mass = Decimal(reading.payload["mass"])
            assert mass.as_tuple().exponent == -3 and mass > 0
            assert reading.payload["raw"] == f"S S {mass:>10} g"
            assert reading.payload["readability"] == "0.001"
        photos = [h for e in stored for h in photo_hashes(e.payload)]
        assert len(photos) >= 2  # at least the vial and the draw
        image = cv2.imdecode(np.frombuffer(seeded.record.photos.get(photos[0]), np.uint8),
                             cv2.IMREAD_COLOR)
        assert image.shape == (360, 640, 3)
    assert balances <= {"MS1003TS-B936102145", "MS1003TS-B936102871"}


def test_times_run_forward_and_end_before_the_clock(seeded):
    times = [e.utc for e in seeded.record.events.events()]
    assert times == sorted(times)
    assert seeded.report.first_utc <= times[0] and times[-1] <= END
    assert seeded.report.last_utc == times[-1]
    assert {t.date() for t in times} == {dt.date(2026, 11, 26), dt.date(2026, 11, 27)}


def test_the_same_seed_gives_the_same_record_on_any_backend(seeded, tmp_path):
    record, report = seed_record(f"sqlite:///{tmp_path / 'again.db'}")
    try:
        assert report.preparation_ids == seeded.report.preparation_ids
        assert record.events.head() == seeded.record.events.head()  # every event, bit for bit
    finally:
        record.close()


def test_another_seed_gives_another_record(seeded, tmp_path):
    record, report = seed_record(f"sqlite:///{tmp_path / 'other.db'}", seed_value=SEED + 1)
    try:
        assert set(report.preparation_ids).isdisjoint(seeded.report.preparation_ids)
        assert record.events.head() != seeded.record.events.head()
    finally:
        record.close()


def test_seeding_again_adds_new_preparations_under_the_same_formulary(tmp_path):
    record, first = seed_record(f"sqlite:///{tmp_path / 'twice.db'}", count=1)
    try:
        second = seed(record, 2, seed=SEED, clock=FakeClock(END + dt.timedelta(hours=2)),
                      pan=simulated_balance, site_tolerance=DEFAULT_SITE_TOLERANCE)
        assert not second.formulary_imported and second.formulary_version == 1
        assert set(first.preparation_ids).isdisjoint(second.preparation_ids)
        found = summaries(record.events, FormularyVersions(record.engine))
        assert len(found) == 3 and len({s.order_id for s in found}) == 3
        assert verify_record(record.events, record.photos).intact
    finally:
        record.close()


def test_a_count_below_one_is_refused(tmp_path):
    record = open_record(f"sqlite:///{tmp_path / 'none.db'}")
    try:
        with pytest.raises(SeedError, match=r"^the number of preparations must be at least 1, "
                                            r"got 0$"):
            seed(record, 0, seed=1, clock=FakeClock(END), pan=simulated_balance,
                  site_tolerance=DEFAULT_SITE_TOLERANCE)
    finally:
        record.close()


# ------------------------------------------------------------------------------ the command


def test_seed_command_fills_the_record_it_is_given(seeded, tmp_path, capsys):
    if seeded.backend == "sqlite":
        databases: Iterator[str] = iter([f"sqlite:///{tmp_path / 'cli.db'}"])
    else:
        databases = (b.url for b in fresh_postgres())
    for url in databases:
        status, out = run("records", "seed", "--db", url, "--count", "2", "--seed", "3")
        assert status == 0, capsys.readouterr().err
        assert out.startswith("seeded 2 preparations into ") and out.count("\n") == 1
        assert ("station-owner-test" not in out) and ("***" in out) == (
            seeded.backend == "postgresql")  # a server password is never printed
        record = open_record(url, migrate=False)
        try:
            found = summaries(record.events, FormularyVersions(record.engine))
            assert len(found) == 2
        finally:
            record.close()


def test_seed_command_requires_db():
    with pytest.raises(SystemExit) as exited:
        command_parser().parse_args(["records", "seed", "--count", "2"])
    assert exited.value.code == 2


@pytest.mark.parametrize(("argv", "message"), [
    (("--db", "sqlite://", "--count", "1"),
     "station records seed: an in-memory SQLite record has nowhere to keep photos\n"),
    (("--db", "sqlite:///{tmp}/x.db", "--count", "0"),
     "station records seed: --count must be at least 1, got 0\n"),
    (("--db", "nosuchdriver://x", "--count", "1"), None),
])
def test_seed_command_errors_are_one_line(argv, message, tmp_path, capsys):
    argv = tuple(a.replace("{tmp}", str(tmp_path)) for a in argv)
    status, out = run("records", "seed", *argv)
    err = capsys.readouterr().err
    assert (status, out) == (1, "")
    assert err.startswith("station records seed: ") and err.count("\n") == 1
    if message is not None:
        assert err == message


def test_station_records_seed_runs_as_a_process_once_wired(tmp_path):
    wired = subprocess.run([str(STATION), "records", "seed", "--help"], capture_output=True,
                           text=True, check=False, timeout=60)
    if wired.returncode != 0:
        pytest.skip("`station records seed` is not wired into station.cli.main yet")
    url = f"sqlite:///{tmp_path / 'process.db'}"
    result = subprocess.run([str(STATION), "records", "seed", "--db", url, "--count", "1"],
                            capture_output=True, text=True, check=False, timeout=120)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(f"seeded 1 preparation into {url}: ")


def test_every_accepted_component_in_the_stored_events_has_a_lot_and_an_expiry(tmp_path):
    # A longer shift than the shared one, so every way of identifying a component appears.
    record, report = seed_record(f"sqlite:///{tmp_path / 'long.db'}", count=30, seed_value=3)
    try:
        assert unidentified_components(record) == []
        sources = accepted_sources(record)
        with record.engine.connect() as connection:
            kinds = Counter(connection.execute(
                select(events.c.kind)).scalars())
        kept = OpenedVials(record.engine, FakeClock(END), BudTable.load()).in_use()
    finally:
        record.close()
    # UPC-A-only packages read from the print and typed, opened vials drawn from again
    assert sources["printed_text"] > 0 and sources["typed"] > 0, sources
    assert sources["opened_vial"] > 0 and kept, sources
    assert sources["barcode"] > sources["printed_text"]
    assert all(v.punctured_by in TECHNICIANS for v in kept)
    # a label printed for each label scanned back; an emptied syringe weighed per injection
    assert kinds["label_printed"] >= kinds["label_scanned"] > 0
    assert len(report.preparation_ids) == 30
