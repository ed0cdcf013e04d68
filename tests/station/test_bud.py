"""Beyond-use dates: every table row at its boundary, expiry caps, timezones, errors."""

from __future__ import annotations

import copy
from dataclasses import FrozenInstanceError
from datetime import UTC, date, datetime, time, timedelta, timezone
from itertools import product
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station.core.bud import (
    BeyondUse,
    BudError,
    BudTable,
    CompoundingCategory,
    Sterilization,
    Storage,
)
from station.core.formulary import CompoundedAs, Container

IMMEDIATE = CompoundingCategory.IMMEDIATE_USE
CAT1 = CompoundingCategory.CATEGORY_1
CAT2 = CompoundingCategory.CATEGORY_2
CAT3 = CompoundingCategory.CATEGORY_3
STERILE = Sterilization.ASEPTIC_STERILE_COMPONENTS
NONSTERILE = Sterilization.ASEPTIC_NONSTERILE_COMPONENTS
TERMINAL = Sterilization.TERMINALLY_STERILIZED
ROOM = Storage.ROOM
FRIDGE = Storage.REFRIGERATED
FROZEN = Storage.FROZEN

NEW_YORK = ZoneInfo("America/New_York")
START = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)

TABLE = BudTable.load()

# The USP <797> (2023) limits, written out independently of bud.toml.
# (category, sterilization, sterility tested, storage, limit, start of the rule text)
ROWS: list[tuple[CompoundingCategory, Sterilization, bool, Storage, timedelta, str]] = [
    (CAT1, STERILE, False, ROOM, timedelta(hours=12), "USP <797> Table 12, Category 1"),
    (CAT1, STERILE, False, FRIDGE, timedelta(hours=24), "USP <797> Table 12, Category 1"),
    *[
        (CAT2, sterilization, tested, storage, timedelta(days=days), "USP <797> Table 13")
        for sterilization, tested, limits in [
            (STERILE, False, (4, 10, 45)),
            (NONSTERILE, False, (1, 4, 45)),
            (STERILE, True, (30, 45, 60)),
            (NONSTERILE, True, (30, 45, 60)),
            (TERMINAL, False, (14, 28, 45)),
            (TERMINAL, True, (45, 60, 90)),
        ]
        for storage, days in zip((ROOM, FRIDGE, FROZEN), limits, strict=True)
    ],
    *[
        (CAT3, sterilization, True, storage, timedelta(days=days), "USP <797> Table 14")
        for sterilization, limits in [
            (STERILE, (60, 90, 120)),
            (NONSTERILE, (60, 90, 120)),
            (TERMINAL, (90, 120, 180)),
        ]
        for storage, days in zip((ROOM, FRIDGE, FROZEN), limits, strict=True)
    ],
]


def _words(limit: timedelta, unit: str = "days") -> str:
    count = limit // timedelta(**{unit: 1})
    return f"{count} {unit[:-1]}" if count == 1 else f"{count} {unit}"


def _end_of(day: date, zone: Any = UTC) -> datetime:
    return datetime.combine(day, time.max, tzinfo=zone)


# ---------------------------------------------------------------- the packaged table


def test_packaged_table_loads() -> None:
    table = BudTable.load()
    assert len(table.rows) == 24
    assert table == TABLE


def test_table_and_results_are_frozen() -> None:
    result = TABLE.beyond_use(START, CAT1, ROOM)
    with pytest.raises(FrozenInstanceError):
        result.until = START  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        TABLE.rows = ()  # type: ignore[misc]


# ---------------------------------------------------------------- every row at its boundary


@pytest.mark.parametrize(
    ("category", "sterilization", "tested", "storage", "limit", "source"),
    ROWS,
    ids=[f"{c.value}-{s.value}-{'tested' * t or 'untested'}-{k.value}" for c, s, t, k, *_ in ROWS],
)
def test_every_row_at_its_exact_boundary(category, sterilization, tested, storage, limit, source):
    unit = "hours" if category is CAT1 else "days"  # as USP <797> (and bud.toml) write them
    result = TABLE.beyond_use(
        START, category, storage, sterilization=sterilization, sterility_tested=tested
    )
    assert result.until == START + limit
    assert result.until - START == limit
    assert result.rule.startswith(source)
    assert result.rule.endswith(f": {_words(limit, unit)}")


