"""What every line-based balance driver shares: ask, wait for the answer, recover.

A protocol module supplies a pure codec (command -> bytes, line -> reply) and says which
reply answers which command; :class:`LineDriver` does the rest: flush stale input before
each command, wait for the answer until a deadline, and after garbage or a timeout
resynchronise and retry within the same deadline. A garbled line is never a weight.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, Protocol, TypeVar

from scale_drivers.api import (
    BalanceInfo,
    BalanceTimeout,
    CommandNotExecutable,
    NotStable,
    ProtocolError,
    Reading,
)
from scale_drivers.framing import FramingOverflow, LineFramer
from scale_drivers.stability import StabilityWindow
from scale_drivers.transport import Port

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

# How long an immediate command may take to be answered; generous for 1200 baud.
RESPONSE_TIMEOUT = 1.0
# How many consecutive stable readings within ±1 d make the application's stability window.
STABILITY_COUNT = 3
# The least time between two polls while waiting for stability (balances update 2-20 Hz).
POLL_INTERVAL = 0.05


class Clock(Protocol):
    """Where readings get their timestamps."""

    def utc(self) -> dt.datetime:
        """Now, in UTC."""
        ...

    def monotonic(self) -> float:
        """A monotonic time in seconds."""
        ...


class SystemClock:
    """The machine's clocks."""

    def utc(self) -> dt.datetime:
        """Now, in UTC."""
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()


class Codec(Protocol[R_co]):
    """A protocol's pure half: commands to bytes, lines to replies."""

    def encode(self, command: str) -> bytes:
        """The bytes that send ``command``."""
        ...

    def parse(self, line: str) -> R_co | None:
        """The reply a line holds, None for a line to ignore; raises ProtocolError if garbled."""
        ...


@dataclass(frozen=True)
class Weight:
    """A weight reply, as a protocol module decodes it."""

    value: Decimal
    unit: str
    stable: bool
    raw: str


