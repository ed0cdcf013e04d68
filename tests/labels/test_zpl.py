"""ZPL: every field of the label is in a ^FD field, the barcode carries the id, text is safe."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import socket
import threading
from decimal import Decimal

import pytest

from station.config.catalog_files import load_formulary, load_worklist
from station.core.bud import BudTable, CompoundingCategory
from station.core.formulary import Storage
from station.core.identifiers import Ndc
from station.core.label import (
    HAZARDOUS_WARNING,
    LabelContent,
    LabelError,
    label_for,
    vial_label_for,
)
from station.devices.labels import LabelSize, layout, printing
from station.devices.labels.printing import PrintError, parse_destination, send
from station.devices.labels.zpl import escape, render_zpl

EST = dt.timezone(dt.timedelta(hours=-5), "EST")
STARTED = dt.datetime(2026, 11, 26, 9, 0, tzinfo=EST)
FORMULARY = load_formulary()


def content(order_id: str = "RX-260113") -> LabelContent:
    return label_for(
        load_worklist().get(order_id), FORMULARY, preparation_id="P-20261126-0007",
        compounded_at=STARTED, category=CompoundingCategory.CATEGORY_1,
        storage=Storage.REFRIGERATED, preparer_initials="JD", bud_table=BudTable.load(),
    )


def unescape(field: str) -> str:
    raw = re.sub(r"_([0-9A-F]{2})", lambda m: f"\x00{m[1]}", field)
    out = bytearray()
    parts = raw.split("\x00")
    out += parts[0].encode()
    for part in parts[1:]:
        out.append(int(part[:2], 16))
        out += part[2:].encode()
    return out.decode("utf-8")


def fields(zpl: str) -> list[str]:
    """The text of every ^FD field, ^FH escapes decoded."""
    return [unescape(m[1]) for m in re.finditer(r"\^FD(.*?)\^FS", zpl, re.S)]


def test_zpl_is_one_format_sized_for_the_printer():
    zpl = render_zpl(content(), LabelSize(Decimal("101.6"), Decimal("76.2")))
    assert zpl.startswith("^XA\n^CI28\n^PW812\n^LL609\n")
    assert zpl.rstrip().endswith("^XZ")
    assert zpl.count("^XA") == 1
    at_300 = render_zpl(content(), LabelSize(Decimal("101.6"), Decimal("76.2"), dpi=300))
    assert "^PW1200" in at_300
    assert "^LL900" in at_300


@pytest.mark.parametrize("order_id", ["RX-260113", "RX-260101", "RX-260110", "RX-260116"])
def test_every_field_is_printed(order_id):
    label = content(order_id)
    text = " ".join(fields(render_zpl(label)))
    for piece in label.texts():
        assert piece in text, piece


def test_hazardous_banner_is_white_on_black():
    zpl = render_zpl(content())
    banner = next(line for line in zpl.splitlines() if "HAZARDOUS" in line)
    assert "^FR" in banner
    assert HAZARDOUS_WARNING in fields(banner)
    assert "HAZARDOUS" not in render_zpl(content("RX-260101"))


def test_barcode_carries_the_preparation_id():
    zpl = render_zpl(content())
    (barcode,) = [line for line in zpl.splitlines() if "^BC" in line]
    assert "^BCN," in barcode
    assert fields(barcode) == ["P-20261126-0007"]


def test_pharmacist_box_is_drawn_and_empty():
    zpl = render_zpl(content())
    assert "RPh check" in fields(zpl)
    boxes = re.findall(r"\^GB(\d+),(\d+),(\d+)\^FS", zpl)
    assert any(int(w) > 100 and int(h) > 60 and int(t) < 10 for w, h, t in boxes)


def test_control_characters_cannot_escape_a_field():
    label = dataclasses.replace(content(), patient_name="O^Brien~JA_X\nEve")
    zpl = render_zpl(label)
    name_line = next(line for line in zpl.splitlines() if "O_5EBrien" in line)
    assert name_line.count("^") == name_line.count("^F") + 1  # ^FO ^A0 ^FH ^FD ^FS only
    assert "~" not in zpl
    assert "O^Brien~JA_X" in " ".join(fields(zpl))


def test_escape_covers_utf8():
    assert escape("Müller °C") == "M_C3_BCller _C2_B0C"
    assert unescape(escape("Müller ^ ~ _")) == "Müller ^ ~ _"


def test_long_rate_wraps_and_nothing_leaves_the_label():
    label = dataclasses.replace(content(), rate="over 3 h through a 0.22 micron in-line filter "
                                "protect from light " * 3)
    size = LabelSize(Decimal("101.6"), Decimal("76.2"))
    for element in layout(label, size):
        assert 0 <= element.x < size.width
        assert 0 <= element.y < size.height


def test_content_that_cannot_fit_is_refused():
    label = dataclasses.replace(content(), rate="very long instructions " * 60)
    with pytest.raises(LabelError, match="does not fit"):
        render_zpl(label)


def test_vial_label():
    product = FORMULARY.by_ndc(Ndc.parse("0069-3032-20"))
    bud = BudTable.load().opened_container_until(STARTED, multi_dose=False)
    vial = vial_label_for(product, "AB123", STARTED, Decimal("2.5"), bud, initials="JD")
    zpl = render_zpl(vial)
    assert "^PW457" in zpl
    text = " ".join(fields(zpl))
    for piece in vial.texts():
        assert piece in text, piece


def test_size_parsing():
    assert LabelSize.parse("57x32 mm").width_mm == Decimal(57)
    with pytest.raises(LabelError, match="WIDTHxHEIGHT"):
        LabelSize.parse("4 by 3")
    with pytest.raises(LabelError, match="dpi"):
        LabelSize(Decimal(1), Decimal(1), dpi=100)


# ------------------------------------------------------------------------------ printing


def _receiving_server():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    received: list[bytes] = []

    def serve():
        connection, _ = server.accept()
        with connection:
            chunks = []
            while chunk := connection.recv(4096):
                chunks.append(chunk)
            received.append(b"".join(chunks))
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server.getsockname()[1], received, thread


def test_printing_to_a_raw_port_sends_exactly_the_zpl():
    port, received, thread = _receiving_server()
    zpl = render_zpl(content())
    send(zpl, parse_destination(f"tcp://127.0.0.1:{port}"), timeout=5)
    thread.join(5)
    assert received == [zpl.encode("utf-8")]


def test_printer_that_refuses_gives_a_clear_error():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with pytest.raises(PrintError, match=f"cannot send the label to tcp://127.0.0.1:{port}"):
        send("^XA^XZ", parse_destination(f"tcp://127.0.0.1:{port}"), timeout=2)


def test_printing_to_a_file(tmp_path):
    path = tmp_path / "label.zpl"
    zpl = render_zpl(content())
    send(zpl, parse_destination(f"file://{path}"))
    assert path.read_text(encoding="utf-8") == zpl


def test_file_that_cannot_be_written(tmp_path):
    with pytest.raises(PrintError, match="cannot write the label"):
        send("^XA^XZ", parse_destination(f"file://{tmp_path}/missing/dir/label.zpl"))


def test_cups_without_lp_says_so(monkeypatch):
    monkeypatch.setattr(printing.shutil, "which", lambda _name: None)
    with pytest.raises(printing.PrintError, match="'lp' command is not installed"):
        printing.send("^XA^XZ", printing.parse_destination("cups://zebra1"))


def test_cups_runs_lp_raw(monkeypatch, tmp_path):
    script = tmp_path / "lp"
    capture = tmp_path / "captured"
    script.write_text(f'#!/bin/sh\necho "$@" > {capture}.args\ncat > {capture}\n')
    script.chmod(0o755)
    monkeypatch.setattr(printing.shutil, "which", lambda _name: str(script))
    printing.send("^XA^XZ\n", printing.parse_destination("cups://zebra1"))
    assert capture.read_text() == "^XA^XZ\n"
    assert (tmp_path / "captured.args").read_text().split() == ["-d", "zebra1", "-o", "raw"]


@pytest.mark.parametrize(("text", "expected"), [
    ("tcp://printer.local", "tcp://printer.local:9100"),
    ("tcp://10.0.0.5:6101", "tcp://10.0.0.5:6101"),
    ("cups://Zebra_ZD421", "cups://Zebra_ZD421"),
    ("file:///tmp/x.zpl", "file:///tmp/x.zpl"),
])
def test_destinations(text, expected):
    assert str(parse_destination(text)) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("printer.local", "is not tcp://HOST:9100"),
    ("lpr://x", "unknown scheme"),
    ("tcp://host:99999", "port"),
    ("cups://-oops", "not a CUPS queue"),
])
def test_bad_destinations(text, message):
    with pytest.raises(PrintError, match=message):
        parse_destination(text)