def test_rule_text_names_the_table_row() -> None:
    result = TABLE.beyond_use(START, CAT2, FRIDGE)
    assert result == BeyondUse(
        datetime(2025, 3, 13, 9, 30, tzinfo=UTC),
        "USP <797> Table 13, Category 2, aseptically processed from sterile starting components "
        "only, not sterility tested, refrigerated: 10 days",
    )


@pytest.mark.parametrize(
    ("sterilization", "tested", "storage"), list(product(Sterilization, (False, True), Storage))
)
def test_immediate_use_is_four_hours_from_the_start_whatever_else(sterilization, tested, storage):
    result = TABLE.beyond_use(
        START, IMMEDIATE, storage, sterilization=sterilization, sterility_tested=tested
    )
    assert result == BeyondUse(
        START + timedelta(hours=4),
        "USP <797> immediate-use CSP: administration begins within 4 hours of the start of "
        "preparation: 4 hours",
    )


@pytest.mark.parametrize(("sterilization", "tested"), list(product(Sterilization, (False, True))))
def test_category_1_does_not_depend_on_sterilization_or_testing(sterilization, tested):
    result = TABLE.beyond_use(
        START, CAT1, FRIDGE, sterilization=sterilization, sterility_tested=tested
    )
    assert result.until == START + timedelta(hours=24)
    assert result.rule == "USP <797> Table 12, Category 1, refrigerated: 24 hours"


def test_table_covers_exactly_the_expected_combinations() -> None:
    expected = {(c, s, t, st) for c, s, t, st, *_ in ROWS}
    expected |= set(product([IMMEDIATE], Sterilization, (False, True), Storage))
    expected |= set(product([CAT1], Sterilization, (False, True), [ROOM, FRIDGE]))
    covered = {key for row in TABLE.rows for key in row.covers()}
    assert covered == expected


# ---------------------------------------------------------------- combinations with no row


@pytest.mark.parametrize(
    ("category", "sterilization", "tested", "storage", "message"),
    [
        (
            CAT1, STERILE, False, FROZEN,
            "USP <797> gives no beyond-use date for Category 1, aseptically processed from "
            "sterile components only, not sterility tested, frozen",
        ),
        (
            CAT1, TERMINAL, True, FROZEN,
            "USP <797> gives no beyond-use date for Category 1, terminally sterilized, "
            "sterility tested, frozen",
        ),
        (
            CAT3, STERILE, False, ROOM,
            "USP <797> gives no beyond-use date for Category 3, aseptically processed from "
            "sterile components only, not sterility tested, at controlled room temperature",
        ),
        (
            CAT3, NONSTERILE, False, FRIDGE,
            "USP <797> gives no beyond-use date for Category 3, aseptically processed with one "
            "or more nonsterile components, not sterility tested, refrigerated",
        ),
        (
            CAT3, TERMINAL, False, FROZEN,
            "USP <797> gives no beyond-use date for Category 3, terminally sterilized, "
            "not sterility tested, frozen",
        ),
    ],
)  # fmt: skip
def test_combination_without_a_row_names_it(category, sterilization, tested, storage, message):
    with pytest.raises(BudError) as raised:
        TABLE.beyond_use(
            START, category, storage, sterilization=sterilization, sterility_tested=tested
        )
    assert str(raised.value) == message


def test_category_3_defaults_are_not_sterility_tested_so_have_no_row() -> None:
    with pytest.raises(BudError, match=r"^USP <797> gives no beyond-use date for Category 3, "):
        TABLE.beyond_use(START, CAT3, FRIDGE)


# ---------------------------------------------------------------- component expiry


