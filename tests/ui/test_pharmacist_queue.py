"""The verification queue on SQLite and PostgreSQL: its fold, its table, and live updates
when another process holds preparations in the same database."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from station.core.accounts import Meaning
from station.core.workflow import InProcessChecked, Phase, Rejected, Started
from station.services.verification_queue import VerificationQueue
from tests.records.builders import PhotographingTechnician
from tests.ui.pharmacist_world import PASSWORDS, now, run_page
from ui.pharmacist.queue import (
    COLUMNS,
    QueueTableModel,
    queue_title,
    waited_text,
)

#: A seeded record and the page's worker thread for every test.
pytestmark = pytest.mark.slow


@pytest.fixture
def running(world, qtbot):
    yield from run_page(world, qtbot)


def sign(world, meaning: Meaning) -> dict[str, str]:
    session = world.session("rph.lee")
    return world.sessions.sign(session, PASSWORDS["rph.lee"], meaning, now=now()).as_payload()


def test_waiting_times_read_as_a_person_says_them():
    minute = dt.timedelta(minutes=1)
    assert [waited_text(d) for d in (dt.timedelta(seconds=59), 12 * minute, 65 * minute,
                                     (24 * 60 + 190) * minute)] == \
        ["just now", "12 min", "1 h 05 min", "1 d 3 h"]


def test_the_queue_model_passes_qtmodeltester_and_says_what_is_awaited(world, qtmodeltester):
    queue = VerificationQueue(world.record.events)
    assert queue.refresh()
    assert not queue.refresh()  # nothing new: no change
    model = QueueTableModel(now())
    model.set_entries(queue.entries)
    qtmodeltester.check(model, force_py=True)
    check_row = model.row_of(world.check_id)
    assert check_row is not None
    awaiting = model.data(model.index(check_row, COLUMNS.index("Awaiting")))
    assert awaiting.startswith("IN-PROCESS\nCHECK\nheld ") and awaiting.endswith("\nat hood-3")
    what = model.data(model.index(check_row, COLUMNS.index("Patient · drug")))
    assert what.splitlines()[1] == "Potassium Chloride Concentrate 20 mEq"
    assert what.splitlines()[-1] == f"{world.check_id} · by tech.raj"
    assert queue_title(queue.entries) == (
        f"Queue: {len(queue.entries) - 1} to verify, 1 in-process check "
        f"({sum(1 for e in queue.entries if e.stat)} STAT)")
    model.set_entries(())
    qtmodeltester.check(model, force_py=True)


def test_a_preparation_leaves_when_checked_and_returns_when_held_for_verification(world):
    queue = VerificationQueue(world.record.events)
    queue.refresh()
    checked_at = queue.entry(world.check_id).held_utc
    hood = world.hood()
    hood.record_event(world.check_id, InProcessChecked("rph.lee", now(), True),
                      signature=sign(world, Meaning.IN_PROCESS_CHECKED))
    assert queue.refresh()
    assert queue.entry(world.check_id) is None
    tech = PhotographingTechnician(hood)
    tech.user = "tech.raj"
    tech.run_until(hood.load(world.check_id), {Phase.AWAITING_VERIFICATION})
    assert queue.refresh()
    entry = queue.entry(world.check_id)
    assert entry is not None and not entry.is_check
    assert entry.held_utc > checked_at

    hood.record_event(world.check_id, Rejected("rph.lee", now(), "wrong volume"),
                      signature=sign(world, Meaning.REJECTED))
    remake = hood.create(hood.load(world.check_id).recipe.order,
                         world.service.versions.latest(), "tech.raj",
                         remake_of=world.check_id)
    tech.run_until(tech.do(remake, Started(tech.user, tech.at)), {Phase.AWAITING_CHECK})
    assert queue.refresh()
    assert queue.entry(world.check_id) is None
    assert queue.entry(remake.preparation_id).remake_of == world.check_id


def test_the_queue_updates_when_another_process_holds_preparations(world, running, qtbot):
    page = running.page
    before = {e.preparation_id for e in page.queue_view.model.entries}
    if world.backend.name == "postgresql":
        assert running.worker.listening  # woken by NOTIFY, not by polling
    summary = world.seed_from_another_process(3, 41)
    held = int(re.search(r"(\d+) awaiting verification", summary).group(1))
    assert held >= 1
    qtbot.waitUntil(lambda: len(page.queue_view.model.entries) == len(before) + held,
                    timeout=5000)
    fresh = VerificationQueue(world.record.events)
    fresh.refresh()
    assert [e.preparation_id for e in page.queue_view.model.entries] == \
        [e.preparation_id for e in fresh.entries]
    new = {e.preparation_id for e in fresh.entries} - before
    assert len(new) == held
    assert all(e.station_id.startswith("sim-hood-") for e in fresh.entries
               if e.preparation_id in new)
    # The other process may leave a preparation at its in-process check too: count them.
    checks = sum(1 for e in fresh.entries if e.is_check)
    assert page.queue_view.title_label.text().startswith(
        f"Queue: {len(fresh.entries) - checks} to verify, {checks} in-process check")
