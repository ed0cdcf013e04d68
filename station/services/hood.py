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

Every component accepted at a scan step has a lot and an expiry
(:mod:`station.core.components`). A package of the right product whose barcode carries
neither (a UPC-A, a GS1 code without AIs 10 and 17) is recorded only once they are known:
the view asks to identify the lot (:attr:`NextAction.IDENTIFY_LOT`) with a
:class:`PendingLot`; the lot and expiry read from the printed label (offered by
:meth:`HoodSession.offer_printed_lot`) are confirmed with Enter, or typed twice blind, and
the scan is recorded with them and their :class:`~station.core.components.LotSource`. An
opened vial is scanned by the station's own label on it (:class:`VialDesk`), which gives the
lot and expiry recorded at its first puncture.

The label is printed at the label step, after the final container check has passed
(:class:`LabelDesk` computes its beyond-use date from the record), then scanned back from
the preparation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from scale_drivers.api import BalanceInfo, Reading
from station.core.acceptance import (
    FRAME_WINDOW,
    REQUIRED_FRAMES,
    AcceptanceTracker,
    Decision,
    Status,
    SymbolRead,
)
from station.core.balance_check import CheckResult, check_weight, needs_check
from station.core.components import ComponentError, LotSource, missing_identification, typed_twice
from station.core.errors import StationError, WorkflowError
from station.core.formulary import Formulary, Product
from station.core.gravimetry import BalanceSpec, expected_volume
from station.core.identifiers import Expiry, Lot
from station.core.opened_vials import OpenedVialError, site_minute
from station.core.orders import DoseOrder
from station.core.printed_lot import PrintedLot
from station.core.quantities import Mass
from station.core.recipe import MassCheck, Step, StepKind
from station.core.scan import ScanIdentity, split_symbology
from station.core.workflow import (
    ActionConfirmed,
    Cancelled,
    InProcessChecked,
    LabelScanned,
    Overridden,
    Phase,
    PhotoTaken,
    Preparation,
    ProductScanned,
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

if TYPE_CHECKING:
    from station.devices.ocr import OcrResult
    from station.services.labelling import LabelDesk
    from station.services.opened_vial_use import VialDesk, VialScan

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
    IDENTIFY_LOT = "read or type the lot and expiry"
    CONFIRM = "confirm the step is done"
    PRINT_LABEL = "print the label"
    SCAN_LABEL = "scan the printed label"
    RETRY = "retry the step"
    RETRY_OR_OVERRIDE = "retry the step, or a pharmacist overrides"
    PHARMACIST_CHECK = "a pharmacist checks the drawn doses"
    VERIFY = "a pharmacist verifies the preparation"
    DONE = "nothing: the preparation is finished"


@dataclass(frozen=True)
class PendingLot:
    """A package of the right product waiting for its lot and expiry before it is recorded.

    ``missing`` says what its barcode lacks; ``read`` is the lot and expiry read from its
    printed label, offered for the technician to confirm (None until read, or when the read
    was refused: ``problem`` then says why). ``number`` tells one pending package from the
    next (the read of an earlier one is not offered for a later one). ``frame_index`` is the
    camera frame the barcode was read in (None for a handheld scan).
    """

    number: int
    preparation_id: str
    step: int
    product: Product
    identity: ScanIdentity
    missing: str
    frame_index: int | None = None
    read: PrintedLot | None = None
    problem: str | None = None

    @property
    def label(self) -> str:
        """The product as the technician reads it."""
        return self.product.label

    @property
    def handheld(self) -> bool:
        """Whether the barcode came from the handheld scanner."""
        return self.frame_index is None


@dataclass(frozen=True)
class HoodView:
    """Everything the window shows; masses in grams.

    ``pending_lot`` is the package waiting for its lot and expiry (next action
    IDENTIFY_LOT); ``label_preview`` the PNG of the label last printed for this preparation;
    ``vial_keepable`` whether the vial of the last accepted draw may be kept as an opened
    vial (:meth:`HoodSession.keep_vial`), and ``vial_kept`` the key of the vial kept, with
    its label's PNG in ``vial_label_preview``.
    """

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
    pending_lot: PendingLot | None = None
    label_preview: bytes | None = None
    vial_keepable: bool = False
    vial_kept: str | None = None
    vial_label_preview: bytes | None = None


class HoodSession:
    """One technician's session at one hood, one preparation at a time.

    ``labels`` prints the preparation's label and ``vials`` keeps track of opened vials;
    without them (None) the label cannot be printed and opened-vial labels are not
    recognised.
    """

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
        labels: LabelDesk | None = None,
        vials: VialDesk | None = None,
    ) -> None:
        self.service = service
        self.labels = labels
        self.vials = vials
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
        self._pending: PendingLot | None = None
        self._pending_count = 0
        self._vial_seen: deque[tuple[int, str]] = deque()
        self._label_preview: tuple[str, bytes] | None = None
        self._keepable: tuple[str, int] | None = None
        self._kept: tuple[str, str, bytes] | None = None
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
        self._forget()
        prep = self.service.record_event(created.preparation_id, Started(user, self._now()))
        return self._settle(prep, f"started {prep.preparation_id}")

    def resume(self, preparation_id: str, user: str) -> HoodView:
        """Carry on with a recorded preparation (after a restart).

        One created but never started (the station stopped between the two writes of
        :meth:`start`) is started now: it already takes its order off the worklist.
        """
        self._user = user
        if self._prep is None or self._prep.preparation_id != preparation_id:
            self._forget()
        prep = self.service.load(preparation_id)
        if prep.phase is Phase.READY:
            prep = self.service.record_event(preparation_id, Started(user, self._now()))
        return self._settle(prep, f"resumed {preparation_id}")

    def release(self) -> HoodView:
        """The technician signed out: put the open preparation down (it stays recorded)."""
        self._prep, self._user, self._tracker = None, None, None
        self._forget()
        self._view = self._render(None, "")
        return self._view

    def scan_text(self, text: str, *, handheld: bool, frame_index: int | None = None) -> HoodView:
        """A decoded barcode: from the handheld scanner, or one symbol of camera frame."""
        return self.scan_reads([SymbolRead(text, matrix=text.startswith("]d"))],
                               handheld=handheld, frame_index=frame_index)

    def scan_reads(self, reads: list[SymbolRead], *, handheld: bool = False,
                   frame_index: int | None = None) -> HoodView:
        """Every symbol decoded in one camera frame (or one handheld read).

        An opened vial's label (:class:`VialDesk`) is recognised first; anything else goes
        through the acceptance rule. While a package waits for its lot and expiry, camera
        reads of that same package change nothing; another package shown replaces it.
        """
        prep, user, step = self._need_step(StepKind.SCAN, "a scan")
        if handheld and len(reads) != 1:
            raise ValueError("a handheld scan is one symbol")
        if not handheld and frame_index is None:
            raise ValueError("a camera read needs its frame index")
        try:
            vial = self._opened_vial(reads, handheld=handheld, frame_index=frame_index)
        except OpenedVialError as error:
            return self._refuse(str(error))  # an opened-vial label the record does not know
        if vial is not None:
            return self._record_vial(prep, user, vial)
        tracker = self._tracker_for(step)
        if handheld:
            decision = tracker.observe_handheld(reads[0].text)
        else:
            assert frame_index is not None
            decision = tracker.observe_frame(frame_index, reads)
        return self._decided(prep, user, step, decision, frame_index=frame_index)

    def offer_printed_lot(self, read: OcrResult) -> HoodView:
        """The lot and expiry read from the printed label of the package waiting for them.

        A read is offered for the technician to confirm (:meth:`confirm_printed_lot`); a
        refused one is not, and the view says why and asks for the lot to be typed. A read
        that comes when no package waits (it was set aside, or replaced) changes nothing.
        """
        pending = self._pending
        if pending is None or self._prep is None or not self._pending_valid(self._prep):
            return self._view
        outcome = read.outcome
        if isinstance(outcome, PrintedLot):
            self._pending = replace(pending, read=outcome, problem=None)
            message = (f"read {outcome.text!r}: lot {outcome.lot}, expiry {outcome.expiry} "
                       f"(confidence {outcome.confidence:.0f}) — press Enter if the package "
                       "says the same, or type the lot and expiry")
        else:
            self._pending = replace(pending, read=None, problem=outcome.reason)
            message = (f"the printed lot and expiry could not be read ({outcome.reason}): "
                       "type them from the package, twice")
        return self._refuse(message)

    def confirm_printed_lot(self) -> HoodView:
        """Enter: the lot and expiry read from the printed label are the package's."""
        prep, user, _ = self._need_step(StepKind.SCAN, "a lot confirmation")
        pending = self._need_pending(prep)
        if pending.read is None:
            why = f" ({pending.problem})" if pending.problem else ""
            raise WorkflowError(f"no printed lot and expiry were read to confirm{why}: type "
                                "them from the package, twice")
        return self._record_pending(prep, user, pending, pending.read.lot, pending.read.expiry,
                                    LotSource.PRINTED_TEXT)

    def type_lot(self, first_lot: str, first_expiry: str, second_lot: str,
                 second_expiry: str) -> HoodView:
        """The lot and expiry typed twice, blind; two entries that differ record nothing."""
        prep, user, _ = self._need_step(StepKind.SCAN, "a typed lot")
        pending = self._need_pending(prep)
        try:
            lot, expiry = typed_twice(first_lot, first_expiry, second_lot, second_expiry)
        except ComponentError as error:
            return self._refuse(str(error))
        return self._record_pending(prep, user, pending, lot, expiry, LotSource.TYPED)

    def set_aside(self) -> HoodView:
        """Put the package waiting for its lot aside: nothing is recorded."""
        prep, _, _ = self._need_step(StepKind.SCAN, "setting a package aside")
        pending = self._need_pending(prep)
        self._pending = None
        self._tracker = None
        return self._refuse(f"{pending.label} set aside, nothing recorded: scan the package "
                            "to use")

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
        message = self._outcome(after, step, f"{reading.value} g recorded")
        return self._settle(after, self._after_draw(after, step, user, message))

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

    def print_label(self, reason: str = "") -> HoodView:
        """Print the preparation's label at the label step; printing it again needs a reason.

        The workflow refuses before anything is printed (a label before the final container
        check has passed, a reprint without a reason); the label is recorded once printed.
        """
        prep, user, _ = self._need_step(StepKind.LABEL, "printing the label")
        if self.labels is None:
            raise WorkflowError("this station has no label printer set up: the label cannot "
                                "be printed")
        event, content = self.labels.label_event(prep, user=user, at=self._now(),
                                                 reason=reason)
        apply(prep, event)  # refuse before printing anything
        preview = self.labels.print(content)
        after = self.service.record_event(prep.preparation_id, event)
        self._label_preview = (prep.preparation_id, preview)
        copy = "label printed" if event.copy == 1 else f"label printed again (copy {event.copy})"
        return self._settle(after, f"{copy} on {event.printer}: apply it to the preparation "
                                   "and scan it")

    def label_scanned(self, text: str) -> HoodView:
        """The printed label's barcode, scanned from the finished preparation."""
        prep, user, step = self._need_step(StepKind.LABEL, "a label scan")
        _symbology, data = split_symbology(text.strip())
        after = self.service.record_event(prep.preparation_id,
                                          LabelScanned(user, self._now(), data))
        return self._settle(after, self._outcome(after, step, "label matches"))

    def keep_vial(self) -> HoodView:
        """Keep the vial of the last accepted draw as an opened vial, and print its label."""
        prep, user = self._need_open()
        vials = self._need_vials()
        if self._keepable is None or self._keepable[0] != prep.preparation_id:
            raise WorkflowError("no vial to keep: a vial may be kept right after a dose drawn "
                                "from it by its maker's barcode, while it has some left")
        kept = vials.keep(prep, self._keepable[1], user=user, at=self._now())
        self._keepable = None
        self._kept = (prep.preparation_id, kept.vial.key, kept.preview_png)
        vial = kept.vial
        # Short: the label beside it carries the puncture, the rule and what is left.
        return self._refuse(
            f"vial {vial.key} kept, usable until "
            f"{site_minute(vial.beyond_use, vial.beyond_use)}: put its label on the vial")

    def discard_vial(self, key: str, reason: str) -> HoodView:
        """Record that the opened vial ``key`` was thrown away, with a reason."""
        if not self._user:
            raise WorkflowError("a vial is discarded by a signed-in user")
        if not reason.strip():
            raise WorkflowError("discarding an opened vial needs a reason")
        vial = self._need_vials().discard(key, reason.strip(), user=self._user, at=self._now())
        if self._kept is not None and self._kept[1] == key:
            self._kept = None
        return self._refuse(f"opened vial {vial.label} discarded: {reason.strip()}")

    def retry(self) -> HoodView:
        """Clear the hard stop to redo the stopped step."""
        prep, user = self._need_open()
        after = self.service.record_event(prep.preparation_id, Retried(user, self._now()))
        self._tracker = None
        self._pending = None
        return self._settle(after, "retry the step")

    def override(self, pharmacist_signature_payload: Mapping[str, Any], reason: str) -> HoodView:
        """A pharmacist accepts the stopped attempt, signing with a reason."""
        prep, user = self._need_open()
        pharmacist = str(pharmacist_signature_payload.get("user_id", ""))
        after = self.service.record_event(
            prep.preparation_id, Overridden(pharmacist, self._now(), reason),
            signature=pharmacist_signature_payload)
        message = f"overridden by {pharmacist}: {reason}"
        stopped = prep.stop.step if prep.stop is not None else None
        if stopped is not None:
            message = self._after_draw(after, prep.recipe.step(stopped), user, message)
        return self._settle(after, message)

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

    def _decided(self, prep: Preparation, user: str, step: Step, decision: Decision, *,
                 frame_index: int | None) -> HoodView:
        identity = decision.identity
        pending = self._pending if self._pending_valid(prep) else None
        if decision.status is Status.PENDING or identity is None:
            if pending is not None:
                return self._view  # the package waiting for its lot is still the one in hand
            view = self._render(prep, decision.reason)
            self._view = _with_decision(view, decision.status)
            return self._view
        missing = missing_identification(identity)
        if pending is not None and missing is not None and _same_package(pending.identity,
                                                                          identity):
            if frame_index is not None:
                return self._view  # the camera still sees it: nothing to do again
            return self._refuse(f"{pending.label} still needs its lot and expiry: "
                                f"{_pending_words(pending)}")
        product = decision.product
        if (decision.accepted and product is not None and missing is not None
                and product.ndc in step.expects):
            self._pending_count += 1
            self._pending = PendingLot(self._pending_count, prep.preparation_id, step.number,
                                       product, identity, missing, frame_index)
            view = self._refuse(f"{product.label}: {missing}. Read the printed lot and expiry, "
                                "or type them")
            self._view = _with_decision(view, decision.status)
            return self._view
        event = self.scan_events.event_for(decision, user=user, at=self._now())
        return self._record_scan(prep, step, event, decision.reason, decision.status)

    def _record_scan(self, prep: Preparation, step: Step, event: ProductScanned, ok: str,
                     status: Status = Status.ACCEPTED) -> HoodView:
        after = self.service.record_event(prep.preparation_id, event)
        self._tracker = None
        self._pending = None
        view = self._settle(after, self._outcome(after, step, ok))
        self._view = _with_decision(view, status)
        return self._view

    def _record_pending(self, prep: Preparation, user: str, pending: PendingLot, lot: Lot,
                        expiry: Expiry, source: LotSource) -> HoodView:
        identity = replace(pending.identity, lot=lot, expiry=expiry)
        decision = Decision(Status.ACCEPTED, pending.label, identity, pending.product)
        event = self.scan_events.event_for(decision, user=user, at=self._now(),
                                           lot_source=source)
        step = prep.recipe.step(pending.step)
        return self._record_scan(prep, step, event,
                                 f"{pending.label} lot {lot} expiry {expiry} {source.words}")

    def _opened_vial(self, reads: list[SymbolRead], *, handheld: bool,
                     frame_index: int | None) -> VialScan | None:
        """The opened vial whose label was read, once read enough times; else None."""
        if self.vials is None:
            return None
        now = self._now()
        for read in reads:
            found = self.vials.identify(read.text, at=now)
            if found is None:
                continue
            if handheld:
                return found
            assert frame_index is not None
            key = found.in_use.key
            self._vial_seen.append((frame_index, key))
            while self._vial_seen and self._vial_seen[0][0] <= frame_index - FRAME_WINDOW:
                self._vial_seen.popleft()
            frames = {index for index, seen in self._vial_seen if seen == key}
            return found if len(frames) >= REQUIRED_FRAMES else None
        return None

    def _record_vial(self, prep: Preparation, user: str, vial: VialScan) -> HoodView:
        self._vial_seen.clear()
        step = prep.step
        assert step is not None
        event = self.scan_events.event_for_vial(vial, user=user, at=self._now())
        return self._record_scan(prep, step, event,
                                 f"opened vial {vial.in_use.key}: {vial.product.label}")

    def _after_draw(self, after: Preparation, step: Step, user: str, message: str) -> str:
        """After a weighing: an accepted dose draw updates its opened vial, or may keep it."""
        if self.vials is None or step.check is not MassCheck.DOSE:
            return message
        if after.record(step.number).accepted is None:
            return message
        at = self._now()
        try:
            drawn = self.vials.record_draw(after, step.number, user=user, at=at)
        except StationError as error:
            return f"{message}; the opened vial's record was not updated: {error}"
        if drawn is not None:
            return f"{message}; opened vial {drawn.label} has {drawn.remaining_ml} mL left"
        if self.vials.can_keep(after, step.number):
            self._keepable = (after.preparation_id, step.number)
        return message

    def _need_pending(self, prep: Preparation) -> PendingLot:
        pending = self._pending
        if pending is None or not self._pending_valid(prep):
            raise WorkflowError("no package is waiting for its lot and expiry: scan it first")
        return pending

    def _pending_valid(self, prep: Preparation) -> bool:
        pending = self._pending
        return (pending is not None and pending.preparation_id == prep.preparation_id
                and prep.phase is Phase.IN_PROGRESS and prep.current == pending.step
                and prep.record(pending.step).accepted is None)

    def _need_vials(self) -> VialDesk:
        if self.vials is None:
            raise WorkflowError("this station does not keep opened vials (no vial desk)")
        return self.vials

    def _forget(self) -> None:
        """Drop what belongs to the preparation put down: a pending lot, a vial, a label."""
        self._pending = None
        self._vial_seen.clear()
        self._label_preview = None
        self._keepable = None
        self._kept = None

    def _outcome(self, after: Preparation, step: Step, ok: str) -> str:
        if after.stop is not None and after.stop.step == step.number:
            return after.stop.message
        return ok

    def _refuse(self, message: str) -> HoodView:
        self._view = self._render(self._prep, message)
        return self._view

    def _settle(self, prep: Preparation, message: str) -> HoodView:
        self._prep = prep
        if not self._pending_valid(prep):
            self._pending = None
        self._view = self._render(prep, message)
        return self._view

    def _render(self, prep: Preparation | None, message: str) -> HoodView:
        if prep is None:
            return HoodView(None, NextAction.START, message=message)
        step = prep.step
        action = _action(prep)
        due = False
        pending = self._pending if self._pending_valid(prep) else None
        if pending is not None:
            action = NextAction.IDENTIFY_LOT
        if action is NextAction.WEIGH and self._check_due():
            action, due = NextAction.BALANCE_CHECK, True
        mine = prep.preparation_id
        label = self._label_preview
        kept = self._kept if self._kept is not None and self._kept[0] == mine else None
        view = HoodView(
            phase=prep.phase,
            next_action=action,
            preparation_id=mine,
            step_number=step.number if step is not None else None,
            step_count=len(prep.recipe.steps),
            step_title=step.title if step is not None else "",
            instruction=_instruction(prep, action, pending),
            message=message,
            stop_message=prep.stop.message if prep.stop is not None else None,
            balance_check_due=due,
            pending_lot=pending,
            label_preview=label[1] if label is not None and label[0] == mine else None,
            vial_keepable=self._keepable is not None and self._keepable[0] == mine,
            vial_kept=kept[1] if kept is not None else None,
            vial_label_preview=kept[2] if kept is not None else None,
        )
        if step is not None and step.kind is StepKind.WEIGH_NET and step.tolerance is not None:
            net = _expected_net(prep, step)
            reference = _reference_mass(prep, step)
            band = step.tolerance.fraction * net
            reading = None
            if reference is not None:
                # An emptied syringe weighs the filled one less what it delivered.
                reading = (reference - net if step.check is MassCheck.DELIVERED
                           else reference + net)
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
        StepKind.LABEL: (NextAction.SCAN_LABEL if prep.record(step.number).labels
                         else NextAction.PRINT_LABEL),
        StepKind.PHARMACIST_CHECK: NextAction.PHARMACIST_CHECK,
    }[step.kind]


