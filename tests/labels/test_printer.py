"""The station's label printer: real ZPL to a file and to a TCP raw port, and its PNG preview."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from decimal import Decimal

import cv2
import numpy as np
import pytest
import zxingcpp

from station.bootstrap import configured_printer
from station.config.catalog_files import load_formulary, load_worklist
from station.config.model import LabelsSection
from station.config.station_config import load_config
from station.core.bud import BudTable, CompoundingCategory
from station.core.formulary import Storage
from station.core.label import format_time, label_for, vial_label_for
from station.devices.labels import PREPARATION_SIZE, VIAL_SIZE, LabelSize
from station.devices.labels.preview import render_image, render_png
from station.devices.labels.printer import ZplPrinter

EST = dt.timezone(dt.timedelta(hours=-5), "EST")
STARTED = dt.datetime(2026, 11, 26, 9, 0, tzinfo=EST)
TABLE = BudTable.load()
FORMULARY = load_formulary()


def preparation_label():
    return label_for(load_worklist().get("RX-260101"), FORMULARY, preparation_id="P-20261126-7F3A",
                     compounded_at=STARTED, category=CompoundingCategory.CATEGORY_1,
                     storage=Storage.ROOM, preparer_initials="jd", bud_table=TABLE)


def vial_label():
    product = next(p for p in FORMULARY if p.container_volume_ml >= 10)
    bud = TABLE.opened_container_until(STARTED, container=product.container)
    return vial_label_for(product, "K2401", STARTED, Decimal("7.5"), bud, initials="ja",
                          vial_id="OV-4711", code="VIAL:OV-4711")


def decoded(png: bytes) -> list[str]:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    return [r.text for r in zxingcpp.read_barcodes(image)]


class RawPort:
    """A printer's raw port on loopback: accepts connections and keeps what each one sent."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.server.settimeout(10)
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                chunks = []
                while chunk := connection.recv(4096):
                    chunks.append(chunk)
                self.received.append(b"".join(chunks))

    def wait_for(self, count: int) -> None:
        for _ in range(500):
            if len(self.received) >= count:
                return
            time.sleep(0.01)

    def close(self) -> None:
        self.server.close()
        self.thread.join(timeout=5)


@pytest.fixture
def raw_port():
    port = RawPort()
    yield port
    port.close()


def test_a_label_printed_to_a_file_is_its_zpl_and_the_preview_scans(tmp_path):
    target = tmp_path / "label.zpl"
    printer = ZplPrinter(f"file://{target}", size=PREPARATION_SIZE, vial_size=VIAL_SIZE)
    assert printer.name == f"file://{target}"
    content = preparation_label()
    preview = printer.print_label(content)
    zpl = target.read_text(encoding="utf-8")
    assert zpl.startswith("^XA\n^CI28\n^PW812\n^LL609\n") and zpl.endswith("^XZ\n")
    assert "^BCN,72,N,N,N,A^FH^FDP-20261126-7F3A^FS" in zpl.replace("^BY3,3,72", "")
    assert f"^FDBUD {format_time(content.beyond_use)}^FS" in zpl
    assert preview.startswith(b"\x89PNG\r\n\x1a\n")
    assert decoded(preview) == ["P-20261126-7F3A"]
    image = render_image(content)
    assert image.shape == (609, 812)


def test_a_vial_label_sent_to_a_tcp_raw_port_arrives_whole(raw_port):
    printer = ZplPrinter(f"tcp://127.0.0.1:{raw_port.port}", size=PREPARATION_SIZE,
                         vial_size=VIAL_SIZE, timeout=5)
    assert printer.name == f"tcp://127.0.0.1:{raw_port.port}"
    content = vial_label()
    preview = printer.print_vial_label(content)
    label = printer.print_label(preparation_label())
    raw_port.wait_for(2)
    assert len(raw_port.received) == 2
    vial_zpl = raw_port.received[0].decode("utf-8")
    assert vial_zpl.startswith("^XA") and vial_zpl.endswith("^XZ\n")
    assert "^FDVIAL:OV-4711^FS" in vial_zpl and "^FDOV-4711^FS" in vial_zpl
    assert "Lot K2401" in vial_zpl and "Remaining 7.5 mL" in vial_zpl
    assert f"Opened {format_time(STARTED)}" in vial_zpl
    assert decoded(preview) == ["VIAL:OV-4711"]
    assert "^FDP-20261126-7F3A^FS" in raw_port.received[1].decode("utf-8")
    assert decoded(label) == ["P-20261126-7F3A"]


@pytest.mark.parametrize("dpi", [203, 300])
def test_the_vial_datamatrix_scans_at_each_resolution(dpi):
    size = LabelSize(VIAL_SIZE.width_mm, VIAL_SIZE.height_mm, dpi)
    assert decoded(render_png(vial_label(), size)) == ["VIAL:OV-4711"]


def test_the_printer_comes_from_the_configuration(tmp_path):
    demo = configured_printer(LabelsSection(), tmp_path)
    assert demo.name == f"file://{tmp_path / 'labels' / 'last-label.zpl'}"
    demo.print_vial_label(vial_label())
    assert (tmp_path / "labels" / "last-label.zpl").read_text().startswith("^XA")
    config = tmp_path / "station.toml"
    config.write_text('[labels]\nprinter = "tcp://zebra-3.pharmacy.example:6101"\n'
                      'size = "101.6 x 152.4"\ndpi = 300\n', encoding="utf-8")
    printer = configured_printer(load_config(config).labels, tmp_path)
    assert printer.name == "tcp://zebra-3.pharmacy.example:6101"
    assert printer.size == LabelSize(Decimal("101.6"), Decimal("152.4"), 300)
    assert printer.vial_size == LabelSize(VIAL_SIZE.width_mm, VIAL_SIZE.height_mm, 300)
