"""The one place that builds the station's service graph from its configuration.

Everything that runs the station gets its services from here: the window (``ui/shell/app.py``),
the commands, the operational qualification, the record seeder and the compounding-record
export. So the site's rules (``[site] tolerance``), the station's id and the record it writes
to are read once, from the configuration, and nothing else writes them down again.

- :func:`open_services` opens the configured record (filling an empty demo record with the
  sample formulary, worklist and demo accounts) and builds :class:`StationServices` on it;
  :func:`services_on` builds them on a record opened otherwise (read-only commands open it
  without migrating).
- :meth:`StationServices.hood_session` is a hood session with everything a hood needs: the
  recall list and the opened vials every scan is checked against, the label desk (the label
  printer ``[labels]`` names, the beyond-use table) and the opened-vial desk (``[station]
  iso5``). Without a printer named, labels are written to a file beside an SQLite record
  (else in the data folder): the demo's printer.
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

from sqlalchemy import make_url

from scale_drivers.api import SerialSettings
from station.config.catalog_files import SAMPLE_DIR
from station.config.model import DEMO_LABEL_FILE, LabelsSection, StationConfig
from station.config.station_config import default_config_path, load_config
from station.core.acceptance import AcceptanceTracker
from station.core.bud import BudTable
from station.core.errors import StationError
from station.core.formulary import Formulary
from station.core.label import initials_of
from station.core.quantities import Tolerance
from station.demo.balance import SimulatedBalance, start_simulated_balance
from station.demo.camera import SimulatedCamera
from station.demo.camera_scene import Scene
from station.demo.content import ensure_demo_content
from station.demo.hood import DemoHood, SimulatorPlug
from station.devices.camera import CameraSource, FolderCamera, OpenCvCamera
from station.devices.labels import LabelSize
from station.devices.labels.printer import ZplPrinter
from station.records.database import data_dir
from station.records.formulary_versions import FormularyVersion, FormularyVersions
from station.records.opened_vials import OpenedVials
from station.records.order_book import OrderBook
from station.records.recalls import RecallList
from station.records.record import Record, open_record
from station.records.users import UserDirectory
from station.services.audit import AuditService
from station.services.hood import HoodSession
from station.services.labelling import LabelDesk, LabelPrinter
from station.services.opened_vial_use import VialDesk
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
    """The services of one station on one record, built from its configuration.

    ``label_printer`` prints the labels of the preparations and of kept vials.
    """

    config: StationConfig
    record: Record
    clock: Clock
    versions: FormularyVersions
    users: UserDirectory
    sessions: SessionManager
    orders: OrderBook
    progress: OrderProgress
    label_printer: LabelPrinter

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

    @property
    def files_dir(self) -> Path:
        """Where the station keeps files of its own: beside an SQLite record, else its data folder.

        A demo without a label printer writes its labels there.
        """
        return _files_dir(self.record)

    def bud_table(self) -> BudTable:
        """The USP <797> beyond-use table the station dates labels and opened vials with."""
        return BudTable.load()

    def opened_vials(self) -> OpenedVials:
        """The opened vials kept on the record."""
        return OpenedVials(self.record.engine, self.clock, self.bud_table())

    def label_desk(self, formulary: Formulary) -> LabelDesk:
        """The preparation labels, dated from the record, printed on the label printer."""
        return LabelDesk(formulary, self.bud_table(), self.label_printer, initials=self.initials)

    def vial_desk(self, formulary: Formulary) -> VialDesk:
        """The opened vials kept at this hood (in ISO Class 5 air or not: ``[station] iso5``)."""
        return VialDesk(self.opened_vials(), formulary, self.label_printer,
                        station_id=self.station_id, iso5=self.config.station.iso5,
                        initials=self.initials)

    def initials(self, user_id: str) -> str:
        """A user's initials as labels print them, from their printed name (else the id)."""
        user = self.users.get(user_id)
        return (initials_of(user.printed_name) if user is not None else "") or user_id

    def hood_session(self, formulary: Formulary) -> HoodSession:
        """A hood session at this station, with its label and opened-vial desks.

        Every scan is checked against the recall list and the opened vials.
        """
        return HoodSession(self.preparations(), formulary,
                           ScanEvents(self.recalls(), self.opened_vials()), AcceptanceTracker,
                           station_id=self.station_id, clock=self.clock,
                           balance_check_tolerance=self.config.station.check_tolerance,
                           labels=self.label_desk(formulary), vials=self.vial_desk(formulary))

    def close(self) -> None:
        """Close the record."""
        self.record.close()


def _files_dir(record: Record) -> Path:
    """Where the station keeps files of its own: beside an SQLite record, else its data folder."""
    url = make_url(record.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent
    return data_dir()


def services_on(record: Record, config: StationConfig | None = None, *,
                clock: Clock = local_now,
                label_printer: LabelPrinter | None = None) -> StationServices:
    """The services on an open ``record`` (the configuration's defaults if none is given).

    ``label_printer`` replaces the printer ``[labels]`` names (a qualification prints its
    labels to its own folder, never to the pharmacy's printer).
    """
    config = config or StationConfig()
    directory = UserDirectory(record.engine, clock)
    return StationServices(
        config=config, record=record, clock=clock, versions=FormularyVersions(record.engine),
        users=directory, sessions=SessionManager(directory),
        orders=OrderBook(record.engine, clock), progress=OrderProgress(record.events),
        label_printer=label_printer or configured_printer(config.labels, _files_dir(record)))


def configured_printer(labels: LabelsSection, files_dir: Path) -> ZplPrinter:
    """The printer ``[labels]`` names; without one, a file in ``files_dir`` (the demo's).

    The demo file's folder is made here.
    """
    if labels.printer is None:
        (files_dir / DEMO_LABEL_FILE).parent.mkdir(parents=True, exist_ok=True)
    return ZplPrinter(labels.printer_url(files_dir),
                      size=LabelSize.parse(labels.size, labels.dpi),
                      vial_size=LabelSize.parse(labels.vial_size, labels.dpi))


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
