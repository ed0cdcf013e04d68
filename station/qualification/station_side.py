"""The station at a qualification's hood: its devices, driven without a window.

:class:`HeadlessStation` decides nothing itself. It drives the devices the way the station
window's workers do, in one thread — opens and identifies the balance, reads its live weight
(pausing between readings as the window's live display does), reads camera frames and
decodes them with the decode pipeline — and feeds every key press and every device event to
the same :class:`~station.services.hood_controller.HoodController` the window's presenter
feeds. The controller's requests (ask the balance for a stable weight, record it as a weight
or the daily check, scan the camera's symbols, photograph a frame, confirm, retry, take the
label, read a printed lot, keep a vial) are carried out here at once against the
:class:`~station.services.hood.HoodSession`.
Whether a balance that identifies itself is used, and with which specification, is
:func:`~station.services.hood_controller.balance_to_use`, as in the window. The station
knows nothing of what the technician meant to do: only what the driver, the decoder and the
photo check report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from scale_drivers.api import Balance, BalanceDisconnected, BalanceError, NotStable, Reading
from scale_drivers.connection import LinkState
from station.core.acceptance import Status, SymbolRead
from station.demo.camera import SimulatedCamera
from station.devices.decoding import DecodePipeline
from station.devices.ocr import read_printed_lot
from station.qualification.technician import Move
from station.services.hood import BalanceRefused, HoodSession, HoodView
from station.services.hood_controller import (
    Confirm,
    ConfirmPrintedLot,
    DiscardVial,
    Finished,
    GaugeMessage,
    HoodController,
    KeepVial,
    OfferPrintedLot,
    PrintLabel,
    ReadPrintedLot,
    Request,
    RequestStableWeight,
    Retry,
    SetAside,
    SetStreaming,
    ShowMessage,
    SubmitBalanceCheck,
    SubmitCameraRead,
    SubmitHandheld,
    SubmitLabel,
    SubmitPhoto,
    SubmitWeight,
    TypeLot,
    balance_to_use,
)

#: Camera frames looked at per scan before giving the technician another turn.
FRAMES_PER_LOOK = 8
#: Live readings watched per weighing turn before giving the technician another turn.
READINGS_PER_LOOK = 40
#: Seconds between two live readings (the window's live display asks about as often).
LIVE_INTERVAL = 0.02
#: How long the driver waits for a stable weight (s).
STABLE_WITHIN = 10.0


@dataclass(frozen=True)
class Outcome:
    """What one turn of the station showed: the view, and the balance's state line."""

    view: HoodView
    balance_connected: bool
    balance_state: str
    stop_reason: str | None = None


