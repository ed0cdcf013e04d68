r"""Serve a simulated balance on a real pseudo-terminal or on a TCP port.

A pty gives a device path that ``serial.Serial(path)`` opens unchanged; closing the master
behaves like a USB unplug. A TCP port on 127.0.0.1 serves ``socket://127.0.0.1:PORT``,
as an Ethernet balance does. One background thread moves the bytes; the protocol
responder decides what they are, the :class:`~scale_drivers.sim.physics.Balance` what the
pan weighs, and :mod:`scale_drivers.sim.faults` what goes wrong.

.. code-block:: python

    with SimulatorServer("mt_sics") as sim:          # default scenario: settled 100.00 g
        port = serial.Serial(sim.url, timeout=1)
        port.write(b"SI\r\n")
        port.readline()                               # b'S S     100.00 g\r\n'
        sim.balance.place("12.50")
        sim.inject("unplug")                          # the next read raises
        sim.replug()
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import random
import select
import signal
import socket
import sys
import threading
import time
import tty
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Literal, TextIO

from scale_drivers.sim.and_gx import AndGxResponder
from scale_drivers.sim.device import Device, SerialSettings
from scale_drivers.sim.faults import FaultSet, check_fault_name, corrupt
from scale_drivers.sim.mt_sics import MtSicsResponder
from scale_drivers.sim.ohaus import OhausResponder
from scale_drivers.sim.physics import Balance
from scale_drivers.sim.responder import Responder
from scale_drivers.sim.sbi import SbiResponder
from scale_drivers.sim.scenario import (
    Scenario,
    ScenarioError,
    Timeline,
    TimelineEvent,
    default_scenario,
    load_scenario,
)

Transport = Literal["pty", "tcp"]

PROTOCOLS: Mapping[str, type[Responder]] = {
    "mt_sics": MtSicsResponder,
    "sbi": SbiResponder,
    "ohaus": OhausResponder,
    "and_gx": AndGxResponder,
}
"""The protocols a simulator speaks, by name."""

TRANSPORTS: tuple[Transport, ...] = ("pty", "tcp")

OUTPUT_LIMIT = 64 * 1024
"""Bytes of output kept for a host that does not read; older output is lost, as from a UART."""

_CONTROL_TIMEOUT = 5.0


class _Request:
    """An action for the serving thread, and how it went."""

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action
        self.done = threading.Event()
        self.error: Exception | None = None


def make_responder(protocol: str, device: Device,
                   options: Mapping[str, bool] | None = None) -> Responder:
    """The responder for a protocol name, with the scenario's menu settings for it."""
    try:
        responder_class = PROTOCOLS[protocol]
    except KeyError:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of: "
                         + ", ".join(PROTOCOLS)) from None
    return responder_class(device, **(options or {}))