def _instruction(prep: Preparation, action: NextAction, pending: PendingLot | None) -> str:
    step = prep.step
    if action is NextAction.IDENTIFY_LOT and pending is not None:
        return f"{pending.label}: {_pending_words(pending)}"
    if action in {NextAction.RETRY, NextAction.RETRY_OR_OVERRIDE} and prep.stop is not None:
        return f"{prep.stop.message} — {action.value}"
    if step is None or action in {NextAction.VERIFY, NextAction.DONE}:
        return action.value
    if action is NextAction.PHOTO:
        return f"Photograph step {step.number}: {step.title}"
    return _FIXED_INSTRUCTIONS.get(action, step.title)


_FIXED_INSTRUCTIONS = {
    NextAction.BALANCE_CHECK: "The balance's daily check is due: weigh the check weight and "
                              "record it",
    NextAction.PRINT_LABEL: "Print the label (Enter), apply it to the preparation, and scan it",
}


def _pending_words(pending: PendingLot) -> str:
    """What the technician does for a package waiting for its lot and expiry."""
    if pending.read is not None:
        return (f"is lot {pending.read.lot}, expiry {pending.read.expiry} what the package "
                "says? Press Enter to confirm, or type the lot and expiry twice")
    if pending.problem is not None:
        return (f"the printed lot could not be read ({pending.problem}): type the lot and "
                "expiry twice")
    return f"{pending.missing}: read the printed lot and expiry, or type them twice"


def _same_package(pending: ScanIdentity, seen: ScanIdentity) -> bool:
    """Whether two reads name the same package identifier (GTIN, else NDC)."""
    if pending.gtin is not None or seen.gtin is not None:
        return pending.gtin == seen.gtin
    return pending.ndc is not None and seen.ndc is not None and pending.ndc.key == seen.ndc.key


def _expected_net(prep: Preparation, step: Step) -> Decimal:
    if step.check is MassCheck.FINAL:
        return sum((prep.net_mass(n).grams for n in step.sums), Decimal(0))
    dose = step.checked_dose
    if (step.check in {MassCheck.DOSE, MassCheck.DELIVERED} and dose is not None
            and step.product is not None):
        volume = expected_volume(dose, drawn_concentration(prep, step))
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
