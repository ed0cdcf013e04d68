"""GUI responsiveness: event-loop lag on the GUI thread, idle and with every device running.

An offscreen 1920×1080 window holds the camera preview over the weight gauge. A 5 ms precise
timer on the GUI thread (:class:`ui.shell.lag_probe.EventLoopLagProbe`) records how late each tick
fires, in two phases of the same length, in one run:

- idle: the window shown, no device running (the baseline);
- load: through :class:`ui.workers.devices.DeviceThreads`, a
  :class:`~ui.workers.devices.CameraWorker` over a
  :class:`~station.demo.camera.SimulatedCamera` (1280×720 at 15 fps) looking at a formulary vial's
  label, every frame shown in the preview and every decoded frame judged by the acceptance
  rule and drawn as overlays; and a :class:`~ui.workers.devices.BalanceWorker` (MT-SICS) polled
  without pause for stable weights, each reading added to the gauge's trace. The balance is
  a :class:`~scale_drivers.sim.server.SimulatorServer` on a real pty, in a child process
  (paced at 9600 baud), so this process runs only what the station runs;
- station: the real technician station window from :func:`ui.shell.app.build_station` in demo
  mode (its record an SQLite file in a temporary folder, the simulated balance on a pty
  served from a thread of this process, the simulated camera, the hood worker thread), driven
  without mouse or keys through its presenters and its :class:`~station.demo.hood.DemoHood`:
  sign in, scan a single-vial order, do each step until the preparation is held for a
  pharmacist's verification, sign out, and again, as many preparations as fit in the phase
  (at least one). How long ``LoginPresenter.submit`` (argon2 runs in the thread pool) blocks is
  reported on its own.

Goal reported against: p99 lag under load < 30 ms. The phase length is 10 s, or
``BENCH_GUI_SECONDS`` from the environment, or ``--seconds`` when run as a script; the
station phase's is ``BENCH_GUI_STATION_SECONDS`` or ``--station-seconds``, else the same.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from PySide6.QtCore import QEvent, QEventLoop, QObject, Qt, QTimer, Slot
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from benchmarks.bench_balance import PTY_SETTINGS, Simulator
from benchmarks.summary import SummaryRow
from scale_drivers.api import Reading
from scale_drivers.connection import LinkState
from station.bootstrap import local_now
from station.config.catalog_files import load_formulary
from station.config.model import StationConfig
from station.config.station_config import config_from_mapping
from station.core.acceptance import AcceptanceTracker, Status, SymbolRead
from station.core.formulary import Formulary, ProductRole
from station.core.recipe import build_recipe
from station.core.workflow import Phase as PrepPhase
from station.demo.camera import SimulatedCamera
from station.demo.camera_scene import Label, Scene
from station.demo.content import DEMO_ACCOUNTS
from station.demo.hood import progress_marker
from station.devices.camera import Frame
from station.devices.decoding import Symbol
from station.records.formulary_versions import FormularyVersions
from station.records.order_book import OrderBook
from ui.shell.app import Station as StationApp
from ui.shell.app import build_station
from ui.shell.lag_probe import DEFAULT_INTERVAL_MS, EventLoopLagProbe, LagSummary, summarize
from ui.widgets.camera_preview import CameraPreviewWidget
from ui.widgets.weight_gauge import WeightGaugeState, WeightGaugeWidget
from ui.workers.devices import BalanceWorker, CameraWorker, DeviceThreads

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
STATION_SECONDS_VARIABLE = "BENCH_GUI_STATION_SECONDS"
#: Who signs in at the station (a demo account).
TECHNICIAN = "tech.demo"
#: Before measuring the station: its balance identified and a camera frame shown (s).
STATION_START_TIMEOUT = 30.0
#: How long one step of a preparation may take to move on (s), as in the end-to-end tests.
STEP_TIMEOUT = 20.0
#: How often the station driver looks whether the station moved on (s).
POLL_SECONDS = 0.01
#: Steps in one preparation at most, before the driver gives up.
STEP_LIMIT = 60


def phase_seconds(explicit: float | None = None) -> float:
    """The phase length: ``explicit``, else ``BENCH_GUI_SECONDS``, else 10 s."""
    seconds = explicit if explicit is not None else float(
        os.environ.get(SECONDS_VARIABLE, DEFAULT_SECONDS))
    if seconds <= 0:
        raise ValueError(f"a phase must last more than 0 s, got {seconds}")
    return seconds


def station_phase_seconds(explicit: float | None, phase: float) -> float:
    """The station phase: ``explicit``, else ``BENCH_GUI_STATION_SECONDS``, else ``phase``."""
    text = os.environ.get(STATION_SECONDS_VARIABLE)
    seconds = explicit if explicit is not None else (float(text) if text else phase)
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


#: How long the hands leave the pan empty before the next load (the balance must see it).
EMPTY_PAN_SECONDS = 1.5

def wait_until(done: Callable[[], bool], timeout: float, what: str, *,
               poll: float = 0.05) -> None:
    """Run the event loop until ``done()``, asked every ``poll`` s; RuntimeError on timeout."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up after {timeout:.0f} s waiting for {what}")
        run_for(poll)


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
    """Every phase, what the devices delivered, and whether every thread ended."""

    idle: Phase
    load: Phase
    counts: Counts
    station: StationRun
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


