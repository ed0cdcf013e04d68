"""Child process for the whole-app crash test: the real station prepares doses until killed.

Run as ``python -m tests.ui.crash_app_child FOLDER SEED MODE``. It builds the station with
:func:`ui.shell.app.build_station` on the record ``FOLDER/station.db`` (photos in
``FOLDER/photos``),
the simulated balance on a pseudo-terminal and the simulated camera, signs in as the demo
technician with keys, and prepares doses with the demo hood acting out each step. ``MODE``
``run`` goes on preparing until it is killed; ``finish`` carries the preparation it reopened
(or a new one) to held for verification, then closes the station and exits 0;
``crash-after-created`` SIGKILLs itself the moment a new preparation's creation is recorded,
before its start is: the worst moment, between the two writes of starting an order.

Each report is one line written in one ``write`` to the file descriptor that was stdout
(anything else printed goes to stderr), so a kill never leaves half a report:

- ``up``: the station is built and shown;
- ``reopened PREP N`` after sign-in, the preparation the window reopened with its N events,
  or ``fresh`` when the record holds nothing this technician left open here;
- ``event PREP INDEX KIND AT PHOTO``: the preparation's INDEX-th workflow event (``PHOTO`` its
  photo's SHA-256, else ``-``), as the hood worker announced it after the append returned;
- ``check PASSED``: a daily balance check the hood worker announced as recorded;
- ``held PREP``: the preparation is held for a pharmacist's verification.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from station.core.recipe import StepKind, build_recipe
from station.core.workflow import Phase, PhotoTaken, Preparation
from station.records.order_book import OrderBook
from station.services.order_progress import OrderProgress
from station.services.preparations import PreparationService
from tests.ui.relay import Relay
from tests.ui.station_driver import Technician, demo_config, local_clock
from ui.shell.app import Station, build_station

USER = "tech.demo"
#: How long the child waits for the window to reopen a preparation or start an order (ms).
PAGE_TIMEOUT_MS = 15_000


class Bot:
    """The part of pytest-qt's ``qtbot`` that :class:`Technician` uses, without pytest."""

    @staticmethod
    def keyClick(widget: QWidget, key: str | Qt.Key) -> None:  # noqa: N802
        """Press and release one key (a character or a ``Qt.Key``)."""
        QTest.keyClick(widget, key)  # type: ignore[arg-type]  # PySide's stubs omit str keys

    @staticmethod
    def wait(ms: int) -> None:
        """Run the event loop for ``ms`` milliseconds."""
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def waitUntil(self, callback: Callable[[], object], *, timeout: int = 5000) -> None:  # noqa: N802
        """Run the event loop until ``callback()`` is true; TimeoutError after ``timeout`` ms."""
        deadline = time.monotonic() + timeout / 1000
        while not callback():
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout} ms for {callback}")
            self.wait(10)


class Reporter:
    """Writes one line per report to ``fd``; hears the hood worker on the main thread."""

    def __init__(self, fd: int, station: Station) -> None:
        self._fd = fd
        self._reported: dict[str, int] = {}  # per preparation: events reported
        self._held: set[str] = set()
        worker = station.hood_worker
        self._views = Relay(worker.view_changed)  # emitted after the append returned
        self._views.fired.connect(self._on_view)
        self._checks = Relay(worker.balance_checked)
        self._checks.fired.connect(lambda args: self.line("check", str(args[0].passed)))

    def line(self, *words: str) -> None:
        """One report, in one write."""
        os.write(self._fd, (" ".join(words) + "\n").encode())

    def _on_view(self, args: tuple[Any, ...]) -> None:
        prep: Preparation | None = args[1]
        if prep is None:
            return
        prep_id = prep.preparation_id
        for index in range(self._reported.get(prep_id, 0), len(prep.events)):
            event = prep.events[index]
            photo = event.photo if isinstance(event, PhotoTaken) else "-"
            self.line("event", prep_id, str(index), type(event).__name__, event.at.isoformat(),
                      photo)
        self._reported[prep_id] = max(self._reported.get(prep_id, 0), len(prep.events))
        if prep.phase is Phase.AWAITING_VERIFICATION and prep_id not in self._held:
            self._held.add(prep_id)
            self.line("held", prep_id)


