"""Exact quantities: masses, volumes, doses, concentrations, tolerances.

Everything is :class:`~decimal.Decimal`; a float never carries a mass or a dose.

>>> Quantity.parse("5,000 units")
Quantity(value=Decimal('5000'), unit=<Unit.UNIT: 'units'>)
>>> Concentration.parse("40 mg/mL").amount_in(Decimal("2.5"))
Quantity(value=Decimal('100.0'), unit=<Unit.MG: 'mg'>)
>>> Tolerance.parse("5%").fraction
Decimal('0.05')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

from station.core.errors import InvalidFormat


class Dimension(Enum):
    """What a unit measures; only quantities of one dimension convert into each other."""

    MASS = "mass"
    VOLUME = "volume"
    ACTIVITY = "activity"
    EQUIVALENTS = "equivalents"
    AMOUNT = "amount"


class Unit(Enum):
    """Units a dose, a concentration or a container volume is written in."""

    G = "g"
    MG = "mg"
    MCG = "mcg"
    L = "L"
    ML = "mL"
    UNIT = "units"
    MILLION_UNITS = "million units"
    MEQ = "mEq"
    MMOL = "mmol"

    @property
    def dimension(self) -> Dimension:
        """The dimension this unit measures."""
        return _UNIT_TABLE[self][0]

    @property
    def factor(self) -> Decimal:
        """How many of the dimension's base unit (mg, mL, unit, mEq, mmol) one of this is."""
        return _UNIT_TABLE[self][1]

    @classmethod
    def parse(cls, text: str) -> Unit:
        """Read a unit symbol, accepting the spellings labels and orders use."""
        key = text.strip().lower().replace("µ", "mc").replace("μ", "mc")
        try:
            return _UNIT_ALIASES[key]
        except KeyError:
            known = ", ".join(u.value for u in cls)
            raise InvalidFormat(f"unknown unit {text!r}: expected one of {known}") from None


_UNIT_TABLE: dict[Unit, tuple[Dimension, Decimal]] = {
    Unit.G: (Dimension.MASS, Decimal(1000)),
    Unit.MG: (Dimension.MASS, Decimal(1)),
    Unit.MCG: (Dimension.MASS, Decimal("0.001")),
    Unit.L: (Dimension.VOLUME, Decimal(1000)),
    Unit.ML: (Dimension.VOLUME, Decimal(1)),
    Unit.UNIT: (Dimension.ACTIVITY, Decimal(1)),
    Unit.MILLION_UNITS: (Dimension.ACTIVITY, Decimal(1_000_000)),
    Unit.MEQ: (Dimension.EQUIVALENTS, Decimal(1)),
    Unit.MMOL: (Dimension.AMOUNT, Decimal(1)),
}

_UNIT_ALIASES: dict[str, Unit] = {
    "g": Unit.G,
    "gram": Unit.G,
    "grams": Unit.G,
    "mg": Unit.MG,
    "mcg": Unit.MCG,
    "ug": Unit.MCG,
    "l": Unit.L,
    "ml": Unit.ML,
    "unit": Unit.UNIT,
    "units": Unit.UNIT,
    "u": Unit.UNIT,
    "usp units": Unit.UNIT,
    "million units": Unit.MILLION_UNITS,
    "meq": Unit.MEQ,
    "mmol": Unit.MMOL,
}

_NUMBER = r"[0-9][0-9,]*(?:\.[0-9]+)?|\.[0-9]+"
# What parse_decimal reads: commas only between groups of three digits, never as a decimal
# point ("0,5" is refused, not read as 5).
_DECIMAL = re.compile(r"[+-]?(?:(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+)")
_QUANTITY_RE = re.compile(rf"^\s*(?P<value>{_NUMBER})\s*(?P<unit>[^\d\s/][^/]*?)\s*$")


