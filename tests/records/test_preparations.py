"""Preparations through the real service, on both backends: record, replay, refuse."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from station.core.errors import WorkflowError
from station.core.quantities import Tolerance
from station.core.workflow import Phase, PhotoTaken, ProductScanned, Started, Verified
from station.records.audit import verify_record
from station.records.photostore import DatabasePhotoStore, FolderPhotoStore
from station.records.record import Record
from station.records.store import EventStore
from station.services.preparations import PreparationService, SignatureRequired
from tests.station.builders import NOW, Technician, order, scan_of

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "formulary.toml"
TOLERANCE = Tolerance(Decimal("0.05"))
SIGNED_BY_BEN = {"user_id": "rph.ben", "printed_name": "Ben Ruiz", "meaning": "verified",
                 "utc": "2026-11-26T15:30:00+00:00"}


@pytest.fixture
def service(backend, tmp_path):
    photos = (FolderPhotoStore(tmp_path / "photos") if backend.name == "sqlite"
              else DatabasePhotoStore(backend.engine))
    record = Record(backend.url, backend.engine, EventStore(backend.engine), photos)
    ticks = iter(range(100_000))
    clock = lambda: dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC) + dt.timedelta(  # noqa: E731
        seconds=next(ticks))
    return PreparationService(record, station_id="hood-1", site_tolerance=TOLERANCE,
                              clock=clock)


@pytest.fixture
def version(service):
    from tests.station.builders import FORMULARY  # noqa: PLC0415

    text = _toml(FORMULARY)
    return service.versions.import_text(text, "test formulary", imported_by="rph.ben",
                                        utc=NOW)


def _toml(data) -> str:
    """A small TOML writer for the test formulary (flat tables and one nested table)."""
    lines = []
    for product in data["product"]:
        lines.append("[[product]]")
        nested = {}
        for key, value in product.items():
            if isinstance(value, dict):
                nested[key] = value
            else:
                lines.append(f"{key} = {_value(value)}")
        for name, table in nested.items():
            lines.append(f"[product.{name}]")
            lines.extend(f"{key} = {_value(value)}" for key, value in table.items())
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)
    return text


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return '"' + str(value) + '"'


class RecordingTechnician(Technician):
    """The test technician, recording through the service instead of applying in memory."""

    def __init__(self, service: PreparationService) -> None:
        super().__init__()
        self.service = service

    def do(self, prep, event):
        self.log.append(event)
        return self.service.record_event(prep.preparation_id, event)

    def right_event(self, prep):
        event = super().right_event(prep)
        if isinstance(event, PhotoTaken):
            photo = f"photo of {prep.preparation_id} step {prep.step.number}".encode()
            event = replace(event, photo=self.service.record.photos.put(photo))
        return event


def test_a_whole_preparation_is_recorded_and_replays_to_the_same_state(service, version):
    tech = RecordingTechnician(service)
    created = service.create(order("RX1", ("0409-2720-01", "25000 units")), version, tech.user,
                             preparation_id="P-TEST1")
    prep = tech.do(created, Started(tech.user, tech.at))
    prep = tech.run_until(prep, {Phase.AWAITING_VERIFICATION})
    prep = service.record_event("P-TEST1", Verified("rph.ben", NOW), signature=SIGNED_BY_BEN)
    assert prep.phase is Phase.VERIFIED
    loaded = service.load("P-TEST1")
    assert loaded.phase is Phase.VERIFIED
    assert loaded.records == prep.records
    kinds = [e.kind for e in service.record.events.events_of("P-TEST1")]
    assert kinds[:3] == ["created", "started", "state_changed"]
    assert kinds[-2:] == ["verified", "state_changed"]
    verified = service.record.events.events_of("P-TEST1")[-2]
    assert verified.payload["signature"] == SIGNED_BY_BEN
    assert len(verified.payload["signed_head"]) == 64


def test_a_hard_stop_is_recorded_as_its_own_event(service, version):
    tech = RecordingTechnician(service)
    created = service.create(order("RX2", ("0409-2720-01", "25000 units")), version, tech.user,
                             preparation_id="P-TEST2")
    prep = tech.do(created, Started(tech.user, tech.at))
    wrong = version.formulary().by_ndc_text("0409-1888-10")
    prep = service.record_event("P-TEST2", ProductScanned(tech.user, NOW, scan_of(wrong), wrong))
    assert prep.phase is Phase.HARD_STOP
    stops = [e for e in service.record.events.events_of("P-TEST2") if e.kind == "hard_stop"]
    assert [s.payload["reason"] for s in stops] == ["wrong product"]
    assert service.load("P-TEST2").stop == prep.stop


def test_an_illegal_event_writes_nothing(service, version):
    created = service.create(order("RX3", ("0409-2720-01", "25000 units")), version, "tech.ana",
                             preparation_id="P-TEST3")
    with pytest.raises(WorkflowError):
        service.record_event(created.preparation_id, Verified("rph.ben", NOW),
                             signature=SIGNED_BY_BEN)
    assert [e.kind for e in service.record.events.events_of("P-TEST3")] == ["created"]


def test_the_record_of_a_preparation_passes_the_audit(service, version):
    tech = RecordingTechnician(service)
    created = service.create(order("RX4", ("0143-9924-90", "1 g")), version, tech.user,
                             preparation_id="P-TEST4")
    tech.run_until(tech.do(created, Started(tech.user, tech.at)), {Phase.AWAITING_VERIFICATION})
    report = verify_record(service.record.events, service.record.photos)
    assert report.intact, report.summary()
    assert report.events == len(service.record.events.events_of("P-TEST4"))
    assert report.photos >= 5


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        (None, r"^verified needs rph.ben's electronic signature \(password again\)$"),
        ({**SIGNED_BY_BEN, "user_id": "rph.eve"},
         r"^the signature is rph.eve's, but the verified is rph.ben's$"),
        ({**SIGNED_BY_BEN, "meaning": "rejected"},
         r"^the signature means rejected, not verified$"),
    ],
)
def test_a_decision_without_its_signature_writes_nothing(service, version, signature,
                                                          message):
    tech = RecordingTechnician(service)
    created = service.create(order("RX5", ("0409-2720-01", "25000 units")), version, tech.user,
                             preparation_id="P-TEST5")
    tech.run_until(tech.do(created, Started(tech.user, tech.at)), {Phase.AWAITING_VERIFICATION})
    written = len(service.record.events.events_of("P-TEST5"))
    with pytest.raises(SignatureRequired, match=message):
        service.record_event("P-TEST5", Verified("rph.ben", NOW), signature=signature)
    assert len(service.record.events.events_of("P-TEST5")) == written