# ---------------------------------------------------------------- the station phase


def station_config(folder: Path) -> StationConfig:
    """The demo's configuration (simulated balance and camera), its record in ``folder``."""
    return config_from_mapping({"record": {"url": f"sqlite:///{folder / 'station.db'}"},
                                "station": {"id": "hood-bench", "name": "GUI benchmark"}})


def single_vial_orders(station: StationApp) -> list[str]:
    """Sample orders made from one vial into a bag with no pharmacist check, most urgent first.

    The same choice as the end-to-end tests' ``single_vial_order``: a base, two scans (the
    bag and the vial), one ingredient, no in-process check, nothing hazardous.
    """
    version = FormularyVersions(station.record.engine).latest()
    if version is None:
        raise RuntimeError("the station's record holds no formulary")
    formulary = version.formulary()
    chosen = []
    for order in OrderBook(station.record.engine, local_now).worklist():
        if build_recipe(order, formulary, station.services.site_tolerance).standard_single_vial:
            chosen.append(order.order_id)
    return chosen


@dataclass
class StationCounts:
    """What the station's devices delivered to the GUI thread while counting."""

    frames_shown: int = 0
    frames_decoded: int = 0
    live_readings: int = 0
    stable_readings: int = 0


class DeviceCounter(QObject):
    """Counts the station's device signals, delivered queued to the GUI thread."""

    def __init__(self, station: StationApp) -> None:
        super().__init__()
        self.counting = False
        self.counts = StationCounts()
        station.camera_worker.frame_ready.connect(self.frame)
        station.camera_worker.symbols_decoded.connect(self.symbols)
        station.balance_worker.live_reading.connect(self.live)
        station.balance_worker.reading_received.connect(self.stable)

    def restart(self) -> None:
        """Count from zero, from now on."""
        self.counts = StationCounts()
        self.counting = True

    @Slot(object)
    def frame(self, _frame: Frame) -> None:
        """A frame reached the preview."""
        self.counts.frames_shown += self.counting

    @Slot(object, object)
    def symbols(self, _frame: Frame, _symbols: list[Symbol]) -> None:
        """A decoded frame reached the presenter."""
        self.counts.frames_decoded += self.counting

    @Slot(object, str)
    def live(self, reading: Reading | None, _problem: str) -> None:
        """A live weight (or why there is none) reached the gauge."""
        self.counts.live_readings += self.counting and reading is not None

    @Slot(object)
    def stable(self, _reading: Reading) -> None:
        """A stable weight, asked for by a capture, reached the presenter."""
        self.counts.stable_readings += self.counting


