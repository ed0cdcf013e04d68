"""What a protocol responder knows about the device it speaks for.

A :class:`Device` joins the physical :class:`~scale_drivers.sim.physics.Balance`, the
identity the device reports (maker, model, serial number, firmware), the active faults and
the device's own wait for stability. :class:`SerialSettings` are the line settings the
device nominally uses; a simulator uses them only to pace its output like a real wire.

>>> SerialSettings(9600, 8, "N", 1).bits_per_character
10
>>> SerialSettings(9600, 8, "O", 1).bits_per_character
11
>>> Identity("Example", "EX-220", "B123", "1.00").with_serial_number("B124").serial_number
'B124'
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from scale_drivers.sim.faults import FaultSet
from scale_drivers.sim.physics import Balance

Parity = Literal["N", "E", "O"]


@dataclass(frozen=True)
class Identity:
    """How the device names itself: maker, model, serial number, firmware, software id."""

    maker: str
    model: str
    serial_number: str
    firmware: str
    software_id: str = "0000000000"

    def with_serial_number(self, serial_number: str) -> Identity:
        """The same device reporting another serial number."""
        return replace(self, serial_number=serial_number)


@dataclass(frozen=True)
class SerialSettings:
    """Line settings the device nominally uses (a pseudo-terminal ignores all of them)."""

    baudrate: int = 9600
    bytesize: Literal[7, 8] = 8
    parity: Parity = "N"
    stopbits: Literal[1, 2] = 1
    xonxoff: bool = False
    rtscts: bool = False

    @property
    def bits_per_character(self) -> int:
        """Bits one character takes on the wire: start, data, parity, stop."""
        return 1 + self.bytesize + (0 if self.parity == "N" else 1) + self.stopbits


@dataclass
class Device:
    """The balance, its identity, its faults and its own stability timeout, in one place.

    ``identity`` may be replaced while the device runs (a replug with the
    ``serial_change`` fault active reports another serial number).
    """

    balance: Balance
    identity: Identity
    faults: FaultSet
    stable_timeout: float

    def now(self) -> float:
        """Device time, from the balance's clock."""
        return self.balance.now()
