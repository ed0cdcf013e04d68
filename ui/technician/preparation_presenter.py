"""The guided preparation's presenter: what the screen shows, and what the station does by itself.

:class:`PreparationPresenter` sits on the GUI thread between the devices and the hood worker.
It never touches a port or the record itself; it only decides and forwards:

- live balance readings go to the gauge; on a weighing step (or the daily balance check) a
  stable, non-empty, new load is captured by itself (:class:`~station.core.capture.
  WeightCapture`): the balance is asked for its stable weight, which the hood records;
- camera symbols go to the hood on a scanning step; a handheld scan goes to the step that
  wants one (a product, or the printed label);
- once a scan or a weight is accepted, the step's photograph is taken by itself from the
  next camera frame (one taken after the acceptance, never an older one); a photograph step
  (the labelled bag) waits for the primary key;
- the primary key (Enter) confirms a manual step, retries after a hard stop, or takes a
  photograph; overrides, in-process checks and cancelling go through :class:`Prompts`.

Every change is one immutable :class:`PreparationScreenState` emitted with ``state_changed``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum
from typing import Protocol

from PySide6.QtCore import QObject, Signal

from scale_drivers.api import BalanceInfo, Reading
from scale_drivers.connection import LinkState
from station.core.acceptance import Status
from station.core.balance_check import check_limit
from station.core.capture import WeightCapture
from station.core.errors import StationError
from station.core.formulary import Formulary
from station.core.recipe import StepKind
from station.core.scan import parse_scan
from station.core.workflow import Phase, Preparation
from station.devices.camera import Frame
from station.devices.decoding import Symbol
from station.services.hood import HoodView, NextAction
from ui.widgets.status_bar import state_words
from ui.widgets.weight_gauge import WeightGaugeState

#: How long the balance may take to give a stable weight once one is asked for (s).
STABLE_TIMEOUT = 8.0


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


class Prompts(Protocol):
    """Asks a person for a decision; the window opens dialogs, tests answer directly."""

    def ask_override(self, explanation: str) -> None:
        """A pharmacist's credentials and a reason to accept the stopped attempt."""

    def ask_in_process_check(self, explanation: str) -> None:
        """A pharmacist's credentials and approve or reject (with a reason)."""

    def ask_cancel(self, explanation: str) -> None:
        """A reason to abandon the preparation."""


_HINTS = {
    NextAction.SCAN: "Hold the package under the camera, or scan it with the handheld",
    NextAction.WEIGH: "Place it on the balance: the weight is taken when it is steady",
    NextAction.BALANCE_CHECK: "Place the check weight on the balance",
    NextAction.PHOTO: "Hold it under the camera",
    NextAction.CONFIRM: "Press Enter when done",
    NextAction.SCAN_LABEL: "Print the label, put it on, and scan its barcode with the handheld",
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
}


