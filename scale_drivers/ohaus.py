r"""Ohaus native protocol (Adventurer, Explorer, Scout, Discovery, Pioneer): codec and driver.

Commands are short ASCII words ended by CR LF: ``IP`` print now (stable or not), ``P`` print
(obeys the "stable only" menu setting), ``SP`` print when stable, ``T`` tare key, ``Z`` zero
key, ``PT`` print the tare in memory, ``PSN`` serial number, ``PV`` version. An invalid
command is answered ``ES``. A print that must wait for stability gives up after 40 s, also
with ``ES``. With the "response" setting on (``1RL``) key commands are acknowledged ``OK!``.

A weight line is the value right-aligned in 10 characters (``-`` for negative, no ``+``), a
space, the unit (up to 5 characters, left-aligned), a space, the stability character (``?``
= unstable *or below the configured minimum weight*, blank = stable), a space and an
optional legend (``NET``, ``TOTAL``, a time ``00:00:15`` …), CR LF. Fields are read by
tokens: the unit width varies, so the ``?`` moves.

Quirks the driver lives with:

* No command reports the model: ``PV`` prints "name, software revision and LFT ON", in a
  format the manuals do not fix, so the driver records all of it as the firmware text and
  leaves the model empty (maker "Ohaus").
* A serial number can look like a bare number: after ``PSN``/``PV`` the codec reads any
  printable line as text (it remembers the command it last encoded).
* ``?`` also marks a stable weight below the minimum-weight setting: read as not stable, so
  switch the minimum-weight feature off for the station or weigh above it.
* The manuals document no line for overload or underload in print output: anything that is
  not a weight, ``ES`` or ``OK!`` is garbage (retried, then a ProtocolError), never a weight.
* Tare and zero are key presses: the driver presses them and confirms with the stability
  window at zero. There is no reset command: resynchronising drains the line.

>>> codec = OhausCodec()
>>> codec.encode("IP")
b'IP\r\n'
>>> weight_of(codec.parse("     192.21 g"))
Weight(value=Decimal('192.21'), unit='g', stable=True, raw='     192.21 g')
>>> reply = codec.parse("      -0.01 g   ? NET")
>>> reply.value, reply.unit, reply.stable, reply.legend
(Decimal('-0.01'), 'g', False, 'NET')
>>> codec.parse("ES").kind
'error'
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
    BalanceTimeout,
    CommandNotExecutable,
    Handshake,
    NotStable,
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

#: Adventurer/Explorer factory settings: 9600 baud, 8 data bits, no parity, 1 stop bit,
#: no handshake.
DEFAULT_SETTINGS = SerialSettings(9600, 8, Parity.NONE, 1, Handshake.NONE)

PRINT_NOW = "IP"
PRINT_STABLE = "SP"
TARE = "T"
ZERO = "Z"
PRINT_TARE = "PT"
SERIAL_NUMBER = "PSN"
VERSION = "PV"
#: Commands answered by lines of text, not a weight.
TEXT_COMMANDS = frozenset({SERIAL_NUMBER, VERSION})
#: How long the balance itself waits for stability before answering ``ES``.
BALANCE_STABLE_TIMEOUT = 40.0
#: After the first line of a multi-line text answer, how long a pause ends it.
TEXT_QUIET = 0.15

Kind = Literal["weight", "error", "ack", "text"]

_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")
_COMMAND = re.compile(r"^[\x21-\x7e][\x20-\x7e]*$")  # printable ASCII, no line ending
_VALUE = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")
_UNIT = re.compile(r"[A-Za-z%][A-Za-z%:]{0,4}")
# Units that mark a line as a weight print even while text is expected ("1.10 LFT" is not).
_MASS_UNITS = frozenset({"g", "kg", "mg", "ct", "oz", "ozt", "lb", "dwt", "gn", "n", "pcs", "%"})
# Where a weight starts: a sign, a digit or a decimal point.
_WEIGHT_START = re.compile(r"^[+\-\d.]")


@dataclass(frozen=True)
class OhausReply:
    """One line: a weight (value, unit, stability, legend), ``ES``, ``OK!``, or text.

    For a ``text`` line (after ``PSN``/``PV``) ``legend`` holds the stripped text.
    """

    kind: Kind
    raw: str
    value: Decimal | None = None
    unit: str = ""
    stable: bool = False
    legend: str = ""


class OhausCodec:
    """Pure Ohaus codec: commands to bytes, lines to replies, by the command last encoded."""

    def __init__(self) -> None:
        self.answering = ""

    def encode(self, command: str) -> bytes:
        """A command line: ASCII, ended by CR LF. Remembers the command, answered next."""
        if not _COMMAND.match(command):
            raise ValueError(f"not an Ohaus command: {command!r}")
        self.answering = command
        return command.encode("ascii") + b"\r\n"

    def parse(self, line: str) -> OhausReply | None:
        """The reply in ``line``; None for an empty line; ProtocolError if garbled."""
        text = line.strip()
        if not text:
            return None
        if not _PRINTABLE.match(text):
            raise ProtocolError(f"garbled reply {line!r}")
        if text == "ES":
            return OhausReply("error", line)
        if text in ("OK!", "OK"):
            return OhausReply("ack", line)
        if self.answering in TEXT_COMMANDS:
            return _text(line, text)
        return _weight(line, text)


def _text(line: str, text: str) -> OhausReply:
    """An identification line, unless it is plainly a late weight print (then dropped)."""
    try:
        weight = _weight(line, text)
    except ProtocolError:
        weight = None
    if weight is not None and weight.unit.lower() in _MASS_UNITS:
        return weight
    return OhausReply("text", line, legend=text)


def _weight(line: str, text: str) -> OhausReply:
    """``<value> <unit> [?] [legend]``; ProtocolError if garbled or no weight at all."""
    if not _WEIGHT_START.match(text):
        raise ProtocolError(f"garbled reply {line!r}")
    tokens = text.split()
    if tokens[0] in ("-", "+") and len(tokens) > 1:  # "- 12.34 g": the sign apart
        tokens = [tokens[0] + tokens[1], *tokens[2:]]
    value_text = tokens[0].removeprefix("+")
    if not _VALUE.fullmatch(value_text) or len(tokens) < 2 or not _UNIT.fullmatch(tokens[1]):
        raise ProtocolError(f"garbled weight {line!r}")
    rest = tokens[2:]
    stable = not rest or rest[0] != "?"
    legend = " ".join(rest if stable else rest[1:])
    return OhausReply("weight", line, Decimal(value_text), tokens[1], stable, legend)


def weight_of(reply: OhausReply) -> Weight:
    """The weight in a reply; CommandNotExecutable for ``ES``."""
    raise_for_status(reply)
    if reply.kind != "weight" or reply.value is None:
        raise ProtocolError(f"not a weight: {reply.raw!r}")
    return Weight(reply.value, reply.unit, reply.stable, reply.raw)


def raise_for_status(reply: OhausReply) -> None:
    """``ES``: the balance refused the command (unknown, or not possible now)."""
    if reply.kind == "error":
        raise CommandNotExecutable("the balance refused the command (ES)")


class OhausBalance(LineDriver[OhausReply]):
    """An Ohaus balance speaking its native command set."""

    maker = "Ohaus"

    def __init__(
        self,
        transport: Port,
        codec: OhausCodec,
        *,
        clock: Clock | None = None,
        stability_count: int = STABILITY_COUNT,
        response_timeout: float = RESPONSE_TIMEOUT,
    ) -> None:
        super().__init__(transport, codec, clock=clock, stability_count=stability_count,
                         response_timeout=response_timeout)
        #: The raw identification lines, by command, for the record.
        self.identity_lines: dict[str, list[str]] = {}

    # -------------------------------------------------------------- identity

    def identify(self) -> BalanceInfo:
        """Serial number (``PSN``) and version lines (``PV``); no command gives the model."""
        serial_lines = self.text_lines(SERIAL_NUMBER)
        try:
            firmware_lines = self.text_lines(VERSION)
        except (BalanceTimeout, CommandNotExecutable):
            firmware_lines = []
        serial_number = " ".join(serial_lines[0].split()) if serial_lines else ""
        firmware = " ".join(" ".join(line.split()) for line in firmware_lines)
        self.info = BalanceInfo(self.maker, "", serial_number, firmware)
        return self.info

    def text_lines(self, command: str) -> list[str]:
        """Send ``command``; its answer is every text line until the line goes quiet."""
        deadline = time.monotonic() + self.response_timeout
        while True:
            try:
                replies = self._collect_text(command, deadline)
                break
            except ProtocolError as error:
                if time.monotonic() >= deadline:
                    self.resync(time.monotonic() + self.response_timeout)
                    raise ProtocolError(f"protocol error: {error}") from None
                self.resync(deadline)
            except BalanceTimeout:
                self.resync(time.monotonic() + self.response_timeout)
                raise
        for reply in replies:
            raise_for_status(reply)
        self.identity_lines[command] = [reply.raw for reply in replies]
        return [reply.legend for reply in replies]

    def _collect_text(self, command: str, deadline: float) -> list[OhausReply]:
        self.transport.flush_input()
        self._framer.reset()
        self.transport.write(self.codec.encode(command))
        found: list[OhausReply] = []
        while True:
            wait = min(deadline, time.monotonic() + TEXT_QUIET) if found else deadline
            try:
                replies = self._replies(wait, command)
            except BalanceTimeout:
                if found:
                    return found
                raise
            for reply in replies:
                if reply.kind == "error":
                    return [reply]
                if reply.kind == "text":
                    found.append(reply)

    # -------------------------------------------------------------- weighing

    def command_for_now(self) -> str:
        """``IP``: immediate print."""
        return PRINT_NOW

    def read_weight_now(self) -> Weight:
        """``IP``: the displayed weight, stable or not."""
        return weight_of(self.exchange(PRINT_NOW, _is_answer)[0])

    def read_balance_stable(self, timeout: float) -> Reading:
        """``SP``: the balance's own stable print; it gives up after 40 s with ``ES``.

        The driver waits at least the balance's 40 s (plus the response time), so a late
        answer cannot arrive during the next command.
        """
        wait = max(timeout, BALANCE_STABLE_TIMEOUT) + self.response_timeout
        reply = self.exchange(PRINT_STABLE, _is_answer, wait)[0]
        if reply.kind == "error":
            raise NotStable("not stable: the balance gave up waiting (ES after SP)")
        return self.reading(weight_of(reply), PRINT_STABLE)

    def tare_value(self) -> Reading:
        """``PT``: the tare weight in memory."""
        return self.reading(weight_of(self.exchange(PRINT_TARE, _is_answer)[0]), PRINT_TARE)

    def tare(self, timeout: float) -> Reading:
        """Wait for a stable load, press tare, confirm zero; returns the tare (``PT``).

        Balances without ``PT`` (answered ``ES``) return the stable load just before the
        key press instead.
        """
        deadline = time.monotonic() + timeout
        load = self.read_stable(timeout)
        self.press(TARE)
        self.wait_for_zero(deadline, "tare")
        try:
            return dataclasses.replace(self.tare_value(), command=TARE)
        except CommandNotExecutable:
            return dataclasses.replace(load, command=TARE)

    def zero(self, timeout: float) -> None:
        """Press zero and confirm the balance settles at zero."""
        deadline = time.monotonic() + timeout
        self.press(ZERO)
        self.wait_for_zero(deadline, "zero")

    def press(self, command: str) -> None:
        """Send a key-press command; an ``OK!`` acknowledgement, if on, is dropped later."""
        self.transport.flush_input()
        self._framer.reset()
        self.transport.write(self.codec.encode(command))


def _is_answer(reply: OhausReply) -> bool:
    """A weight or ``ES`` answers a print; ``OK!`` (a key press) and text do not."""
    return reply.kind in ("weight", "error")
