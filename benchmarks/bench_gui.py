"""GUI responsiveness: event-loop lag on the GUI thread, idle and with every device running.

An offscreen 1920×1080 window holds the camera preview over the weight gauge. A 5 ms precise
timer on the GUI thread (:class:`ui.lag_probe.EventLoopLagProbe`) records how late each tick
fires, in two phases of the same length, in one run:

- idle: the window shown, no device running (the baseline);
- load: through :class:`ui.devices.DeviceThreads`, a :class:`~ui.devices.CameraWorker` over a
  :class:`~station.camera.SimulatedCamera` (1280×720 at 15 fps) looking at a formulary vial's
  label, every frame shown in the preview and every decoded frame judged by the acceptance
  rule and drawn as overlays; and a :class:`~ui.devices.BalanceWorker` (MT-SICS) polled
  without pause for stable weights, each reading added to the gauge's trace. The balance is
  a :class:`~scale_drivers.sim.server.SimulatorServer` on a real pty, in a child process
  (paced at 9600 baud), so this process runs only what the station runs.

Goal reported against: p99 lag under load < 30 ms. The phase length is 10 s, or
``BENCH_GUI_SECONDS`` from the environment, or ``--seconds`` when run as a script.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from PySide6.QtCore import QEvent, QEventLoop, QObject, Qt, QTimer, Slot
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from benchmarks.bench_balance import PTY_SETTINGS, Simulator
from scale_drivers.api import Reading
from scale_drivers.connection import LinkState
from station.camera import Frame, SimulatedCamera
from station.camera_scene import Label, Scene
from station.catalog_files import load_formulary
from station.core.acceptance import AcceptanceTracker, Status, SymbolRead
from station.core.formulary import Formulary, ProductRole
from station.decoding import Symbol
from ui.devices import BalanceWorker, CameraWorker, DeviceThreads
from ui.lag_probe import DEFAULT_INTERVAL_MS, EventLoopLagProbe, LagSummary
from ui.widgets.camera_preview import CameraPreviewWidget
from ui.widgets.weight_gauge import WeightGaugeState, WeightGaugeWidget

SECONDS_VARIABLE = "BENCH_GUI_SECONDS"
DEFAULT_SECONDS = 10.0
GOAL_P99_MS = 30.0
WINDOW_SIZE = (1920, 1080)
CAMERA_FPS = 15.0
PROTOCOL = "mt-sics"
#: How long one stable-weight request may wait (s); the simulated load is settled.
STABLE_TIMEOUT = 5.0
#: Before measuring under load: the balance connected, a reading, a decoded frame (s).
WARM_UP_TIMEOUT = 30.0
#: And then this long more, so start-up work is not measured (s).
SETTLE_SECONDS = 1.0
#: A failed balance request is retried after this long (ms), not at once.
RETRY_MS = 100


def phase_seconds(explicit: float | None = None) -> float:
    """The phase length: ``explicit``, else ``BENCH_GUI_SECONDS``, else 10 s."""
    seconds = explicit if explicit is not None else float(
        os.environ.get(SECONDS_VARIABLE, DEFAULT_SECONDS))
    if seconds <= 0:
        raise ValueError(f"a phase must last more than 0 s, got {seconds}")
    return seconds


def vial_label(formulary: Formulary) -> Label:
    """The label of the formulary's first drug vial, with a lot, an expiry and a serial."""
    product = next(p for p in formulary if p.role is ProductRole.DRUG)
    year = dt.datetime.now(dt.UTC).year
    return Label.for_product(product, lot="BENCH01", expiry=dt.date(year + 2, 1, 31),
                             serial="100000000042")


