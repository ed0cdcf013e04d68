"""The composition root: build the station from its configuration, run it, stop it cleanly.

:func:`build_station` reads a :class:`~station.config.StationConfig` and assembles the record,
the accounts, the order book, the devices (real, or the simulated balance on a pseudo-
terminal and the simulated camera) with one thread each, the hood worker, the presenters
and the window. It is the one place in ``ui`` that may start a simulator. Nothing is built
at import time; tests build a station the same way with a configuration of their own.

With no configuration the station runs as a demo: the embedded SQLite record, the sample
formulary and worklist, demo accounts whose passwords the sign-in page shows, and the
"Simulated hood" panel to act out each step.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget

from scale_drivers.api import SerialSettings
from scale_drivers.sim.scenario import load_scenario
from scale_drivers.sim.server import SimulatorServer
from station.cli.scale import SIMULATOR_NAMES, pty_settings
from station.config.catalog_files import SAMPLE_DIR
from station.config.station_config import StationConfig, default_config_path, load_config
from station.core.acceptance import AcceptanceTracker
from station.core.quantities import Tolerance
from station.demo.camera import SimulatedCamera
from station.demo.camera_scene import Scene
from station.demo.content import DEMO_ACCOUNTS, ensure_demo_content
from station.demo.hood import DemoHood, SimulatorPlug
from station.devices.camera import CameraSource, FolderCamera, OpenCvCamera
from station.records.formulary_versions import FormularyVersions
from station.records.order_book import OrderBook
from station.records.recalls import RecallList
from station.records.record import Record, open_record
from station.records.users import Role, SessionManager, UserDirectory
from station.services.hood import HoodSession
from station.services.order_progress import OrderProgress
from station.services.preparations import PreparationService
from station.services.scan_events import ScanEvents
from ui.audit.page import AuditPage
from ui.pharmacist.page import PharmacistPage
from ui.shell.login import LoginPresenter, LoginView
from ui.shell.scanner_filter import ScannerEventFilter
from ui.shell.settings_dialog import SettingsDialog
from ui.shell.station_window import StationWindow
from ui.technician.demo_panel import DemoPanel
from ui.technician.hood_prompts import DialogPrompts
from ui.technician.preparation_presenter import PreparationPresenter
from ui.technician.preparation_view import PreparationView
from ui.technician.worklist import WorklistPresenter
from ui.workers.audit_worker import AuditWorker
from ui.workers.devices import BalanceWorker, CameraWorker, DeviceThreads
from ui.workers.hood_worker import HoodWorker
from ui.workers.pharmacist_worker import PharmacistWorker
from ui.workers.scanner_worker import ScannerWorker

_log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
#: The site's tolerance for a dose when neither the order nor the product sets one.
SITE_TOLERANCE = Tolerance(Decimal("0.05"))
DEMO_SCENARIO = SAMPLE_DIR / "scenarios" / "hood_demo.toml"
#: How often the window looks for activity and for a session left idle (ms).
IDLE_CHECK_MS = 5000


def local_now() -> dt.datetime:
    """The time now with the site's UTC offset (the hood's clock)."""
    return dt.datetime.now().astimezone()


@dataclass
class Station:
    """Everything :func:`build_station` made, to start, drive (tests) and stop."""

    config: StationConfig
    record: Record
    window: StationWindow
    threads: DeviceThreads
    hood_worker: HoodWorker
    balance_worker: BalanceWorker
    camera_worker: CameraWorker
    scanner_filter: ScannerEventFilter
    preparation: PreparationPresenter
    simulator: SimulatorServer | None = None
    camera_source: CameraSource | None = None
    demo: DemoHood | None = None
    scanner_worker: ScannerWorker | None = None
    _closed: bool = field(default=False, repr=False)

    def start(self) -> None:
        """Start every device thread and show the window."""
        self.threads.start()
        self.window.show()

    def close(self) -> None:
        """Stop the threads (each joined), the simulator and the record; idempotent."""
        if self._closed:
            return
        self._closed = True
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self.scanner_filter)
        if not self.threads.stop():
            _log.error("a device thread did not stop in time")
        if self.simulator is not None:
            link = self.simulator.url
            self.simulator.stop()
            shutil.rmtree(Path(link).parent, ignore_errors=True)
        self.record.close()


def build_station(config: StationConfig, *, clock: Clock = local_now, seed: int = 0,
                  config_path: Path | None = None) -> Station:
    """Assemble the station described by ``config`` (see the module's description)."""
    record = open_record(config.record.url)
    if config.demo:
        ensure_demo_content(record, clock)
    version = FormularyVersions(record.engine).latest()
    if version is None:
        record.close()
        raise SystemExit("no formulary has been imported into the record: import one with "
                         "`station formulary import FILE` first")
    formulary = version.formulary()
    directory = UserDirectory(record.engine, clock)
    sessions = SessionManager(directory)
    orders = OrderBook(record.engine, clock)
    progress = OrderProgress(record.events)

    simulator, url, link_settings = _balance_port(config, seed)
    balance_worker = BalanceWorker.for_url(
        url, config.balance.protocol, link_settings,
        expected_serial=config.balance.expected_serial, readability=config.balance.readability)
    camera_source = _camera(config, seed)
    camera_worker = CameraWorker(camera_source)
    scanner_worker = (ScannerWorker(config.scanner.port, config.scanner.serial_settings)
                      if config.scanner.port else None)

    def make_hood() -> HoodSession:
        service = PreparationService(record, station_id=config.station.id,
                                     site_tolerance=SITE_TOLERANCE, clock=clock)
        recalls = RecallList(record.engine, clock)
        return HoodSession(service, formulary, ScanEvents(recalls), AcceptanceTracker,
                           station_id=config.station.id, clock=clock,
                           balance_check_tolerance=config.station.check_tolerance)

    hood_worker = HoodWorker(make_hood, sessions, orders, progress,
                             check_weight=config.station.check_weight)
    audit_worker = AuditWorker(record)
    pharmacist_worker = PharmacistWorker(
        PreparationService(record, station_id=config.station.id, site_tolerance=SITE_TOLERANCE,
                           clock=clock), sessions)
    threads = DeviceThreads()
    for worker in (balance_worker, camera_worker, hood_worker, scanner_worker, audit_worker,
                   pharmacist_worker):
        if worker is not None:
            threads.add(worker)

    login = LoginPresenter(sessions, clock)
    demo_users = ([(a.user_id, a.password, a.role.value) for a in DEMO_ACCOUNTS]
                  if config.show_passwords else None)
    login_view = LoginView(login, demo_users=demo_users)
    worklist = WorklistPresenter(progress.to_make(()), formulary)
    prompts = DialogPrompts()
    presenter = PreparationPresenter(formulary, prompts, check_weight=config.station.check_weight,
                                     check_tolerance=config.station.check_tolerance,
                                     today=clock().date())
    preparation_view = PreparationView(presenter)

    demo = None
    panel: QWidget | None = None
    if simulator is not None and isinstance(camera_source, SimulatedCamera):
        demo = DemoHood(simulator.balance, SimulatorPlug(simulator), camera_source, formulary,
                        today=clock().date(), seed=seed,
                        check_weight=config.station.check_weight)
        panel = DemoPanel(demo)
    window = StationWindow(login_view, worklist, preparation_view,
                           station_name=config.station.name or config.station.id,
                           side_panel=panel,
                           role_pages={Role.PHARMACIST: PharmacistPage(pharmacist_worker),
                                       Role.AUDITOR: AuditPage(audit_worker)})
    prompts.attach(window, presenter, hood_worker)
    scanner_filter = ScannerEventFilter()
    _wire(window, presenter, worklist, hood_worker, balance_worker, camera_worker,
          scanner_worker, scanner_filter, panel)
    app = QApplication.instance()
    if app is not None:
        app.installEventFilter(scanner_filter)
    station = Station(config, record, window, threads, hood_worker, balance_worker,
                      camera_worker, scanner_filter, presenter, simulator, camera_source, demo,
                      scanner_worker)
    _watch_idle(window, scanner_filter, clock)
    settings_path = config_path or default_config_path()
    window.settings_requested.connect(lambda: SettingsDialog(config, settings_path,
                                                             window).open())
    return station


def _wire(window: StationWindow, presenter: PreparationPresenter, worklist: WorklistPresenter,
          hood: HoodWorker, balance: BalanceWorker, camera: CameraWorker,
          scanner: ScannerWorker | None, scanner_filter: ScannerEventFilter,
          panel: QWidget | None) -> None:
    status = window.status
    preview = window.preparation_view.camera
    # devices -> status bar, presenter, hood
    balance.state_changed.connect(status.set_balance_state)
    balance.state_changed.connect(presenter.on_balance_state)
    balance.identified.connect(presenter.on_balance_connected)
    balance.identified.connect(hood.balance_identified)
    balance.live_reading.connect(presenter.on_live_reading)
    balance.reading_received.connect(presenter.on_stable_reading)
    balance.failed.connect(presenter.on_balance_failed)
    camera.state_changed.connect(window.on_camera_state)
    camera.frame_ready.connect(preview.show_frame)
    camera.frame_ready.connect(presenter.on_frame)
    camera.symbols_decoded.connect(presenter.on_symbols)
    if scanner is not None:
        scanner.state_changed.connect(status.set_scanner_state)
        scanner.scanned.connect(window.route_scan)
    else:
        status.set_scanner_state("connected", "keyboard wedge")
    scanner_filter.scanned.connect(window.route_scan)
    # presenter -> workers
    presenter.stable_weight_requested.connect(balance.stable_requested)
    presenter.streaming_requested.connect(balance.streaming_requested)
    for request, target in (
            (presenter.camera_read_requested, hood.camera_read),
            (presenter.handheld_requested, hood.handheld_scanned),
            (presenter.label_requested, hood.label_scanned),
            (presenter.weight_requested, hood.weight_requested),
            (presenter.balance_check_requested, hood.balance_check_requested),
            (presenter.photo_requested, hood.photo_requested),
            (presenter.confirm_requested, hood.confirm_requested),
            (presenter.retry_requested, hood.retry_requested),
            (presenter.cancel_requested, hood.cancel_requested),
            (presenter.override_requested, hood.override_requested),
            (presenter.check_requested, hood.check_requested)):
        request.connect(target)
    # hood -> presenter, window, worklist
    hood.view_changed.connect(presenter.on_view_changed)
    hood.view_changed.connect(window.on_hood_view)
    hood.refused.connect(presenter.on_refused)
    hood.worklist_changed.connect(worklist.set_worklist)
    window.start_requested.connect(hood.start_requested)
    window.user_signed_in.connect(hood.carry_on_requested)
    window.signed_out.connect(hood.release_requested)
    if isinstance(panel, DemoPanel):
        hood.view_changed.connect(panel.set_state)
        panel.handheld_scanned.connect(window.route_scan)


def _watch_idle(window: StationWindow, counts: ScannerEventFilter, clock: Clock) -> None:
    """Every few seconds: keys, clicks or scans keep the session open; idleness ends it."""
    seen = [-1]

    def tick() -> None:
        now = clock()
        total = counts.key_presses + counts.mouse_clicks + counts.scans
        if total != seen[0]:
            seen[0] = total
            window.note_activity(now)
        window.check_idle(now)

    timer = QTimer(window)
    timer.setInterval(IDLE_CHECK_MS)
    timer.timeout.connect(tick)
    timer.start()


def _balance_port(config: StationConfig, seed: int
                  ) -> tuple[SimulatorServer | None, str, SerialSettings | None]:
    """The simulator (if any), the port to open and the serial settings to open it with."""
    if not config.balance.simulated:
        return None, config.balance.port, config.balance.serial_settings
    simulator = SimulatorServer(SIMULATOR_NAMES[config.balance.protocol],
                                load_scenario(DEMO_SCENARIO), seed=seed)
    # A stable path, like /dev/serial/by-id/…: it follows the balance when it is replugged.
    link = Path(tempfile.mkdtemp(prefix="iv-station-")) / "balance"
    # A pty takes no parity: opened 8-N-1, it is reopened the same way after a refusal.
    return simulator, simulator.start(link), pty_settings(config.balance.protocol)


def _camera(config: StationConfig, seed: int) -> CameraSource:
    camera = config.camera
    if camera.simulated:
        return SimulatedCamera(Scene(), fps=camera.fps, seed=seed)
    if camera.device_index is not None:
        return OpenCvCamera(camera.device_index)
    assert camera.folder is not None
    return FolderCamera(camera.folder, fps=camera.fps)


def main(argv: Sequence[str] | None = None, *, config_path: Path | None = None) -> int:
    """Open the station window (``station app``); returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                                                   "%(message)s")
    if not (os.environ.get("QT_QPA_PLATFORM") or os.environ.get("DISPLAY")
            or os.environ.get("WAYLAND_DISPLAY")):
        print("station app: no display to open the window on (DISPLAY and WAYLAND_DISPLAY are "
              "unset): run it on the station's desktop, or under xvfb-run", file=sys.stderr)
        return 1
    app = QApplication.instance() or QApplication(list(argv or sys.argv[:1]))
    assert isinstance(app, QApplication)
    app.setApplicationName("IV station")
    path = config_path or default_config_path()
    station = build_station(load_config(path), config_path=path)
    station.window.closing.connect(station.close)
    app.aboutToQuit.connect(station.close)
    screen = app.primaryScreen()
    if screen is not None:  # without a window manager showMaximized alone does nothing
        station.window.setGeometry(screen.availableGeometry())
    station.start()
    station.window.showMaximized()
    return app.exec()


__all__ = ["Station", "build_station", "local_now", "main"]
