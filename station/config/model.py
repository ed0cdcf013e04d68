"""What ``station.toml`` says, as values: one frozen section per table, and the defaults.

:class:`StationConfig` holds a :class:`StationSection`, :class:`SiteSection`,
:class:`RecordConfig`, :class:`BalanceConfig`, :class:`CameraConfig`, :class:`ScannerConfig`,
:class:`DataConfig` and :class:`LabelsSection`; every default is the demo (simulated balance
and camera, the embedded SQLite record, the sample formulary and worklist, labels "printed" to
a file in the data folder).
:func:`~station.config.station_config.load_config` reads and validates a file into one, and
:func:`~station.config.writer.write_config` writes one back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Final, Literal

from scale_drivers.api import Parity, SerialSettings
from scale_drivers.protocols import PROTOCOLS
from station.config import catalog_files
from station.core.quantities import Tolerance

#: The value of ``balance.port`` and ``camera.source`` that selects the built-in simulator.
SIMULATED: Final = "simulated"
DEFAULT_PROTOCOL: Final = "mt-sics"

#: What ``camera.source`` holds: the simulator, a device index, or a folder of images.
CameraSourceSpec = Literal["simulated"] | int | Path


@dataclass(frozen=True)
class RecordConfig:
    """``[record]``: where the record lives; ``url=None`` is the embedded SQLite file."""

    url: str | None = None

    @property
    def embedded(self) -> bool:
        """Whether the record is the embedded SQLite default."""
        return self.url is None


@dataclass(frozen=True)
class BalanceConfig:
    """``[balance]``: the port and protocol; serial fields left ``None`` take the protocol's.

    ``readability`` (grams) is for a balance that does not report its own (SBI, Ohaus, A&D);
    one that reports another is refused (:func:`station.services.hood.readability_to_use`).
    """

    port: str = SIMULATED
    protocol: str = DEFAULT_PROTOCOL
    baudrate: int | None = None
    bytesize: int | None = None
    parity: Parity | None = None
    stopbits: int | None = None
    expected_serial: str | None = None
    readability: Decimal | None = None

    @property
    def simulated(self) -> bool:
        """Whether the built-in simulated balance is used."""
        return self.port == SIMULATED

    @property
    def serial_settings(self) -> SerialSettings:
        """The protocol's factory settings with this file's overrides applied."""
        return with_overrides(
            PROTOCOLS[self.protocol].settings,
            baudrate=self.baudrate,
            bytesize=self.bytesize,
            parity=self.parity,
            stopbits=self.stopbits,
        )


@dataclass(frozen=True)
class CameraConfig:
    """``[camera]``: the simulator, a device index (0, 1 …) or a folder of still images."""

    source: CameraSourceSpec = SIMULATED
    fps: float = 15.0

    @property
    def simulated(self) -> bool:
        """Whether the built-in simulated camera is used."""
        return self.source == SIMULATED

    @property
    def device_index(self) -> int | None:
        """The camera device index, if the source is one."""
        return self.source if isinstance(self.source, int) else None

    @property
    def folder(self) -> Path | None:
        """The folder of images, if the source is one."""
        return self.source if isinstance(self.source, Path) else None


@dataclass(frozen=True)
class ScannerConfig:
    """``[scanner]``: a serial handheld scanner's port; ``None`` is keyboard-wedge only."""

    port: str | None = None
    baudrate: int = 9600

    @property
    def serial_settings(self) -> SerialSettings:
        """The settings to open ``port`` with."""
        return SerialSettings(baudrate=self.baudrate)


@dataclass(frozen=True)
class DataConfig:
    """``[data]``: the formulary and worklist files; ``None`` is the sample data."""

    formulary: Path | None = None
    worklist: Path | None = None

    @property
    def formulary_path(self) -> Path:
        """The formulary file to read (the sample when none is configured)."""
        return catalog_files.formulary_path(self.formulary)

    @property
    def worklist_path(self) -> Path:
        """The worklist file to read (the sample when none is configured)."""
        return catalog_files.worklist_path(self.worklist)


