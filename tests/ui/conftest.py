"""Qt tests run offscreen and must leave no thread running behind them; the pharmacist's
world is shared by the pharmacist page's tests."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QThread

from tests.backends import Backend
from tests.ui.pharmacist_world import World, build_world

_started: list[QThread] = []
_original_start = QThread.start


def _tracking_start(self: QThread, *args, **kwargs):
    _started.append(self)
    return _original_start(self, *args, **kwargs)


@pytest.fixture(autouse=True)
def no_thread_left_running():
    """Fail a test that leaves a QThread or a Python thread running (napari's check)."""
    before = set(threading.enumerate())
    _started.clear()
    QThread.start = _tracking_start  # type: ignore[method-assign]
    try:
        yield
    finally:
        QThread.start = _original_start  # type: ignore[method-assign]
    running = [thread for thread in _started if thread.isRunning()]
    for thread in running:  # stop them anyway, so one leak does not crash the next test
        thread.quit()
        thread.wait(5000)
    deadline = time.monotonic() + 2.0
    leaked = []
    for thread in set(threading.enumerate()) - before:
        if isinstance(thread, threading._DummyThread):  # a QThread that ran Python code
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            leaked.append(thread.name)
    _started.clear()
    problems = [f"QThread {t.objectName() or t!r} still running" for t in running]
    problems += [f"Python thread {name!r} still running" for name in leaked]
    if problems:
        pytest.fail("test left threads running: " + "; ".join(problems))


@pytest.fixture
def world(backend: Backend) -> Iterator[World]:
    """A seeded record with work waiting for a pharmacist, on each backend."""
    yield from build_world(backend)

