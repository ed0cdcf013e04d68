"""Re-check a whole record: the event chain and every photograph an event refers to."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from station.core.chain import ChainBroken
from station.records.photostore import PhotoStore
from station.records.store import EventStore

#: Payload keys that hold a photo's sha256.
PHOTO_KEYS = ("photo", "photo_sha256")


@dataclass(frozen=True)
class AuditReport:
    """What ``audit verify`` found: the counts, or the first problem."""

    events: int
    preparations: int
    photos: int
    problem: str | None

    @property
    def intact(self) -> bool:
        """True when nothing was wrong."""
        return self.problem is None

    def summary(self) -> str:
        """One line for the command line."""
        if self.problem is not None:
            return self.problem
        return (f"{self.events} events in {self.preparations} preparations, {self.photos} "
                "photos, chain intact")


def photo_hashes(payload: Mapping[str, Any]) -> Iterator[str]:
    """The photo hashes an event's payload names."""
    for key in PHOTO_KEYS:
        value = payload.get(key)
        if isinstance(value, str) and value:
            yield value.removeprefix("sha256:")


def verify_record(store: EventStore, photos: PhotoStore) -> AuditReport:
    """The chain first (every link), then each referenced photo's content hash."""
    try:
        events, preparations = store.verify_chain()
    except ChainBroken as error:
        return AuditReport(0, 0, 0, f"chain broken at {error}")
    checked: set[str] = set()
    for event in store.events():
        for sha256 in photo_hashes(event.payload):
            if sha256 in checked:
                continue
            problem = photos.check(sha256)
            if problem is not None:
                return AuditReport(events, preparations, len(checked),
                                   f"event {event.sequence} ({event.preparation_id}): {problem}")
            checked.add(sha256)
    return AuditReport(events, preparations, len(checked), None)