def parse_decimal(text: str | int | Decimal, what: str = "number") -> Decimal:
    """Read a finite decimal number; thousands separators are allowed, floats are not."""
    if isinstance(text, Decimal | int) and not isinstance(text, bool):
        value = Decimal(text)
    elif isinstance(text, str):
        stripped = text.strip()
        if not _DECIMAL.fullmatch(stripped):
            if "," in stripped:
                raise InvalidFormat(
                    f"{what} {text!r}: a comma may only separate thousands (e.g. '5,000'); "
                    "write decimals with a point (e.g. '0.5')"
                )
            raise InvalidFormat(f"{what} {text!r} is not a decimal number")
        value = Decimal(stripped.replace(",", ""))
    else:
        raise InvalidFormat(
            f"{what} {text!r} must be written as text or an integer, not a "
            f"{type(text).__name__}"
        )
    if not value.is_finite():
        raise InvalidFormat(f"{what} {text!r} is not a finite number")
    return value


def _require_decimal(value: object, what: str) -> None:
    """Refuse a float (or anything else) where an exact Decimal must be."""
    if not isinstance(value, Decimal):
        raise InvalidFormat(f"{what} must be a Decimal, not {type(value).__name__} {value!r}")


@dataclass(frozen=True)
class Quantity:
    """An amount in a unit: a dose (``500 mg``), a volume (``250 mL``), an activity."""

    value: Decimal
    unit: Unit

    def __post_init__(self) -> None:
        _require_decimal(self.value, "a quantity's value")

    @classmethod
    def parse(cls, text: str) -> Quantity:
        """Read ``"<number> <unit>"``, e.g. ``"2 g"``, ``"5,000 units"``, ``"20 mEq"``."""
        match = _QUANTITY_RE.match(text)
        if match is None:
            raise InvalidFormat(f"quantity {text!r} is not '<number> <unit>', e.g. '500 mg'")
        return cls(parse_decimal(match["value"]), Unit.parse(match["unit"]))

    @property
    def dimension(self) -> Dimension:
        """The dimension of this quantity's unit."""
        return self.unit.dimension

    def to(self, unit: Unit) -> Quantity:
        """The same quantity in another unit of the same dimension."""
        if unit.dimension is not self.unit.dimension:
            raise InvalidFormat(
                f"cannot convert {self} to {unit.value}: {self.unit.dimension.value} is not "
                f"{unit.dimension.value}"
            )
        return Quantity(self.value * self.unit.factor / unit.factor, unit)

    def rounded(self, significant: int = 4) -> Quantity:
        """The same quantity rounded to ``significant`` digits, for people to read.

        Whole-number digits are never rounded away: 1234567 units stays 1234567 units.
        """
        if self.value == 0:
            return self
        exponent = min(self.value.adjusted() - significant + 1, 0)
        step = Decimal(1).scaleb(exponent)
        return Quantity(self.value.quantize(step, rounding=ROUND_HALF_UP).normalize(), self.unit)

    def base_value(self) -> Decimal:
        """The value in the dimension's base unit (mg, mL, unit, mEq, mmol)."""
        return self.value * self.unit.factor

    def __str__(self) -> str:
        return f"{_plain(self.value)} {self.unit.value}"


@dataclass(frozen=True)
class Concentration:
    """Amount of drug per mL of liquid (after any reconstitution)."""

    amount: Quantity

    @classmethod
    def parse(cls, text: str) -> Concentration:
        """Read ``"<quantity>/mL"``, e.g. ``"40 mg/mL"``, ``"2 mEq/mL"``, ``"100 units/mL"``."""
        head, sep, per = text.rpartition("/")
        if not sep or per.strip().lower() != "ml":
            raise InvalidFormat(f"concentration {text!r} is not '<amount>/mL', e.g. '40 mg/mL'")
        amount = Quantity.parse(head)
        if amount.value <= 0:
            raise InvalidFormat(f"concentration {text!r} must be greater than zero")
        return cls(amount)

    @property
    def unit(self) -> Unit:
        """The unit of the amount per mL."""
        return self.amount.unit

    def amount_in(self, volume_ml: Decimal) -> Quantity:
        """How much drug a given volume (mL) holds."""
        return Quantity(self.amount.value * volume_ml, self.amount.unit)

    def volume_for(self, dose: Quantity) -> Decimal:
        """The volume (mL) that holds a dose; the dose may be in any unit of the same dimension."""
        return dose.to(self.amount.unit).value / self.amount.value

    def __str__(self) -> str:
        return f"{self.amount}/mL"


