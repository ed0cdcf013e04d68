"""The simulated balance's physics, driven by a fake clock and a seeded random source."""

from __future__ import annotations

import itertools
import math
import random
import statistics
import threading
from decimal import Decimal

import pytest

from scale_drivers.sim.faults import FaultSet
from scale_drivers.sim.physics import (
    SLOW_STABILITY_WINDOW,
    Balance,
    BalanceModel,
    OutOfRange,
)

D = Decimal


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make(clock: FakeClock, *, seed: int = 7, load: str = "0", settled: bool = True,
         faults: FaultSet | None = None, **physics) -> Balance:
    model = BalanceModel(capacity=D(physics.pop("capacity", "220.00")),
                         readability=D(physics.pop("readability", "0.01")),
                         **{"noise_sd": 0.0, **physics})
    return Balance(model, clock=clock, rng=random.Random(seed), faults=faults,
                   initial_load=load, settled=settled)


def readings(balance: Balance, clock: FakeClock, count: int, step: float = 0.1):
    values = []
    for _ in range(count):
        clock.advance(step)
        values.append(balance.reading())
    return values


# ---------------------------------------------------------------------- settling
def test_a_settled_initial_load_reads_stable_at_once():
    clock = FakeClock()
    balance = make(clock, load="100.00")
    assert balance.reading() == (D("100.00"), True, False, False)


def test_a_load_settles_along_its_time_constant_then_the_window_fills():
    # τ = 0.25 s: a 100 g step is within 1.5 d (0.015 g) after 0.25 s × ln(100 / 0.015)
    # ≈ 2.2 s; the 1 s stability window then needs readings that stayed there: ≈ 3.2 s.
    clock = FakeClock()
    balance = make(clock, settle_time_constant=0.25, stability_window=1.0)
    balance.place("100")
    clock.advance(0.5)
    early = balance.reading()
    assert D("60") < early.value < D("100") and not early.stable
    clock.advance(2.0)  # 2.5 s: settled, but not yet for a whole window
    assert balance.reading() == (D("100.00"), False, False, False)
    clock.advance(1.0)  # 3.5 s
    assert balance.reading() == (D("100.00"), True, False, False)


def test_a_longer_time_constant_settles_proportionally_later():
    def seconds_to_stable(time_constant: float) -> float:
        clock = FakeClock()
        balance = make(clock, settle_time_constant=time_constant)
        balance.place("100")
        start = clock.now
        while not balance.reading().stable:
            clock.advance(0.1)
            assert clock.now - start < 60
        return clock.now - start

    quick, slow = seconds_to_stable(0.25), seconds_to_stable(0.6)
    assert quick == pytest.approx(0.25 * math.log(100 / 0.015) + 1.0, abs=0.25)
    assert slow == pytest.approx(0.6 * math.log(100 / 0.015) + 1.0, abs=0.25)


def test_an_unsettled_start_approaches_the_initial_load_from_an_empty_pan():
    clock = FakeClock()
    balance = make(clock, load="180.00", settled=False, settle_time_constant=1.5)
    assert balance.reading().value == D("0.00")
    clock.advance(1.55)  # the display last updated at 1.5 s: 180 g × (1 − e⁻¹)
    assert balance.reading().value == pytest.approx(D("113.78"), abs=D("0.02"))
    clock.advance(30)
    assert balance.reading() == (D("180.00"), True, False, False)


def test_a_load_change_is_sensed_before_the_display_updates():
    clock = FakeClock()
    balance = make(clock, load="100.00")
    balance.place("5.00")
    assert balance.reading() == (D("100.00"), False, False, False)
    balance_small = make(clock, load="100.00")
    balance_small.place("0.004")  # less than half a division: nothing to sense
    assert balance_small.reading().stable


def test_removing_and_setting_the_load_change_what_is_on_the_pan():
    clock = FakeClock()
    balance = make(clock, load="100.00")
    balance.remove("30.5")
    assert balance.load == D("69.50")
    balance.set_load("12.25")
    assert balance.load == D("12.25")
    clock.advance(10)
    assert balance.reading().value == D("12.25")


