"""The compounding record PDF, read back with pdfium: its text, its pages, and the CLI; the
beyond-use date as the label printed it, each component's lot source and each syringe's
delivered dose."""

from __future__ import annotations

import io
import re
import sqlite3
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from PIL import Image

from station.cli.main import main
from station.core.components import LotSource
from station.records.photostore import PhotoMissing
from station.records.record import Record
from station.reports.compounding_pdf import write_compounding_record
from station.services.review.build import UnknownPreparation, review_preparation
from station.services.review.wording import CHECK_LOT, NO_LABEL_YET, NOT_YET_PRINTED, bud_rows
from tests.records.builders import OVERRIDE_REASON, PREPARATION, RECALL, make_preparation
from tests.records.labelled import PRINTER, REPRINT_REASON, VIAL, record_heparin

#: Whole compounding records rendered to PDF and read back, over seeded records.
pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def pages_of(data: bytes) -> list[str]:
    """Each page's text, with runs of white space (line breaks in cells too) as one space."""
    document = pdfium.PdfDocument(data)
    try:
        return [" ".join(page.get_textpage().get_text_bounded().split()) for page in document]
    finally:
        document.close()


def images_per_page(data: bytes) -> list[int]:
    document = pdfium.PdfDocument(data)
    try:
        return [len(list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])))
                for page in document]
    finally:
        document.close()


def save_page(data: bytes, index: int, name: str) -> Path:
    """Render one page at 150 dpi into artifacts/ (to look at)."""
    ARTIFACTS.mkdir(exist_ok=True)
    document = pdfium.PdfDocument(data)
    try:
        image = document[index].render(scale=150 / 72).to_pil()
    finally:
        document.close()
    path = ARTIFACTS / name
    image.save(path)
    return path


