"""The opened-vial desk: keep a vial after a draw, find it by its label, draw it down, discard."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from station.core.bud import BudTable
from station.core.components import LotSource
from station.core.identifiers import Expiry, Lot
from station.core.label import format_time
from station.core.opened_vials import OpenedVialError
from station.core.recipe import StepKind
from station.core.workflow import Phase, ProductScanned, StopReason, apply
from station.records.opened_vials import OpenedVials
from station.services.opened_vial_use import VialDesk
from station.services.preparations import from_payload, to_payload
from tests.clock import FakeClock
from tests.services.desks import (
    CEFAZOLIN,
    HEPARIN,
    KCL,
    decoded,
    draw_step,
    file_printer,
    formulary,
    prepared,
)
from tests.station.builders import NOW, Technician

LATER = NOW + dt.timedelta(minutes=30)


@pytest.fixture
def vials(backend):
    return OpenedVials(backend.engine, FakeClock(NOW), BudTable.load())


def desk_for(vials, catalogue, folder, *, iso5=True):
    return VialDesk(vials, catalogue, file_printer(folder), station_id="hood-3", iso5=iso5)


def vial_scan_event(desk, code, at, user="tech.bo"):
    """What the hood records when a technician scans an opened vial's label at a scan step."""
    found = desk.identify(code, at=at)
    assert found is not None
    return found, ProductScanned(user, at, found.identity, found.product,
                                 opened_vial_problem=found.problem,
                                 lot_source=LotSource.OPENED_VIAL, opened_vial=found.in_use)


def test_a_multi_dose_vial_is_kept_labelled_and_found_again(vials, tmp_path):
    catalogue = formulary()
    desk = desk_for(vials, catalogue, tmp_path)
    prep = prepared(catalogue, HEPARIN, "5000 units")  # 1 mL of a 10 mL multi-dose vial
    draw = draw_step(prep)
    assert desk.keep_problem(prep, draw) is None and desk.can_keep(prep, draw)

    kept = desk.keep(prep, draw, user="tech.ana", at=LATER)
    vial = kept.vial
    assert vial.key == "OV-1"
    assert (vial.punctured_at, vial.punctured_by, vial.station_id, vial.iso5) == (
        NOW, "tech.ana", "hood-3", True)
    assert (vial.lot, vial.serial, vial.expiry) == ("L2405A", "SNL2405A", dt.date(2028, 12, 31))
    assert vial.beyond_use == NOW + dt.timedelta(days=28)
    # 1 mL plus the 0.070 mL its 3 mL syringe keeps, by weight
    assert (vial.opened_ml, vial.remaining_ml) == (Decimal("10"), Decimal("8.93"))
    assert decoded(kept.preview_png) == ["VIAL:OV-1"]
    zpl = (tmp_path / "label.zpl").read_text(encoding="utf-8")
    assert "^BXN,3,200," in zpl and "^FDVIAL:OV-1^FS" in zpl
    for text in ("Lot L2405A", f"Opened {format_time(NOW)}",
                 f"Discard after {format_time(vial.beyond_use)}", "Remaining 8.93 mL"):
        assert text in zpl.replace("_C2_B7", "·"), text
    assert not desk.can_keep(prep, draw)
    assert desk.keep_problem(prep, draw) == f"the vial of step {draw} is already kept as OV-1"
    with pytest.raises(OpenedVialError, match=r"^cannot keep the vial: the vial of step"):
        desk.keep(prep, draw, user="tech.ana", at=LATER)

    found = desk.identify("]d1VIAL:OV-1\r\n", at=NOW + dt.timedelta(days=3))
    assert found is not None
    assert found.problem is None and found.product.ndc == vial.ndc
    assert (str(found.identity.lot), found.identity.expiry.date, str(found.identity.serial)) == (
        "L2405A", dt.date(2028, 12, 31), "SNL2405A")
    assert found.in_use == vial.in_use
    assert desk.identify("]d2010030409272001172812311 0L2405A", at=LATER) is None
    with pytest.raises(OpenedVialError, match=r"^no opened vial OV-9 on the record"):
        desk.identify("VIAL:OV-9", at=LATER)


