"""Mettler Toledo MT-SICS: codec and driver.

Replies are ``<id> <status> [<params>…]`` or a bare ``ES`` (unknown command), ``ET``
(transmission error) or ``EL`` (logical error). Weight replies carry a value right-aligned
in 10 characters and a unit; statuses: ``S`` stable, ``D`` dynamic, ``A`` done, ``B`` more
lines follow, ``I`` not executable now, ``L`` parameter not allowed, ``+`` overload,
``-`` underload. ``S``, ``SI`` and ``SIR`` all answer with id ``S``, so a late reply cannot
be told by its id: the driver flushes before each command and resynchronises with ``@``
(answered by an ``I4`` line) after any timeout or garbage.

>>> codec = MtSicsCodec()
>>> codec.parse("S S     100.00 g")
MtSicsReply(command='S', status='S', params=('100.00', 'g'), raw='S S     100.00 g')
>>> codec.parse('I2 A "XS204 Excellence 220.0090 g"').params
('XS204 Excellence 220.0090 g',)
>>> weight_of(codec.parse("S D    -0.003 g"))
Weight(value=Decimal('-0.003'), unit='g', stable=False, raw='S D    -0.003 g')
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from scale_drivers.api import (
    BalanceInfo,
    BalanceOverload,
    BalanceTimeout,
    BalanceUnderload,
    CommandNotExecutable,
    Handshake,
    NotStable,
    ProtocolError,
    Reading,
    SerialSettings,
)
from scale_drivers.driver import LineDriver, Weight, decimals_step

#: Factory "host" settings: 9600 baud, 8N1; Xon/Xoff is harmless but USB ports make
#: handshakes a liability, so none by default.
DEFAULT_SETTINGS = SerialSettings(9600, 8, handshake=Handshake.NONE)

ERRORS = frozenset({"ES", "ET", "EL"})
# Replies whose two parameters are a weight and its unit.
WEIGHT_REPLIES = frozenset({"S", "T", "TA", "TI"})
_WEIGHT_VALUE = re.compile(r"[+-]?\d+(?:\.\d+)?")
STATUSES = frozenset({"S", "D", "A", "B", "I", "L", "+", "-", "M"})
_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")


@dataclass(frozen=True)
class MtSicsReply:
    """One reply line: its id (the command it answers), status and parameters."""

    command: str
    status: str
    params: tuple[str, ...]
    raw: str

    @property
    def is_error(self) -> bool:
        """A bare ``ES``, ``ET`` or ``EL``."""
        return self.command in ERRORS


class MtSicsCodec:
    """Pure MT-SICS codec: commands to bytes, lines to replies."""

    def encode(self, command: str) -> bytes:
        """A command line: ASCII, ended by CR LF."""
        return command.encode("ascii") + b"\r\n"

    def parse(self, line: str) -> MtSicsReply | None:
        """The reply in ``line``; None for an empty line; ProtocolError if garbled."""
        text = line.strip()
        if not text:
            return None
        if not _PRINTABLE.match(text):
            raise ProtocolError(f"garbled reply {line!r}")
        if text == "ET":
            # A transmission error is the line's fault, not an answer: retried like garbage.
            raise ProtocolError("transmission error (ET): check the baud rate and parity")
        if text in ERRORS:
            return MtSicsReply(text, "", (), line)
        tokens = _tokens(text)
        if len(tokens) < 2 or tokens[1] not in STATUSES or not tokens[0].isalnum():
            raise ProtocolError(f"garbled reply {line!r}")
        params = tuple(tokens[2:])
        if tokens[0] in WEIGHT_REPLIES and len(params) == 2 and not (
            _WEIGHT_VALUE.fullmatch(params[0]) and params[1].isalpha()
        ):
            raise ProtocolError(f"garbled weight {params[0]!r} in {line!r}")
        return MtSicsReply(tokens[0], tokens[1], params, line)


def _tokens(text: str) -> list[str]:
    """Whitespace-separated tokens; a double-quoted string is one token, quotes removed."""
    found = []
    for match in _TOKEN.finditer(text):
        quoted, plain = match.group(1), match.group(2)
        found.append(quoted if quoted is not None else plain)
    if text.count('"') % 2:
        raise ProtocolError(f"garbled reply {text!r}: unbalanced quotes")
    return found


def weight_of(reply: MtSicsReply) -> Weight:
    """The weight in an ``S``/``SI``/``T``/``TA`` reply; errors for +, -, I and the rest."""
    _raise_for_status(reply)
    if reply.status not in ("S", "D", "A", "M") or len(reply.params) != 2:
        raise ProtocolError(f"not a weight reply: {reply.raw!r}")
    value_text, unit = reply.params
    if not _WEIGHT_VALUE.fullmatch(value_text):
        raise ProtocolError(f"garbled weight {value_text!r} in {reply.raw!r}")
    return Weight(Decimal(value_text), unit, reply.status != "D", reply.raw)


def _raise_for_status(reply: MtSicsReply) -> None:
    if reply.command == "ES":
        raise CommandNotExecutable("the balance does not know this command (ES)")
    if reply.command == "EL":
        raise CommandNotExecutable("the balance cannot execute this command (EL)")
    if reply.status == "+":
        raise BalanceOverload("overload")
    if reply.status == "-":
        raise BalanceUnderload("underload")
    if reply.status == "L":
        raise CommandNotExecutable(f"parameter not allowed ({reply.raw.strip()})")


class MtSicsBalance(LineDriver[MtSicsReply]):
    """A balance speaking MT-SICS levels 0 and 1."""

    maker = "Mettler Toledo"
    answered_reset = False

    def _one(self, command: str, reply_id: str, timeout: float | None = None) -> MtSicsReply:
        """Send ``command``; its answer is the first reply with ``reply_id`` or an error."""

        def accepts(reply: MtSicsReply) -> bool:
            return reply.command == reply_id or reply.is_error

        return self.exchange(command, accepts, timeout)[0]

    # -------------------------------------------------------------- identity

    def identify(self) -> BalanceInfo:
        """Reset to a known state with ``@``, then ask model (I2), firmware (I3), serial (I4)."""
        self.resync_or_fail()
        model_reply = self._one("I2", "I2")
        _raise_for_status(model_reply)
        model, capacity, unit = _split_i2(model_reply)
        firmware = self._optional_text("I3")
        serial_reply = self._one("I4", "I4")
        _raise_for_status(serial_reply)
        serial_number = serial_reply.params[0] if serial_reply.params else ""
        readability = decimals_step(capacity) if capacity is not None else None
        self.info = BalanceInfo(self.maker, model, serial_number, firmware, capacity,
                                readability, unit)
        return self.info

    def _optional_text(self, command: str) -> str:
        """A text answer the balance may not implement (``ES``): empty then."""
        reply = self._one(command, command)
        if reply.is_error:
            return ""
        _raise_for_status(reply)
        return " ".join(reply.params)

    def resync(self, deadline: float) -> None:
        """Send ``@`` and drain until its ``I4`` line: cancels anything pending."""
        self.answered_reset = False
        # Best effort: the caller reports the original problem.
        with contextlib.suppress(BalanceTimeout, ProtocolError):
            self.exchange_reset(deadline)
            self.answered_reset = True

    def _blocking(self, command: str, reply_id: str, timeout: float, what: str) -> MtSicsReply:
        """A command the balance holds until stable (``S``, ``T``, ``Z``).

        The balance's own stability wait may be longer than ``timeout``; if our deadline
        passes first, the ``@`` of the resynchronisation cancels the pending command (no late
        reply can follow), and a balance that answered the ``@`` is alive but not stable.
        """
        try:
            reply = self._one(command, reply_id, timeout)
        except BalanceTimeout:
            if self.answered_reset:
                raise NotStable(f"not stable within {timeout:g} s: {what} cancelled") from None
            raise
        if reply.status == "I":
            raise NotStable(f"not stable: {what} refused by the balance ({reply.raw.strip()})")
        return reply

    def resync_or_fail(self) -> str:
        """``@`` with errors reported; returns the serial number it names."""
        return self.exchange_reset(time.monotonic() + self.response_timeout)

    def exchange_reset(self, deadline: float) -> str:
        """Send ``@``; wait for ``I4 A "<serial>"`` until ``deadline``."""
        self._framer.reset()
        self.transport.flush_input()
        self.transport.write(self.codec.encode("@"))
        while True:
            try:
                replies = self._replies(deadline, "@")
            except ProtocolError:
                continue  # garbage before the reset took effect
            for reply in replies:
                if reply.command == "I4" and reply.status == "A":
                    return reply.params[0] if reply.params else ""

    # -------------------------------------------------------------- weighing

    def command_for_now(self) -> str:
        """``SI``: the weight now."""
        return "SI"

    def read_weight_now(self) -> Weight:
        """``SI``: the weight now, stable or dynamic."""
        reply = self._one("SI", "S")
        if reply.status == "I":
            raise CommandNotExecutable("balance busy: SI not executable now")
        return weight_of(reply)

    def read_balance_stable(self, timeout: float) -> Reading:
        """``S``: the balance's own stable weight (it waits up to its own timeout)."""
        reply = self._blocking("S", "S", timeout, "stable weight")
        return self.reading(weight_of(reply), "S")

    def tare(self, timeout: float) -> Reading:
        """``T``: tare when stable; the reply carries the tare weight."""
        reply = self._blocking("T", "T", timeout, "tare")
        return self.reading(weight_of(reply), "T")

    def tare_value(self) -> Reading:
        """``TA``: the tare in effect."""
        return self.reading(weight_of(self._one("TA", "TA")), "TA")

    def clear_tare(self) -> None:
        """``TAC``: clear the tare."""
        reply = self._one("TAC", "TAC")
        _raise_for_status(reply)
        if reply.status != "A":
            raise CommandNotExecutable(f"could not clear the tare ({reply.raw.strip()})")

    def zero(self, timeout: float) -> None:
        """``Z``: zero when stable."""
        reply = self._blocking("Z", "Z", timeout, "zero")
        _raise_for_status(reply)
        if reply.status != "A":
            raise ProtocolError(f"unexpected reply to Z: {reply.raw!r}")

    def stream(self) -> Iterator[Reading]:
        """``SIR``: readings as the balance sends them, until the iterator is closed."""
        self.transport.flush_input()
        self._framer.reset()
        self.transport.write(self.codec.encode("SIR"))
        try:
            while True:
                for reply in self._replies(time.monotonic() + self.response_timeout, "SIR"):
                    if reply.command == "S":
                        yield self.reading(weight_of(reply), "SIR")
                    elif reply.is_error:
                        _raise_for_status(reply)
        finally:
            self.resync(time.monotonic() + self.response_timeout)


def _split_i2(reply: MtSicsReply) -> tuple[str, Decimal | None, str]:
    """``I2 A "<model> <capacity> <unit>"``, read from the right; older models split it."""
    words = " ".join(reply.params).split()
    if len(words) >= 3:
        try:
            return " ".join(words[:-2]), Decimal(words[-2]), words[-1]
        except InvalidOperation:
            pass
    return " ".join(words), None, "g"

