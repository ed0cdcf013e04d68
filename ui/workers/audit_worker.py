"""The auditor's record work on its own thread: search, chain verification, replays, CSV.

:class:`AuditWorker` is a QObject with no parent, moved to its own thread by
:class:`~ui.workers.devices.DeviceThreads` (``start`` and ``stop`` slots). The GUI asks through the
``…_requested`` signals (queued to the worker's thread, handled in order) and hears back:

- ``searched(SearchResult)`` or ``search_failed(SearchQuery, why)``;
- ``verified(AuditReport)`` or ``verify_failed(why)``: :meth:`AuditService.verify` over the
  whole record (the chain, then every photo), run once at start and again on request;
- ``replay_loaded(Replay)`` or ``replay_failed(preparation_id, why)``: a preparation's
  :class:`~station.services.review.model.PreparationReview` with every photo it names, read and
  decoded;
- ``exported(path, rows)`` or ``export_failed(path, why)``: the CSV written.

The worker reads the record only through its :class:`~station.services.audit.AuditService`,
which folds the summaries the searches filter once per state of the record (its head) and
again after every check, so searching again reads only the head until something is recorded.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QImage
from sqlalchemy.exc import SQLAlchemyError

from station.core.errors import StationError
from station.services.audit import AuditService, PreparationSummary
from station.services.review.model import PreparationReview
from ui.workers.devices import _release_to_main_thread

_log = logging.getLogger(__name__)

#: What a record read may raise that the auditor should read about instead of a crash.
_EXPECTED = (StationError, SQLAlchemyError, OSError, ValueError, KeyError, TypeError)

T = TypeVar("T")


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
        """The keyword arguments of :meth:`AuditService.search` given."""
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
    verified = Signal(object)  # station.services.audit.AuditReport
    verify_failed = Signal(str)
    replay_loaded = Signal(object)  # Replay
    replay_failed = Signal(str, str)  # preparation id, why
    exported = Signal(str, int)  # path, rows written
    export_failed = Signal(str, str)  # path, why

    search_requested = Signal(object)  # emit from the GUI: a SearchQuery
    verify_requested = Signal()  # emit from the GUI: re-check the whole record
    replay_requested = Signal(str)  # emit from the GUI: a preparation id
    export_requested = Signal(str, object)  # emit from the GUI: path, PreparationSummary tuple

    def __init__(self, audit: AuditService, *, name: str = "audit") -> None:
        super().__init__()
        self.setObjectName(name)
        self._audit = audit
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
        outcome = self._attempt(self._audit.verify)
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
        outcome = self._attempt(lambda: self._audit.export_csv(Path(path), found))
        if isinstance(outcome, _Failure):
            self.export_failed.emit(path, outcome.why)
        else:
            self.exported.emit(path, outcome)

    # ------------------------------------------------------------ work

    def _search(self, query: SearchQuery) -> SearchResult:
        found = self._audit.search(**query.keys())
        return SearchResult(query, found.matches, found.total)

    def _replay(self, preparation_id: str) -> Replay:
        review = self._audit.review(preparation_id)
        images: dict[str, QImage] = {}
        problems: dict[str, str] = {}
        for sha256, photo in self._audit.replay_photos(review).items():
            if isinstance(photo, str):
                problems[sha256] = photo
                continue
            image = QImage.fromData(photo.data)
            if image.isNull():
                problems[sha256] = f"photo {sha256[:12]}… is not a readable image"
                continue
            images[sha256] = image
            if not photo.intact:
                problems[sha256] = (f"photo {sha256[:12]}… does not match its hash: "
                                    "it was changed after it was taken")
        return Replay(review, images, problems)

    def _attempt(self, work: Callable[[], T]) -> T | _Failure:
        """``work()``, or what went wrong in one line (logged with its traceback)."""
        try:
            return work()
        except _EXPECTED as error:
            _log.warning("%s: %s", self.objectName(), error, exc_info=True)
            return _Failure(str(error).splitlines()[0] if str(error) else type(error).__name__)

