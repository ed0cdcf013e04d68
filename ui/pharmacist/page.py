"""The pharmacist's page: the live queue, the chosen preparation's review, signed decisions.

The queue is on the left, the review of the chosen preparation on the right.

:class:`PharmacistPage` renders what its :class:`~ui.workers.pharmacist_worker.PharmacistWorker`
reports (the worker lives on its own thread; every connection here goes to a method of a
main-thread object, so Qt queues it) and asks it for reviews, photographs and decisions.

A decision is an electronic signature: F6 (release, or pass the in-process check) and F9
(reject, or fail it, with a reason from a list and free text) open a
:class:`~ui.widgets.signature_dialog.SignatureDialog` showing what signing means, with the signed-in
pharmacist's user id filled in; their password is checked again on the worker's thread.
A refused password or a refusal by the workflow is shown in the dialog; once recorded, the
page says what was signed and moves on to the next preparation waiting.

A scanned preparation label opens its review (:meth:`PharmacistPage.open_scanned`).

Keys: in the queue, Up/Down choose a preparation and Enter opens its review; in the review,
Up/Down go through the steps, Left/Right through a step's photographs, Esc returns to the
queue; anywhere on the page, PgUp/PgDn go through the steps and + / - / 0 zoom the photo.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QImage, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from station.core.accounts import Meaning
from station.core.scan import split_symbology
from station.core.workflow import Phase
from station.services.review.model import PreparationReview
from station.services.sessions import Session
from station.services.verification_queue import QueueEntry
from ui.pharmacist.queue import QueueView
from ui.pharmacist.review_view import ReviewView
from ui.widgets.look import font
from ui.widgets.reasons import CHECK_REASONS
from ui.widgets.signature_dialog import SignatureDialog
from ui.workers.pharmacist_worker import PharmacistWorker

#: Why a finished preparation is rejected (the pharmacist may add their own words).
REJECT_REASONS = (
    "Wrong drug, strength or dose",
    "Wrong base, diluent or final volume",
    "Photograph does not show what it must (label, lot, expiry, volume)",
    "Particulates, discoloration or a leak seen",
    "Label wrong or unreadable",
    "Override not justified by the record",
    "Weight not verifiable and no other evidence",
)
RELEASE, REJECT = "Release", "Reject"
CHECK_PASSED, CHECK_FAILED = "Check passed", "Check failed"
QUEUE_WIDTH = 640
KEYS_PT = 13
KEYS_HELP = ("Queue: ↑ ↓ choose · Enter review.   Review: ↑ ↓ PgUp PgDn steps · ← → photos · "
             "+ − 0 zoom · drag or Shift+arrows pan · Space scroll facts · Esc back to the queue."
             "   F6 approve · F9 reject (both signed with your password).")
AGE_TICK_MS = 30_000
PHOTO_CACHE = 24
MESSAGE_PT = 16

_GOOD = "QLabel { background: #1b5e20; color: #ffffff; padding: 10px 14px; }"
_BAD = "QLabel { background: #b71c1c; color: #ffffff; padding: 10px 14px; }"
_ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


class _EnterSigns(QObject):
    """Enter in the password field signs at once (a release has no reason to type)."""

    def __init__(self, dialog: SignatureDialog, choice: str) -> None:
        super().__init__(dialog)
        self._dialog, self._choice = dialog, choice

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        """Installed after the dialog's own filter, so it sees Enter first."""
        if (event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent)
                and event.key() in _ENTER_KEYS):
            if not self._dialog.busy:
                self._dialog.submit(self._choice)
            return True
        return super().eventFilter(watched, event)


