"""Opened vials: what one is, and whether it may still be used at a given time.

USP <797> (2023): a single-dose vial opened in ISO Class 5 air may be used up to 12 hours
after first puncture; a multiple-dose vial 28 days, unless the manufacturer's labeling says
otherwise. :meth:`station.core.bud.BudTable.opened_container_until` does that arithmetic when
the vial is opened; an :class:`OpenedVial` carries the result (its beyond-use time and the
rule that gave it), and :func:`check` says whether it may be used now: not after its
beyond-use time, not once discarded, not when empty.

Pure: nothing here reads the clock or storage; the punctures, draws and discards are stored
by :mod:`station.records.opened_vials`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from station.core.errors import StationError
from station.core.identifiers import Ndc


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

    @property
    def label(self) -> str:
        """The vial as a technician reads it."""
        return f"{self.product_name} (NDC {self.ndc}) lot {self.lot} serial {self.serial}"

    def expired(self, now: dt.datetime) -> bool:
        """True when ``now`` is after the beyond-use time."""
        return aware(now, "now").astimezone(dt.UTC) > self.beyond_use.astimezone(dt.UTC)


def check(vial: OpenedVial, now: dt.datetime) -> str | None:
    """Why the vial must not be used at ``now`` (a refusal to show), or None when it may be."""
    if vial.discarded_at is not None:
        return (f"opened vial {vial.label} was discarded at "
                f"{site_minute(vial.discarded_at, vial.beyond_use)}: take another vial")
    if vial.expired(now):
        return (f"opened vial expired at {site_minute(vial.beyond_use, vial.beyond_use)}: "
                f"discard it ({vial.label}; {vial.rule})")
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
