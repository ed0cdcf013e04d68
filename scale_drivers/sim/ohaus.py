r"""Ohaus native interface (Explorer, Adventurer, Pioneer), as a balance answers it.

Commands end in CR or CR LF (LF alone is accepted too). ``IP`` prints now, ``P`` prints
obeying the stable-only setting, ``SP`` prints once stable, ``CP`` prints continuously until
``0P``, ``T`` and ``Z`` act like the keys (once stable), ``PSN`` prints the serial number,
``PV`` the version, ``0S``/``1S`` switch stable-only printing off/on. Anything else gets
``ES``. A print that waits for stability gives up with ``ES`` after 40 s (Explorer manual,
"Interface commands", note 1).

A weight line (Explorer manual, "Output format"): the value right-aligned in 10 characters,
a space, the unit, a space, the stability character (``?`` not stable, blank stable) and,
when a tare is in effect, a space and the legend ``NET``.

>>> from scale_drivers.sim.scenario import default_scenario
>>> responder = OhausResponder(default_scenario().build_device(clock=lambda: 0.0))
>>> responder.receive(b"IP\r\n")
b'    100.00 g  \r\n'
>>> responder.receive(b"XX\r\n")
b'ES\r\n'
"""

from __future__ import annotations

from collections.abc import Callable

from scale_drivers.sim.device import Device, SerialSettings
from scale_drivers.sim.physics import PanReading
from scale_drivers.sim.responder import Lines, Responder

UNIT = "g"


def value_line(reading: PanReading, *, net: bool = False) -> str:
    """One Ohaus output line (without CR LF) for a reading.

    Overload and underload have no documented print format: the simulator prints
    ``OVERLOAD`` or ``UNDERLOAD`` in the value field, marked not stable.

    >>> from decimal import Decimal
    >>> value_line(PanReading(Decimal("0.01"), False, False, False))
    '      0.01 g ?'
    >>> value_line(PanReading(Decimal("-12.50"), True, False, False), net=True)
    '    -12.50 g   NET'
    """
    if reading.overload or reading.underload:
        return f"{'OVERLOAD' if reading.overload else 'UNDERLOAD':>10} {UNIT} ?"
    stability = " " if reading.stable else "?"
    line = f"{reading.value:f}".rjust(10) + f" {UNIT} {stability}"
    return line + " NET" if net else line


class OhausResponder(Responder):
    """An Ohaus balance speaking its native commands; ``stable_only`` is the menu setting."""

    name = "ohaus"
    default_serial = SerialSettings(9600, 8, "N", 1)
    default_stable_timeout = 40.0

    def __init__(self, device: Device, *, stable_only: bool = False) -> None:
        super().__init__(device)
        self.stable_only = stable_only
        self._handlers: dict[str, Callable[[], None]] = {
            "IP": self._print_now, "P": self._print, "SP": self._print_stable,
            "CP": self._print_continuously, "0P": self._stop_stream,
            "T": self._tare, "Z": self._zero,
            "PSN": lambda: self._emit([self.device.identity.serial_number]),
            "PV": lambda: self._emit([self.device.identity.firmware]),
            "0S": lambda: self._set_stable_only(on=False),
            "1S": lambda: self._set_stable_only(on=True),
        }

    def _syntax_error(self) -> Lines:
        return ["ES"]

    def _handle(self, command: str) -> None:
        handler = self._handlers.get(command.strip())
        if handler is None:
            self._emit(["ES"])
        else:
            handler()

    def _line(self, reading: PanReading | None = None) -> Lines:
        reading = reading if reading is not None else self._reading()
        return [value_line(reading, net=self.device.balance.tare_value != 0)]

    def _print_now(self) -> None:
        self._emit(self._line())

    def _print(self) -> None:
        if self.stable_only:
            self._print_stable()
        else:
            self._print_now()

    def _print_stable(self) -> None:
        self._wait_for_balance(lambda r: self._line(r) if r.stable else None, lambda: ["ES"])

    def _print_continuously(self) -> None:
        self._start_stream(self._line)

    def _set_stable_only(self, *, on: bool) -> None:
        self.stable_only = on

    def _tare(self) -> None:
        self._when_stable(self.device.balance.tare)

    def _zero(self) -> None:
        self._when_stable(self.device.balance.zero)
