"""Faults a scenario or a test can switch on and off while a simulator runs.

=====================  ===================================================================
``unplug``             the pty master closes (a USB unplug): the driver's next read or write
                       raises; over TCP the connection and the listener close. Clearing it
                       is a replug.
``silent``             the port stays open and input is read, but the device never answers
                       (a balance switched off behind an RS-232 adapter).
``garbage``            every reply is corrupted: lines of random bytes or mangled characters.
``overload``           the balance reads over its capacity.
``underload``          the balance reads under its range (pan missing).
``never_stable``       the balance never reports a stable reading.
``slow_stability``     stability takes longer than the device's own timeout, so blocking
                       commands give up (MT-SICS ``S`` answers ``S I``).
``syntax_error``       every command is answered with the protocol's syntax error (``ES``).
``transmission_error`` every command is answered with the protocol's transmission error
                       (MT-SICS ``ET``; protocols without one answer as for a syntax error).
``serial_change``      after the next replug the device reports a different serial number.
=====================  ===================================================================

>>> faults = FaultSet(clock=lambda: 5.0)
>>> faults.inject("silent")
>>> "silent" in faults, faults.injected_at("silent")
(True, 5.0)
>>> faults.inject("unplugged")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
scale_drivers.sim.faults.UnknownFault: unknown fault 'unplugged'; expected one of: unplug, ...
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

FAULT_NAMES: tuple[str, ...] = (
    "unplug",
    "silent",
    "garbage",
    "overload",
    "underload",
    "never_stable",
    "slow_stability",
    "syntax_error",
    "transmission_error",
    "serial_change",
)


class UnknownFault(ValueError):
    """A fault name the simulator does not know."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown fault {name!r}; expected one of: {', '.join(FAULT_NAMES)}")


def check_fault_name(name: str) -> str:
    """The name itself when it names a fault, else :class:`UnknownFault`."""
    if name not in FAULT_NAMES:
        raise UnknownFault(name)
    return name


class FaultSet:
    """The faults active now, with the device time each one started. Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._active: dict[str, float] = {}

    def inject(self, name: str) -> None:
        """Start a fault (starting an active fault again keeps its start time)."""
        check_fault_name(name)
        with self._lock:
            self._active.setdefault(name, self._clock())

    def clear(self, name: str) -> None:
        """Stop a fault; stopping an inactive fault does nothing."""
        check_fault_name(name)
        with self._lock:
            self._active.pop(name, None)

    def clear_all(self) -> None:
        """Stop every fault."""
        with self._lock:
            self._active.clear()

    def injected_at(self, name: str) -> float | None:
        """Device time the fault started, or None when it is not active."""
        with self._lock:
            return self._active.get(name)

    def active(self) -> frozenset[str]:
        """Names of the faults active now."""
        with self._lock:
            return frozenset(self._active)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._active


def corrupt(data: bytes, rng: random.Random) -> bytes:
    r"""Data as a faulty line delivers it: each line either random bytes or mangled.

    Half the lines become random bytes of the same length (no terminator, so lines run
    together); the others keep their terminator with about a third of their characters
    replaced by random bytes, some of them outside ASCII.

    >>> corrupt(b"", random.Random(1))
    b''
    >>> corrupt(b"S S      1.00 g\r\n", random.Random(1)) != b"S S      1.00 g\r\n"
    True
    """
    out = bytearray()
    for line in data.splitlines(keepends=True):
        body = line.rstrip(b"\r\n")
        ending = line[len(body):]
        if rng.random() < 0.5:
            out += bytes(rng.randrange(256) for _ in line)
            continue
        mangled = bytearray(body)
        for index in range(len(mangled)):
            if rng.random() < 1 / 3:
                mangled[index] = rng.randrange(256)
        if mangled == body and mangled:
            mangled[rng.randrange(len(mangled))] ^= 0x80
        out += mangled + (ending or b"")
    return bytes(out)
