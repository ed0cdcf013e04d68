"""Decode the newest camera frame on a worker thread; skip frames, never queue them.

The preview runs at the camera's rate while decoding takes what it takes: each submitted
frame replaces any frame still waiting, so the decoder always works on the newest one and
latency never builds up. Results go to a callback on the worker thread (a Qt view hands
them to the GUI thread with a signal).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class DecodeStats:
    """What the worker has done so far."""

    submitted: int
    decoded: int
    skipped: int
    failed: int
    busy_seconds: float


class LatestFrameDecoder(Generic[T, R]):
    """One thread that decodes the latest submitted item with ``decode``."""

    def __init__(
        self,
        decode: Callable[[T], R],
        on_result: Callable[[T, R, float], None],
        *,
        on_error: Callable[[T, BaseException], None] | None = None,
        name: str = "decoder",
    ) -> None:
        self._decode = decode
        self._on_result = on_result
        self._on_error = on_error
        self._condition = threading.Condition()
        self._waiting: T | None = None
        self._has_waiting = False
        self._running = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._submitted = self._decoded = self._skipped = self._failed = 0
        self._busy = 0.0

    def start(self) -> None:
        """Start the worker thread."""
        self._running = True
        self._thread.start()

    def submit(self, item: T) -> None:
        """Offer a frame; it replaces a frame still waiting (which is then skipped)."""
        with self._condition:
            self._submitted += 1
            if self._has_waiting:
                self._skipped += 1
            self._waiting, self._has_waiting = item, True
            self._condition.notify()

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the frame in hand, drop any waiting one, and end the thread."""
        with self._condition:
            self._running = False
            self._condition.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def stats(self) -> DecodeStats:
        """Counts so far."""
        with self._condition:
            return DecodeStats(self._submitted, self._decoded, self._skipped, self._failed,
                               self._busy)

    def _run(self) -> None:
        while True:
            with self._condition:
                while self._running and not self._has_waiting:
                    self._condition.wait()
                if not self._running:
                    return
                item = self._waiting
                self._waiting, self._has_waiting = None, False
            assert item is not None
            started = time.perf_counter()
            try:
                result = self._decode(item)
            except Exception as error:  # a bad frame must not kill the decoder
                with self._condition:
                    self._failed += 1
                if self._on_error is not None:
                    self._on_error(item, error)
                continue
            elapsed = time.perf_counter() - started
            with self._condition:
                self._decoded += 1
                self._busy += elapsed
            self._on_result(item, result, elapsed)