def left_open(station: Station) -> str | None:
    """The newest preparation the technician left unfinished at this station, per the record."""
    progress = OrderProgress(station.record.events)
    progress.refresh()
    left = progress.open_at(station.config.station.id, USER)
    return left[-1].preparation_id if left else None


def next_order(station: Station) -> str:
    """The shortest order on the worklist that needs no pharmacist's check at the hood."""
    shown = [row.order_id for row in station.window.worklist_presenter.state.rows]
    orders = {o.order_id: o for o in OrderBook(station.record.engine, local_clock).worklist()}
    assert station.demo is not None
    formulary = station.demo.formulary
    steps: dict[str, int] = {}
    for order_id in shown:
        recipe = build_recipe(orders[order_id], formulary, station.services.site_tolerance)
        if all(s.kind is not StepKind.PHARMACIST_CHECK for s in recipe.steps):
            steps[order_id] = len(recipe.steps)
    if not steps:
        raise RuntimeError("no order left on the worklist that needs no pharmacist")
    return min(steps, key=lambda order_id: (steps[order_id], shown.index(order_id)))


def crash_after_created() -> None:
    """From now on, recording a new preparation's creation SIGKILLs this process at once."""
    create = PreparationService.create

    def create_then_die(self: PreparationService, *args: Any, **kwargs: Any) -> Preparation:
        create(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")

    PreparationService.create = create_then_die  # type: ignore[method-assign]


def prepare(station: Station, reporter: Reporter, *, once: bool) -> None:
    """Sign in, say what the window reopened, then prepare doses (``once``: until one is held)."""
    bot = Bot()
    technician = Technician(bot, station)
    window = station.window
    expected = left_open(station)
    technician.sign_in(USER)
    if window.session is None:
        raise RuntimeError(f"{USER} could not sign in: {window.login_view.error_label.text()}")
    if expected is None:
        reporter.line("fresh")
    else:
        try:
            bot.waitUntil(lambda: window.current_page is window.preparation_view
                          and technician.presenter.preparation is not None,
                          timeout=PAGE_TIMEOUT_MS)
        except TimeoutError:
            raise RuntimeError(f"{USER} left {expected} open here, but the window did not "
                               f"reopen it: {technician.presenter.view}") from None
        prep = technician.presenter.preparation
        assert prep is not None
        reporter.line("reopened", prep.preparation_id, str(len(prep.events)))
    while True:
        if window.current_page is not window.preparation_view:
            bot.waitUntil(lambda: len(window.worklist_presenter.state.rows) > 0,
                          timeout=PAGE_TIMEOUT_MS)
            technician.scan(next_order(station))
            bot.waitUntil(lambda: window.current_page is window.preparation_view,
                          timeout=PAGE_TIMEOUT_MS)
        technician.finish()
        bot.waitUntil(lambda: window.current_page is window.worklist_view,
                      timeout=PAGE_TIMEOUT_MS)
        if once:
            return


def main(folder: str, seed: str, mode: str) -> int:
    """Run the station in ``mode`` (see the module's description)."""
    if mode not in {"run", "finish", "crash-after-created"}:
        raise SystemExit(f"unknown mode {mode!r}")
    report_fd = os.dup(1)
    os.dup2(2, 1)  # stray prints go to stderr: stdout carries only whole reports
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if mode == "crash-after-created":
        crash_after_created()
    app = QApplication.instance() or QApplication([sys.argv[0]])
    station = build_station(demo_config(Path(folder)), clock=local_clock, seed=int(seed))
    try:
        reporter = Reporter(report_fd, station)
        station.window.resize(1600, 900)
        station.start()
        reporter.line("up")
        prepare(station, reporter, once=mode == "finish")
    finally:
        station.close()
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