@dataclass(frozen=True)
class Mass:
    """A mass in grams, exactly as a balance reported it."""

    grams: Decimal

    def __post_init__(self) -> None:
        _require_decimal(self.grams, "a mass")

    @classmethod
    def parse(cls, text: str) -> Mass:
        """Read ``"12.345 g"``, ``"12.345"`` (grams) or ``"450 mg"``; negative after a tare."""
        stripped = text.strip()
        negative = stripped.startswith("-")
        if negative:
            stripped = stripped[1:].lstrip()
        if re.fullmatch(_NUMBER, stripped):
            grams = parse_decimal(stripped, "mass")
            return cls(-grams if negative else grams)
        if _QUANTITY_RE.match(stripped) is None:
            raise InvalidFormat(f"mass {text!r} is not a number of g, mg or mcg, e.g. '12.345 g'")
        quantity = Quantity.parse(stripped)
        if quantity.dimension is not Dimension.MASS:
            raise InvalidFormat(f"mass {text!r} is not in g, mg or mcg")
        grams = quantity.to(Unit.G).value
        return cls(-grams if negative else grams)

    def __sub__(self, other: Mass) -> Mass:
        return Mass(self.grams - other.grams)

    def __add__(self, other: Mass) -> Mass:
        return Mass(self.grams + other.grams)

    def __str__(self) -> str:
        return f"{_plain(self.grams)} g"


@dataclass(frozen=True)
class Tolerance:
    """A symmetric relative tolerance, e.g. ±5% of the ordered dose."""

    fraction: Decimal

    def __post_init__(self) -> None:
        _require_decimal(self.fraction, "a tolerance")
        if not Decimal(0) < self.fraction < Decimal(1):
            raise InvalidFormat(
                f"tolerance {_plain(self.fraction * 100)}% must be above 0% and below 100%"
            )

    @classmethod
    def parse(cls, text: str) -> Tolerance:
        """Read a percentage, e.g. ``"5%"`` or ``"2.5 %"``."""
        stripped = text.strip()
        if not stripped.endswith("%"):
            raise InvalidFormat(f"tolerance {text!r} is not a percentage, e.g. '5%'")
        return cls(parse_decimal(stripped[:-1], "tolerance") / 100)

    @property
    def percent(self) -> Decimal:
        """The tolerance in percent."""
        return self.fraction * 100

    def __str__(self) -> str:
        return f"±{_plain(self.percent)}%"


@dataclass(frozen=True)
class SpecificGravity:
    """Density relative to water (g/mL at room temperature), with where it came from.

    ``uncertainty`` is a standard uncertainty in g/mL. A value with no ``source`` is an
    estimate and should carry a larger uncertainty.
    """

    value: Decimal
    uncertainty: Decimal
    source: str | None = None

    def __post_init__(self) -> None:
        if not Decimal("0.5") <= self.value <= Decimal("2.5"):
            raise InvalidFormat(
                f"specific gravity {_plain(self.value)} is outside 0.5–2.5 g/mL; check the value"
            )
        if self.uncertainty < 0:
            raise InvalidFormat("specific gravity uncertainty cannot be negative")

    @property
    def is_estimate(self) -> bool:
        """True when no source backs the value."""
        return self.source is None

    @property
    def relative_uncertainty(self) -> Decimal:
        """Standard uncertainty as a fraction of the value."""
        return self.uncertainty / self.value


def _plain(value: Decimal) -> str:
    """Decimal without exponent or trailing zeros: 5E+3 -> '5000', 2.50 -> '2.5'."""
    return format(value.normalize(), "f")