# ---------------------------------------------------------------------- noise, drift, airflow
def test_noise_has_the_configured_standard_deviation_and_no_bias():
    clock = FakeClock()
    balance = make(clock, load="50.000", readability="0.001", noise_sd=0.004)
    values = [float(r.value) for r in readings(balance, clock, 4000)]
    assert statistics.mean(values) == pytest.approx(50.0, abs=3 * 0.004 / math.sqrt(4000))
    assert statistics.stdev(values) == pytest.approx(0.004, rel=0.06)


def test_white_noise_is_uncorrelated_and_airflow_is_a_slow_larger_disturbance():
    def lag_one_correlation(values: list[float]) -> float:
        mean = statistics.mean(values)
        deviations = [v - mean for v in values]
        top = sum(a * b for a, b in itertools.pairwise(deviations))
        return top / sum(d * d for d in deviations)

    clock = FakeClock()
    quiet = make(clock, load="50.000", readability="0.001", noise_sd=0.002)
    hood = make(clock, load="50.000", readability="0.001", noise_sd=0.002,
                airflow_sd=0.010, airflow_time_constant=2.0)
    quiet_values, hood_values = [], []
    for _ in range(3000):
        clock.advance(0.1)
        quiet_values.append(float(quiet.reading().value))
        hood_values.append(float(hood.reading().value))
    assert abs(lag_one_correlation(quiet_values)) < 0.1
    assert lag_one_correlation(hood_values) > 0.8
    assert statistics.stdev(hood_values) == pytest.approx(math.hypot(0.010, 0.002), rel=0.35)


def test_drift_moves_the_zero_linearly_even_across_a_long_jump_in_time():
    clock = FakeClock()
    balance = make(clock, load="100.000", readability="0.001", drift_per_hour=0.036)
    clock.advance(1800)
    assert balance.reading().value == D("100.018")
    clock.advance(1800)
    assert balance.reading().value == D("100.036")


def test_the_same_seed_and_clock_give_the_same_readings():
    def run(seed: int) -> list:
        clock = FakeClock()
        balance = make(clock, seed=seed, load="100.00", noise_sd=0.006, airflow_sd=0.01)
        return readings(balance, clock, 200)

    assert run(3) == run(3)
    assert run(3) != run(4)


# ---------------------------------------------------------------------- quantization
def test_readings_are_quantized_to_the_readability():
    clock = FakeClock()
    balance = make(clock, load="12.3456", noise_sd=0.004)
    for reading in readings(balance, clock, 200):
        assert reading.value.as_tuple().exponent == -2
    fives = make(clock, load="1.2345", readability="0.005", noise_sd=0.004)
    for reading in readings(fives, clock, 200):
        assert reading.value % D("0.005") == 0
        assert reading.value.as_tuple().exponent == -3


@pytest.mark.parametrize(
    ("grams", "readability", "shown"),
    [
        ("0.005", "0.01", "0.01"),  # half a division rounds up
        ("0.0049", "0.01", "0.00"),
        ("-0.004", "0.01", "0.00"),  # never "-0.00"
        ("-0.005", "0.01", "-0.01"),
        ("1.2374", "0.005", "1.235"),
        ("100", "0.1", "100.0"),
    ],
)
def test_quantize_rounds_half_up_to_the_readability(grams, readability, shown):
    model = BalanceModel(capacity=D("220"), readability=D(readability))
    assert str(model.quantize(D(grams))) == shown


# ---------------------------------------------------------------------- limits
def test_overload_starts_above_capacity_plus_nine_divisions():
    clock = FakeClock()
    balance = make(clock, load="220.09")
    assert balance.reading() == (D("220.09"), True, False, False)
    balance.set_load("220.10")
    clock.advance(10)
    reading = balance.reading()
    assert reading.overload and not reading.stable and not reading.underload


def test_underload_starts_below_two_percent_of_capacity_under_zero():
    clock = FakeClock()
    balance = make(clock, load="-4.40")
    assert balance.reading() == (D("-4.40"), True, False, False)
    balance.set_load("-4.41")  # the pan lifted off
    clock.advance(10)
    reading = balance.reading()
    assert reading.underload and not reading.stable and not reading.overload