def test_component_expiring_before_the_table_limit_caps_the_bud() -> None:
    result = TABLE.beyond_use(START, CAT2, FRIDGE, component_expiries=[date(2025, 3, 10)])
    assert result == BeyondUse(
        _end_of(date(2025, 3, 10)),
        "component expiry 2025-03-10 (end of day) comes before USP <797> Table 13, Category 2, "
        "aseptically processed from sterile starting components only, not sterility tested, "
        "refrigerated: 10 days",
    )


def test_component_expiring_on_the_bud_day_after_the_bud_time_does_not_cap() -> None:
    # The table BUD is 2025-03-13 09:30; the component is usable until that day's end.
    result = TABLE.beyond_use(START, CAT2, FRIDGE, component_expiries=[date(2025, 3, 13)])
    assert result.until == datetime(2025, 3, 13, 9, 30, tzinfo=UTC)
    assert result.rule.startswith("USP <797> Table 13")


def test_component_expiring_the_day_before_the_bud_caps_it() -> None:
    result = TABLE.beyond_use(START, CAT2, FRIDGE, component_expiries=[date(2025, 3, 12)])
    assert result.until == datetime(2025, 3, 12, 23, 59, 59, 999_999, tzinfo=UTC)
    assert result.rule.startswith("component expiry 2025-03-12 (end of day) comes before ")


def test_earliest_of_several_components_wins() -> None:
    expiries = [date(2026, 1, 1), date(2025, 3, 5), date(2025, 3, 8)]
    result = TABLE.beyond_use(START, CAT2, FROZEN, component_expiries=iter(expiries))
    assert result.until == _end_of(date(2025, 3, 5))


def test_component_expiring_the_day_preparation_starts_is_usable_that_day() -> None:
    result = TABLE.beyond_use(START, CAT1, FRIDGE, component_expiries=[date(2025, 3, 3)])
    assert result.until == _end_of(date(2025, 3, 3))


def test_component_expiry_is_the_end_of_the_day_in_the_start_timezone() -> None:
    started = datetime(2025, 6, 2, 8, 0, tzinfo=NEW_YORK)
    result = TABLE.beyond_use(started, CAT2, ROOM, component_expiries=[date(2025, 6, 3)])
    assert result.until == datetime(2025, 6, 3, 23, 59, 59, 999_999, tzinfo=NEW_YORK)
    assert result.until.utcoffset() == timedelta(hours=-4)


def test_component_already_expired_is_refused() -> None:
    with pytest.raises(BudError) as raised:
        TABLE.beyond_use(START, CAT1, ROOM, component_expiries=[date(2025, 3, 2)])
    assert str(raised.value) == (
        "component expired 2025-03-02, before 2025-03-03T09:30:00+00:00; do not use it"
    )


def test_component_expiry_as_datetime_is_refused() -> None:
    with pytest.raises(BudError) as raised:
        TABLE.beyond_use(
            START, CAT1, ROOM, component_expiries=[datetime(2025, 4, 1, 12, 0, tzinfo=UTC)]
        )
    assert str(raised.value) == (
        "component expiry 2025-04-01T12:00:00+00:00 must be a date (usable through that day), "
        "not a datetime"
    )


# ---------------------------------------------------------------- timezones


def test_naive_start_is_refused() -> None:
    with pytest.raises(BudError) as raised:
        TABLE.beyond_use(datetime(2025, 3, 3, 9, 30), CAT1, ROOM)  # noqa: DTZ001
    assert str(raised.value) == (
        "started_at 2025-03-03T09:30:00 has no timezone; pass a timezone-aware datetime"
    )


def test_result_keeps_the_start_timezone() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    started = datetime(2025, 3, 3, 22, 0, tzinfo=ist)
    result = TABLE.beyond_use(started, CAT1, ROOM)
    assert result.until.tzinfo is ist
    assert result.until.isoformat() == "2025-03-04T10:00:00+05:30"


