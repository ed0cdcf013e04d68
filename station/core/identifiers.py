"""Value objects that identify a product package: NDC, GTIN, lot, serial, expiry.

Each has a ``parse`` that returns a valid object or raises a precise
:class:`~station.core.errors.ParseError`.

>>> Ndc.parse("0409-4888-02").hipaa
'00409-4888-02'
>>> [str(n) for n in Ndc.candidates("0409488802")]
['00409-4888-02', '04094-0888-02', '04094-8880-02']
>>> Gtin.parse("0304094888026").ndc10
'0409488802'
>>> Expiry.parse_yymmdd("280200", reference_year=2026).date
datetime.date(2028, 2, 29)
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field

from biip.checksums import gs1_standard_check_digit

from station.core.errors import InvalidChecksum, InvalidFormat, InvalidLength

# The three shapes of a 10-digit NDC, the 11-digit HIPAA form and the 12-digit form of 2033.
TEN_DIGIT_SHAPES: tuple[tuple[int, int, int], ...] = ((4, 4, 2), (5, 3, 2), (5, 4, 1))
HIPAA_SHAPE = (5, 4, 2)
TWELVE_DIGIT_SHAPE = (6, 4, 2)
_ALL_SHAPES = (*TEN_DIGIT_SHAPES, HIPAA_SHAPE, TWELVE_DIGIT_SHAPE)

# GS1 US prefix that marks a GTIN whose digits carry an NDC.
NDC_GTIN_PREFIX = "03"


def gs1_check_digit(payload: str) -> str:
    """The GS1 mod-10 check digit of a string of digits (GTIN, SSCC, ...)."""
    return str(gs1_standard_check_digit(payload))


@dataclass(frozen=True, eq=False)
class Ndc:
    """A National Drug Code, kept in the shape it was written in.

    Two NDCs are equal when they name the same package, whatever their shape:
    ``0409-4888-02`` equals ``00409-4888-02`` and ``000409-4888-02``.
    """

    labeler: str
    product: str
    package: str

    def __post_init__(self) -> None:
        shape = (len(self.labeler), len(self.product), len(self.package))
        digits = self.labeler + self.product + self.package
        if not digits.isdigit() or not digits.isascii():
            raise InvalidFormat(f"NDC {self}: segments must be digits")
        if shape not in _ALL_SHAPES:
            raise InvalidLength(
                f"NDC {self} has segments {shape[0]}-{shape[1]}-{shape[2]}: expected "
                "4-4-2, 5-3-2 or 5-4-1 (10 digits), 5-4-2 (11) or 6-4-2 (12)"
            )

    @classmethod
    def parse(cls, text: str) -> Ndc:
        """Read an NDC written with hyphens, or 11 or 12 digits without them.

        Ten digits without hyphens have no shape and raise; use :meth:`candidates`.
        """
        stripped = text.strip()
        if "-" in stripped:
            parts = stripped.split("-")
            if len(parts) != 3 or not all(parts):
                raise InvalidFormat(
                    f"NDC {text!r} must have three segments separated by hyphens, "
                    "e.g. '0409-4888-02'"
                )
            return cls(*parts)
        if not stripped.isdigit() or not stripped.isascii():
            raise InvalidFormat(f"NDC {text!r} must be digits, optionally with hyphens")
        if len(stripped) == 11:
            return cls(stripped[:5], stripped[5:9], stripped[9:])
        if len(stripped) == 12:
            return cls(stripped[:6], stripped[6:10], stripped[10:])
        if len(stripped) == 10:
            raise InvalidFormat(
                f"NDC {text!r} has 10 digits and no hyphens, so its shape is unknown; "
                "write it with hyphens (e.g. 4-4-2) or look up its candidates"
            )
        raise InvalidLength(f"NDC {text!r}: expected 10, 11 or 12 digits, got {len(stripped)}")

    @classmethod
    def candidates(cls, ndc10: str) -> tuple[Ndc, ...]:
        """The 11-digit (5-4-2) forms a 10-digit NDC without hyphens could be, one per shape.

        Three distinct forms, except when a segment is all zeros and two shapes pad to the
        same 11 digits (``0000012345``): each form is listed once.
        """
        if len(ndc10) != 10 or not ndc10.isdigit():
            raise InvalidLength(f"a 10-digit NDC was expected, got {ndc10!r}")
        found: list[Ndc] = []
        for first, second, _ in TEN_DIGIT_SHAPES:
            shaped = cls(ndc10[:first], ndc10[first : first + second], ndc10[first + second :])
            if shaped not in found:
                found.append(shaped.to_hipaa())
        return tuple(found)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Segment lengths, e.g. ``(4, 4, 2)``."""
        return (len(self.labeler), len(self.product), len(self.package))

    @property
    def digits(self) -> str:
        """The digits without hyphens, as written (10, 11 or 12 of them)."""
        return self.labeler + self.product + self.package

    @property
    def ndc10(self) -> str | None:
        """The 10 digits a barcode carries, or None for a 12-digit-only NDC.

        Known exactly for the 10-digit shapes; for an 11-digit form only when exactly one
        segment can give up a leading zero.
        """
        if self.shape in TEN_DIGIT_SHAPES:
            return self.digits
        if self.shape == HIPAA_SHAPE:
            shortened = self._shorter_shapes()
            return shortened[0].digits if len(shortened) == 1 else None
        return None

    def _shorter_shapes(self) -> list[Ndc]:
        options = []
        if self.labeler.startswith("0"):
            options.append(Ndc(self.labeler[1:], self.product, self.package))
        if self.product.startswith("0"):
            options.append(Ndc(self.labeler, self.product[1:], self.package))
        if self.package.startswith("0"):
            options.append(Ndc(self.labeler, self.product, self.package[1:]))
        return options

    def to_hipaa(self) -> Ndc:
        """The 11-digit 5-4-2 form (zero-padded segments), as billing and databases use."""
        if self.shape == TWELVE_DIGIT_SHAPE:
            if not self.labeler.startswith("0"):
                raise InvalidFormat(f"NDC {self} has a 6-digit labeler and no 11-digit form")
            return Ndc(self.labeler[1:], self.product, self.package)
        return Ndc(self.labeler.zfill(5), self.product.zfill(4), self.package.zfill(2))

    def to_twelve(self) -> Ndc:
        """The 12-digit 6-4-2 form that every NDC takes from 2033."""
        return Ndc(self.labeler.zfill(6), self.product.zfill(4), self.package.zfill(2))

    @property
    def hipaa(self) -> str:
        """The hyphenated 11-digit form, e.g. ``00409-4888-02``."""
        return str(self.to_hipaa())

    @property
    def key(self) -> str:
        """The 12 digits every shape of this NDC normalises to; the identity used to compare."""
        return self.to_twelve().digits

    def gtin(self, indicator: int = 0) -> Gtin | None:
        """The GTIN-14 that carries this NDC at a packaging level, if it has a 10-digit form."""
        ndc10 = self.ndc10
        if ndc10 is None:
            return None
        return Gtin.from_ndc10(ndc10, indicator)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ndc) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __str__(self) -> str:
        return f"{self.labeler}-{self.product}-{self.package}"


