"""PDF preview: every field in the extracted text, a readable barcode; the label command."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import io
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from station.cli.labels import add_commands
from station.config.catalog_files import load_formulary, load_worklist
from station.core.bud import BudTable, CompoundingCategory
from station.core.errors import StationError
from station.core.formulary import Storage
from station.core.identifiers import Ndc
from station.core.label import LabelContent, label_for, vial_label_for
from station.devices.labels import LabelSize
from station.devices.labels.pdf import render_pdf

EST = dt.timezone(dt.timedelta(hours=-5), "EST")
STARTED = dt.datetime(2026, 11, 26, 9, 0, tzinfo=EST)
FORMULARY = load_formulary()

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
    reason="poppler-utils (pdftotext, pdftoppm) not installed",
)


def content(order_id: str = "RX-260113") -> LabelContent:
    return label_for(
        load_worklist().get(order_id), FORMULARY, preparation_id="P-20261126-0007",
        compounded_at=STARTED, category=CompoundingCategory.CATEGORY_1,
        storage=Storage.REFRIGERATED, preparer_initials="JD", bud_table=BudTable.load(),
    )


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "label.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                            check=True, timeout=30)
    return " ".join(result.stdout.split())


def test_pdf_is_one_page_the_size_of_the_label():
    pdf = render_pdf(content())
    assert pdf.startswith(b"%PDF")
    assert pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") + pdf.count(
        b"/Type /Page>") >= 1
    assert b"/MediaBox [ 0 0 288 216 ]" in pdf
    assert render_pdf(content()) == pdf  # reproducible


@needs_poppler
@pytest.mark.parametrize("order_id", ["RX-260113", "RX-260101", "RX-260110", "RX-260116"])
def test_every_field_is_in_the_pdf(order_id, tmp_path):
    label = content(order_id)
    text = pdf_text(render_pdf(label), tmp_path)
    for piece in label.texts():
        assert piece in text, piece
    assert "RPh check" in text


@needs_poppler
def test_hazardous_warning_only_on_hazardous_labels(tmp_path):
    assert "HAZARDOUS DRUG" in pdf_text(render_pdf(content("RX-260113")), tmp_path)
    assert "HAZARDOUS" not in pdf_text(render_pdf(content("RX-260101")), tmp_path)


@needs_poppler
def test_barcode_in_the_pdf_decodes_to_the_preparation_id(tmp_path):
    zxingcpp = pytest.importorskip("zxingcpp")
    (tmp_path / "label.pdf").write_bytes(render_pdf(content()))
    subprocess.run(["pdftoppm", "-png", "-r", "200", "-singlefile", str(tmp_path / "label.pdf"),
                    str(tmp_path / "label")], check=True, timeout=30)
    image = Image.open(tmp_path / "label.png")
    texts = [b.text for b in zxingcpp.read_barcodes(image)]
    assert "P-20261126-0007" in texts


@needs_poppler
def test_vial_label_pdf(tmp_path):
    product = FORMULARY.by_ndc(Ndc.parse("0069-3032-20"))
    bud = BudTable.load().opened_container_until(STARTED, multi_dose=False)
    vial = vial_label_for(product, "AB123", STARTED, Decimal("2.5"), bud, initials="JD")
    text = pdf_text(render_pdf(vial), tmp_path)
    for piece in vial.texts():
        assert piece in text, piece


@needs_poppler
def test_non_latin_names_survive_escaping_in_pdf(tmp_path):
    label = dataclasses.replace(content(), patient_name="Müller, Zoë")
    assert "Müller, Zoë" in pdf_text(render_pdf(label, LabelSize(Decimal(102), Decimal(76))),
                                     tmp_path)


# ------------------------------------------------------------------------------ the command


def station_label(*argv: str) -> tuple[int, str, str]:
    """Run `station label …` as cli.main does: one line on stderr and 1 on a StationError."""
    parser = argparse.ArgumentParser(prog="station")
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["label", *argv])
    out = io.StringIO()
    try:
        status = args.run(args, out)
    except StationError as error:
        return 1, out.getvalue(), f"station {args.command}: {error}\n"
    return status, out.getvalue(), ""


@needs_poppler
def test_preview_writes_pdf_and_zpl(tmp_path):
    pdf, zpl = tmp_path / "l.pdf", tmp_path / "l.zpl"
    status, out, err = station_label(
        "preview", "RX-260113", "--initials", "jd", "--preparation-id", "P-42",
        "--category", "2", "--storage", "refrigerated", "--out", str(pdf), "--zpl", str(zpl))
    assert (status, err) == (0, "")
    assert out.splitlines() == [f"PDF {pdf} (P-42)", f"ZPL {zpl} (P-42)"]
    text = pdf_text(pdf.read_bytes(), tmp_path)
    assert "Fischer, Anna" in text
    assert "Table 13, Category 2" in text
    assert "^FDP-42^FS" in zpl.read_text()


def test_preview_without_outputs_prints_zpl_with_a_new_id():
    status, out, _ = station_label("preview", "RX-260101", "--initials", "jd")
    assert status == 0
    assert out.startswith("^XA")
    assert "^FDP-" in out


def test_print_to_a_file(tmp_path):
    target = tmp_path / "out.zpl"
    status, out, _ = station_label("print", "RX-260101", "--initials", "jd",
                                   "--preparation-id", "P-7", "--printer", f"file://{target}")
    assert status == 0
    assert out == f"printed P-7 (order RX-260101) to file://{target}\n"
    assert target.read_text().startswith("^XA")


@pytest.mark.parametrize(("argv", "message"), [
    (["preview", "RX-999", "--initials", "jd"], "unknown order 'RX-999'"),
    (["preview", "RX-260101", "--initials", "jd", "--category", "4"], "category '4'"),
    (["preview", "RX-260101", "--initials", "jd", "--storage", "frozen"],
     "no beyond-use date"),
    (["preview", "RX-260101", "--initials", "jd", "--size", "4in"], "WIDTHxHEIGHT"),
    (["preview", "RX-260101", "--initials", "jd", "--preparation-id", "a b"],
     "preparation id"),
    (["preview", "RX-260101", "--initials", "jd", "--component-expiry", "2026-13-01"],
     "component expiry"),
    (["print", "RX-260101", "--initials", "jd", "--printer", "zebra"], "tcp://HOST:9100"),
])
def test_errors_are_one_line(argv, message):
    status, _, err = station_label(*argv)
    assert status == 1
    assert err.count("\n") == 1
    assert message in err
