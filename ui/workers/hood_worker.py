"""The hood session on its own thread: every record write and photo away from the GUI.

:class:`HoodWorker` owns a :class:`~station.services.hood.HoodSession`, the order book and the
signatures given at the hood. The GUI asks through the ``…_requested`` signals (queued to
the worker's thread, handled in order) and hears back through:

- ``view_changed(HoodView, Preparation | None)`` after every input that changed something,
  or that was refused before becoming an event (the view carries the refusal's words);
- ``refused(str)``: an input the workflow does not allow now, or a record error; nothing
  was written;
- ``signature_failed(str)``: a pharmacist's credentials were not accepted;
- ``worklist_changed(Worklist, remakes)``: the orders still to make at any station, and
  ``{order id: rejected preparation id}`` for those to be remade;
- ``balance_checked(CheckResult)``: the daily balance check's outcome, recorded.

A package waiting for its lot and expiry gets them through ``printed_lot_offered`` (the
camera's read, from :class:`~ui.workers.devices.OcrWorker`), ``printed_lot_confirmed``,
``lot_typed`` or is put down with ``set_aside_requested``; the label is printed with
``print_label_requested(reason)``, an opened vial kept or discarded with
``keep_vial_requested`` and ``discard_vial_requested(key, reason)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from sqlalchemy.exc import SQLAlchemyError

from scale_drivers.api import BalanceInfo, Reading
from station.core.acceptance import SymbolRead
from station.core.accounts import AuthenticationError, Meaning, SignatureRefused
from station.core.balance_check import CheckResult
from station.core.errors import StationError
from station.devices.camera import Frame
from station.devices.decoding import Symbol
from station.services.hood import HoodSession
from station.services.hood_controller import balance_to_use
from station.services.order_progress import OrderProgress, OrderSource
from station.services.sessions import SessionManager
from ui.workers.devices import _release_to_main_thread

if TYPE_CHECKING:
    from station.devices.ocr import OcrResult

_log = logging.getLogger(__name__)

#: How often the worklist is re-read for orders and preparations from other stations (ms).
WORKLIST_REFRESH_MS = 2000

HoodFactory = Callable[[], HoodSession]


class HoodWorker(QObject):
    """Runs every hood input on the worker's thread; see the module's description."""

    view_changed = Signal(object, object)  # HoodView, Preparation | None
    refused = Signal(str)
    signature_failed = Signal(str)
    worklist_changed = Signal(object, object)  # Worklist, {order id: rejected preparation}
    balance_checked = Signal(object)  # CheckResult

    balance_identified = Signal(object)  # emit from the GUI: the BalanceInfo now connected
    start_requested = Signal(str, str)  # order id, technician's user id
    resume_requested = Signal(str, str)  # preparation id, technician's user id
    carry_on_requested = Signal(str)  # a technician signed in: reopen what they left open
    release_requested = Signal()  # the technician signed out
    camera_read = Signal(object, object)  # Frame, list[Symbol]
    handheld_scanned = Signal(str)
    label_scanned = Signal(str)
    weight_requested = Signal(object)  # Reading
    balance_check_requested = Signal(object)  # Reading
    photo_requested = Signal(object)  # Frame
    confirm_requested = Signal()
    retry_requested = Signal()
    cancel_requested = Signal(str)  # reason
    override_requested = Signal(str, str, str)  # pharmacist id, password, reason
    check_requested = Signal(str, str, bool, str)  # pharmacist id, password, approved, reason
    worklist_requested = Signal()
    printed_lot_offered = Signal(object)  # OcrResult
    printed_lot_confirmed = Signal()
    lot_typed = Signal(str, str, str, str)  # first lot, first expiry, second lot, second expiry
    set_aside_requested = Signal()
    print_label_requested = Signal(str)  # reason ("" the first time)
    keep_vial_requested = Signal()
    discard_vial_requested = Signal(str, str)  # vial id, reason

    def __init__(self, make_hood: HoodFactory, sessions: SessionManager, orders: OrderSource,
                 progress: OrderProgress, *, check_weight: Decimal,
                 name: str = "hood") -> None:
        super().__init__()
        self.setObjectName(name)
        self._make_hood = make_hood
        self._sessions = sessions
        self._orders = orders
        self._progress = progress
        self._check_weight = check_weight
        self._hood: HoodSession | None = None
        self._timer: QTimer | None = None
        self._last_worklist: tuple[tuple[str, str | None], ...] | None = None
        self._connect_requests()

    def _connect_requests(self) -> None:
        requests: Sequence[tuple[Any, Callable[..., None]]] = (
            (self.balance_identified, self.use_balance),
            (self.start_requested, self.begin),
            (self.resume_requested, self.resume),
            (self.carry_on_requested, self.carry_on),
            (self.release_requested, self.release),
            (self.camera_read, self.camera),
            (self.handheld_scanned, self.handheld),
            (self.label_scanned, self.label),
            (self.weight_requested, self.weight),
            (self.balance_check_requested, self.balance_check),
            (self.photo_requested, self.photo),
            (self.confirm_requested, self.confirm),
            (self.retry_requested, self.retry),
            (self.cancel_requested, self.cancel),
            (self.override_requested, self.override),
            (self.check_requested, self.in_process_check),
            (self.worklist_requested, self.refresh_worklist),
            (self.printed_lot_offered, self.offer_printed_lot),
            (self.printed_lot_confirmed, self.confirm_printed_lot),
            (self.lot_typed, self.type_lot),
            (self.set_aside_requested, self.set_aside),
            (self.print_label_requested, self.print_label),
            (self.keep_vial_requested, self.keep_vial),
            (self.discard_vial_requested, self.discard_vial),
        )
        for signal, slot in requests:
            signal.connect(slot)

    @property
    def hood(self) -> HoodSession | None:
        """The session (read on the worker's thread, or after the thread stopped)."""
        return self._hood

    # ------------------------------------------------------------ lifetime

    @Slot()
    def start(self) -> None:
        """Build the session and start watching the worklist (on the worker's thread)."""
        self._hood = self._make_hood()
        self._timer = QTimer(self)
        self._timer.setInterval(WORKLIST_REFRESH_MS)
        self._timer.timeout.connect(self.refresh_worklist)
        self._timer.start()
        self.refresh_worklist()
        self.view_changed.emit(self._hood.view, self._hood.preparation)

    @Slot()
    def stop(self) -> None:
        """Stop refreshing and hand the worker back to the main thread."""
        if self._timer is not None:
            self._timer.stop()
            self._timer.deleteLater()
            self._timer = None
        _release_to_main_thread(self)

    # ------------------------------------------------------------ inputs

    def use_balance(self, info: BalanceInfo) -> None:
        """A balance is connected: weights are recorded against it from now on.

        ``info.readability`` is the one to weigh with: the balance worker has already applied
        the configured readability (:class:`~ui.workers.devices.BalanceWorker`); without one the
        balance is refused. Its repeatability is taken at the floor of 0.41 readability steps
        (USP <41>), the least any balance is credited with
        (:func:`~station.services.hood_controller.balance_to_use`, as the qualification does).
        """
        def connect(hood: HoodSession) -> object:
            usable = balance_to_use(info, None)
            if hood.balance == usable.info:
                return hood
            return hood.connect_balance(usable.info, usable.spec)

        self._do(connect)

    def begin(self, order_id: str, user: str) -> None:
        """Start preparing an order (a remake of its rejected preparation, if it was one)."""
        def start(hood: HoodSession) -> object:
            self._progress.refresh()
            order = self._orders.order(order_id)
            version = hood.service.versions.latest()
            if version is None:
                raise StationError("no formulary has been imported: import one before preparing")
            return hood.start(order, version, user, remake_of=self._progress.remake_of(order_id))

        self._do(start)
        self.refresh_worklist()

    def resume(self, preparation_id: str, user: str) -> None:
        """Carry on with a preparation left open (after a restart)."""
        self._do(lambda hood: hood.resume(preparation_id, user))

    def carry_on(self, user: str) -> None:
        """Reopen the newest preparation ``user`` left unfinished at this station, if any."""
        hood = self._hood
        if hood is None:
            return
        try:
            self._progress.refresh()
        except (StationError, SQLAlchemyError) as error:
            self.refused.emit(f"the record could not be read: {error}")
            return
        left = self._progress.open_at(hood.station_id, user)
        if left:
            self.resume(left[-1].preparation_id, user)

    def release(self) -> None:
        """The technician signed out: the hood holds no preparation until the next sign-in."""
        self._do(lambda hood: hood.release())

    def camera(self, frame: Frame, symbols: list[Symbol]) -> None:
        """Symbols the camera read in one frame, for a scanning step."""
        reads = [SymbolRead(s.scan_text, matrix=s.is_matrix) for s in symbols]
        self._do(lambda hood: hood.scan_reads(reads, frame_index=frame.index))

    def handheld(self, text: str) -> None:
        """A handheld scan of a product."""
        self._do(lambda hood: hood.scan_text(text, handheld=True))

    def label(self, text: str) -> None:
        """A handheld scan of the printed label."""
        self._do(lambda hood: hood.label_scanned(text))

    def weight(self, reading: Reading) -> None:
        """A stable weight for the current weighing step."""
        self._do(lambda hood: hood.weight(reading))

    def balance_check(self, reading: Reading) -> None:
        """The check weight's reading for the daily balance check."""
        self._do(lambda hood: self.balance_checked.emit(
            hood.record_balance_check(reading, self._check_weight)))

    def photo(self, frame: Frame) -> None:
        """Photograph the current step with ``frame``."""
        self._do(lambda hood: hood.photo(frame))

    def confirm(self) -> None:
        """The technician confirms a manual step."""
        self._do(lambda hood: hood.confirm())

    def retry(self) -> None:
        """Clear the hard stop to redo the step."""
        self._do(lambda hood: hood.retry())

    def offer_printed_lot(self, result: OcrResult) -> None:
        """The printed lot and expiry read by the camera, for the package waiting for them."""
        self._do(lambda hood: hood.offer_printed_lot(result))

    def confirm_printed_lot(self) -> None:
        """The technician confirmed the lot and expiry read from the package's print."""
        self._do(lambda hood: hood.confirm_printed_lot())

    def type_lot(self, first_lot: str, first_expiry: str, second_lot: str,
                 second_expiry: str) -> None:
        """The lot and expiry typed twice, blind."""
        self._do(lambda hood: hood.type_lot(first_lot, first_expiry, second_lot,
                                            second_expiry))

    def set_aside(self) -> None:
        """Put the package waiting for its lot aside, recording nothing."""
        self._do(lambda hood: hood.set_aside())

    def print_label(self, reason: str) -> None:
        """Print the preparation's label (again, with ``reason``)."""
        self._do(lambda hood: hood.print_label(reason))

    def keep_vial(self) -> None:
        """Keep the vial of the last draw for later, printing its label."""
        self._do(lambda hood: hood.keep_vial())

    def discard_vial(self, key: str, reason: str) -> None:
        """Record that the opened vial ``key`` was thrown away."""
        self._do(lambda hood: hood.discard_vial(key, reason))

    def cancel(self, reason: str) -> None:
        """Abandon the preparation."""
        self._do(lambda hood: hood.cancel(reason))
        self.refresh_worklist()

    def override(self, pharmacist: str, password: str, reason: str) -> None:
        """A pharmacist signs an override of the hard stop."""
        signature = self._countersign(pharmacist, password, Meaning.OVERRIDE_APPROVED)
        if signature is not None:
            self._do(lambda hood: hood.override(signature, reason))

    def in_process_check(self, pharmacist: str, password: str, approved: bool,
                         reason: str) -> None:
        """A pharmacist signs the in-process check, approving or rejecting."""
        signature = self._countersign(pharmacist, password, Meaning.IN_PROCESS_CHECKED)
        if signature is not None:
            self._do(lambda hood: hood.in_process_check(signature, approved=approved,
                                                        reason=reason))
            self.refresh_worklist()

    def refresh_worklist(self) -> None:
        """Re-read the orders and preparations; emit the worklist if it changed."""
        try:
            self._progress.refresh()
            worklist = self._progress.to_make(self._orders.worklist())
            remakes = dict(self._progress.remakes(worklist))
        except (StationError, SQLAlchemyError) as error:
            _log.warning("the worklist could not be read: %s", error)
            self.refused.emit(f"the worklist could not be read: {error}")
            return
        self._follow_elsewhere()
        key = tuple((o.order_id, remakes.get(o.order_id)) for o in worklist)
        if key != self._last_worklist:
            self._last_worklist = key
            self.worklist_changed.emit(worklist, remakes)

    # ------------------------------------------------------------ helpers

    def _follow_elsewhere(self) -> None:
        """A decision made at another station (a pharmacist's check from the queue) shows."""
        hood = self._hood
        prep = hood.preparation if hood is not None else None
        if hood is None or prep is None or hood.user is None:
            return
        recorded = self._progress.phase_of(prep.preparation_id)
        if recorded is not None and recorded is not prep.phase:
            user = hood.user
            self._do(lambda h: h.resume(prep.preparation_id, user))

    def _need_hood(self) -> HoodSession:
        if self._hood is None:
            raise StationError("the balance has not connected yet: weights and records wait "
                               "for it")
        return self._hood

    def _countersign(self, user_id: str, password: str,
                     meaning: Meaning) -> dict[str, str] | None:
        hood = self._hood
        if hood is None:
            self.signature_failed.emit("no preparation is open")
            return None
        try:
            signature = self._sessions.countersign(user_id.strip(), password, meaning,
                                                   now=hood.clock())
        except (AuthenticationError, SignatureRefused) as error:
            self.signature_failed.emit(str(error))
            return None
        return signature.as_payload()

    def _do(self, action: Callable[[HoodSession], object]) -> None:
        try:
            hood = self._need_hood()
            action(hood)
        except (StationError, SQLAlchemyError, ValueError, OSError) as error:
            # OSError: a label printer that cannot be reached; nothing was recorded.
            _log.info("refused: %s", error)
            hood_now = self._hood
            if hood_now is not None:
                self.view_changed.emit(hood_now.view, hood_now.preparation)
            # After the view, or re-rendering it would overwrite the refusal's words.
            self.refused.emit(str(error))
            return
        self.view_changed.emit(hood.view, hood.preparation)


__all__ = ["CheckResult", "HoodWorker"]
