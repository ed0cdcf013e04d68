"""The hood session: what the station window drives, without Qt.

:class:`HoodSession` takes plain inputs (scanned text, balance readings, camera frames,
button presses), turns each into the workflow's event, records it through the
:class:`~station.services.preparations.PreparationService` and returns an immutable
:class:`HoodView` for the window to render. An input the workflow does not allow raises its
:class:`~station.core.errors.WorkflowError` and nothing is recorded.

Some inputs are refused before they become events, with a message in the view: a reading
that is not stable or not in grams, any weight while the balance's daily check is due
(:mod:`station.core.balance_check`), and camera reads the acceptance rule has not yet
decided (PENDING). Daily balance checks are recorded on the same event record, in a stream
of their own per balance (``BALANCE-<serial>``, kind ``balance_check``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum
from typing import Any

import cv2
import numpy as np

from scale_drivers.api import BalanceInfo, Reading
from station.core.acceptance import AcceptanceTracker, Decision, Status, SymbolRead
from station.core.balance_check import CheckResult, check_weight, needs_check
from station.core.errors import StationError, WorkflowError
from station.core.formulary import Formulary
from station.core.gravimetry import BalanceSpec, expected_volume
from station.core.orders import DoseOrder
from station.core.quantities import Mass
from station.core.recipe import MassCheck, Step, StepKind
from station.core.scan import split_symbology
from station.core.workflow import (
    ActionConfirmed,
    Cancelled,
    InProcessChecked,
    LabelScanned,
    Overridden,
    Phase,
    PhotoTaken,
    Preparation,
    Retried,
    Started,
    WeightRead,
    apply,
    drawn_concentration,
)
from station.devices.camera import Frame
from station.devices.photos import JPEG_QUALITY, PhotoRejected, capture
from station.records.formulary_versions import FormularyVersion
from station.records.store import NewEvent
from station.services.preparations import PreparationService
from station.services.scan_events import ScanEvents

BALANCE_CHECK = "balance_check"
TrackerFactory = Callable[[Formulary, int], AcceptanceTracker]
#: The configuration key that gives a balance's readability (docs/configuration.md).
READABILITY_KEY = "balance.readability"


class BalanceRefused(StationError):
    """A balance the station will not weigh on: its readability is unknown or disputed."""


def readability_to_use(info: BalanceInfo, configured: Decimal | None) -> Decimal:
    """The readability d (grams) the station weighs on ``info``'s balance with.

    The balance's own, else ``configured`` (:data:`READABILITY_KEY`). A configured value
    that differs from the balance's is refused (the configuration or the balance is not the
    one meant), and so is a balance for which neither says.

    >>> sbi = BalanceInfo("Sartorius", "BCE224I", "0034567")
    >>> readability_to_use(sbi, Decimal("0.0001"))
    Decimal('0.0001')
    >>> readability_to_use(replace(sbi, readability=Decimal("0.0001")), Decimal("0.00010"))
    Decimal('0.0001')
    >>> readability_to_use(replace(sbi, readability=Decimal("0.001")), Decimal("0.0001"))
    Traceback (most recent call last):
    ...
    station.services.hood.BalanceRefused: balance 0034567 reports a readability of 0.001 g, but \
