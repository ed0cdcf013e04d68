"""The hood the station's services build: its desks, from the configuration, on the record."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import make_url

from station.bootstrap import services_on
from station.config.model import StationConfig
from station.devices.labels import LabelSize
from station.devices.labels.printer import ZplPrinter
from tests.clock import FakeClock
from tests.station.builders import NOW


@pytest.mark.parametrize("iso5", [True, False])
def test_a_hood_session_prints_on_the_printer_given_and_keeps_vials_as_configured(
        service, version, tmp_path, iso5):
    config = StationConfig()
    config = replace(config, station=replace(config.station, id="hood-7", iso5=iso5))
    printer = ZplPrinter(f"file://{tmp_path / 'labels.zpl'}", size=LabelSize.parse("101.6x76.2"),
                         vial_size=LabelSize.parse("57x32"))
    services = services_on(service.record, config, clock=FakeClock(NOW), label_printer=printer)
    session = services.hood_session(version.formulary())
    assert session.labels is not None and session.labels.printer is printer
    assert session.vials is not None and session.vials.printer is printer
    assert (session.vials.station_id, session.vials.iso5) == ("hood-7", iso5)
    assert session.scan_events.opened_vials is not None
    assert session.station_id == "hood-7"


def test_the_printer_is_the_one_the_configuration_names(service, version):
    config = StationConfig()
    config = replace(config, labels=replace(config.labels, printer="tcp://10.0.0.50:9100"))
    services = services_on(service.record, config, clock=FakeClock(NOW))
    session = services.hood_session(version.formulary())
    assert session.labels is not None and session.labels.printer.name == "tcp://10.0.0.50:9100"


def test_a_demo_without_a_printer_writes_its_labels_beside_an_sqlite_record(backend, service):
    if backend.name != "sqlite":
        pytest.skip("a server record has no folder of its own: labels go to the data folder")
    services = services_on(service.record, clock=FakeClock(NOW))
    database = make_url(backend.url).database
    assert database is not None
    assert services.files_dir == Path(database).resolve().parent
    printer = services.label_printer
    assert printer.name.startswith(f"file://{services.files_dir}")
