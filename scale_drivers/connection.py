"""A supervised balance: notices silence, reconnects by itself, proves who it is.

:class:`ManagedBalance` owns one driver at a time. Its owner (a device thread) calls
:meth:`ManagedBalance.heartbeat` about once a second while idle: a balance that stops
answering is *offline* after a few missed beats (a balance switched off behind an RS-232
adapter never raises anything), and a port that raises is *disconnected* at once (USB
unplugged). :meth:`ManagedBalance.reconnect` reopens the port and re-identifies the balance;
a different serial number is refused. Each successful (re)connection starts a new
``epoch``: a tare or a reference reading from an earlier epoch must not be trusted, and the
driver's tare is cleared where the protocol can.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum
from typing import Protocol

from scale_drivers.api import (
    BalanceDisconnected,
    BalanceError,
    BalanceInfo,
    BalanceTimeout,
    IdentityMismatch,
    ProtocolError,
    Reading,
)

#: Missed heartbeats before a silent balance counts as offline.
HEARTBEAT_MISSES = 3
#: Exchanges in a row without a valid reply, at least one of them garbled (a ProtocolError),
#: before a balance counts as garbled. One corrupted line among good ones is noise and
#: changes nothing; the first valid reply (a weight, or the balance's own "overload",
#: "busy" ...) makes it connected again. A garbled line that never ends reads as a timeout,
#: so timeouts among garbled replies count towards this too.
GARBLED_EXCHANGES = 3
#: Timeouts in a row after which a balance that was garbling counts as silent (offline):
#: more than HEARTBEAT_MISSES, since a few lines of garbage without an end look like silence.
GARBLED_SILENT_MISSES = 3 * HEARTBEAT_MISSES


class Driver(Protocol):
    """The driver operations the supervisor uses (every protocol driver has them)."""

    def identify(self) -> BalanceInfo:
        """Who the balance is."""
        ...

    def read_immediate(self) -> Reading:
        """The weight now."""
        ...

    def read_stable(self, timeout: float) -> Reading:
        """A stable weight."""
        ...

    def tare(self, timeout: float) -> Reading:
        """Tare when stable."""
        ...

    def zero(self, timeout: float) -> None:
        """Zero when stable."""
        ...

    def close(self) -> None:
        """Release the port."""
        ...


class LinkState(Enum):
    """How the station currently sees the balance."""

    CONNECTED = "connected"
    OFFLINE = "offline"  # port open, balance silent
    GARBLED = "garbled"  # port open, balance answering, but its replies do not parse
    DISCONNECTED = "disconnected"  # port gone or not open


class ManagedBalance:
    """One balance, supervised. Not thread-safe: one owner thread calls it."""

    def __init__(
        self,
        open_driver: Callable[[], Driver],
        *,
        heartbeat_misses: int = HEARTBEAT_MISSES,
        garbled_exchanges: int = GARBLED_EXCHANGES,
        expected_serial: str | None = None,
    ) -> None:
        self._open_driver = open_driver
        self._heartbeat_misses = heartbeat_misses
        self._garbled_exchanges = garbled_exchanges
        self._driver: Driver | None = None
        self._misses = 0  # timeouts in a row
        self._unanswered = 0  # exchanges in a row without a valid reply (garbled or timed out)
        self.state = LinkState.DISCONNECTED
        self.info: BalanceInfo | None = None
        self.expected_serial = expected_serial
        self.epoch = 0
        self.last_error = ""
        self.last_reading: Reading | None = None
        self.last_problem = ""
        #: The latest garbled reply since the last valid one ("" if none): why it is GARBLED.
        self.last_garbled = ""

    # -------------------------------------------------------------- connection

    def connect(self) -> BalanceInfo:
        """Open the port and identify the balance; refuses a different serial number."""
        self._drop()
        driver = self._open_driver()
        try:
            info = driver.identify()
            if self.expected_serial is not None and info.serial_number != self.expected_serial:
                raise IdentityMismatch(
                    f"balance on this port is serial {info.serial_number}, expected "
                    f"{self.expected_serial}: weights refused until the right balance is back"
                )
            clear_tare = getattr(driver, "clear_tare", None)
            if callable(clear_tare) and self.epoch > 0:
                clear_tare()
        except BaseException:
            driver.close()
            raise
        self._driver = driver
        self.info = info
        self.expected_serial = info.serial_number
        self._answered()
        self.epoch += 1
        self.last_error = ""
        return info

    def reconnect(self, deadline: float, interval: float = 0.5) -> BalanceInfo:
        """Try :meth:`connect` every ``interval`` s until it works or ``deadline`` passes."""
        while True:
            try:
                return self.connect()
            except IdentityMismatch:
                raise
            except BalanceError as error:
                self.last_error = str(error)
                if time.monotonic() + interval > deadline:
                    raise
            time.sleep(interval)

    def close(self) -> None:
        """Release the port; the balance counts as disconnected."""
        self._drop()

    def _drop(self) -> None:
        if self._driver is not None:
            self._driver.close()
            self._driver = None
        self.state = LinkState.DISCONNECTED

    # -------------------------------------------------------------- supervision

    def heartbeat(self) -> LinkState:
        """One cheap exchange to learn whether the balance is still there.

        The weight it read (or why there was none) is kept in :attr:`last_reading` and
        :attr:`last_problem`, so a live display costs no second exchange.
        """
        self.last_reading = None
        if self._driver is None:
            self.last_problem = self.last_error or "not connected"
            return self.state
        try:
            self.last_reading = self._driver.read_immediate()
            self.last_problem = ""
        except BalanceTimeout as error:
            self._misses += 1
            self._unanswered += 1
            self.last_error = self.last_problem = str(error)
            self._judge()
            return self.state
        except BalanceDisconnected as error:
            self.last_error = self.last_problem = str(error)
            self._drop()
            return self.state
        except ProtocolError as error:
            self.last_problem = str(error)
            self._garbled(str(error))
            return self.state
        except BalanceError as error:
            self.last_problem = str(error)  # overload, busy ...: it answered, so it is there
        self._answered()
        return self.state

    def _answered(self) -> None:
        """A valid reply: whatever went before, the balance is there and understood."""
        self._misses = self._unanswered = 0
        self.last_garbled = ""
        self.state = LinkState.CONNECTED

    def _garbled(self, problem: str) -> None:
        """An exchange that got only garbage: it answered, but nothing it said parsed."""
        self._misses = 0
        self._unanswered += 1
        self.last_garbled = problem
        self._judge()

    def _judge(self) -> None:
        """The state after an exchange without a valid reply (see GARBLED_EXCHANGES)."""
        garbling = bool(self.last_garbled) and self._unanswered >= self._garbled_exchanges
        if garbling and self._misses < GARBLED_SILENT_MISSES:
            self.state = LinkState.GARBLED
        elif self._misses >= self._heartbeat_misses:
            self.state = LinkState.OFFLINE
        else:  # a timeout or two, or a garbled reply or two: not yet a state of its own
            self.state = LinkState.CONNECTED

    # -------------------------------------------------------------- weighing

    def _connected(self) -> Driver:
        if self._driver is None or self.state is LinkState.DISCONNECTED:
            raise BalanceDisconnected(f"balance disconnected ({self.last_error or 'not open'})")
        return self._driver

    def _guard(self, call: Callable[[Driver], Reading]) -> Reading:
        driver = self._connected()
        try:
            reading = call(driver)
        except BalanceDisconnected as error:
            self.last_error = str(error)
            self._drop()
            raise
        except ProtocolError as error:  # garbage until the request's time ran out
            self._garbled(str(error))
            raise
        self._answered()
        return reading

    def read_stable(self, timeout: float) -> Reading:
        """A stable weight from the current connection."""
        return self._guard(lambda d: d.read_stable(timeout))

    def read_immediate(self) -> Reading:
        """The weight now."""
        return self._guard(lambda d: d.read_immediate())

    def tare(self, timeout: float) -> Reading:
        """Tare when stable."""
        return self._guard(lambda d: d.tare(timeout))

    def zero(self, timeout: float) -> None:
        """Zero when stable."""
        driver = self._connected()
        try:
            driver.zero(timeout)
        except BalanceDisconnected:
            self._drop()
            raise