# ---------------------------------------------------------------------- tare and zero
def test_tare_takes_the_gross_shown_and_the_net_follows_later_loads():
    clock = FakeClock()
    balance = make(clock, load="31.27")
    assert balance.tare() == D("31.27")
    assert balance.tare_value == D("31.27")
    assert balance.reading().value == D("0.00")
    balance.place("10.00")
    clock.advance(10)
    assert balance.reading().value == D("10.00")
    balance.remove("15.00")
    clock.advance(10)
    assert balance.reading().value == D("-5.00")
    balance.clear_tare()
    assert balance.reading().value == D("26.27")


def test_tare_is_refused_over_capacity_and_below_zero():
    clock = FakeClock()
    balance = make(clock, load="230")
    with pytest.raises(OutOfRange) as above:
        balance.tare()
    assert above.value.direction == "+"
    balance.set_load("-1")
    clock.advance(10)
    with pytest.raises(OutOfRange) as below:
        balance.tare()
    assert below.value.direction == "-"
    assert balance.tare_value == D("0")


def test_a_preset_tare_is_rounded_and_must_lie_within_the_capacity():
    clock = FakeClock()
    balance = make(clock, load="100.00")
    assert balance.set_tare("12.344") == D("12.34")
    assert balance.reading().value == D("87.66")
    with pytest.raises(OutOfRange):
        balance.set_tare("220.01")
    with pytest.raises(OutOfRange):
        balance.set_tare("-1")
    assert balance.tare_value == D("12.34")


def test_zero_within_two_percent_of_capacity_and_clears_the_tare():
    clock = FakeClock()
    balance = make(clock, load="3.50")
    balance.set_tare("1.00")
    balance.zero()
    assert balance.tare_value == D("0")
    assert balance.reading().value == D("0.00")
    balance.place("20.00")
    clock.advance(10)
    assert balance.reading().value == D("20.00")


@pytest.mark.parametrize(("load", "direction"), [("4.41", "+"), ("-4.41", "-"), ("300", "+")])
def test_zero_out_of_range_is_refused_and_changes_nothing(load, direction):
    clock = FakeClock()
    balance = make(clock, load=load)
    with pytest.raises(OutOfRange) as refused:
        balance.zero()
    assert refused.value.direction == direction
    assert str(refused.value).startswith("cannot zero: the load is")


# ---------------------------------------------------------------------- faults
def test_faults_force_overload_underload_and_instability_while_active():
    clock = FakeClock()
    faults = FaultSet(clock)
    balance = make(clock, load="100.00", faults=faults)
    faults.inject("overload")
    assert balance.reading() == (D("100.00"), False, True, False)
    faults.clear("overload")
    faults.inject("underload")
    assert balance.reading() == (D("100.00"), False, False, True)
    faults.clear("underload")
    faults.inject("never_stable")
    assert not any(r.stable for r in readings(balance, clock, 100))
    faults.clear("never_stable")
    assert balance.reading().stable


def test_slow_stability_needs_a_long_steady_spell_after_it_starts():
    clock = FakeClock()
    faults = FaultSet(clock)
    balance = make(clock, load="100.00", faults=faults)
    faults.inject("slow_stability")
    clock.advance(SLOW_STABILITY_WINDOW - 1)
    assert not balance.reading().stable
    clock.advance(2)
    assert balance.reading().stable


# ---------------------------------------------------------------------- model and threads
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"capacity": D("0")}, "capacity must be positive, got 0"),
        ({"readability": D("300")}, "readability must be positive and below capacity, got 300"),
        ({"update_rate": 0.0}, "update_rate must be positive, got 0.0"),
        ({"noise_sd": -0.1}, "noise_sd must not be negative, got -0.1"),
    ],
)
def test_a_model_with_impossible_figures_is_refused(change, message):
    fields = {"capacity": D("220"), "readability": D("0.01"), **change}
    with pytest.raises(ValueError, match=message):
        BalanceModel(**fields)


def test_loads_placed_from_many_threads_all_arrive():
    clock = FakeClock()
    balance = make(clock)

    def place_many() -> None:
        for _ in range(200):
            balance.place("0.01")
            balance.reading()

    workers = [threading.Thread(target=place_many) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert balance.load == D("8.00")
