"""Exact quantities: units, conversions, concentrations, tolerances, masses; no floats."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station.core.errors import InvalidFormat
from station.core.quantities import (
    Concentration,
    Dimension,
    Mass,
    Quantity,
    SpecificGravity,
    Tolerance,
    Unit,
    parse_decimal,
)

D = Decimal


# ---------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("g", Unit.G),
        ("G", Unit.G),
        ("gram", Unit.G),
        ("grams", Unit.G),
        ("mg", Unit.MG),
        ("MG", Unit.MG),
        ("mcg", Unit.MCG),
        ("µg", Unit.MCG),  # micro sign U+00B5
        ("μg", Unit.MCG),  # Greek mu U+03BC
        ("ug", Unit.MCG),
        ("L", Unit.L),
        ("l", Unit.L),
        ("mL", Unit.ML),
        ("ml", Unit.ML),
        ("ML", Unit.ML),
        ("unit", Unit.UNIT),
        ("Units", Unit.UNIT),
        ("u", Unit.UNIT),
        ("USP units", Unit.UNIT),
        ("million units", Unit.MILLION_UNITS),
        ("Million Units", Unit.MILLION_UNITS),
        ("mEq", Unit.MEQ),
        ("meq", Unit.MEQ),
        ("mmol", Unit.MMOL),
        (" mg ", Unit.MG),
    ],
)
def test_unit_spellings(text, unit):
    assert Unit.parse(text) is unit


@pytest.mark.parametrize("text", ["IU", "kg", "", "m g", "mg/mL", "units/kg"])
def test_unknown_unit(text):
    with pytest.raises(InvalidFormat) as raised:
        Unit.parse(text)
    assert str(raised.value) == (
        f"unknown unit {text!r}: expected one of g, mg, mcg, L, mL, units, million units, mEq, mmol"
    )


@pytest.mark.parametrize(
    ("unit", "dimension", "factor"),
    [
        (Unit.G, Dimension.MASS, D(1000)),
        (Unit.MG, Dimension.MASS, D(1)),
        (Unit.MCG, Dimension.MASS, D("0.001")),
        (Unit.L, Dimension.VOLUME, D(1000)),
        (Unit.ML, Dimension.VOLUME, D(1)),
        (Unit.UNIT, Dimension.ACTIVITY, D(1)),
        (Unit.MILLION_UNITS, Dimension.ACTIVITY, D(1_000_000)),
        (Unit.MEQ, Dimension.EQUIVALENTS, D(1)),
        (Unit.MMOL, Dimension.AMOUNT, D(1)),
    ],
)
def test_every_unit_has_a_dimension_and_an_exact_factor(unit, dimension, factor):
    assert unit.dimension is dimension
    assert unit.factor == factor
    assert isinstance(unit.factor, Decimal)


# ---------------------------------------------------------------- quantity


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("2 g", D(2), Unit.G),
        ("500mg", D(500), Unit.MG),
        ("5,000 units", D(5000), Unit.UNIT),
        ("1,234,567.5 units", D("1234567.5"), Unit.UNIT),
        ("1.5 million units", D("1.5"), Unit.MILLION_UNITS),
        (".5 mg", D("0.5"), Unit.MG),
        ("  20 mEq  ", D(20), Unit.MEQ),
        ("250 µg", D(250), Unit.MCG),
        ("0.25 mg", D("0.25"), Unit.MG),
    ],
)
def test_quantity_parse(text, value, unit):
    quantity = Quantity.parse(text)
    assert quantity == Quantity(value, unit)
    assert isinstance(quantity.value, Decimal)


@pytest.mark.parametrize("text", ["mg", "5", "", "five mg", "5 mg/mL", "-5 mg", "5 5 mg"])
def test_quantity_parse_needs_number_and_unit(text):
    with pytest.raises(InvalidFormat) as raised:
        Quantity.parse(text)
    assert str(raised.value) == f"quantity {text!r} is not '<number> <unit>', e.g. '500 mg'"


def test_quantity_parse_unknown_unit():
    with pytest.raises(InvalidFormat) as raised:
        Quantity.parse("5 kg")
    assert str(raised.value) == (
        "unknown unit 'kg': expected one of g, mg, mcg, L, mL, units, million units, mEq, mmol"
    )


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("0,5 mg", "0,5"),  # a decimal comma must not become 5 mg
        ("1,5 mg", "1,5"),  # ... nor 15 mg
        ("12,34 mg", "12,34"),
        ("1,2,3 mg", "1,2,3"),
        ("5,00 mg", "5,00"),
        ("1,0000 units", "1,0000"),
    ],
)
def test_quantity_parse_refuses_a_comma_that_is_not_a_thousands_separator(text, number):
    with pytest.raises(InvalidFormat) as raised:
        Quantity.parse(text)
    assert str(raised.value) == (
        f"number {number!r}: a comma may only separate thousands (e.g. '5,000'); write "
        "decimals with a point (e.g. '0.5')"
    )


@pytest.mark.parametrize(
    ("quantity", "unit", "expected"),
    [
        ("2 g", Unit.MG, D(2000)),
        ("1 g", Unit.MCG, D(1_000_000)),
        ("500 mcg", Unit.MG, D("0.5")),
        ("500 mcg", Unit.G, D("0.0005")),
        ("0.25 mg", Unit.MCG, D(250)),
        ("1250 mg", Unit.G, D("1.25")),
        ("1.5 million units", Unit.UNIT, D(1_500_000)),
        ("2,500,000 units", Unit.MILLION_UNITS, D("2.5")),
        ("250 mL", Unit.L, D("0.25")),
        ("1.5 L", Unit.ML, D(1500)),
        ("20 mEq", Unit.MEQ, D(20)),
    ],
)
def test_conversions_are_exact(quantity, unit, expected):
    converted = Quantity.parse(quantity).to(unit)
    assert converted.unit is unit
    assert converted.value == expected


@pytest.mark.parametrize(
    ("quantity", "unit", "message"),
    [
        ("5 mL", Unit.MG, "cannot convert 5 mL to mg: volume is not mass"),
        ("2 g", Unit.UNIT, "cannot convert 2 g to units: mass is not activity"),
        ("20 mEq", Unit.MMOL, "cannot convert 20 mEq to mmol: equivalents is not amount"),
    ],
)
def test_conversion_across_dimensions_is_refused(quantity, unit, message):
    with pytest.raises(InvalidFormat) as raised:
        Quantity.parse(quantity).to(unit)
    assert str(raised.value) == message


MASS_UNITS = [Unit.G, Unit.MG, Unit.MCG]
amounts = st.decimals(min_value=D("0.000001"), max_value=D(10**9), places=6)


@given(amounts, st.sampled_from(MASS_UNITS), st.sampled_from(MASS_UNITS))
def test_mass_conversion_round_trips_exactly(value, first, second):
    quantity = Quantity(value, first)
    there = quantity.to(second)
    assert there.to(first).value == value
    assert there.base_value() == quantity.base_value()


@given(amounts, st.sampled_from([Unit.UNIT, Unit.MILLION_UNITS]))
def test_activity_conversion_round_trips_exactly(value, unit):
    quantity = Quantity(value, unit)
    assert quantity.to(Unit.MILLION_UNITS).to(unit).value == value
    assert quantity.to(Unit.UNIT).value == value * unit.factor


def test_base_value_and_text():
    assert Quantity.parse("2 g").base_value() == D(2000)
    assert Quantity.parse("1.5 million units").base_value() == D(1_500_000)
    assert str(Quantity.parse("5,000 units")) == "5000 units"
    assert str(Quantity(D("2.50"), Unit.MG)) == "2.5 mg"
    assert str(Quantity(D("5E+3"), Unit.MCG)) == "5000 mcg"
    assert str(Quantity.parse("1.5 million units")) == "1.5 million units"


# ---------------------------------------------------------------- concentration


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("40 mg/mL", Quantity(D(40), Unit.MG)),
        ("40 mg / ml", Quantity(D(40), Unit.MG)),
        ("2 mEq/mL", Quantity(D(2), Unit.MEQ)),
        ("100 units/mL", Quantity(D(100), Unit.UNIT)),
        ("1 million units/mL", Quantity(D(1), Unit.MILLION_UNITS)),
        ("0.5 mcg/mL", Quantity(D("0.5"), Unit.MCG)),
    ],
)
def test_concentration_parse(text, amount):
    concentration = Concentration.parse(text)
    assert concentration.amount == amount
    assert concentration.unit is amount.unit


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("40 mg", "concentration '40 mg' is not '<amount>/mL', e.g. '40 mg/mL'"),
        ("40 mg/L", "concentration '40 mg/L' is not '<amount>/mL', e.g. '40 mg/mL'"),
        ("40 mg/kg", "concentration '40 mg/kg' is not '<amount>/mL', e.g. '40 mg/mL'"),
        ("0 mg/mL", "concentration '0 mg/mL' must be greater than zero"),
        ("mg/mL", "quantity 'mg' is not '<number> <unit>', e.g. '500 mg'"),
    ],
)
def test_concentration_errors(text, message):
    with pytest.raises(InvalidFormat) as raised:
        Concentration.parse(text)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("concentration", "dose", "volume"),
    [
        ("40 mg/mL", "100 mg", D("2.5")),
        ("40 mg/mL", "1 g", D(25)),
        ("40 mg/mL", "500 mcg", D("0.0125")),
        ("100 units/mL", "5,000 units", D(50)),
        ("100 units/mL", "1.5 million units", D(15000)),
        ("1 million units/mL", "500,000 units", D("0.5")),
        ("2 mEq/mL", "20 mEq", D(10)),
    ],
)
def test_volume_for_a_dose_in_any_unit_of_the_dimension(concentration, dose, volume):
    assert Concentration.parse(concentration).volume_for(Quantity.parse(dose)) == volume


def test_volume_for_a_dose_of_another_dimension_is_refused():
    with pytest.raises(InvalidFormat) as raised:
        Concentration.parse("40 mg/mL").volume_for(Quantity.parse("20 mEq"))
    assert str(raised.value) == "cannot convert 20 mEq to mg: equivalents is not mass"


@pytest.mark.parametrize(
    ("concentration", "volume", "amount"),
    [
        ("40 mg/mL", D("2.5"), Quantity(D(100), Unit.MG)),
        ("2 mEq/mL", D(10), Quantity(D(20), Unit.MEQ)),
        ("100 units/mL", D("0.1"), Quantity(D(10), Unit.UNIT)),
        ("40 mg/mL", D(0), Quantity(D(0), Unit.MG)),
    ],
)
def test_amount_in_a_volume(concentration, volume, amount):
    assert Concentration.parse(concentration).amount_in(volume) == amount


@given(
    st.integers(1, 1000),
    st.sampled_from(MASS_UNITS),
    st.decimals(min_value=D("0.01"), max_value=D(1000), places=2),
)
def test_amount_in_the_volume_for_a_dose_gives_the_dose_back(per_ml, unit, volume):
    concentration = Concentration(Quantity(D(per_ml), unit))
    dose = concentration.amount_in(volume)
    assert concentration.volume_for(dose) == volume
    assert concentration.volume_for(dose.to(Unit.MCG)) == volume


def test_concentration_text():
    assert str(Concentration.parse("40 mg / ml")) == "40 mg/mL"


# ---------------------------------------------------------------- tolerance


@pytest.mark.parametrize(
    ("text", "fraction", "shown"),
    [
        ("5%", D("0.05"), "±5%"),
        ("2.5 %", D("0.025"), "±2.5%"),
        (" 10% ", D("0.1"), "±10%"),
        ("0.01%", D("0.0001"), "±0.01%"),
        ("99.99%", D("0.9999"), "±99.99%"),
    ],
)
def test_tolerance_parse(text, fraction, shown):
    tolerance = Tolerance.parse(text)
    assert tolerance.fraction == fraction
    assert tolerance.percent == fraction * 100
    assert str(tolerance) == shown


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0%", "tolerance 0% must be above 0% and below 100%"),
        ("100%", "tolerance 100% must be above 0% and below 100%"),
        ("150%", "tolerance 150% must be above 0% and below 100%"),
        ("-5%", "tolerance -5% must be above 0% and below 100%"),
        ("5", "tolerance '5' is not a percentage, e.g. '5%'"),
        ("0.05", "tolerance '0.05' is not a percentage, e.g. '5%'"),
        ("five%", "tolerance 'five' is not a decimal number"),
        ("%", "tolerance '' is not a decimal number"),
        (
            "2,5%",
            "tolerance '2,5': a comma may only separate thousands (e.g. '5,000'); write "
            "decimals with a point (e.g. '0.5')",
        ),
    ],
)
def test_tolerance_errors(text, message):
    with pytest.raises(InvalidFormat) as raised:
        Tolerance.parse(text)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("fraction", "valid"),
    [
        (D(0), False),
        (D("0.0001"), True),
        (D("0.5"), True),
        (D("0.9999"), True),
        (D(1), False),
    ],
)
def test_tolerance_bounds_on_the_fraction(fraction, valid):
    if valid:
        assert Tolerance(fraction).fraction == fraction
    else:
        with pytest.raises(InvalidFormat) as raised:
            Tolerance(fraction)
        assert str(raised.value) == (
            f"tolerance {format((fraction * 100).normalize(), 'f')}% must be above 0% and "
            "below 100%"
        )


# ---------------------------------------------------------------- mass


@pytest.mark.parametrize(
    ("text", "grams"),
    [
        ("12.345 g", D("12.345")),
        ("12.345", D("12.345")),
        ("450 mg", D("0.45")),
        ("500 mcg", D("0.0005")),
        ("1,234.5", D("1234.5")),
        (" 0.001 g ", D("0.001")),
        ("2 grams", D(2)),
    ],
)
def test_mass_parse(text, grams):
    mass = Mass.parse(text)
    assert mass.grams == grams
    assert isinstance(mass.grams, Decimal)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5 mL", "mass '5 mL' is not in g, mg or mcg"),
        ("20 mEq", "mass '20 mEq' is not in g, mg or mcg"),
        ("abc", "mass 'abc' is not a number of g, mg or mcg, e.g. '12.345 g'"),
        ("", "mass '' is not a number of g, mg or mcg, e.g. '12.345 g'"),
        (
            "0,5",
            "mass '0,5': a comma may only separate thousands (e.g. '5,000'); write "
            "decimals with a point (e.g. '0.5')",
        ),
    ],
)
def test_mass_parse_errors(text, message):
    with pytest.raises(InvalidFormat) as raised:
        Mass.parse(text)
    assert str(raised.value) == message


def test_mass_arithmetic_is_exact():
    gross, tare = Mass.parse("20.30 g"), Mass.parse("10.10")
    assert gross - tare == Mass(D("10.20"))
    assert tare + tare == Mass(D("20.20"))
    assert str(gross - tare) == "10.2 g"
    assert str(Mass(D("10.500"))) == "10.5 g"


# ---------------------------------------------------------------- decimals


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.5", D("12.5")),
        (" 1,000 ", D(1000)),
        ("1,000,000.25", D("1000000.25")),
        ("-0.012", D("-0.012")),
        (7, D(7)),
        (D("0.10"), D("0.10")),
    ],
)
def test_parse_decimal(value, expected):
    parsed = parse_decimal(value)
    assert parsed == expected
    assert isinstance(parsed, Decimal)


@pytest.mark.parametrize(
    ("value", "what", "message"),
    [
        (0.5, "number", "number 0.5 must be written as text or an integer, not a float"),
        (2.0, "dose", "dose 2.0 must be written as text or an integer, not a float"),
        (True, "volume", "volume True must be written as text or an integer, not a bool"),
        (None, "number", "number None must be written as text or an integer, not a NoneType"),
        ("abc", "weight", "weight 'abc' is not a decimal number"),
        ("", "number", "number '' is not a decimal number"),
        ("NaN", "number", "number 'NaN' is not a decimal number"),
        ("Infinity", "number", "number 'Infinity' is not a decimal number"),
        (D("sNaN"), "number", "number Decimal('sNaN') is not a finite number"),
        (
            "0,5",
            "volume",
            "volume '0,5': a comma may only separate thousands (e.g. '5,000'); write decimals "
            "with a point (e.g. '0.5')",
        ),
    ],
)
def test_parse_decimal_errors(value, what, message):
    with pytest.raises(InvalidFormat) as raised:
        parse_decimal(value, what)
    assert str(raised.value) == message


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_float_is_never_a_quantity(value):
    with pytest.raises(InvalidFormat) as raised:
        parse_decimal(value)
    assert str(raised.value).endswith("must be written as text or an integer, not a float")


@given(st.integers(0, 10**12), st.integers(0, 10**6))
def test_thousands_separators_never_change_the_value(whole, cents):
    text = f"{whole:,}.{cents:06d}"
    assert parse_decimal(text) == Decimal(f"{whole}.{cents:06d}")


# ---------------------------------------------------------------- specific gravity


def test_specific_gravity():
    sourced = SpecificGravity(D("1.02"), D("0.002"), source="manufacturer")
    estimate = SpecificGravity(D("1.00"), D("0.005"))
    assert not sourced.is_estimate
    assert estimate.is_estimate
    assert estimate.relative_uncertainty == D("0.005")
    assert sourced.relative_uncertainty == D("0.002") / D("1.02")


@pytest.mark.parametrize(
    ("value", "uncertainty", "message"),
    [
        (D("0.49"), D(0), "specific gravity 0.49 is outside 0.5–2.5 g/mL; check the value"),
        (D("2.51"), D(0), "specific gravity 2.51 is outside 0.5–2.5 g/mL; check the value"),
        (D("1000"), D(0), "specific gravity 1000 is outside 0.5–2.5 g/mL; check the value"),
        (D("1.0"), D("-0.001"), "specific gravity uncertainty cannot be negative"),
    ],
)
def test_specific_gravity_errors(value, uncertainty, message):
    with pytest.raises(InvalidFormat) as raised:
        SpecificGravity(value, uncertainty)
    assert str(raised.value) == message


@pytest.mark.parametrize("value", [D("0.5"), D("2.5")])
def test_specific_gravity_bounds_are_inclusive(value):
    assert SpecificGravity(value, D(0)).value == value


@pytest.mark.parametrize(
    "parse",
    [Quantity.parse, Mass.parse, Tolerance.parse, Unit.parse, Concentration.parse, parse_decimal],
)
@given(st.text() | st.text("0123456789,. %-gmLunits/µ²", max_size=14))
def test_parsers_raise_only_parse_errors(parse, text):
    try:
        value = parse(text)
    except InvalidFormat as error:
        value = error
    # A parse error names what is wrong; anything else (ValueError, IndexError ...) fails.
    assert str(value) if isinstance(value, InvalidFormat) else value is not None


@pytest.mark.parametrize("text", ["1e3", "1_000", "0x10", "1.2.3", "+-1"])
def test_only_plain_decimals_are_read(text):
    with pytest.raises(InvalidFormat, match=r"is not a decimal number$"):
        parse_decimal(text)


def test_a_balance_may_read_negative_after_a_tare():
    assert Mass.parse("-0.012 g") == Mass(D("-0.012"))
    assert Mass.parse("- 12 mg") == Mass(D("-0.012"))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Mass(0.5), "a mass must be a Decimal, not float 0.5"),
        (lambda: Quantity(0.5, Unit.MG), "a quantity's value must be a Decimal, not float 0.5"),
        (lambda: Tolerance(0.05), "a tolerance must be a Decimal, not float 0.05"),
    ],
)
def test_floats_are_refused_at_run_time_too(build, message):
    with pytest.raises(InvalidFormat) as raised:
        build()
    assert str(raised.value) == message