balance.readability is configured as 0.0001 g: weights are refused until the two agree \
(correct balance.readability, or remove it to use the balance's own)
    """
    reported = info.readability
    if reported is not None:
        if configured is not None and configured != reported:
            raise BalanceRefused(
                f"balance {info.serial_number} reports a readability of {reported} g, but "
                f"{READABILITY_KEY} is configured as {configured} g: weights are refused "
                f"until the two agree (correct {READABILITY_KEY}, or remove it to use the "
                "balance's own)")
        return reported
    if configured is None:
        raise BalanceRefused(
            f"balance {info.serial_number} did not report its readability: weights cannot be "
            f"checked until {READABILITY_KEY} is set in the station configuration (the "
            'balance\'s readability d in grams, such as "0.01")')
    return configured


def balance_stream(serial_number: str) -> str:
    """The record stream that holds one balance's daily checks."""
    return f"BALANCE-{serial_number}"


class NextAction(Enum):
    """What the technician (or a pharmacist) must do next."""

    START = "start a preparation"
    SCAN = "scan the product"
    WEIGH = "weigh on the balance"
    BALANCE_CHECK = "check the balance with its check weight"
    PHOTO = "take a photo"
    CONFIRM = "confirm the step is done"
    SCAN_LABEL = "scan the printed label"
    RETRY = "retry the step"
    RETRY_OR_OVERRIDE = "retry the step, or a pharmacist overrides"
    PHARMACIST_CHECK = "a pharmacist checks the drawn doses"
    VERIFY = "a pharmacist verifies the preparation"
    DONE = "nothing: the preparation is finished"


@dataclass(frozen=True)
class HoodView:
    """Everything the window shows; masses in grams."""

    phase: Phase | None
    next_action: NextAction
    preparation_id: str | None = None
    step_number: int | None = None
    step_count: int = 0
    step_title: str = ""
    instruction: str = ""
    expected_net: Decimal | None = None
    expected_reading: Decimal | None = None
    band_low: Decimal | None = None
    band_high: Decimal | None = None
    decision: Status | None = None
    message: str = ""
    stop_message: str | None = None
    balance_check_due: bool = False


class HoodSession:
    """One technician's session at one hood, one preparation at a time."""

    def __init__(
        self,
        service: PreparationService,
        formulary: Formulary,
        scan_events: ScanEvents,
        tracker_factory: TrackerFactory,
        *,
        station_id: str,
        clock: Callable[[], dt.datetime],
        balance: BalanceInfo | None = None,
        balance_spec: BalanceSpec | None = None,
        balance_check_tolerance: Decimal | None = None,
    ) -> None:
        self.service = service
        self.formulary = formulary
        self.scan_events = scan_events
        self.tracker_factory = tracker_factory
        self.station_id = station_id
        self.clock = clock
        self.balance = balance
        self.balance_spec = balance_spec
        if (balance is None) != (balance_spec is None):
            raise ValueError("a balance and its specification come together")
        self.balance_check_tolerance = balance_check_tolerance
        self._prep: Preparation | None = None
        self._user: str | None = None
        self._tracker: AcceptanceTracker | None = None
        self._tracked_step: int | None = None
        self._view = self._render(None, "")

    # ------------------------------------------------------------------ state

    @property
    def preparation(self) -> Preparation | None:
        """The preparation as last recorded."""
        return self._prep

    @property
    def view(self) -> HoodView:
        """What the window shows now."""
        return self._view

    @property
    def user(self) -> str | None:
        """The technician preparing at this hood."""
        return self._user

    def connect_balance(self, balance: BalanceInfo, spec: BalanceSpec) -> HoodView:
        """Weigh on ``balance`` from now on (it connected, or another one replaced it)."""
        before = self.balance
        message = f"balance {balance.serial_number} connected"
        if before is not None and before.serial_number != balance.serial_number:
            message = (f"a different balance (serial {balance.serial_number}) replaced "
                       f"{before.serial_number}: weights are recorded under its serial")
        self.balance, self.balance_spec = balance, spec
        self._view = self._render(self._prep, message)
        return self._view

    # ------------------------------------------------------------------ inputs

    def start(self, order: DoseOrder, version: FormularyVersion, user: str, *,
              remake_of: str | None = None) -> HoodView:
        """Create and start a preparation of ``order`` under formulary ``version``.

        ``remake_of`` names the rejected preparation this one remakes, if any.
        """
        if self._prep is not None and self._prep.phase in {
            Phase.IN_PROGRESS, Phase.HARD_STOP, Phase.AWAITING_CHECK,
        }:
            raise WorkflowError(
                f"preparation {self._prep.preparation_id} is still open: finish or cancel it"
            )
        created = self.service.create(order, version, user, remake_of=remake_of)
        self._user = user
        prep = self.service.record_event(created.preparation_id, Started(user, self._now()))
        return self._settle(prep, f"started {prep.preparation_id}")

    def resume(self, preparation_id: str, user: str) -> HoodView:
        """Carry on with a recorded preparation (after a restart).

        One created but never started (the station stopped between the two writes of
        :meth:`start`) is started now: it already takes its order off the worklist.
        """
        self._user = user
        prep = self.service.load(preparation_id)
        if prep.phase is Phase.READY:
            prep = self.service.record_event(preparation_id, Started(user, self._now()))
        return self._settle(prep, f"resumed {preparation_id}")

    def release(self) -> HoodView:
        """The technician signed out: put the open preparation down (it stays recorded)."""
        self._prep, self._user, self._tracker = None, None, None
        self._view = self._render(None, "")
        return self._view

    def scan_text(self, text: str, *, handheld: bool, frame_index: int | None = None) -> HoodView:
        """A decoded barcode: from the handheld scanner, or one symbol of camera frame."""
        return self.scan_reads([SymbolRead(text, matrix=text.startswith("]d"))],
                               handheld=handheld, frame_index=frame_index)

    def scan_reads(self, reads: list[SymbolRead], *, handheld: bool = False,
                   frame_index: int | None = None) -> HoodView:
        """Every symbol decoded in one camera frame (or one handheld read)."""
        prep, user, step = self._need_step(StepKind.SCAN, "a scan")
        tracker = self._tracker_for(step)
        if handheld:
            if len(reads) != 1:
                raise ValueError("a handheld scan is one symbol")
            decision = tracker.observe_handheld(reads[0].text)
        else:
            if frame_index is None:
                raise ValueError("a camera read needs its frame index")
            decision = tracker.observe_frame(frame_index, reads)
        return self._decided(prep, user, decision)

    def weight(self, reading: Reading) -> HoodView:
        """A balance reading for the current weighing step."""
        prep, user, step = self._need_weighing()
        balance, spec = self._need_balance()
        if self._check_due():
            return self._refuse(
                f"the balance {balance.serial_number} has not been checked today: "
                "put the check weight on the pan and record the daily check first")
        problem = _reading_problem(reading)
        if problem is not None:
            return self._refuse(problem)
        event = WeightRead(user, self._now(), Mass(reading.value),
                           balance.serial_number, spec, reading.raw)
        after = self.service.record_event(prep.preparation_id, event)
        return self._settle(after, self._outcome(after, step, f"{reading.value} g recorded"))

    def photo(self, frame: Frame) -> HoodView:
        """Photograph the current step; an unusable frame is recorded as a hard stop."""
        prep, user = self._need_open()
        step = prep.step
        if step is None:
            raise WorkflowError("no step to photograph")
        now = self._now()
        try:
            photo = capture(frame, step=f"{prep.preparation_id} step {step.number}: "
                            f"{step.title}", station_id=self.station_id,
                            utc=now.astimezone(dt.UTC))
            jpeg, problem = photo.jpeg, None
        except PhotoRejected as rejected:
            jpeg, problem = _jpeg(frame), rejected.problem
        event = PhotoTaken(user, now, hashlib.sha256(jpeg).hexdigest(), problem)
        apply(prep, event)  # refuse before storing anything
        stored = self.service.record.photos.put(jpeg)
        assert stored == event.photo
        after = self.service.record_event(prep.preparation_id, event)
        message = "photo taken" if problem is None else f"photo refused: {problem}"
        return self._settle(after, message)

    def confirm(self) -> HoodView:
        """The technician confirms a manual step (an injection) was done."""
        prep, user, step = self._need_step(StepKind.ACTION, "a confirmation")
        after = self.service.record_event(prep.preparation_id, ActionConfirmed(user, self._now()))
        return self._settle(after, f"step {step.number} confirmed")

    def label_scanned(self, text: str) -> HoodView:
        """The printed label's barcode, scanned from the finished preparation."""
        prep, user, step = self._need_step(StepKind.LABEL, "a label scan")
        _symbology, data = split_symbology(text.strip())
        after = self.service.record_event(prep.preparation_id,
                                          LabelScanned(user, self._now(), data))
        return self._settle(after, self._outcome(after, step, "label matches"))

    def retry(self) -> HoodView:
        """Clear the hard stop to redo the stopped step."""
        prep, user = self._need_open()
        after = self.service.record_event(prep.preparation_id, Retried(user, self._now()))
        self._tracker = None
        return self._settle(after, "retry the step")

    def override(self, pharmacist_signature_payload: Mapping[str, Any], reason: str) -> HoodView:
        """A pharmacist accepts the stopped attempt, signing with a reason."""
        prep, _ = self._need_open()
        pharmacist = str(pharmacist_signature_payload.get("user_id", ""))
        after = self.service.record_event(
            prep.preparation_id, Overridden(pharmacist, self._now(), reason),
            signature=pharmacist_signature_payload)
        return self._settle(after, f"overridden by {pharmacist}: {reason}")

    def in_process_check(self, pharmacist_signature_payload: Mapping[str, Any], *,
                         approved: bool, reason: str = "") -> HoodView:
        """A pharmacist checks the drawn doses before mixing, and signs the outcome."""
        prep, _ = self._need_open()
        pharmacist = str(pharmacist_signature_payload.get("user_id", ""))
        after = self.service.record_event(
            prep.preparation_id, InProcessChecked(pharmacist, self._now(), approved, reason),
            signature=pharmacist_signature_payload)
        outcome = "checked and approved" if approved else f"rejected at the check: {reason}"
        return self._settle(after, f"{outcome} by {pharmacist}")

    def cancel(self, reason: str) -> HoodView:
        """Abandon the preparation, with a reason."""
        prep, user = self._need_open()
        after = self.service.record_event(prep.preparation_id,
                                          Cancelled(user, self._now(), reason))
        return self._settle(after, f"cancelled: {reason}")

    def record_balance_check(self, reading: Reading, nominal: Decimal, *,
                             user: str | None = None) -> CheckResult:
        """Record the daily check of this balance with a check weight of ``nominal`` grams."""
        who = user or self._user
        if not who:
            raise WorkflowError("a balance check is recorded by a signed-in user")
        problem = _reading_problem(reading)
        if problem is not None:
            self._view = self._render(self._prep, problem)
            raise WorkflowError(problem)
        info, spec = self._need_balance()
        readability = info.readability or spec.readability
        result = check_weight(nominal, reading.value, readability, self.balance_check_tolerance)
        now = self._now()
        payload = {
            "at": now.isoformat(), "serial_number": info.serial_number, "maker": info.maker,
            "model": info.model, "nominal": str(nominal), "reading": str(reading.value),
            "readability": str(readability), "raw": reading.raw,
            "deviation": str(result.deviation), "limit": str(result.limit),
            "passed": result.passed, "message": result.message,
        }
        stream = balance_stream(info.serial_number)
        events = self.service.record.events
        events.append(NewEvent(stream, BALANCE_CHECK, payload, who, self.station_id,
                               self.service.clock()), events.version_of(stream))
        self._view = self._render(self._prep, result.message)
        return result

    # ------------------------------------------------------------------ balance check

    def last_passed_check(self) -> dt.datetime | None:
        """When this balance last passed its check, from the record."""
        if self.balance is None:
            return None
        stored = self.service.record.events.events_of(balance_stream(self.balance.serial_number))
        passed = [dt.datetime.fromisoformat(e.payload["at"]) for e in stored
                  if e.kind == BALANCE_CHECK and e.payload.get("passed") is True]
        return max(passed) if passed else None

    def _check_due(self) -> bool:
        if self.balance is None:
            return False  # nothing can be weighed anyway until a balance connects
        return needs_check(self.last_passed_check(), self._now(), self.balance.serial_number)

    def _need_balance(self) -> tuple[BalanceInfo, BalanceSpec]:
        if self.balance is None or self.balance_spec is None:
            raise WorkflowError("no balance is connected: the weight waits for it")
        return self.balance, self.balance_spec

    # ------------------------------------------------------------------ helpers

    def _now(self) -> dt.datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the hood clock must give times with the site's UTC offset")
        return now

    def _need_open(self) -> tuple[Preparation, str]:
        if self._prep is None or self._user is None:
            raise WorkflowError("no preparation is open at this hood: start one")
        return self._prep, self._user

    def _need_step(self, kind: StepKind, what: str) -> tuple[Preparation, str, Step]:
        prep, user = self._need_open()
        step = prep.step
        if prep.phase is not Phase.IN_PROGRESS or step is None:
            raise WorkflowError(f"{what} is not allowed while the preparation is "
                                f"{prep.phase.value}")
        if step.kind is not kind:
            raise WorkflowError(f"step {step.number} ({step.title}) needs "
                                f"{_NEXT_WORDS[_action(prep)]}, not {what}")
        if prep.record(step.number).accepted is not None:
            raise WorkflowError(f"step {step.number} ({step.title}) is done but still needs "
                                "a usable photo")
        return prep, user, step

    def _need_weighing(self) -> tuple[Preparation, str, Step]:
        prep, _ = self._need_open()
        step = prep.step
        if step is not None and step.kind is StepKind.WEIGH_NET:
            return self._need_step(StepKind.WEIGH_NET, "a weight")
        return self._need_step(StepKind.WEIGH_TARE, "a weight")

    def _tracker_for(self, step: Step) -> AcceptanceTracker:
        if self._tracker is None or self._tracked_step != step.number:
            self._tracker = self.tracker_factory(self.formulary, self._now().year)
            self._tracked_step = step.number
        return self._tracker

    def _decided(self, prep: Preparation, user: str, decision: Decision) -> HoodView:
        if decision.status is Status.PENDING or decision.identity is None:
            view = self._render(prep, decision.reason)
            self._view = _with_decision(view, decision.status)
            return self._view
        event = self.scan_events.event_for(decision, user=user, at=self._now())
        after = self.service.record_event(prep.preparation_id, event)
        self._tracker = None
        step = prep.step
        assert step is not None
        view = self._settle(after, self._outcome(after, step, decision.reason))
        self._view = _with_decision(view, decision.status)
        return self._view

    def _outcome(self, after: Preparation, step: Step, ok: str) -> str:
        if after.stop is not None and after.stop.step == step.number:
            return after.stop.message
        return ok

    def _refuse(self, message: str) -> HoodView:
        self._view = self._render(self._prep, message)
        return self._view

    def _settle(self, prep: Preparation, message: str) -> HoodView:
        self._prep = prep
        self._view = self._render(prep, message)
        return self._view

    def _render(self, prep: Preparation | None, message: str) -> HoodView:
        if prep is None:
            return HoodView(None, NextAction.START, message=message)
        step = prep.step
        action = _action(prep)
        due = False
        if action is NextAction.WEIGH and self._check_due():
            action, due = NextAction.BALANCE_CHECK, True
        view = HoodView(
            phase=prep.phase,
            next_action=action,
            preparation_id=prep.preparation_id,
            step_number=step.number if step is not None else None,
            step_count=len(prep.recipe.steps),
            step_title=step.title if step is not None else "",
            instruction=_instruction(prep, action),
            message=message,
            stop_message=prep.stop.message if prep.stop is not None else None,
            balance_check_due=due,
        )
        if step is not None and step.kind is StepKind.WEIGH_NET and step.tolerance is not None:
            net = _expected_net(prep, step)
            tare = _reference_mass(prep, step)
            band = step.tolerance.fraction * net
            reading = tare + net if tare is not None else None
            view = _replace(view, expected_net=net, expected_reading=reading,
                            band_low=reading - band if reading is not None else None,
                            band_high=reading + band if reading is not None else None)
        return view


_PHASE_ACTIONS = {
    Phase.READY: NextAction.START,
    Phase.AWAITING_CHECK: NextAction.PHARMACIST_CHECK,
    Phase.AWAITING_VERIFICATION: NextAction.VERIFY,
}
_NEXT_WORDS = {action: action.value for action in NextAction}


def _action(prep: Preparation) -> NextAction:
    phase = prep.phase
    if phase is Phase.HARD_STOP:
        assert prep.stop is not None
        return NextAction.RETRY_OR_OVERRIDE if prep.stop.reason.overridable else NextAction.RETRY
    if phase is not Phase.IN_PROGRESS:
        return _PHASE_ACTIONS.get(phase, NextAction.DONE)
    step = prep.step
    assert step is not None
    if step.kind is StepKind.PHOTO or prep.record(step.number).accepted is not None:
        return NextAction.PHOTO
    return {
        StepKind.SCAN: NextAction.SCAN,
        StepKind.WEIGH_TARE: NextAction.WEIGH,
        StepKind.WEIGH_NET: NextAction.WEIGH,
        StepKind.ACTION: NextAction.CONFIRM,
        StepKind.LABEL: NextAction.SCAN_LABEL,
        StepKind.PHARMACIST_CHECK: NextAction.PHARMACIST_CHECK,
    }[step.kind]


def _instruction(prep: Preparation, action: NextAction) -> str:
    step = prep.step
    if action in {NextAction.RETRY, NextAction.RETRY_OR_OVERRIDE} and prep.stop is not None:
        return f"{prep.stop.message} — {action.value}"
    if step is None or action in {NextAction.VERIFY, NextAction.DONE}:
        return action.value
    if action is NextAction.PHOTO:
        return f"Photograph step {step.number}: {step.title}"
    if action is NextAction.BALANCE_CHECK:
        return "The balance's daily check is due: weigh the check weight and record it"
    return step.title


def _expected_net(prep: Preparation, step: Step) -> Decimal:
    if step.check is MassCheck.FINAL:
        return sum((prep.net_mass(n).grams for n in step.sums), Decimal(0))
    if step.check is MassCheck.DOSE and step.dose is not None and step.product is not None:
        volume = expected_volume(step.dose, drawn_concentration(prep, step))
        return volume * step.product.specific_gravity.value
    assert step.expected_mass is not None
    return step.expected_mass


def _reference_mass(prep: Preparation, step: Step) -> Decimal | None:
    if step.reference is None:
        return None
    attempt = prep.record(step.reference).accepted
    if attempt is None or not isinstance(attempt.event, WeightRead):
        return None
    return attempt.event.mass.grams


def _reading_problem(reading: Reading) -> str | None:
    if not reading.stable:
        return (f"the balance is not stable ({reading.raw.strip()!r}): wait for the reading "
                "to settle")
    if reading.unit != "g":
        return f"the balance reads in {reading.unit!r}: set it to grams"
    return None


def _jpeg(frame: Frame) -> bytes:
    ok, encoded = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError(f"JPEG encoding failed for frame {frame.index} of {frame.source}")
    return np.asarray(encoded, dtype=np.uint8).tobytes()


def _with_decision(view: HoodView, status: Status) -> HoodView:
    return _replace(view, decision=status)


def _replace(view: HoodView, **changes: Any) -> HoodView:
    return replace(view, **changes)
