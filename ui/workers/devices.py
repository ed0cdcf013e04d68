"""Device workers: one QObject per device, moved to its own QThread, typed signals out.

A worker owns its port or camera and is only ever called on its own thread: the GUI asks it
for things through queued signals (``stable_requested``, ``tare_requested``) or slots
connected across threads, and hears back through signals. Nothing here blocks the GUI
thread; a worker's own thread may block for as long as one device exchange takes.

:class:`OcrWorker` reads the printed lot and expiry from a camera frame (a second or so of
Tesseract) on its own thread, so neither the window nor the camera waits for it.

:class:`DeviceThreads` creates the threads, moves the workers onto them, starts them, and on
:meth:`DeviceThreads.stop` stops every worker on its own thread and joins every thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from PySide6.QtCore import (
    QCoreApplication,
    QMetaObject,
    QObject,
    Qt,
    QThread,
    QTimer,
    Signal,
    Slot,
)

from scale_drivers.api import BalanceError, BalanceInfo, IdentityMismatch, SerialSettings
from scale_drivers.connection import Driver, LinkState, ManagedBalance
from scale_drivers.protocols import open_balance
from station.core.printed_lot import Refusal, RefusalKind
from station.devices.camera import CameraSource, CameraState, Frame
from station.devices.decode_worker import LatestFrameDecoder
from station.devices.decoding import DecodePipeline, Symbol
from station.devices.ocr import OcrResult, read_printed_lot
from station.services.hood import BalanceRefused
from station.services.hood_controller import balance_to_use

_log = logging.getLogger(__name__)

#: How often an idle balance is asked for a weight, and a lost one reopened (ms).
HEARTBEAT_MS = 500
#: How long a heartbeat waits for an answer: a silent balance is offline after
#: HEARTBEAT_MISSES x (this + HEARTBEAT_MS), about three seconds.
HEARTBEAT_RESPONSE_TIMEOUT = 0.5
#: How often a streaming balance is read for the live display (ms): about 7 readings a second.
STREAM_MS = 150
#: How often the camera worker reports its measured frame rate (s).
FPS_REPORT_INTERVAL = 1.0
#: At most this many characters of a garbled reply go to the status bar (a line of garbage
#: may run to 256 bytes, each escaped in up to four characters); cut at the end with "…".
GARBLED_DETAIL_CHARS = 80


def _release_to_main_thread(worker: QObject) -> None:
    """Hand a stopped worker back to the main thread (called on the worker's own thread)."""
    app = QCoreApplication.instance()
    if app is not None and worker.thread() is not app.thread():
        worker.moveToThread(app.thread())


def describe(info: BalanceInfo) -> str:
    """``Mettler Toledo SIM-220 SIM0000001``: who the balance is, for the status bar."""
    return " ".join(part for part in (info.maker, info.model, info.serial_number) if part)


class BalanceWorker(QObject):
    """A :class:`ManagedBalance` on its own thread: heartbeat, reconnect, read, tare.

    ``state_changed(state, detail)`` carries a :class:`LinkState` value and who the balance
    is (connected) or why it is not (offline, garbled: its latest garbled reply, disconnected).
    ``identified`` carries the readability the station weighs with: the balance's own, else
    the configured ``readability``; a balance whose readability is unknown or disagrees with
    the configured one is refused like one with the wrong serial (disconnected, with the
    reason, and ``failed``): :func:`~station.services.hood_controller.balance_to_use`
    decides, for the qualification too. Every :attr:`heartbeat_ms` the worker either checks
    an idle connected balance or tries once to reopen a disconnected one, so a pulled cable
    is reported within a second and a plugged-back balance comes back by itself.
    """

    reading_received = Signal(object)  # scale_drivers.api.Reading
    live_reading = Signal(object, str)  # the Reading now (or None) and why there is none
    tared = Signal(object)  # the Reading the balance returned for the tare
    state_changed = Signal(str, str)  # LinkState value, detail
    identified = Signal(object)  # BalanceInfo, on every (re)connection
    failed = Signal(str)  # a request that did not give a weight, in words

    stable_requested = Signal(float)  # emit from the GUI thread: ask for a stable weight
    tare_requested = Signal(float)  # emit from the GUI thread: tare (timeout in s)
    streaming_requested = Signal(bool)  # emit from the GUI thread: live readings on or off

    def __init__(
        self,
        open_driver: Callable[[], Driver],
        *,
        heartbeat_ms: int = HEARTBEAT_MS,
        expected_serial: str | None = None,
        readability: Decimal | None = None,
        name: str = "balance",
    ) -> None:
        super().__init__()
        self.setObjectName(name)
        self._expected_serial = expected_serial
        self._readability = readability
        self._balance = ManagedBalance(open_driver, expected_serial=expected_serial)
        self._heartbeat_ms = heartbeat_ms
        self._stream_ms = min(STREAM_MS, heartbeat_ms)
        self._streaming = False
        self._timer: QTimer | None = None
        self._reported: tuple[str, str] | None = None
        self._stopped = False
        self.stable_requested.connect(self.request_stable)
        self.tare_requested.connect(self.request_tare)
        self.streaming_requested.connect(self.set_streaming)

    @classmethod
    def for_url(
        cls,
        url: str,
        protocol: str,
        settings: SerialSettings | None = None,
        *,
        response_timeout: float = HEARTBEAT_RESPONSE_TIMEOUT,
        **options: Any,
    ) -> BalanceWorker:
        """A worker that opens ``url`` with ``protocol``'s driver (a port path or pyserial URL)."""

        def open_driver() -> Driver:
            driver = open_balance(url, protocol, settings)
            driver.response_timeout = response_timeout
            return driver

        return cls(open_driver, **options)

    # ------------------------------------------------------------ slots (worker thread)

    @Slot()
    def start(self) -> None:
        """Connect now and start the heartbeat (call on the worker's thread)."""
        self._stopped = False
        self._timer = QTimer(self)
        self._timer.setInterval(self._stream_ms if self._streaming else self._heartbeat_ms)
        self._timer.timeout.connect(self._on_tick)
        self._try_connect()
        self._timer.start()

    @Slot()
    def stop(self) -> None:
        """Stop the heartbeat and release the port."""
        self._stopped = True
        if self._timer is not None:
            self._timer.stop()
            self._timer.deleteLater()
            self._timer = None
        self._balance.close()
        self._report(LinkState.DISCONNECTED.value, "stopped")
        _release_to_main_thread(self)

    @Slot(float)
    def request_stable(self, timeout: float) -> None:
        """Read a stable weight; ``reading_received`` or ``failed`` answers."""
        if self._stopped:
            return
        try:
            reading = self._balance.read_stable(timeout)
        except BalanceError as error:
            self.failed.emit(str(error))
            self._report_link()
            return
        self._report_link()
        self.reading_received.emit(reading)

    @Slot(float)
    def request_tare(self, timeout: float = 10.0) -> None:
        """Tare when stable; ``tared`` or ``failed`` answers."""
        if self._stopped:
            return
        try:
            reading = self._balance.tare(timeout)
        except BalanceError as error:
            self.failed.emit(str(error))
            self._report_link()
            return
        self._report_link()
        self.tared.emit(reading)

    @Slot(bool)
    def set_streaming(self, on: bool) -> None:
        """Read the weight every :data:`STREAM_MS` for the live display (the heartbeat too)."""
        self._streaming = on
        if self._timer is not None:
            self._timer.setInterval(self._stream_ms if on else self._heartbeat_ms)

    # ------------------------------------------------------------ supervision

    def _on_tick(self) -> None:
        if self._stopped:
            return
        balance = self._balance
        if balance.state is LinkState.DISCONNECTED:
            self._try_connect()
        else:
            balance.heartbeat()
            self._report_link()
            if self._streaming:
                self.live_reading.emit(balance.last_reading, balance.last_problem)

    def _try_connect(self) -> None:
        # Only a configured serial number pins the balance (docs/configuration.md). Without
        # one, a balance swapped in is used under its own serial (the hood asks for its
        # daily check) instead of being refused until the station restarts.
        self._balance.expected_serial = self._expected_serial
        try:
            info = self._balance.connect()
            self.identified.emit(balance_to_use(info, self._readability).info)
        except BalanceRefused as error:  # connected, but no weight can be checked on it
            self._balance.close()
            self._balance.last_error = str(error)
            self.failed.emit(str(error))
        except IdentityMismatch as error:
            self._balance.last_error = str(error)
            self.failed.emit(str(error))
        except BalanceError as error:
            self._balance.last_error = str(error)
        except Exception as error:  # a driver bug must not kill the device thread
            _log.exception("%s: connect failed", self.objectName())
            self._balance.last_error = f"{type(error).__name__}: {error}"
        self._report_link()

    def _report_link(self) -> None:
        balance = self._balance
        if balance.state is LinkState.CONNECTED and balance.info is not None:
            detail = describe(balance.info)
        elif balance.state is LinkState.OFFLINE:
            detail = f"not answering: {balance.last_error}"
        elif balance.state is LinkState.GARBLED:
            detail = balance.last_garbled  # "protocol error: garbled reply ..."
            if len(detail) > GARBLED_DETAIL_CHARS:
                detail = detail[:GARBLED_DETAIL_CHARS - 1] + "…"
        else:
            detail = balance.last_error or "not connected"
        self._report(balance.state.value, detail)

    def _report(self, state: str, detail: str) -> None:
        if self._reported != (state, detail):
            self._reported = (state, detail)
            self.state_changed.emit(state, detail)

    @property
    def epoch(self) -> int:
        """How many times the balance has been (re)connected (read on the worker's thread)."""
        return self._balance.epoch


class CameraWorker(QObject):
    """Pulls frames from a camera at its rate, shows each, decodes the newest.

    ``frame_ready(frame)`` fires for every frame (the preview); ``symbols_decoded(frame,
    symbols)`` for each frame the decoder got to, from the decoder's own thread (queued to
    the GUI). ``state_changed(state, detail)`` carries a :class:`CameraState` value and the
    measured frame rate, or why the camera is LOST or CLOSED.
    """

    frame_ready = Signal(object)  # station.devices.camera.Frame
    symbols_decoded = Signal(object, object)  # Frame, list[station.devices.decoding.Symbol]
    state_changed = Signal(str, str)  # CameraState value, detail

    def __init__(
        self,
        source: CameraSource,
        pipeline: DecodePipeline | None = None,
        *,
        name: str = "camera",
    ) -> None:
        super().__init__()
        self.setObjectName(name)
        self._source = source
        self._pipeline = pipeline if pipeline is not None else DecodePipeline()
        self._decoder: LatestFrameDecoder[Frame, list[Symbol]] | None = None
        self._timer: QTimer | None = None
        self._count_since = 0.0
        self._count = 0
        self._fps = 0.0

    @Slot()
    def start(self) -> None:
        """Start pulling frames and decoding (call on the worker's thread)."""
        pipeline = self._pipeline
        self._decoder = LatestFrameDecoder(
            lambda frame: pipeline.decode(frame.image),
            self._on_decoded,
            on_error=self._on_decode_error,
            name=f"{self.objectName()} decoder",
        )
        self._decoder.start()
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(max(1, round(1000 / self._source.fps)))
        self._timer.timeout.connect(self._on_tick)
        self._count_since = time.monotonic()
        self._count = 0
        self.state_changed.emit(
            self._source.state.value, f"{self._source.name}, {self._source.fps:.0f} fps nominal"
        )
        self._timer.start()

    @Slot()
    def stop(self) -> None:
        """Stop the frames, end the decoder thread, close the camera."""
        if self._timer is not None:
            self._timer.stop()
            self._timer.deleteLater()
            self._timer = None
        if self._decoder is not None:
            self._decoder.stop()
            self._decoder = None
        self._source.close()
        _release_to_main_thread(self)

    @property
    def fps(self) -> float:
        """The frame rate measured over the last report interval."""
        return self._fps

    def _on_tick(self) -> None:
        frame = self._source.read()
        if frame is None:
            assert self._timer is not None
            self._timer.stop()
            state = self._source.state
            self.state_changed.emit(state.value, self._source.problem or state.value)
            return
        self.frame_ready.emit(frame)
        if self._decoder is not None:
            self._decoder.submit(frame)
        self._count += 1
        now = time.monotonic()
        if now - self._count_since >= FPS_REPORT_INTERVAL:
            self._fps = self._count / (now - self._count_since)
            self._count, self._count_since = 0, now
            self.state_changed.emit(
                CameraState.OPEN.value, f"{self._source.name}, {self._fps:.0f} fps"
            )

    def _on_decoded(self, frame: Frame, symbols: list[Symbol], _seconds: float) -> None:
        self.symbols_decoded.emit(frame, symbols)  # from the decoder thread: queued

    def _on_decode_error(self, frame: Frame, error: BaseException) -> None:
        _log.warning("%s: frame %d could not be decoded: %s", self.objectName(), frame.index,
                     error)


class OcrWorker(QObject):
    """Reads the printed lot and expiry in a frame, off the GUI thread, one frame at a time.

    ``read_requested(frame)`` (from any thread) queues a read; ``read_done(OcrResult)``
    answers every request, in order. A read that cannot run (no Tesseract installed, a frame
    the reader chokes on) answers with a refusal saying why, so the technician is asked to
    type the lot instead and every request still gets its one answer.
    """

    read_requested = Signal(object)  # emit from the GUI: a Frame to read
    read_done = Signal(object)  # OcrResult

    def __init__(self, reader: Callable[[Any], OcrResult] = read_printed_lot, *,
                 name: str = "ocr") -> None:
        super().__init__()
        self.setObjectName(name)
        self._reader = reader
        self.read_requested.connect(self.read)

    @Slot()
    def start(self) -> None:
        """Nothing to open: Tesseract starts per read."""

    @Slot()
    def stop(self) -> None:
        """Hand the worker back to the main thread."""
        _release_to_main_thread(self)

    @Slot(object)
    def read(self, frame: Frame) -> None:
        """Read ``frame``'s printed lot and expiry; ``read_done`` answers."""
        try:
            result = self._reader(frame.image)
        except Exception as error:  # no OCR program, or a reader bug: the lot is typed
            _log.warning("%s: frame %d could not be read: %s", self.objectName(), frame.index,
                         error)
            result = OcrResult(Refusal(RefusalKind.NOT_FOUND, str(error)), (), 0, 0.0)
        self.read_done.emit(result)


W = TypeVar("W", bound=QObject)


class DeviceThreads:
    """One QThread per worker: create, move, start, and stop with every thread joined."""

    def __init__(self) -> None:
        self._entries: list[tuple[QObject, QThread]] = []

    def add(self, worker: W) -> W:
        """Give ``worker`` (no parent; with ``start`` and ``stop`` slots) its own thread."""
        if worker.parent() is not None:
            raise ValueError("a worker moved to its own thread must have no parent")
        thread = QThread()
        thread.setObjectName(f"{worker.objectName() or type(worker).__name__} thread")
        worker.moveToThread(thread)
        thread.started.connect(worker.start)  # type: ignore[attr-defined]
        self._entries.append((worker, thread))
        return worker

    def start(self) -> None:
        """Start every thread that is not running; each worker's ``start`` runs on it."""
        for _worker, thread in self._entries:
            if not thread.isRunning():
                thread.start()

    @property
    def threads(self) -> tuple[QThread, ...]:
        """The threads, in the order their workers were added."""
        return tuple(thread for _worker, thread in self._entries)

    def stop(self, timeout_ms: int = 15_000) -> bool:
        """Stop each worker on its thread, quit and join every thread; True if all ended."""
        ended = True
        for worker, thread in self._entries:
            if thread.isRunning():
                QMetaObject.invokeMethod(worker, "stop",
                                         Qt.ConnectionType.BlockingQueuedConnection)
                thread.quit()
            ended = thread.wait(timeout_ms) and ended
        self._entries.clear()
        return ended