@dataclass(frozen=True)
class Gtin:
    """A Global Trade Item Number, normalised to 14 digits with a verified check digit."""

    value: str

    def __post_init__(self) -> None:
        if len(self.value) != 14 or not self.value.isdigit() or not self.value.isascii():
            raise InvalidLength(f"GTIN {self.value!r}: expected 14 digits")
        expected = gs1_check_digit(self.value[:-1])
        if self.value[-1] != expected:
            raise InvalidChecksum(
                f"invalid check digit in GTIN {self.value}: expected {expected}, "
                f"got {self.value[-1]}"
            )

    @classmethod
    def parse(cls, text: str) -> Gtin:
        """Read a GTIN-8, UPC-A (GTIN-12), EAN-13 or GTIN-14 and verify its check digit."""
        digits = text.strip()
        if not digits.isdigit() or not digits.isascii():
            raise InvalidFormat(f"GTIN {text!r} must be digits only")
        if len(digits) not in (8, 12, 13, 14):
            raise InvalidLength(
                f"GTIN {text!r}: expected 8, 12, 13 or 14 digits, got {len(digits)}"
            )
        expected = gs1_check_digit(digits[:-1])
        if digits[-1] != expected:
            kind = {8: "EAN-8", 12: "UPC-A", 13: "EAN-13", 14: "GTIN-14"}[len(digits)]
            raise InvalidChecksum(
                f"invalid check digit in {kind} {digits}: expected {expected}, got {digits[-1]}"
            )
        return cls(digits.zfill(14))

    @classmethod
    def from_ndc10(cls, ndc10: str, indicator: int = 0) -> Gtin:
        """The GTIN-14 carrying a 10-digit NDC: indicator, ``03``, the NDC, check digit."""
        if len(ndc10) != 10 or not ndc10.isdigit() or not ndc10.isascii():
            raise InvalidLength(f"a 10-digit NDC was expected, got {ndc10!r}")
        if not 0 <= indicator <= 8:
            raise InvalidFormat(f"packaging indicator must be 0–8, got {indicator}")
        payload = f"{indicator}{NDC_GTIN_PREFIX}{ndc10}"
        return cls(payload + gs1_check_digit(payload))

    @property
    def indicator(self) -> int:
        """The packaging-level digit: 0 for the unit, 1–8 for higher levels, 9 variable."""
        return int(self.value[0])

    @property
    def ndc10(self) -> str | None:
        """The 10-digit NDC inside, when the GTIN carries the ``03`` NDC prefix."""
        if self.value[1:3] != NDC_GTIN_PREFIX or self.indicator == 9:
            return None
        return self.value[3:13]

    @property
    def upc_a(self) -> str | None:
        """The 12-digit UPC-A form, when this GTIN has one (leading two digits zero)."""
        return self.value[2:] if self.value.startswith("00") else None

    def __str__(self) -> str:
        return self.value


