"""The auditor's record work on its own thread: search, chain verification, replays, CSV.

:class:`AuditWorker` is a QObject with no parent, moved to its own thread by
:class:`~ui.workers.devices.DeviceThreads` (``start`` and ``stop`` slots). The GUI asks through the
``…_requested`` signals (queued to the worker's thread, handled in order) and hears back:

- ``searched(SearchResult)`` or ``search_failed(SearchQuery, why)``;
- ``verified(AuditReport)`` or ``verify_failed(why)``: :func:`verify_record` over the whole
  record (the chain, then every photo), run once at start and again on request;
- ``replay_loaded(Replay)`` or ``replay_failed(preparation_id, why)``: a preparation's
  :class:`~station.services.review.PreparationReview` with every photo it names, read and decoded;
- ``exported(path, rows)`` or ``export_failed(path, why)``: the CSV written.

The summaries the searches filter are folded once per state of the record (its head) and
again after every check, so searching again reads only the head until something is recorded.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QImage
from sqlalchemy.exc import SQLAlchemyError

from station.core.errors import StationError
from station.core.quantities import Tolerance
from station.records.audit import verify_record
from station.records.photostore import digest
from station.records.record import Record
from station.records.search import PreparationSummary, search, summaries, write_csv
from station.services.preparations import PreparationService
from station.services.review import PreparationReview, review_preparation
from ui.workers.devices import _release_to_main_thread

_log = logging.getLogger(__name__)

#: What a record read may raise that the auditor should read about instead of a crash.
_EXPECTED = (StationError, SQLAlchemyError, OSError, ValueError, KeyError, TypeError)

T = TypeVar("T")
_UNUSED_TOLERANCE = Tolerance(Decimal("0.05"))


@dataclass(frozen=True)
class SearchQuery:
    """The keys an auditor filled in; None (or empty) keys are not searched on."""

    patient: str | None = None
    drug: str | None = None
    ndc: str | None = None
    lot: str | None = None
    technician: str | None = None
    pharmacist: str | None = None
    station: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    outcome: str | None = None

    def keys(self) -> dict[str, Any]:
        """The keyword arguments of :func:`station.records.search.search` given."""
        return {f.name: value for f in fields(self)
                if (value := getattr(self, f.name)) is not None and value != ""}

    def describe(self) -> str:
        """``lot N4265K, outcome verified``, or ``every preparation``."""
        keys = self.keys()
        return ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in keys.items()
                         ) or "every preparation"


@dataclass(frozen=True)
class SearchResult:
    """The preparations matching ``query``, oldest first, out of ``total`` in the record."""

    query: SearchQuery
    found: tuple[PreparationSummary, ...]
    total: int


@dataclass(frozen=True)
class Replay:
    """One preparation as recorded, with its photos decoded (or what is wrong with each)."""

    review: PreparationReview
    photos: Mapping[str, QImage]
    photo_problems: Mapping[str, str]


@dataclass(frozen=True)
class _Failure:
    why: str


class AuditWorker(QObject):
    """Reads the record on the worker's thread; see the module's description."""

    searched = Signal(object)  # SearchResult
    search_failed = Signal(object, str)  # SearchQuery, why
    verified = Signal(object)  # station.records.audit.AuditReport
    verify_failed = Signal(str)
    replay_loaded = Signal(object)  # Replay
    replay_failed = Signal(str, str)  # preparation id, why
    exported = Signal(str, int)  # path, rows written
    export_failed = Signal(str, str)  # path, why

    search_requested = Signal(object)  # emit from the GUI: a SearchQuery
    verify_requested = Signal()  # emit from the GUI: re-check the whole record
    replay_requested = Signal(str)  # emit from the GUI: a preparation id
    export_requested = Signal(str, object)  # emit from the GUI: path, PreparationSummary tuple

    def __init__(self, record: Record, *, name: str = "audit") -> None:
        super().__init__()
        self.setObjectName(name)
        self._record = record
        self._reader: PreparationService | None = None
        self._folded: tuple[str, list[PreparationSummary]] | None = None
        self._stopped = False
        self.search_requested.connect(self.run_search)
        self.verify_requested.connect(self.verify)
        self.replay_requested.connect(self.load_replay)
        self.export_requested.connect(self.export)

    # ------------------------------------------------------------ lifetime

    @Slot()
    def start(self) -> None:
        """Check the record's chain straight away (on the worker's thread)."""
        self._stopped = False
        self.verify()

    @Slot()
    def stop(self) -> None:
        """Take no more requests and hand the worker back to the main thread."""
        self._stopped = True
        _release_to_main_thread(self)

    # ------------------------------------------------------------ requests

    @Slot(object)
    def run_search(self, query: SearchQuery) -> None:
        """Filter the record's summaries by ``query``; ``searched`` or ``search_failed``."""
        if self._stopped:
            return
        outcome = self._attempt(lambda: self._search(query))
        if isinstance(outcome, _Failure):
            self.search_failed.emit(query, outcome.why)
        else:
            self.searched.emit(outcome)

    @Slot()
    def verify(self) -> None:
        """Re-check the chain and every photo; ``verified`` or ``verify_failed``."""
        if self._stopped:
            return
        record = self._record
        self._folded = None  # an edit behind the store's back leaves the head as it was
        outcome = self._attempt(lambda: verify_record(record.events, record.photos))
        if isinstance(outcome, _Failure):
            self.verify_failed.emit(outcome.why)
        else:
            self.verified.emit(outcome)

    @Slot(str)
    def load_replay(self, preparation_id: str) -> None:
        """Review one preparation and read its photos; ``replay_loaded`` or ``replay_failed``."""
        if self._stopped:
            return
        outcome = self._attempt(lambda: self._replay(preparation_id))
        if isinstance(outcome, _Failure):
            self.replay_failed.emit(preparation_id, outcome.why)
        else:
            self.replay_loaded.emit(outcome)

    @Slot(str, object)
    def export(self, path: str, found: tuple[PreparationSummary, ...]) -> None:
        """Write ``found`` as CSV to ``path``; ``exported`` or ``export_failed``."""
        if self._stopped:
            return
        outcome = self._attempt(lambda: _write(Path(path), found))
        if isinstance(outcome, _Failure):
            self.export_failed.emit(path, outcome.why)
        else:
            self.exported.emit(path, outcome)

    # ------------------------------------------------------------ work

    def _search(self, query: SearchQuery) -> SearchResult:
        everything = self._summaries()
        return SearchResult(query, tuple(search(everything, **query.keys())), len(everything))

    def _summaries(self) -> list[PreparationSummary]:
        head = self._record.events.head().hash
        if self._folded is None or self._folded[0] != head:
            self._folded = (head, summaries(self._record.events, self._service().versions))
        return self._folded[1]

    def _replay(self, preparation_id: str) -> Replay:
        review = review_preparation(self._service(), preparation_id)
        images: dict[str, QImage] = {}
        problems: dict[str, str] = {}
        for sha256 in dict.fromkeys(e.photo for e in review.timeline if e.photo):
            try:
                data = self._record.photos.get(sha256)
            except StationError as error:
                problems[sha256] = str(error)
                continue
            image = QImage.fromData(data)
            if image.isNull():
                problems[sha256] = f"photo {sha256[:12]}… is not a readable image"
                continue
            images[sha256] = image
            if digest(data) != sha256:
                problems[sha256] = (f"photo {sha256[:12]}… does not match its hash: "
                                    "it was changed after it was taken")
        return Replay(review, images, problems)

    def _service(self) -> PreparationService:
        """A read-only service (formulary versions parsed once); it records nothing."""
        if self._reader is None:
            # A review reads each preparation's own site tolerance from its record.
            self._reader = PreparationService(self._record, station_id=self.objectName(),
                                              site_tolerance=_UNUSED_TOLERANCE,
                                              clock=_no_clock)
        return self._reader

    def _attempt(self, work: Callable[[], T]) -> T | _Failure:
        """``work()``, or what went wrong in one line (logged with its traceback)."""
        try:
            return work()
        except _EXPECTED as error:
            _log.warning("%s: %s", self.objectName(), error, exc_info=True)
            return _Failure(str(error).splitlines()[0] if str(error) else type(error).__name__)


def _write(path: Path, found: tuple[PreparationSummary, ...]) -> int:
    with path.open("w", encoding="utf-8", newline="") as out:
        return write_csv(found, out)


def _no_clock() -> dt.datetime:
    raise StationError("the audit replay records nothing, so it has no clock")
