r"""Sartorius SBI, as a balance answers it.

Commands start with ESC and need no line end: format 1 is ESC and one letter (``ESC P``),
format 2 is ESC, a letter, digits and an underscore (``ESC x1_``); CR LF after either is
allowed and ignored. Unknown commands get no answer.

A value line has 16 characters (Sartorius Quintix/Entris/LE manuals, "Output format with
16 characters"): position 1 the sign, 2 a space, 3–10 the value right-aligned with leading
zeros as spaces, 11 a space, 12–14 the unit (blank while the value is not stable), then
CR LF. With the ID code configured, a 6-character ID (``N`` for a net value, ``Stat`` for a
status) comes first: 22 characters. Overload and underload print ``High`` and ``Low`` at
positions 7–10 (the "special codes" table).

>>> from scale_drivers.sim.scenario import default_scenario
>>> responder = SbiResponder(default_scenario().build_device(clock=lambda: 0.0))
>>> responder.receive(b"\x1bP")
b'+   100.00 g  \r\n'
>>> SbiResponder(default_scenario().build_device(clock=lambda: 0.0), id_code=True).receive(
...     b"\x1bP\r\n")
b'N     +   100.00 g  \r\n'
"""

from __future__ import annotations

from scale_drivers.sim.device import Device, SerialSettings
from scale_drivers.sim.physics import OutOfRange, PanReading
from scale_drivers.sim.responder import Lines, Responder

ESC = 0x1B
FORMAT_2_LETTERS = frozenset(b"fsx")
"""Command letters followed by digits and an underscore (``ESC x1_``)."""

UNIT = "g"


def value_line(reading: PanReading, *, id_code: bool = False) -> str:
    """One SBI output line (without CR LF) for a reading.

    >>> from decimal import Decimal
    >>> value_line(PanReading(Decimal("1255.7"), True, False, False))
    '+   1255.7 g  '
    >>> value_line(PanReading(Decimal("-3.25"), False, False, False))
    '-     3.25    '
    >>> value_line(PanReading(Decimal("0"), False, True, False), id_code=True)
    'Stat        High    '
    """
    if reading.overload or reading.underload:
        body = ("      High    " if reading.overload else "      Low     ")
        return ("Stat  " if id_code else "") + body
    sign = "-" if reading.value < 0 else "+"
    digits = f"{abs(reading.value):f}".rjust(8)
    unit = UNIT.ljust(3) if reading.stable else "   "
    return ("N     " if id_code else "") + f"{sign} {digits} {unit}"


class SbiResponder(Responder):
    """A Sartorius balance in SBI mode.

    ``id_code`` selects 22-character lines with an ID; ``autoprint`` starts the balance
    printing every display update, and ``ESC P`` then toggles printing instead of printing.
    """

    name = "sbi"
    default_serial = SerialSettings(9600, 8, "O", 1, rtscts=True)
    default_stable_timeout = 30.0

    def __init__(self, device: Device, *, id_code: bool = False, autoprint: bool = False) -> None:
        super().__init__(device)
        self.id_code = id_code
        self.autoprint = autoprint
        if autoprint:
            self._start_stream(self._line)

    def reset(self) -> None:
        """Forget everything in flight; autoprint, when set, starts again."""
        super().reset()
        if self.autoprint:
            self._start_stream(self._line)

    def _line(self) -> Lines:
        return [value_line(self._reading(), id_code=self.id_code)]

    def _syntax_error(self) -> Lines:
        return []

    def _frame(self) -> list[bytes]:
        commands: list[bytes] = []
        buffer = self._buffer
        while True:
            start = buffer.find(bytes([ESC]))
            if start < 0:
                buffer.clear()
                return commands
            del buffer[:start]
            if len(buffer) < 2:
                return commands
            if buffer[1] not in FORMAT_2_LETTERS:
                commands.append(bytes(buffer[:2]))
                del buffer[:2]
                continue
            end = 2
            while end < len(buffer) and chr(buffer[end]).isdigit():
                end += 1
            if end == len(buffer):
                return commands  # the rest has not arrived yet
            if buffer[end] == ord("_") and end > 2:
                commands.append(bytes(buffer[: end + 1]))
                del buffer[: end + 1]
            else:
                del buffer[:2]  # not a command: drop ESC and the letter

    def _handle(self, command: str) -> None:
        code = command[1:]
        balance = self.device.balance
        if code == "P":
            self._print()
        elif code == "T":
            self._when_stable(self._tare_or_zero)
        elif code == "U":
            self._when_stable(balance.tare)
        elif code == "V":
            self._when_stable(balance.zero)
        elif code == "x1_":  # the manuals name these outputs but show no format: plain text
            self._emit([self.device.identity.model])
        elif code == "x2_":
            self._emit([self.device.identity.serial_number])
        elif code == "x3_":
            self._emit([self.device.identity.firmware])

    def _print(self) -> None:
        if not self.autoprint:
            self._emit(self._line())
        elif self.streaming:
            self._stop_stream()
        else:
            self._start_stream(self._line)

    def _tare_or_zero(self) -> None:
        try:
            self.device.balance.zero()
        except OutOfRange:
            self.device.balance.tare()