# GS1 AI 10 and 21: up to 20 characters of GS1's 82-character set (ISO/IEC 646 subset).
_GS1_CSET82 = re.compile(r"^[!\"%-?A-Z_a-z]{1,20}\Z")


def _gs1_text(kind: str, text: str) -> str:
    if not text:
        raise InvalidLength(f"{kind} is empty")
    if len(text) > 20:
        raise InvalidLength(f"{kind} {text!r}: at most 20 characters, got {len(text)}")
    if not _GS1_CSET82.match(text):
        bad = next(c for c in text if not _GS1_CSET82.match(c))
        raise InvalidFormat(f"{kind} {text!r} contains {bad!r}, which GS1 does not allow")
    return text


@dataclass(frozen=True)
class Lot:
    """A manufacturer's lot (batch) number, GS1 AI (10)."""

    value: str

    def __post_init__(self) -> None:
        _gs1_text("lot", self.value)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Serial:
    """A package serial number, GS1 AI (21)."""

    value: str

    def __post_init__(self) -> None:
        _gs1_text("serial", self.value)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Expiry:
    """A package's expiry date; the product may be used through the end of that day."""

    date: dt.date
    raw: str = field(default="", compare=False)

    @classmethod
    def parse_yymmdd(cls, text: str, reference_year: int) -> Expiry:
        """Read GS1 AI (17) ``YYMMDD``; day ``00`` means the last day of the month.

        The century follows GS1's sliding window: the year lies from 49 years before
        ``reference_year`` (the current year, passed in) to 50 years after it.
        """
        if len(text) != 6 or not text.isdigit() or not text.isascii():
            raise InvalidFormat(f"expiry {text!r} must be 6 digits YYMMDD")
        year = _windowed_year(int(text[:2]), reference_year)
        month, day = int(text[2:4]), int(text[4:])
        if not 1 <= month <= 12:
            raise InvalidFormat(f"expiry {text!r} has month {month:02d}: expected 01–12")
        last = calendar.monthrange(year, month)[1]
        if day == 0:
            day = last
        if day > last:
            raise InvalidFormat(f"expiry {text!r}: {year}-{month:02d} has no day {day}")
        return cls(dt.date(year, month, day), raw=text)

    @classmethod
    def parse_iso(cls, text: str) -> Expiry:
        """Read ``YYYY-MM-DD``."""
        try:
            return cls(dt.date.fromisoformat(text.strip()), raw=text.strip())
        except ValueError:
            raise InvalidFormat(f"expiry {text!r} is not a date YYYY-MM-DD") from None

    def is_expired_on(self, day: dt.date) -> bool:
        """True when the product may no longer be used on ``day``."""
        return day > self.date

    def __str__(self) -> str:
        return self.date.isoformat()


def _windowed_year(two_digits: int, reference_year: int) -> int:
    """GS1 General Specifications 7.12: resolve a two-digit year around the current year."""
    century = reference_year - reference_year % 100
    difference = two_digits - reference_year % 100
    if 51 <= difference <= 99:
        return century - 100 + two_digits
    if -99 <= difference <= -50:
        return century + 100 + two_digits
    return century + two_digits
