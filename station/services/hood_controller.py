"""What the station does by itself with its devices during a preparation, without Qt.

:class:`HoodController` holds every decision the station makes about the balance, the
camera and the handheld while a preparation is open. It is fed plain events — the hood's
new view, a live balance reading (or why there is none), the stable weight it asked for (or
why it did not come), the balance's link state, the balance identified, a camera frame, the
symbols decoded in one, a handheld scan, the primary key (Enter), an input the hood refused
— and answers each with the :data:`Request` s to carry out, in order. It owns no device,
writes no record, keeps no clock and starts no thread.

Two callers carry the requests out: the station window's presenter turns them into the
signals its workers listen to (:mod:`ui.technician.preparation_presenter`), and the
operational qualification's headless station carries them out at once against the
:class:`~station.services.hood.HoodSession` (:mod:`station.qualification.station_side`). So
what the qualification measures is what the window does:

- on a weighing step (or the daily balance check) a live reading in grams that the
  auto-capture rule (:class:`~station.core.capture.WeightCapture`, armed with the readability
  of the balance last identified) takes asks for a stable weight; that weight is recorded as
  the step's weight, or as the balance check;
- a stable weight that did not come, a refused input or a balance link that is not
  connected makes the capture try again on the next steady reading; while the link is down
  the gauge says the step waits for the balance;
- live readings stream while weighing, and while stopped at a weighing (to adjust the
  syringe);
- once a scan or a weight is accepted, the step's photograph is the next camera frame (one
  seen after the acceptance, never an older one); the labelled-container photograph step
  waits for Enter;
- camera symbols are a scan only on a scanning step (and while a package waits for its lot:
  another package shown replaces it); a handheld scan is a product scan on a scanning step,
  the printed label once it is printed, and refused anywhere else;
- a package whose barcode carries no lot or expiry: the printed lot is read (OCR) from the
  frame its barcode was read in (the next frame after a handheld scan), once per package,
  and the read is offered to the hood for that package only;
- Enter confirms a manual step, retries after a hard stop, takes the photograph again,
  confirms the printed lot offered, or prints the label.

:func:`balance_to_use` is the decision taken when a balance identifies itself: the
readability to weigh with, the specification its weights are recorded with, or a refusal.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING

from scale_drivers.api import BalanceInfo, Reading
from scale_drivers.connection import LinkState
from station.core.capture import WeightCapture
from station.core.gravimetry import MIN_REPEATABILITY_FACTOR, BalanceSpec
from station.core.recipe import StepKind
from station.core.workflow import Phase, Preparation
from station.devices.camera import Frame
from station.devices.decoding import Symbol
from station.services.hood import HoodView, NextAction, readability_to_use

if TYPE_CHECKING:
    from station.devices.ocr import OcrResult

#: How long the balance may take to give a stable weight once one is asked for (s).
STABLE_TIMEOUT = 8.0
#: Where a preparation leaves the hood: the window goes back to the worklist.
FINISHED_PHASES = frozenset({Phase.AWAITING_VERIFICATION, Phase.CANCELLED, Phase.REJECTED})
#: What the gauge's message starts with while the balance's link is down.
BALANCE_WAITING = "BALANCE"

_WEIGHING = frozenset({NextAction.WEIGH, NextAction.BALANCE_CHECK})
_SCANNING = frozenset({NextAction.SCAN, NextAction.IDENTIFY_LOT, NextAction.SCAN_LABEL})
_CAMERA_SCANNING = frozenset({NextAction.SCAN, NextAction.IDENTIFY_LOT})
#: How many frames of recent camera reads are kept to read a printed lot from.
_FRAMES_KEPT = 8


# ---------------------------------------------------------------- the balance that connects


@dataclass(frozen=True)
class UsableBalance:
    """A balance the station weighs on: who it is (with the readability used), and its spec."""

    info: BalanceInfo
    spec: BalanceSpec


def balance_to_use(info: BalanceInfo, configured_readability: Decimal | None, *,
                   repeatability: Decimal = Decimal(0)) -> UsableBalance:
    """Whether and how the station weighs on the balance that identified itself as ``info``.

    The readability d is :func:`~station.services.hood.readability_to_use`'s (the balance's
    own, else the configured one; raises :class:`~station.services.hood.BalanceRefused` for a
    balance neither says, or one that disagrees with the configuration). The repeatability
    recorded with every weight is the measured ``repeatability``, but never below 0.41·d
    (USP <41>), the least any balance is credited with.

    >>> used = balance_to_use(BalanceInfo("Sartorius", "BCE224I", "0034567"), Decimal("0.01"))
    >>> used.info.readability, used.spec.repeatability
    (Decimal('0.01'), Decimal('0.0041'))
    """
    readability = readability_to_use(info, configured_readability)
    floor = MIN_REPEATABILITY_FACTOR * readability
    return UsableBalance(replace(info, readability=readability),
                         BalanceSpec(readability, max(repeatability, floor)))


# ---------------------------------------------------------------- requests


@dataclass(frozen=True)
class RequestStableWeight:
    """Ask the balance for its stable weight, within ``timeout`` seconds."""

    timeout: float


@dataclass(frozen=True)
class SetStreaming:
    """Read the balance's live weight for the gauge (``on``), or stop."""

    on: bool


