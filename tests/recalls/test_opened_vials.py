"""Opened vials on both backends: beyond-use times, drawing down, refusing an expired vial."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from station.core.bud import BudTable
from station.core.formulary import Formulary
from station.core.identifiers import Ndc
from station.core.opened_vials import OpenedVialError, check
from station.records.opened_vials import OpenedVials, vial_key
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
    assert vial.beyond_use == PUNCTURE + dt.timedelta(hours=12)
    assert vial.rule.startswith("USP <797> single-dose container entered only in ISO Class 5")
    assert check(vial, PUNCTURE + dt.timedelta(hours=12)) is None
    assert check(vial, PUNCTURE + dt.timedelta(hours=12) + SECOND) == (
        "opened vial expired at 2026-11-26T21:30-06:00: discard it (Potassium Chloride "
        "(NDC 55150-1234-1) lot K2401 serial SN1; USP <797> single-dose container entered only "
        "in ISO Class 5 air: up to 12 hours after first puncture: 12 hours)")


def test_a_multiple_dose_vial_keeps_28_days(vials, formulary):
    heparin = formulary.by_ndc_text("0409-2720-01")  # multi_dose = true
    vial = vials.open(heparin, "H77", "SN9", PUNCTURE, "10")
    assert vial.multi_dose
    assert vial.beyond_use == PUNCTURE + dt.timedelta(days=28)
    assert check(vial, PUNCTURE + dt.timedelta(days=28)) is None
    assert check(vial, PUNCTURE + dt.timedelta(days=28) + SECOND).startswith(
        "opened vial expired at 2026-12-24T09:30-06:00: discard it")


def test_the_manufacturer_limit_replaces_28_days_and_the_expiry_caps_it(vials, formulary):
    heparin = formulary.by_ndc_text("0409-2720-01")
    vial = vials.open(heparin, "H77", "SN10", PUNCTURE, "10",
                      manufacturer_limit=dt.timedelta(days=42))
    assert vial.beyond_use == PUNCTURE + dt.timedelta(days=42)
    assert vial.rule.startswith("manufacturer's labeling")
    capped = vials.open(heparin, "H77", "SN11", PUNCTURE, "10", expiry=dt.date(2026, 12, 1))
    assert capped.beyond_use == dt.datetime(2026, 12, 1, 23, 59, 59, 999999, tzinfo=SITE)


def test_a_vial_is_found_again_by_lot_and_serial_in_any_ndc_shape(vials, formulary):
    heparin = formulary.by_ndc_text("0409-2720-01")
    opened = vials.open(heparin, "H77", "SN9", PUNCTURE, "10")
    found = vials.find(Ndc.parse("00409-2720-01"), "H77", "SN9")
    assert found == opened
    assert vials.find(heparin.ndc, "H77", "SN8") is None
    assert vials.find(heparin.ndc, "H78", "SN9") is None
    assert opened.key == vial_key(Ndc.parse("000409-2720-01"), "H77", "SN9")
    with pytest.raises(OpenedVialError, match=r"^vial Heparin Sodium \(NDC 0409-2720-01\) lot "
                       r"H77 serial SN9 was already opened at 2026-11-26T09:30-06:00$"):
        vials.open(heparin, "H77", "SN9", PUNCTURE, "10")


def test_drawing_down_the_volume(vials, formulary):
    heparin = formulary.by_ndc_text("0409-2720-01")
    vial = vials.open(heparin, "H77", "SN9", PUNCTURE, "10")
    after = vials.draw(vial.key, "2.5", at=PUNCTURE + dt.timedelta(hours=1))
    assert after.remaining_ml == Decimal("7.5")
    vials.draw(vial.key, Decimal("7.0"), at=PUNCTURE + dt.timedelta(days=2))
    assert vials.get(vial.key).remaining_ml == Decimal("0.5")
    with pytest.raises(OpenedVialError, match=r"^vial Heparin Sodium \(NDC 0409-2720-01\) lot "
                       r"H77 serial SN9 has 0.5 mL left; cannot draw 1 mL$"):
        vials.draw(vial.key, "1", at=PUNCTURE + dt.timedelta(days=2))
    with pytest.raises(OpenedVialError, match=r"^the volume drawn must be greater than zero"):
        vials.draw(vial.key, "0")
    vials.draw(vial.key, "0.5", at=PUNCTURE + dt.timedelta(days=3))
    empty = vials.get(vial.key)
    assert check(empty, PUNCTURE + dt.timedelta(days=3)) == (
        "opened vial Heparin Sodium (NDC 0409-2720-01) lot H77 serial SN9 is empty: discard it")


def test_an_expired_vial_is_refused_and_nothing_is_drawn(vials, formulary):
    kcl = formulary.by_ndc_text("55150-1234-1")
    vial = vials.open(kcl, "K2401", "SN1", PUNCTURE, "20")
    late = PUNCTURE + dt.timedelta(hours=12, minutes=1)
    with pytest.raises(OpenedVialError, match=r"^opened vial expired at "
                       r"2026-11-26T21:30-06:00: discard it \("):
        vials.draw(vial.key, "5", at=late)
    assert vials.get(vial.key).remaining_ml == Decimal("20")
    discarded = vials.discard(vial.key, "expired", at=late)
    assert check(discarded, late).startswith("opened vial Potassium Chloride (NDC 55150-1234-1) "
                                             "lot K2401 serial SN1 was discarded at")
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
