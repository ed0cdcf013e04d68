"""Reading the station's configuration file (``station.toml``): parse, validate, refuse.

:func:`load_config` reads the file into a :class:`~station.config.model.StationConfig` (what
hardware, which database, which files); :func:`config_from_mapping` is the one validation, which
the settings dialog and :mod:`station.config.writer` go through too. Every key is optional; a
missing file is the demo (simulated balance and camera, the embedded SQLite record, the sample
formulary and worklist). Anything the station does not understand (an unknown table or key, a
wrong type, a bad value) is refused with a :class:`ConfigError` that names the file, the dotted
key and what was expected. Relative paths are read against the file's own folder.
``docs/configuration.md`` describes every key.

>>> config = load_config(None)
>>> config.demo, config.balance.protocol, config.camera.fps
(True, 'mt-sics', 15.0)
>>> config_from_mapping({"balance": {"port": "/dev/ttyUSB0", "baudrate": 19200}}).demo
False
>>> config_from_mapping({"balance": {"protocol": "foo"}}, source="station.toml")
Traceback (most recent call last):
...
station.config.station_config.ConfigError: station.toml: balance.protocol: unknown protocol 'foo'; \
expected one of mt-sics, sbi, ohaus, and
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final

import platformdirs

from scale_drivers.api import Parity, SerialSettings
from scale_drivers.protocols import PROTOCOLS
from station.config.model import (
    DEFAULT_PROTOCOL,
    DEFAULT_SITE_TOLERANCE,
    LABEL_DPIS,
    MAX_SITE_TOLERANCE,
    SIMULATED,
    BalanceConfig,
    CameraConfig,
    CameraSourceSpec,
    DataConfig,
    LabelsSection,
    RecordConfig,
    ScannerConfig,
    SiteSection,
    StationConfig,
    StationSection,
    with_overrides,
)
from station.core.errors import StationError
from station.core.quantities import Tolerance

APP_NAME: Final = "iv-station"
#: The environment variable that names the configuration file.
CONFIG_VARIABLE: Final = "STATION_CONFIG"
#: The words ``balance.parity`` may hold (its one-letter names are read too).
PARITIES: Final = {"none": Parity.NONE, "even": Parity.EVEN, "odd": Parity.ODD}

#: pyserial's URL handlers (``socket://host:port`` and friends).
_PORT_URL_SCHEMES: Final = ("socket", "rfc2217", "loop", "spy", "alt", "hwgrep", "cp2110")
_STATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_DATABASE_URL = re.compile(r"(?P<scheme>sqlite|postgresql(?:\+psycopg)?)://(?P<rest>.*)", re.S)
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_LABEL_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*[xX×]\s*([0-9]+(?:\.[0-9]+)?)\s*(?:mm)?\s*")
_PRINTER = re.compile(r"(?P<scheme>tcp|cups|file)://(?P<rest>.+)", re.I)
_HOST_PORT = re.compile(r"\[?[A-Za-z0-9._:-]+?\]?(?::(?P<port>[0-9]{1,5}))?")
_CUPS_QUEUE = re.compile(r"[A-Za-z0-9_.@][A-Za-z0-9_.@-]*")


class ConfigError(StationError):
    """A configuration that cannot be used; the message names the file, the key and the fix."""

    def __init__(self, source: str, key: str | None, problem: str) -> None:
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(where + problem)
        self.source = source
        self.key = key
        self.problem = problem


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
            iso5=_default(reader.flag(tables["station"], "station", "iso5"), True),
        ),
        site=SiteSection(tolerance=reader.tolerance(tables["site"])),
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
        labels=reader.labels(tables["labels"]),
        demo_passwords=reader.flag(tables["demo"], "demo", "show_passwords"),
    )


def _default(value: bool | None, default: bool) -> bool:
    return default if value is None else value


_TABLES: Final[dict[str, tuple[str, ...]]] = {
    "station": ("id", "name", "check_weight", "check_tolerance", "iso5"),
    "site": ("tolerance",),
    "record": ("url",),
    "balance": ("port", "protocol", "baudrate", "bytesize", "parity", "stopbits",
                "expected_serial", "readability"),
    "camera": ("source", "fps"),
    "scanner": ("port", "baudrate"),
    "data": ("formulary", "worklist"),
    "labels": ("printer", "size", "vial_size", "dpi"),
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

    # -- [site]

    def tolerance(self, table: Mapping[str, object]) -> Tolerance:
        what = 'a percentage in quotes, such as "5%"'
        value = self.typed(table, "tolerance", _is_str, what, "site.tolerance")
        if value is None or not str(value).strip():
            return DEFAULT_SITE_TOLERANCE
        try:
            tolerance = Tolerance.parse(str(value))
        except StationError as error:
            raise self.error("site.tolerance", str(error)) from None
        if tolerance.fraction > MAX_SITE_TOLERANCE:
            raise self.error(
                "site.tolerance",
                f"{tolerance} is wider than the ±{MAX_SITE_TOLERANCE * 100:.0f}% a site may "
                "set: a wrong dose would pass",
            )
        return tolerance

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
        self.serial("balance.baudrate", lambda: with_overrides(factory, baudrate=baudrate))
        self.serial("balance.bytesize", lambda: with_overrides(factory, bytesize=bytesize))
        self.serial("balance.stopbits", lambda: with_overrides(factory, stopbits=stopbits))
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
        chosen = PARITIES.get(text.lower()) or by_letter.get(text.lower())
        if chosen is None:
            raise self.error(
                "balance.parity",
                f"unknown parity {text!r}; expected one of {', '.join(PARITIES)}",
            )
        return chosen

    def serial(self, dotted: str, build: Callable[[], SerialSettings]) -> SerialSettings:
        """Let :class:`SerialSettings` judge a value; its words become the key's problem."""
        try:
            return build()
        except ValueError as error:
            raise self.error(dotted, str(error)) from None

    # -- [labels]

    def labels(self, table: Mapping[str, object]) -> LabelsSection:
        size = self.label_size(table, "size", LabelsSection.size)
        vial_size = self.label_size(table, "vial_size", LabelsSection.vial_size)
        dpi = self.integer(table, "labels.dpi", "152, 203, 300 or 600")
        if dpi is not None and dpi not in LABEL_DPIS:
            raise self.error("labels.dpi",
                             f"expected 152, 203, 300 or 600 dots per inch, got {dpi}")
        return LabelsSection(printer=self.printer(table), size=size, vial_size=vial_size,
                             dpi=LabelsSection.dpi if dpi is None else dpi)

    def printer(self, table: Mapping[str, object]) -> str | None:
        what = "tcp://HOST:9100, cups://QUEUE or file://PATH"
        text = self.optional_text(table, "labels", "printer", f"{what} in quotes")
        if text is None:
            return None
        match = _PRINTER.fullmatch(text)
        if match is None:
            raise self.error("labels.printer", f"{text!r} is not a printer; expected {what}")
        scheme, rest = match["scheme"].lower(), match["rest"]
        if scheme == "file":
            return f"file://{self.resolve(rest)}"
        if scheme == "cups":
            if _CUPS_QUEUE.fullmatch(rest.strip("/")) is None:
                raise self.error("labels.printer", f"{rest!r} is not a CUPS queue name")
            return f"cups://{rest.strip('/')}"
        host = _HOST_PORT.fullmatch(rest.rstrip("/"))
        if host is None or (host["port"] and not 1 <= int(host["port"]) <= 65535):
            raise self.error("labels.printer",
                             f"{text!r}: expected tcp://HOST or tcp://HOST:PORT, port 1 to 65535")
        return f"tcp://{rest.rstrip('/')}"

    def label_size(self, table: Mapping[str, object], key: str, default: str) -> str:
        what = 'WIDTHxHEIGHT in millimetres in quotes, such as "101.6x76.2"'
        text = self.optional_text(table, "labels", key, what)
        if text is None:
            return default
        match = _LABEL_SIZE.fullmatch(text)
        if match is None or Decimal(match[1]) <= 0 or Decimal(match[2]) <= 0:
            raise self.expected(f"labels.{key}", what, text)
        return f"{Decimal(match[1]).normalize():f}x{Decimal(match[2]).normalize():f}"

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

