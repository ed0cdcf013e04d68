"""The event store: append-only, chained, with optimistic concurrency per preparation.

:meth:`EventStore.append` runs one transaction: take the append lock (``BEGIN IMMEDIATE``
on SQLite, an advisory transaction lock on PostgreSQL), read the chain head and the
preparation's version, refuse a stale ``expected_version``, insert the next link. An event
counts as recorded only when that transaction has committed, which is when ``append``
returns. Nothing is ever updated or deleted; the database refuses it too.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, func, insert, select, text
from sqlalchemy.engine import Connection, Row

from station.core.chain import ChainLink, canonical, verify_links
from station.core.errors import StationError
from station.records.schema import events

# Any constant will do: every append takes this one advisory lock on PostgreSQL.
_APPEND_LOCK = 0x5354_4154_494F_4E

# Built once: constructing a statement per append cost more than the append's own I/O.
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_VERSION = select(func.max(events.c.version)).where(
    events.c.preparation_id == bindparam("preparation_id"))
_HEAD = (select(events.c.sequence, events.c.hash, events.c.previous_hash)
         .order_by(events.c.sequence.desc()).limit(1))
_INSERT = insert(events)


class ConcurrencyConflict(StationError):
    """Someone else appended to this preparation since it was read."""


@dataclass(frozen=True)
class NewEvent:
    """An event to record."""

    preparation_id: str
    kind: str
    payload: Mapping[str, Any]
    user_id: str
    station_id: str
    recorded_at: dt.datetime

    def __post_init__(self) -> None:
        if self.recorded_at.tzinfo is None:
            raise ValueError("recorded_at needs a UTC offset")


@dataclass(frozen=True)
class StoredEvent:
    """A recorded event, with its place in the chain."""

    sequence: int
    previous_hash: str
    hash: str
    preparation_id: str
    version: int
    kind: str
    station_id: str
    user_id: str
    recorded_at: str
    payload: Mapping[str, Any]

    def hashed_fields(self) -> dict[str, Any]:
        """What the event's hash is taken over."""
        return hashed_fields(self.preparation_id, self.version, self.kind, self.station_id,
                             self.user_id, self.recorded_at, self.payload)

    @property
    def utc(self) -> dt.datetime:
        """When it was recorded."""
        return dt.datetime.fromisoformat(self.recorded_at)


def hashed_fields(
    preparation_id: str,
    version: int,
    kind: str,
    station_id: str,
    user_id: str,
    recorded_at: str,
    payload: Mapping[str, Any],
) -> dict[str, Any]:
    """The canonical field set of an event."""
    return {
        "preparation_id": preparation_id,
        "version": version,
        "kind": kind,
        "station_id": station_id,
        "user_id": user_id,
        "recorded_at": recorded_at,
        "payload": payload,
    }


class EventStore:
    """Preparation events on one database (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    def append(self, event: NewEvent, expected_version: int) -> StoredEvent:
        """Record ``event`` as version ``expected_version + 1`` of its preparation."""
        return self.append_all([event], expected_version)[0]

    def append_all(self, batch: Sequence[NewEvent], expected_version: int) -> list[StoredEvent]:
        """Record events of one preparation together, in one transaction, or none of them."""
        if not batch or len({e.preparation_id for e in batch}) != 1:
            raise ValueError("append_all takes one or more events of one preparation")
        preparation_id = batch[0].preparation_id
        stored: list[StoredEvent] = []
        with self.engine.begin() as connection:
            if self._postgres:
                connection.execute(_LOCK, {"key": _APPEND_LOCK})
            current = self._version(connection, preparation_id)
            if current != expected_version:
                raise ConcurrencyConflict(
                    f"preparation {preparation_id} is at version {current}, not "
                    f"{expected_version}: reload it and try again"
                )
            head = self._head(connection)
            for offset, event in enumerate(batch, start=1):
                recorded_at = event.recorded_at.astimezone(dt.UTC).isoformat()
                payload = json.loads(canonical(event.payload))  # plain JSON values from here on
                version = current + offset
                fields = hashed_fields(preparation_id, version, event.kind, event.station_id,
                                       event.user_id, recorded_at, payload)
                head = head.next(fields)
                connection.execute(_INSERT, {
                    "sequence": head.sequence, "previous_hash": head.previous,
                    "hash": head.hash, "preparation_id": preparation_id, "version": version,
                    "kind": event.kind, "station_id": event.station_id,
                    "user_id": event.user_id, "recorded_at": recorded_at,
                    "payload": canonical(payload).decode("utf-8"),
                })
                stored.append(StoredEvent(head.sequence, head.previous, head.hash,
                                          preparation_id, version, event.kind,
                                          event.station_id, event.user_id, recorded_at,
                                          payload))
        return stored

    @staticmethod
    def _version(connection: Connection, preparation_id: str) -> int:
        found = connection.execute(_VERSION, {"preparation_id": preparation_id}).scalar()
        return int(found or 0)

    @staticmethod
    def _head(connection: Connection) -> ChainLink:
        row = connection.execute(_HEAD).first()
        if row is None:
            return ChainLink.first()
        return ChainLink(int(row.sequence), str(row.hash), str(row.previous_hash))

    def head(self) -> ChainLink:
        """The newest link of the chain."""
        with self.engine.connect() as connection:
            return self._head(connection)

    def version_of(self, preparation_id: str) -> int:
        """How many events the preparation has."""
        with self.engine.connect() as connection:
            return self._version(connection, preparation_id)

    def events_of(self, preparation_id: str) -> list[StoredEvent]:
        """A preparation's events, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(events).where(events.c.preparation_id == preparation_id)
                .order_by(events.c.version)
            )
            return [_stored(row) for row in rows]

    def events(self, after: int = 0, batch: int = 2000) -> Iterator[StoredEvent]:
        """Every event with a sequence number above ``after``, in chain order."""
        last = after
        while True:
            with self.engine.connect() as connection:
                rows = connection.execute(
                    select(events).where(events.c.sequence > last)
                    .order_by(events.c.sequence).limit(batch)
                ).all()
            if not rows:
                return
            for row in rows:
                yield _stored(row)
            last = int(rows[-1].sequence)

    def verify_chain(self) -> tuple[int, int]:
        """Re-check every link; (events, preparations), or :class:`ChainBroken`."""
        preparations: set[str] = set()
        count = 0

        def rows() -> Iterator[tuple[int, str, str, Mapping[str, Any]]]:
            nonlocal count
            for event in self.events():
                count += 1
                preparations.add(event.preparation_id)
                yield event.sequence, event.previous_hash, event.hash, event.hashed_fields()

        verify_links(rows())
        return count, len(preparations)


def _stored(row: Row[Any]) -> StoredEvent:
    return StoredEvent(int(row.sequence), row.previous_hash, row.hash, row.preparation_id,
                       int(row.version), row.kind, row.station_id, row.user_id,
                       row.recorded_at, json.loads(row.payload))
