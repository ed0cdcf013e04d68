from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station.core.errors import InvalidFormat
from station.core.gravimetry import (
    BalanceSpec,
    Verdict,
    check_dose,
    check_mass,
    expanded_uncertainty,
    is_verifiable,
)
from station.core.quantities import Concentration, Mass, Quantity, SpecificGravity, Tolerance

D = Decimal
WATER = SpecificGravity(D("1.000"), D("0.002"), "water at 20 °C")
FINE = BalanceSpec(D("0.001"), D("0.0008"))
COARSE = BalanceSpec(D("0.01"), D("0.005"))
FIVE = Tolerance(D("0.05"))


def weigh(net: str, balance: BalanceSpec = FINE, expected: str = "10.000", **kw):
    return check_mass(Mass(D("20.000")), Mass(D("20.000") + D(net)), expected=D(expected),
                      specific_gravity=kw.get("sg", WATER), tolerance=kw.get("tol", FIVE),
                      balance=balance)


@pytest.mark.parametrize(
    ("net", "verdict"),
    [
        ("10.000", Verdict.PASS),
        ("10.500", Verdict.PASS),  # exactly at +5 %
        ("9.500", Verdict.PASS),  # exactly at −5 %
        ("10.499", Verdict.PASS),  # just inside
        ("10.501", Verdict.FAIL),  # just outside
        ("9.499", Verdict.FAIL),
        ("15.000", Verdict.FAIL),
        ("0.000", Verdict.FAIL),  # nothing drawn
        ("-0.200", Verdict.FAIL),  # lost mass
    ],
)
def test_verdict_at_and_around_the_tolerance(net, verdict):
    assert weigh(net).verdict is verdict


def test_deviation_volume_and_reason_are_reported():
    result = weigh("10.300")
    assert result.net_mass == D("10.300")
    assert result.deviation == D("0.03")
    assert result.measured_volume_ml == D("10.300")
    assert result.reason == "10.300 g weighed, +3.0% from 10.000 g"
    assert weigh("10.600").reason == "10.600 g weighed, 10.000 g expected: +6.0% is outside ±5.0%"


def test_uncertainty_matches_the_budget_worked_by_hand():
    # d = 0.01, s = max(0.005, 0.41·0.01 = 0.0041) = 0.005
    # u² = 2·(0.01²/12 + 0.005²) + (2 g · 0.002/1.000)² = 6.6667e-5 + 1.6e-5 = 8.2667e-5
    u = expanded_uncertainty(D("2"), WATER, COARSE)
    assert abs(u - 2 * D("0.0000826666667").sqrt()) < D("1e-9")


def test_repeatability_is_never_taken_below_usp_41_floor():
    optimistic = BalanceSpec(D("0.01"), D("0"))
    assert optimistic.effective_repeatability == D("0.0041")
    assert optimistic.net_uncertainty() > 0


def test_small_amount_on_a_coarse_balance_is_not_verifiable_even_when_exact():
    result = weigh("0.500", COARSE, expected="0.500")
    assert result.verdict is Verdict.NOT_VERIFIABLE
    assert result.reason == (
        "the balance cannot verify 0.500 g to ±5.0%: its uncertainty ±0.016 g is 65.8% of the "
        "±0.025 g band; verify this amount another way"
    )
    assert weigh("0.500", FINE, expected="0.500").verdict is Verdict.PASS


def test_the_verifiable_limit_sits_where_the_budget_says():
    # With d = 0.01 g, s = 0.005 g and SG ±0.2 %, U reaches a third of ±5 % near 1.03 g.
    assert not is_verifiable(D("1.00"), WATER, FIVE, COARSE)
    assert is_verifiable(D("1.10"), WATER, FIVE, COARSE)
    assert weigh("1.000", COARSE, expected="1.000").verdict is Verdict.NOT_VERIFIABLE
    assert weigh("1.100", COARSE, expected="1.100").verdict is Verdict.PASS


def test_a_gross_error_fails_rather_than_being_merely_unverifiable():
    assert weigh("1.500", COARSE, expected="0.500").verdict is Verdict.FAIL
    assert weigh("0.100", COARSE, expected="0.500").verdict is Verdict.FAIL


def test_an_estimated_specific_gravity_widens_the_uncertainty():
    estimate = SpecificGravity(D("1.050"), D("0.02"))
    assert estimate.is_estimate
    assert weigh("10.000", FINE, sg=estimate).verdict is Verdict.NOT_VERIFIABLE
    assert weigh("10.000", FINE).verdict is Verdict.PASS


def test_dose_check_converts_mass_to_volume_and_dose():
    sg = SpecificGravity(D("1.085"), D("0.002"), "measured")
    result = check_dose(Mass(D("12.000")), Mass(D("22.850")), ordered=Quantity.parse("20 mEq"),
                        concentration=Concentration.parse("2 mEq/mL"), specific_gravity=sg,
                        tolerance=FIVE, balance=FINE)
    assert result.expected_volume_ml == D("10")
    assert result.expected_mass == D("10.850")
    assert result.measured_dose == Quantity(D("20"), result.measured_dose.unit)
    assert result.verdict is Verdict.PASS


def test_dose_in_grams_from_a_concentration_in_mg():
    result = check_dose(Mass(D("5")), Mass(D("8.100")), ordered=Quantity.parse("1 g"),
                        concentration=Concentration.parse("330 mg/mL"),
                        specific_gravity=WATER, tolerance=FIVE, balance=FINE)
    assert result.measured_dose.unit.value == "g"
    assert result.measured_dose.value.quantize(D("0.001")) == D("1.023")
    assert result.verdict is Verdict.PASS


def test_dose_ordered_as_a_volume_needs_no_concentration():
    result = check_dose(Mass(D("5")), Mass(D("7.000")), ordered=Quantity.parse("2 mL"),
                        concentration=None, specific_gravity=WATER, tolerance=FIVE,
                        balance=FINE)
    assert result.measured_dose == Quantity.parse("2 mL")


def test_invalid_inputs_are_refused():
    with pytest.raises(InvalidFormat, match=r"^expected mass 0 g must be greater than zero$"):
        weigh("1", expected="0")
    with pytest.raises(InvalidFormat, match=r"^balance readability must be greater than zero$"):
        BalanceSpec(D("0"), D("0"))
    with pytest.raises(InvalidFormat, match=r"^dose 1 g needs a concentration to become a "
                       r"volume$"):
        check_dose(Mass(D("1")), Mass(D("2")), ordered=Quantity.parse("1 g"), concentration=None,
                   specific_gravity=WATER, tolerance=FIVE, balance=FINE)


@given(
    expected=st.decimals(min_value=D("0.2"), max_value=D("500"), places=3),
    deviation=st.decimals(min_value=D("-0.5"), max_value=D("0.5"), places=4),
    readability=st.sampled_from([D("0.0001"), D("0.001"), D("0.01"), D("0.1")]),
)
def test_a_pass_is_always_within_tolerance_and_a_verifiable_measurement(
    expected, deviation, readability
):
    balance = BalanceSpec(readability, readability / 2)
    after = Mass(D(100) + expected * (1 + deviation))
    result = check_mass(Mass(D(100)), after, expected=expected, specific_gravity=WATER,
                        tolerance=FIVE, balance=balance)
    if result.verdict is Verdict.PASS:
        assert abs(result.deviation) <= FIVE.fraction
        assert result.uncertainty <= result.band / 3
    if abs(result.deviation) > FIVE.fraction:
        assert result.verdict is not Verdict.PASS
