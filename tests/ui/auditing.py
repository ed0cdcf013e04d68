"""Drive the auditor's page over a seeded record: seed it, open the page on its worker thread,
search, open a preparation's replay."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt

from station.config.model import DEFAULT_SITE_TOLERANCE
from station.demo.seed import SeedReport, seed, simulated_balance
from station.records.formulary_versions import FormularyVersions
from station.records.record import Record, open_record
from station.records.search import PreparationSummary, summaries
from station.services.audit import AuditService
from tests.clock import FakeClock
from ui.audit.page import AuditPage, ChainStatus
from ui.workers.audit_worker import AuditWorker
from ui.workers.devices import DeviceThreads

#: The seeded shift ends here; eight half-hour slots start on one UTC day and end on the next.
END = dt.datetime(2026, 11, 27, 1, 30, tzinfo=dt.UTC)
COUNT = 8
SEED = 7
SCREEN = (1920, 1080)
TIMEOUT_MS = 20_000


@dataclass
class Seeded:
    """A seeded SQLite record: its URL, what the seeder said, and every summary."""

    url: str
    report: SeedReport
    found: list[PreparationSummary]


def seed_sqlite(folder: Path, count: int = COUNT) -> Seeded:
    """Seed ``count`` preparations into ``folder/station.db`` as ``station records seed`` does."""
    url = f"sqlite:///{folder / 'station.db'}"
    record = open_record(url)
    try:
        report = seed(record, count, seed=SEED, clock=FakeClock(END), pan=simulated_balance,
                      site_tolerance=DEFAULT_SITE_TOLERANCE)
        found = summaries(record.events, FormularyVersions(record.engine))
    finally:
        record.close()
    return Seeded(url, report, found)


class FakePrompts:
    """Answers the CSV prompt with a path in the test's folder."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.asked: list[str] = []

    def csv_path(self, parent: object, suggested: str) -> str | None:
        """The path to write the CSV to (None: cancelled); remembers the name suggested."""
        del parent
        self.asked.append(suggested)
        return str(self.path) if self.path is not None else None


@dataclass
class Running:
    """An audit page over a worker on its own thread."""

    page: AuditPage
    worker: AuditWorker
    record: Record
    prompts: FakePrompts


def open_page(qtbot, url: str, prompts: FakePrompts) -> Iterator[Running]:
    """A page whose worker runs on its own thread; joins the thread afterwards."""
    record = open_record(url, migrate=False)
    worker = AuditWorker(AuditService(record))
    threads = DeviceThreads()
    threads.add(worker)
    page = AuditPage(worker, prompts)
    qtbot.addWidget(page)
    page.resize(*SCREEN)
    page.show()
    qtbot.waitExposed(page)
    threads.start()
    try:
        qtbot.waitUntil(lambda: page.banner.status is not ChainStatus.CHECKING,
                        timeout=TIMEOUT_MS)
        yield Running(page, worker, record, prompts)
    finally:
        assert threads.stop(), "the audit thread did not end"
        record.close()


def ids(found: list[PreparationSummary]) -> list[str]:
    """The preparations' ids, in the order found."""
    return [s.preparation_id for s in found]


def fill(page: AuditPage, **texts: str) -> None:
    """Clear the search form, then fill in ``texts`` (field name: text; ``outcome`` by value)."""
    view = page.search_view
    view.clear_form()
    for name, text in texts.items():
        if name == "outcome":
            view.outcome.setCurrentIndex(view.outcome.findData(text))
        else:
            view.fields[name].setText(text)


def run_search(qtbot, page: AuditPage, **texts: str) -> list[str]:
    """Type the keys, press Enter in the first field, wait for the worker's answer."""
    fill(page, **texts)
    presenter = page.search
    with qtbot.waitSignal(presenter.state_changed, timeout=TIMEOUT_MS,
                          check_params_cb=lambda state: not state.busy):
        qtbot.keyClick(page.search_view.fields["patient"], Qt.Key.Key_Return)
    return ids(page.search_view.model.found)


def open_replay(qtbot, page: AuditPage, preparation_id: str) -> None:
    """Find it, select its row and press Enter; wait for the worker to load it."""
    assert preparation_id in run_search(qtbot, page)
    view = page.search_view
    row = next(r for r in range(view.sorted.rowCount())
               if view.sorted.index(r, 0).data() == preparation_id)
    view.table.setFocus()
    view.table.selectRow(row)
    view.table.setCurrentIndex(view.sorted.index(row, 0))
    qtbot.keyClick(view.table, Qt.Key.Key_Return)
    replay = page.replay_view
    qtbot.waitUntil(lambda: replay.review is not None
                    and replay.review.preparation_id == preparation_id, timeout=TIMEOUT_MS)
    assert page.tabs.currentWidget() is replay
