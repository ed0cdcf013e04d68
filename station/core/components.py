"""Every component fully identified: a lot and an expiry for each drug, diluent and base.

A package is accepted at a scan step only when its lot and its expiry are known, because
the expiry check and the recall check need them, and a later recall can only find the
preparations that recorded the lot. Many vials carry only a linear NDC barcode (UPC-A),
which holds neither, so the station takes them from one of four sources, and the record
keeps which (:class:`LotSource`):

- the package's own GS1 barcode (a DataMatrix, or a GS1-128 with AIs 10 and 17);
- the printed LOT and EXP text, read by the camera (OCR), shown to the technician and
  confirmed by them against the package;
- typed by the technician twice, blind: the second entry does not show the first, so a
  mistyped character is caught instead of copied;
- the station's own label on an opened vial, whose lot and expiry were recorded when the
  vial was first punctured (from one of the three above).

Lots and expiries that did not come from a barcode are flagged for the verifying pharmacist.
Whatever the source, the expiry and recall checks run on every accepted component.

>>> typed_twice("ab1234", "2028-02-29", " AB1234", "2028-02-29")
(Lot(value='AB1234'), Expiry(date=datetime.date(2028, 2, 29), raw='2028-02-29'))
>>> typed_twice("AB1234", "2028-02-29", "AB1284", "2028-02-29")
Traceback (most recent call last):
...
station.core.components.ComponentError: the two lots typed differ (AB1234, then AB1284): \
type both again from the package
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from enum import Enum

from station.core.errors import InvalidFormat, StationError
from station.core.identifiers import Expiry, Lot
from station.core.scan import ScanIdentity


class ComponentError(StationError):
    """A lot or expiry given for a component that cannot be accepted as it stands."""


class LotSource(Enum):
    """Where an accepted component's lot and expiry came from; the value is its record key."""

    BARCODE = "barcode"
    PRINTED_TEXT = "printed_text"
    TYPED = "typed"
    OPENED_VIAL = "opened_vial"

    @property
    def words(self) -> str:
        """How the pharmacist and the auditor read it."""
        return _WORDS[self]

    @property
    def flagged(self) -> bool:
        """True when no barcode carried the lot and expiry: the pharmacist checks them."""
        return self in {LotSource.PRINTED_TEXT, LotSource.TYPED}


_WORDS = {
    LotSource.BARCODE: "from the barcode",
    LotSource.PRINTED_TEXT: "read from the printed label by the camera, confirmed by the "
                            "technician",
    LotSource.TYPED: "typed twice by the technician",
    LotSource.OPENED_VIAL: "from the opened-vial record",
}


def missing_identification(identity: ScanIdentity) -> str | None:
    """What the scan lacks before its package may be accepted, or None when it lacks nothing.

    >>> from station.core.scan import parse_scan
    >>> missing_identification(parse_scan("]E0304094888026", 2026))
    'the barcode carries no lot and no expiry'
    """
    lacking = [name for name, value in (("lot", identity.lot), ("expiry", identity.expiry))
               if value is None]
    if not lacking:
        return None
    return "the barcode carries no " + " and no ".join(lacking)


def parse_typed_expiry(text: str) -> Expiry:
    """Read an expiry as a technician types it from a package.

    ``YYYY-MM-DD``, or ``YYYY-MM`` / ``MM/YYYY`` for a package that prints only the month
    (usable through the last day of that month, as GS1 reads day 00).

    >>> parse_typed_expiry("2028-02").date, parse_typed_expiry("02/2028").date
    (datetime.date(2028, 2, 29), datetime.date(2028, 2, 29))
    >>> parse_typed_expiry("28-02")
    Traceback (most recent call last):
    ...
    station.core.components.ComponentError: expiry '28-02' is not a date: type it as \
YYYY-MM-DD, YYYY-MM or MM/YYYY
    """
    cleaned = text.strip()
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", cleaned)
    try:
        if match:
            return Expiry(dt.date(*(int(g) for g in match.groups())), raw=cleaned)
        month_only = re.fullmatch(r"(\d{4})-(\d{2})", cleaned) or re.fullmatch(
            r"(\d{2})/(\d{4})", cleaned)
        if month_only:
            first, second = (int(g) for g in month_only.groups())
            year, month = (first, second) if first > 12 else (second, first)
            last = calendar.monthrange(year, month)[1]
            return Expiry(dt.date(year, month, last), raw=cleaned)
    except (ValueError, calendar.IllegalMonthError):
        raise ComponentError(f"expiry {cleaned!r} is not a real date") from None
    raise ComponentError(
        f"expiry {cleaned!r} is not a date: type it as YYYY-MM-DD, YYYY-MM or MM/YYYY")


def parse_typed_lot(text: str) -> Lot:
    """A lot as typed: spaces around it dropped, letters upper-cased, GS1 AI 10 characters."""
    cleaned = text.strip().upper()
    if not cleaned:
        raise ComponentError("no lot was typed: type the lot printed on the package")
    try:
        return Lot(cleaned)
    except InvalidFormat as error:
        raise ComponentError(f"lot {cleaned!r} cannot be recorded: {error}") from None


def typed_twice(first_lot: str, first_expiry: str, second_lot: str,
                second_expiry: str) -> tuple[Lot, Expiry]:
    """The lot and expiry a technician typed twice, blind; both entries must agree."""
    lots = parse_typed_lot(first_lot), parse_typed_lot(second_lot)
    if lots[0] != lots[1]:
        raise ComponentError(f"the two lots typed differ ({lots[0]}, then {lots[1]}): type both "
                             "again from the package")
    expiries = parse_typed_expiry(first_expiry), parse_typed_expiry(second_expiry)
    if expiries[0].date != expiries[1].date:
        raise ComponentError(f"the two expiries typed differ ({expiries[0]}, then "
                             f"{expiries[1]}): type both again from the package")
    return lots[0], expiries[0]