def test_limit_is_elapsed_time_across_spring_forward() -> None:
    started = datetime(2025, 3, 8, 20, 0, tzinfo=NEW_YORK)  # EST; clocks go forward at 02:00
    result = TABLE.beyond_use(started, CAT1, ROOM)
    assert result.until.isoformat() == "2025-03-09T09:00:00-04:00"
    assert result.until.astimezone(UTC) - started.astimezone(UTC) == timedelta(hours=12)


def test_limit_is_elapsed_time_across_fall_back() -> None:
    started = datetime(2025, 11, 1, 12, 0, tzinfo=NEW_YORK)  # EDT; clocks go back at 02:00
    result = TABLE.beyond_use(started, CAT1, FRIDGE)
    assert result.until.isoformat() == "2025-11-02T11:00:00-05:00"
    assert result.until.astimezone(UTC) - started.astimezone(UTC) == timedelta(hours=24)


def test_same_instant_in_two_zones_gives_the_same_bud() -> None:
    in_utc = TABLE.beyond_use(START, CAT2, ROOM)
    in_new_york = TABLE.beyond_use(START.astimezone(NEW_YORK), CAT2, ROOM)
    assert in_utc.until == in_new_york.until
    assert in_new_york.until.tzinfo is NEW_YORK


# ---------------------------------------------------------------- opened containers

PUNCTURE = datetime(2025, 3, 3, 14, 15, tzinfo=UTC)


def test_single_dose_vial_keeps_12_hours() -> None:
    assert TABLE.opened_container_until(PUNCTURE, multi_dose=False) == BeyondUse(
        PUNCTURE + timedelta(hours=12),
        "USP <797> single-dose container entered only in ISO Class 5 air: up to 12 hours after "
        "first puncture: 12 hours",
    )


def test_single_dose_vial_entered_outside_iso_class_5_keeps_1_hour() -> None:
    result = TABLE.opened_container_until(PUNCTURE, container=Container.SINGLE_DOSE, iso5=False)
    assert result.until == PUNCTURE + timedelta(hours=1)
    assert "worse than ISO Class 5 air" in result.rule


def test_pharmacy_bulk_package_keeps_its_labeled_time_and_only_in_iso_class_5() -> None:
    default = TABLE.opened_container_until(PUNCTURE, container=Container.PHARMACY_BULK_PACKAGE)
    assert default.until == PUNCTURE + timedelta(hours=4)
    assert default.rule.startswith("USP <797> pharmacy bulk package")
    labeled = TABLE.opened_container_until(PUNCTURE, container=Container.PHARMACY_BULK_PACKAGE,
                                           manufacturer_limit=timedelta(hours=8))
    assert labeled.until == PUNCTURE + timedelta(hours=8)
    assert labeled.rule.startswith("manufacturer's labeling (instead of the USP <797> default")
    with pytest.raises(BudError, match=r"^a pharmacy bulk package may be entered only in ISO"):
        TABLE.opened_container_until(PUNCTURE, container=Container.PHARMACY_BULK_PACKAGE,
                                     iso5=False)


def test_a_reconstituted_solution_keeps_no_longer_than_its_labeling() -> None:
    result = TABLE.opened_container_until(PUNCTURE, container=Container.MULTI_DOSE,
                                          reconstituted_limit=timedelta(hours=24))
    assert result == BeyondUse(PUNCTURE + timedelta(hours=24),
                               "manufacturer's labeling for the reconstituted solution: 1 day")
    longer = TABLE.opened_container_until(PUNCTURE, container=Container.SINGLE_DOSE,
                                          reconstituted_limit=timedelta(days=7))
    assert longer.until == PUNCTURE + timedelta(hours=12)


def test_a_preparation_is_capped_by_an_opened_vial_it_was_drawn_from() -> None:
    terms = CompoundedAs(CompoundingCategory.CATEGORY_2, Storage.REFRIGERATED)
    vial = BeyondUse(PUNCTURE + timedelta(hours=3), "vial rule")
    bud = TABLE.preparation_until(PUNCTURE, terms, component_expiries=[date(2026, 1, 1)],
                                  opened_vials=[vial])
    assert bud == BeyondUse(PUNCTURE + timedelta(hours=3),
                            "an opened vial it was drawn from keeps only until then (vial rule)")
    unopened = TABLE.preparation_until(PUNCTURE, terms, component_expiries=[date(2026, 1, 1)])
    assert unopened.until == PUNCTURE + timedelta(days=10)