class HeadlessStation:
    """The station's device handling for one hood; ``open_balance`` connects afresh.

    ``readability`` is the configured one (grams), as ``balance.readability`` in the
    station's configuration: used when the balance does not report its own, and a balance
    that reports another is refused (:func:`~station.services.hood_controller.balance_to_use`).
    ``repeatability`` is the balance's measured one, recorded with its weights (never below
    the USP <41> floor).
    """

    def __init__(self, session: HoodSession, camera: SimulatedCamera,
                 open_balance: Callable[[], Balance], *, repeatability: Decimal,
                 check_weight: Decimal, pipeline: DecodePipeline | None = None,
                 readability: Decimal | None = None) -> None:
        self.session = session
        self.camera = camera
        self._open_balance = open_balance
        self.repeatability = repeatability
        self.check_weight = check_weight
        self.configured_readability = readability
        self.pipeline = pipeline or DecodePipeline()
        self.controller = HoodController(stable_timeout=STABLE_WITHIN)
        self._balance: Balance | None = None
        self._streaming = False
        self._stable_weights = 0  # how many stable weights the balance has given
        self.balance_state = "not connected"

    @property
    def balance_connected(self) -> bool:
        """Whether the station has a working balance now."""
        return self._balance is not None

    # ------------------------------------------------------------ the balance

    def connect(self) -> bool:
        """Open and identify the balance; tell the hood and the controller which one it is."""
        try:
            balance = self._open_balance()
        except BalanceError as error:
            self.balance_state = f"disconnected: {error}"
            return False
        try:
            info = balance.identify()
        except BalanceError as error:
            balance.close()
            self.balance_state = f"disconnected: {error}"
            return False
        try:
            usable = balance_to_use(info, self.configured_readability,
                                    repeatability=self.repeatability)
        except BalanceRefused as error:
            balance.close()
            self.balance_state = f"refused: {error}"
            return False
        self._balance = balance
        self.session.connect_balance(usable.info, usable.spec)
        self._execute(self.controller.balance_identified(usable.info))
        self._execute(self.controller.balance_link(LinkState.CONNECTED.value))
        self.balance_state = f"balance {info.serial_number} connected"
        return True

    def close(self) -> None:
        """Let go of the balance."""
        if self._balance is not None:
            self._balance.close()
            self._balance = None
            self._execute(self.controller.balance_link(LinkState.DISCONNECTED.value))

    def read_stable(self) -> Reading:
        """A stable weight off the balance now (connecting first if need be)."""
        if self._balance is None and not self.connect():
            raise BalanceDisconnected(self.balance_state)
        assert self._balance is not None
        return self._balance.read_stable(STABLE_WITHIN)

    # ------------------------------------------------------------ one turn

    def handle(self, move: Move) -> Outcome:
        """Take the technician's key press, then read the devices the controller waits on.

        A key press the hood answered (a retry, a confirmation, the label) is the turn: the
        technician sees the new screen before the devices are read again. Otherwise the
        station takes the photograph the controller waits for, or looks at the camera while
        it scans, or watches the balance while it streams.
        """
        session, controller = self.session, self.controller
        self._follow()  # the run starts, checks and closes preparations itself
        keys: list[Request] = []
        if move.retry or move.enter:
            keys += controller.primary()
        if move.scan is not None:
            keys += controller.handheld(move.scan)
        if move.typed is not None:
            keys += controller.lot_typed(*move.typed)
        if move.keep_vial:
            keys += controller.keep_vial()
        before = session.view
        self._execute(keys)
        if session.view is before:
            if controller.photo_wanted:
                self._photograph()
            elif controller.scanning:
                self._look()
            elif self._streaming:
                self._weigh()
        prep = session.preparation
        reason = prep.stop.reason.value if prep is not None and prep.stop is not None else None
        return Outcome(session.view, self.balance_connected, self.balance_state, reason)

    def _photograph(self) -> None:
        frame = self.camera.read()
        if frame is not None:
            self._execute(self.controller.frame(frame))

    def _look(self) -> None:
        """Frames until the hood decides on what the camera read (or a turn's worth)."""
        for _ in range(FRAMES_PER_LOOK):
            frame = self.camera.read()
            if frame is None:
                return
            self._execute(self.controller.frame(frame))
            requests = self.controller.symbols(frame, self.pipeline.decode(frame.image))
            self._execute(requests)
            if requests and self.session.view.decision is not Status.PENDING:
                return

    def _weigh(self) -> None:
        """Live readings until the balance gives a stable weight (or a turn's worth)."""
        if self._balance is None:
            if not self.connect():
                return
            self._follow()  # the hood's view names the balance (and may want its check)
        balance = self._balance
        assert balance is not None
        taken = self._stable_weights
        try:
            for _ in range(READINGS_PER_LOOK):
                time.sleep(LIVE_INTERVAL)
                self._execute(self.controller.live_reading(balance.read_immediate(), ""))
                if self._stable_weights != taken:
                    return
        except BalanceDisconnected as error:
            self._lost(f"disconnected: {error}")
        except BalanceError as error:
            self._lost(f"{type(error).__name__}: {error}")

    def _lost(self, state: str) -> None:
        self.close()
        self.balance_state = state

    # ------------------------------------------------------------ the controller's requests

    def _execute(self, requests: Sequence[Request]) -> None:
        """Carry out ``requests`` in order; the hood's new view goes back to the controller."""
        for request in requests:
            match request:
                case RequestStableWeight(timeout=timeout):
                    self._stable_weight(timeout)
                case SetStreaming(on=on):
                    self._streaming = on
                case ShowMessage() | GaugeMessage() | Finished():
                    pass  # there is no screen: the run reads the hood's view
                case ReadPrintedLot(frame=frame):
                    self._execute(self.controller.printed_lot_read(read_printed_lot(frame.image)))
                case _:
                    self._submit(request)
                    self._follow()

    def _submit(self, request: Request) -> None:
        session = self.session
        match request:
            case SubmitCameraRead(frame=frame, symbols=symbols):
                session.scan_reads([SymbolRead(s.scan_text, matrix=s.is_matrix)
                                    for s in symbols], frame_index=frame.index)
            case SubmitHandheld(text=text):
                session.scan_text(text, handheld=True)
            case SubmitLabel(text=text):
                session.label_scanned(text)
            case SubmitWeight(reading=reading):
                session.weight(reading)
            case SubmitBalanceCheck(reading=reading):
                session.record_balance_check(reading, self.check_weight)
            case SubmitPhoto(frame=frame):
                session.photo(frame)
            case Confirm():
                session.confirm()
            case Retry():
                session.retry()
            case _:
                self._submit_lot_label_vial(request)

    def _submit_lot_label_vial(self, request: Request) -> None:
        """The requests about a printed lot, the label and an opened vial."""
        session = self.session
        match request:
            case OfferPrintedLot(result=result):
                session.offer_printed_lot(result)
            case ConfirmPrintedLot():
                session.confirm_printed_lot()
            case TypeLot(first_lot=first_lot, first_expiry=first_expiry,
                         second_lot=second_lot, second_expiry=second_expiry):
                session.type_lot(first_lot, first_expiry, second_lot, second_expiry)
            case SetAside():
                session.set_aside()
            case PrintLabel(reason=reason):
                session.print_label(reason)
            case KeepVial():
                session.keep_vial()
            case DiscardVial(key=key, reason=reason):
                session.discard_vial(key, reason)

    def _stable_weight(self, timeout: float) -> None:
        """Ask the balance for its stable weight; the controller hears the answer."""
        balance = self._balance
        assert balance is not None, "a stable weight is asked for while reading the balance"
        try:
            reading = balance.read_stable(timeout)
        except NotStable as error:
            self._execute(self.controller.stable_failed(str(error)))
            return
        self._stable_weights += 1
        self._execute(self.controller.stable_reading(reading))

    def _follow(self) -> None:
        """Give the controller the hood's view when it changed."""
        session = self.session
        if session.view is not self.controller.view:
            self._execute(self.controller.view_changed(session.view, session.preparation))
