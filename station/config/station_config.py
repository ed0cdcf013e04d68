"""The station's configuration file (``station.toml``): what hardware, which database, which files.

Every key is optional; a missing file is the demo (simulated balance and camera, the embedded
SQLite record, the sample formulary and worklist). Anything the station does not understand
(an unknown table or key, a wrong type, a bad value) is refused with a :class:`ConfigError`
that names the file, the dotted key and what was expected. Relative paths are read against
the file's own folder. ``docs/configuration.md`` describes every key.

>>> config = load_config(None)
>>> config.demo, config.balance.protocol, config.camera.fps
(True, 'mt-sics', 15.0)
>>> config_from_mapping({"balance": {"port": "/dev/ttyUSB0", "baudrate": 19200}}).demo
False
>>> config_from_mapping({"balance": {"protocol": "foo"}}, source="station.toml")
Traceback (most recent call last):
...
station.config.ConfigError: station.toml: balance.protocol: unknown protocol 'foo'; \
expected one of mt-sics, sbi, ohaus, and
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import stat
import tempfile
import textwrap
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final, Literal, TypeVar

import platformdirs

from scale_drivers.api import Parity, SerialSettings
from scale_drivers.protocols import PROTOCOLS
from station.config import catalog_files
from station.core.errors import StationError

APP_NAME: Final = "iv-station"
#: The environment variable that names the configuration file.
CONFIG_VARIABLE: Final = "STATION_CONFIG"
#: The value of ``balance.port`` and ``camera.source`` that selects the built-in simulator.
SIMULATED: Final = "simulated"
DEFAULT_PROTOCOL: Final = "mt-sics"

#: What ``camera.source`` holds: the simulator, a device index, or a folder of images.
CameraSourceSpec = Literal["simulated"] | int | Path

#: pyserial's URL handlers (``socket://host:port`` and friends).
_PORT_URL_SCHEMES: Final = ("socket", "rfc2217", "loop", "spy", "alt", "hwgrep", "cp2110")
_STATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_DATABASE_URL = re.compile(r"(?P<scheme>sqlite|postgresql(?:\+psycopg)?)://(?P<rest>.*)", re.S)
_PARITIES: Final = {"none": Parity.NONE, "even": Parity.EVEN, "odd": Parity.ODD}
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")


class ConfigError(StationError):
    """A configuration that cannot be used; the message names the file, the key and the fix."""

    def __init__(self, source: str, key: str | None, problem: str) -> None:
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(where + problem)
        self.source = source
        self.key = key
        self.problem = problem


# ---------------------------------------------------------------- the configuration


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
        return _with_overrides(
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
    """``[station]``: who this hood is and its daily balance check weight (grams)."""

    id: str = "hood-1"
    name: str = ""
    check_weight: Decimal = Decimal("100.000")
    check_tolerance: Decimal | None = None


@dataclass(frozen=True)
class StationConfig:
    """Everything ``station.toml`` says; the defaults are the demo.

    ``demo_passwords`` is ``[demo] show_passwords`` as written: ``None`` (absent) means
    "only in the demo", see :attr:`show_passwords`.
    """

    station: StationSection = field(default_factory=StationSection)
    record: RecordConfig = field(default_factory=RecordConfig)
    balance: BalanceConfig = field(default_factory=BalanceConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    scanner: ScannerConfig = field(default_factory=ScannerConfig)
    data: DataConfig = field(default_factory=DataConfig)
    demo_passwords: bool | None = None

    @property
    def demo(self) -> bool:
        """Whether this is the demo: both the balance and the camera are simulated."""
        return self.balance.simulated and self.camera.simulated

    @property
    def show_passwords(self) -> bool:
        """Whether the sign-in screen lists the demo accounts' passwords."""
        return self.demo if self.demo_passwords is None else self.demo_passwords


# ---------------------------------------------------------------- reading


def default_config_path() -> Path:
    """``$STATION_CONFIG`` if set, else ``station.toml`` in the user's configuration folder."""
    from_environment = os.environ.get(CONFIG_VARIABLE)
    if from_environment:
        return Path(from_environment)
    return platformdirs.user_config_path(APP_NAME) / "station.toml"


