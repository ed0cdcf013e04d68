"""How long the GUI thread's event loop keeps a timer waiting: the event-loop lag.

:class:`EventLoopLagProbe` runs a precise repeating :class:`QTimer` on the thread it lives on
(the GUI thread). Each tick records how late it fired: the time since the previous tick
(or since :meth:`EventLoopLagProbe.start`, for the first), minus the interval, never below
zero. A slot that holds the event loop for 100 ms shows up as one sample of about 100 ms
less the part of an interval that had already gone by; an idle loop gives samples near zero.

:func:`summarize` turns samples into a frozen :class:`LagSummary` (count, p50, p95, p99, max)
with nearest-rank percentiles (:func:`nearest_rank`), so every figure is one of the samples.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QTimer

#: The probe's default tick interval (ms).
DEFAULT_INTERVAL_MS = 5


def nearest_rank(ordered: Sequence[float], percent: int) -> float:
    """The ``percent``-th percentile of ascending ``ordered`` by the nearest-rank method.

    The value at rank ⌈percent × n / 100⌉ (1-based; rank 1 for percent 0): the smallest
    sample that at least ``percent`` % of the samples are less than or equal to. The rank is
    computed in integers, so 95 % of 20 samples is rank 19 exactly.

    >>> nearest_rank([1.0, 2.0, 3.0, 4.0], 50)
    2.0
    >>> nearest_rank([1.0, 2.0, 3.0, 4.0], 51)
    3.0
    >>> nearest_rank([float(n) for n in range(1, 21)], 95)
    19.0
    >>> nearest_rank([7.0], 99)
    7.0
    """
    if not ordered:
        raise ValueError("no samples")
    if not 0 <= percent <= 100:
        raise ValueError(f"percent must be within 0..100, got {percent}")
    rank = max(1, -(-percent * len(ordered) // 100))
    return ordered[rank - 1]


@dataclass(frozen=True)
class LagSummary:
    """Event-loop lag figures, in milliseconds."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float


def summarize(samples: Sequence[float]) -> LagSummary:
    """Count, nearest-rank p50/p95/p99 and max of lag samples (ms); ValueError when empty.

    >>> summarize([float(n) for n in range(100, 0, -1)])
    LagSummary(count=100, p50=50.0, p95=95.0, p99=99.0, max=100.0)
    >>> summarize([0.5, 12.0, 0.25])
    LagSummary(count=3, p50=0.5, p95=12.0, p99=12.0, max=12.0)
    """
    ordered = sorted(samples)
    if not ordered:
        raise ValueError("no lag samples to summarize")
    return LagSummary(
        count=len(ordered),
        p50=nearest_rank(ordered, 50),
        p95=nearest_rank(ordered, 95),
        p99=nearest_rank(ordered, 99),
        max=ordered[-1],
    )


class EventLoopLagProbe(QObject):
    """A precise timer on this object's thread that records how late each tick fires (ms).

    Create it on the GUI thread; :meth:`start` clears earlier samples, :meth:`stop` stops the
    timer (both may be called again). The ticks themselves cost a few microseconds each.
    """

    def __init__(self, interval_ms: int = DEFAULT_INTERVAL_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        if interval_ms <= 0:
            raise ValueError(f"interval_ms must be positive, got {interval_ms}")
        self._interval_ms = interval_ms
        self._interval_s = interval_ms / 1000
        self._samples: list[float] = []
        self._previous = 0.0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_tick)

    @property
    def interval_ms(self) -> int:
        """The interval between ticks (ms)."""
        return self._interval_ms

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._timer.isActive()

    @property
    def samples(self) -> tuple[float, ...]:
        """How late each tick fired since the last :meth:`start` (ms, ≥ 0), in order."""
        return tuple(self._samples)

    def summary(self) -> LagSummary:
        """:func:`summarize` of the samples so far (ValueError before the first tick)."""
        return summarize(self._samples)

    def start(self) -> None:
        """Forget earlier samples and start ticking."""
        self._samples.clear()
        self._previous = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        """Stop ticking; the samples stay until the next :meth:`start`."""
        self._timer.stop()

    def _on_tick(self) -> None:
        now = time.perf_counter()
        late = now - self._previous - self._interval_s
        self._previous = now
        self._samples.append(max(0.0, late) * 1000)
