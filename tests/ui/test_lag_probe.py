"""The event-loop lag probe: nearest-rank summaries, a blocked GUI thread seen, a clean stop."""

from __future__ import annotations

import dataclasses
import doctest
import random
import time

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

import ui.shell.lag_probe
from benchmarks.bench_gui import measure
from ui.shell.lag_probe import EventLoopLagProbe, LagSummary, nearest_rank, summarize


def test_the_documented_examples_hold() -> None:
    result = doctest.testmod(ui.shell.lag_probe)
    assert result.attempted >= 6
    assert result.failed == 0


def test_summarize_one_to_a_hundred_in_any_order() -> None:
    samples = [float(n) for n in range(1, 101)]
    random.Random(3).shuffle(samples)
    assert summarize(samples) == LagSummary(count=100, p50=50.0, p95=95.0, p99=99.0, max=100.0)


def test_ranks_are_computed_exactly() -> None:
    # 0.95 × 20 is 19.000000000000004 in floats: a float ceil would pick rank 20.
    summary = summarize([float(n) for n in range(20, 0, -1)])
    assert summary == LagSummary(count=20, p50=10.0, p95=19.0, p99=20.0, max=20.0)


def test_summarize_few_and_repeated_samples() -> None:
    assert summarize([3.0, 0.0, 0.0, 1.5]) == LagSummary(4, 0.0, 3.0, 3.0, 3.0)
    assert summarize([0.25]) == LagSummary(1, 0.25, 0.25, 0.25, 0.25)
    # 200 ticks at 5 ms: p99 is rank 198, so the two worst ticks are above it.
    samples = [0.1] * 197 + [4.0, 20.0, 120.0]
    assert summarize(samples) == LagSummary(200, 0.1, 0.1, 4.0, 120.0)


def test_nearest_rank_bounds() -> None:
    ordered = [1.0, 2.0, 3.0]
    assert nearest_rank(ordered, 0) == 1.0
    assert nearest_rank(ordered, 34) == 2.0
    assert nearest_rank(ordered, 100) == 3.0
    for percent in (-1, 101):
        with pytest.raises(ValueError, match="percent"):
            nearest_rank(ordered, percent)


def test_no_samples_is_an_error_not_a_zero_lag() -> None:
    with pytest.raises(ValueError, match="no lag samples"):
        summarize([])
    with pytest.raises(ValueError, match="no samples"):
        nearest_rank([], 50)


def test_a_summary_is_frozen() -> None:
    summary = summarize([1.0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.p99 = 0.0  # type: ignore[misc]


def test_the_interval_must_be_positive(qapp: QApplication) -> None:
    with pytest.raises(ValueError, match="interval_ms"):
        EventLoopLagProbe(interval_ms=0)
    assert EventLoopLagProbe().interval_ms == 5


def test_the_probe_sees_the_gui_thread_blocked_for_100_ms(qtbot: QtBot) -> None:
    probe = EventLoopLagProbe(interval_ms=5)
    probe.start()
    QTimer.singleShot(100, lambda: time.sleep(0.1))
    qtbot.wait(400)
    probe.stop()

    samples = probe.samples
    assert len(samples) > 10
    assert min(samples) >= 0.0
    assert max(samples) >= 90.0  # 100 ms, less at most one interval already gone by
    assert probe.summary().max == max(samples)
    assert probe.summary().count == len(samples)


def test_the_probe_stops_cleanly_and_starts_afresh(qtbot: QtBot) -> None:
    probe = EventLoopLagProbe(interval_ms=2)
    with pytest.raises(ValueError, match="no lag samples"):
        probe.summary()
    assert not probe.running

    probe.start()
    assert probe.running
    qtbot.waitUntil(lambda: len(probe.samples) >= 5, timeout=2000)
    probe.stop()
    assert not probe.running
    stopped_with = probe.samples
    qtbot.wait(50)
    assert probe.samples == stopped_with  # no tick after stop
    probe.stop()  # a second stop is harmless
    assert probe.samples == stopped_with

    probe.start()
    assert probe.samples == ()  # start forgets the earlier run
    qtbot.waitUntil(lambda: len(probe.samples) >= 1, timeout=2000)
    probe.stop()

    with qtbot.waitSignal(probe.destroyed, timeout=1000):
        probe.deleteLater()


@pytest.mark.slow  # every device running for a benchmark phase
def test_the_gui_benchmark_runs_every_device_and_leaves_no_thread(qapp: QApplication) -> None:
    result = measure(1.0)
    assert result.idle.lag.count > 0
    assert result.load.lag.count > 0
    assert result.counts.frames_shown > 0
    assert result.counts.frames_decoded > 0
    assert result.counts.readings > 0
    assert result.threads_left == ()
