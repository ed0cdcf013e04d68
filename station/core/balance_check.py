"""The daily balance check: a reference weight on the pan before the day's first weighing.

Limit rule (USP <41>-style accuracy test): a check weight of nominal mass *m* read as *r* on
a balance of readability *d* passes when

    |r − m| ≤ limit,   limit = max(0.1 % of m, 2·d)

unless the site sets its own limit (``tolerance``, in grams), which then replaces the rule.
USP <41> asks for 0.10 % with a test weight of 5–100 % of capacity; the 2·d floor keeps a
small weight on a coarse balance from failing on rounding alone.

A check is due before the first weighing of each local calendar day, per balance (by serial
number): ``needs_check`` takes the time the balance's last *passing* check was recorded.

>>> check_weight(Decimal("100.000"), Decimal("100.050"), Decimal("0.001")).passed
True
>>> check_weight(Decimal("100.000"), Decimal("100.150"), Decimal("0.001")).message
'check weight 100.000 g read 100.150 g: +0.150 g is outside ±0.100 g — do not weigh; \
clean, level and calibrate the balance, then check again'
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from station.core.errors import InvalidFormat

#: Relative accuracy limit (USP <41>: 0.10 % of the test weight).
RELATIVE_LIMIT = Decimal("0.001")
#: Readability multiples always allowed (rounding of the reading and of the zero point).
READABILITY_FLOOR = 2


@dataclass(frozen=True)
class CheckResult:
    """One check: passed or not, the signed deviation (g), the limit (g), and the words."""

    passed: bool
    deviation: Decimal
    limit: Decimal
    message: str


def check_limit(
    nominal: Decimal, readability: Decimal, tolerance: Decimal | None = None
) -> Decimal:
    """The largest |reading − nominal| (g) that passes: the site's, or max(0.1 % m, 2 d)."""
    if tolerance is not None:
        if tolerance <= 0:
            raise InvalidFormat(f"a balance check tolerance must be above 0 g, got {tolerance}")
        return tolerance
    return max(RELATIVE_LIMIT * nominal, READABILITY_FLOOR * readability)


def check_weight(
    nominal: Decimal,
    reading: Decimal,
    readability: Decimal,
    tolerance: Decimal | None = None,
) -> CheckResult:
    """Judge a reading of a check weight of ``nominal`` grams (see the module for the rule)."""
    for name, value in (("nominal", nominal), ("reading", reading), ("readability", readability)):
        if not isinstance(value, Decimal):
            raise TypeError(f"the check's {name} must be a Decimal, not {type(value).__name__}")
    if nominal <= 0:
        raise InvalidFormat(f"a check weight must be above 0 g, got {nominal}")
    if readability <= 0:
        raise InvalidFormat(f"balance readability must be above 0 g, got {readability}")
    limit = check_limit(nominal, readability, tolerance)
    deviation = reading - nominal
    places = readability.normalize()
    shown_nominal = _grams(nominal, places)
    shown_reading = _grams(reading, places)
    signed = ("+" if deviation > 0 else "") + _grams(deviation, places)
    if abs(deviation) <= limit:
        return CheckResult(
            True, deviation, limit,
            f"check weight {shown_nominal} g read {shown_reading} g: {signed} g is within "
            f"±{_grams(limit, places)} g — balance ready",
        )
    return CheckResult(
        False, deviation, limit,
        f"check weight {shown_nominal} g read {shown_reading} g: {signed} g is outside "
        f"±{_grams(limit, places)} g — do not weigh; clean, level and calibrate the balance, "
        "then check again",
    )


def needs_check(last_passed_at: dt.datetime | None, now: dt.datetime, balance_serial: str) -> bool:
    """Whether balance ``balance_serial`` must be checked before it weighs at ``now``.

    ``last_passed_at`` is when this balance's last passing check was recorded (None if never).
    ``now`` carries the site's UTC offset, so its date is the pharmacy's calendar day; the
    last pass is compared on that same local day.
    """
    if not balance_serial.strip():
        raise ValueError("a balance check belongs to a balance: its serial number is empty")
    if now.tzinfo is None:
        raise ValueError("now needs a UTC offset (the site's)")
    if last_passed_at is None:
        return True
    if last_passed_at.tzinfo is None:
        raise ValueError("the last check's time needs a UTC offset")
    if last_passed_at > now:
        return True  # a check from the future (clock moved back): do not trust it
    return last_passed_at.astimezone(now.tzinfo).date() != now.date()


def _grams(value: Decimal, readability: Decimal) -> str:
    exponent = readability.as_tuple().exponent
    assert isinstance(exponent, int)
    quantum = Decimal(1).scaleb(min(exponent, 0))
    return str(value.quantize(quantum))