def spaced(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def made(service, version):
    preparation_id = make_preparation(service, version)
    buffer = io.BytesIO()
    pages = write_compounding_record(service, preparation_id, buffer, chain_ok=True)
    return buffer.getvalue(), pages, review_preparation(service, preparation_id)


def test_every_page_names_the_preparation_and_counts_the_pages(made):
    data, pages, _ = made
    texts = pages_of(data)
    assert len(texts) == pages >= 3
    for number, text in enumerate(texts, start=1):
        assert PREPARATION in text
        assert f"page {number} of {pages}" in text


def test_the_record_holds_order_components_weights_signatures_and_hash(made, service):
    data, _, review = made
    text = " ".join(pages_of(data))
    for expected in (
        "Compounding record", "Doe, Jane (MRN100), 4W-12-A", "Dr. Lee", "RX-REVIEW",
        "Heparin Sodium 25,000 units in Sodium Chloride 0.9% 100 mL", "Final volume 100 mL",
        "Route IV", f"Beyond-use date {bud_rows(review.bud)[0][1]}", "HIGH-ALERT MEDICATION",
        # every component: name, NDC, manufacturer, lot, expiry, serial
        "Heparin Sodium 5,000 units/mL 0409-2720-01 Hospira L2405A 2028-12-31 SNL2405A",
        "Sodium Chloride 0.9% 100 mL 0338-0049-48 Baxter L2405A 2028-12-31 SNL2405A",
        # a weighing: reading, raw line, balance, net, expected, deviation, tolerance
        "17.758 g on MT-B123456789 raw S S 17.758 g",
        "5.758 g = 17.758 − 12.000 g (step 4)", "5.141 g", "25,450 units",
        "+12.00 % of ±5 %", "ACCEPTED ON OVERRIDE",
        "5.911 g = 124.311 − 118.400 g (step 2)", "+4.31 % of ±5 %",
        # stops, retries, the override's reason, the refused photo
        "wrong product: scanned Heparin Sodium 1,000 units/mL", "Retries at this step: 2",
        OVERRIDE_REASON, "REFUSED: too blurred to read the lot", RECALL,
        # signatures: printed name, user id, meaning, UTC date and time
        "Lee Nakamura, PharmD (rph.lee) — override-approved — 2026-11-26 15:20:00 UTC",
        "Ben Ruiz (rph.ben) — verified — 2026-11-26 15:30:00 UTC",
        "Status: VERIFIED",
        # the flags, the record's last hash and the chain's status
        "near tolerance: +4.3 % of ±5 %", "Flags (4 alerts, 2 notes)",
        review.last_hash, "intact: every link and photo re-checked when printed",
        f"Audit trail: every recorded event ({review.events})",
    ):
        assert spaced(expected) in text, expected
    for flag in review.flags:
        assert spaced(flag.text) in text


def test_each_photo_is_embedded_once_where_its_step_is(made, service):
    data, _, review = made
    assert sum(images_per_page(data)) == sum(len(s.photos) for s in review.steps) == 6
    texts = pages_of(data)
    for step in review.steps:
        for photo in step.photos:
            caption = f"Step {step.number}: photo {photo.photo[:16]}…"
            assert sum(caption in page for page in texts) == 1


def test_the_pages_render_and_are_saved_to_look_at(made):
    data, _, _ = made
    first = save_page(data, 0, "compounding_record_page1.png")
    with_photos = max(range(len(images_per_page(data))), key=images_per_page(data).__getitem__)
    photos = save_page(data, with_photos, "compounding_record_photos.png")
    for path in (first, photos):
        with Image.open(path) as image:
            assert image.width == 1275 and abs(image.height - 1650) <= 1  # Letter, 150 dpi
            assert len(image.getcolors(1 << 24) or ()) > 50  # drawn on, not a blank page


def test_the_chain_status_is_printed_as_given(service, version):
    preparation_id = make_preparation(service, version)
    broken, unchecked = io.BytesIO(), io.BytesIO()
    write_compounding_record(service, preparation_id, broken, chain_ok=False)
    write_compounding_record(service, preparation_id, unchecked)
    assert "BROKEN: the record was altered" in " ".join(pages_of(broken.getvalue()))
    assert "not checked for this printout" in " ".join(pages_of(unchecked.getvalue()))


class ForgetfulPhotos:
    """A photo store that lost its photos (a restore without the photo folder)."""

    def get(self, sha256: str) -> bytes:
        raise PhotoMissing(f"photo {sha256[:12]}… is not in the store")

    def put(self, data: bytes, media_type: str = "image/jpeg") -> str:
        raise NotImplementedError

    def check(self, sha256: str) -> str | None:
        return "missing"


def test_a_missing_photo_is_named_not_fatal(service, version, tmp_path):
    preparation_id = make_preparation(service, version)
    record = service.record
    service.record = Record(record.url, record.engine, record.events, ForgetfulPhotos())
    path = tmp_path / "record.pdf"
    write_compounding_record(service, preparation_id, path)
    data = path.read_bytes()
    assert sum(images_per_page(data)) == 0
    assert "cannot be shown (photo " in " ".join(pages_of(data))


def test_an_unknown_preparation_writes_nothing(service, version, tmp_path):
    path = tmp_path / "none.pdf"
    with pytest.raises(UnknownPreparation):
        write_compounding_record(service, "P-NOPE", path)
    assert not path.exists()


def test_a_seeded_preparation_with_an_in_process_check(seeded, tmp_path):
    service = seeded.service()
    chosen = None
    for preparation_id in seeded.report.preparation_ids:
        review = review_preparation(service, preparation_id)
        if any(s.meaning == "in-process-checked" for s in review.signatures):
            chosen = review
            break
    assert chosen is not None
    path = tmp_path / "seeded.pdf"
    write_compounding_record(service, chosen.preparation_id, path, chain_ok=True)
    text = " ".join(pages_of(path.read_bytes()))
    for component in chosen.components:
        assert f"{component.ndc} {component.manufacturer} {component.lot}" in text
    for step in chosen.steps:
        for weight in step.weights:
            assert spaced(f"raw {weight.raw}") in text
            assert weight.balance_id in text
    for signature in chosen.signatures:
        assert spaced(signature.manifestation) in text
    assert "In-process check approved" in text and chosen.last_hash in text


# ------------------------------------------------------------------------------ the CLI


def test_cli_exports_a_preparation(service, version, tmp_path, capsys, backend):
    preparation_id = make_preparation(service, version)
    target = tmp_path / "P-REVIEW1.pdf"
    status = main(["audit", "export", preparation_id, "--pdf", str(target), "--db", backend.url])
    captured = capsys.readouterr()
    assert (status, captured.err) == (0, "")
    pages = len(pages_of(target.read_bytes()))
    assert captured.out == f"{preparation_id}: {pages} pages written to {target} (chain intact)\n"
    assert "intact: every link and photo re-checked" in " ".join(pages_of(target.read_bytes()))


def test_cli_refuses_an_unknown_preparation_in_one_line(service, version, tmp_path, capsys,
                                                         backend):
    make_preparation(service, version)
    target = tmp_path / "none.pdf"
    status = main(["audit", "export", "P-NOPE", "--pdf", str(target), "--db", backend.url])
    captured = capsys.readouterr()
    assert (status, captured.out) == (1, "")
    assert captured.err == "station audit export: no preparation 'P-NOPE' in the record\n"
    assert not target.exists()


def test_cli_marks_a_broken_chain_and_fails(service, version, tmp_path, capsys, backend):
    if backend.name != "sqlite":
        pytest.skip("altering a row needs the SQLite file (PostgreSQL refuses it by role)")
    preparation_id = make_preparation(service, version)
    with sqlite3.connect(tmp_path / "station.db") as raw:
        raw.execute("DROP TRIGGER events_no_update")
        raw.execute("UPDATE events SET user_id = 'tech.bob' WHERE sequence = 3")
    target = tmp_path / "broken.pdf"
    status = main(["audit", "export", preparation_id, "--pdf", str(target), "--db", backend.url])
    captured = capsys.readouterr()
    assert (status, captured.out) == (1, "")
    assert re.fullmatch(
        r"station audit export: chain broken at event 3: content does not match its hash "
        r"\(altered\); P-REVIEW1: \d+ pages written to .*broken\.pdf, marked CHAIN BROKEN\n",
        captured.err)
    assert "BROKEN: the record was altered" in " ".join(pages_of(target.read_bytes()))


# ------------------------------------------------------------------------------ the label


BUD_LINES = (
    "Beyond-use date 2026-11-26 21:30 UTC-06:00 (as printed, copy 1)",
    "BUD rule USP <797> Table 12, Category 1, controlled room temperature: 12 hours",
    "Storage Store at controlled room temperature 20-25 °C",
    "USP <797> category Category 1",
)


def test_cli_export_of_a_verified_preparation_gives_the_printed_bud(service, version, tmp_path,
                                                                    capsys, backend):
    prep = record_heparin(service, version)
    target = tmp_path / "P-LABEL1.pdf"
    status = main(["audit", "export", prep.preparation_id, "--pdf", str(target),
                   "--db", backend.url])
    captured = capsys.readouterr()
    assert (status, captured.err) == (0, "")
    text = " ".join(pages_of(target.read_bytes()))
    assert "Status: VERIFIED" in text
    for line in BUD_LINES:
        assert spaced(line) in text, line
    assert f"Label copy 1 printed 2026-11-26 09:43 UTC-06:00 by tech.ana on {PRINTER}" in text
    assert NO_LABEL_YET not in text
    # the delivered dose, per syringe and at the emptied syringe's weighing
    assert ("1 of 1: Heparin Sodium 5.050 g = 25,000 units (step 5) 5.010 g = 24,802 units "
            "(step 7) 0.040 g 25,000 units") in text
    assert "5.010 g delivered = 17.050 g filled (step 5) − 12.040 g emptied" in text


def test_a_reprint_typed_lot_and_opened_vial_are_on_the_record(service, version, tmp_path):
    record_heparin(service, version, preparation_id="P-TYPED", heparin_from=LotSource.TYPED,
                   reprint=True)
    record_heparin(service, version, preparation_id="P-VIAL",
                   heparin_from=LotSource.OPENED_VIAL)
    typed, vial = tmp_path / "typed.pdf", tmp_path / "vial.pdf"
    write_compounding_record(service, "P-TYPED", typed, chain_ok=True)
    write_compounding_record(service, "P-VIAL", vial, chain_ok=True)
    text = " ".join(pages_of(typed.read_bytes()))
    assert "Beyond-use date 2026-11-26 21:30 UTC-06:00 (as printed, copy 2)" in text
    assert f"Reprint copy 2 printed 2026-11-26 09:44 UTC-06:00 by tech.ana on {PRINTER}; " \
           f"reason: {spaced(REPRINT_REASON)}" in text
    assert ("Heparin Sodium 5,000 units/mL 0409-2720-01 Hospira TY7781 2028-06-30 none lot "
            f"and expiry typed twice by the technician — {CHECK_LOT}") in text
    assert "Flags (0 alerts, 1 note)" in text
    text = " ".join(pages_of(vial.read_bytes()))
    assert (f"lot and expiry from the opened-vial record opened vial {VIAL.key}, first "
            "punctured 2026-11-26 07:30 UTC-06:00, beyond use 2026-12-22 09:30 UTC-06:00 "
            "(USP <797> multiple-dose container: 28 days)") in text
    assert CHECK_LOT not in text


def test_before_the_label_the_record_says_no_label_printed_yet(service, version, tmp_path):
    record_heparin(service, version, until="weighed")
    path = tmp_path / "weighed.pdf"
    write_compounding_record(service, "P-LABEL1", path, chain_ok=True)
    text = " ".join(pages_of(path.read_bytes()))
    assert (f"Beyond-use date 2026-11-26 21:30 UTC-06:00 — {NOT_YET_PRINTED} ({NO_LABEL_YET}; "
            "the date the label would get)") in text
    assert "as printed" not in text and "Label copy" not in text