def test_a_draw_from_a_kept_vial_is_taken_off_its_volume(vials, tmp_path):
    catalogue = formulary()
    desk = desk_for(vials, catalogue, tmp_path)
    first = prepared(catalogue, HEPARIN, "5000 units")
    desk.keep(first, draw_step(first), user="tech.ana", at=LATER)

    tech = Technician(user="tech.bo", at=NOW + dt.timedelta(days=2))
    recipe = first.recipe
    prep = tech.start(recipe, "P-0002")
    scan_step = next(s.number for s in recipe.steps
                     if s.kind is StepKind.SCAN and s.product.ndc == catalogue.by_ndc_text(
                         HEPARIN).ndc)
    prep = tech.advance_to(prep, scan_step)
    found, event = vial_scan_event(desk, "VIAL:OV-1", tech.at)
    prep = tech.do(prep, event)
    assert prep.record(scan_step).accepted is not None and prep.phase is Phase.IN_PROGRESS
    # the record keeps the scan and reads it back without the vial record
    again = from_payload("product_scanned", "tech.bo", to_payload(event), catalogue)
    assert again == event
    prep = tech.advance_to(prep, draw_step(prep) + 1)
    assert not desk.can_keep(prep, draw_step(prep))
    assert desk.keep_problem(prep, draw_step(prep)) == "this vial is already kept as OV-1"
    after = desk.record_draw(prep, draw_step(prep), user="tech.bo", at=tech.at)
    assert after is not None and after.remaining_ml == Decimal("7.86")
    assert vials.get("OV-1").remaining_ml == Decimal("7.86")
    # a draw from a fresh vial is not an opened vial's
    assert desk.record_draw(first, draw_step(first), user="tech.ana", at=LATER) is None
    relabelled = desk.relabel("OV-1", user="tech.bo")
    assert decoded(relabelled) == ["VIAL:OV-1"]
    assert "Remaining 7.86 mL" in (tmp_path / "label.zpl").read_text(encoding="utf-8")
    assert found.vial.remaining_ml == Decimal("8.93")


def test_a_single_dose_vial_punctured_12_h_1_min_ago_is_refused(vials, tmp_path):
    catalogue = formulary()
    desk = desk_for(vials, catalogue, tmp_path)
    first = prepared(catalogue, KCL, "10 mEq")  # 5 mL of a 20 mL single-dose vial
    kept = desk.keep(first, draw_step(first), user="tech.ana", at=LATER)
    assert kept.vial.beyond_use == NOW + dt.timedelta(hours=12)

    late = NOW + dt.timedelta(hours=12, minutes=1)
    tech = Technician(user="tech.bo", at=late)
    prep = tech.start(first.recipe, "P-0002")
    scan_step = next(s.number for s in first.recipe.steps
                     if s.kind is StepKind.SCAN and s.product.name == "Potassium Chloride")
    prep = tech.advance_to(prep, scan_step)
    found, event = vial_scan_event(desk, kept.vial.code, late)
    assert found.problem == (
        "opened vial OV-1 (Potassium Chloride, NDC 55150-1234-1, lot L2405A, serial SNL2405A), "
        "first punctured 2026-11-26T09:30-06:00, is past its beyond-use time "
        "2026-11-26T21:30-06:00 (USP <797> single-dose container entered only in ISO Class 5 "
        "air: up to 12 hours after first puncture: 12 hours): discard it")
    stopped = apply(prep, event)
    assert stopped.stop.reason is StopReason.OPENED_VIAL_PAST_BUD
    assert not stopped.stop.reason.overridable
    assert "OV-1" in stopped.stop.message and "2026-11-26T09:30-06:00" in stopped.stop.message
    on_time = desk.identify(kept.vial.code, at=NOW + dt.timedelta(hours=12))
    assert on_time.problem is None


def test_outside_iso5_a_single_dose_vial_keeps_one_hour(vials, tmp_path):
    catalogue = formulary()
    desk = desk_for(vials, catalogue, tmp_path, iso5=False)
    prep = prepared(catalogue, KCL, "10 mEq")
    vial = desk.keep(prep, draw_step(prep), user="tech.ana", at=LATER).vial
    assert (vial.iso5, vial.beyond_use) == (False, NOW + dt.timedelta(hours=1))
    assert "1 hour" in vial.rule


def test_a_pharmacy_bulk_package_entered_outside_iso5_is_refused(vials, tmp_path):
    catalogue = formulary(**{KCL: {"container": "pharmacy_bulk_package"}})
    prep = prepared(catalogue, KCL, "10 mEq")
    outside = desk_for(vials, catalogue, tmp_path, iso5=False)
    assert not outside.can_keep(prep, draw_step(prep))
    with pytest.raises(OpenedVialError, match=r"^cannot keep the vial: Potassium Chloride .* is "
                       r"a pharmacy bulk package: it may be entered only in ISO Class 5 air"):
        outside.keep(prep, draw_step(prep), user="tech.ana", at=LATER)
    assert vials.in_use() == []
    assert not (tmp_path / "label.zpl").exists()
    inside = desk_for(vials, catalogue, tmp_path, iso5=True)
    assert inside.keep(prep, draw_step(prep), user="tech.ana", at=LATER).vial.beyond_use == (
        NOW + dt.timedelta(hours=4))


