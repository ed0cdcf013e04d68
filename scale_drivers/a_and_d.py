r"""A&D standard format (GX-A, GF-A, FX-i, FZ-i, EK-i …): codec and driver.

Commands are ASCII words ended by CR LF: ``Q`` (same as ``SI``) weight now, ``S`` weight when
stable, ``SIR`` stream, ``C`` cancel ``S``/``SIR``, ``R`` (same as ``Z``) RE-ZERO key, ``T``
tare, ``?SN`` serial number, ``?TN`` model name. Every reply has a two-letter header and a
comma, so none is ambiguous: ``ST,+00123.45  g`` — header ``ST`` stable, ``US`` unstable,
``QT`` stable count, ``OL`` out of range; the value with its sign, zero-padded to 9
characters; a 3-character unit; CR LF (15 characters and the terminator). ``OL`` carries
the sign of the error: ``+`` overload, ``-`` underload. Identification answers are
``SN,<serial>`` and ``TN,<model>``.

With the interface function ``erCd 1`` the balance answers control commands with ``<AK>``
(06h), and anything it cannot do with ``EC,Exx``; with the factory ``erCd 0`` it answers
neither, so the driver by default expects no acknowledgement (``acknowledges=True`` waits
for one and turns an ``EC`` into its typed error). ``EC,E00`` (transmission) and ``EC,E03``
(time-out within a command) are the line's fault: retried like garbage.

Tare and RE-ZERO are key presses: the driver confirms them with the stability window at
zero. There is no reset command: resynchronising drains the line (and ``C`` cancels a
pending ``S`` or ``SIR``).

>>> codec = AandDCodec()
>>> codec.encode("Q")
b'Q\r\n'
>>> weight_of(codec.parse("ST,+00123.45  g"))
Weight(value=Decimal('123.45'), unit='g', stable=True, raw='ST,+00123.45  g')
>>> weight_of(codec.parse("US,-00000.02  g")).stable
False
>>> codec.parse("EC,E11")
AandDReply(header='EC', raw='EC,E11', value=None, unit='', text='E11')
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from scale_drivers.api import (
    BalanceInfo,
    BalanceOverload,
    BalanceTimeout,
    BalanceUnderload,
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

#: GX/GF factory interface settings: 2400 bps, 7 data bits, even parity (1 stop bit),
#: CR LF terminator, A&D standard format, no handshake (CTS/RTS control off).
DEFAULT_SETTINGS = SerialSettings(2400, 7, Parity.EVEN, 1, Handshake.NONE)

WEIGHT_NOW = "Q"
WEIGHT_STABLE = "S"
STREAM = "SIR"
CANCEL = "C"
TARE = "T"
REZERO = "R"
SERIAL_NUMBER = "?SN"
MODEL = "?TN"

#: Headers of a weight (or count) reply, and whether each is stable.
WEIGHT_HEADERS = {"ST": True, "QT": True, "US": False}
OUT_OF_RANGE = "OL"
ERROR = "EC"
#: The acknowledgement <AK> (06h) a control command gets with ``erCd 1``.
ACK = "AK"

_AK = "\x06"
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")
_COMMAND = re.compile(r"^[\x21-\x7e][\x20-\x7e]*$")  # printable ASCII, no line ending
_REPLY = re.compile(r"(?P<header>[A-Z?]{2}),(?P<rest>.*)")
_COMPARISON = re.compile(r"^(?:LO|OK|HI|--),")
# [comparison result,] sign, zero-padded value, unit (spaces before it pad it to 3).
_DATA = re.compile(
    r"(?:(?:LO|OK|HI|--),)?(?P<sign>[+-])(?P<value>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[A-Za-z%]{1,3})")

#: ``EC,Exx`` codes the manuals document that are the line's fault: retried.
LINE_ERRORS = {
    "E00": "communication error (EC,E00): check the baud rate and parity",
    "E03": "time-out error (EC,E03): a command arrived incomplete",
}
#: ``EC,Exx`` codes the balance uses to refuse a command, and what they mean.
REFUSALS: dict[str, tuple[type[Exception], str]] = {
    "E01": (CommandNotExecutable, "the balance does not know this command (EC,E01)"),
    "E02": (CommandNotExecutable, "balance not ready (EC,E02)"),
    "E04": (CommandNotExecutable, "command too long (EC,E04)"),
    "E06": (CommandNotExecutable, "command format error (EC,E06)"),
    "E07": (CommandNotExecutable, "parameter out of range (EC,E07)"),
    "E11": (NotStable, "not stable: the balance refused (EC,E11)"),
    "E16": (CommandNotExecutable, "internal mass error (EC,E16)"),
    "E17": (CommandNotExecutable, "internal mass error (EC,E17)"),
    "E20": (CommandNotExecutable, "calibration weight error: too heavy (EC,E20)"),
    "E21": (CommandNotExecutable, "calibration weight error: too light (EC,E21)"),
}


@dataclass(frozen=True)
class AandDReply:
    """One line: its header and either a weight (value, unit) or the text after the comma."""

    header: str
    raw: str
    value: Decimal | None = None
    unit: str = ""
    text: str = ""


class AandDCodec:
    """Pure A&D codec: commands to bytes, lines to replies."""

    def encode(self, command: str) -> bytes:
        """A command line: ASCII, ended by CR LF."""
        if not _COMMAND.match(command):
            raise ValueError(f"not an A&D command: {command!r}")
        return command.encode("ascii") + b"\r\n"

    def parse(self, line: str) -> AandDReply | None:
        """The reply in ``line``; None for an empty line; ProtocolError if garbled."""
        stripped = line.strip()
        text = stripped.lstrip(_AK).strip()  # an <AK> may precede the next line unended
        if not text:
            return AandDReply(ACK, line) if stripped else None
        if not _PRINTABLE.match(text):
            raise ProtocolError(f"garbled reply {line!r}")
        match = _REPLY.fullmatch(text)
        if match is None:
            raise ProtocolError(f"garbled reply {line!r}")
        header, rest = match.group("header"), match.group("rest")
        if header in WEIGHT_HEADERS:
            return _weight(header, rest, line)
        if header == ERROR:
            code = rest.strip()
            if code in LINE_ERRORS:
                raise ProtocolError(LINE_ERRORS[code])
            return AandDReply(header, line, text=code)
        return AandDReply(header, line, text=rest.strip())


def _weight(header: str, rest: str, line: str) -> AandDReply:
    data = _DATA.fullmatch(rest.strip())
    if data is None:
        raise ProtocolError(f"garbled weight {line!r}")
    value = Decimal(data.group("sign") + data.group("value"))
    return AandDReply(header, line, value, data.group("unit"))


def weight_of(reply: AandDReply) -> Weight:
    """The weight in an ``ST``/``US``/``QT`` reply; typed errors for ``OL`` and ``EC``."""
    raise_for_status(reply)
    if reply.header not in WEIGHT_HEADERS or reply.value is None:
        raise ProtocolError(f"not a weight reply: {reply.raw!r}")
    return Weight(reply.value, reply.unit, WEIGHT_HEADERS[reply.header], reply.raw)


def raise_for_status(reply: AandDReply) -> None:
    """Out of range (by its sign) and ``EC`` refusals as typed errors."""
    if reply.header == OUT_OF_RANGE:
        sign = _COMPARISON.sub("", reply.text)[:1]
        if sign == "+":
            raise BalanceOverload(f"overload ({reply.raw.strip()})")
        if sign == "-":
            raise BalanceUnderload(f"underload ({reply.raw.strip()})")
        raise BalanceOverload("out of range (OL)")
    if reply.header == ERROR:
        error, message = REFUSALS.get(
            reply.text, (CommandNotExecutable, f"balance error ({ERROR},{reply.text})"))
        raise error(message)


class AandDBalance(LineDriver[AandDReply]):
    """An A&D balance sending the A&D standard format."""

    maker = "A&D"

    def __init__(
        self,
        transport: Port,
        codec: AandDCodec,
        *,
        clock: Clock | None = None,
        stability_count: int = STABILITY_COUNT,
        response_timeout: float = RESPONSE_TIMEOUT,
        acknowledges: bool = False,
    ) -> None:
        super().__init__(transport, codec, clock=clock, stability_count=stability_count,
                         response_timeout=response_timeout)
        #: True when the balance is set to ``erCd 1`` (``<AK>`` or ``EC,Exx`` to each command).
        self.acknowledges = acknowledges
        #: The raw identification lines, by command, for the record.
        self.identity_lines: dict[str, str] = {}

    def _one(self, command: str, headers: frozenset[str], timeout: float | None = None,
             ) -> AandDReply:
        """Send ``command``; its answer is the first reply with one of ``headers`` or ``EC``."""

        def accepts(reply: AandDReply) -> bool:
            return reply.header in headers or reply.header == ERROR

        return self.exchange(command, accepts, timeout)[0]

    # -------------------------------------------------------------- identity

    def identify(self) -> BalanceInfo:
        """Model (``?TN``) and serial number (``?SN``); the protocol reports no firmware."""
        model = self._text(MODEL, "TN")
        serial_number = self._text(SERIAL_NUMBER, "SN")
        self.info = BalanceInfo(self.maker, model, serial_number)
        return self.info

    def _text(self, command: str, header: str) -> str:
        reply = self._one(command, frozenset({header}))
        raise_for_status(reply)
        self.identity_lines[command] = reply.raw
        return " ".join(reply.text.strip('"').split())

    # -------------------------------------------------------------- weighing

    def command_for_now(self) -> str:
        """``Q``: the weight now."""
        return WEIGHT_NOW

    def read_weight_now(self) -> Weight:
        """``Q``: the weight now, stable (``ST``/``QT``) or not (``US``)."""
        return weight_of(self._one(WEIGHT_NOW, _MEASUREMENTS))

    def read_balance_stable(self, timeout: float) -> Reading:
        """``S``: the balance's own stable weight; cancelled with ``C`` after ``timeout``."""
        try:
            reply = self._one(WEIGHT_STABLE, _MEASUREMENTS, timeout)
        except BalanceTimeout:
            self.press(CANCEL)
            self.resync(time.monotonic() + self.response_timeout)
            raise NotStable(f"not stable within {timeout:g} s (S cancelled)") from None
        return self.reading(weight_of(reply), WEIGHT_STABLE)

    def tare(self, timeout: float) -> Reading:
        """Wait for a stable load, tare, confirm zero; returns the load tared off."""
        deadline = time.monotonic() + timeout
        load = self.read_stable(timeout)
        self._control(TARE)
        self.wait_for_zero(deadline, "tare")
        return dataclasses.replace(load, command=TARE)

    def zero(self, timeout: float) -> None:
        """RE-ZERO (``R``) and confirm the balance settles at zero."""
        deadline = time.monotonic() + timeout
        self._control(REZERO)
        self.wait_for_zero(deadline, "zero")

    def _control(self, command: str) -> None:
        """A control command: acknowledged ``<AK>`` or refused ``EC`` with ``erCd 1``."""
        if self.acknowledges:
            raise_for_status(self._one(command, frozenset({ACK})))
        else:
            self.press(command)

    def press(self, command: str) -> None:
        """Send a command without waiting for any answer."""
        self.transport.flush_input()
        self._framer.reset()
        self.transport.write(self.codec.encode(command))

    def stream(self) -> Iterator[Reading]:
        """``SIR``: readings as the balance sends them, until the iterator is closed (``C``)."""
        self.press(STREAM)
        try:
            while True:
                for reply in self._replies(time.monotonic() + self.response_timeout, STREAM):
                    if reply.header in _MEASUREMENTS or reply.header == ERROR:
                        yield self.reading(weight_of(reply), STREAM)
        finally:
            self.press(CANCEL)
            self.resync(time.monotonic() + self.response_timeout)


_MEASUREMENTS = frozenset({*WEIGHT_HEADERS, OUT_OF_RANGE})