class SimulatorServer:
    """A simulated balance served on a pty (default) or a TCP port, from one thread.

    ``pacing_baud`` paces output like a wire at that baud rate (bits per character from the
    scenario's serial settings, else the protocol's). ``clock`` is the device clock (the
    balance, blocking commands, the timeline); ``seed`` makes noise and garbage repeatable.
    """

    def __init__(
        self,
        protocol: str = "mt_sics",
        scenario: Scenario | None = None,
        transport: Transport = "pty",
        pacing_baud: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        seed: int = 0,
        *,
        port: int = 0,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; expected one of: "
                             + ", ".join(PROTOCOLS))
        if transport not in TRANSPORTS:
            raise ValueError(f"unknown transport {transport!r}; expected one of: "
                             + ", ".join(TRANSPORTS))
        if pacing_baud is not None and pacing_baud <= 0:
            raise ValueError(f"pacing_baud must be positive, got {pacing_baud}")
        self.protocol = protocol
        self.scenario = scenario if scenario is not None else default_scenario()
        self.transport: Transport = transport
        self.pacing_baud = pacing_baud
        self._clock = clock
        responder_class = PROTOCOLS[protocol]
        self.device = self.scenario.build_device(
            clock=clock, seed=seed, default_stable_timeout=responder_class.default_stable_timeout)
        self.responder = make_responder(protocol, self.device,
                                        self.scenario.protocol_options(protocol))
        self.serial_settings: SerialSettings = (self.scenario.serial
                                                or responder_class.default_serial)
        self._garbage_rng = random.Random(seed + 1)
        self._requested_port = port
        self._link: Path | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._wake_r = -1
        self._wake_w = -1
        self._master = -1
        self._slave = -1
        self._pty_path: str | None = None
        self._listener: socket.socket | None = None
        self._conn: socket.socket | None = None
        self._port = 0
        self._url: str | None = None
        self._failure: BaseException | None = None
        self._out = bytearray()
        self._wire_at = 0.0
        self._timeline = Timeline(self.scenario.timeline, clock())

    # ------------------------------------------------------------------ public surface
    @property
    def balance(self) -> Balance:
        """The physical balance: place and remove loads on it."""
        return self.device.balance

    @property
    def faults(self) -> FaultSet:
        """The faults active now."""
        return self.device.faults

    @property
    def url(self) -> str:
        """What a host opens: the link or pty path, or ``socket://127.0.0.1:PORT``.

        While unplugged this is still the path or URL the device had (and comes back to,
        for a link or a TCP port).
        """
        if self._url is None:
            raise RuntimeError("the simulator has not been started")
        return self._url

    @property
    def pty_path(self) -> str | None:
        """The current pseudo-terminal's path (None over TCP or while unplugged)."""
        return self._pty_path

    @property
    def port(self) -> int:
        """The TCP port (0 over a pty)."""
        return self._port

    def start(self, link: Path | None = None) -> str:
        """Plug in and start serving; the path or URL a host opens.

        With ``link``, a symlink at that path always points to the current pty (like
        ``/dev/serial/by-id/…``): it disappears on unplug and comes back on replug, and
        the link path is what this returns.
        """
        if self._thread is not None:
            raise RuntimeError("the simulator is already running")
        if link is not None and self.transport != "pty":
            raise ValueError("a link is only kept for the pty transport")
        self._link = link
        self._stopping = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.faults.clear("unplug")  # a device starts plugged in
        try:
            self._plug()
        except OSError:
            self._close_all()
            raise
        self._timeline = Timeline(self.scenario.timeline, self._clock())
        self._thread = threading.Thread(target=self._serve, name=f"sim-{self.protocol}",
                                        daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving, join the thread and close every descriptor (idempotent)."""
        thread = self._thread
        if thread is not None:
            self._stopping = True
            self._wake()
            thread.join(_CONTROL_TIMEOUT)
            if thread.is_alive():
                raise RuntimeError("the simulator thread did not stop")
            self._thread = None
        self._close_all()
        failure, self._failure = self._failure, None
        if failure is not None:
            raise RuntimeError("the simulator thread failed") from failure

    def __enter__(self) -> SimulatorServer:
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def inject(self, fault: str) -> None:
        """Start a fault now (``unplug`` closes the port before this returns)."""
        check_fault_name(fault)
        if fault == "unplug":
            self._in_loop(self._unplug)
        else:
            self.faults.inject(fault)

    def clear(self, fault: str) -> None:
        """Stop a fault now; clearing ``unplug`` is :meth:`replug`."""
        check_fault_name(fault)
        if fault == "unplug":
            self._in_loop(self._replug)
        else:
            self.faults.clear(fault)

    def replug(self) -> None:
        """Plug back in: a new pty (the link follows it) or a new listener on the same port.

        Replugging a plugged device unplugs it first. With ``serial_change`` active the
        device now reports another serial number; without it, its own.
        """
        self._in_loop(self._replug)

    # ------------------------------------------------------------------ plugging
    def _plug(self) -> None:
        if self.transport == "pty":
            master, slave = os.openpty()
            tty.setraw(slave)
            os.set_blocking(master, False)
            self._master, self._slave = master, slave
            self._pty_path = os.ttyname(slave)
            self._url = self._pty_path
            if self._link is not None:
                temporary = self._link.with_name(f".{self._link.name}.{os.getpid()}.tmp")
                with contextlib.suppress(FileNotFoundError):
                    temporary.unlink()
                temporary.symlink_to(self._pty_path)
                temporary.replace(self._link)
                self._url = str(self._link)
        else:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind(("127.0.0.1", self._port or self._requested_port))
                listener.listen(1)
                listener.setblocking(False)
            except OSError:
                listener.close()
                raise
            self._listener = listener
            self._port = listener.getsockname()[1]
            self._url = f"socket://127.0.0.1:{self._port}"

    def _unplug(self) -> None:
        self.faults.inject("unplug")
        self._close_port()
        self.responder.reset()

    def _replug(self) -> None:
        if "unplug" not in self.faults:
            self._unplug()
        self.faults.clear("unplug")
        identity = self.scenario.identity
        if "serial_change" in self.faults:
            identity = identity.with_serial_number(self.scenario.changed_serial_number)
        self.device.identity = identity
        self.responder.reset()
        if self._wake_r >= 0:  # started: plug in now (else start() will)
            self._plug()

    def _close_port(self) -> None:
        self._out.clear()
        for name in ("_master", "_slave"):
            fd = getattr(self, name)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)
        self._pty_path = None
        if self._link is not None:
            with contextlib.suppress(FileNotFoundError):
                self._link.unlink()
        self._drop_connection()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _close_all(self) -> None:
        self._close_port()
        for name in ("_wake_r", "_wake_w"):
            fd = getattr(self, name)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)

    # ------------------------------------------------------------------ control
    def _wake(self) -> None:
        if self._wake_w >= 0:
            with contextlib.suppress(BlockingIOError):
                os.write(self._wake_w, b"\0")

    def _in_loop(self, action: Callable[[], None]) -> None:
        """Run ``action`` on the serving thread (or here, when none runs) and wait for it."""
        thread = self._thread
        if thread is None or threading.current_thread() is thread:
            action()
            return
        request = _Request(action)
        self._requests.put(request)
        self._wake()
        if not request.done.wait(_CONTROL_TIMEOUT):
            raise RuntimeError("the simulator thread did not answer")
        if request.error is not None:
            raise request.error

    def _run_requests(self) -> None:
        while True:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                return
            try:
                request.action()
            except Exception as error:  # handed to the thread that asked
                request.error = error
            finally:
                request.done.set()

    def _apply(self, event: TimelineEvent) -> None:
        balance = self.balance
        if event.action == "place" and event.mass is not None:
            balance.place(event.mass)
        elif event.action == "remove" and event.mass is not None:
            balance.remove(event.mass)
        elif event.action == "set_load" and event.mass is not None:
            balance.set_load(event.mass)
        elif event.action == "fault" and event.fault is not None:
            self.inject(event.fault)
        elif event.action == "clear" and event.fault is not None:
            self.clear(event.fault)

    # ------------------------------------------------------------------ the loop
    def _serve(self) -> None:
        try:
            self._serve_until_stopped()
        except Exception as error:  # kept for stop() to raise
            self._failure = error
            self._run_requests()

    def _serve_until_stopped(self) -> None:
        while not self._stopping:
            self._run_requests()
            for event in self._timeline.due(self._clock()):
                try:
                    self._apply(event)
                except OSError:
                    self.faults.inject("unplug")  # a replug that failed stays unplugged
            self._queue_output(self.responder.poll())
            readable: list[int | socket.socket] = [self._wake_r]
            if self._master >= 0:
                readable.append(self._master)
            readable += [s for s in (self._listener, self._conn) if s is not None]
            writable: list[int | socket.socket] = []
            target = self._target()
            if self._out and target is not None and self._writable_now():
                writable.append(target)
            ready, can_write, _ = select.select(readable, writable, [], self._timeout())
            if self._wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 4096)
            self._read_input(ready)
            if can_write:
                self._write_output()

    def _target(self) -> int | socket.socket | None:
        if self._master >= 0:
            return self._master
        return self._conn

    def _timeout(self) -> float:
        limit = 1.0 if self._clock is time.monotonic else 0.05
        times = [limit]
        now = self._clock()
        for deadline in (self.responder.next_deadline(), self._timeline.next_time()):
            if deadline is not None:
                times.append(max(0.0, deadline - now))
        if self._out and not self._writable_now():
            times.append(max(0.0, self._wire_at + self._char_time - time.monotonic()))
        return min(times)

    @property
    def _char_time(self) -> float:
        if self.pacing_baud is None:
            return 0.0
        return self.serial_settings.bits_per_character / self.pacing_baud

    def _writable_now(self) -> bool:
        return self.pacing_baud is None or time.monotonic() >= self._wire_at + self._char_time

    def _read_input(self, ready: list[int | socket.socket]) -> None:
        data = b""
        if self._master >= 0 and self._master in ready:
            try:
                data = os.read(self._master, 4096)
            except BlockingIOError:
                data = b""
            except OSError as error:
                if error.errno != errno.EIO:
                    raise
        if self._listener is not None and self._listener in ready:
            self._accept()
        if self._conn is not None and self._conn in ready:
            try:
                data = self._conn.recv(4096)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._drop_connection()
                self.responder.reset()
                return
        if data and "silent" not in self.faults:
            self._queue_output(self.responder.receive(data))

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            conn, _ = self._listener.accept()
        except BlockingIOError:
            return
        self._drop_connection()  # one host at a time, like most Ethernet balances
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._conn = conn
        self._out.clear()
        self.responder.reset()

    def _queue_output(self, data: bytes) -> None:
        if not data or "silent" in self.faults or "unplug" in self.faults:
            return
        if self._target() is None:
            return  # nobody connected: the bytes go nowhere
        if "garbage" in self.faults:
            data = corrupt(data, self._garbage_rng)
        if not self._out:
            self._wire_at = max(self._wire_at, time.monotonic())
        self._out += data
        if len(self._out) > OUTPUT_LIMIT:
            del self._out[: len(self._out) - OUTPUT_LIMIT]

    def _write_output(self) -> None:
        count = len(self._out)
        if self.pacing_baud is not None:
            due = int((time.monotonic() - self._wire_at) / self._char_time)
            count = max(1, min(count, due))
        chunk = bytes(self._out[:count])
        try:
            if self._master >= 0:
                written = os.write(self._master, chunk)
            elif self._conn is not None:
                written = self._conn.send(chunk)
            else:
                return
        except BlockingIOError:
            return
        except OSError:
            self._out.clear()
            if self._conn is not None:
                self._drop_connection()
                self.responder.reset()
            return
        del self._out[:written]
        if self.pacing_baud is not None:
            self._wire_at += written * self._char_time


def run_simulator(
    protocol: str,
    scenario_path: str | os.PathLike[str] | None = None,
    transport: str = "pty",
    out: TextIO | None = None,
    *,
    stop: threading.Event | None = None,
) -> int:
    """Serve a simulated balance until SIGINT or SIGTERM; the exit status.

    Without ``scenario_path`` the default scenario is served: a settled 100.00 g load on a
    220 g × 0.01 g balance that identifies as maker "IV Station", model "SIM-220", serial
    number "SIM0000001" (``fixtures/scenarios/settled.toml`` holds the same). The first line
    written to ``out`` (default: standard output) is the device path, or the
    ``socket://127.0.0.1:PORT`` URL, and nothing else, flushed at once. Returns 0 after a
    clean stop, 2 (with a one-line message on standard error) for an unknown protocol or
    transport or a bad scenario file. ``stop`` ends serving from another thread; signal
    handlers are installed only when called from the main thread.
    """
    out = out if out is not None else sys.stdout
    try:
        scenario = load_scenario(scenario_path) if scenario_path is not None else None
        if transport not in TRANSPORTS:
            raise ValueError(f"unknown transport {transport!r}; expected one of: "
                             + ", ".join(TRANSPORTS))
        server = SimulatorServer(protocol, scenario, transport)
    except (ScenarioError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finished = stop if stop is not None else threading.Event()
    previous: dict[signal.Signals, Any] = {}

    def on_signal(number: int, frame: FrameType | None) -> None:
        finished.set()

    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGINT, signal.SIGTERM):
            previous[number] = signal.signal(number, on_signal)
    try:
        with server:
            print(server.url, file=out, flush=True)
            while not finished.wait(0.2):
                pass
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0