@dataclass(frozen=True)
class SubmitCameraRead:
    """Give the hood every symbol the camera decoded in ``frame``: a scan."""

    frame: Frame
    symbols: Sequence[Symbol]


@dataclass(frozen=True)
class SubmitHandheld:
    """Give the hood a handheld scan of a product."""

    text: str


@dataclass(frozen=True)
class SubmitLabel:
    """Give the hood a handheld scan of the printed label."""

    text: str


@dataclass(frozen=True)
class SubmitWeight:
    """Record a stable weight for the weighing step."""

    reading: Reading


@dataclass(frozen=True)
class SubmitBalanceCheck:
    """Record a stable weight of the check weight as the balance's daily check."""

    reading: Reading


@dataclass(frozen=True)
class SubmitPhoto:
    """Photograph the current step with ``frame``."""

    frame: Frame


@dataclass(frozen=True)
class Confirm:
    """Record that the manual step was done."""


@dataclass(frozen=True)
class Retry:
    """Clear the hard stop to redo the step."""


@dataclass(frozen=True)
class ReadPrintedLot:
    """Read the printed lot and expiry in ``frame``; the result goes back to the controller.

    With :func:`station.devices.ocr.read_printed_lot`, then
    :meth:`HoodController.printed_lot_read`.
    """

    frame: Frame


@dataclass(frozen=True)
class OfferPrintedLot:
    """Give the hood the printed lot read for the package waiting for it.

    With :meth:`~station.services.hood.HoodSession.offer_printed_lot`.
    """

    result: OcrResult


@dataclass(frozen=True)
class ConfirmPrintedLot:
    """The technician confirmed the printed lot and expiry offered."""


@dataclass(frozen=True)
class TypeLot:
    """The lot and expiry the technician typed twice, blind."""

    first_lot: str
    first_expiry: str
    second_lot: str
    second_expiry: str


@dataclass(frozen=True)
class SetAside:
    """Put the package waiting for its lot aside, recording nothing."""


@dataclass(frozen=True)
class PrintLabel:
    """Print the preparation's label (``reason``: why it is printed again)."""

    reason: str = ""


@dataclass(frozen=True)
class KeepVial:
    """Keep the vial of the last draw as an opened vial and print its label."""


@dataclass(frozen=True)
class DiscardVial:
    """Record that the opened vial ``key`` was thrown away, and why."""

    key: str
    reason: str


@dataclass(frozen=True)
class ShowMessage:
    """Put ``text`` on the screen's message line (why something was not done)."""

    text: str


@dataclass(frozen=True)
class GaugeMessage:
    """Show ``text`` on the weight gauge instead of a weight ("": show the weight again)."""

    text: str


@dataclass(frozen=True)
class Finished:
    """The preparation left the hood (held for verification, cancelled or rejected)."""

    preparation_id: str
    outcome: str  # the phase's value


Request = (RequestStableWeight | SetStreaming | SubmitCameraRead | SubmitHandheld | SubmitLabel
           | SubmitWeight | SubmitBalanceCheck | SubmitPhoto | Confirm | Retry | ReadPrintedLot
           | OfferPrintedLot | ConfirmPrintedLot | TypeLot | SetAside | PrintLabel | KeepVial
           | DiscardVial | ShowMessage | GaugeMessage | Finished)


