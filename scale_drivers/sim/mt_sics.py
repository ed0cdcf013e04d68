r"""Mettler Toledo MT-SICS, levels 0 and 1, as a balance answers it.

Replies follow the MT-SICS reference manual (Excellence balances, 11780711, section 3.2
"Response formats"): ``<ID> <status> <value> <unit>`` with the value right-aligned in 10
characters, showing the readability's decimals; statuses ``S`` stable, ``D`` dynamic,
``A`` done, ``B`` more lines follow, ``I`` not executable (busy, or no stability before the
device's own timeout), ``L`` wrong parameter, ``+`` overload, ``-`` underload; ``ES`` for an
unknown command and ``ET`` for a garbled one. Input lines may end in CR, LF or CR LF;
replies end in CR LF.

>>> from scale_drivers.sim.scenario import default_scenario
>>> responder = MtSicsResponder(default_scenario().build_device(clock=lambda: 0.0))
>>> responder.receive(b"S\r\n")
b'S S     100.00 g\r\n'
>>> responder.receive(b"I4\r\n")
b'I4 A "SIM0000001"\r\n'
>>> responder.receive(b"XYZ\r\n")
b'ES\r\n'
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from scale_drivers.sim.device import Device, SerialSettings
from scale_drivers.sim.physics import OutOfRange, PanReading
from scale_drivers.sim.responder import Lines, Responder

UNIT = "g"

COMMAND_LEVELS: tuple[tuple[int, str], ...] = (
    (0, "@"), (0, "C"), (0, "I0"), (0, "I1"), (0, "I2"), (0, "I3"), (0, "I4"), (0, "I5"),
    (0, "S"), (0, "SI"), (0, "SIR"), (0, "Z"), (0, "ZI"),
    (1, "D"), (1, "DW"), (1, "T"), (1, "TA"), (1, "TAC"), (1, "TI"),
)
"""What ``I0`` lists: (level, command) for every command this simulator implements."""

SICS_VERSIONS = ('"01"', '"2.30"', '"2.20"', '""', '""')
"""``I1``: the levels implemented, then the version of each level (none for 2 and 3)."""


def weight_field(value: Decimal) -> str:
    """A weight value right-aligned in 10 characters, as MT-SICS prints it.

    >>> weight_field(Decimal("100.00")), weight_field(Decimal("-0.0125"))
    ('    100.00', '   -0.0125')
    """
    return f"{value:f}".rjust(10)


class MtSicsResponder(Responder):
    """An MT-SICS balance (levels 0 and 1, plus ``C`` of newer models)."""

    name = "mt_sics"
    default_serial = SerialSettings(9600, 8, "N", 1, xonxoff=True)
    # Not documented in the notes; a public EPICS driver (ORNL, mp49/mettlerToledo, mt.proto)
    # observed "about 30s" on a New Classic MF. Scenarios set their own (stable_timeout).
    default_stable_timeout = 30.0

    def __init__(self, device: Device) -> None:
        super().__init__(device)
        self.display_text: str | None = None
        self._handlers: dict[str, Callable[[str], None]] = {
            "@": self._reset, "C": self._cancel,
            "I0": self._commands, "I1": self._levels, "I2": self._balance_data,
            "I3": self._firmware, "I4": self._serial_number, "I5": self._software_id,
            "S": self._stable_weight, "SI": self._weight_now, "SIR": self._weight_repeated,
            "Z": self._zero, "ZI": self._zero_now, "T": self._tare, "TI": self._tare_now,
            "TA": self._tare_value, "TAC": self._clear_tare,
            "D": self._display, "DW": self._display_weight,
        }

    # ------------------------------------------------------------------ framing and errors
    def _syntax_error(self) -> Lines:
        return ["ES"]

    def _transmission_error(self) -> Lines:
        return ["ET"]

    def _is_cancel(self, command: bytes) -> bool:
        return command.strip() in (b"@", b"C")

    def _handle(self, command: str) -> None:
        name, _, argument = command.partition(" ")
        handler = self._handlers.get(name)
        if handler is None:
            self._emit(["ES"])
            return
        handler(argument)

    def _no_argument(self, argument: str) -> bool:
        if argument.strip():
            self._emit(["ES"])
            return False
        return True

    # ------------------------------------------------------------------ identification
    def _reset(self, argument: str) -> None:
        # "@": back to the power-on state without zeroing; the tare is kept.
        self._stop_stream()
        self._queue.clear()
        self.display_text = None
        self._emit([f'I4 A "{self.device.identity.serial_number}"'])

    def _cancel(self, argument: str) -> None:
        self._stop_stream()
        self._queue.clear()
        self._emit(["C B", "C A"])

    def _commands(self, argument: str) -> None:
        if not self._no_argument(argument):
            return
        last = len(COMMAND_LEVELS) - 1
        self._emit([f'I0 {"A" if i == last else "B"} {level} "{name}"'
                    for i, (level, name) in enumerate(COMMAND_LEVELS)])

    def _levels(self, argument: str) -> None:
        if self._no_argument(argument):
            self._emit(["I1 A " + " ".join(SICS_VERSIONS)])

    def _balance_data(self, argument: str) -> None:
        if self._no_argument(argument):
            model = self.device.balance.model
            capacity = model.capacity.quantize(Decimal(1).scaleb(-model.decimals))
            self._emit([f'I2 A "{self.device.identity.model} {capacity:f} {UNIT}"'])

    def _firmware(self, argument: str) -> None:
        if self._no_argument(argument):
            self._emit([f'I3 A "{self.device.identity.firmware}"'])

    def _serial_number(self, argument: str) -> None:
        if self._no_argument(argument):
            self._emit([f'I4 A "{self.device.identity.serial_number}"'])

    def _software_id(self, argument: str) -> None:
        if self._no_argument(argument):
            self._emit([f'I5 A "{self.device.identity.software_id}"'])

    # ------------------------------------------------------------------ weighing
    @staticmethod
    def _weight_line(reading: PanReading) -> str:
        if reading.overload:
            return "S +"
        if reading.underload:
            return "S -"
        status = "S" if reading.stable else "D"
        return f"S {status} {weight_field(reading.value)} {UNIT}"

    def _stable_weight(self, argument: str) -> None:
        if not self._no_argument(argument):
            return
        self._stop_stream()

        def attempt(reading: PanReading) -> Lines | None:
            if reading.overload or reading.underload or reading.stable:
                return [self._weight_line(reading)]
            return None

        self._wait_for_balance(attempt, lambda: ["S I"])

    def _weight_now(self, argument: str) -> None:
        if self._no_argument(argument):
            self._stop_stream()
            self._emit([self._weight_line(self._reading())])

    def _weight_repeated(self, argument: str) -> None:
        if self._no_argument(argument):
            self._start_stream(lambda: [self._weight_line(self._reading())])

    # ------------------------------------------------------------------ zero
    def _zero(self, argument: str) -> None:
        if not self._no_argument(argument):
            return

        def attempt(reading: PanReading) -> Lines | None:
            if reading.overload:
                return ["Z +"]
            if reading.underload:
                return ["Z -"]
            if not reading.stable:
                return None
            try:
                self.device.balance.zero()
            except OutOfRange as refused:
                return [f"Z {refused.direction}"]
            return ["Z A"]

        self._wait_for_balance(attempt, lambda: ["Z I"])

    def _zero_now(self, argument: str) -> None:
        if not self._no_argument(argument):
            return
        stable = self._reading().stable
        try:
            self.device.balance.zero()
        except OutOfRange as refused:
            self._emit([f"ZI {refused.direction}"])
            return
        self._emit([f"ZI {'S' if stable else 'D'}"])

    # ------------------------------------------------------------------ tare
    def _tare(self, argument: str) -> None:
        if not self._no_argument(argument):
            return

        def attempt(reading: PanReading) -> Lines | None:
            if reading.overload:
                return ["T +"]
            if reading.underload:
                return ["T -"]
            if not reading.stable:
                return None
            try:
                tare = self.device.balance.tare()
            except OutOfRange as refused:
                return [f"T {refused.direction}"]
            return [f"T S {weight_field(tare)} {UNIT}"]

        self._wait_for_balance(attempt, lambda: ["T I"])

    def _tare_now(self, argument: str) -> None:
        if not self._no_argument(argument):
            return
        stable = self._reading().stable
        try:
            tare = self.device.balance.tare()
        except OutOfRange as refused:
            self._emit([f"TI {refused.direction}"])
            return
        self._emit([f"TI {'S' if stable else 'D'} {weight_field(tare)} {UNIT}"])

    def _tare_value(self, argument: str) -> None:
        balance = self.device.balance
        if not argument.strip():
            self._emit([f"TA A {weight_field(balance.tare_value)} {UNIT}"])
            return
        parts = argument.split()
        if len(parts) != 2 or parts[1] != UNIT:
            self._emit(["TA L"])
            return
        try:
            tare = balance.set_tare(Decimal(parts[0]))
        except (InvalidOperation, OutOfRange):
            self._emit(["TA L"])
            return
        self._emit([f"TA A {weight_field(tare)} {UNIT}"])

    def _clear_tare(self, argument: str) -> None:
        if self._no_argument(argument):
            self.device.balance.clear_tare()
            self._emit(["TAC A"])

    # ------------------------------------------------------------------ display
    def _display(self, argument: str) -> None:
        text = argument.strip()
        if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
            self._emit(["D L"])
            return
        self.display_text = text[1:-1]
        self._emit(["D A"])

    def _display_weight(self, argument: str) -> None:
        if self._no_argument(argument):
            self.display_text = None
            self._emit(["DW A"])
