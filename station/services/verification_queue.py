"""The pharmacist's queue: every preparation held for verification or an in-process check.

:class:`VerificationQueue` folds the record's ``created``, ``started`` and ``state_changed``
events from every station sharing the database, once, then only those appended since, into
frozen :class:`QueueEntry` records: STAT first, then urgent, then routine, each by due time,
then by how long it has waited. An entry says what is awaited (verification, or an
in-process check while a technician waits at the hood), since when, and at which station.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from station.core.errors import StationError
from station.core.orders import DoseOrder, Priority, Worklist
from station.core.workflow import TERMINAL_PHASES, Phase
from station.records.formulary_versions import FormularyVersions
from station.records.store import EventStore, StoredEvent
from station.services.order_rows import order_row

#: The phases a pharmacist acts on.
AWAITED = frozenset({Phase.AWAITING_VERIFICATION, Phase.AWAITING_CHECK})


@dataclass(frozen=True)
class QueueEntry:
    """One preparation a pharmacist is waited for."""

    preparation_id: str
    phase: Phase
    order_id: str
    priority: Priority
    due: dt.datetime
    patient: str
    drugs: str
    hazardous: bool
    preparer: str
    station_id: str
    held_utc: dt.datetime
    remake_of: str | None = None

    @property
    def stat(self) -> bool:
        """Whether the order is STAT."""
        return self.priority is Priority.STAT

    @property
    def is_check(self) -> bool:
        """Whether an in-process check (not the final verification) is awaited."""
        return self.phase is Phase.AWAITING_CHECK

    def waited(self, now: dt.datetime) -> dt.timedelta:
        """How long it has been held at ``now`` (never negative)."""
        return max(now - self.held_utc, dt.timedelta(0))


def queue_key(entry: QueueEntry) -> tuple[int, dt.datetime, dt.datetime, str]:
    """Priority, then due time, then the longest held, then the id."""
    return (entry.priority.rank, entry.due, entry.held_utc, entry.preparation_id)


@dataclass
class _Known:
    """What the fold keeps of one preparation until it is decided or cancelled."""

    created: Mapping[str, Any]
    preparer: str
    phase: Phase
    station_id: str
    held_utc: dt.datetime
    entry: QueueEntry | None = None


class VerificationQueue:
    """The preparations awaiting a pharmacist, kept current by :meth:`refresh`."""

    def __init__(self, store: EventStore, versions: FormularyVersions | None = None) -> None:
        self._store = store
        self._versions = versions if versions is not None else FormularyVersions(store.engine)
        self._after = 0
        self._known: dict[str, _Known] = {}
        self._entries: tuple[QueueEntry, ...] = ()

    @property
    def last(self) -> int:
        """The sequence number of the last event folded in."""
        return self._after

    @property
    def entries(self) -> tuple[QueueEntry, ...]:
        """The preparations awaiting a pharmacist, in the order to take them."""
        return self._entries

    def entry(self, preparation_id: str) -> QueueEntry | None:
        """The entry of this preparation, if it is in the queue."""
        return next((e for e in self._entries if e.preparation_id == preparation_id), None)

    def refresh(self) -> bool:
        """Fold in the events recorded since the last refresh; True if the queue changed."""
        for event in self._store.events(after=self._after):
            self._fold(event)
            self._after = event.sequence
        entries = tuple(sorted((self._entry_of(pid, known) for pid, known in
                                self._known.items() if known.phase in AWAITED), key=queue_key))
        changed = entries != self._entries
        self._entries = entries
        return changed

    def _fold(self, event: StoredEvent) -> None:
        known = self._known.get(event.preparation_id)
        if event.kind == "created":
            self._known[event.preparation_id] = _Known(
                event.payload, event.user_id, Phase.READY, event.station_id, event.utc)
        elif known is None:
            return
        elif event.kind == "started":
            known.preparer = event.user_id
        elif event.kind == "state_changed":
            phase = Phase(event.payload["to"])
            if phase in TERMINAL_PHASES:
                del self._known[event.preparation_id]
                return
            if phase in AWAITED and phase is not known.phase:
                known.station_id, known.held_utc = event.station_id, event.utc
                known.entry = None
            known.phase = phase

    def _entry_of(self, preparation_id: str, known: _Known) -> QueueEntry:
        if known.entry is None:
            known.entry = self._describe(preparation_id, known)
        return known.entry

    def _describe(self, preparation_id: str, known: _Known) -> QueueEntry:
        created = known.created
        order = _order(created)
        try:
            _version, formulary = self._versions.formulary_of(int(created["formulary_version"]))
            row = order_row(order, formulary)
            drugs, hazardous = row.drugs, row.hazardous
        except (StationError, KeyError, ValueError) as error:
            drugs, hazardous = f"(drug names unavailable: {error})", False
        remake = created.get("remake_of")
        return QueueEntry(
            preparation_id=preparation_id, phase=known.phase, order_id=order.order_id,
            priority=order.priority, due=order.due,
            patient=f"{order.patient.name} · {order.patient.location}", drugs=drugs,
            hazardous=hazardous, preparer=known.preparer, station_id=known.station_id,
            held_utc=known.held_utc.astimezone(dt.UTC),
            remake_of=str(remake) if remake is not None else None)


def _order(created: Mapping[str, Any]) -> DoseOrder:
    return next(iter(Worklist.from_mapping({"order": [created["order"]]})))
