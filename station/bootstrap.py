"""The one place that builds the station's service graph from its configuration.

Everything that runs the station gets its services from here: the window (``ui/shell/app.py``),
the commands, the operational qualification, the record seeder and the compounding-record
export. So the site's rules (``[site] tolerance``), the station's id and the record it writes
to are read once, from the configuration, and nothing else writes them down again.

- :func:`open_services` opens the configured record (filling an empty demo record with the
  sample formulary, worklist and demo accounts) and builds :class:`StationServices` on it;
  :func:`services_on` builds them on a record opened otherwise (read-only commands open it
  without migrating).
- :func:`open_devices` is the hood's hardware as the configuration names it: the balance's
  port and serial settings, the camera source. In the demo they are the balance simulator on
  a pseudo-terminal and the simulated camera: this module's demo wiring is the only way code
  that runs at a real hood reaches :mod:`station.demo`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from scale_drivers.api import SerialSettings
from station.config.catalog_files import SAMPLE_DIR
from station.config.model import StationConfig
from station.config.station_config import default_config_path, load_config
from station.core.acceptance import AcceptanceTracker
from station.core.errors import StationError
from station.core.formulary import Formulary
from station.core.quantities import Tolerance
from station.demo.balance import SimulatedBalance, start_simulated_balance
from station.demo.camera import SimulatedCamera
from station.demo.camera_scene import Scene
from station.demo.content import ensure_demo_content
from station.demo.hood import DemoHood, SimulatorPlug
from station.devices.camera import CameraSource, FolderCamera, OpenCvCamera
from station.records.formulary_versions import FormularyVersion, FormularyVersions
from station.records.order_book import OrderBook
from station.records.recalls import RecallList
from station.records.record import Record, open_record
from station.records.users import UserDirectory
from station.services.audit import AuditService
from station.services.hood import HoodSession
from station.services.order_progress import OrderProgress
from station.services.preparations import PreparationService
from station.services.scan_events import ScanEvents
from station.services.sessions import SessionManager

Clock = Callable[[], dt.datetime]

#: The demo balance's noise, settling and drift (a 1,220 g × 1 mg analytical balance).
DEMO_SCENARIO = SAMPLE_DIR / "scenarios" / "hood_demo.toml"


class NoFormulary(StationError):
    """The record holds no formulary yet, so nothing can be prepared."""

    def __init__(self) -> None:
        super().__init__("no formulary has been imported into the record: import one with "
                         "`station formulary import FILE` first")


def load_station_config(path: Path | None = None) -> StationConfig:
    """``path``, else ``$STATION_CONFIG``, else the user's ``station.toml``; none is the demo."""
    return load_config(path if path is not None else default_config_path())


def local_now() -> dt.datetime:
    """The time now with the site's UTC offset (the hood's clock)."""
    return dt.datetime.now().astimezone()


@dataclass
class StationServices:
    """The services of one station on one record, built from its configuration."""

    config: StationConfig
    record: Record
    clock: Clock
    versions: FormularyVersions
    users: UserDirectory
    sessions: SessionManager
    orders: OrderBook
    progress: OrderProgress

    @property
    def station_id(self) -> str:
        """``[station] id``: recorded with every event and photo."""
        return self.config.station.id

    @property
    def site_tolerance(self) -> Tolerance:
        """``[site] tolerance``: a dose's band when neither order nor product sets one."""
        return self.config.site.tolerance

    def preparations(self) -> PreparationService:
        """A preparation service making preparations to the site tolerance."""
        return PreparationService(self.record, station_id=self.station_id,
                                  site_tolerance=self.site_tolerance, clock=self.clock)

    def reader(self) -> PreparationService:
        """A preparation service that only reads (each preparation's own tolerance)."""
        return PreparationService(self.record, station_id=self.station_id,
                                  site_tolerance=None, clock=self.clock)

    def audit(self) -> AuditService:
        """The auditor's reading of the record: chain check, search, replay."""
        return AuditService(self.record)

    def latest_formulary(self) -> FormularyVersion:
        """The formulary version in use; :class:`NoFormulary` if none was imported."""
        version = self.versions.latest()
        if version is None:
            raise NoFormulary
        return version

    def recalls(self) -> RecallList:
        """The pharmacy's recall list."""
        return RecallList(self.record.engine, self.clock)

    def hood_session(self, formulary: Formulary) -> HoodSession:
        """A hood session at this station, checking every scan against the recall list."""
        return HoodSession(self.preparations(), formulary, ScanEvents(self.recalls()),
                           AcceptanceTracker, station_id=self.station_id, clock=self.clock,
                           balance_check_tolerance=self.config.station.check_tolerance)

    def close(self) -> None:
        """Close the record."""
        self.record.close()


def services_on(record: Record, config: StationConfig | None = None, *,
                clock: Clock = local_now) -> StationServices:
    """The services on an open ``record`` (the configuration's defaults if none is given)."""
    config = config or StationConfig()
    directory = UserDirectory(record.engine, clock)
    return StationServices(
        config=config, record=record, clock=clock, versions=FormularyVersions(record.engine),
        users=directory, sessions=SessionManager(directory),
        orders=OrderBook(record.engine, clock), progress=OrderProgress(record.events))


def open_services(config: StationConfig, *, clock: Clock = local_now,
                  url: str | None = None) -> StationServices:
    """Open the configured record (or ``url``) and build the services on it.

    An empty demo record gets the sample formulary, worklist and demo accounts.
    """
    record = open_record(url if url is not None else config.record.url)
    try:
        if config.demo:
            ensure_demo_content(record, clock)
        return services_on(record, config, clock=clock)
    except BaseException:
        record.close()
        raise


# ---------------------------------------------------------------- the hood's devices


@dataclass
class HoodDevices:
    """The balance's port and settings, and the camera, as the configuration names them."""

    balance_url: str
    balance_settings: SerialSettings | None
    camera: CameraSource
    simulated_balance: SimulatedBalance | None = None

    def demo_hood(self, formulary: Formulary, *, today: dt.date, seed: int,
                  check_weight: Decimal) -> DemoHood | None:
        """The simulated hood's physical world over these devices, when they are simulated."""
        if self.simulated_balance is None or not isinstance(self.camera, SimulatedCamera):
            return None
        simulator = self.simulated_balance.simulator
        return DemoHood(simulator.balance, SimulatorPlug(simulator), self.camera, formulary,
                        today=today, seed=seed, check_weight=check_weight)

    def close(self) -> None:
        """Stop the simulated balance, if there is one (the workers close the ports)."""
        if self.simulated_balance is not None:
            self.simulated_balance.stop()
            self.simulated_balance = None


def open_devices(config: StationConfig, *, seed: int = 0) -> HoodDevices:
    """The configured balance port and camera; in the demo, start the simulators."""
    camera = _camera(config, seed)
    if not config.balance.simulated:
        return HoodDevices(config.balance.port, config.balance.serial_settings, camera)
    simulated = start_simulated_balance(config.balance.protocol, DEMO_SCENARIO, seed=seed)
    return HoodDevices(simulated.url, simulated.settings, camera, simulated)


def _camera(config: StationConfig, seed: int) -> CameraSource:
    camera = config.camera
    if camera.simulated:
        return SimulatedCamera(Scene(), fps=camera.fps, seed=seed)
    if camera.device_index is not None:
        return OpenCvCamera(camera.device_index)
    assert camera.folder is not None
    return FolderCamera(camera.folder, fps=camera.fps)