class StationDriver:
    """A technician without mouse or keys: the station's presenters and its demo hood.

    Mirrors ``Technician`` of the end-to-end tests: the handheld's text goes through
    :meth:`StationWindow.route_scan`, Enter is :meth:`PreparationPresenter.primary`.
    """

    def __init__(self, station: StationApp, user_id: str = TECHNICIAN) -> None:
        if station.demo is None:
            raise RuntimeError("the station phase needs the demo hood (simulated devices)")
        self.station = station
        self.window = station.window
        self.presenter = station.preparation
        self.hood = station.demo
        self.account = next(a for a in DEMO_ACCOUNTS if a.user_id == user_id)

    def on_worklist(self) -> set[str]:
        """The order ids the worklist shows now."""
        return {r.order_id for r in self.window.worklist_presenter.state.rows}

    def sign_in(self) -> float:
        """Sign in through the login presenter; how long its ``submit`` blocked (ms)."""
        login = self.window.login_view.presenter  # the view's own presenter, as Enter uses it
        started = time.perf_counter()
        login.submit(self.account.user_id, self.account.password)
        blocked = (time.perf_counter() - started) * 1000  # the password is checked off-thread
        wait_until(lambda: not login.state.checking, STEP_TIMEOUT, "the password check",
                   poll=POLL_SECONDS)
        if not login.state.signed_in:
            raise RuntimeError(f"could not sign in as {self.account.user_id}: "
                               f"{login.state.error}")
        wait_until(lambda: self.window.current_page is self.window.worklist_view, STEP_TIMEOUT,
                   "the worklist after signing in", poll=POLL_SECONDS)
        return blocked

    def start(self, order_id: str) -> None:
        """Scan the order on the worklist; wait for its preparation page."""
        wait_until(lambda: order_id in self.on_worklist(), STEP_TIMEOUT,
                   f"{order_id} on the worklist", poll=POLL_SECONDS)
        if not self.window.worklist_presenter.scan(order_id):
            raise RuntimeError(f"the worklist refused {order_id}: "
                               f"{self.window.worklist_presenter.state.message}")
        wait_until(lambda: self.window.current_page is self.window.preparation_view
                   and self.presenter.view is not None
                   and self.presenter.view.phase is PrepPhase.IN_PROGRESS,
                   STEP_TIMEOUT, f"the preparation of {order_id}", poll=POLL_SECONDS)

    def snapshot(self) -> tuple[object, ...]:
        """What changes when the preparation moves on."""
        return progress_marker(self.presenter.view, self.presenter.preparation)

    def do_step(self) -> None:
        """Do, right, what the station asks next; wait until it moved on."""
        view, prep = self.presenter.view, self.presenter.preparation
        if view is None:
            raise RuntimeError("no preparation is open")
        before = self.snapshot()
        move = self.hood.next_move(view, prep)
        if self.hood.lifted:  # the last item came off first; the balance sees the empty pan
            run_for(EMPTY_PAN_SECONDS)
            move = self.hood.next_move(view, prep)
        if move.scan is not None:
            self.window.route_scan(move.scan)  # the handheld
        elif move.typed is not None:
            self.presenter.type_lot(*move.typed)  # T, then typed twice
        elif move.keep_vial:
            self.presenter.keep_vial()  # K
        elif move.enter:
            self.presenter.primary()  # Enter
        try:
            wait_until(lambda: self.snapshot() != before, STEP_TIMEOUT, "the next step",
                       poll=POLL_SECONDS)
        except RuntimeError as error:
            state = self.presenter.state
            raise RuntimeError(f"stuck at {before}: message {state.message!r}, stop "
                               f"{state.stop!r}, instruction {state.instruction!r}, demo "
                               f"{self.hood.state}") from error

    def finish(self) -> str:
        """Do each step until the preparation is held for verification; its id."""
        for _ in range(STEP_LIMIT):
            view, prep = self.presenter.view, self.presenter.preparation
            if view is not None and prep is not None and (
                    view.phase is PrepPhase.AWAITING_VERIFICATION):
                wait_until(lambda: self.window.current_page is self.window.worklist_view,
                           STEP_TIMEOUT, "the worklist after the hold", poll=POLL_SECONDS)
                return prep.preparation_id
            self.do_step()
        raise RuntimeError(f"not held after {STEP_LIMIT} steps: {self.presenter.view}")

    def sign_out(self) -> None:
        """F12: back to the sign-in page."""
        self.window.sign_out()


@dataclass(frozen=True)
class StationRun:
    """The station phase: lag, each preparation's time, each sign-in's block."""

    phase: Phase
    #: The lag without the probe ticks that waited for a sign-in (None: no other tick).
    without_sign_ins: LagSummary | None
    #: The probe tick that waited for each sign-in (ms).
    sign_in_ticks_ms: tuple[float, ...]
    prep_seconds: tuple[float, ...]
    sign_in_ms: tuple[float, ...]
    counts: StationCounts
    orders_available: int
    threads_left: tuple[str, ...]

    @property
    def preparations(self) -> int:
        """Preparations held for verification."""
        return len(self.prep_seconds)


