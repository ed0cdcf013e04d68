"""A record changed behind the station's back is shouted: a red banner, the event marked."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import text

from station.records.audit import AuditReport
from station.records.database import make_engine
from station.records.record import open_record
from station.records.store import StoredEvent
from tests.ui.auditing import (
    TIMEOUT_MS,
    FakePrompts,
    Running,
    Seeded,
    open_page,
    open_replay,
    run_search,
    seed_sqlite,
)
from tests.ui.station_driver import screenshot
from ui.audit.page import ChainBanner, ChainStatus

#: The auditor's page on its worker thread over a record seeded for each test.
pytestmark = pytest.mark.slow

RED = "#b71c1c"


def stored_events(url: str) -> list[StoredEvent]:
    record = open_record(url, migrate=False)
    try:
        return list(record.events.events())
    finally:
        record.close()


def tamper_payload(url: str, event: StoredEvent, payload: dict) -> None:
    """What someone with the database file could do: drop the guard, rewrite an event."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP TRIGGER events_no_update"))
            connection.execute(text("UPDATE events SET payload = :payload WHERE sequence = :s"),
                               {"payload": json.dumps(payload), "s": event.sequence})
    finally:
        engine.dispose()


@pytest.fixture
def seeded(tmp_path) -> Seeded:
    return seed_sqlite(tmp_path / "record", count=3)


def net_weighing(seeded: Seeded) -> StoredEvent:
    """The second preparation's first net weighing (the second reading of a syringe)."""
    target = seeded.report.preparation_ids[1]
    weights = [e for e in stored_events(seeded.url)
               if e.preparation_id == target and e.kind == "weight_read"]
    return weights[2]


@pytest.fixture
def edited(qtbot, seeded, tmp_path) -> Iterator[tuple[Running, StoredEvent, Decimal]]:
    """A record where one balance reading was raised by 0.3 g after it was recorded."""
    event = net_weighing(seeded)
    forged = Decimal(event.payload["mass"]) + Decimal("0.300")
    tamper_payload(seeded.url, event, {**event.payload, "mass": f"{forged}",
                                       "raw": f"S S {forged:>12} g"})
    for running in open_page(qtbot, seeded.url, FakePrompts(tmp_path / "found.csv")):
        yield running, event, forged


def test_an_edited_event_turns_the_banner_red_and_says_which(qtbot, edited):
    running, event, _forged = edited
    banner = running.page.banner
    assert banner.status is ChainStatus.BROKEN
    assert banner.headline.text().startswith(
        f"✖ RECORD CHAIN BROKEN — chain broken at event {event.sequence}: content does not "
        "match its hash")
    assert "changed outside the station" in banner.detail.text()
    assert banner.background == RED and RED in banner.styleSheet()
    assert banner.headline.font().pointSize() >= 24 and banner.headline.font().bold()
    assert banner.isVisible()
    assert banner.grab().toImage().pixelColor(4, 4).name() == RED
    assert banner.width() > 0.6 * running.page.width()  # across the screen, not a corner

    # the search still works, under the banner
    assert len(run_search(qtbot, running.page)) == 3
    assert banner.status is ChainStatus.BROKEN

    # checking again keeps shouting until the answer comes back, and it comes back broken
    qtbot.mouseClick(running.page.verify_button, Qt.MouseButton.LeftButton)
    assert "RECORD CHAIN BROKEN" in banner.message and "checking the record again" in (
        banner.message)
    qtbot.waitUntil(lambda: "checking the record again" not in banner.message,
                    timeout=TIMEOUT_MS)
    assert banner.status is ChainStatus.BROKEN


def test_the_replay_marks_the_edited_event_and_shows_what_the_record_now_says(qtbot, edited):
    running, event, forged = edited
    page = running.page
    open_replay(qtbot, page, event.preparation_id)
    replay = page.replay_view
    assert replay.chain_label.isVisible()
    assert replay.chain_label.text().startswith(
        f"✖ THIS PREPARATION FAILS THE RECORD CHECK — chain broken at event {event.sequence}: ")
    review = replay.review
    assert review is not None
    row = next(i for i, e in enumerate(review.timeline) if e.sequence == event.sequence)
    marked = [i for i in range(replay.timeline.count())
              if replay.timeline.item(i).text().startswith("✖ FAILS THE RECORD CHECK")]
    assert marked == [row]
    assert replay.timeline.item(row).background().color().name() == RED
    replay.player.go_to(row)
    assert "FAILS THE RECORD CHECK" in replay.event_label.text()
    assert replay.gauge.state.value == forged  # shown as the record says, and marked

    other = next(p for p in running.record.events.events()
                 if p.preparation_id != event.preparation_id).preparation_id
    open_replay(qtbot, page, other)
    assert not replay.chain_label.isVisible()
    assert not any(replay.timeline.item(i).text().startswith("✖")
                   for i in range(replay.timeline.count()))
    open_replay(qtbot, page, event.preparation_id)
    replay.player.go_to(row)
    qtbot.wait(50)
    screenshot(page, "audit_chain_broken")


def test_a_changed_photo_is_shouted_and_shown_as_changed(qtbot, seeded, tmp_path):
    events = stored_events(seeded.url)
    photos = [e for e in events if e.kind == "photo_taken"]
    victim, donor = photos[4], photos[0]
    folder = Path(seeded.url.removeprefix("sqlite:///")).parent / "photos"
    path = folder / victim.payload["photo"][:2] / f"{victim.payload['photo']}.jpg"
    donor_path = folder / donor.payload["photo"][:2] / f"{donor.payload['photo']}.jpg"
    path.write_bytes(donor_path.read_bytes())  # still a picture, just not the one taken
    for running in open_page(qtbot, seeded.url, FakePrompts(None)):
        page = running.page
        assert page.banner.status is ChainStatus.BROKEN
        assert f"event {victim.sequence} ({victim.preparation_id}): photo " in (
            page.banner.message)
        assert "does not match its content" in page.banner.message
        open_replay(qtbot, page, victim.preparation_id)
        replay = page.replay_view
        row = next(i for i, e in enumerate(replay.review.timeline)
                   if e.sequence == victim.sequence)
        replay.player.go_to(row)
        assert replay.photo_shown == victim.payload["photo"]
        assert "does not match its hash" in replay.photo_caption.text()
        assert replay.chain_label.isVisible()


def test_the_banner_says_when_the_record_could_not_be_checked(qtbot):
    banner = ChainBanner()
    qtbot.addWidget(banner)
    assert banner.status is ChainStatus.CHECKING
    banner.show_failure("database is locked")
    assert banner.status is ChainStatus.UNCHECKED
    assert banner.message == ("✖ THE RECORD COULD NOT BE CHECKED\ndatabase is locked. Until it "
                              "is, nothing shown here is known to be intact.")
    assert banner.background == RED
    banner.show_report(AuditReport(10, 2, 3, None), dt.datetime(2026, 11, 27, tzinfo=dt.UTC))
    assert banner.status is ChainStatus.INTACT
    assert banner.message == ("✔ Record chain intact: 10 events in 2 preparations, 3 photos "
                              "(checked 2026-11-27 00:00:00 UTC)")
    assert banner.background == "#1b5e20"