class PharmacistPage(QWidget):
    """The queue and the review side by side; see the module's description.

    A role page for the station window: :meth:`set_session` tells it who signed in.
    """

    def __init__(self, worker: PharmacistWorker, prompts_parent: QWidget | None = None) -> None:
        super().__init__()
        self.setObjectName("pharmacist_page")
        self.worker = worker
        self.session: Session | None = None
        self.dialog: SignatureDialog | None = None
        self._prompts_parent = prompts_parent
        self._deciding: str | None = None
        self._remakes: dict[str, str] = {}
        self._photos: OrderedDict[str, QImage] = OrderedDict()

        self.queue_view = QueueView(worker.clock, self)
        self.keys_label = QLabel(KEYS_HELP, self)
        self.keys_label.setObjectName("pharmacist_keys")
        self.keys_label.setFont(font(KEYS_PT))
        self.keys_label.setWordWrap(True)
        self.keys_label.setStyleSheet("QLabel { color: #212121; background: #eceff1;"
                                      " padding: 8px 10px; }")
        self.review_view = ReviewView(self)
        self.message_label = QLabel(self)
        self.message_label.setObjectName("pharmacist_message")
        self.message_label.setFont(font(MESSAGE_PT, bold=True))
        self.message_label.setWordWrap(True)
        self.message_label.hide()

        right = QVBoxLayout()
        right.setSpacing(8)
        right.addWidget(self.message_label)
        right.addWidget(self.review_view, 1)
        left = QWidget(self)
        left.setMinimumWidth(QUEUE_WIDTH - 80)
        left.setMaximumWidth(QUEUE_WIDTH)
        left_column = QVBoxLayout(left)
        left_column.setContentsMargins(0, 0, 0, 0)
        left_column.setSpacing(8)
        left_column.addWidget(self.queue_view, 1)
        left_column.addWidget(self.keys_label)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(14)
        layout.addWidget(left)
        layout.addLayout(right, 1)
        self.setTabOrder(self.queue_view.table, self.review_view)
        self.setFocusProxy(self.queue_view.table)

        self._connect()
        self._bind_keys()
        self._ages = QTimer(self)
        self._ages.setInterval(AGE_TICK_MS)
        self._ages.timeout.connect(self._tick)
        self._ages.start()
        self.review_view.clear("Sign in as a pharmacist to review")

    def _connect(self) -> None:
        worker, review = self.worker, self.review_view
        worker.queue_changed.connect(self._on_queue)
        worker.review_ready.connect(self._on_review)
        worker.review_failed.connect(review.show_failure)
        worker.photo_ready.connect(self._on_photo)
        worker.photo_failed.connect(review.photo_failed)
        worker.decided.connect(self._on_decided)
        worker.signature_failed.connect(self._on_signature_failed)
        worker.refused.connect(self._on_refused)
        self.queue_view.selected.connect(self._on_selected)
        self.queue_view.activated.connect(self._on_activated)
        review.photo_wanted.connect(self._on_photo_wanted)
        review.approve_requested.connect(self.ask_approve)
        review.reject_requested.connect(self.ask_reject)

    def _bind_keys(self) -> None:
        review = self.review_view
        keys: tuple[tuple[QKeySequence | Qt.Key, Callable[[], None]], ...] = (
            (Qt.Key.Key_F6, self.ask_approve), (Qt.Key.Key_F9, self.ask_reject),
            (Qt.Key.Key_PageDown, review.next_step), (Qt.Key.Key_PageUp, review.previous_step),
            (Qt.Key.Key_Plus, review.photo.zoom_in), (Qt.Key.Key_Equal, review.photo.zoom_in),
            (Qt.Key.Key_Minus, review.photo.zoom_out), (Qt.Key.Key_0, review.photo.fit),
            (Qt.Key.Key_Escape, self.queue_view.table.setFocus),
        )
        for key, slot in keys:
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

    # ------------------------------------------------------------ the session

    def set_session(self, session: Session | None) -> None:
        """Who decides from now on (None: signed out; the review is cleared)."""
        self.session = session
        self.worker.session_changed.emit(session)
        if session is None:
            self._close_dialog()
            self._photos.clear()
            self.message_label.hide()
            self.review_view.clear("Sign in as a pharmacist to review")
            return
        self.worker.queue_requested.emit()
        current = self.queue_view.current
        if current:
            self._on_selected(current)  # the refusal depends on who is signed in

    def open_scanned(self, text: str) -> bool:
        """A scanned preparation label: open its review if it waits in the queue.

        The label's barcode holds the preparation id (an AIM prefix such as ``]C0`` is
        dropped). False, and the page says why, if it is not in the queue.
        """
        _symbology, preparation_id = split_symbology(text.strip())
        preparation_id = preparation_id.strip()
        if self.session is None:
            return False
        if not self.queue_view.select(preparation_id):
            self._say(f"✖ {preparation_id!r} is not waiting for a pharmacist", good=False)
            return False
        self.review_view.setFocus()
        return True

    # ------------------------------------------------------------ from the worker

    def _on_queue(self, entries: tuple[QueueEntry, ...]) -> None:
        self._remakes.update({e.preparation_id: e.remake_of for e in entries if e.remake_of})
        self.queue_view.set_entries(entries)

    def _on_review(self, review: PreparationReview, refusal: str) -> None:
        if self.session is None or review.preparation_id != self.queue_view.current:
            return
        self.review_view.show_review(review, refusal, self._now(),
                                     remake_of=self._remakes.get(review.preparation_id))
        if self.dialog is not None and self._deciding == review.preparation_id \
                and review.phase not in (Phase.AWAITING_VERIFICATION, Phase.AWAITING_CHECK):
            self._close_dialog()  # someone else decided it meanwhile

    def _on_photo(self, sha256: str, image: QImage) -> None:
        self._photos[sha256] = image
        self._photos.move_to_end(sha256)
        while len(self._photos) > PHOTO_CACHE:
            self._photos.popitem(last=False)
        self.review_view.show_photo(sha256, image)

    def _on_decided(self, preparation_id: str, phase: str, manifestation: str) -> None:
        if self._deciding == preparation_id:
            self._close_dialog()
        self._say(f"✔ {preparation_id} {phase} — signed {manifestation}", good=True)
        if self.queue_view.current == preparation_id:
            self.queue_view.next()

    def _on_signature_failed(self, why: str) -> None:
        if self.dialog is not None:
            self.dialog.show_error(why)
        else:
            self._say(f"✖ {why}", good=False)

    def _on_refused(self, why: str) -> None:
        if self.dialog is not None:
            self.dialog.show_error(why)
        self._say(f"✖ {why}", good=False)

    # ------------------------------------------------------------ from the views

    def _on_selected(self, preparation_id: str) -> None:
        if self.session is None or not preparation_id:
            return
        self.review_view.show_loading(preparation_id)
        self.worker.review_requested.emit(preparation_id)

    def _on_activated(self, _preparation_id: str) -> None:
        self.review_view.setFocus()

    def _on_photo_wanted(self, sha256: str) -> None:
        image = self._photos.get(sha256)
        if image is not None:
            self._photos.move_to_end(sha256)
            self.review_view.show_photo(sha256, image)
        else:
            self.worker.photo_requested.emit(sha256)

    # ------------------------------------------------------------ decisions

    def ask_approve(self) -> None:
        """F6: release the preparation, or pass its in-process check (signed)."""
        review = self._decidable()
        if review is None:
            return
        if review.phase is Phase.AWAITING_CHECK:
            self._open(review, title=f"In-process check passed: {review.preparation_id}",
                       meaning=Meaning.IN_PROCESS_CHECKED, choice=CHECK_PASSED,
                       approved=True, reasons=(), note="Note (optional)")
        else:
            self._open(review, title=f"Release {review.preparation_id}",
                       meaning=Meaning.VERIFIED, choice=RELEASE, approved=True, reasons=(),
                       note=None)

    def ask_reject(self) -> None:
        """F9: reject the preparation, or fail its in-process check, with a reason (signed)."""
        review = self._decidable()
        if review is None:
            return
        if review.phase is Phase.AWAITING_CHECK:
            self._open(review, title=f"In-process check failed: {review.preparation_id}",
                       meaning=Meaning.IN_PROCESS_CHECKED, choice=CHECK_FAILED,
                       approved=False, reasons=CHECK_REASONS, note="")
        else:
            self._open(review, title=f"Reject {review.preparation_id}", meaning=Meaning.REJECTED,
                       choice=REJECT, approved=False, reasons=REJECT_REASONS, note="")

    def _decidable(self) -> PreparationReview | None:
        review = self.review_view.review
        if (self.session is None or review is None or self.review_view.refusal
                or review.phase not in (Phase.AWAITING_VERIFICATION, Phase.AWAITING_CHECK)
                or self.dialog is not None):
            return None
        return review

    def _open(self, review: PreparationReview, *, title: str, meaning: Meaning, choice: str,
              approved: bool, reasons: tuple[str, ...], note: str | None) -> None:
        assert self.session is not None
        dialog = SignatureDialog(
            title=title, explanation=_explanation(review), meaning=meaning.value,
            reasons=reasons, choices=(choice,),
            reason_required=not approved,
            reason_required_for=(choice,) if not approved else (),
            parent=self._prompts_parent or self)
        assert dialog.user_id_field is not None and dialog.password_field is not None
        dialog.user_id_field.setText(self.session.user.user_id)
        dialog.user_id_field.setReadOnly(True)
        dialog.user_id_field.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        if note is None:  # a release records no reason: no field for one
            for form in dialog.findChildren(QFormLayout):
                form.setRowVisible(dialog.reason_field, False)
            dialog.password_field.installEventFilter(_EnterSigns(dialog, choice))
        elif note:
            dialog.reason_field.setPlaceholderText(note)
        preparation_id = review.preparation_id
        self.dialog, self._deciding = dialog, preparation_id
        dialog.submitted.connect(
            lambda _choice, _user, password, reason: self.worker.decision_requested.emit(
                preparation_id, password, approved, reason))
        dialog.finished.connect(lambda _result: self._forget(dialog))
        dialog.open()
        dialog.password_field.setFocus()

    def _forget(self, dialog: SignatureDialog) -> None:
        if self.dialog is dialog:
            self.dialog, self._deciding = None, None
        dialog.deleteLater()

    def _close_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.accept()

    # ------------------------------------------------------------ helpers

    def _say(self, text: str, *, good: bool) -> None:
        self.message_label.setText(text)
        self.message_label.setStyleSheet(_GOOD if good else _BAD)
        self.message_label.show()

    def _now(self) -> dt.datetime:
        return self.worker.clock()

    def _tick(self) -> None:
        self.queue_view.tick()
        self.review_view.now_is(self._now())


def _explanation(review: PreparationReview) -> str:
    """What is being decided, in the dialog's large type."""
    order, patient = review.order, review.order.patient
    alerts = len(review.alerts)
    notes = len(review.flags) - alerts
    record = (f"{alerts} alert{'s' if alerts != 1 else ''} and {notes} "
              f"note{'s' if notes != 1 else ''} on the record" if review.flags
              else "no flags on the record")
    return (f"{review.description}\nfor {patient.name} ({patient.patient_id}), "
            f"{patient.location} — order {order.order_id}\n"
            f"prepared by {review.preparer or '?'}; {record}")
