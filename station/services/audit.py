"""The auditor's reading of the record: its check, the search, the CSV export, a replay's photos.

:class:`AuditService` reads one record and records nothing:

- :meth:`~AuditService.verify`: the hash chain, then every photo an event names
  (:func:`station.records.audit.verify_record`), as an :class:`AuditReport`;
- :meth:`~AuditService.search`: the preparations matching an auditor's keys
  (:func:`station.records.search.search`) among the summaries of every preparation, which are
  folded once per state of the record (its head) and again after every check;
- :meth:`~AuditService.export_csv`: summaries written as CSV;
- :meth:`~AuditService.review` and :meth:`~AuditService.replay_photos`: one preparation as
  recorded, and every photo its timeline names, each checked against its hash
  (:func:`station.services.photos.read_photo`).

The values the audit screens show (:class:`AuditReport`, :class:`PreparationSummary`, the
outcomes a search can ask for) are defined with the storage that makes them and named here,
so that the screens reach the record only through this module.

One service belongs to one thread at a time (the audit worker's).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from station.core.errors import StationError
from station.records.audit import AuditReport, verify_record
from station.records.record import Record
from station.records.search import (
    AWAITING_VERIFICATION,
    CANCELLED,
    IN_PROGRESS,
    OUTCOMES,
    REJECTED,
    VERIFIED,
    PreparationSummary,
    SearchError,
    search,
    summaries,
    write_csv,
)
from station.services.photos import StoredPhoto, read_photo
from station.services.preparations import PreparationService
from station.services.review.build import review_preparation
from station.services.review.model import PreparationReview

__all__ = [
    "AWAITING_VERIFICATION",
    "CANCELLED",
    "IN_PROGRESS",
    "OUTCOMES",
    "REJECTED",
    "VERIFIED",
    "AuditReport",
    "AuditService",
    "Found",
    "PreparationSummary",
    "SearchError",
    "StoredPhoto",
]


@dataclass(frozen=True)
class Found:
    """The preparations a search matched, oldest first, out of ``total`` in the record."""

    matches: tuple[PreparationSummary, ...]
    total: int


class AuditService:
    """Reads one record for an auditor; see the module's description.

    ``station_id`` names the reader; nothing is recorded under it.
    """

    def __init__(self, record: Record, *, station_id: str = "audit") -> None:
        self._record = record
        self._station_id = station_id
        self._reader: PreparationService | None = None
        self._folded: tuple[str, list[PreparationSummary]] | None = None

    def verify(self) -> AuditReport:
        """Re-check the chain and every photo; the summaries are folded again afterwards."""
        self._folded = None  # an edit behind the store's back leaves the head as it was
        return verify_record(self._record.events, self._record.photos)

    def summaries(self) -> list[PreparationSummary]:
        """Every preparation's summary, oldest first (folded again when the head moved)."""
        head = self._record.events.head().hash
        if self._folded is None or self._folded[0] != head:
            self._folded = (head, summaries(self._record.events, self._service().versions))
        return self._folded[1]

    def search(self, **keys: Any) -> Found:
        """The summaries matching every key given (:func:`station.records.search.search`)."""
        everything = self.summaries()
        return Found(tuple(search(everything, **keys)), len(everything))

    def export_csv(self, path: Path, found: Iterable[PreparationSummary]) -> int:
        """Write ``found`` to ``path`` as CSV; how many rows."""
        with path.open("w", encoding="utf-8", newline="") as out:
            return write_csv(found, out)

    def review(self, preparation_id: str) -> PreparationReview:
        """One preparation's whole record, as the review and replay screens show it."""
        return review_preparation(self._service(), preparation_id)

    def replay_photos(self, review: PreparationReview) -> dict[str, StoredPhoto | str]:
        """Every photo the review's timeline names, once each, in order.

        Each is the :class:`StoredPhoto` (its ``intact`` says whether it still matches its
        hash) or, when the store has no such photo, why in one line.
        """
        found: dict[str, StoredPhoto | str] = {}
        for sha256 in dict.fromkeys(e.photo for e in review.timeline if e.photo):
            try:
                found[sha256] = read_photo(self._record.photos, sha256)
            except StationError as error:
                found[sha256] = str(error)
        return found

    def _service(self) -> PreparationService:
        """A read-only service (formulary versions parsed once); it records nothing."""
        if self._reader is None:
            # A review reads each preparation's own site tolerance from its record.
            self._reader = PreparationService(self._record, station_id=self._station_id,
                                              site_tolerance=None, clock=_no_clock)
        return self._reader


def _no_clock() -> dt.datetime:
    raise StationError("the audit replay records nothing, so it has no clock")