class LineDriver(Generic[R]):
    """Request/response over a :class:`~scale_drivers.transport.Port` with a codec of ``R``."""

    maker = ""

    def __init__(
        self,
        transport: Port,
        codec: Codec[R],
        *,
        clock: Clock | None = None,
        stability_count: int = STABILITY_COUNT,
        response_timeout: float = RESPONSE_TIMEOUT,
    ) -> None:
        self.transport = transport
        self.codec = codec
        self.clock: Clock = clock or SystemClock()
        self.stability_count = stability_count
        self.response_timeout = response_timeout
        self.info: BalanceInfo | None = None
        self._framer = LineFramer()

    # -------------------------------------------------------------- the exchange

    def exchange(
        self,
        command: str,
        accepts: Callable[[R], bool],
        timeout: float | None = None,
        *,
        until: Callable[[R], bool] | None = None,
    ) -> list[R]:
        """Send ``command`` and return the replies that answer it.

        ``accepts`` tells a reply to this command from a late one to something else (which
        is dropped). With ``until``, replies are collected until one satisfies it
        (multi-line answers); otherwise the first accepted reply ends the exchange.
        Garbage triggers a resynchronisation and a retry while time remains.
        """
        deadline = time.monotonic() + (self.response_timeout if timeout is None else timeout)
        last_problem = ""
        while True:
            try:
                return self._attempt(command, accepts, until, deadline)
            except ProtocolError as error:
                last_problem = str(error)
            except BalanceTimeout:
                self.resync(time.monotonic() + self.response_timeout)
                if last_problem:
                    # Time ran out retrying garbage: the garbage is what to report.
                    raise ProtocolError(f"protocol error: {last_problem}") from None
                raise
            if time.monotonic() >= deadline:
                # Leave the line clean for the next command, then name what went wrong.
                self.resync(time.monotonic() + self.response_timeout)
                raise ProtocolError(f"protocol error: {last_problem}")
            self.resync(deadline)

    def _attempt(
        self,
        command: str,
        accepts: Callable[[R], bool],
        until: Callable[[R], bool] | None,
        deadline: float,
    ) -> list[R]:
        self.transport.flush_input()
        self._framer.reset()
        self.transport.write(self.codec.encode(command))
        replies: list[R] = []
        while True:
            for reply in self._replies(deadline, command):
                if not accepts(reply):
                    continue
                replies.append(reply)
                if until is None or until(reply):
                    return replies

    def _replies(self, deadline: float, command: str) -> list[R]:
        data = self.transport.read(deadline)
        if not data:
            raise BalanceTimeout(f"no response to {command!r} from {self.transport.url}")
        try:
            lines = self._framer.feed(data)
        except FramingOverflow as error:
            raise ProtocolError(f"{error} after {command!r}") from None
        replies = []
        for line in lines:
            reply = self.codec.parse(line)
            if reply is not None:
                replies.append(reply)
        return replies

    def resync(self, deadline: float) -> None:
        """Bring the line back to a known state; protocols with a reset command override."""
        self._framer.reset()
        quiet = min(deadline, time.monotonic() + 0.1)
        while self.transport.read(quiet):
            quiet = min(deadline, time.monotonic() + 0.1)
        self.transport.flush_input()

    # -------------------------------------------------------------- what a protocol supplies

    def identify(self) -> BalanceInfo:
        """Ask the balance who it is; fills :attr:`info`."""
        raise NotImplementedError

    def tare(self, timeout: float) -> Reading:
        """Tare when stable; the tare weight taken."""
        raise NotImplementedError

    def zero(self, timeout: float) -> None:
        """Zero when stable."""
        raise NotImplementedError

    # -------------------------------------------------------------- shared behaviour

    def read_weight_now(self) -> Weight:
        """One immediate weight reply; protocols implement it."""
        raise NotImplementedError

    def command_for_now(self) -> str:
        """The command :meth:`read_weight_now` sends, for the record."""
        raise NotImplementedError

    def reading(self, weight: Weight, command: str) -> Reading:
        """A timestamped :class:`Reading` of a decoded weight."""
        return Reading(weight.value, weight.unit, weight.stable, weight.raw, command,
                       self.clock.utc(), self.clock.monotonic())

    def read_immediate(self) -> Reading:
        """The weight now, stable or not."""
        return self.reading(self.read_weight_now(), self.command_for_now())

    def read_stable(self, timeout: float) -> Reading:
        """Poll until the balance's flag and the stability window agree, or :class:`NotStable`.

        Overload, underload and a lost balance end the wait at once with their own error.
        """
        deadline = time.monotonic() + timeout
        window: StabilityWindow | None = None
        while True:
            started = time.monotonic()
            weight = self.read_weight_now()
            if window is None:
                window = StabilityWindow(self.stability_count, self._readability(weight))
            if window.add(weight.value, weight.stable):
                return self.reading(weight, self.command_for_now())
            if time.monotonic() >= deadline:
                raise NotStable(f"not stable within {timeout:g} s (last {weight.raw.strip()!r})")
            pause = POLL_INTERVAL - (time.monotonic() - started)
            if pause > 0:
                time.sleep(min(pause, max(deadline - time.monotonic(), 0)))

    def wait_for_zero(self, deadline: float, action: str) -> None:
        """Poll until the stability window holds at zero, after a tare or zero key press.

        For protocols whose tare and zero commands are key presses with no result (SBI,
        Ohaus, A&D): the window must see ``stability_count`` stable readings within ±1 d
        of zero. A balance busy with the key press (:class:`CommandNotExecutable`) is
        polled again; overload, underload and a lost balance end the wait at once. A
        stable reading away from zero until ``deadline`` means the key press was refused.
        """
        window: StabilityWindow | None = None
        last_weight: Weight | None = None
        last_busy = ""
        while True:
            started = time.monotonic()
            try:
                weight = self.read_weight_now()
            except CommandNotExecutable as error:
                last_busy, window = str(error), None
            else:
                last_weight, last_busy = weight, ""
                if window is None:
                    window = StabilityWindow(self.stability_count, self._readability(weight))
                if window.add(weight.value,
                              weight.stable and abs(weight.value) <= window.readability):
                    return
            if time.monotonic() >= deadline:
                raise _not_at_zero(action, last_weight, last_busy)
            pause = POLL_INTERVAL - (time.monotonic() - started)
            if pause > 0:
                time.sleep(min(pause, max(deadline - time.monotonic(), 0)))

    def _readability(self, weight: Weight) -> Decimal:
        if self.info is not None and self.info.readability is not None:
            return self.info.readability
        return decimals_step(weight.value)

    def close(self) -> None:
        """Release the port."""
        self.transport.close()


def _not_at_zero(action: str, weight: Weight | None, busy: str) -> Exception:
    """Why a tare or zero was not confirmed: still busy, refused, or never settled."""
    if busy:
        return CommandNotExecutable(f"{action} not confirmed: {busy}")
    if weight is not None and weight.stable:
        return CommandNotExecutable(
            f"{action} not carried out: the balance still shows {weight.raw.strip()!r}")
    last = weight.raw.strip() if weight is not None else ""
    return NotStable(f"not stable at zero after {action} (last {last!r})")


def decimals_step(value: Decimal) -> Decimal:
    """The step the printed decimals show: 100.00 -> 0.01, 12 -> 1."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return Decimal(1).scaleb(min(exponent, 0))

