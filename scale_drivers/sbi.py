r"""Sartorius SBI: codec and driver.

Commands are ``ESC`` and a letter (``ESC P`` print, ``ESC T`` tare/zero key, ``ESC U``
tare, ``ESC V`` zero) or ``ESC`` + letter + digit + ``_`` (``ESC x1_`` model, ``ESC x2_``
serial number, ``ESC x3_`` software version); CR LF is optional on input and sent anyway
(Entris II wants the CR). A weight comes back as a 16-character line — sign (``+``, ``-`` or
a space), the value right-aligned with its decimal point, a space, a 3-character unit,
CR LF — or 22 characters with a 6-character ID code in front (``N     +   123.56 g  ``).
**Stability is the unit field**: a blank unit means not stable (some models prefix ``?``).
Widths differ between models (the value may start in column 2), so the value and unit are
read by tokens; only the ID code is taken by its documented 6 columns.

Special lines, alone or after ``Stat`` in the 22-character format: ``H``/``HH``/``High``
overload, ``L``/``LL``/``Low`` underload, ``C``/``Cal.Int.``/``Cal.Ext.`` adjusting,
``--`` no final readout yet, ``Err ###``, ``APP.ERR``, ``DIS.ERR``, ``PRT.ERR`` errors,
``OFF`` display off.

Quirks the driver lives with:

* SBI replies carry no command id, and a serial number can look like a bare number. The
  codec therefore remembers which command it last encoded (as h11 reads a response by the
  request it answers): after ``ESC x1_``/``x2_``/``x3_`` any printable line is text.
* The balance must be configured to print **on request, without stability, with
  automatic output off**: with autoprint on, ``ESC P`` toggles autoprint instead of
  printing, and "with stability" makes ``ESC P`` wait.
* Tare and zero are key presses without a reply: the driver presses them and confirms with
  the stability window at zero. There is no reset command: resynchronising drains the line.

>>> codec = SbiCodec()
>>> codec.encode("ESC P")
b'\x1bP\r\n'
>>> weight_of(codec.parse("+    1255.7 g  "))
Weight(value=Decimal('1255.7'), unit='g', stable=True, raw='+    1255.7 g  ')
>>> reply = codec.parse("N     -     0.03      ")
>>> reply.label, reply.value, reply.unit, reply.stable
('N', Decimal('-0.03'), '', False)
>>> codec.parse("Stat     High    ").kind
'overload'
>>> _ = codec.encode("ESC x2_")
>>> codec.parse("0031801165")
SbiReply(kind='text', raw='0031801165', value=None, unit='', stable=False, label='0031801165')
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from scale_drivers.api import (
    BalanceInfo,
    BalanceOverload,
    BalanceTimeout,
    BalanceUnderload,
    CommandNotExecutable,
    Handshake,
    Parity,
    ProtocolError,
    Reading,
    SerialSettings,
)
from scale_drivers.driver import (
    RESPONSE_TIMEOUT,
    STABILITY_COUNT,
    Clock,
    LineDriver,
    Weight,
)
from scale_drivers.transport import Port

#: Current models (Entris II, Secura, Quintix, Practum, Cubis): 9600 baud, 8 data bits, odd
#: parity, 1 stop bit. Their factory handshake is hardware, but USB virtual ports often never
#: assert CTS, so none by default (older models: 1200 baud 7-O-1 — configure it).
DEFAULT_SETTINGS = SerialSettings(9600, 8, Parity.ODD, 1, Handshake.NONE)

PRINT = "ESC P"
TARE_OR_ZERO = "ESC T"
TARE = "ESC U"
ZERO = "ESC V"
MODEL = "ESC x1_"
SERIAL_NUMBER = "ESC x2_"
SOFTWARE_VERSION = "ESC x3_"
#: Commands answered by a line of text, not a weight.
TEXT_COMMANDS = frozenset({MODEL, SERIAL_NUMBER, SOFTWARE_VERSION})

Kind = Literal["weight", "overload", "underload", "busy", "error", "off", "status", "text"]

_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")
_COMMAND = re.compile(r"^ESC ([A-Za-z]|[A-Za-z]\d{1,2}_)$")
_WEIGHT = re.compile(
    # One run of spaces before the sign and one after it, never two runs side by side: a
    # long run of spaces would otherwise be split every possible way (quadratic time).
    r"(?P<flag>\?)?\s*(?:(?P<sign>[+-])\s*)?(?P<value>[\d.,\[\]]+)(?:\s*(?P<unit>[A-Za-z%/]{1,4}))?")
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
# Where a weight starts: a ? flag, a sign, a digit, a decimal point or a bracket.
_WEIGHT_START = re.compile(r"^\s*[?+\-\d.,\[]")
_ERROR = re.compile(r"^(?:ERR|ERROR|E)\s*/?\s*(\d{1,3})$|^(?:APP|DIS|PRT)\.\s?ERR$")
_ID_WIDTH = 6
# Units that mark a line as a late print even while text is expected ("MSE1203S" is a model).
_MASS_UNITS = frozenset({"g", "kg", "mg", "ct", "lb", "oz", "ozt", "dwt", "gn", "pcs", "%"})
_SPECIALS: dict[str, Kind] = {
    "H": "overload", "HH": "overload", "HIGH": "overload",
    "L": "underload", "LL": "underload", "LOW": "underload",
    "C": "busy", "CAL": "busy", "CAL.INT.": "busy", "CAL.EXT.": "busy",
    "OFF": "off",
}


@dataclass(frozen=True)
class SbiReply:
    """One line from the balance: a weight, a special line, or (after ``x1_``…) text.

    ``label`` holds the 22-character format's ID code for a weight, the collapsed text of a
    special line, or the text of an identification reply.
    """

    kind: Kind
    raw: str
    value: Decimal | None = None
    unit: str = ""
    stable: bool = False
    label: str = ""


class SbiCodec:
    """Pure SBI codec: commands to bytes, lines to replies, by the command last encoded."""

    def __init__(self) -> None:
        self.answering = ""

    def encode(self, command: str) -> bytes:
        """``ESC P`` → ESC, ``P``, CR LF. Remembers the command, whose reply comes next."""
        match = _COMMAND.match(command)
        if match is None:
            raise ValueError(f"not an SBI command: {command!r} (expected 'ESC P', 'ESC x1_' …)")
        self.answering = command
        return b"\x1b" + match.group(1).encode("ascii") + b"\r\n"

    def parse(self, line: str) -> SbiReply | None:
        """The reply in ``line``; None for an empty line; ProtocolError if garbled."""
        text = line.strip()
        if not text:
            return None
        if not _PRINTABLE.match(text):
            raise ProtocolError(f"garbled reply {line!r}")
        if self.answering in TEXT_COMMANDS:
            return _parse_text(line, text)
        special = _special(line, text)
        if special is not None:
            return special
        return _weight(line)


def _parse_text(line: str, text: str) -> SbiReply:
    """An identification answer: a status line, a late weight (to drop), or the text."""
    if text.upper().startswith("STAT"):
        special = _special(line, text)
        if special is not None:
            return special
    try:
        weight = _weight(line)
    except ProtocolError:
        weight = None
    if weight is not None and weight.unit.lower() in _MASS_UNITS:
        return weight
    return SbiReply("text", line, label=text)


def _special(line: str, text: str) -> SbiReply | None:
    """Overload, underload, adjusting, no readout yet, errors, display off: never a weight."""
    words = text.upper().split()
    if words[0] == "STAT":
        words = words[1:]
        if not words:
            return SbiReply("busy", line, label="Stat")
    marker = " ".join(words)
    compact = "".join(words)
    collapsed = " ".join(text.split())
    kind = _SPECIALS.get(marker) or _SPECIALS.get(compact)
    if kind is None and len(compact) >= 2 and set(compact) == {"-"}:
        kind = "busy"
    if kind is None and _ERROR.match(marker):
        kind = "error"
    if kind is None and text.upper().startswith("STAT"):
        kind = "status"
    return None if kind is None else SbiReply(kind, line, label=collapsed)


def _weight(line: str) -> SbiReply:
    """A weight line; ProtocolError if it is garbled or no weight at all."""
    label, body = "", line
    if line[:1].isalpha():
        label, body = line[:_ID_WIDTH].strip(), line[_ID_WIDTH:]
    if not _WEIGHT_START.match(body):
        raise ProtocolError(f"garbled reply {line!r}")
    match = _WEIGHT.fullmatch(body.strip())
    digits = (match.group("value") if match else "").replace(",", ".")
    if "[" in digits or "]" in digits:
        # Brackets mark non-verified digits in "printer" mode: "123.5[6]" is 123.56.
        if not re.fullmatch(r"[\d.]*\[\d\][\d.]*", digits):
            raise ProtocolError(f"garbled weight {line!r}")
        digits = digits.replace("[", "").replace("]", "")
    if match is None or not _NUMBER.fullmatch(digits):
        raise ProtocolError(f"garbled weight {line!r}")
    unit = match.group("unit") or ""
    value = Decimal((match.group("sign") or "") + digits)
    stable = bool(unit) and match.group("flag") is None
    return SbiReply("weight", line, value, unit, stable, label)


def weight_of(reply: SbiReply) -> Weight:
    """The weight in a reply; typed errors for overload, underload, busy, errors, off."""
    raise_for_status(reply)
    if reply.kind != "weight" or reply.value is None:
        raise ProtocolError(f"not a weight: {reply.raw!r}")
    return Weight(reply.value, reply.unit, reply.stable, reply.raw)


def raise_for_status(reply: SbiReply) -> None:
    """Raise the typed error a special line stands for; nothing for a weight or text."""
    if reply.kind == "overload":
        raise BalanceOverload(f"overload ({reply.label})")
    if reply.kind == "underload":
        raise BalanceUnderload(f"underload ({reply.label})")
    if reply.kind == "busy":
        raise CommandNotExecutable(f"balance busy: adjusting or no final readout ({reply.label})")
    if reply.kind == "error":
        raise CommandNotExecutable(f"balance reports an error ({reply.label})")
    if reply.kind == "off":
        raise CommandNotExecutable(f"balance display is off ({reply.label})")
    if reply.kind == "status":
        raise CommandNotExecutable(f"balance reports status ({reply.label})")


def identity_text(text: str) -> str:
    """The model or serial number in an identification line, read leniently.

    Stripped; a leading label ending in ``.`` or ``:`` (``SerNo.    0031801165``) is dropped.

    >>> identity_text("  SerNo.    0031801165 ")
    '0031801165'
    >>> identity_text("BCE224I-1S")
    'BCE224I-1S'
    """
    words = text.split()
    if len(words) > 1 and words[0][-1] in ".:":
        words = words[1:]
    return " ".join(words)


class SbiBalance(LineDriver[SbiReply]):
    """A Sartorius balance in SBI mode, printing on request without stability."""

    maker = "Sartorius"

    def __init__(
        self,
        transport: Port,
        codec: SbiCodec,
        *,
        clock: Clock | None = None,
        stability_count: int = STABILITY_COUNT,
        response_timeout: float = RESPONSE_TIMEOUT,
        tare_command: str = TARE,
        zero_command: str = ZERO,
    ) -> None:
        super().__init__(transport, codec, clock=clock, stability_count=stability_count,
                         response_timeout=response_timeout)
        self.tare_command = tare_command
        self.zero_command = zero_command
        #: The raw identification lines, by command, for the record.
        self.identity_lines: dict[str, str] = {}

    # -------------------------------------------------------------- identity

    def identify(self) -> BalanceInfo:
        """Model (``ESC x1_``), serial number (``ESC x2_``), software (``ESC x3_``, optional)."""
        model = self._text(MODEL)
        serial_number = self._text(SERIAL_NUMBER)
        try:
            firmware = self._text(SOFTWARE_VERSION)
        except BalanceTimeout:
            firmware = ""  # older models do not answer x3_
        self.info = BalanceInfo(self.maker, model, serial_number, firmware)
        return self.info

    def _text(self, command: str) -> str:
        def accepts(reply: SbiReply) -> bool:
            return reply.kind != "weight"  # a weight now is a late print: dropped

        reply = self.exchange(command, accepts)[0]
        raise_for_status(reply)
        self.identity_lines[command] = reply.raw
        return identity_text(reply.label)

    # -------------------------------------------------------------- weighing

    def command_for_now(self) -> str:
        """``ESC P``: print the value now."""
        return PRINT

    def read_weight_now(self) -> Weight:
        """``ESC P``: the displayed weight, stable (unit shown) or not (unit blank)."""
        return weight_of(self.exchange(PRINT, _is_measurement)[0])

    def tare(self, timeout: float) -> Reading:
        """Wait for a stable load, press tare, confirm zero; returns the load tared off.

        SBI reports no tare value: the reading is the stable weight just before the key
        press (relative to any tare already in effect).
        """
        deadline = time.monotonic() + timeout
        load = self.read_stable(timeout)
        self.press(self.tare_command)
        self.wait_for_zero(deadline, "tare")
        return dataclasses.replace(load, command=self.tare_command)

    def zero(self, timeout: float) -> None:
        """Press zero and confirm the balance settles at zero."""
        deadline = time.monotonic() + timeout
        self.press(self.zero_command)
        self.wait_for_zero(deadline, "zero")

    def press(self, command: str) -> None:
        """Send a key-press command, which the balance does not answer."""
        self.transport.flush_input()
        self._framer.reset()
        self.transport.write(self.codec.encode(command))


def _is_measurement(reply: SbiReply) -> bool:
    return reply.kind != "text"
