"""The auto-capture rule: one placement gives one attempt; an empty pan gives none."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station.core.capture import WeightCapture

D = Decimal("0.001")


def test_an_empty_pan_is_never_taken():
    capture = WeightCapture(D)
    for value in ("0.000", "0.005", "-0.005"):
        assert not capture.offer(Decimal(value), stable=True)
    assert capture.offer(Decimal("0.006"), stable=True)


def test_a_moving_reading_is_not_taken_until_the_balance_says_stable():
    capture = WeightCapture(D)
    assert not capture.offer(Decimal("12.345"), stable=False)
    assert capture.offer(Decimal("12.345"), stable=True)


def test_one_request_at_a_time_and_a_failed_request_is_tried_again():
    capture = WeightCapture(D)
    assert capture.offer(Decimal("12.345"), stable=True)
    capture.requested()
    assert capture.waiting
    assert not capture.offer(Decimal("12.345"), stable=True)
    capture.failed()
    assert capture.offer(Decimal("12.345"), stable=True)


def test_after_a_weight_is_taken_the_same_load_is_not_taken_again():
    capture = WeightCapture(D)
    capture.requested()
    capture.taken(Decimal("12.345"))
    assert not capture.offer(Decimal("12.349"), stable=True)  # within 5 d: same placement
    assert capture.offer(Decimal("12.351"), stable=True)  # moved by 6 d: adjusted


def test_lifting_the_item_off_arms_the_next_placement_even_at_the_same_weight():
    capture = WeightCapture(D)
    capture.requested()
    capture.taken(Decimal("12.345"))
    assert not capture.offer(Decimal("0.000"), stable=True)
    assert capture.offer(Decimal("12.345"), stable=True)


def test_readability_must_be_positive():
    with pytest.raises(ValueError, match="readability must be above zero, got 0"):
        WeightCapture(Decimal(0))


@given(st.lists(st.tuples(st.integers(-100_000, 100_000), st.booleans()), max_size=60))
def test_a_request_is_only_ever_for_a_stable_non_empty_reading(readings):
    capture = WeightCapture(D)
    for milligrams, stable in readings:
        value = Decimal(milligrams) / 1000
        if capture.offer(value, stable=stable):
            assert stable and abs(value) > 5 * D
            capture.requested()
            capture.taken(value)