def test_single_dose_vial_takes_a_shorter_manufacturer_limit() -> None:
    result = TABLE.opened_container_until(
        PUNCTURE, multi_dose=False, manufacturer_limit=timedelta(hours=6)
    )
    assert result == BeyondUse(PUNCTURE + timedelta(hours=6), "manufacturer's labeling: 6 hours")


def test_single_dose_vial_ignores_a_longer_manufacturer_limit() -> None:
    result = TABLE.opened_container_until(
        PUNCTURE, multi_dose=False, manufacturer_limit=timedelta(days=2)
    )
    assert result.until == PUNCTURE + timedelta(hours=12)
    assert result.rule.startswith("USP <797> single-dose container")


def test_opened_ampule_must_not_be_kept() -> None:
    assert TABLE.opened_container_until(PUNCTURE, multi_dose=False, ampule=True) == BeyondUse(
        PUNCTURE, "USP <797> opened single-dose ampule, not to be stored: 0 hours"
    )


def test_multi_dose_container_keeps_28_days() -> None:
    assert TABLE.opened_container_until(PUNCTURE, multi_dose=True) == BeyondUse(
        PUNCTURE + timedelta(days=28),
        "USP <797> multiple-dose container: 28 days after first puncture unless the "
        "manufacturer's labeling says otherwise: 28 days",
    )


@pytest.mark.parametrize(
    ("limit", "words"),
    [(timedelta(days=14), "14 days"), (timedelta(days=42), "42 days"),
     (timedelta(hours=36), "36 hours"), (timedelta(days=1), "1 day")],
)  # fmt: skip
def test_multi_dose_container_follows_the_manufacturer_either_way(limit, words):
    result = TABLE.opened_container_until(PUNCTURE, multi_dose=True, manufacturer_limit=limit)
    assert result.until == PUNCTURE + limit
    assert result.rule == (
        "manufacturer's labeling (instead of the USP <797> default 28 days): " + words
    )


def test_manufacturer_limit_in_minutes_is_described_in_minutes() -> None:
    result = TABLE.opened_container_until(
        PUNCTURE, multi_dose=False, manufacturer_limit=timedelta(minutes=90)
    )
    assert result.rule == "manufacturer's labeling: 90 minutes"


def test_opened_container_is_capped_by_its_expiry() -> None:
    result = TABLE.opened_container_until(PUNCTURE, multi_dose=True, expiry=date(2025, 3, 20))
    assert result.until == _end_of(date(2025, 3, 20))
    assert result.rule == (
        "container expiry 2025-03-20 (end of day) comes before USP <797> multiple-dose "
        "container: 28 days after first puncture unless the manufacturer's labeling says "
        "otherwise: 28 days"
    )


def test_opened_container_rules_count_elapsed_time() -> None:
    punctured = datetime(2025, 11, 1, 20, 0, tzinfo=NEW_YORK)
    result = TABLE.opened_container_until(punctured, multi_dose=False)
    assert result.until.isoformat() == "2025-11-02T07:00:00-05:00"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"multi_dose": True, "ampule": True},
            "a container cannot be both an ampule and multiple-dose",
        ),
        (
            {"multi_dose": True, "manufacturer_limit": timedelta(hours=-1)},
            "manufacturer's limit -1 day, 23:00:00 after first puncture is negative",
        ),
        (
            {"multi_dose": False, "expiry": date(2025, 3, 1)},
            "container expired 2025-03-01, before 2025-03-03T14:15:00+00:00; do not use it",
        ),
    ],
)
def test_opened_container_errors(kwargs, message):
    with pytest.raises(BudError) as raised:
        TABLE.opened_container_until(PUNCTURE, **kwargs)
    assert str(raised.value) == message