def test_a_discarded_vial_is_recorded_and_then_refused(vials, tmp_path):
    catalogue = formulary()
    desk = desk_for(vials, catalogue, tmp_path)
    first = prepared(catalogue, HEPARIN, "5000 units")
    kept = desk.keep(first, draw_step(first), user="tech.ana", at=LATER)
    assert [v.key for v in desk.in_use()] == ["OV-1"]
    gone = desk.discard("OV-1", "dropped on the floor", user="tech.ana", at=LATER)
    assert (gone.discarded_at, gone.discard_reason) == (LATER, "dropped on the floor")
    assert desk.in_use() == []
    assert vials.get("OV-1").discarded_at == LATER

    tech = Technician(user="tech.bo", at=LATER + dt.timedelta(hours=1))
    prep = tech.start(first.recipe, "P-0002")
    scan_step = next(s.number for s in first.recipe.steps
                     if s.kind is StepKind.SCAN and s.product.name == "Heparin Sodium")
    prep = tech.advance_to(prep, scan_step)
    found, event = vial_scan_event(desk, kept.vial.code, tech.at)
    assert found.problem.startswith("opened vial OV-1 (Heparin Sodium, NDC 0409-2720-01, lot "
                                    "L2405A, serial SNL2405A) was discarded at "
                                    "2026-11-26T10:00-06:00")
    assert apply(prep, event).stop.reason is StopReason.OPENED_VIAL_PAST_BUD
    with pytest.raises(OpenedVialError, match="was already discarded"):
        desk.discard("OV-1", "again", user="tech.ana", at=LATER)


def test_a_reconstituted_powder_keeps_its_solutions_time_and_weighed_volume(vials, tmp_path):
    catalogue = formulary(**{CEFAZOLIN: {"reconstitute": {
        "diluents": ["63323-185-10"], "volume_ml": "2.5", "in_use_hours": 6}}})
    desk = desk_for(vials, catalogue, tmp_path)
    prep = prepared(catalogue, CEFAZOLIN, "500 mg")
    vial = desk.keep(prep, draw_step(prep), user="tech.ana", at=LATER).vial
    assert vial.reconstituted
    assert vial.beyond_use == NOW + dt.timedelta(hours=6)
    assert vial.rule.startswith("manufacturer's labeling for the reconstituted solution")
    drawn = (prep.net_mass(draw_step(prep)).grams / Decimal("1.08")).quantize(Decimal("0.01"))
    assert vial.remaining_ml == vial.opened_ml - drawn
    assert vial.opened_ml == Decimal("3.03")


def test_what_cannot_be_kept_says_why(vials, tmp_path):
    catalogue = formulary(**{KCL: {"container": "ampule"}})
    desk = desk_for(vials, catalogue, tmp_path)
    ampule = prepared(catalogue, KCL, "10 mEq")
    assert desk.keep_problem(ampule, draw_step(ampule)) == (
        f"{catalogue.by_ndc_text(KCL).label} is an ampule: an opened ampule must not be kept")
    whole = prepared(formulary(), KCL, "40 mEq")  # the whole 20 mL vial
    assert desk.keep_problem(whole, draw_step(whole)) == (
        f"nothing is left in the vial of step {draw_step(whole)}")
    assert desk.keep_problem(whole, 1) == "step 1 is not a draw from a vial"
    not_yet = prepared(formulary(), HEPARIN, "5000 units", until=StepKind.WEIGH_NET)
    assert desk.keep_problem(not_yet, draw_step(not_yet)) == (
        f"the draw of step {draw_step(not_yet)} has not been accepted")
    assert vials.in_use() == []


def test_identity_survives_a_lot_that_looks_like_a_serial(vials, tmp_path):
    """A lot such as 'K2101' must not be split into lot 'K' and serial '01'."""
    catalogue = formulary()
    desk = desk_for(vials, catalogue, tmp_path)
    heparin = catalogue.by_ndc_text(HEPARIN)
    for lot, serial in (("K2101", None), ("2110A", "SN1"), ("17AB", None)):
        vial = vials.open(heparin, lot, serial, NOW, "10", expiry=dt.date(2028, 2, 29))
        found = desk.identify(vial.code, at=LATER)
        assert (found.identity.lot, found.identity.expiry) == (Lot(lot), Expiry(
            dt.date(2028, 2, 29)))
        assert (str(found.identity.serial) if found.identity.serial else None) == serial
        event = ProductScanned("tech.bo", LATER, found.identity, found.product,
                               lot_source=LotSource.OPENED_VIAL, opened_vial=found.in_use)
        assert from_payload("product_scanned", "tech.bo", to_payload(event), catalogue) == event
