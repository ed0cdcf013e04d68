r"""A&D balances (GX/GF/FX-i and relatives) in the A&D standard format.

Commands end in CR LF (CR or LF alone is accepted). ``Q`` and ``SI`` send the weight now,
``S`` once stable, ``SIR`` continuously until ``C``; ``R`` and ``Z`` re-zero, ``T`` tares
(both once stable, like the keys); ``?SN`` and ``?TN`` send the serial number and the model.
An undefined command gets ``EC,E01``; a command that needs stability and does not get it
before the device's own timeout gets ``EC,E11`` (A&D manuals, "Error codes").

A weight line has 17 bytes (A&D manuals, "A&D standard format"): header ``ST`` stable,
``US`` unstable or ``OL`` out of range; a comma; the sign and the value zero-padded to
8 characters; the unit right-aligned in 3 characters; CR LF. Out of range the data is
``+9999999E+19`` (or ``-…``) and no unit.

>>> from scale_drivers.sim.scenario import default_scenario
>>> responder = AndGxResponder(default_scenario().build_device(clock=lambda: 0.0))
>>> responder.receive(b"Q\r\n")
b'ST,+00100.00  g\r\n'
>>> responder.receive(b"?TN\r\n")
b'TN,   SIM-220\r\n'
>>> responder.receive(b"QQ\r\n")
b'EC,E01\r\n'
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from scale_drivers.sim.device import Device, SerialSettings
from scale_drivers.sim.physics import OutOfRange, PanReading
from scale_drivers.sim.responder import Lines, Responder

UNIT = "g"
UNDEFINED_COMMAND = "EC,E01"
STABILITY_ERROR = "EC,E11"


def value_line(reading: PanReading) -> str:
    """One A&D standard-format line (without CR LF) for a reading.

    >>> from decimal import Decimal
    >>> value_line(PanReading(Decimal("123.45"), True, False, False))
    'ST,+00123.45  g'
    >>> value_line(PanReading(Decimal("-183.96"), False, False, False))
    'US,-00183.96  g'
    >>> value_line(PanReading(Decimal("0"), False, False, True))
    'OL,-9999999E+19'
    """
    if reading.overload:
        return "OL,+9999999E+19"
    if reading.underload:
        return "OL,-9999999E+19"
    header = "ST" if reading.stable else "US"
    sign = "-" if reading.value < 0 else "+"
    digits = f"{abs(reading.value):f}".zfill(8)
    return f"{header},{sign}{digits}{UNIT:>3}"


class AndGxResponder(Responder):
    """An A&D balance speaking the A&D command set."""

    name = "and_gx"
    default_serial = SerialSettings(2400, 7, "E", 1)
    default_stable_timeout = 30.0

    def __init__(self, device: Device) -> None:
        super().__init__(device)
        balance = device.balance
        self._handlers: dict[str, Callable[[], None]] = {
            "Q": self._weight_now, "SI": self._weight_now, "S": self._stable_weight,
            "SIR": lambda: self._start_stream(self._line), "C": self._stop_stream,
            "R": lambda: self._when_stable(balance.zero),
            "Z": lambda: self._when_stable(balance.zero),
            "T": lambda: self._when_stable(balance.tare),
            "?SN": lambda: self._emit([f"SN,{self.device.identity.serial_number}"]),
            # As captured from an HR-100A: "SN,6A7609446", "TN,   HR-100A".
            "?TN": lambda: self._emit([f"TN,{self.device.identity.model:>10}"]),
        }

    def _syntax_error(self) -> Lines:
        return [UNDEFINED_COMMAND]

    def _is_cancel(self, command: bytes) -> bool:
        return command.strip() == b"C"

    def _handle(self, command: str) -> None:
        handler = self._handlers.get(command.strip())
        if handler is None:
            self._emit([UNDEFINED_COMMAND])
        else:
            handler()

    def _line(self) -> Lines:
        return [value_line(self._reading())]

    def _weight_now(self) -> None:
        self._emit(self._line())

    def _stable_weight(self) -> None:
        def attempt(reading: PanReading) -> Lines | None:
            usable = reading.stable and not reading.overload and not reading.underload
            return [value_line(reading)] if usable else None

        self._wait_for_balance(attempt, lambda: [STABILITY_ERROR])

    def _when_stable(self, action: Callable[[], object]) -> None:
        """Act like a key once stable; ``EC,E11`` if stability never comes."""

        def attempt(reading: PanReading) -> Lines | None:
            if reading.overload or reading.underload or not reading.stable:
                return None
            with contextlib.suppress(OutOfRange):
                action()
            return []

        self._wait_for_balance(attempt, lambda: [STABILITY_ERROR])
