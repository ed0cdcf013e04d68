"""The guided preparation's presenter: what the screen shows, and the requests it forwards.

:class:`PreparationPresenter` sits on the GUI thread between the devices and the hood worker.
It never touches a port or the record itself. What the station does by itself — when a live
reading becomes a request for a stable weight and what that weight is recorded as, which
camera frame becomes the step's photograph, when symbols are a scan, where a handheld scan
goes, what Enter means, when the balance streams, what a lost balance means — is decided by
a :class:`~station.services.hood_controller.HoodController`, the same one the operational
qualification drives; the presenter feeds it the devices' and the hood worker's signals and
turns its requests into its own signals (``…_requested``, ``finished``) for the workers.
Overrides, in-process checks, cancelling, a reprint's reason and an opened vial's discard
go through :class:`Prompts`.

A package whose barcode carries no lot or expiry waits for them (``NextAction.IDENTIFY_LOT``):
the screen shows the lot and expiry the camera read from its print (:class:`LotPrompt`), which
Enter confirms, or takes them typed twice (:meth:`PreparationPresenter.type_lot`). The label
prints at the label step (Enter or P), and its preview stays on the screen while it is applied
and scanned; R prints it again, with a reason. After a dose drawn from a vial by its maker's
barcode, K keeps the vial for later (its label's preview is shown); D discards an opened vial:
the next handheld scan names it by its label.

What it keeps is presentation: every change of the screen is one immutable
:class:`PreparationScreenState` emitted with ``state_changed``; the gauge's target and band
(the dose's, or the daily check's) with ``gauge_changed``; the symbols' overlays with
``symbols_shown``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, Signal

from scale_drivers.api import BalanceInfo, Reading
from station.core.acceptance import Status
from station.core.balance_check import check_limit
from station.core.errors import StationError
from station.core.formulary import Formulary
from station.core.opened_vials import key_from_vial_code
from station.core.recipe import StepKind
from station.core.scan import parse_scan
from station.core.workflow import Phase, Preparation
from station.devices.camera import Frame
from station.devices.decoding import Symbol
from station.services.hood import HoodView, NextAction
from station.services.hood_controller import (
    STABLE_TIMEOUT,
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
)
from ui.widgets.lot_entry import LotPrompt
from ui.widgets.status_bar import state_words
from ui.widgets.weight_gauge import WeightGaugeState

if TYPE_CHECKING:
    from station.devices.ocr import OcrResult


class StepStatus(Enum):
    """A step's place in the list."""

    DONE = "done"
    CURRENT = "current"
    STOPPED = "stopped"
    TODO = "to do"


@dataclass(frozen=True)
class StepLine:
    """One line of the step list."""

    number: int
    title: str
    status: StepStatus


@dataclass(frozen=True)
class PreparationScreenState:
    """Everything the preparation screen shows, apart from the live camera and weight."""

    title: str = ""
    steps: tuple[StepLine, ...] = ()
    instruction: str = ""
    hint: str = ""
    message: str = ""
    stop: str | None = None
    primary: str | None = None
    can_override: bool = False
    can_check: bool = False
    can_cancel: bool = False
    phase: Phase | None = None
    decision: Status = Status.PENDING
    decision_text: str = ""
    lot: LotPrompt | None = None
    label_png: bytes | None = None
    label_caption: str = ""
    can_print: bool = False
    can_reprint: bool = False
    vial_png: bytes | None = None
    vial_caption: str = ""
    vial_offer: str = ""
    discarding: bool = False


class Prompts(Protocol):
    """Asks a person for a decision; the window opens dialogs, tests answer directly."""

    def ask_override(self, explanation: str) -> None:
        """A pharmacist's credentials and a reason to accept the stopped attempt."""

    def ask_in_process_check(self, explanation: str) -> None:
        """A pharmacist's credentials and approve or reject (with a reason)."""

    def ask_cancel(self, explanation: str) -> None:
        """A reason to abandon the preparation."""

    def ask_reprint(self, explanation: str) -> None:
        """Why the label is printed again."""

    def ask_discard(self, key: str, explanation: str) -> None:
        """Why the opened vial ``key`` is thrown away."""