def load_config(path: Path | None) -> StationConfig:
    """Read ``path``; ``None`` or a missing file gives the defaults (the demo)."""
    if path is None:
        return StationConfig()
    source = str(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return StationConfig()
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(source, None, f"not valid TOML: {error}") from None
    except OSError as error:
        raise ConfigError(source, None, f"cannot read: {error.strerror or error}") from None
    return config_from_mapping(data, source=source, base=path.absolute().parent)


def config_from_mapping(
    data: Mapping[str, object],
    *,
    source: str = "station.toml",
    base: Path | None = None,
) -> StationConfig:
    """Validate a parsed TOML document; ``base`` is the folder relative paths start from.

    This is the one validation of a configuration: :func:`load_config` and the settings
    dialog both go through it.
    """
    reader = _Reader(source, (base or Path.cwd()).absolute())
    _check_keys(reader, data, None, tuple(_TABLES))
    tables = {name: reader.table(data, name) for name in _TABLES}
    for name, table in tables.items():
        _check_keys(reader, table, name, _TABLES[name])
    return StationConfig(
        station=StationSection(
            id=reader.station_id(tables["station"]),
            name=reader.text(tables["station"], "station", "name", ""),
            check_weight=reader.grams(tables["station"], "station.check_weight", optional=False)
            or StationSection.check_weight,
            check_tolerance=reader.grams(tables["station"], "station.check_tolerance"),
        ),
        record=RecordConfig(url=reader.database_url(tables["record"])),
        balance=reader.balance(tables["balance"]),
        camera=CameraConfig(
            source=reader.camera_source(tables["camera"]),
            fps=reader.fps(tables["camera"]),
        ),
        scanner=ScannerConfig(
            port=reader.optional_text(
                tables["scanner"], "scanner", "port", "a serial port in quotes"
            ),
            baudrate=reader.scanner_baudrate(tables["scanner"]),
        ),
        data=DataConfig(
            formulary=reader.path(tables["data"], "data", "formulary"),
            worklist=reader.path(tables["data"], "data", "worklist"),
        ),
        demo_passwords=reader.flag(tables["demo"], "demo", "show_passwords"),
    )


_TABLES: Final[dict[str, tuple[str, ...]]] = {
    "station": ("id", "name", "check_weight", "check_tolerance"),
    "record": ("url",),
    "balance": ("port", "protocol", "baudrate", "bytesize", "parity", "stopbits",
                "expected_serial", "readability"),
    "camera": ("source", "fps"),
    "scanner": ("port", "baudrate"),
    "data": ("formulary", "worklist"),
    "demo": ("show_passwords",),
}


def _check_keys(
    reader: _Reader, mapping: Mapping[str, object], table: str | None, known: tuple[str, ...]
) -> None:
    for key in mapping:
        if key not in known:
            what = "table" if table is None else "key"
            raise reader.error(
                key if table is None else f"{table}.{key}",
                f"unknown {what}; expected one of {', '.join(known)}",
            )


def _describe(value: object) -> str:  # noqa: PLR0911 (one answer per TOML type)
    """A TOML value in words, for "expected …, got …"."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return "an empty string" if not value else f"the string {value!r}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value!r}"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dt.date | dt.time):
        return f"the date/time {value.isoformat()}"
    return f"a {type(value).__name__}"


_T = TypeVar("_T")


class _Reader:
    """Reads one document's values, raising :class:`ConfigError` with the file's name."""

    def __init__(self, source: str, base: Path) -> None:
        self.source = source
        self.base = base

    def error(self, key: str | None, problem: str) -> ConfigError:
        return ConfigError(self.source, key, problem)

    def expected(self, key: str, what: str, value: object) -> ConfigError:
        return self.error(key, f"expected {what}, got {_describe(value)}")

    def table(self, data: Mapping[str, object], name: str) -> Mapping[str, object]:
        value = data.get(name, {})
        if not isinstance(value, Mapping):
            raise self.expected(name, f"a table [{name}]", value)
        return value

    def typed(
        self,
        table: Mapping[str, object],
        key: str,
        check: Callable[[object], bool],
        what: str,
        dotted: str,
    ) -> object | None:
        value = table.get(key)
        if value is not None and not check(value):
            raise self.expected(dotted, what, value)
        return value

    # -- plain values

    def text(
        self, table: Mapping[str, object], name: str, key: str, default: str,
        what: str = "a string",
    ) -> str:
        value = self.typed(table, key, _is_str, what, f"{name}.{key}")
        return default if value is None else str(value)

    def optional_text(
        self, table: Mapping[str, object], name: str, key: str, what: str = "a string"
    ) -> str | None:
        """A string with its outer blanks removed; absent or blank is ``None``."""
        value = self.text(table, name, key, "", what).strip()
        return value or None

    def integer(self, table: Mapping[str, object], dotted: str, what: str) -> int | None:
        value = self.typed(table, dotted.rpartition(".")[2], _is_str_or_int, what, dotted)
        if isinstance(value, str):
            if not _INTEGER_TEXT.fullmatch(value.strip()):
                raise self.expected(dotted, what, value)
            return int(value)
        return value if isinstance(value, int) else None

    def flag(self, table: Mapping[str, object], name: str, key: str) -> bool | None:
        value = self.typed(table, key, _is_bool, "true or false", f"{name}.{key}")
        return None if value is None else bool(value)

    def path(self, table: Mapping[str, object], name: str, key: str) -> Path | None:
        text = self.optional_text(table, name, key, "a file path in quotes")
        return None if text is None else self.resolve(text)

    def resolve(self, text: str) -> Path:
        path = Path(text).expanduser()
        return path if path.is_absolute() else self.base / path

    # -- [station]

    def station_id(self, table: Mapping[str, object]) -> str:
        value = self.text(table, "station", "id", "hood-1")
        if not _STATION_ID.fullmatch(value):
            raise self.error(
                "station.id",
                f"{value!r} is not a station id; expected 1 to 64 letters, digits, '.', '_' "
                "or '-', starting with a letter or digit",
            )
        return value

    def grams(
        self, table: Mapping[str, object], dotted: str, *, optional: bool = True,
        example: str = "100.000",
    ) -> Decimal | None:
        """Grams written as a string (or an integer); an empty string is "absent" if optional."""
        what = f'a number of grams in quotes, such as "{example}"'
        value = self.typed(table, dotted.rpartition(".")[2], _is_str_or_int, what, dotted)
        if value is None or (optional and isinstance(value, str) and not value.strip()):
            return None
        try:
            grams = Decimal(str(value).strip())
        except InvalidOperation:
            raise self.expected(dotted, what, value) from None
        if not grams.is_finite() or grams <= 0:
            raise self.error(dotted, f"expected more than 0 g, got {value!r}")
        return grams

    # -- [record]

    def database_url(self, table: Mapping[str, object]) -> str | None:
        url = self.optional_text(table, "record", "url", "a database URL in quotes")
        if url is None:
            return None
        match = _DATABASE_URL.fullmatch(url)
        if match is None:
            raise self.error(
                "record.url",
                f"{url!r} is not a database URL the station can use; expected "
                "sqlite:///PATH or postgresql+psycopg://USER@HOST/DATABASE",
            )
        if match["scheme"] != "sqlite":
            return url
        # sqlite:///relative.db is relative to the working folder: make it the file's.
        database, query_mark, query = match["rest"].removeprefix("/").partition("?")
        if not database or database == ":memory:" or Path(database).is_absolute():
            return url
        return f"sqlite:///{self.resolve(database)}{query_mark}{query}"

    # -- [balance]

    def balance(self, table: Mapping[str, object]) -> BalanceConfig:
        port = self.text(table, "balance", "port", SIMULATED, "a serial port in quotes").strip()
        if not port:
            raise self.expected(
                "balance.port",
                '"simulated" or a serial port such as /dev/ttyUSB0, COM3 or socket://host:4001',
                port,
            )
        scheme, separator, _ = port.partition("://")
        if separator and scheme.lower() not in _PORT_URL_SCHEMES:
            raise self.error(
                "balance.port",
                f"unknown port URL scheme {scheme!r}; expected a device such as /dev/ttyUSB0 "
                f"or COM3, or a URL starting with one of {', '.join(_PORT_URL_SCHEMES)}",
            )
        protocol = self.text(table, "balance", "protocol", DEFAULT_PROTOCOL).strip()
        if protocol not in PROTOCOLS:
            raise self.error(
                "balance.protocol",
                f"unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}",
            )
        baudrate = self.integer(table, "balance.baudrate", "an integer such as 9600")
        bytesize = self.integer(table, "balance.bytesize", "7 or 8")
        stopbits = self.integer(table, "balance.stopbits", "1 or 2")
        parity = self.parity(table)
        factory = PROTOCOLS[protocol].settings
        self.serial("balance.baudrate", lambda: _with_overrides(factory, baudrate=baudrate))
        self.serial("balance.bytesize", lambda: _with_overrides(factory, bytesize=bytesize))
        self.serial("balance.stopbits", lambda: _with_overrides(factory, stopbits=stopbits))
        return BalanceConfig(
            port=port,
            protocol=protocol,
            baudrate=baudrate,
            bytesize=bytesize,
            parity=parity,
            stopbits=stopbits,
            expected_serial=self.optional_text(table, "balance", "expected_serial"),
            readability=self.grams(table, "balance.readability", example="0.01"),
        )

    def parity(self, table: Mapping[str, object]) -> Parity | None:
        text = self.optional_text(table, "balance", "parity")
        if text is None:
            return None
        by_letter = {parity.value.lower(): parity for parity in Parity}
        chosen = _PARITIES.get(text.lower()) or by_letter.get(text.lower())
        if chosen is None:
            raise self.error(
                "balance.parity",
                f"unknown parity {text!r}; expected one of {', '.join(_PARITIES)}",
            )
        return chosen

    def serial(self, dotted: str, build: Callable[[], SerialSettings]) -> SerialSettings:
        """Let :class:`SerialSettings` judge a value; its words become the key's problem."""
        try:
            return build()
        except ValueError as error:
            raise self.error(dotted, str(error)) from None

    # -- [camera] and [scanner]

    def camera_source(self, table: Mapping[str, object]) -> CameraSourceSpec:
        what = '"simulated", a device index such as 0, or a folder of images'
        value = self.typed(table, "source", _is_str_or_int, what, "camera.source")
        if value is None:
            return SIMULATED
        text = str(value).strip()
        if not text:
            raise self.expected("camera.source", what, value)
        if text == SIMULATED:
            return SIMULATED
        if _INTEGER_TEXT.fullmatch(text):
            index = int(text)
            if index < 0:
                raise self.error(
                    "camera.source", f"expected a device index of 0 or more, got {index}"
                )
            return index
        return self.resolve(text)

    def fps(self, table: Mapping[str, object]) -> float:
        what = "a number of frames per second above 0, such as 15"
        value = self.typed(table, "fps", _is_number, what, "camera.fps")
        if value is None:
            return CameraConfig.fps
        fps = float(str(value))
        if not math.isfinite(fps) or fps <= 0:
            raise self.expected("camera.fps", what, value)
        return fps

    def scanner_baudrate(self, table: Mapping[str, object]) -> int:
        baudrate = self.integer(table, "scanner.baudrate", "an integer such as 9600")
        if baudrate is None:
            return ScannerConfig.baudrate
        self.serial("scanner.baudrate", lambda: SerialSettings(baudrate=baudrate))
        return baudrate


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _is_str_or_int(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _with_overrides(
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


# ---------------------------------------------------------------- writing

_HEADER = """\
# IV compounding station configuration.
# Every key is optional: a key left out (or commented out with "#") takes the default
# shown. Relative paths are read against this file's folder. The station reads this file
# when it starts: restart it after a change. Reference: docs/configuration.md
"""


def to_toml(config: StationConfig) -> str:
    """A commented TOML document that :func:`load_config` reads back as ``config``."""
    balance = config.balance
    factory = PROTOCOLS[balance.protocol].settings
    parity_names = {parity: name for name, parity in _PARITIES.items()}
    lines = [_HEADER.rstrip("\n")]

    def table(name: str, comment: str) -> None:
        lines.extend(["", "", *_comment(comment), f"[{name}]"])

    def key(name: str, value: str | None, comment: str, example: str) -> None:
        lines.extend(["", *_comment(comment)])
        lines.append(f"{name} = {value}" if value is not None else f"# {name} = {example}")

    table("station", "This hood.")
    station = config.station
    key("id", _string(station.id),
        "Short id recorded with every event and photo: letters, digits, '.', '_', '-'.",
        '"hood-1"')
    key("name", _string(station.name), "Free text shown on the screen.", '"Cleanroom 2, left"')
    key("check_weight", _string(str(station.check_weight)),
        "Daily balance check weight, in grams, in quotes so no digit is lost.", '"100.000"')
    key("check_tolerance", _optional(station.check_tolerance, lambda v: _string(str(v))),
        "Largest allowed check deviation in grams. Left out: the larger of 0.1 % of the "
        "weight and 2 × the balance's readability.", '"0.050"')

    table("record", "Where the record (events, signatures, photos) is kept.")
    key("url", _optional(config.record.url, _string),
        "Database URL. Left out: the embedded SQLite file in the user's data folder. "
        "Shared server: postgresql+psycopg://USER@HOST/DATABASE",
        '"postgresql+psycopg://station@db.pharmacy.example/ivstation"')

    table("balance", "The analytical balance.")
    key("port", _string(balance.port),
        '"simulated", or the serial port: /dev/ttyUSB0, COM3, socket://host:4001', '"/dev/ttyUSB0"')
    key("protocol", _string(balance.protocol),
        f"One of: {', '.join(f'{n} ({s.title})' for n, s in PROTOCOLS.items())}.", '"mt-sics"')
    serial_note = f"Left out: the {balance.protocol} factory setting shown."
    key("baudrate", _optional(balance.baudrate, str), f"Baud rate. {serial_note}",
        str(factory.baudrate))
    key("bytesize", _optional(balance.bytesize, str), f"Data bits, 7 or 8. {serial_note}",
        str(factory.bytesize))
    key("parity", _optional(balance.parity, lambda p: _string(parity_names[p])),
        f"Parity: none, even or odd. {serial_note}", _string(parity_names[factory.parity]))
    key("stopbits", _optional(balance.stopbits, str), f"Stop bits, 1 or 2. {serial_note}",
        str(factory.stopbits))
    key("expected_serial", _optional(balance.expected_serial, _string),
        "Refuse a balance reporting any other serial number. Left out: accept any.",
        '"B936102145"')
    key("readability", _optional(balance.readability, lambda v: _string(str(v))),
        "The balance's readability d in grams, for a balance that does not report it "
        "(sbi, ohaus, and). A balance reporting another one is refused. Left out: the "
        "balance must report it (mt-sics does).", '"0.01"')

    table("camera", "The camera over the hood.")
    source = config.camera.source
    key("source", str(source) if isinstance(source, int) else _string(str(source)),
        '"simulated", a device index such as 0, or a folder of images.', "0")
    key("fps", repr(config.camera.fps), "Frames per second.", "15.0")

    table("scanner", "A handheld barcode scanner. Keyboard-wedge scanners need nothing here.")
    key("port", _optional(config.scanner.port, _string),
        "Serial port of a serial (USB CDC or RS-232) scanner. Left out: keyboard wedge only.",
        '"/dev/ttyACM0"')
    key("baudrate", str(config.scanner.baudrate), "The serial scanner's baud rate.", "9600")

    table("data", "The formulary and the worklist. Left out: the sample files.")
    key("formulary", _optional(config.data.formulary, lambda p: _string(str(p))),
        "Formulary file (TOML).", '"formulary.toml"')
    key("worklist", _optional(config.data.worklist, lambda p: _string(str(p))),
        "Worklist file (TOML).", '"worklist.toml"')

    table("demo", "Demonstration aids.")
    key("show_passwords", _optional(config.demo_passwords, lambda b: str(b).lower()),
        "List the demo accounts and passwords on the sign-in screen. Left out: only when "
        "the balance and the camera are both simulated.", "false")
    return "\n".join(lines) + "\n"


def write_config(config: StationConfig, path: Path) -> None:
    """Write ``config`` to ``path`` atomically, creating its folder; refuses what won't load.

    The text goes to a temporary file in the same folder, is flushed to disk, then replaces
    ``path`` in one step: a crash leaves the old file or the new one, never half of one.
    """
    text = to_toml(config)
    source = str(path)
    reread = config_from_mapping(tomllib.loads(text), source=source,
                                 base=path.absolute().parent)
    if reread != config:
        raise ConfigError(source, None, "this configuration would not read back the same")
    temporary: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else None
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.",
            suffix=".tmp", delete=False,
        ) as handle:
            temporary = Path(handle.name)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
        temporary = None
        _sync_folder(path.parent)
    except OSError as error:
        raise ConfigError(source, None, f"cannot write: {error.strerror or error}") from None
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX; Windows has no directory handles)."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, width=88, initial_indent="# ", subsequent_indent="# ",
                         break_on_hyphens=False, break_long_words=False)


def _optional(value: _T | None, render: Callable[[_T], str]) -> str | None:
    return None if value is None else render(value)


_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n",
                   "\f": "\\f", "\r": "\\r"}


def _string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'
