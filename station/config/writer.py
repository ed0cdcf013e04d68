"""Writing ``station.toml``: a configuration as a commented TOML document, replaced atomically.

:func:`to_toml` writes every key, with a comment saying what it is, and the default of each key
left out as a commented-out line; :func:`write_config` checks the text reads back the same
(:func:`~station.config.station_config.config_from_mapping`) and then replaces the file in one
step, so a crash leaves the old file or the new one.
"""

from __future__ import annotations

import os
import stat
import tempfile
import textwrap
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar

from scale_drivers.protocols import PROTOCOLS
from station.config.model import MAX_SITE_TOLERANCE, StationConfig
from station.config.station_config import PARITIES, ConfigError, config_from_mapping

_T = TypeVar("_T")

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
    parity_names = {parity: name for name, parity in PARITIES.items()}
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
    key("iso5", str(station.iso5).lower(),
        "Whether this hood is an ISO Class 5 primary engineering control: a vial first "
        "entered here keeps 12 hours (single-dose); false: 1 hour, and no pharmacy bulk "
        "package may be entered.", "true")

    table("site", "Rules the pharmacy sets for every hood.")
    key("tolerance", _string(f"{config.site.tolerance.percent.normalize():f}%"),
        "Dose tolerance when neither the order nor the product sets one, as a percentage "
        f"(at most {MAX_SITE_TOLERANCE * 100:.0f}%).",
        '"5%"')

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

    table("labels", "The label printer and its label stock.")
    labels = config.labels
    key("printer", _optional(labels.printer, _string),
        "tcp://HOST:9100 (a Zebra's raw port), cups://QUEUE or file://PATH. Left out: each "
        "label's ZPL is written to labels/last-label.zpl in the data folder (the demo).",
        '"tcp://zebra-hood-3.pharmacy.example:9100"')
    key("size", _string(labels.size), "Preparation label, WIDTHxHEIGHT in mm.", '"101.6x76.2"')
    key("vial_size", _string(labels.vial_size), "Opened-vial label, WIDTHxHEIGHT in mm.",
        '"57.15x31.75"')
    key("dpi", str(labels.dpi), "Printer resolution: 152, 203, 300 or 600.", "203")

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