_HINTS = {
    NextAction.SCAN: "Hold the package under the camera, or scan it with the handheld",
    NextAction.WEIGH: "Place it on the balance: the weight is taken when it is steady",
    NextAction.BALANCE_CHECK: "Place the check weight on the balance",
    NextAction.PHOTO: "Hold it under the camera",
    NextAction.CONFIRM: "Press Enter when done",
    NextAction.PRINT_LABEL: "The final check has passed: print the label (Enter or P)",
    NextAction.SCAN_LABEL: "Put the label on and scan it with the handheld (R: print again)",
    NextAction.RETRY: "Press Enter to redo the step",
    NextAction.RETRY_OR_OVERRIDE: "Press Enter to redo the step, or F8 for a pharmacist override",
    NextAction.PHARMACIST_CHECK: "A pharmacist checks the doses now (F6) or from the "
                                 "verification queue",
    NextAction.VERIFY: "Held for a pharmacist's verification",
}
_PRIMARY = {
    NextAction.CONFIRM: "Done (Enter)",
    NextAction.RETRY: "Redo the step (Enter)",
    NextAction.RETRY_OR_OVERRIDE: "Redo the step (Enter)",
    NextAction.PRINT_LABEL: "Print the label (Enter)",
}
#: What the screen says while the next handheld scan names the opened vial to discard.
DISCARD_SCAN = "Scan the label of the opened vial to throw away (Esc: stop)"
KEEP_OFFER = "Keep this vial for later (K)"