def test_opened_container_naive_puncture_is_refused() -> None:
    with pytest.raises(BudError) as raised:
        TABLE.opened_container_until(datetime(2025, 3, 3, 14, 15), multi_dose=True)  # noqa: DTZ001
    assert str(raised.value) == (
        "first_puncture 2025-03-03T14:15:00 has no timezone; pass a timezone-aware datetime"
    )


# ---------------------------------------------------------------- the table as data

MINIMAL: dict[str, Any] = {
    "bud": [
        {"category": "category_1", "storage": "room", "hours": 12, "citation": "room"},
        {"category": "category_1", "storage": "refrigerated", "hours": 24, "citation": "fridge"},
    ],
    "opened": [
        {"container": "single_dose_vial", "hours": 12, "citation": "vial"},
        {"container": "single_dose_ampule", "hours": 0, "citation": "ampule"},
        {"container": "multi_dose", "days": 28, "citation": "multi"},
        {"container": "single_dose_vial_outside_iso5", "hours": 1, "citation": "dirty air"},
        {"container": "pharmacy_bulk_package", "hours": 4, "citation": "bulk"},
    ],
}


def _with(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    data.update(changes)
    return data


def _with_row(**fields: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    data["bud"][0].update(fields)
    data["bud"][0] = {k: v for k, v in data["bud"][0].items() if v is not None}
    return data


def _with_opened(**fields: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    data["opened"][0].update(fields)
    data["opened"][0] = {k: v for k, v in data["opened"][0].items() if v is not None}
    return data


def test_from_mapping_builds_a_working_table() -> None:
    table = BudTable.from_mapping(MINIMAL)
    assert table.beyond_use(START, CAT1, ROOM) == BeyondUse(
        START + timedelta(hours=12), "room: 12 hours"
    )
    with pytest.raises(BudError, match="no beyond-use date for Category 2"):
        table.beyond_use(START, CAT2, ROOM)


def test_a_list_of_storages_and_wildcards_cover_every_named_combination() -> None:
    table = BudTable.from_mapping(
        _with(bud=[{"category": "category_2", "storage": ["room", "frozen"], "days": 3,
                    "citation": "test"}])
    )  # fmt: skip
    for sterilization, tested in product(Sterilization, (False, True)):
        result = table.beyond_use(
            START, CAT2, FROZEN, sterilization=sterilization, sterility_tested=tested
        )
        assert result.until == START + timedelta(days=3)
    with pytest.raises(BudError):
        table.beyond_use(START, CAT2, FRIDGE)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_with(extra=[]), "the BUD table has unknown section(s) extra"),
        (_with(bud=[]), "the BUD table has no [[bud]] rows"),
        (_with(bud=None), "the BUD table has no [[bud]] rows"),
        (_with(bud=["row"]), "[[bud]] row 1 is not a table"),
        (_with_row(colour="red"), "[[bud]] row 1: unknown field(s) colour"),
        (_with_row(category=None), "[[bud]] row 1: missing field category"),
        (
            _with_row(category="category_4"),
            "[[bud]] row 1: category 'category_4' is not one of immediate_use, category_1, "
            "category_2, category_3",
        ),
        (
            _with_row(storage="cold"),
            "[[bud]] row 1: storage 'cold' is not one of room, refrigerated, frozen",
        ),
        (
            _with_row(storage=["room", "cool"]),
            "[[bud]] row 1: storage 'cool' is not one of room, refrigerated, frozen",
        ),
        (
            _with_row(storage=[]),
            "[[bud]] row 1: storage is an empty list; leave it out to mean any",
        ),
        (
            _with_row(sterilization="filtered"),
            "[[bud]] row 1: sterilization 'filtered' is not one of aseptic_sterile_components, "
            "aseptic_nonsterile_components, terminally_sterilized",
        ),
        (
            _with_row(sterility_tested="yes"),
            "[[bud]] row 1: sterility_tested must be true or false, not 'yes'",
        ),
        (_with_row(days=1), "[[bud]] row 1: give exactly one of hours or days"),
        (_with_row(hours=None), "[[bud]] row 1: give exactly one of hours or days"),
        (_with_row(hours=0), "[[bud]] row 1: hours must be a positive whole number, not 0"),
        (_with_row(hours=-3), "[[bud]] row 1: hours must be a positive whole number, not -3"),
        (_with_row(hours=1.5), "[[bud]] row 1: hours must be a positive whole number, not 1.5"),
        (_with_row(hours=True), "[[bud]] row 1: hours must be a positive whole number, not True"),
        (_with_row(citation=None), "[[bud]] row 1: missing citation"),
        (_with_row(citation="  "), "[[bud]] row 1: missing citation"),
        (
            _with(bud=[*MINIMAL["bud"], {"category": "category_1", "sterility_tested": True,
                                         "hours": 6, "citation": "dup"}]),
            "[[bud]] rows 1 and 3 both cover Category 1, aseptically processed from sterile "
            "components only, sterility tested, at controlled room temperature",
        ),
        (_with(opened=None), "the BUD table has no [[opened]] rows"),
        (_with(opened=[7]), "[[opened]] row 1 is not a table"),
        (_with_opened(size="big"), "[[opened]] row 1: unknown field(s) size"),
        (
            _with_opened(container="bag"),
            "[[opened]] row 1: container 'bag' is not one of single_dose_vial, "
            "single_dose_vial_outside_iso5, single_dose_ampule, multi_dose, "
            "pharmacy_bulk_package",
        ),
        (
            _with_opened(container="multi_dose"),
            "[[opened]] row 3: container multi_dose appears twice",
        ),
        (
            _with(opened=MINIMAL["opened"][:1]),
            "the BUD table has no [[opened]] row for single_dose_vial_outside_iso5, "
            "single_dose_ampule, multi_dose, pharmacy_bulk_package",
        ),
        (
            _with_opened(hours=-1),
            "[[opened]] row 1: hours must be a non-negative whole number, not -1",
        ),
        (_with_opened(citation=None), "[[opened]] row 1: missing citation"),
    ],
)  # fmt: skip
def test_malformed_table_is_refused_with_a_precise_message(data, message):
    with pytest.raises(BudError) as raised:
        BudTable.from_mapping(data)
    assert str(raised.value) == message


