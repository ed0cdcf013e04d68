"""The small typed surface the rest of the product sees of a balance.

A :class:`Balance` identifies itself, reads a stable or an immediate weight, tares, zeroes
and closes. Every reading is a frozen :class:`Reading` with its raw line. Overload and
underload are errors, never a weight.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Protocol, runtime_checkable


class BalanceError(Exception):
    """Base of every error a balance driver raises."""


class BalanceTimeout(BalanceError):
    """The balance did not answer in time (silent, switched off, or a wrong baud rate)."""


class BalanceDisconnected(BalanceError):
    """The port went away (USB unplugged) or could not be opened."""


class BalanceOverload(BalanceError):
    """The load is above the balance's capacity: there is no weight to report."""


class BalanceUnderload(BalanceError):
    """The reading is below the balance's range (pan missing): there is no weight to report."""


class NotStable(BalanceError):
    """The balance did not settle within the time allowed."""


class CommandNotExecutable(BalanceError):
    """The balance understood the command but cannot carry it out now (busy, refused)."""


class ProtocolError(BalanceError):
    """The balance answered with something the protocol does not allow (garbled, framing)."""


class IdentityMismatch(BalanceError):
    """After a reconnect the balance reports another serial number than before."""


class Parity(Enum):
    """Serial parity."""

    NONE = "N"
    EVEN = "E"
    ODD = "O"


class Handshake(Enum):
    """Serial flow control."""

    NONE = "none"
    XONXOFF = "xonxoff"
    RTSCTS = "rtscts"


@dataclass(frozen=True)
class SerialSettings:
    """How to talk to the port; each protocol supplies its factory defaults."""

    baudrate: int = 9600
    bytesize: int = 8
    parity: Parity = Parity.NONE
    stopbits: int = 1
    handshake: Handshake = Handshake.NONE

    def __post_init__(self) -> None:
        if self.baudrate <= 0:
            raise ValueError(f"baud rate must be positive, got {self.baudrate}")
        if self.bytesize not in (7, 8):
            raise ValueError(f"data bits must be 7 or 8, got {self.bytesize}")
        if self.stopbits not in (1, 2):
            raise ValueError(f"stop bits must be 1 or 2, got {self.stopbits}")

    @property
    def bits_per_character(self) -> int:
        """Bits on the wire for one character: start + data + parity + stop."""
        return 1 + self.bytesize + (0 if self.parity is Parity.NONE else 1) + self.stopbits

    def wire_seconds(self, byte_count: int) -> float:
        """How long ``byte_count`` characters take on the wire at this setting."""
        return byte_count * self.bits_per_character / self.baudrate


@dataclass(frozen=True)
class BalanceInfo:
    """Who the balance is: recorded at connect and checked again after a reconnect."""

    maker: str
    model: str
    serial_number: str
    firmware: str = ""
    capacity: Decimal | None = None
    readability: Decimal | None = None
    unit: str = "g"


@dataclass(frozen=True)
class Reading:
    """One weight as the balance reported it."""

    value: Decimal
    unit: str
    stable: bool
    raw: str
    command: str
    utc: dt.datetime
    monotonic: float

    def __post_init__(self) -> None:
        if not isinstance(self.value, Decimal):
            raise TypeError(f"a reading's value must be a Decimal, not {type(self.value)}")


@runtime_checkable
class Balance(Protocol):
    """What every balance driver offers; vendor quirks stay inside the driver."""

    def identify(self) -> BalanceInfo:
        """Ask the balance who it is (model, serial number, firmware ...)."""
        ...

    def read_stable(self, timeout: float) -> Reading:
        """Wait up to ``timeout`` seconds for a stable weight."""
        ...

    def read_immediate(self) -> Reading:
        """The weight now, stable or not."""
        ...

    def tare(self, timeout: float) -> Reading:
        """Tare when stable; returns the tare weight taken."""
        ...

    def zero(self, timeout: float) -> None:
        """Set zero when stable."""
        ...

    def close(self) -> None:
        """Release the port."""
        ...
