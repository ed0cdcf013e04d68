"""The qualification's plan of errors, and the pull-back check's model."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

import pytest

from station.qualification.plan import ErrorKind, plan_run
from station.qualification.pullback import increment, pullback_catches, volume_read


def test_the_plan_injects_every_kind_as_evenly_as_the_count_allows():
    plan = plan_run(100, seed=3, error_rate=0.3)
    assert [p.number for p in plan] == list(range(1, 101))
    errors = Counter(p.error for p in plan if p.error is not None)
    assert sum(errors.values()) == 30
    assert set(errors) == set(ErrorKind)
    assert max(errors.values()) - min(errors.values()) <= 1


def test_the_plan_is_the_same_for_the_same_seed_and_differs_for_another():
    assert plan_run(50, seed=8, error_rate=0.4) == plan_run(50, seed=8, error_rate=0.4)
    assert plan_run(50, seed=8, error_rate=0.4) != plan_run(50, seed=9, error_rate=0.4)


def test_all_clean_and_all_errors_are_both_possible():
    assert all(p.error is None for p in plan_run(10, seed=1, error_rate=0.0))
    assert all(p.error is not None for p in plan_run(10, seed=1, error_rate=1.0))


@pytest.mark.parametrize(("count", "rate"), [(0, 0.3), (10, -0.1), (10, 1.5)])
def test_a_plan_that_cannot_be_made_is_refused(count, rate):
    with pytest.raises(ValueError, match=r"at least one|share between"):
        plan_run(count, seed=1, error_rate=rate)


def test_the_syringe_scale_increment_is_that_of_the_smallest_syringe_that_holds_it():
    assert increment(Decimal(1)) == Decimal("0.01")
    assert increment(Decimal(4)) == Decimal("0.2")
    assert increment(Decimal(12)) == Decimal(1)
    assert increment(Decimal(500)) == Decimal(1)


def test_a_volume_is_read_to_half_an_increment_within_the_scale_accuracy():
    rng = random.Random(1)
    reads = [volume_read(Decimal(5), Decimal(10), rng) for _ in range(500)]
    assert all((r / Decimal("0.1")) == (r / Decimal("0.1")).to_integral_value() for r in reads)
    assert min(reads) >= Decimal("4.7") and max(reads) <= Decimal("5.3")
    assert len(set(reads)) > 3  # the scale error and parallax do move the reading


def test_pullback_catches_gross_errors_and_misses_some_near_the_band():
    rng = random.Random(2)
    expected, syringe, tolerance = Decimal(5), Decimal(10), Decimal("0.05")

    def caught(factor: str, n: int = 400) -> int:
        true = expected * (1 + Decimal(factor) * tolerance)
        return sum(pullback_catches(true, expected, syringe, tolerance, rng) for _ in range(n))

    assert caught("3") == 400 and caught("-3") == 400
    assert 0 < caught("1.5") < 400
    assert caught("0") < 40  # a right draw is seldom taken for a wrong one