class PreparationPresenter(QObject):
    """Decides what the preparation screen shows and what happens by itself."""

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
        self.view: HoodView | None = None
        self.preparation: Preparation | None = None
        self.balance: BalanceInfo | None = None
        self._capture: WeightCapture | None = None
        self._photo_wanted: tuple[str, int, int] | None = None
        self._photo_asked: tuple[str, int, int] | None = None
        self._streaming = False
        self._link = LinkState.DISCONNECTED.value
        self._gauge = WeightGaugeState()

    # ------------------------------------------------------------ from the hood worker

    def on_view_changed(self, view: HoodView, prep: Preparation | None) -> None:
        """The hood's new view: re-render, and do what the station does by itself."""
        before = self.view
        self.view, self.preparation = view, prep
        self._set(self._render(view, prep))
        self._update_gauge_target()
        # Live weights while weighing, and while stopped at a weighing (to adjust the syringe).
        self._stream(view.next_action in {NextAction.WEIGH, NextAction.BALANCE_CHECK}
                     or view.expected_reading is not None)
        self._photo_by_itself()
        if prep is not None and view.phase in {Phase.AWAITING_VERIFICATION, Phase.CANCELLED,
                                                Phase.REJECTED} and (
                before is None or before.phase is not view.phase):
            self.finished.emit(prep.preparation_id, view.phase.value if view.phase else "")

    def on_refused(self, message: str) -> None:
        """An input was not allowed; show why."""
        if self._capture is not None:
            self._capture.failed()
        self._set(replace(self.state, message=f"✖ {message}"))

    # ------------------------------------------------------------ from the devices

    def on_balance_connected(self, info: BalanceInfo) -> None:
        """A (re)connected balance: captures use its readability."""
        self.balance = info
        if info.readability is not None:
            self._capture = WeightCapture(info.readability)
        self._update_gauge_target()

    def on_balance_state(self, state: str, _detail: str) -> None:
        """The balance's link: while it is not connected the gauge says the step waits."""
        self._link = state
        if state == LinkState.CONNECTED.value:
            if self._gauge.message.startswith("BALANCE"):
                self._gauge_message("")
        else:
            if self._capture is not None:
                self._capture.failed()
            # The status bar's word for the state, so both say the same thing.
            self._gauge_message(f"BALANCE {state_words(state)}: the step waits for it")

    def on_live_reading(self, reading: Reading | None, problem: str) -> None:
        """A live reading (or why there is none): the gauge, and maybe an auto-capture."""
        if reading is None:
            if self._link == LinkState.CONNECTED.value:
                self._gauge_message(problem)  # overload, underload, busy: the balance says so
            return
        # The gauge widget shows the value itself; keep it here so a new target keeps it.
        self._gauge = replace(self._gauge, value=reading.value, stable=reading.stable)
        self.reading_shown.emit(reading.value, reading.stable, reading.monotonic)
        if self._gauge.message:
            self._gauge_message("")
        view, capture = self.view, self._capture
        if view is None or capture is None or reading.unit != "g":
            return
        if view.next_action not in {NextAction.WEIGH, NextAction.BALANCE_CHECK}:
            return
        if capture.offer(reading.value, stable=reading.stable):
            capture.requested()
            self.stable_weight_requested.emit(STABLE_TIMEOUT)

    def on_stable_reading(self, reading: Reading) -> None:
        """The balance's stable weight, asked for by a capture: record it."""
        view, capture = self.view, self._capture
        if capture is not None:
            capture.taken(reading.value)
        if view is None:
            return
        if view.next_action is NextAction.BALANCE_CHECK:
            self.balance_check_requested.emit(reading)
        elif view.next_action is NextAction.WEIGH:
            self.weight_requested.emit(reading)

    def on_balance_failed(self, message: str) -> None:
        """A stable weight did not come: say so; the next steady reading tries again."""
        if self._capture is not None:
            self._capture.failed()
        self._set(replace(self.state, message=f"✖ balance: {message}"))

    def on_frame(self, frame: Frame) -> None:
        """The newest camera frame: the photograph a step is waiting for, if any."""
        wanted = self._photo_wanted
        if wanted is not None and wanted != self._photo_asked:
            self._photo_wanted = None
            self._photo_asked = wanted
            self.photo_requested.emit(frame)

    def on_symbols(self, frame: Frame, symbols: list[Symbol]) -> None:
        """Symbols the camera read: overlays, and the scan on a scanning step."""
        view = self.view
        scanning = view is not None and view.next_action is NextAction.SCAN
        if scanning and symbols:
            self.camera_read_requested.emit(frame, symbols)
        text = self.state.decision_text if scanning else "not scanning at this step"
        status = self.state.decision if scanning else Status.PENDING
        prep = self.preparation
        if prep is not None and prep.stop is not None and prep.phase is Phase.HARD_STOP:
            text, status = f"stopped: {prep.stop.reason.value}", Status.REFUSED
        tags = [self.tag(s) for s in symbols]
        self.symbols_shown.emit(frame.index, symbols, text, status, tags)

    def on_handheld(self, text: str) -> None:
        """A handheld scan while a preparation is open."""
        view = self.view
        if view is None or view.next_action not in {NextAction.SCAN, NextAction.SCAN_LABEL}:
            self._set(replace(self.state, message="✖ no scan is expected at this step: "
                                                  f"{text.strip()!r} ignored"))
            return
        if view.next_action is NextAction.SCAN_LABEL:
            self.label_requested.emit(text)
        else:
            self.handheld_requested.emit(text)

    # ------------------------------------------------------------ intents (keys, buttons)

    def primary(self) -> None:
        """Enter: confirm, retry, or take the photograph the step waits for."""
        view = self.view
        if view is None:
            return
        action = view.next_action
        if action is NextAction.CONFIRM:
            self.confirm_requested.emit()
        elif action in {NextAction.RETRY, NextAction.RETRY_OR_OVERRIDE}:
            self.retry_requested.emit()
        elif action is NextAction.PHOTO:
            self._want_photo(again=True)

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
        )

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

    def _stream(self, on: bool) -> None:
        if on != self._streaming:
            self._streaming = on
            self.streaming_requested.emit(on)

    def _photo_by_itself(self) -> None:
        view, prep = self.view, self.preparation
        self._photo_wanted = None
        if view is None or prep is None or view.next_action is not NextAction.PHOTO:
            return
        step = prep.step
        if step is None or step.kind is StepKind.PHOTO:
            return  # the labelled container: the technician holds it up and presses Enter
        self._want_photo(again=False)

    def _want_photo(self, *, again: bool) -> None:
        """Take the step's photograph from the next frame (once per attempt, unless again)."""
        prep = self.preparation
        if prep is None or prep.step is None:
            return
        key = (prep.preparation_id, prep.step.number, len(prep.record(prep.step.number).photos))
        if again:
            self._photo_asked = None
        if key != self._photo_asked:
            self._photo_wanted = key


def _status(number: int, current: int, stopped: int | None, phase: Phase) -> StepStatus:
    if number == stopped:
        return StepStatus.STOPPED
    if number < current or phase in {Phase.AWAITING_VERIFICATION, Phase.VERIFIED}:
        return StepStatus.DONE
    if number == current and phase in {Phase.IN_PROGRESS, Phase.AWAITING_CHECK}:
        return StepStatus.CURRENT
    return StepStatus.TODO
