"""Opened vials: what one is, and whether it may still be used at a given time.

USP <797> (2023): a single-dose vial opened in ISO Class 5 air may be used up to 12 hours
after first puncture; a multiple-dose vial 28 days, unless the manufacturer's labeling says
otherwise. :meth:`station.core.bud.BudTable.opened_container_until` does that arithmetic when
the vial is opened; an :class:`OpenedVial` carries the result (its beyond-use time and the
rule that gave it), and :func:`check` says whether it may be used now: not after its
beyond-use time, not once discarded, not when empty.

Each kept vial has its own short id (``OV-`` and a number, given by the record), printed on
the vial's label as a DataMatrix of :func:`vial_code`; scanning that label finds the vial
again even when its maker's barcode carries no serial. The code text starts with ``VIAL:``,
which no product barcode the station reads can start with (a GS1 element string starts with
digits or ``(``, an NDC or UPC with digits, HIBC with ``+``), so it is never taken for one.

>>> vial_code("OV-17")
'VIAL:OV-17'
>>> key_from_vial_code("]d1VIAL:OV-17"), key_from_vial_code("0304094888026")
('OV-17', None)

Pure: nothing here reads the clock or storage; the punctures, draws and discards are stored
by :mod:`station.records.opened_vials`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from station.core.errors import StationError
from station.core.formulary import Container
from station.core.identifiers import Ndc
from station.core.scan import split_symbology

#: What every vial id starts with; the record numbers them ``OV-1``, ``OV-2`` ...
VIAL_ID_PREFIX = "OV-"
#: What the text of an opened-vial label's DataMatrix starts with.
VIAL_CODE_PREFIX = "VIAL:"
_VIAL_ID = re.compile(r"OV-[1-9][0-9]{0,11}")


class OpenedVialError(StationError):
    """An opened-vial change that cannot be made: unknown vial, too large a draw, expired."""


@dataclass(frozen=True)
class OpenedVial:
    """One opened vial, folded from its events."""

    key: str
    ndc: Ndc
    product_name: str
    lot: str
    serial: str
    multi_dose: bool
    punctured_at: dt.datetime
    beyond_use: dt.datetime
    rule: str
    opened_ml: Decimal
    remaining_ml: Decimal
    discarded_at: dt.datetime | None = None
    discard_reason: str | None = None
    expiry: dt.date | None = None
    punctured_by: str = ""
    station_id: str = ""
    iso5: bool = True
    container: Container | None = None
    gtin: str = ""
    reconstituted: bool = False

    @property
    def in_use(self) -> VialInUse:
        """What a preparation drawn from this vial records of it."""
        return VialInUse(self.key, self.punctured_at, self.beyond_use, self.rule)

    @property
    def code(self) -> str:
        """The text of the DataMatrix on the vial's label."""
        return vial_code(self.key)

    @property
    def label(self) -> str:
        """The vial as a technician reads it: its id (when it has one), product, lot, serial."""
        if is_vial_id(self.key):
            serial = f", serial {self.serial}" if self.serial else ""
            return f"{self.key} ({self.product_name}, NDC {self.ndc}, lot {self.lot}{serial})"
        serial = f" serial {self.serial}" if self.serial else ""
        return f"{self.product_name} (NDC {self.ndc}) lot {self.lot}{serial}"

    def expired(self, now: dt.datetime) -> bool:
        """True when ``now`` is after the beyond-use time."""
        return aware(now, "now").astimezone(dt.UTC) > self.beyond_use.astimezone(dt.UTC)


@dataclass(frozen=True)
class VialInUse:
    """An opened vial a draw came from: its id, first puncture and beyond-use time."""

    key: str
    punctured_at: dt.datetime
    beyond_use: dt.datetime
    rule: str


def is_vial_id(key: str) -> bool:
    """True for a vial id the record gives (``OV-`` and a number)."""
    return _VIAL_ID.fullmatch(key) is not None


def vial_code(key: str) -> str:
    """The text of the DataMatrix on the label of the vial with id ``key``."""
    if not is_vial_id(key):
        raise OpenedVialError(f"{key!r} is not an opened-vial id (OV- and a number)")
    return VIAL_CODE_PREFIX + key


def key_from_vial_code(text: str) -> str | None:
    """The vial id an opened-vial label's code carries; None when ``text`` is not such a code.

    The scanner's symbology identifier (``]d1``, ``]C0`` ...), if any, and blanks around the
    text are ignored.
    """
    _, data = split_symbology(text.strip("\r\n\t "))
    if not data.startswith(VIAL_CODE_PREFIX):
        return None
    key = data[len(VIAL_CODE_PREFIX):].strip()
    return key if is_vial_id(key) else None


def check(vial: OpenedVial, now: dt.datetime) -> str | None:
    """Why the vial must not be used at ``now`` (a refusal to show), or None when it may be."""
    if vial.discarded_at is not None:
        return (f"opened vial {vial.label} was discarded at "
                f"{site_minute(vial.discarded_at, vial.beyond_use)}: take another vial")
    if vial.expired(now):
        return (f"opened vial {vial.label}, first punctured "
                f"{site_minute(vial.punctured_at, vial.beyond_use)}, is past its beyond-use "
                f"time {site_minute(vial.beyond_use, vial.beyond_use)} ({vial.rule}): "
                "discard it")
    if vial.remaining_ml <= 0:
        return f"opened vial {vial.label} is empty: discard it"
    return None


def aware(moment: dt.datetime, name: str) -> dt.datetime:
    """``moment`` if it has a timezone; otherwise :class:`OpenedVialError` naming it ``name``.

    >>> aware(dt.datetime(2026, 11, 26, 9, 30), "punctured_at")
    Traceback (most recent call last):
    ...
    station.core.opened_vials.OpenedVialError: punctured_at 2026-11-26T09:30:00 has no timezone
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise OpenedVialError(f"{name} {moment.isoformat()} has no timezone")
    return moment


def site_minute(moment: dt.datetime, like: dt.datetime) -> str:
    """``moment`` in the zone of ``like`` (the site's), to the minute.

    >>> site = dt.timezone(dt.timedelta(hours=-6))
    >>> site_minute(dt.datetime(2026, 11, 26, 15, 30, 59, tzinfo=dt.UTC),
    ...             dt.datetime(2026, 11, 26, 21, 30, tzinfo=site))
    '2026-11-26T09:30-06:00'
    """
    zone = like.tzinfo
    return moment.astimezone(zone).isoformat(timespec="minutes")
