"""The label's content: every field, the BUD at category and storage limits, warnings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from station.config.catalog_files import load_formulary, load_worklist
from station.core.bud import BudError, BudTable, CompoundingCategory, Sterilization
from station.core.formulary import Storage
from station.core.identifiers import Ndc
from station.core.label import (
    HAZARDOUS_WARNING,
    HIGH_ALERT_WARNING,
    LabelContent,
    LabelError,
    final_concentration,
    format_time,
    label_for,
    vial_label_for,
)
from station.core.quantities import Quantity, Unit

EST = dt.timezone(dt.timedelta(hours=-5), "EST")
STARTED = dt.datetime(2026, 11, 26, 9, 0, tzinfo=EST)
FORMULARY = load_formulary()
WORKLIST = load_worklist()
TABLE = BudTable.load()


def label(order_id: str = "RX-260101", **changes) -> LabelContent:
    arguments = {
        "preparation_id": "P-0001",
        "compounded_at": STARTED,
        "category": CompoundingCategory.CATEGORY_1,
        "storage": Storage.ROOM,
        "preparer_initials": "jd",
        "bud_table": TABLE,
    }
    arguments.update(changes)
    return label_for(WORKLIST.get(order_id), FORMULARY, **arguments)


def test_sample_order_label_has_every_field():
    content = label()
    assert content.preparation_id == "P-0001"
    assert content.barcode == "P-0001"
    assert content.order_id == "RX-260101"
    assert content.patient_name == "Okafor, Grace"
    assert content.patient_id == "MRN-0041187"
    assert content.location == "4W/412/A"
    assert content.date_of_birth == dt.date(1958, 3, 14)
    (drug,) = content.drugs
    assert drug.name == "Vancomycin"
    assert drug.text == "Vancomycin 1,250 mg (25 mL)"
    assert drug.volume_ml == Decimal(25)
    assert drug.concentration_text == "4.55 mg/mL"
    assert content.base == "Sodium Chloride 0.9% 250 mL"
    assert content.total_volume_text == "275 mL"
    assert content.concentration_text == "4.55 mg/mL"
    assert content.route == "IV"
    assert content.rate == "over 90 min"
    assert content.prescriber == "Dr. Maria Alvarez"
    assert content.compounded_at == STARTED
    assert content.beyond_use == dt.datetime(2026, 11, 26, 21, 0, tzinfo=EST)
    assert content.bud_rule == (
        "USP <797> Table 12, Category 1, controlled room temperature: 12 hours"
    )
    assert content.category_text == "Category 1"
    assert content.storage_instruction == "Store at controlled room temperature 20-25 °C"
    assert content.preparer_initials == "JD"
    assert content.checker_initials == ""
    assert content.warnings == ()
    assert not content.hazardous
    assert format_time(content.beyond_use) == "2026-11-26 21:00 EST"


def test_syringe_order_has_no_base():
    content = label("RX-260116")
    assert content.base is None
    assert content.drugs[0].text == "Fluorouracil (pharmacy bulk package) 760 mg (15.2 mL)"
    assert content.concentration_text == "50 mg/mL"


def test_two_drugs_each_get_a_line_and_a_concentration():
    content = label("RX-260110")
    assert [d.text for d in content.drugs] == [
        "Potassium Chloride Concentrate 20 mEq (10 mL)",
        "Magnesium Sulfate 50% 2 g (4 mL)",
    ]
    assert content.concentration_text == (
        "Potassium Chloride Concentrate 0.0197 mEq/mL; Magnesium Sulfate 50% 1.97 mg/mL"
    )
    assert content.total_volume_text == "1,014 mL"


@pytest.mark.parametrize(
    ("category", "storage", "sterilization", "tested", "limit"),
    [
        (CompoundingCategory.IMMEDIATE_USE, Storage.ROOM, None, False, dt.timedelta(hours=4)),
        (CompoundingCategory.CATEGORY_1, Storage.ROOM, None, False, dt.timedelta(hours=12)),
        (CompoundingCategory.CATEGORY_1, Storage.REFRIGERATED, None, False,
         dt.timedelta(hours=24)),
        (CompoundingCategory.CATEGORY_2, Storage.ROOM, None, False, dt.timedelta(days=4)),
        (CompoundingCategory.CATEGORY_2, Storage.REFRIGERATED, None, False,
         dt.timedelta(days=10)),
        (CompoundingCategory.CATEGORY_2, Storage.FROZEN, None, False, dt.timedelta(days=45)),
        (CompoundingCategory.CATEGORY_2, Storage.ROOM,
         Sterilization.ASEPTIC_NONSTERILE_COMPONENTS, False, dt.timedelta(days=1)),
        (CompoundingCategory.CATEGORY_2, Storage.REFRIGERATED, None, True,
         dt.timedelta(days=45)),
        (CompoundingCategory.CATEGORY_3, Storage.REFRIGERATED, None, True,
         dt.timedelta(days=90)),
    ],
)
def test_bud_follows_the_category_and_storage(category, storage, sterilization, tested, limit):
    extra = {} if sterilization is None else {"sterilization": sterilization}
    content = label(category=category, storage=storage, sterility_tested=tested, **extra)
    assert content.beyond_use - content.compounded_at == limit
    assert content.bud_rule.startswith("USP <797>")


def test_bud_is_counted_in_elapsed_time_across_a_utc_offset_change():
    started = dt.datetime(2026, 11, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
    content = label(compounded_at=started)
    assert content.beyond_use - started == dt.timedelta(hours=12)


def test_category_1_has_no_frozen_bud():
    with pytest.raises(BudError, match="no beyond-use date"):
        label(storage=Storage.FROZEN)


def test_component_expiry_caps_the_bud_at_the_end_of_its_day():
    content = label(
        category=CompoundingCategory.CATEGORY_2,
        storage=Storage.REFRIGERATED,
        component_expiries=(dt.date(2026, 12, 31), dt.date(2026, 11, 28)),
    )
    assert content.beyond_use == dt.datetime(2026, 11, 28, 23, 59, 59, 999999, tzinfo=EST)
    assert content.bud_rule.startswith("component expiry 2026-11-28 (end of day) comes before")


def test_component_expiring_after_the_limit_changes_nothing():
    content = label(component_expiries=(dt.date(2026, 11, 27),))
    assert content.beyond_use == dt.datetime(2026, 11, 26, 21, 0, tzinfo=EST)
    assert "component" not in content.bud_rule


def test_expired_component_gives_no_label():
    with pytest.raises(BudError, match="expired"):
        label(component_expiries=(dt.date(2026, 11, 25),))


def test_naive_compounding_time_is_refused():
    with pytest.raises(BudError, match="no timezone"):
        label(compounded_at=dt.datetime(2026, 11, 26, 9, 0))  # noqa: DTZ001


def test_hazardous_warning_only_when_an_ingredient_is_hazardous():
    hazardous = label("RX-260113")
    assert hazardous.hazardous
    assert hazardous.warnings[0] == HAZARDOUS_WARNING
    assert HAZARDOUS_WARNING in hazardous.texts()
    plain = label("RX-260101")
    assert not plain.hazardous
    assert HAZARDOUS_WARNING not in plain.texts()
    heparin = label("RX-260108")  # high-alert, not hazardous
    assert heparin.warnings == (HIGH_ALERT_WARNING,)


@pytest.mark.parametrize(("preparation_id", "initials", "message"), [
    ("  ", "JD", "preparation id"),
    ("P-1", " ", "initials"),
])
def test_label_needs_an_id_and_initials(preparation_id, initials, message):
    with pytest.raises(LabelError, match=message):
        label(preparation_id=preparation_id, preparer_initials=initials)


@pytest.mark.parametrize(("dose", "volume", "expected"), [
    ("2 g", "116", "17.2 mg/mL"),
    ("2 g", "1", "2 g/mL"),
    ("96 mg", "148", "0.649 mg/mL"),
    ("4 mg", "100", "40 mcg/mL"),
    ("25000 units", "255", "98 units/mL"),
    ("100 units", "101", "0.99 units/mL"),
])
def test_final_concentration_units(dose, volume, expected):
    assert f"{final_concentration(Quantity.parse(dose), Decimal(volume))}/mL" == expected


def test_vial_label_shows_puncture_bud_and_remaining_volume():
    product = FORMULARY.by_ndc(Ndc.parse("0069-3032-20"))
    bud = TABLE.opened_container_until(STARTED, multi_dose=False)
    vial = vial_label_for(product, "AB123", STARTED, Decimal("2.5"), bud, initials="jd")
    assert vial.product_name == "Doxorubicin HCl"
    assert vial.lot == "AB123"
    assert vial.punctured_at == STARTED
    assert vial.beyond_use == STARTED + dt.timedelta(hours=12)
    assert vial.remaining_text == "2.5 mL"
    assert vial.storage_instruction.startswith("Refrigerate")
    assert vial.warnings[0] == HAZARDOUS_WARNING
    assert vial.initials == "JD"
    assert "USP <797> single-dose" in vial.bud_rule


def test_vial_label_refuses_more_than_the_vial_holds():
    product = FORMULARY.by_ndc(Ndc.parse("0069-3032-20"))
    bud = TABLE.opened_container_until(STARTED, multi_dose=False)
    with pytest.raises(LabelError, match="more than the container holds"):
        vial_label_for(product, "AB123", STARTED, Decimal(26), bud)


def test_quantity_unit_is_kept_for_activity():
    assert final_concentration(Quantity(Decimal(1), Unit.MILLION_UNITS), Decimal(10)).unit is (
        Unit.UNIT
    )