#: What Enter asks for where it does the same thing every time.
_ON_ENTER: dict[NextAction, Request] = {
    NextAction.CONFIRM: Confirm(),
    NextAction.RETRY: Retry(),
    NextAction.RETRY_OR_OVERRIDE: Retry(),
    NextAction.PRINT_LABEL: PrintLabel(),
}


# ---------------------------------------------------------------- the controller


class HoodController:
    """Turns device and key events into requests; see the module's description.

    ``stable_timeout`` is what :class:`RequestStableWeight` asks for. ``link_words`` gives a
    balance link state's words for the gauge (the window uses its status bar's, so both
    say the same thing).
    """

    def __init__(self, *, stable_timeout: float = STABLE_TIMEOUT,
                 link_words: Callable[[str], str] = str.upper) -> None:
        self.stable_timeout = stable_timeout
        self.link_words = link_words
        self._view: HoodView | None = None
        self._prep: Preparation | None = None
        self._balance: BalanceInfo | None = None
        self._capture: WeightCapture | None = None
        self._photo_wanted: tuple[str, int, int] | None = None
        self._photo_asked: tuple[str, int, int] | None = None
        self._streaming = False
        self._link = LinkState.DISCONNECTED.value
        self._gauge_message = ""
        self._read_frames: deque[Frame] = deque(maxlen=_FRAMES_KEPT)
        self._lot_asked: int | None = None  # the pending package whose print was asked for
        self._lot_wanted: int | None = None  # ... to be read from the next frame
        self._lot_reads: deque[int] = deque()  # the packages of the reads not yet back

    # ------------------------------------------------------------ what it knows

    @property
    def view(self) -> HoodView | None:
        """The hood's view last given."""
        return self._view

    @property
    def preparation(self) -> Preparation | None:
        """The preparation last given with the view."""
        return self._prep

    @property
    def balance(self) -> BalanceInfo | None:
        """The balance last identified."""
        return self._balance

    @property
    def link(self) -> str:
        """The balance link's state last given (a :class:`LinkState` value)."""
        return self._link

    @property
    def streaming(self) -> bool:
        """Whether live readings were last asked for."""
        return self._streaming

    @property
    def scanning(self) -> bool:
        """Whether camera symbols are a scan now."""
        return self._view is not None and self._view.next_action in _CAMERA_SCANNING

    @property
    def lot_read_wanted(self) -> bool:
        """Whether the next camera frame is read for a printed lot."""
        return self._lot_wanted is not None

    @property
    def photo_wanted(self) -> bool:
        """Whether the next camera frame becomes the step's photograph."""
        return self._photo_wanted is not None and self._photo_wanted != self._photo_asked

    @property
    def gauge_message(self) -> str:
        """What the gauge shows instead of a weight ("" when it shows the weight)."""
        return self._gauge_message

    # ------------------------------------------------------------ the hood

    def view_changed(self, view: HoodView, prep: Preparation | None) -> list[Request]:
        """The hood's new view: stream or not, want a photograph or not, say it finished."""
        before = self._view
        self._view, self._prep = view, prep
        requests: list[Request] = []
        # Live weights while weighing, and while stopped at a weighing (to adjust the syringe).
        streaming = view.next_action in _WEIGHING or view.expected_reading is not None
        if streaming != self._streaming:
            self._streaming = streaming
            requests.append(SetStreaming(streaming))
        self._photo_by_itself()
        requests += self._read_lot_by_itself()
        if prep is not None and view.phase in FINISHED_PHASES and (
                before is None or before.phase is not view.phase):
            requests.append(Finished(prep.preparation_id, view.phase.value if view.phase else ""))
        return requests

    def refused(self, message: str) -> list[Request]:
        """The hood did not allow an input: a capture waiting for it tries again."""
        if self._capture is not None:
            self._capture.failed()
        return [ShowMessage(f"✖ {message}")]

    # ------------------------------------------------------------ the balance

    def balance_identified(self, info: BalanceInfo) -> list[Request]:
        """A (re)connected balance: captures start afresh with its readability."""
        self._balance = info
        if info.readability is not None:
            self._capture = WeightCapture(info.readability)
        return []

    def balance_link(self, state: str) -> list[Request]:
        """The balance's link (a :class:`LinkState` value): while down, the step waits."""
        self._link = state
        if state == LinkState.CONNECTED.value:
            if self._gauge_message.startswith(BALANCE_WAITING):
                return self._gauge("")
            return []
        if self._capture is not None:
            self._capture.failed()
        return self._gauge(f"{BALANCE_WAITING} {self.link_words(state)}: the step waits for it")

    def live_reading(self, reading: Reading | None, problem: str) -> list[Request]:
        """A live reading, or why there is none: the gauge, and maybe a capture."""
        if reading is None:
            if self._link == LinkState.CONNECTED.value:
                return self._gauge(problem)  # overload, underload, busy: the balance says so
            return []
        requests = self._gauge("") if self._gauge_message else []
        view, capture = self._view, self._capture
        if view is None or capture is None or reading.unit != "g":
            return requests
        if view.next_action not in _WEIGHING:
            return requests
        if capture.offer(reading.value, stable=reading.stable):
            capture.requested()
            requests.append(RequestStableWeight(self.stable_timeout))
        return requests

    def stable_reading(self, reading: Reading) -> list[Request]:
        """The stable weight a capture asked for: the step's weight, or the balance check."""
        if self._capture is not None:
            self._capture.taken(reading.value)
        view = self._view
        if view is None:
            return []
        if view.next_action is NextAction.BALANCE_CHECK:
            return [SubmitBalanceCheck(reading)]
        if view.next_action is NextAction.WEIGH:
            return [SubmitWeight(reading)]
        return []

    def stable_failed(self, message: str) -> list[Request]:
        """A stable weight did not come: say so; the next steady reading tries again."""
        if self._capture is not None:
            self._capture.failed()
        return [ShowMessage(f"✖ balance: {message}")]

    # ------------------------------------------------------------ the camera and the keys

    def frame(self, frame: Frame) -> list[Request]:
        """The newest camera frame: the photograph the step waits for, or the printed lot."""
        if self._lot_wanted is not None:
            number, self._lot_wanted = self._lot_wanted, None
            self._lot_reads.append(number)
            return [ReadPrintedLot(frame)]
        wanted = self._photo_wanted
        if wanted is None or wanted == self._photo_asked:
            return []
        self._photo_wanted = None
        self._photo_asked = wanted
        return [SubmitPhoto(frame)]

    def symbols(self, frame: Frame, symbols: Sequence[Symbol]) -> list[Request]:
        """Symbols the camera decoded in ``frame``: a scan on a scanning step."""
        if self.scanning and symbols:
            self._read_frames.append(frame)
            return [SubmitCameraRead(frame, symbols)]
        return []

    def printed_lot_read(self, result: OcrResult) -> list[Request]:
        """The printed lot read (:class:`ReadPrintedLot`): offered if its package still waits.

        Reads come back in the order they were asked for; one whose package was set aside or
        replaced meanwhile is dropped.
        """
        number = self._lot_reads.popleft() if self._lot_reads else None
        pending = self._view.pending_lot if self._view is not None else None
        if number is None or pending is None or pending.number != number:
            return []
        return [OfferPrintedLot(result)]

    def lot_typed(self, first_lot: str, first_expiry: str, second_lot: str,
                  second_expiry: str) -> list[Request]:
        """The lot and expiry typed twice for the package waiting for them."""
        if self._view is None or self._view.next_action is not NextAction.IDENTIFY_LOT:
            return [ShowMessage("✖ no package is waiting for its lot: nothing recorded")]
        return [TypeLot(first_lot, first_expiry, second_lot, second_expiry)]

    def set_aside(self) -> list[Request]:
        """Put the package waiting for its lot aside."""
        if self._view is None or self._view.next_action is not NextAction.IDENTIFY_LOT:
            return []
        return [SetAside()]

    def print_label(self, reason: str = "") -> list[Request]:
        """Print the label (again, with ``reason``) at the label step."""
        view = self._view
        if view is None or view.next_action not in {NextAction.PRINT_LABEL,
                                                    NextAction.SCAN_LABEL}:
            return [ShowMessage("✖ the label prints at the label step, after the final "
                                "container check has passed")]
        return [PrintLabel(reason)]

    def keep_vial(self) -> list[Request]:
        """Keep the vial of the last draw, when it may be kept."""
        if self._view is None or not self._view.vial_keepable:
            return [ShowMessage("✖ no vial to keep: a vial is kept right after a dose is "
                                "drawn from it")]
        return [KeepVial()]

    def discard_vial(self, key: str, reason: str) -> list[Request]:
        """Record that an opened vial was thrown away."""
        return [DiscardVial(key, reason)]

    def handheld(self, text: str) -> list[Request]:
        """A handheld scan: a product, the printed label, or not expected here."""
        view = self._view
        if view is not None and view.next_action is NextAction.PRINT_LABEL:
            return [ShowMessage("✖ the label has not been printed: print it, apply it, then "
                                "scan it")]
        if view is None or view.next_action not in _SCANNING:
            return [ShowMessage(f"✖ no scan is expected at this step: {text.strip()!r} "
                                "ignored")]
        if view.next_action is NextAction.SCAN_LABEL:
            return [SubmitLabel(text)]
        return [SubmitHandheld(text)]

    def primary(self) -> list[Request]:
        """Enter: confirm, retry, take the photograph (again), confirm the lot, print the label."""
        view = self._view
        if view is None:
            return []
        action = view.next_action
        if action is NextAction.IDENTIFY_LOT:
            if view.pending_lot is not None and view.pending_lot.read is not None:
                return [ConfirmPrintedLot()]
            return [ShowMessage("✖ no printed lot to confirm: type the lot and expiry twice")]
        if action is NextAction.PHOTO:
            self._want_photo(again=True)
            return []
        request = _ON_ENTER.get(action)
        return [request] if request is not None else []

    # ------------------------------------------------------------ helpers

    def _gauge(self, message: str) -> list[Request]:
        if message == self._gauge_message:
            return []
        self._gauge_message = message
        return [GaugeMessage(message)]

    def _read_lot_by_itself(self) -> list[Request]:
        """A new package waiting for its lot: read its print, once, from its own frame."""
        view = self._view
        pending = view.pending_lot if view is not None else None
        if pending is None or view is None or view.next_action is not NextAction.IDENTIFY_LOT:
            self._lot_wanted = None
            return []
        if pending.number == self._lot_asked:
            return []
        self._lot_asked = pending.number
        self._lot_wanted = None
        for frame in self._read_frames:
            if frame.index == pending.frame_index:
                self._lot_reads.append(pending.number)
                return [ReadPrintedLot(frame)]
        self._lot_wanted = pending.number  # handheld, or its frame is gone: the next one
        return []

    def _photo_by_itself(self) -> None:
        view, prep = self._view, self._prep
        self._photo_wanted = None
        if view is None or prep is None or view.next_action is not NextAction.PHOTO:
            return
        step = prep.step
        if step is None or step.kind is StepKind.PHOTO:
            return  # the labelled container: the technician holds it up and presses Enter
        self._want_photo(again=False)

    def _want_photo(self, *, again: bool) -> None:
        """Take the step's photograph from the next frame (once per attempt, unless again)."""
        prep = self._prep
        if prep is None or prep.step is None:
            return
        key = (prep.preparation_id, prep.step.number, len(prep.record(prep.step.number).photos))
        if again:
            self._photo_asked = None
        if key != self._photo_asked:
            self._photo_wanted = key


__all__ = [
    "BALANCE_WAITING",
    "FINISHED_PHASES",
    "STABLE_TIMEOUT",
    "Confirm",
    "ConfirmPrintedLot",
    "DiscardVial",
    "Finished",
    "GaugeMessage",
    "HoodController",
    "KeepVial",
    "OfferPrintedLot",
    "PrintLabel",
    "ReadPrintedLot",
    "Request",
    "RequestStableWeight",
    "Retry",
    "SetAside",
    "SetStreaming",
    "ShowMessage",
    "SubmitBalanceCheck",
    "SubmitCameraRead",
    "SubmitHandheld",
    "SubmitLabel",
    "SubmitPhoto",
    "SubmitWeight",
    "TypeLot",
    "UsableBalance",
    "balance_to_use",
]
