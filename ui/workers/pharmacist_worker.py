"""The pharmacist's record work on its own thread: the live queue, reviews, photos, decisions.

:class:`PharmacistWorker` is a QObject without a parent, moved to its own QThread (add it to
:class:`~ui.workers.devices.DeviceThreads`): ``start`` reads the queue and starts an
:class:`~station.services.live.EventFeed` on a thread of its own (LISTEN/NOTIFY on
PostgreSQL, polling on SQLite), so preparations held at any station sharing the database
appear without a refresh; ``stop`` closes the feed and joins its thread.

The GUI asks through the ``…_requested`` signals (queued to the worker's thread) and hears:

- ``queue_changed(tuple[QueueEntry, ...])`` whenever the queue differs;
- ``review_ready(PreparationReview, refusal)``: a preparation's whole record, and the
  workflow's own words if the signed-in pharmacist may not decide it ("" if they may);
  ``review_failed(preparation_id, why)``;
- ``photo_ready(sha256, QImage)`` at full resolution; ``photo_failed(sha256, why)``;
- ``decided(preparation_id, phase, manifestation)`` once a signed decision is recorded;
- ``signature_failed(why)``: the password (or the account) was refused; nothing written;
- ``refused(why)``: the workflow or the record refused the decision; nothing written.

A decision is checked against the workflow before the password is, so a pharmacist who
prepared the dose hears the workflow's refusal and never signs in vain. The signature is
then given through :meth:`SessionManager.sign` with the signed-in session, and recorded
with the event by :meth:`PreparationService.record_event`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QImage
from sqlalchemy.exc import SQLAlchemyError

from station.core.accounts import AuthenticationError, SignatureRefused
from station.core.errors import StationError
from station.core.workflow import (
    Event,
    InProcessChecked,
    Phase,
    Preparation,
    Rejected,
    Verified,
    apply,
)
from station.services.live import EventFeed, follow
from station.services.photos import read_photo
from station.services.preparations import SIGNED, PreparationService
from station.services.review.build import review_preparation
from station.services.review.model import PreparationReview
from station.services.sessions import Session, SessionManager
from station.services.verification_queue import VerificationQueue
from ui.workers.devices import _release_to_main_thread

_log = logging.getLogger(__name__)

#: How long one wait of the feed lasts (s); also how soon ``stop`` is noticed at worst.
FEED_WAIT = 1.0
#: How long the feed thread pauses after the database could not be read (s).
FEED_RETRY = 2.0

_Errors = (StationError, SQLAlchemyError, ValueError)


def decision_event(preparation: Preparation, user: str, approved: bool, reason: str,
                   at: dt.datetime) -> Event:
    """The event a pharmacist's decision is for this preparation's phase.

    Awaiting verification: :class:`Verified` or :class:`Rejected`; awaiting the in-process
    check: :class:`InProcessChecked`. Anything else raises :class:`StationError`.
    """
    if preparation.phase is Phase.AWAITING_VERIFICATION:
        return Verified(user, at) if approved else Rejected(user, at, reason)
    if preparation.phase is Phase.AWAITING_CHECK:
        return InProcessChecked(user, at, approved, reason)
    raise StationError(f"{preparation.preparation_id} is {preparation.phase.value}: "
                       "there is nothing to decide")


class PharmacistWorker(QObject):
    """The queue, reviews, photos and signed decisions; see the module's description."""

    queue_changed = Signal(object)  # tuple[QueueEntry, ...]
    review_ready = Signal(object, str)  # PreparationReview, refusal ("" if may decide)
    review_failed = Signal(str, str)  # preparation id, why
    photo_ready = Signal(str, object)  # sha256, QImage
    photo_failed = Signal(str, str)  # sha256, why
    decided = Signal(str, str, str)  # preparation id, phase now, signature manifestation
    signature_failed = Signal(str)
    refused = Signal(str)

    session_changed = Signal(object)  # emit from the GUI: Session | None
    review_requested = Signal(str)  # preparation id
    photo_requested = Signal(str)  # sha256
    decision_requested = Signal(str, str, bool, str)  # preparation id, password, approved, reason
    queue_requested = Signal()

    _news = Signal(object)  # from the feed thread: the preparation ids with new events

    def __init__(self, service: PreparationService, sessions: SessionManager, *,
                 poll_interval: float = 1.0, name: str = "pharmacist") -> None:
        super().__init__()
        self.setObjectName(name)
        self._service = service
        self._sessions = sessions
        self._poll_interval = poll_interval
        self._queue = VerificationQueue(service.record.events, service.versions)
        self._session: Session | None = None
        self._reviewing: str | None = None
        self._feed: EventFeed | None = None
        self._feed_thread: threading.Thread | None = None
        self._stopping = threading.Event()
        for signal, slot in ((self.session_changed, self.set_session),
                             (self.review_requested, self.load_review),
                             (self.photo_requested, self.load_photo),
                             (self.decision_requested, self.decide),
                             (self.queue_requested, self.refresh),
                             (self._news, self._on_news)):
            signal.connect(slot)

    @property
    def listening(self) -> bool:
        """Whether the feed is woken by PostgreSQL's NOTIFY (False: it polls)."""
        return self._feed is not None and self._feed.listening

    @property
    def clock(self) -> Callable[[], dt.datetime]:
        """The station's clock (times with the site's UTC offset)."""
        return self._service.clock

    # ------------------------------------------------------------ lifetime

    @Slot()
    def start(self) -> None:
        """Read the queue, then follow the record's new events (on the worker's thread)."""
        self._stopping.clear()
        self.refresh(force=True)
        feed = follow(self._service.record, after=self._queue.last,
                      poll_interval=self._poll_interval)
        self._feed = feed
        self._feed_thread = threading.Thread(target=self._follow, args=(feed,),
                                             name=f"{self.objectName()} event feed",
                                             daemon=True)
        self._feed_thread.start()

    @Slot()
    def stop(self) -> None:
        """Close the feed, join its thread, and hand the worker back to the main thread."""
        self._stopping.set()
        if self._feed is not None:
            self._feed.close()
        if self._feed_thread is not None:
            self._feed_thread.join(10.0)
            if self._feed_thread.is_alive():
                _log.error("the pharmacist's event feed did not stop")
        self._feed, self._feed_thread = None, None
        self._session = None
        _release_to_main_thread(self)

    def _follow(self, feed: EventFeed) -> None:
        """On the feed's thread: announce every batch of new events until closed."""
        while not feed.closed:
            try:
                items = feed.wait(FEED_WAIT)
            except (SQLAlchemyError, OSError, StationError) as error:
                _log.warning("the record could not be read for new events: %s", error)
                self._stopping.wait(FEED_RETRY)
                continue
            except Exception:  # the feed thread must not die silently
                _log.exception("the pharmacist's event feed failed")
                self._stopping.wait(FEED_RETRY)
                continue
            if items:
                self._news.emit(frozenset(item.preparation_id for item in items))

    # ------------------------------------------------------------ requests

    def set_session(self, session: Session | None) -> None:
        """The pharmacist signed in (or out, None): decisions are signed in their name."""
        self._session = session
        if session is None:
            self._reviewing = None

    def refresh(self, force: bool = False) -> None:
        """Fold in new events; emit the queue if it changed (or ``force``)."""
        try:
            changed = self._queue.refresh()
        except _Errors as error:
            _log.warning("the queue could not be read: %s", error)
            self.refused.emit(f"the queue could not be read: {error}")
            return
        if changed or force:
            self.queue_changed.emit(self._queue.entries)

    def load_review(self, preparation_id: str) -> None:
        """Read one preparation's whole record and whether this pharmacist may decide it."""
        self._reviewing = preparation_id or None
        if not preparation_id:
            return
        try:
            review = review_preparation(self._service, preparation_id)
            refusal = self._refusal(preparation_id)
        except _Errors as error:
            self.review_failed.emit(preparation_id, str(error))
            return
        self.review_ready.emit(review, refusal)

    def load_photo(self, sha256: str) -> None:
        """A photograph at full resolution, checked against its hash and decoded off the GUI."""
        try:
            photo = read_photo(self._service.record.photos, sha256)
        except (*_Errors, OSError) as error:
            self.photo_failed.emit(sha256, f"the photo could not be read: {error}")
            return
        if not photo.intact:
            self.photo_failed.emit(sha256, "the stored photo does not match the hash the record "
                                           "holds for it: it cannot be trusted")
            return
        image = QImage.fromData(photo.data)
        if image.isNull():
            self.photo_failed.emit(sha256, "the stored photo is not an image")
            return
        self.photo_ready.emit(sha256, image)

    def decide(self, preparation_id: str, password: str, approved: bool, reason: str) -> None:
        """Check, sign and record a decision; ``decided``, ``signature_failed`` or ``refused``."""
        session = self._session
        if session is None:
            self.signature_failed.emit("nobody is signed in: sign in to decide")
            return
        user = session.user.user_id
        try:
            before = self._service.load(preparation_id)
            event = decision_event(before, user, approved, reason.strip(), self.clock())
            apply(before, event)  # the workflow's refusal comes before any signature
        except _Errors as error:
            self.refused.emit(str(error))
            return
        try:
            signature = self._sessions.sign(session, password, SIGNED[type(event)],
                                            now=event.at)
        except (AuthenticationError, SignatureRefused) as error:
            self.signature_failed.emit(str(error))
            return
        try:
            after = self._service.record_event(preparation_id, event,
                                               signature=signature.as_payload())
        except _Errors as error:
            self.refused.emit(str(error))
            return
        self.decided.emit(preparation_id, after.phase.value, signature.manifestation())
        self.refresh()
        if self._reviewing == preparation_id:
            self.load_review(preparation_id)

    # ------------------------------------------------------------ helpers

    def _refusal(self, preparation_id: str) -> str:
        """Why the signed-in pharmacist may not decide it now, in the workflow's words."""
        session = self._session
        if session is None:
            return "sign in as a pharmacist to decide"
        try:
            preparation = self._service.load(preparation_id)
            apply(preparation, decision_event(preparation, session.user.user_id, True, "",
                                              self.clock()))
        except _Errors as error:
            return str(error)
        return ""

    def _on_news(self, preparation_ids: frozenset[str]) -> None:
        self.refresh()
        if self._reviewing is not None and self._reviewing in preparation_ids:
            self.load_review(self._reviewing)


__all__ = ["PharmacistWorker", "PreparationReview", "decision_event"]
