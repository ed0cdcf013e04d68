"""The daily balance check: the limit rule and when a check is due."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from station.core.balance_check import check_limit, check_weight, needs_check
from station.core.errors import InvalidFormat

SITE = dt.timezone(dt.timedelta(hours=-6))
SERIAL = "B123456789"


def test_the_limit_is_a_tenth_of_a_percent_of_the_weight():
    assert check_limit(Decimal("100"), Decimal("0.001")) == Decimal("0.100")


def test_the_limit_is_never_below_two_readability_steps():
    assert check_limit(Decimal("10"), Decimal("0.01")) == Decimal("0.02")


def test_a_site_limit_replaces_the_rule():
    assert check_limit(Decimal("100"), Decimal("0.001"), Decimal("0.005")) == Decimal("0.005")
    with pytest.raises(InvalidFormat):
        check_limit(Decimal("100"), Decimal("0.001"), Decimal("0"))


@pytest.mark.parametrize(("reading", "passed"), [
    ("100.000", True), ("100.100", True), ("99.900", True),
    ("100.101", False), ("99.899", False),
])
def test_the_boundary_passes_and_beyond_fails(reading, passed):
    result = check_weight(Decimal("100.000"), Decimal(reading), Decimal("0.001"))
    assert result.passed is passed
    assert result.deviation == Decimal(reading) - Decimal("100.000")
    assert result.limit == Decimal("0.100")


def test_the_messages_say_what_to_do():
    good = check_weight(Decimal("100.000"), Decimal("100.003"), Decimal("0.001"))
    assert good.message == ("check weight 100.000 g read 100.003 g: +0.003 g is within "
                            "±0.100 g — balance ready")
    bad = check_weight(Decimal("50"), Decimal("49.90"), Decimal("0.01"))
    assert bad.message.startswith("check weight 50.00 g read 49.90 g: -0.10 g is outside "
                                  "±0.05 g — do not weigh")


def test_bad_inputs_are_refused():
    with pytest.raises(InvalidFormat):
        check_weight(Decimal("0"), Decimal("0"), Decimal("0.001"))
    with pytest.raises(InvalidFormat):
        check_weight(Decimal("100"), Decimal("100"), Decimal("0"))
    with pytest.raises(TypeError):
        check_weight(Decimal("100"), 100.0, Decimal("0.001"))  # type: ignore[arg-type]


def test_a_check_is_due_before_the_first_weighing_of_each_local_day():
    morning = dt.datetime(2026, 11, 26, 7, 0, tzinfo=SITE)
    assert needs_check(None, morning, SERIAL)
    assert not needs_check(morning, morning + dt.timedelta(hours=15), SERIAL)
    assert needs_check(morning, morning + dt.timedelta(hours=17), SERIAL)  # 00:00 next day


def test_the_day_is_the_sites_not_utcs():
    # 23:30 local is already the next day in UTC; the check still counts for the local day.
    late = dt.datetime(2026, 11, 26, 23, 30, tzinfo=SITE)
    passed_utc = dt.datetime(2026, 11, 26, 14, 0, tzinfo=dt.UTC)  # 08:00 local
    assert not needs_check(passed_utc, late, SERIAL)
    assert needs_check(passed_utc, late + dt.timedelta(hours=1), SERIAL)


def test_a_check_from_the_future_does_not_count_and_times_need_offsets():
    now = dt.datetime(2026, 11, 26, 9, 0, tzinfo=SITE)
    assert needs_check(now + dt.timedelta(hours=1), now, SERIAL)
    with pytest.raises(ValueError, match="UTC offset"):
        needs_check(None, dt.datetime(2026, 11, 26, 9, 0), SERIAL)  # noqa: DTZ001
    with pytest.raises(ValueError, match="serial"):
        needs_check(None, now, " ")
