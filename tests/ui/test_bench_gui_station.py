"""The GUI benchmark's station phase: one preparation, from sign-in to held, no thread left."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from benchmarks.bench_gui import measure_station

#: A benchmark phase: a whole preparation in the station window.
pytestmark = pytest.mark.slow


def test_the_station_phase_holds_one_preparation_and_stops_every_thread(
        qapp: QApplication) -> None:
    run = measure_station(0.1)  # shorter than one preparation: exactly one is done
    assert run.preparations == 1
    assert len(run.sign_in_ms) == 1
    assert len(run.sign_in_ticks_ms) == 1
    assert run.phase.lag.count > 0
    assert run.without_sign_ins is not None
    assert run.counts.frames_shown > 0
    assert run.counts.stable_readings > 0
    assert run.orders_available >= 1
    assert run.threads_left == ()
