"""The review of a labelled preparation: the beyond-use date as the label printed it (or would
print it), how each component's lot and expiry were obtained, an opened vial drawn from, and
each syringe's drawn and delivered dose."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from station.core.beyond_use import preparation_bud
from station.core.bud import BudTable
from station.core.components import LotSource
from station.core.formulary import CompoundingCategory, Storage
from station.core.workflow import Started
from station.services.review.build import review_preparation
from station.services.review.model import NOTE
from station.services.review.wording import (
    CHECK_LOT,
    NO_LABEL_YET,
    NOT_YET_PRINTED,
    bud_rows,
    bud_text,
    source_text,
    syringe_text,
    vial_text,
)
from tests.records.labelled import (
    BAG_TARE,
    CATEGORY_3_RECORDS,
    DELIVERED,
    DRAWN,
    HEPARIN,
    PRINTER,
    REPRINT_REASON,
    SYRINGE_TARE,
    TYPED_EXPIRY,
    TYPED_LOT,
    VIAL,
    category_3_formulary,
    record_heparin,
)
from tests.station.builders import NOW, order

RULE = "USP <797> Table 12, Category 1, controlled room temperature: 12 hours"
ROOM = "Store at controlled room temperature 20-25 °C"
TWELVE_HOURS_ON = "2026-11-26 21:30 UTC-06:00"  # started 09:30 at the site


def test_a_printed_label_gives_the_bud_its_rule_storage_and_category(service, version):
    prep = record_heparin(service, version, reprint=True)
    review = review_preparation(service, prep.preparation_id)
    bud = review.bud
    assert bud.printed and bud.problem is None
    assert bud.until == NOW + dt.timedelta(hours=12)
    assert (bud.rule, bud.category, bud.storage) == (RULE, CompoundingCategory.CATEGORY_1,
                                                     Storage.ROOM)
    assert [(c.copy, c.printer, c.reason) for c in bud.copies] == [
        (1, PRINTER, ""), (2, PRINTER, REPRINT_REASON)]
    rows = dict(bud_rows(bud))
    assert rows["Beyond-use date"] == f"{TWELVE_HOURS_ON} (as printed, copy 2)"
    assert (rows["BUD rule"], rows["Storage"], rows["USP <797> category"]) == (
        RULE, ROOM, "Category 1")
    assert rows["Reprint"].startswith("copy 2 printed 2026-11-26 ")
    assert rows["Reprint"].endswith(f"by tech.ana on {PRINTER}; reason: {REPRINT_REASON}")
    assert NO_LABEL_YET not in bud_text(bud)


def test_the_label_shown_is_the_last_copy_printed(service, version):
    prep = record_heparin(service, version, reprint=True)
    review = review_preparation(service, prep.preparation_id)
    printed = [e for e in review.timeline if e.kind == "label_printed"]
    label_step = next(s.number for s in review.steps if s.kind.value == "label")
    assert [e.step for e in printed] == [label_step, label_step]
    assert printed[0].summary == (
        f"Label printed (copy 1) by tech.ana on {PRINTER}: beyond use {TWELVE_HOURS_ON} "
        f"({RULE}); {ROOM}; USP <797> Category 1")
    assert printed[1].summary.startswith(
        f"Label reprinted (copy 2) by tech.ana on {PRINTER} — reason: {REPRINT_REASON}: ")
    assert review.bud.copies[-1].at == max(c.at for c in review.bud.copies)


def test_before_the_label_the_bud_is_the_one_it_would_get_marked_not_printed(service, version):
    prep = record_heparin(service, version, until="weighed")
    review = review_preparation(service, prep.preparation_id)
    expected = preparation_bud(prep, BudTable.load())
    assert not review.bud.printed and review.bud.copies == ()
    assert (review.bud.until, review.bud.rule) == (expected.until, expected.rule)
    date = dict(bud_rows(review.bud))["Beyond-use date"]
    assert date == (f"{TWELVE_HOURS_ON} — {NOT_YET_PRINTED} ({NO_LABEL_YET}; the date the "
                    "label would get)")
    assert "as printed" not in bud_text(review.bud)


def test_a_preparation_not_started_has_no_bud_and_says_why(service, version):
    service.create(order("RX-NEW", (HEPARIN, "25000 units")), version, "tech.ana",
                   preparation_id="P-NEW")
    review = review_preparation(service, "P-NEW")
    assert review.bud.until is None and not review.bud.printed
    assert bud_rows(review.bud) == (
        ("Beyond-use date", f"{NO_LABEL_YET}; no date yet: preparation P-NEW has not started"),)


def test_a_category_3_preparation_names_its_prerequisites(service):
    version = service.versions.import_text(category_3_formulary(), "category 3 heparin",
                                           imported_by="rph.ben", utc=NOW)
    prep = record_heparin(service, version, preparation_id="P-CAT3")
    review = review_preparation(service, prep.preparation_id)
    assert (review.bud.category, review.bud.storage) == (CompoundingCategory.CATEGORY_3,
                                                         Storage.REFRIGERATED)
    assert review.bud.until == NOW + dt.timedelta(days=90)
    rows = dict(bud_rows(review.bud))
    assert rows["USP <797> category"] == f"Category 3 — prerequisites: {CATEGORY_3_RECORDS}"
    assert rows["Storage"] == "Refrigerate at 2-8 °C. Do not freeze"


@pytest.mark.parametrize(("source", "words", "flagged"), [
    (LotSource.BARCODE, "lot and expiry from the barcode", False),
    (LotSource.TYPED, f"lot and expiry typed twice by the technician — {CHECK_LOT}", True),
    (LotSource.PRINTED_TEXT, "lot and expiry read from the printed label by the camera, "
                             f"confirmed by the technician — {CHECK_LOT}", True),
    (LotSource.OPENED_VIAL, "lot and expiry from the opened-vial record", False),
])
def test_each_component_says_how_its_lot_and_expiry_were_obtained(service, version, source,
                                                                    words, flagged):
    prep = record_heparin(service, version, heparin_from=source, until="weighed")
    review = review_preparation(service, prep.preparation_id)
    base, heparin = review.components
    assert base.lot_source is LotSource.BARCODE and not base.flagged
    assert heparin.lot_source is source and heparin.flagged is flagged
    assert source_text(heparin) == words
    notes = [f for f in review.flags if f.level == NOTE and CHECK_LOT in f.text]
    if flagged:
        assert heparin.lot == TYPED_LOT and heparin.expiry == TYPED_EXPIRY
        assert heparin.serial is None
        assert [(f.step, f.text) for f in notes] == [
            (3, f"Step 3: Heparin Sodium lot {TYPED_LOT}, expiry {TYPED_EXPIRY}: {words}")]
    else:
        assert notes == []
    scanned = next(e for e in review.timeline if e.scan is heparin)
    assert f"({words})" in scanned.summary


def test_an_opened_vial_shows_its_id_first_puncture_and_bud(service, version):
    prep = record_heparin(service, version, heparin_from=LotSource.OPENED_VIAL, until="weighed")
    review = review_preparation(service, prep.preparation_id)
    heparin = review.components[1]
    assert heparin.opened_vial == VIAL
    assert vial_text(heparin) == (
        "opened vial V-20261126-0007, first punctured 2026-11-26 07:30 UTC-06:00, beyond use "
        "2026-12-22 09:30 UTC-06:00 (USP <797> multiple-dose container: 28 days)")
    assert vial_text(review.components[0]) is None


def test_the_emptied_syringe_gives_the_delivered_dose(service, version):
    prep = record_heparin(service, version, until="weighed")
    review = review_preparation(service, prep.preparation_id)
    (weight,) = review.step(7).weights
    assert weight.delivered and weight.reference_step == 5
    assert weight.before == SYRINGE_TARE + DRAWN  # the filled syringe
    assert weight.reading == SYRINGE_TARE + DRAWN - DELIVERED
    assert weight.net == DELIVERED and weight.expected_net == DRAWN
    assert weight.deviation_percent == Decimal("-0.79")
    assert weight.measured_dose == "24,802 units" and weight.expected_dose == "25,000 units"
    final = review.step(8).weights[0]
    assert final.expected_net == DELIVERED and final.before == BAG_TARE
    (syringe,) = review.syringes
    assert (syringe.draw_step, syringe.delivered_step, syringe.final_step) == (5, 7, 8)
    assert (syringe.drawn, syringe.delivered, syringe.left) == (DRAWN, DELIVERED,
                                                                DRAWN - DELIVERED)
    assert syringe_text(syringe) == (
        "Syringe 1 of 1 (Heparin Sodium): drawn 5.050 g = 25,000 units (step 5); delivered "
        "5.010 g = 24,802 units (step 7); 0.040 g left in the syringe")
    read = next(e for e in review.timeline if e.weight is weight)
    assert read.summary == (
        "Read 12.040 g on balance MT-B123456789 (emptied syringe): delivered 5.010 g = "
        "17.050 g filled (step 5) − 12.040 g, expected 5.050 g (-0.79 % of ±5 %): "
        "within tolerance")


def test_a_syringe_not_yet_weighed_back_says_so(service, version):
    service.create(order("RX-HALF", (HEPARIN, "25000 units")), version, "tech.ana",
                   preparation_id="P-HALF")
    service.record_event("P-HALF", Started("tech.ana", NOW))
    review = review_preparation(service, "P-HALF")
    (syringe,) = review.syringes
    assert (syringe.drawn, syringe.delivered, syringe.left) == (None, None, None)
    assert syringe_text(syringe) == ("Syringe 1 of 1 (Heparin Sodium): drawn not weighed yet "
                                     "(step 5); delivered not weighed yet (step 7)")
