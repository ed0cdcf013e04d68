"""Opened vials on both backends: ids, beyond-use times, drawing down, refusing, discarding."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from station.core.bud import BudTable
from station.core.errors import ParseError
from station.core.formulary import Container, Formulary
from station.core.identifiers import Ndc
from station.core.opened_vials import (
    OpenedVialError,
    check,
    key_from_vial_code,
    vial_code,
)
from station.core.scan import parse_scan
from station.records.opened_vials import OpenedVials
from tests.station.builders import FORMULARY

SITE = dt.timezone(dt.timedelta(hours=-6))
PUNCTURE = dt.datetime(2026, 11, 26, 9, 30, tzinfo=SITE)
SECOND = dt.timedelta(seconds=1)


@pytest.fixture
def formulary():
    return Formulary.from_mapping(FORMULARY)


@pytest.fixture
def vials(backend):
    return OpenedVials(backend.engine, lambda: PUNCTURE, BudTable.load())


def test_a_single_dose_vial_keeps_12_hours_to_the_second(vials, formulary):
    kcl = formulary.by_ndc_text("55150-1234-1")  # single-dose
    vial = vials.open(kcl, "K2401", "SN1", PUNCTURE, Decimal("20"))
    assert vial.key == "OV-1"
    assert vial.container is Container.SINGLE_DOSE
    assert vial.beyond_use == PUNCTURE + dt.timedelta(hours=12)
    assert vial.rule.startswith("USP <797> single-dose container entered only in ISO Class 5")
    assert check(vial, PUNCTURE + dt.timedelta(hours=12)) is None
    assert check(vial, PUNCTURE + dt.timedelta(hours=12) + SECOND) == (
        "opened vial OV-1 (Potassium Chloride, NDC 55150-1234-1, lot K2401, serial SN1), first "
        "punctured 2026-11-26T09:30-06:00, is past its beyond-use time 2026-11-26T21:30-06:00 "
        "(USP <797> single-dose container entered only in ISO Class 5 air: up to 12 hours "
        "after first puncture: 12 hours): discard it")


def test_outside_iso5_a_single_dose_vial_keeps_one_hour(vials, formulary):
    kcl = formulary.by_ndc_text("55150-1234-1")
    vial = vials.open(kcl, "K2401", None, PUNCTURE, "20", iso5=False, station_id="hood-9")
    assert vial.beyond_use == PUNCTURE + dt.timedelta(hours=1)
    assert (vial.iso5, vial.station_id, vial.serial) == (False, "hood-9", "")


def test_a_pharmacy_bulk_package_outside_iso5_is_refused_and_nothing_recorded(vials, formulary):
    bulk = formulary.by_ndc_text("55150-1234-1")
    bulk = type(bulk)(**{**bulk.__dict__, "container": Container.PHARMACY_BULK_PACKAGE})
    with pytest.raises(OpenedVialError, match=r"^Potassium Chloride .*: a pharmacy bulk package "
                       r"may be entered only in ISO Class 5 air"):
        vials.open(bulk, "K2401", None, PUNCTURE, "20", iso5=False)
    assert vials.in_use() == []
    inside = vials.open(bulk, "K2401", None, PUNCTURE, "20", iso5=True)
    assert inside.beyond_use == PUNCTURE + dt.timedelta(hours=4)


def test_a_multiple_dose_vial_keeps_28_days(vials, formulary):
    heparin = formulary.by_ndc_text("0409-2720-01")  # multi_dose = true
    vial = vials.open(heparin, "H77", "SN9", PUNCTURE, "10")
    assert vial.multi_dose
    assert vial.beyond_use == PUNCTURE + dt.timedelta(days=28)
    assert check(vial, PUNCTURE + dt.timedelta(days=28)) is None
    assert "is past its beyond-use time 2026-12-24T09:30-06:00" in check(
        vial, PUNCTURE + dt.timedelta(days=28) + SECOND)


def test_the_manufacturer_limit_replaces_28_days_and_the_expiry_caps_it(vials, formulary):
    heparin = formulary.by_ndc_text("0409-2720-01")
    vial = vials.open(heparin, "H77", "SN10", PUNCTURE, "10",
                      manufacturer_limit=dt.timedelta(days=42))
    assert vial.beyond_use == PUNCTURE + dt.timedelta(days=42)
    assert vial.rule.startswith("manufacturer's labeling")
    capped = vials.open(heparin, "H77", "SN11", PUNCTURE, "10", expiry=dt.date(2026, 12, 1))
    assert capped.beyond_use == dt.datetime(2026, 12, 1, 23, 59, 59, 999999, tzinfo=SITE)
    assert capped.expiry == dt.date(2026, 12, 1)


def test_each_vial_gets_its_own_id_even_without_a_serial(vials, formulary):
    heparin = formulary.by_ndc_text("0409-2720-01")
    first = vials.open(heparin, "H77", None, PUNCTURE, "10", by="tech.ana")
    second = vials.open(heparin, "H77", "", PUNCTURE, "10", by="tech.bo")
    assert (first.key, second.key) == ("OV-1", "OV-2")
    assert vials.get("OV-1") == first and vials.get("OV-2") == second
    assert (first.punctured_by, second.punctured_by) == ("tech.ana", "tech.bo")
    assert key_from_vial_code(first.code) == "OV-1"


def test_a_serialised_vial_is_found_again_in_any_ndc_shape_and_opened_once(vials, formulary):
    heparin = formulary.by_ndc_text("0409-2720-01")
    opened = vials.open(heparin, "H77", "SN9", PUNCTURE, "10")
    assert vials.find(Ndc.parse("00409-2720-01"), "H77", "SN9") == opened
    assert vials.find(heparin.ndc, "H77", "SN8") is None
    assert vials.find(heparin.ndc, "H78", "SN9") is None
    with pytest.raises(OpenedVialError, match=r"^vial OV-1 \(Heparin Sodium, NDC 0409-2720-01, "
                       r"lot H77, serial SN9\) was already opened at 2026-11-26T09:30-06:00$"):
        vials.open(heparin, "H77", "SN9", PUNCTURE, "10")


def test_the_first_draw_is_recorded_with_the_puncture(vials, formulary):
    heparin = formulary.by_ndc_text("0409-2720-01")
    vial = vials.open(heparin, "H77", None, PUNCTURE, "10", drawn_ml=Decimal("2.48"),
                      drawn_at=PUNCTURE + dt.timedelta(minutes=3), preparation_id="P-1",
                      draw_step=5)
    assert (vial.opened_ml, vial.remaining_ml) == (Decimal("10"), Decimal("7.52"))
    assert vials.get(vial.key) == vial
    assert vials.kept_from("P-1", 5) == vial
    assert vials.kept_from("P-1", 6) is None
    with pytest.raises(OpenedVialError, match=r"^the vial of step 5 of P-1 is already kept as "
                       r"OV-1$"):
        vials.open(heparin, "H77", None, PUNCTURE, "10", preparation_id="P-1", draw_step=5)


def test_drawing_down_the_volume(vials, formulary):
    heparin = formulary.by_ndc_text("0409-2720-01")
    vial = vials.open(heparin, "H77", "SN9", PUNCTURE, "10")
    after = vials.draw(vial.key, "2.5", at=PUNCTURE + dt.timedelta(hours=1))
    assert after.remaining_ml == Decimal("7.5")
    vials.draw(vial.key, Decimal("7.0"), at=PUNCTURE + dt.timedelta(days=2))
    assert vials.get(vial.key).remaining_ml == Decimal("0.5")
    with pytest.raises(OpenedVialError, match=r"^vial OV-1 \(Heparin Sodium, NDC 0409-2720-01, "
                       r"lot H77, serial SN9\) has 0.5 mL left; cannot draw 1 mL$"):
        vials.draw(vial.key, "1", at=PUNCTURE + dt.timedelta(days=2))
    with pytest.raises(OpenedVialError, match=r"^the volume drawn must be greater than zero"):
        vials.draw(vial.key, "0")
    vials.draw(vial.key, "0.5", at=PUNCTURE + dt.timedelta(days=3))
    empty = vials.get(vial.key)
    assert check(empty, PUNCTURE + dt.timedelta(days=3)) == (
        "opened vial OV-1 (Heparin Sodium, NDC 0409-2720-01, lot H77, serial SN9) is empty: "
        "discard it")


def test_an_expired_vial_is_refused_and_nothing_is_drawn(vials, formulary):
    kcl = formulary.by_ndc_text("55150-1234-1")
    vial = vials.open(kcl, "K2401", "SN1", PUNCTURE, "20")
    late = PUNCTURE + dt.timedelta(hours=12, minutes=1)
    with pytest.raises(OpenedVialError, match=r"^opened vial OV-1 .*, first punctured "
                       r"2026-11-26T09:30-06:00, is past its beyond-use time "
                       r"2026-11-26T21:30-06:00 \(USP <797> single-dose"):
        vials.draw(vial.key, "5", at=late)
    # accepted at its scan, before the beyond-use time: the draw is taken off
    assert vials.draw(vial.key, "5", at=late, checked_at=late - dt.timedelta(minutes=5)
                      ).remaining_ml == Decimal("15")
    with pytest.raises(OpenedVialError, match=r"^discarding vial OV-1 needs a reason$"):
        vials.discard(vial.key, " ", at=late)
    discarded = vials.discard(vial.key, "expired", at=late, by="tech.ana")
    assert check(discarded, late).startswith("opened vial OV-1 (Potassium Chloride, NDC "
                                             "55150-1234-1, lot K2401, serial SN1) was "
                                             "discarded at 2026-11-26T21:31-06:00")
    assert vials.get(vial.key) == discarded
    assert vials.in_use() == []
    with pytest.raises(OpenedVialError, match="was already discarded"):
        vials.discard(vial.key, "again", at=late)


def test_unknown_vials_and_naive_times_are_refused(vials, formulary):
    kcl = formulary.by_ndc_text("55150-1234-1")
    with pytest.raises(OpenedVialError, match=r"^no opened vial 'nope': open it first$"):
        vials.draw("nope", "1")
    with pytest.raises(OpenedVialError, match=r"has no timezone$"):
        vials.open(kcl, "K1", "S1", dt.datetime(2026, 11, 26, 9, 30), "20")  # noqa: DTZ001
    with pytest.raises(OpenedVialError, match=r"^the volume in the vial 'x' is not a number"):
        vials.open(kcl, "K1", "S1", PUNCTURE, "x")
    with pytest.raises(OpenedVialError, match=r"^cannot draw 21 mL from a vial holding 20 mL$"):
        vials.open(kcl, "K1", "S1", PUNCTURE, "20", drawn_ml="21")
    assert vials.in_use() == []


def test_opened_vial_events_are_append_only(backend, vials, formulary):
    vials.open(formulary.by_ndc_text("55150-1234-1"), "K2401", "SN1", PUNCTURE, "20")
    for statement in ("UPDATE opened_vial_events SET kind = 'x'",
                      "DELETE FROM opened_vial_events"):
        with pytest.raises(DBAPIError, match="append-only"), backend.engine.begin() as c:
            c.execute(text(statement))
    if backend.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), backend.engine.begin() as c:
            c.execute(text("TRUNCATE opened_vial_events"))
    assert len(vials.in_use()) == 1


def test_concurrent_keeps_never_share_an_id(backend, formulary):
    """Eight hoods keep five vials each at once on one record: forty distinct ids."""
    heparin = formulary.by_ndc_text("0409-2720-01")
    hoods, each = 8, 5
    keys: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(hoods)

    def hood(number: int) -> None:
        vials = OpenedVials(backend.engine, lambda: PUNCTURE, BudTable.load())
        try:
            start.wait()
            for _ in range(each):
                keys.append(vials.open(heparin, "H77", None, PUNCTURE, "10",
                                       station_id=f"hood-{number}").key)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=hood, args=(n,)) for n in range(hoods)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(keys, key=lambda k: int(k[3:])) == [f"OV-{n}" for n in range(1, 41)]
    assert {v.station_id for v in OpenedVials(backend.engine, lambda: PUNCTURE,
                                              BudTable.load()).in_use()} == {
        f"hood-{n}" for n in range(hoods)}


def test_a_vial_code_is_never_read_as_a_product():
    code = vial_code("OV-1234")
    assert code == "VIAL:OV-1234"
    for scanned in (code, f"]d1{code}", f"]C0{code}"):
        assert key_from_vial_code(scanned) == "OV-1234"
        with pytest.raises(ParseError):
            parse_scan(scanned, 2026)
    for other in ("0304094888026", "]d2010030409272001172812311 0K1", "P-0001", "VIAL:X-1",
                  "VIAL:OV-0", "OV-12"):
        assert key_from_vial_code(other) is None
    with pytest.raises(OpenedVialError, match=r"^'P-1' is not an opened-vial id"):
        vial_code("P-1")