# ---------------------------------------------------------------- properties

VALID_KEYS = sorted(
    {key for row in TABLE.rows for key in row.covers()},
    key=lambda k: (k[0].value, k[1].value, k[2], k[3].value),
)
ZONES = [UTC, NEW_YORK, ZoneInfo("Europe/Berlin"), ZoneInfo("Australia/Lord_Howe"),
         timezone(timedelta(hours=5, minutes=30))]  # fmt: skip


@given(
    key=st.sampled_from(VALID_KEYS),
    started_at=st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - bounds are naive by hypothesis' rules
        max_value=datetime(2090, 1, 1),  # noqa: DTZ001
        timezones=st.sampled_from(ZONES),
        allow_imaginary=False,
    ),
    offsets=st.lists(st.integers(min_value=0, max_value=400), max_size=5),
)
def test_bud_is_never_before_start_nor_after_earliest_component_expiry(key, started_at, offsets):
    category, sterilization, tested, storage = key
    first_day = started_at.date()
    expiries = [first_day + timedelta(days=n) for n in offsets]
    result = TABLE.beyond_use(
        started_at,
        category,
        storage,
        sterilization=sterilization,
        sterility_tested=tested,
        component_expiries=expiries,
    )
    until = result.until.astimezone(UTC)
    assert until >= started_at.astimezone(UTC)
    uncapped = TABLE.beyond_use(
        started_at, category, storage, sterilization=sterilization, sterility_tested=tested
    )
    assert until <= uncapped.until.astimezone(UTC)
    if expiries:
        assert until <= _end_of(min(expiries), started_at.tzinfo).astimezone(UTC)
    assert result.until.tzinfo is started_at.tzinfo
