"""The station at a qualification's hood: what it does with its devices, without a window.

It is what the station window's workers do, in one thread: decode camera frames into the
acceptance rule, watch the balance's live readings and ask for a stable weight when the
auto-capture rule says so, photograph on Enter, take the label from the handheld, and
reconnect a balance that went away (under its own serial if another one came back). It
knows nothing of what the technician meant to do: only what the driver, the decoder and the
photo check report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from scale_drivers.api import Balance, BalanceDisconnected, BalanceError, NotStable, Reading
from station.core.acceptance import Status, SymbolRead
from station.core.capture import WeightCapture
from station.core.gravimetry import BalanceSpec
from station.demo.camera import SimulatedCamera
from station.devices.decoding import DecodePipeline
from station.qualification.technician import Move
from station.services.hood import (
    BalanceRefused,
    HoodSession,
    HoodView,
    NextAction,
    readability_to_use,
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
    that reports another is refused (:func:`station.services.hood.readability_to_use`).
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
        self._balance: Balance | None = None
        self._readability = Decimal("0.01")
        self.balance_state = "not connected"
        self._capture: WeightCapture | None = None
        self._capture_key: tuple[object, ...] | None = None

    @property
    def balance_connected(self) -> bool:
        """Whether the station has a working balance now."""
        return self._balance is not None

    def connect(self) -> bool:
        """Open and identify the balance; tell the hood which one it is."""
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
            readability = readability_to_use(info, self.configured_readability)
        except BalanceRefused as error:
            balance.close()
            self.balance_state = f"refused: {error}"
            return False
        self._balance, self._readability = balance, readability
        self.session.connect_balance(replace(info, readability=readability), BalanceSpec(
            readability, max(self.repeatability, Decimal("0.41") * readability)))
        self.balance_state = f"balance {info.serial_number} connected"
        return True

    def close(self) -> None:
        """Let go of the balance."""
        if self._balance is not None:
            self._balance.close()
            self._balance = None

    def read_stable(self) -> Reading:
        """A stable weight off the balance now (connecting first if need be)."""
        if self._balance is None and not self.connect():
            raise BalanceDisconnected(self.balance_state)
        assert self._balance is not None
        return self._balance.read_stable(STABLE_WITHIN)

    def handle(self, move: Move) -> Outcome:
        """Take the technician's key press, then do what the step needs of the devices."""
        session = self.session
        if move.retry:
            session.retry()
        view = session.view
        action = view.next_action
        if action is NextAction.SCAN:
            self._look()
        elif action is NextAction.SCAN_LABEL and move.scan is not None:
            session.label_scanned(move.scan)
        elif action is NextAction.CONFIRM and move.enter:
            session.confirm()
        elif action is NextAction.PHOTO and move.enter:
            frame = self.camera.read()
            if frame is not None:
                session.photo(frame)
        elif action in (NextAction.WEIGH, NextAction.BALANCE_CHECK):
            self._weigh(action)
        prep = session.preparation
        reason = prep.stop.reason.value if prep is not None and prep.stop is not None else None
        return Outcome(session.view, self.balance_connected, self.balance_state, reason)

    def _look(self) -> None:
        for _ in range(FRAMES_PER_LOOK):
            frame = self.camera.read()
            if frame is None:
                return
            reads = [SymbolRead(s.scan_text, matrix=s.is_matrix)
                     for s in self.pipeline.decode(frame.image)]
            view = self.session.scan_reads(reads, frame_index=frame.index)
            if view.decision is not Status.PENDING:
                return

    def _weigh(self, action: NextAction) -> None:
        if self._balance is None and not self.connect():
            return
        balance = self._balance
        assert balance is not None
        view = self.session.view
        key = (view.preparation_id, view.step_number, view.next_action, view.phase)
        if self._capture is None or key != self._capture_key:
            self._capture = WeightCapture(self._readability)
            self._capture_key = key
        capture = self._capture
        try:
            for _ in range(READINGS_PER_LOOK):
                time.sleep(LIVE_INTERVAL)
                live = balance.read_immediate()
                if not capture.offer(live.value, stable=live.stable):
                    continue
                capture.requested()
                try:
                    reading = balance.read_stable(STABLE_WITHIN)
                except NotStable:
                    capture.failed()
                    continue
                capture.taken(reading.value)
                if action is NextAction.BALANCE_CHECK:
                    self.session.record_balance_check(reading, self.check_weight)
                else:
                    self.session.weight(reading)
                return
        except BalanceDisconnected as error:
            self._lost(f"disconnected: {error}")
        except BalanceError as error:
            self._lost(f"{type(error).__name__}: {error}")

    def _lost(self, state: str) -> None:
        self.close()
        self.balance_state = state