@dataclass(frozen=True)
class StationSection:
    """``[station]``: who this hood is, its daily balance check weight (grams), and its air.

    ``iso5`` says whether the hood is an ISO Class 5 primary engineering control: a vial first
    entered here keeps for USP <797>'s ISO Class 5 time (12 hours for a single-dose vial) and a
    pharmacy bulk package may be entered; when false, a single-dose vial keeps 1 hour and a
    pharmacy bulk package is refused.
    """

    id: str = "hood-1"
    name: str = ""
    check_weight: Decimal = Decimal("100.000")
    check_tolerance: Decimal | None = None
    iso5: bool = True


#: Label stocks: 4 x 3 in for a preparation, 2.25 x 1.25 in for an opened vial (mm).
DEFAULT_LABEL_SIZE: Final = "101.6x76.2"
DEFAULT_VIAL_LABEL_SIZE: Final = "57.15x31.75"
#: Resolutions Zebra printers come in.
LABEL_DPIS: Final = (152, 203, 300, 600)
#: The file the demo "prints" to, in the station's data folder, when no printer is set.
DEMO_LABEL_FILE: Final = Path("labels") / "last-label.zpl"


@dataclass(frozen=True)
class LabelsSection:
    """``[labels]``: the label printer and its stock.

    ``printer`` is ``tcp://HOST[:PORT]``, ``cups://QUEUE`` or ``file://PATH``; ``None`` writes
    each label's ZPL to a file in the data folder (:meth:`printer_url`). ``size`` and
    ``vial_size`` are ``WIDTHxHEIGHT`` in millimetres, ``dpi`` the printer's resolution.
    """

    printer: str | None = None
    size: str = DEFAULT_LABEL_SIZE
    vial_size: str = DEFAULT_VIAL_LABEL_SIZE
    dpi: int = 203

    def printer_url(self, data_dir: Path) -> str:
        """Where labels go: the configured printer, else a file in ``data_dir``."""
        if self.printer is not None:
            return self.printer
        return f"file://{(data_dir / DEMO_LABEL_FILE).absolute()}"


#: The site's dose tolerance when neither the order nor the product sets one: ±5 %, the
#: usual gravimetric acceptance limit in IV rooms. The only place this default is written.
DEFAULT_SITE_TOLERANCE: Final = Tolerance(Decimal("0.05"))
#: The widest site tolerance a configuration may set; wider would let a wrong dose through.
MAX_SITE_TOLERANCE: Final = Decimal("0.10")


@dataclass(frozen=True)
class SiteSection:
    """``[site]``: rules the pharmacy sets for every hood: the dose tolerance."""

    tolerance: Tolerance = DEFAULT_SITE_TOLERANCE


@dataclass(frozen=True)
class StationConfig:
    """Everything ``station.toml`` says; the defaults are the demo.

    ``demo_passwords`` is ``[demo] show_passwords`` as written: ``None`` (absent) means
    "only in the demo", see :attr:`show_passwords`.
    """

    station: StationSection = field(default_factory=StationSection)
    site: SiteSection = field(default_factory=SiteSection)
    record: RecordConfig = field(default_factory=RecordConfig)
    balance: BalanceConfig = field(default_factory=BalanceConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    scanner: ScannerConfig = field(default_factory=ScannerConfig)
    data: DataConfig = field(default_factory=DataConfig)
    labels: LabelsSection = field(default_factory=LabelsSection)
    demo_passwords: bool | None = None

    @property
    def demo(self) -> bool:
        """Whether this is the demo: both the balance and the camera are simulated."""
        return self.balance.simulated and self.camera.simulated

    @property
    def show_passwords(self) -> bool:
        """Whether the sign-in screen lists the demo accounts' passwords."""
        return self.demo if self.demo_passwords is None else self.demo_passwords



def with_overrides(
    settings: SerialSettings,
    *,
    baudrate: int | None = None,
    bytesize: int | None = None,
    parity: Parity | None = None,
    stopbits: int | None = None,
) -> SerialSettings:
    """``settings`` with each given field replaced (``None`` keeps the original)."""
    return SerialSettings(
        baudrate=settings.baudrate if baudrate is None else baudrate,
        bytesize=settings.bytesize if bytesize is None else bytesize,
        parity=settings.parity if parity is None else parity,
        stopbits=settings.stopbits if stopbits is None else stopbits,
        handshake=settings.handshake,
    )
