"""The window's composition root: the station's services and devices, put behind a window.

:func:`build_station` takes the services and the devices that :mod:`station.bootstrap` builds
from a :class:`~station.config.model.StationConfig` (the record, the accounts, the
order book, the balance port and the camera, simulated or real), gives each device and the
hood its own thread, and assembles the presenters and the window. Nothing is built at import
time; tests build a station the same way with a configuration of their own.

With no configuration the station runs as a demo: the embedded SQLite record, the sample
formulary and worklist, demo accounts whose passwords the sign-in page shows, and the
"Simulated hood" panel to act out each step.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget

from scale_drivers.sim.server import SimulatorServer
from station.bootstrap import (
    Clock,
    HoodDevices,
    NoFormulary,
    StationServices,
    local_now,
    open_devices,
    open_services,
)
from station.config.model import StationConfig
from station.config.station_config import default_config_path, load_config
from station.core.accounts import Role
from station.demo.content import DEMO_ACCOUNTS
from station.demo.hood import DemoHood
from station.records.record import Record
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
from ui.workers.devices import BalanceWorker, CameraWorker, DeviceThreads, OcrWorker
from ui.workers.hood_worker import HoodWorker
from ui.workers.pharmacist_worker import PharmacistWorker
from ui.workers.scanner_worker import ScannerWorker

_log = logging.getLogger(__name__)

#: How often the window looks for activity and for a session left idle (ms).
IDLE_CHECK_MS = 5000


@dataclass
class Station:
    """Everything :func:`build_station` made, to start, drive (tests) and stop."""

    config: StationConfig
    services: StationServices
    window: StationWindow
    threads: DeviceThreads
    hood_worker: HoodWorker
    balance_worker: BalanceWorker
    camera_worker: CameraWorker
    scanner_filter: ScannerEventFilter
    preparation: PreparationPresenter
    devices: HoodDevices
    demo: DemoHood | None = None
    scanner_worker: ScannerWorker | None = None
    ocr_worker: OcrWorker | None = None
    _closed: bool = field(default=False, repr=False)

    @property
    def record(self) -> Record:
        """The record the station writes to."""
        return self.services.record

    @property
    def simulator(self) -> SimulatorServer | None:
        """The demo's balance simulator, if the balance is simulated."""
        simulated = self.devices.simulated_balance
        return simulated.simulator if simulated is not None else None

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
        self.devices.close()
        self.services.close()


def build_station(config: StationConfig, *, clock: Clock = local_now, seed: int = 0,
                  config_path: Path | None = None) -> Station:
    """Assemble the station described by ``config`` (see the module's description)."""
    services = open_services(config, clock=clock)
    try:
        formulary = services.latest_formulary().formulary()
    except NoFormulary as error:
        services.close()
        raise SystemExit(str(error)) from None
    devices = open_devices(config, seed=seed)
    balance_worker = BalanceWorker.for_url(
        devices.balance_url, config.balance.protocol, devices.balance_settings,
        expected_serial=config.balance.expected_serial, readability=config.balance.readability)
    camera_worker = CameraWorker(devices.camera)
    ocr_worker = OcrWorker()
    scanner_worker = (ScannerWorker(config.scanner.port, config.scanner.serial_settings)
                      if config.scanner.port else None)

    hood_worker = HoodWorker(lambda: services.hood_session(formulary), services.sessions,
                             services.orders, services.progress,
                             check_weight=config.station.check_weight)
    audit_worker = AuditWorker(services.audit())
    pharmacist_worker = PharmacistWorker(services.preparations(), services.sessions)
    threads = DeviceThreads()
    for worker in (balance_worker, camera_worker, ocr_worker, hood_worker, scanner_worker,
                   audit_worker, pharmacist_worker):
        if worker is not None:
            threads.add(worker)

    login = LoginPresenter(services.sessions, clock)
    demo_users = ([(a.user_id, a.password, a.role.value) for a in DEMO_ACCOUNTS]
                  if config.show_passwords else None)
    login_view = LoginView(login, demo_users=demo_users)
    worklist = WorklistPresenter(services.progress.to_make(()), formulary)
    prompts = DialogPrompts()
    presenter = PreparationPresenter(formulary, prompts, check_weight=config.station.check_weight,
                                     check_tolerance=config.station.check_tolerance,
                                     today=clock().date())
    preparation_view = PreparationView(presenter)

    demo = devices.demo_hood(formulary, today=clock().date(), seed=seed,
                             check_weight=config.station.check_weight)
    panel = DemoPanel(demo) if demo is not None else None
    window = StationWindow(login_view, worklist, preparation_view,
                           station_name=config.station.name or config.station.id,
                           side_panel=panel,
                           role_pages={Role.PHARMACIST: PharmacistPage(pharmacist_worker),
                                       Role.AUDITOR: AuditPage(audit_worker)})
    prompts.attach(window, presenter, hood_worker)
    scanner_filter = ScannerEventFilter()
    _wire(window, presenter, worklist, hood_worker, balance_worker, camera_worker,
          scanner_worker, scanner_filter, panel)
    presenter.printed_lot_read_requested.connect(ocr_worker.read_requested)
    ocr_worker.read_done.connect(presenter.on_printed_lot_read)
    app = QApplication.instance()
    if app is not None:
        app.installEventFilter(scanner_filter)
    station = Station(config, services, window, threads, hood_worker, balance_worker,
                      camera_worker, scanner_filter, presenter, devices, demo, scanner_worker,
                      ocr_worker)
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
            (presenter.check_requested, hood.check_requested),
            (presenter.printed_lot_offered, hood.printed_lot_offered),
            (presenter.printed_lot_confirmed, hood.printed_lot_confirmed),
            (presenter.lot_typed, hood.lot_typed),
            (presenter.set_aside_requested, hood.set_aside_requested),
            (presenter.print_label_requested, hood.print_label_requested),
            (presenter.keep_vial_requested, hood.keep_vial_requested),
            (presenter.discard_vial_requested, hood.discard_vial_requested)):
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