def _prepare_until(driver: StationDriver, probe: EventLoopLagProbe, orders: Iterable[str],
                   seconds: float, prep_seconds: list[float], sign_in_ms: list[float]) -> list[int]:
    """Sign in, prepare, sign out, one order after the other, while another one fits.

    Returns the index of the probe's sample that waited for each sign-in: between reading the
    probe's count and the sign-in nothing runs the event loop, so the next tick is the one.
    """
    begun = time.perf_counter()
    sign_in_ticks = []
    for order_id in orders:
        started = time.perf_counter()
        sign_in_ticks.append(len(probe.samples))
        sign_in_ms.append(driver.sign_in())
        driver.start(order_id)
        driver.finish()
        prep_seconds.append(time.perf_counter() - started)
        driver.sign_out()
        if time.perf_counter() - begun + max(prep_seconds) > seconds:
            break
    return sign_in_ticks


def measure_station(seconds: float) -> StationRun:
    """The station phase (see the module's description); every station thread is joined."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance() or QApplication([])
    before = set(threading.enumerate())
    probe = EventLoopLagProbe(DEFAULT_INTERVAL_MS)
    prep_seconds: list[float] = []
    sign_in_ms: list[float] = []
    threads: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-gui-") as folder:
        station = build_station(station_config(Path(folder)), clock=local_now, seed=3)
        qthreads = station.threads.threads
        try:
            counter = DeviceCounter(station)
            orders = single_vial_orders(station)
            if not orders:
                raise RuntimeError("the sample worklist has no single-vial order")
            driver = StationDriver(station)
            station.window.resize(*WINDOW_SIZE)
            station.start()
            counter.restart()
            wait_until(lambda: station.preparation.balance is not None
                       and counter.counts.frames_shown > 0 and station.preparation.view
                       is not None, STATION_START_TIMEOUT,
                       "the station's balance, a camera frame and the hood")
            run_for(SETTLE_SECONDS)
            counter.restart()
            cpu, wall = time.process_time(), time.perf_counter()
            probe.start()
            ticks = _prepare_until(driver, probe, orders, seconds, prep_seconds, sign_in_ms)
            probe.stop()
            wall = time.perf_counter() - wall
            phase = Phase(probe.summary(), wall, (time.process_time() - cpu) / wall)
            samples = probe.samples
            sign_in_ticks = tuple(samples[i] for i in ticks if i < len(samples))
            waited = set(ticks)
            others = [lag for i, lag in enumerate(samples) if i not in waited]
            counter.counting = False
        finally:
            probe.stop()
            station.close()  # the device threads joined, the simulator stopped, record closed
            station.window.close()
            station.window.deleteLater()
            probe.deleteLater()
            run_for(0.2)  # deliver what was still queued to the GUI thread
            app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    threads += [t.objectName() or "a station QThread" for t in qthreads if t.isRunning()]
    threads += _other_threads(before)
    return StationRun(phase, summarize(others) if others else None, sign_in_ticks,
                      tuple(prep_seconds), tuple(sign_in_ms), counter.counts, len(orders),
                      tuple(threads))


def measure(seconds: float, station_seconds: float | None = None) -> Result:
    """Idle, then load, each ``seconds`` long, offscreen at 1920×1080; then the station.

    The station phase lasts ``station_seconds`` (default ``seconds``), at least one
    preparation.
    """
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
    run = measure_station(seconds if station_seconds is None else station_seconds)
    threads += run.threads_left
    threads += _other_threads(before)
    return Result(idle, load, station.counts, run, tuple(dict.fromkeys(threads)))


def _lag_row(name: str, phase: Phase, rows: tuple[str, str, str]) -> str:
    lag = phase.lag
    return (f"{name:<7} {lag.count:>6} {lag.p50:>7.2f} {lag.p95:>7.2f} {lag.p99:>7.2f} "
            f"{lag.max:>7.2f} {phase.cpu:>5.0%} {rows[0]:>13} {rows[1]:>8} {rows[2]:>9}")


def _print_station(run: StationRun, seconds: float) -> None:
    counts, wall = run.counts, run.phase.seconds
    per_prep = statistics.median(run.prep_seconds)
    why = ("every single-vial order of the sample worklist done"
           if run.preparations >= run.orders_available else "another would not fit")
    print(f"station: {run.preparations} preparation(s) from sign-in to held for verification "
          f"in {wall:.1f} s (phase {seconds:g} s; {why}): {per_prep:.1f} s per preparation "
          f"(median; {min(run.prep_seconds):.1f}–{max(run.prep_seconds):.1f} s);")
    print(f"         camera {counts.frames_shown / wall:.1f} frames/s shown, "
          f"{counts.frames_decoded / wall:.1f} frames/s decoded; balance "
          f"{counts.live_readings / wall:.1f} live readings/s into the gauge, "
          f"{counts.stable_readings} stable weights taken")
    rest = run.without_sign_ins
    if rest is not None:
        print(f"         lag without the {len(run.sign_in_ticks_ms)} sign-in tick(s): "
              f"p50 {rest.p50:.2f}, p95 {rest.p95:.2f}, p99 {rest.p99:.2f}, "
              f"max {rest.max:.2f} ms")
    sign_ins, ticks = run.sign_in_ms, run.sign_in_ticks_ms or (float("nan"),)
    print(f"sign-in: LoginPresenter.submit (argon2 in the thread pool) blocked "
          f"min {min(sign_ins):.0f} ms, median {statistics.median(sign_ins):.0f} ms, "
          f"max {max(sign_ins):.0f} ms over {len(sign_ins)} sign-in(s); the probe tick that "
          f"waited for it: min {min(ticks):.0f} ms, median {statistics.median(ticks):.0f} ms")


def main(seconds: float | None = None,
         station_seconds: float | None = None) -> list[SummaryRow]:
    """Print the table; return the key figures."""
    length = phase_seconds(seconds)
    station_length = station_phase_seconds(station_seconds, length)
    result = measure(length, station_length)
    counts, load, run = result.counts, result.load, result.station
    print(f"GUI event-loop lag: offscreen {WINDOW_SIZE[0]}×{WINDOW_SIZE[1]} window (camera "
          f"preview + weight gauge; then the station window), {DEFAULT_INTERVAL_MS} ms probe, "
          f"{length:g} s per phase (station {station_length:g} s)")
    header = (f"{'phase':<7} {'ticks':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
              f"{'max ms':>7} {'CPU':>5} {'frames shown':>13} {'decoded':>8} "
              f"{'readings':>9}")
    print(header)
    print("-" * len(header))
    sc = run.counts
    for name, phase, rows in (
        ("idle", result.idle, ("-", "-", "-")),
        ("load", load, (str(counts.frames_shown), str(counts.frames_decoded),
                        str(counts.readings))),
        ("station", run.phase, (str(sc.frames_shown), str(sc.frames_decoded),
                                str(sc.live_readings))),
    ):
        print(_lag_row(name, phase, rows))
    print()
    print("CPU = this process's CPU time over the phase (100% = one core of "
          f"{os.cpu_count()}); ticks = probe samples; station readings = live weights "
          "(the balance simulator is a thread of this process).")
    wall = load.seconds
    ages = sorted(counts.frame_ages_ms) or [float("nan")]
    print(f"load: camera {CAMERA_FPS:g} fps nominal: {counts.frames_shown / wall:.1f} frames/s "
          f"shown (age when shown: median {statistics.median(ages):.1f} ms, max "
          f"{ages[-1]:.1f} ms), {counts.frames_decoded / wall:.1f} frames/s decoded and drawn "
          f"({counts.frames_accepted} judged ACCEPTED);")
    print(f"      balance {counts.readings / wall:.1f} stable readings/s into the gauge "
          f"({counts.balance_failures} requests failed)")
    _print_station(run, station_length)
    met = load.lag.p99 < GOAL_P99_MS
    print(f"goal p99 < {GOAL_P99_MS:g} ms under load: {'met' if met else 'NOT MET'} "
          f"({load.lag.p99:.2f} ms; idle {result.idle.lag.p99:.2f} ms)")
    met = run.phase.lag.p99 < GOAL_P99_MS
    print(f"goal p99 < {GOAL_P99_MS:g} ms in the station: {'met' if met else 'NOT MET'} "
          f"({run.phase.lag.p99:.2f} ms, sign-ins included)")
    print(f"threads left running: {', '.join(result.threads_left) or 'none'}")
    idle = result.idle.lag
    return [
        SummaryRow("p99 lag, devices under load", load.lag.p99, "ms", "idle p99", idle.p99),
        SummaryRow("p99 lag, station preparing", run.phase.lag.p99, "ms", "idle p99",
                   idle.p99),
        SummaryRow("p50 lag, station preparing", run.phase.lag.p50, "ms", "idle p50",
                   idle.p50),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None,
                        help=f"length of each phase (default: ${SECONDS_VARIABLE} or "
                             f"{DEFAULT_SECONDS:g})")
    parser.add_argument("--station-seconds", type=float, default=None,
                        help=f"length of the station phase, at least one preparation "
                             f"(default: ${STATION_SECONDS_VARIABLE} or --seconds)")
    arguments = parser.parse_args()
    main(arguments.seconds, arguments.station_seconds)