class StationWindow(QWidget):
    """The camera preview above the weight gauge, as on the hood screen."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("GUI lag benchmark")
        self.preview = CameraPreviewWidget()
        self.gauge = WeightGaugeWidget()
        self.gauge.set_state(WeightGaugeState(unit="g", target=Decimal("100.00"),
                                              low=Decimal("99.50"), high=Decimal("100.50")))
        layout = QVBoxLayout(self)
        layout.addWidget(self.preview, 3)
        layout.addWidget(self.gauge, 1)
        self.resize(*WINDOW_SIZE)


@dataclass
class Counts:
    """What reached the GUI thread while counting."""

    frames_shown: int = 0
    frames_decoded: int = 0
    frames_accepted: int = 0
    readings: int = 0
    balance_failures: int = 0
    frame_ages_ms: list[float] = field(default_factory=list)


class Station(QObject):
    """The GUI-thread side of the devices: preview, overlays, gauge, continuous balance polling.

    The workers' signals arrive here queued (this object lives on the GUI thread). While
    :attr:`polling`, each answer from the balance asks it for the next stable weight at once,
    so one request is always in flight.
    """

    def __init__(self, window: StationWindow, balance: BalanceWorker,
                 tracker: AcceptanceTracker) -> None:
        super().__init__()
        self._window = window
        self._balance = balance
        self._tracker = tracker
        self._in_flight = False
        self._t0 = time.monotonic()
        self.connected = False
        self.polling = False
        self.counting = True
        self.counts = Counts()

    def restart_counts(self) -> None:
        """Count from zero, from now on."""
        self.counts = Counts()
        self.counting = True

    @Slot(object)
    def show_frame(self, frame: Frame) -> None:
        """A camera frame: into the preview."""
        self._window.preview.show_frame(frame)
        if self.counting:
            self.counts.frames_shown += 1
            self.counts.frame_ages_ms.append((time.monotonic() - frame.monotonic) * 1000)

    @Slot(object, object)
    def show_symbols(self, frame: Frame, symbols: list[Symbol]) -> None:
        """A decoded frame: judged by the acceptance rule, drawn over the preview."""
        reads = [SymbolRead(s.scan_text, matrix=s.is_matrix) for s in symbols]
        decision = self._tracker.observe_frame(frame.index, reads)
        self._window.preview.show_symbols(frame.index, symbols, decision.reason,
                                          decision.status)
        if self.counting:
            self.counts.frames_decoded += 1
            self.counts.frames_accepted += decision.status is Status.ACCEPTED

    @Slot(str, str)
    def balance_state(self, state: str, _detail: str) -> None:
        """The balance link changed: start polling once it is connected."""
        self.connected = state == LinkState.CONNECTED.value
        if self.connected:
            self.request()

    @Slot(object)
    def show_reading(self, reading: Reading) -> None:
        """A weight: into the gauge's trace, then ask for the next one."""
        self._in_flight = False
        self._window.gauge.add_reading(reading.value, reading.stable,
                                       reading.monotonic - self._t0)
        if self.counting:
            self.counts.readings += 1
        self.request()

    @Slot(str)
    def balance_failed(self, _message: str) -> None:
        """A request gave no weight: ask again a little later."""
        self._in_flight = False
        if self.counting:
            self.counts.balance_failures += 1
        QTimer.singleShot(RETRY_MS, self, self.request)

    @Slot()
    def request(self) -> None:
        """Ask the balance for a stable weight unless a request is in flight or polling is off."""
        if self.polling and not self._in_flight:
            self._in_flight = True
            self._balance.stable_requested.emit(STABLE_TIMEOUT)


def run_for(seconds: float) -> None:
    """Run the GUI thread's event loop for ``seconds``."""
    loop = QEventLoop()
    timer = QTimer()
    timer.setSingleShot(True)
    timer.setTimerType(Qt.TimerType.PreciseTimer)  # a long coarse timer may be 5 % off
    timer.timeout.connect(loop.quit)
    timer.start(round(seconds * 1000))
    loop.exec()


def wait_until(done: Callable[[], bool], timeout: float, what: str) -> None:
    """Run the event loop until ``done()``; RuntimeError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up after {timeout:.0f} s waiting for {what}")
        run_for(0.05)


@dataclass(frozen=True)
class Phase:
    """One measured phase: lag, and the process's CPU share (1.0 = one core)."""

    lag: LagSummary
    seconds: float
    cpu: float


def measure_phase(probe: EventLoopLagProbe, seconds: float) -> Phase:
    """The probe's lag over ``seconds`` of event loop."""
    cpu, wall = time.process_time(), time.perf_counter()
    probe.start()
    run_for(seconds)
    probe.stop()
    wall = time.perf_counter() - wall
    return Phase(probe.summary(), wall, (time.process_time() - cpu) / wall)


@dataclass(frozen=True)
class Result:
    """Both phases, what the devices delivered under load, and whether every thread ended."""

    idle: Phase
    load: Phase
    counts: Counts
    threads_left: tuple[str, ...]


def _other_threads(before: set[threading.Thread]) -> tuple[str, ...]:
    """Python threads started since ``before`` still alive (QThreads' dummies excepted)."""
    return tuple(sorted(t.name for t in set(threading.enumerate()) - before
                        if t.is_alive() and not isinstance(t, threading._DummyThread)))


