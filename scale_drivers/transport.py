"""One serial transport for every protocol, opened from a pyserial URL string.

A port is configuration: ``/dev/ttyUSB0``, ``/dev/serial/by-id/…``, ``COM3``,
``socket://host:4001`` for Ethernet balances, ``spy://…`` for a traffic dump. One owner per
port in this process (and an OS lock on device paths). Every byte in and out is logged at
this one choke point, on the ``scale_drivers.traffic`` logger.

OS errors (a USB adapter unplugged) become :class:`BalanceDisconnected`; silence is a timeout
the caller decides about.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from types import TracebackType
from typing import Any, Protocol

import serial

from scale_drivers.api import BalanceDisconnected, Handshake, Parity, SerialSettings

TRAFFIC = logging.getLogger("scale_drivers.traffic")

# What a port that went away raises. termios.error (e.g. EIO from tcflush on an unplugged
# device) is not an OSError, so it is named here too.
try:
    import termios

    _PORT_GONE: tuple[type[BaseException], ...] = (OSError, termios.error)
except ImportError:  # not a POSIX system
    _PORT_GONE = (OSError,)

_PARITY = {Parity.NONE: serial.PARITY_NONE, Parity.EVEN: serial.PARITY_EVEN,
           Parity.ODD: serial.PARITY_ODD}
_STOPBITS = {1: serial.STOPBITS_ONE, 2: serial.STOPBITS_TWO}
_BYTESIZE = {7: serial.SEVENBITS, 8: serial.EIGHTBITS}

#: The longest a single read blocks; reads loop on it until their deadline.
POLL = 0.02

_WRITE_FAILED: tuple[type[BaseException], ...] = (*_PORT_GONE, serial.SerialTimeoutException)

_owners_lock = threading.Lock()
_owners: set[str] = set()


class Port(Protocol):
    """What a driver needs of a port; :class:`SerialTransport` is the real one."""

    url: str

    def write(self, data: bytes) -> None:
        """Send bytes."""
        ...

    def read(self, deadline: float) -> bytes:
        """Bytes that arrive before ``deadline`` (time.monotonic); empty on silence."""
        ...

    def flush_input(self) -> bytes:
        """Discard waiting input."""
        ...

    def close(self) -> None:
        """Release the port."""
        ...


class PortBusy(BalanceDisconnected):
    """Another owner in this process already holds the port."""


def _port_key(url: str) -> str:
    """The identity of a port: device paths through their symlinks, URLs as written."""
    if "://" in url:
        return url
    return os.path.realpath(url)


class SerialTransport:
    """An open port: write bytes, read what arrives before a deadline, flush, close."""

    def __init__(self, url: str, settings: SerialSettings) -> None:
        self.url = url
        self.settings = settings
        self._key = _port_key(url)
        with _owners_lock:
            if self._key in _owners:
                raise PortBusy(f"{url} is already in use by this station")
            _owners.add(self._key)
        try:
            self._port = self._open()
        except BaseException:
            with _owners_lock:
                _owners.discard(self._key)
            raise
        self._closed = False

    def _open(self) -> serial.Serial:
        options: dict[str, Any] = {
            "baudrate": self.settings.baudrate,
            "bytesize": _BYTESIZE[self.settings.bytesize],
            "parity": _PARITY[self.settings.parity],
            "stopbits": _STOPBITS[self.settings.stopbits],
            "xonxoff": self.settings.handshake is Handshake.XONXOFF,
            "rtscts": self.settings.handshake is Handshake.RTSCTS,
            "timeout": POLL,
            "write_timeout": 2,
        }
        if "://" not in self.url and os.name == "posix":
            options["exclusive"] = True
        try:
            port: serial.Serial = serial.serial_for_url(self.url, **options)
        except Exception as error:  # OSError, ValueError, termios.error: all mean 'cannot open'
            raise BalanceDisconnected(f"cannot open {self.url}: {_reason(error)}") from None
        TRAFFIC.debug("open %s %s", self.url, self.settings)
        return port

    def write(self, data: bytes) -> None:
        """Send bytes; an OS error means the port is gone."""
        TRAFFIC.debug("%s -> %r", self.url, data)
        try:
            self._port.write(data)
            self._port.flush()
        except _WRITE_FAILED as error:
            raise BalanceDisconnected(f"{self.url}: {_reason(error)}") from None

    def read(self, deadline: float) -> bytes:
        """Bytes that arrive before ``deadline`` (time.monotonic); empty on silence.

        The port's own timeout stays fixed at :data:`POLL` (changing it costs a tcsetattr
        call per read), so this waits in steps of at most that long.
        """
        try:
            while True:
                waiting: int = self._port.in_waiting
                if waiting:
                    data: bytes = self._port.read(waiting)
                    break
                if time.monotonic() >= deadline:
                    return b""
                data = self._port.read(1)
                if data:
                    more: int = self._port.in_waiting
                    data += self._port.read(more) if more else b""
                    break
        except _PORT_GONE as error:
            raise BalanceDisconnected(f"{self.url}: {_reason(error)}") from None
        TRAFFIC.debug("%s <- %r", self.url, data)
        return data

    def flush_input(self) -> bytes:
        """Discard whatever is waiting (a late reply); returns it for the log."""
        try:
            waiting: int = self._port.in_waiting
            stale: bytes = self._port.read(waiting) if waiting else b""
            self._port.reset_input_buffer()
        except _PORT_GONE as error:
            raise BalanceDisconnected(f"{self.url}: {_reason(error)}") from None
        if stale:
            TRAFFIC.debug("%s discarded %r", self.url, stale)
        return stale

    def close(self) -> None:
        """Release the port (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._port.close()
        except OSError:
            pass  # already gone with the device
        finally:
            with _owners_lock:
                _owners.discard(self._key)
            TRAFFIC.debug("close %s", self.url)

    def __enter__(self) -> SerialTransport:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _reason(error: BaseException) -> str:
    """The OS's reason in a few words, without pyserial's repetitions."""
    text = str(error) or type(error).__name__
    if "returned no data" in text or "Input/output error" in text:
        return "the device went away"
    numbers = re.findall(r"\[Errno (\d+)\]", text)
    if numbers:
        return os.strerror(int(numbers[-1])).lower()
    return text