class PreparationPresenter(QObject):
    """Shows the preparation screen; forwards what its :class:`HoodController` decides."""

    state_changed = Signal(object)  # PreparationScreenState
    gauge_changed = Signal(object)  # WeightGaugeState
    reading_shown = Signal(object, bool, float)  # value (Decimal), stable, monotonic time
    symbols_shown = Signal(int, object, str, object, object)  # index, symbols, text, Status, tags
    finished = Signal(str, str)  # preparation id, what became of it

    # requests to the workers (connected by the window)
    stable_weight_requested = Signal(float)
    streaming_requested = Signal(bool)
    camera_read_requested = Signal(object, object)
    handheld_requested = Signal(str)
    label_requested = Signal(str)
    weight_requested = Signal(object)
    balance_check_requested = Signal(object)
    photo_requested = Signal(object)
    confirm_requested = Signal()
    retry_requested = Signal()
    cancel_requested = Signal(str)
    override_requested = Signal(str, str, str)
    check_requested = Signal(str, str, bool, str)
    printed_lot_read_requested = Signal(object)  # Frame: read its printed lot (OCR)
    printed_lot_offered = Signal(object)  # OcrResult, for the package waiting for it
    printed_lot_confirmed = Signal()
    lot_typed = Signal(str, str, str, str)  # first lot, first expiry, second lot, second expiry
    set_aside_requested = Signal()
    print_label_requested = Signal(str)  # reason ("" the first time)
    keep_vial_requested = Signal()
    discard_vial_requested = Signal(str, str)  # vial id, reason

    def __init__(self, formulary: Formulary, prompts: Prompts, *, check_weight: Decimal,
                 check_tolerance: Decimal | None = None, today: dt.date,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.formulary = formulary
        self.prompts = prompts
        self.check_weight = check_weight
        self.check_tolerance = check_tolerance
        self.today = today
        self.state = PreparationScreenState()
        # The status bar's words for a link state, so the gauge and the bar say the same.
        self.controller = HoodController(stable_timeout=STABLE_TIMEOUT, link_words=state_words)
        self._gauge = WeightGaugeState()
        self._discarding = False
        self._vial_shown: tuple[str, int | None] | None = None  # vial kept, at which step

    @property
    def view(self) -> HoodView | None:
        """The hood's view last shown."""
        return self.controller.view

    @property
    def preparation(self) -> Preparation | None:
        """The preparation last shown."""
        return self.controller.preparation

    @property
    def balance(self) -> BalanceInfo | None:
        """The balance last identified (its readability is the one weighed with)."""
        return self.controller.balance

    # ------------------------------------------------------------ from the hood worker

    def on_view_changed(self, view: HoodView, prep: Preparation | None) -> None:
        """The hood's new view: re-render, and do what the station does by itself."""
        requests = self.controller.view_changed(view, prep)
        if prep is None or view.phase is not Phase.IN_PROGRESS:
            self._discarding = False
        self._set(self._render(view, prep))
        self._update_gauge_target()
        self._forward(requests)

    def on_refused(self, message: str) -> None:
        """An input was not allowed; show why."""
        self._forward(self.controller.refused(message))

    # ------------------------------------------------------------ from the devices

    def on_balance_connected(self, info: BalanceInfo) -> None:
        """A (re)connected balance: captures use its readability."""
        self._forward(self.controller.balance_identified(info))
        self._update_gauge_target()

    def on_balance_state(self, state: str, _detail: str) -> None:
        """The balance's link: while it is not connected the gauge says the step waits."""
        self._forward(self.controller.balance_link(state))

    def on_live_reading(self, reading: Reading | None, problem: str) -> None:
        """A live reading (or why there is none): the gauge, and maybe an auto-capture."""
        if reading is not None:
            # The gauge widget shows the value itself; keep it here so a new target keeps it.
            self._gauge = replace(self._gauge, value=reading.value, stable=reading.stable)
            self.reading_shown.emit(reading.value, reading.stable, reading.monotonic)
        self._forward(self.controller.live_reading(reading, problem))

    def on_stable_reading(self, reading: Reading) -> None:
        """The balance's stable weight, asked for by a capture: record it."""
        self._forward(self.controller.stable_reading(reading))

    def on_balance_failed(self, message: str) -> None:
        """A stable weight did not come: say so; the next steady reading tries again."""
        self._forward(self.controller.stable_failed(message))

    def on_frame(self, frame: Frame) -> None:
        """The newest camera frame: the photograph a step is waiting for, if any."""
        self._forward(self.controller.frame(frame))

    def on_symbols(self, frame: Frame, symbols: list[Symbol]) -> None:
        """Symbols the camera read: overlays, and the scan on a scanning step."""
        scanning = self.controller.scanning
        self._forward(self.controller.symbols(frame, symbols))
        text = self.state.decision_text if scanning else "not scanning at this step"
        status = self.state.decision if scanning else Status.PENDING
        prep = self.preparation
        if prep is not None and prep.stop is not None and prep.phase is Phase.HARD_STOP:
            text, status = f"stopped: {prep.stop.reason.value}", Status.REFUSED
        tags = [self.tag(s) for s in symbols]
        self.symbols_shown.emit(frame.index, symbols, text, status, tags)

    def on_handheld(self, text: str) -> None:
        """A handheld scan while a preparation is open (the vial to discard, after D)."""
        if self._discarding:
            self._discard_scanned(text)
            return
        self._forward(self.controller.handheld(text))

    def on_printed_lot_read(self, result: OcrResult) -> None:
        """The printed lot read from a frame: offered if its package still waits."""
        self._forward(self.controller.printed_lot_read(result))

    # ------------------------------------------------------------ intents (keys, buttons)

    def primary(self) -> None:
        """Enter: confirm, retry, or take the photograph the step waits for."""
        self._forward(self.controller.primary())

    def override(self) -> None:
        """F8: a pharmacist overrides the hard stop (when it may be overridden)."""
        if self.state.can_override and self.view is not None:
            self.prompts.ask_override(self.view.stop_message or "")

    def in_process_check(self) -> None:
        """F6: a pharmacist checks the drawn doses at the hood."""
        if self.state.can_check:
            self.prompts.ask_in_process_check(self.state.instruction)

    def cancel(self) -> None:
        """Abandon the preparation, with a reason."""
        if self.state.can_cancel:
            self.prompts.ask_cancel(self.state.title)

    def submit_override(self, pharmacist: str, password: str, reason: str) -> None:
        """The override prompt's answer."""
        self.override_requested.emit(pharmacist, password, reason)

    def submit_check(self, pharmacist: str, password: str, approved: bool, reason: str) -> None:
        """The in-process check prompt's answer."""
        self.check_requested.emit(pharmacist, password, approved, reason)

    def submit_cancel(self, reason: str) -> None:
        """The cancel prompt's answer."""
        self.cancel_requested.emit(reason)

    def type_lot(self, first_lot: str, first_expiry: str, second_lot: str,
                 second_expiry: str) -> None:
        """The lot and expiry typed twice, blind, for the package waiting for them."""
        self._forward(self.controller.lot_typed(first_lot, first_expiry, second_lot,
                                                second_expiry))

    def set_aside(self) -> None:
        """Esc: put the package waiting for its lot aside (nothing recorded)."""
        self._forward(self.controller.set_aside())

    def print_label(self) -> None:
        """P: print the label at the label step; once printed, P asks why it is printed again."""
        if self.state.can_reprint:
            self.reprint()
            return
        self._forward(self.controller.print_label())

    def reprint(self) -> None:
        """R: print the label again, with a reason."""
        if not self.state.can_reprint:
            self._set(replace(self.state, message="✖ there is no printed label to print again: "
                                                  "the label prints at the label step"))
            return
        self.prompts.ask_reprint(f"Print the label of {self.state.title} again")

    def submit_reprint(self, reason: str) -> None:
        """The reprint prompt's answer."""
        self._forward(self.controller.print_label(reason))

    def keep_vial(self) -> None:
        """K: keep the vial of the last draw for later, and print its label."""
        self._forward(self.controller.keep_vial())

    def discard_vial(self) -> None:
        """D: the next handheld scan names the opened vial to throw away."""
        if self.preparation is None:
            return
        self._discarding = True
        self._set(replace(self.state, discarding=True))

    def stop_discarding(self) -> None:
        """Esc after D: the next scan is the step's again."""
        if self._discarding:
            self._discarding = False
            self._set(replace(self.state, discarding=False))

    def submit_discard(self, key: str, reason: str) -> None:
        """The discard prompt's answer."""
        self._forward(self.controller.discard_vial(key, reason))

    def _discard_scanned(self, text: str) -> None:
        key = key_from_vial_code(text)
        if key is None:
            self._set(replace(self.state, message=f"✖ {text.strip()!r} is not an opened vial's "
                                                  f"label: {DISCARD_SCAN}"))
            return
        self.stop_discarding()
        self.prompts.ask_discard(key, f"Throw away opened vial {key}")

    # ------------------------------------------------------------ rendering

    def tag(self, symbol: Symbol) -> str:
        """What a symbol says, in the words on the package: drug, NDC, lot, expiry."""
        try:
            identity = parse_scan(symbol.scan_text, self.today.year)
        except StationError as error:
            return f"{symbol.format}: {error}"
        parts = []
        try:
            product = self.formulary.resolve(identity)
            parts.append(f"{product.name} {product.strength}")
        except StationError:
            parts.append("not in formulary")
        ndc = identity.ndc10
        if ndc is not None:
            parts.append(f"NDC {ndc}")
        if identity.lot is not None:
            parts.append(f"LOT {identity.lot}")
        if identity.expiry is not None:
            expired = " EXPIRED" if identity.expiry.date < self.today else ""
            parts.append(f"EXP {identity.expiry.date:%Y-%m-%d}{expired}")
        return " · ".join(parts)

    def _render(self, view: HoodView, prep: Preparation | None) -> PreparationScreenState:
        if prep is None:
            return PreparationScreenState(message=view.message)
        order = prep.recipe.order
        patient = order.patient
        title = f"{order.order_id} — {patient.name} ({patient.location})"
        action = view.next_action
        stopped = prep.stop.step if prep.stop is not None else None
        steps = tuple(
            StepLine(s.number, s.title, _status(s.number, prep.current, stopped, prep.phase))
            for s in prep.recipe.steps)
        hint = _HINTS.get(action, "")
        if action is NextAction.PHOTO and prep.step is not None and (
                prep.step.kind is StepKind.PHOTO):
            hint = "Hold the labelled container under the camera and press Enter"
        instruction = view.instruction
        if prep.stop is not None and view.phase is Phase.HARD_STOP:
            stopped_step = prep.recipe.step(prep.stop.step)
            instruction = f"Stopped at step {stopped_step.number}: {stopped_step.title}"
        primary = _PRIMARY.get(action)
        if action is NextAction.PHOTO:
            primary = "Take the photo (Enter)"
        lot = _lot_prompt(view)
        if lot is not None and view.pending_lot is not None:
            product = view.pending_lot.product
            instruction = f"Lot and expiry of {product.name} {product.strength}"
            if lot.read is not None:
                primary = "Confirm (Enter)"
        printed = action is NextAction.SCAN_LABEL
        label_caption = ""
        if action is NextAction.PRINT_LABEL:
            label_caption = "The label shows here once printed"
        elif printed:
            copies = len(prep.record(prep.current).labels) if prep.step is not None else 0
            label_caption = "Label printed" + (f" (copy {copies})" if copies > 1 else "")
        vial_png, vial_caption = self._vial_label(view)
        return PreparationScreenState(
            title=title,
            steps=steps,
            instruction=instruction,
            hint=hint,
            message=view.message,
            stop=view.stop_message if view.phase is Phase.HARD_STOP else None,
            primary=primary,
            can_override=action is NextAction.RETRY_OR_OVERRIDE,
            can_check=action is NextAction.PHARMACIST_CHECK,
            can_cancel=view.phase in {Phase.IN_PROGRESS, Phase.HARD_STOP, Phase.AWAITING_CHECK},
            phase=view.phase,
            decision=view.decision or self.state.decision,
            decision_text=view.message if view.decision is not None else self.state.decision_text,
            lot=lot,
            label_png=view.label_preview if action in {NextAction.PRINT_LABEL,
                                                       NextAction.SCAN_LABEL} else None,
            label_caption=label_caption,
            can_print=action is NextAction.PRINT_LABEL,
            can_reprint=printed and view.label_preview is not None,
            vial_png=vial_png,
            vial_caption=vial_caption,
            vial_offer=KEEP_OFFER if view.vial_keepable else "",
            discarding=self._discarding,
        )

    def _vial_label(self, view: HoodView) -> tuple[bytes | None, str]:
        """The kept vial's label, shown at the step it was kept at (then it is on the vial)."""
        kept = view.vial_kept
        if kept is None or view.vial_label_preview is None:
            self._vial_shown = None
            return None, ""
        if self._vial_shown is None or self._vial_shown[0] != kept:
            self._vial_shown = (kept, view.step_number)
        if self._vial_shown[1] != view.step_number:
            return None, ""
        return view.vial_label_preview, f"Opened vial {kept}: put this label on the vial"

    def _set(self, state: PreparationScreenState) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    def _update_gauge_target(self) -> None:
        view = self.view
        target = low = high = None
        # The check first: a check due at a net weighing must not show the dose's band.
        if view is not None and view.next_action is NextAction.BALANCE_CHECK:
            if self.balance is not None and self.balance.readability is not None:
                limit = check_limit(self.check_weight, self.balance.readability,
                                    self.check_tolerance)
                target, low, high = self.check_weight, self.check_weight - limit, (
                    self.check_weight + limit)
        elif view is not None and (view.next_action is NextAction.WEIGH
                                   or view.expected_reading is not None):
            target, low, high = view.expected_reading, view.band_low, view.band_high
        self._set_gauge(replace(self._gauge, target=target, low=low, high=high))

    def _gauge_message(self, message: str) -> None:
        self._set_gauge(replace(self._gauge, message=message,
                                value=None if message else self._gauge.value))

    def _set_gauge(self, gauge: WeightGaugeState) -> None:
        if gauge != self._gauge:
            self._gauge = gauge
            self.gauge_changed.emit(gauge)

    def _forward(self, requests: list[Request]) -> None:
        """Carry out the controller's requests: the screen's own, or a signal to a worker."""
        for request in requests:
            match request:
                case ShowMessage(text=text):
                    self._set(replace(self.state, message=text))
                case GaugeMessage(text=text):
                    self._gauge_message(text)
                case Finished(preparation_id=preparation_id, outcome=outcome):
                    self.finished.emit(preparation_id, outcome)
                case _:
                    self._ask_worker(request)

    def _ask_worker(self, request: Request) -> None:
        match request:
            case RequestStableWeight(timeout=timeout):
                self.stable_weight_requested.emit(timeout)
            case SetStreaming(on=on):
                self.streaming_requested.emit(on)
            case SubmitCameraRead(frame=frame, symbols=symbols):
                if not self._discarding:  # the vial to discard is named by the handheld
                    self.camera_read_requested.emit(frame, symbols)
            case SubmitHandheld(text=text):
                self.handheld_requested.emit(text)
            case SubmitLabel(text=text):
                self.label_requested.emit(text)
            case SubmitWeight(reading=reading):
                self.weight_requested.emit(reading)
            case SubmitBalanceCheck(reading=reading):
                self.balance_check_requested.emit(reading)
            case SubmitPhoto(frame=frame):
                self.photo_requested.emit(frame)
            case Confirm():
                self.confirm_requested.emit()
            case Retry():
                self.retry_requested.emit()
            case _:
                self._ask_about_lots_and_labels(request)

    def _ask_about_lots_and_labels(self, request: Request) -> None:
        match request:
            case ReadPrintedLot(frame=frame):
                self.printed_lot_read_requested.emit(frame)
            case OfferPrintedLot(result=result):
                self.printed_lot_offered.emit(result)
            case ConfirmPrintedLot():
                self.printed_lot_confirmed.emit()
            case TypeLot(first_lot=first_lot, first_expiry=first_expiry, second_lot=second_lot,
                         second_expiry=second_expiry):
                self.lot_typed.emit(first_lot, first_expiry, second_lot, second_expiry)
            case SetAside():
                self.set_aside_requested.emit()
            case PrintLabel(reason=reason):
                self.print_label_requested.emit(reason)
            case KeepVial():
                self.keep_vial_requested.emit()
            case DiscardVial(key=key, reason=reason):
                self.discard_vial_requested.emit(key, reason)


def _lot_prompt(view: HoodView) -> LotPrompt | None:
    """The package waiting for its lot and expiry, as the lot panel shows it."""
    pending = view.pending_lot
    if pending is None or view.next_action is not NextAction.IDENTIFY_LOT:
        return None
    read = pending.read
    return LotPrompt(
        number=pending.number,
        product=pending.label,
        missing=pending.missing,
        read=(f"LOT {read.lot}   EXP {read.expiry.date:%Y-%m-%d}" if read is not None
              else None),
        confidence=read.confidence if read is not None else None,
        problem=pending.problem,
        reading=read is None and pending.problem is None,
    )


def _status(number: int, current: int, stopped: int | None, phase: Phase) -> StepStatus:
    if number == stopped:
        return StepStatus.STOPPED
    if number < current or phase in {Phase.AWAITING_VERIFICATION, Phase.VERIFIED}:
        return StepStatus.DONE
    if number == current and phase in {Phase.IN_PROGRESS, Phase.AWAITING_CHECK}:
        return StepStatus.CURRENT
    return StepStatus.TODO
