"""The device side of a protocol: bytes in, bytes out, on the device's own clock.

A responder is sans-I/O. :meth:`Responder.receive` takes the bytes a host sent and returns
the bytes the device answers now; :meth:`Responder.poll` returns what became due since
(a blocking command that found stability or gave up, the next line of a stream), and
:meth:`Responder.next_deadline` says when to poll next. Commands that wait for stability
(MT-SICS ``S``, Ohaus ``SP``, A&D ``S``) wait in *device* time, up to the device's own
timeout, so a test with a fake clock runs them instantly. While such a command waits,
later commands queue behind it, except the protocol's cancel commands.
"""

from __future__ import annotations

import abc
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from scale_drivers.sim.device import Device, SerialSettings
from scale_drivers.sim.physics import OutOfRange, PanReading

Lines = list[str]
"""Reply lines, without their terminators."""

MAX_LINE = 256
"""Bytes a device buffers without a line end before it gives up on the line."""


@dataclass
class _Pending:
    """A command waiting for the balance: ``attempt`` returns its reply, or None to wait."""

    deadline: float
    attempt: Callable[[PanReading], Lines | None]
    give_up: Callable[[], Lines]


class Responder(abc.ABC):
    """Base of the protocol responders: framing, queueing, waiting, streaming, faults."""

    name: ClassVar[str]
    """The protocol's name as the simulator knows it (``mt_sics`` …)."""
    default_serial: ClassVar[SerialSettings]
    """Line settings the device uses out of the box."""
    default_stable_timeout: ClassVar[float]
    """Seconds the device waits for stability, when the scenario does not say."""
    line_end: ClassVar[bytes] = b"\r\n"

    def __init__(self, device: Device) -> None:
        self.device = device
        self._buffer = bytearray()
        self._queue: deque[bytes] = deque()
        self._out = bytearray()
        self._pending: _Pending | None = None
        self._stream: Callable[[], Lines] | None = None
        self._stream_next = 0.0

    # ------------------------------------------------------------------ public surface
    def receive(self, data: bytes) -> bytes:
        """Take bytes from the host; return what the device sends back now."""
        self._buffer += data
        for command in self._frame():
            if self._pending is not None and self._is_cancel(command):
                self._pending = None
                self._queue.clear()
                self._dispatch(command)
            else:
                self._queue.append(command)
        return self.poll()

    def poll(self) -> bytes:
        """What the device sends now without new input (waits ended, stream lines)."""
        if self._pending is not None:
            self._try_pending()
        while self._pending is None and self._queue:
            self._dispatch(self._queue.popleft())
        if self._stream is not None:
            now = self.device.now()
            if now >= self._stream_next:
                self._emit(self._stream())
                self._stream_next += self._stream_period
                if self._stream_next <= now:
                    self._stream_next = now + self._stream_period
        out = bytes(self._out)
        self._out.clear()
        return out

    def next_deadline(self) -> float | None:
        """Device time at which :meth:`poll` may have something new, or None."""
        times = []
        if self._pending is not None:
            times += [self._pending.deadline, self.device.balance.next_update()]
        if self._stream is not None:
            times.append(self._stream_next)
        return min(times) if times else None

    def reset(self) -> None:
        """Forget everything in flight (a replug or a new connection)."""
        self._buffer.clear()
        self._queue.clear()
        self._out.clear()
        self._pending = None
        self._stream = None

    @property
    def streaming(self) -> bool:
        """Whether a continuous output is running."""
        return self._stream is not None

    # ------------------------------------------------------------------ for subclasses
    @abc.abstractmethod
    def _handle(self, command: str) -> None:
        """Answer one command (decoded, without its line end)."""

    @abc.abstractmethod
    def _syntax_error(self) -> Lines:
        """The reply to a command the device does not know."""

    def _transmission_error(self) -> Lines:
        """The reply to a garbled command (parity or framing); a syntax error by default."""
        return self._syntax_error()

    def _is_cancel(self, command: bytes) -> bool:
        """Whether a command cancels a waiting one (and is answered at once)."""
        return False

    def _frame(self) -> list[bytes]:
        """Complete commands taken from the input buffer: lines ending in CR, LF or CR LF."""
        commands: list[bytes] = []
        while True:
            ends = [i for i in (self._buffer.find(b"\r"), self._buffer.find(b"\n")) if i >= 0]
            if not ends:
                if len(self._buffer) > MAX_LINE:
                    commands.append(bytes(self._buffer))
                    self._buffer.clear()
                return commands
            end = min(ends)
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if line:
                commands.append(line)

    def _emit(self, lines: Lines) -> None:
        for line in lines:
            self._out += line.encode("latin-1") + self.line_end

    def _reading(self) -> PanReading:
        return self.device.balance.reading()

    def _when_stable(self, action: Callable[[], object]) -> None:
        """Act like a key that needs stability (tare, zero): silently, once stable.

        Given up without a word at the device's timeout or when out of range.
        """

        def attempt(reading: PanReading) -> Lines | None:
            if reading.overload or reading.underload:
                return []
            if not reading.stable:
                return None
            with contextlib.suppress(OutOfRange):
                action()
            return []

        self._wait_for_balance(attempt, lambda: [])

    def _wait_for_balance(
        self, attempt: Callable[[PanReading], Lines | None], give_up: Callable[[], Lines]
    ) -> None:
        """Answer with ``attempt`` once it returns lines, or ``give_up`` at the timeout."""
        deadline = self.device.now() + self.device.stable_timeout
        self._pending = _Pending(deadline, attempt, give_up)
        self._try_pending()

    def _start_stream(self, line: Callable[[], Lines]) -> None:
        """Send ``line()`` now and then at every display update until stopped."""
        self._stream = line
        self._stream_next = self.device.now()
        self._emit(line())
        self._stream_next += self._stream_period

    def _stop_stream(self) -> None:
        self._stream = None

    @property
    def _stream_period(self) -> float:
        return 1.0 / self.device.balance.model.update_rate

    # ------------------------------------------------------------------ internals
    def _try_pending(self) -> None:
        pending = self._pending
        assert pending is not None
        reply = pending.attempt(self._reading())
        if reply is None and self.device.now() >= pending.deadline:
            reply = pending.give_up()
        if reply is not None:
            self._pending = None
            self._emit(reply)

    def _dispatch(self, raw: bytes) -> None:
        faults = self.device.faults
        if "syntax_error" in faults:
            self._emit(self._syntax_error())
            return
        if "transmission_error" in faults:
            self._emit(self._transmission_error())
            return
        try:
            command = raw.decode("ascii")
        except UnicodeDecodeError:
            self._emit(self._transmission_error())
            return
        self._handle(command)
