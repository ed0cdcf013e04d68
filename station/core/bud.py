"""Beyond-use dates (USP <797>, 2023) and in-use times of opened containers.

The limits are data (``station/core/data/bud.toml``); this module reads them and does the
arithmetic. Nothing here reads the clock: every time is a timezone-aware ``datetime`` passed in,
and every elapsed time is counted in real hours, so a daylight-saving change never stretches a
limit.

>>> from datetime import datetime, timezone
>>> table = BudTable.load()
>>> table.beyond_use(
...     datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc),
...     CompoundingCategory.CATEGORY_2,
...     Storage.REFRIGERATED,
... ).until.isoformat()
'2025-03-13T09:00:00+00:00'
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import Enum
from importlib.resources import files
from itertools import product
from typing import Any, TypeVar

from station.core.errors import StationError
from station.core.formulary import (
    CompoundedAs,
    CompoundingCategory,
    Container,
    Sterilization,
    Storage,
)

__all__ = [
    "BeyondUse",
    "BudError",
    "BudRow",
    "BudTable",
    "CompoundingCategory",
    "Sterilization",
    "Storage",
]


class BudError(StationError):
    """No beyond-use date can be given: the table has no such row, or an input is unusable."""


_CATEGORY_TEXT = {
    CompoundingCategory.IMMEDIATE_USE: "immediate use",
    CompoundingCategory.CATEGORY_1: "Category 1",
    CompoundingCategory.CATEGORY_2: "Category 2",
    CompoundingCategory.CATEGORY_3: "Category 3",
}
_STERILIZATION_TEXT = {
    Sterilization.ASEPTIC_STERILE_COMPONENTS: "aseptically processed from sterile components only",
    Sterilization.ASEPTIC_NONSTERILE_COMPONENTS: (
        "aseptically processed with one or more nonsterile components"
    ),
    Sterilization.TERMINALLY_STERILIZED: "terminally sterilized",
}
_STORAGE_TEXT = {
    Storage.ROOM: "at controlled room temperature",
    Storage.REFRIGERATED: "refrigerated",
    Storage.FROZEN: "frozen",
}
_OPENED_CONTAINERS = ("single_dose_vial", "single_dose_vial_outside_iso5", "single_dose_ampule",
                      "multi_dose", "pharmacy_bulk_package")
_BUD_FIELDS = frozenset(
    {"category", "sterilization", "sterility_tested", "storage", "hours", "days", "citation"}
)
_OPENED_FIELDS = frozenset({"container", "hours", "days", "citation"})

_Key = tuple[CompoundingCategory, Sterilization, bool, Storage]
_E = TypeVar("_E", bound=Enum)


@dataclass(frozen=True)
class BeyondUse:
    """The moment after which a preparation or opened container must not be used, and why."""

    until: datetime
    rule: str


@dataclass(frozen=True)
class _Limit:
    """A length of time and the source that sets it."""

    duration: timedelta
    citation: str
    wording: str = ""  # the limit as the source writes it; derived from ``duration`` if empty

    @property
    def rule(self) -> str:
        return f"{self.citation}: {self.wording or _describe(self.duration)}"


@dataclass(frozen=True)
class BudRow:
    """One row of the table: the combinations it covers and their limit."""

    category: CompoundingCategory
    sterilizations: frozenset[Sterilization]
    sterility_tested: frozenset[bool]
    storages: frozenset[Storage]
    duration: timedelta
    wording: str
    citation: str

    def covers(self) -> Iterable[_Key]:
        """Yield every (category, sterilization, sterility tested, storage) the row covers."""
        for sterilization, tested, storage in product(
            [s for s in Sterilization if s in self.sterilizations],
            [t for t in (False, True) if t in self.sterility_tested],
            [s for s in Storage if s in self.storages],
        ):
            yield (self.category, sterilization, tested, storage)


@dataclass(frozen=True)
class BudTable:
    """The BUD limits by category, preparation and storage, and the opened-container rules."""

    rows: tuple[BudRow, ...]
    _opened: Mapping[str, _Limit] = field(repr=False, compare=False, hash=False)
    _index: Mapping[_Key, BudRow] = field(repr=False, compare=False, hash=False)

    @classmethod
    def load(cls) -> BudTable:
        """Read the table packaged with ``station.core`` (``data/bud.toml``)."""
        resource = files("station.core") / "data" / "bud.toml"
        return cls.from_mapping(tomllib.loads(resource.read_text(encoding="utf-8")))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> BudTable:
        """Build from a decoded TOML document with ``[[bud]]`` and ``[[opened]]`` arrays."""
        unknown = sorted(set(data) - {"bud", "opened"})
        if unknown:
            raise BudError(f"the BUD table has unknown section(s) {', '.join(unknown)}")
        entries = data.get("bud")
        if not isinstance(entries, list) or not entries:
            raise BudError("the BUD table has no [[bud]] rows")
        rows: list[BudRow] = []
        index: dict[_Key, BudRow] = {}
        for number, entry in enumerate(entries, start=1):
            row = _row_from_mapping(number, entry)
            for key in row.covers():
                if key in index:
                    other = rows.index(index[key]) + 1
                    raise BudError(
                        f"[[bud]] rows {other} and {number} both cover {_describe_key(key)}"
                    )
                index[key] = row
            rows.append(row)
        return cls(tuple(rows), _opened_from_list(data.get("opened")), index)

    def beyond_use(
        self,
        started_at: datetime,
        category: CompoundingCategory,
        storage: Storage,
        *,
        sterilization: Sterilization = Sterilization.ASEPTIC_STERILE_COMPONENTS,
        sterility_tested: bool = False,
        component_expiries: Iterable[date] = (),
    ) -> BeyondUse:
        """Give the BUD of a preparation whose compounding started at ``started_at``.

        The table's limit is counted in elapsed time from ``started_at``; the result is never
        later than the end of the day (in ``started_at``'s timezone) on which the earliest
        component expires, and ``rule`` says which of the two set it.
        """
        zone = _zone_of(started_at, "started_at")
        key = (category, sterilization, sterility_tested, storage)
        row = self._index.get(key)
        if row is None:
            raise BudError(f"USP <797> gives no beyond-use date for {_describe_key(key)}")
        limit = _Limit(row.duration, row.citation, row.wording)
        return _capped(started_at, zone, limit, component_expiries, "component")

    def opened_container_until(
        self,
        first_puncture: datetime,
        *,
        multi_dose: bool = False,
        manufacturer_limit: timedelta | None = None,
        ampule: bool = False,
        expiry: date | None = None,
        container: Container | None = None,
        iso5: bool = True,
        reconstituted_limit: timedelta | None = None,
    ) -> BeyondUse:
        """Give the time until which an opened container may be used.

        ``container`` is the package's kind (or, for older callers, ``multi_dose`` and
        ``ampule``). A multiple-dose container keeps 28 days and a pharmacy bulk package the
        table's time, unless ``manufacturer_limit`` (from its labeling) says otherwise,
        longer or shorter. A single-dose vial keeps 12 hours when first entered in ISO Class 5
        air and 1 hour when not, or the manufacturer's limit when that is shorter; an opened
        ampule must not be kept at all, and a pharmacy bulk package may only be entered in
        ISO Class 5 air. ``reconstituted_limit`` is the labeled time a reconstituted
        solution keeps; it may only shorten the result. ``expiry`` is the container's labeled
        expiry date, usable through the end of that day.
        """
        zone = _zone_of(first_puncture, "first_puncture")
        if container is None:
            if ampule and multi_dose:
                raise BudError("a container cannot be both an ampule and multiple-dose")
            container = (Container.MULTI_DOSE if multi_dose else
                         Container.AMPULE if ampule else Container.SINGLE_DOSE)
        for name, given in (("manufacturer's limit", manufacturer_limit),
                            ("reconstituted solution's limit", reconstituted_limit)):
            if given is not None and given < timedelta(0):
                raise BudError(f"{name} {given} after first puncture is negative")
        if container is Container.PHARMACY_BULK_PACKAGE and not iso5:
            raise BudError("a pharmacy bulk package may be entered only in ISO Class 5 air: "
                           "do not use it")
        row = _OPENED_ROW[container]
        if container is Container.SINGLE_DOSE and not iso5:
            row = "single_dose_vial_outside_iso5"
        limit = self._opened[row]
        labeling_governs = container in {Container.MULTI_DOSE,
                                         Container.PHARMACY_BULK_PACKAGE}
        if manufacturer_limit is not None and labeling_governs:
            limit = _Limit(
                manufacturer_limit,
                f"manufacturer's labeling (instead of the USP <797> default "
                f"{limit.wording or _describe(limit.duration)})",
            )
        elif manufacturer_limit is not None and manufacturer_limit < limit.duration:
            limit = _Limit(manufacturer_limit, "manufacturer's labeling")
        if reconstituted_limit is not None and reconstituted_limit < limit.duration:
            limit = _Limit(reconstituted_limit,
                           "manufacturer's labeling for the reconstituted solution")
        expiries = () if expiry is None else (expiry,)
        return _capped(first_puncture, zone, limit, expiries, "container")

    def preparation_until(
        self,
        started_at: datetime,
        compounded: CompoundedAs,
        *,
        component_expiries: Iterable[date] = (),
        opened_vials: Iterable[BeyondUse] = (),
    ) -> BeyondUse:
        """The BUD of a preparation started at ``started_at``, compounded as ``compounded``.

        USP <797>'s limit for its category, sterilization and storage, counted from the start
        of compounding, capped by the earliest component expiry (end of that day) and by the
        beyond-use time of any opened vial it was drawn from; ``rule`` names what set it.
        """
        bud = self.beyond_use(started_at, compounded.category, compounded.storage,
                              sterilization=compounded.sterilization,
                              sterility_tested=compounded.sterility_tested,
                              component_expiries=component_expiries)
        for vial in opened_vials:
            if vial.until.astimezone(UTC) < bud.until.astimezone(UTC):
                bud = BeyondUse(vial.until.astimezone(started_at.tzinfo),
                                f"an opened vial it was drawn from keeps only until then "
                                f"({vial.rule})")
        return bud


_OPENED_ROW = {
    Container.SINGLE_DOSE: "single_dose_vial",
    Container.AMPULE: "single_dose_ampule",
    Container.MULTI_DOSE: "multi_dose",
    Container.PHARMACY_BULK_PACKAGE: "pharmacy_bulk_package",
}


def _capped(
    start: datetime, zone: tzinfo, limit: _Limit, expiries: Iterable[date], what: str
) -> BeyondUse:
    """Add the limit to ``start`` in elapsed time, capped by the earliest expiry date."""
    until = (start.astimezone(UTC) + limit.duration).astimezone(zone)
    dates = tuple(expiries)
    for expiry in dates:
        if isinstance(expiry, datetime):
            raise BudError(
                f"{what} expiry {expiry.isoformat()} must be a date (usable through that day), "
                "not a datetime"
            )
    earliest = min(dates, default=None)
    if earliest is None:
        return BeyondUse(until, limit.rule)
    end_of_day = datetime.combine(earliest, time.max, tzinfo=zone)
    if end_of_day.astimezone(UTC) < start.astimezone(UTC):
        raise BudError(
            f"{what} expired {earliest.isoformat()}, before {start.isoformat()}; do not use it"
        )
    if end_of_day.astimezone(UTC) < until.astimezone(UTC):
        return BeyondUse(
            end_of_day,
            f"{what} expiry {earliest.isoformat()} (end of day) comes before {limit.rule}",
        )
    return BeyondUse(until, limit.rule)


def _zone_of(moment: datetime, name: str) -> tzinfo:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise BudError(
            f"{name} {moment.isoformat()} has no timezone; pass a timezone-aware datetime"
        )
    return moment.tzinfo


def _describe(duration: timedelta) -> str:
    """Write a duration in its largest whole unit: '4 days', '36 hours', '0 hours'."""
    if duration == timedelta(0):
        return "0 hours"
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1)):
        if duration % timedelta(seconds=size) == timedelta(0):
            count = duration // timedelta(seconds=size)
            return f"{count} {unit}" if count == 1 else f"{count} {unit}s"
    return str(duration)


def _describe_key(key: _Key) -> str:
    category, sterilization, tested, storage = key
    tested_text = "sterility tested" if tested else "not sterility tested"
    return (
        f"{_CATEGORY_TEXT[category]}, {_STERILIZATION_TEXT[sterilization]}, {tested_text}, "
        f"{_STORAGE_TEXT[storage]}"
    )


def _row_from_mapping(number: int, entry: object) -> BudRow:
    where = f"[[bud]] row {number}"
    if not isinstance(entry, Mapping):
        raise BudError(f"{where} is not a table")
    unknown = sorted(set(entry) - _BUD_FIELDS)
    if unknown:
        raise BudError(f"{where}: unknown field(s) {', '.join(unknown)}")
    if "category" not in entry:
        raise BudError(f"{where}: missing field category")
    tested = entry.get("sterility_tested")
    if tested is not None and not isinstance(tested, bool):
        raise BudError(f"{where}: sterility_tested must be true or false, not {tested!r}")
    duration, wording = _duration(entry, where, minimum=1)
    return BudRow(
        category=_one(CompoundingCategory, entry["category"], where, "category"),
        sterilizations=_any_of(Sterilization, entry.get("sterilization"), where, "sterilization"),
        sterility_tested=frozenset({True, False} if tested is None else {tested}),
        storages=_any_of(Storage, entry.get("storage"), where, "storage"),
        duration=duration,
        wording=wording,
        citation=_citation(entry, where),
    )


def _opened_from_list(entries: object) -> dict[str, _Limit]:
    if not isinstance(entries, list):
        raise BudError("the BUD table has no [[opened]] rows")
    opened: dict[str, _Limit] = {}
    for number, entry in enumerate(entries, start=1):
        where = f"[[opened]] row {number}"
        if not isinstance(entry, Mapping):
            raise BudError(f"{where} is not a table")
        unknown = sorted(set(entry) - _OPENED_FIELDS)
        if unknown:
            raise BudError(f"{where}: unknown field(s) {', '.join(unknown)}")
        container = entry.get("container")
        if container not in _OPENED_CONTAINERS:
            raise BudError(
                f"{where}: container {container!r} is not one of {', '.join(_OPENED_CONTAINERS)}"
            )
        if container in opened:
            raise BudError(f"{where}: container {container} appears twice")
        duration, wording = _duration(entry, where, minimum=0)
        opened[container] = _Limit(duration, _citation(entry, where), wording)
    missing = [c for c in _OPENED_CONTAINERS if c not in opened]
    if missing:
        raise BudError(f"the BUD table has no [[opened]] row for {', '.join(missing)}")
    return opened


def _one(kind: type[_E], value: object, where: str, name: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        expected = ", ".join(str(member.value) for member in kind)
        raise BudError(f"{where}: {name} {value!r} is not one of {expected}") from None


def _any_of(kind: type[_E], value: object, where: str, name: str) -> frozenset[_E]:
    """Read a field that is absent (any value), one value or a non-empty list of values."""
    if value is None:
        return frozenset(kind)
    if isinstance(value, list):
        if not value:
            raise BudError(f"{where}: {name} is an empty list; leave it out to mean any")
        return frozenset(_one(kind, v, where, name) for v in value)
    return frozenset({_one(kind, value, where, name)})


def _duration(entry: Mapping[str, Any], where: str, *, minimum: int) -> tuple[timedelta, str]:
    """Read ``hours`` or ``days``: the duration and its wording ('24 hours', '1 day')."""
    given = [unit for unit in ("hours", "days") if unit in entry]
    if len(given) != 1:
        raise BudError(f"{where}: give exactly one of hours or days")
    unit = given[0]
    value = entry[unit]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        lowest = "a positive" if minimum > 0 else "a non-negative"
        raise BudError(f"{where}: {unit} must be {lowest} whole number, not {value!r}")
    wording = f"{value} {unit[:-1] if value == 1 else unit}"
    return (timedelta(hours=value) if unit == "hours" else timedelta(days=value)), wording


def _citation(entry: Mapping[str, Any], where: str) -> str:
    citation = entry.get("citation")
    if not isinstance(citation, str) or not citation.strip():
        raise BudError(f"{where}: missing citation")
    return citation.strip()