def _measure_load(window: StationWindow, probe: EventLoopLagProbe, url: str,
                  camera: SimulatedCamera, formulary: Formulary, seconds: float,
                  threads: list[str]) -> tuple[Phase, Station]:
    """The load phase; device threads that did not end are added to ``threads``."""
    devices = DeviceThreads()
    balance = devices.add(BalanceWorker.for_url(url, PROTOCOL, PTY_SETTINGS[PROTOCOL]))
    camera_worker = devices.add(CameraWorker(camera))
    year = dt.datetime.now(dt.UTC).year
    station = Station(window, balance, AcceptanceTracker(formulary, year))
    camera_worker.frame_ready.connect(station.show_frame)
    camera_worker.symbols_decoded.connect(station.show_symbols)
    balance.state_changed.connect(station.balance_state)
    balance.reading_received.connect(station.show_reading)
    balance.failed.connect(station.balance_failed)
    qthreads = devices.threads
    try:
        station.polling = True
        devices.start()
        wait_until(lambda: station.counts.readings > 0 and station.counts.frames_decoded > 0,
                   WARM_UP_TIMEOUT, "a balance reading and a decoded frame")
        run_for(SETTLE_SECONDS)
        station.restart_counts()
        load = measure_phase(probe, seconds)
        station.counting = False
    finally:
        station.polling = False
        if not devices.stop():
            threads.append("a device QThread did not end")
    run_for(0.2)  # deliver what was still queued to the GUI thread
    threads += [t.objectName() for t in qthreads if t.isRunning()]
    return load, station


def measure(seconds: float) -> Result:
    """Idle, then load, each for ``seconds``, in an offscreen window at 1920×1080."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance() or QApplication([])
    before = set(threading.enumerate())
    formulary = load_formulary()
    camera = SimulatedCamera(Scene(labels=(vial_label(formulary),)), fps=CAMERA_FPS)
    window = StationWindow()
    probe = EventLoopLagProbe(DEFAULT_INTERVAL_MS)
    threads: list[str] = []
    try:
        window.show()
        run_for(0.5)  # laid out, exposed, first paint done
        with Simulator(PROTOCOL) as url:
            idle = measure_phase(probe, seconds)
            load, station = _measure_load(window, probe, url, camera, formulary, seconds,
                                          threads)
    finally:
        window.close()
        window.deleteLater()
        probe.deleteLater()
        app.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # the deleteLater()s above
    threads += _other_threads(before)
    return Result(idle, load, station.counts, tuple(threads))


def main(seconds: float | None = None) -> None:
    """Print the table."""
    length = phase_seconds(seconds)
    result = measure(length)
    counts, load = result.counts, result.load
    print(f"GUI event-loop lag: offscreen {WINDOW_SIZE[0]}×{WINDOW_SIZE[1]} window (camera "
          f"preview + weight gauge), {DEFAULT_INTERVAL_MS} ms probe, {length:g} s per phase")
    header = (f"{'phase':<6} {'ticks':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
              f"{'max ms':>7} {'CPU':>5} {'frames shown':>13} {'decoded':>8} "
              f"{'readings':>9}")
    print(header)
    print("-" * len(header))
    for name, phase, rows in (
        ("idle", result.idle, ("-", "-", "-")),
        ("load", load, (str(counts.frames_shown), str(counts.frames_decoded),
                        str(counts.readings))),
    ):
        lag = phase.lag
        print(f"{name:<6} {lag.count:>6} {lag.p50:>7.2f} {lag.p95:>7.2f} {lag.p99:>7.2f} "
              f"{lag.max:>7.2f} {phase.cpu:>5.0%} {rows[0]:>13} {rows[1]:>8} {rows[2]:>9}")
    print()
    print("CPU = this process's CPU time over the phase (100% = one core of "
          f"{os.cpu_count()}); ticks = probe samples.")
    wall = load.seconds
    ages = sorted(counts.frame_ages_ms) or [float("nan")]
    print(f"load: camera {CAMERA_FPS:g} fps nominal: {counts.frames_shown / wall:.1f} frames/s "
          f"shown (age when shown: median {statistics.median(ages):.1f} ms, max "
          f"{ages[-1]:.1f} ms), {counts.frames_decoded / wall:.1f} frames/s decoded and drawn "
          f"({counts.frames_accepted} judged ACCEPTED);")
    print(f"      balance {counts.readings / wall:.1f} stable readings/s into the gauge "
          f"({counts.balance_failures} requests failed)")
    met = load.lag.p99 < GOAL_P99_MS
    print(f"goal p99 < {GOAL_P99_MS:g} ms under load: {'met' if met else 'NOT MET'} "
          f"({load.lag.p99:.2f} ms; idle {result.idle.lag.p99:.2f} ms)")
    print(f"threads left running: {', '.join(result.threads_left) or 'none'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None,
                        help=f"length of each phase (default: ${SECONDS_VARIABLE} or "
                             f"{DEFAULT_SECONDS:g})")
    main(parser.parse_args().seconds)
