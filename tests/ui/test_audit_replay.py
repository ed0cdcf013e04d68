"""Replaying a seeded preparation: stepping by keys, playing against the clock, what each
moment shows (checked against the stored events themselves, not against the review)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from station.config.model import DEFAULT_SITE_TOLERANCE
from station.demo.seed import seed, simulated_balance
from station.records.record import open_record
from station.records.store import StoredEvent
from tests.backends import fresh_postgres
from tests.clock import FakeClock
from tests.ui.auditing import (
    END,
    SEED,
    TIMEOUT_MS,
    FakePrompts,
    Running,
    open_page,
    open_replay,
    seed_sqlite,
)
from tests.ui.station_driver import screenshot
from ui.audit.page import AuditPage, ChainStatus
from ui.audit.replay_moment import broken_event, moment_at
from ui.audit.replay_player import SPEEDS

#: The auditor's page on its worker thread over a seeded record.
pytestmark = pytest.mark.slow

SIGNED_KINDS = ("overridden", "in_process_checked", "verified", "rejected")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return seed_sqlite(tmp_path_factory.mktemp("replay"))


@pytest.fixture
def running(qtbot, seeded, tmp_path) -> Iterator[Running]:
    yield from open_page(qtbot, seeded.url, FakePrompts(tmp_path / "found.csv"))


def most_signed(running: Running) -> str:
    """The preparation with the most signed decisions (an in-process check and a decision)."""
    events = running.record.events
    ids = dict.fromkeys(e.preparation_id for e in events.events())
    return max(ids, key=lambda p: sum(e.kind in SIGNED_KINDS for e in events.events_of(p)))


def expected_at(stored: list[StoredEvent], index: int) -> dict:
    """The oracle: what the record said after stored event ``index``, from the raw events."""
    so_far = stored[:index + 1]
    photos = [e.payload["photo"] for e in so_far if e.kind == "photo_taken"]
    weights = [e for e in so_far if e.kind == "weight_read"]
    scans = [e for e in so_far if e.kind == "product_scanned"]
    # An event's consequences are stored right after it, in the same batch (same time).
    batch = [*so_far, *_consequences(stored, index)]
    phases = [e.payload["to"] for e in batch if e.kind == "state_changed"]
    signed = [e.payload["signature"] for e in so_far if e.kind in SIGNED_KINDS]
    return {
        "photo": photos[-1] if photos else None,
        "mass": Decimal(weights[-1].payload["mass"]) if weights else None,
        "raw": weights[-1].payload["raw"] if weights else None,
        "trace": [Decimal(w.payload["mass"]) for w in weights],
        "lot": scans[-1].payload["lot"] if scans else None,
        "phase": phases[-1] if phases else "ready",
        "signed": signed,
    }


def _consequences(stored: list[StoredEvent], index: int) -> Iterator[StoredEvent]:
    for event in stored[index + 1:]:
        if event.kind not in ("hard_stop", "state_changed") or event.utc != stored[index].utc:
            return
        yield event


def assert_shows(page: AuditPage, stored: list[StoredEvent], index: int) -> None:
    replay = page.replay_view
    assert replay.player.index == index
    assert replay.timeline.currentRow() == index
    want = expected_at(stored, index)
    event = stored[index]
    assert f"event {event.sequence} · {event.utc.astimezone(dt.UTC):%H:%M:%S} UTC" in (
        replay.event_label.text())
    assert replay.phase_label.text().strip() == want["phase"].upper()
    assert replay.photo_shown == want["photo"]
    assert (replay.photo.image is None) == (want["photo"] is None)
    if want["photo"] is None:
        assert replay.photo.text == "No photo yet at this moment"
    if want["photo"] is not None:
        assert want["photo"][:16] in replay.photo_caption.text()
    assert replay.gauge.state.value == want["mass"]
    assert [value for value, _stable, _t in replay.gauge.trace] == want["trace"]
    if want["raw"] is not None:
        assert want["raw"].strip() in replay.weight_label.text()
    if want["lot"] is not None:
        assert f"lot {want['lot']}" in replay.scan_label.text()
    shown = replay.signatures_label.text()
    for signature in want["signed"]:
        when = dt.datetime.fromisoformat(signature["utc"]).astimezone(dt.UTC)
        assert (f"{signature['printed_name']} ({signature['user_id']}) — "
                f"{signature['meaning']} — {when:%Y-%m-%d %H:%M:%S} UTC") in shown
    if not want["signed"]:
        assert shown == "No signature yet."
    assert shown.count("✍") == len(want["signed"])


# ------------------------------------------------------------------------------ pure parts


def test_a_moment_holds_the_latest_photo_reading_and_scan_and_the_signatures_so_far(
        qtbot, running):
    preparation_id = most_signed(running)
    open_replay(qtbot, running.page, preparation_id)
    review = running.page.replay_view.review
    assert review is not None
    stored = running.record.events.events_of(preparation_id)
    assert [e.sequence for e in review.timeline] == [e.sequence for e in stored]
    for index in range(len(stored)):
        moment = moment_at(review.timeline, index)
        want = expected_at(stored, index)
        assert (moment.photo.photo if moment.photo else None) == want["photo"]
        assert (moment.weight.reading if moment.weight else None) == want["mass"]
        assert [w.reading for w in moment.trace] == want["trace"]
        assert (moment.scan.lot if moment.scan else None) == want["lot"]
        assert moment.phase == want["phase"]
        assert [s.user_id for s in moment.signatures] == [s["user_id"] for s in want["signed"]]
    assert moment_at(review.timeline, 10_000).index == len(stored) - 1
    assert moment_at(review.timeline, -3).index == 0


def test_the_broken_event_is_read_from_the_checks_words():
    assert broken_event("chain broken at event 12: content does not match its hash") == 12
    assert broken_event("event 7 (P-1): photo abc is missing") == 7
    assert broken_event(None) is None
    assert broken_event("nothing numbered") is None


# ------------------------------------------------------------------------------ stepping


def test_stepping_shows_each_moment_as_recorded(qtbot, running):
    page = running.page
    preparation_id = most_signed(running)
    open_replay(qtbot, page, preparation_id)
    stored = running.record.events.events_of(preparation_id)
    replay = page.replay_view
    assert_shows(page, stored, 0)
    timeline = replay.timeline
    for index in range(1, len(stored)):
        qtbot.keyClick(timeline, Qt.Key.Key_Right)
        assert_shows(page, stored, index)
    qtbot.keyClick(timeline, Qt.Key.Key_Right)  # past the end: stays on the last
    assert_shows(page, stored, len(stored) - 1)
    qtbot.keyClick(timeline, Qt.Key.Key_Home)
    assert_shows(page, stored, 0)
    qtbot.keyClick(timeline, Qt.Key.Key_End)
    assert_shows(page, stored, len(stored) - 1)
    for index in range(len(stored) - 2, -1, -1):
        qtbot.keyClick(timeline, Qt.Key.Key_Left)
        assert_shows(page, stored, index)
    timeline.setCurrentRow(5)  # a click on the timeline
    assert_shows(page, stored, 5)


def test_every_photo_is_read_and_decoded_on_the_worker(qtbot, running):
    preparation_id = most_signed(running)
    open_replay(qtbot, running.page, preparation_id)
    replay = running.page.replay_view
    hashes = {e.payload["photo"] for e in running.record.events.events_of(preparation_id)
              if e.kind == "photo_taken"}
    assert set(replay._photos) == hashes and not replay._photo_problems
    for sha256 in hashes:
        expected = QImage.fromData(running.record.photos.get(sha256))
        assert replay._photos[sha256].size() == expected.size()


# ------------------------------------------------------------------------------ playing


def playhead_seconds(page: AuditPage) -> float:
    player = page.replay_view.player
    assert player.playhead is not None
    return (player.playhead - player.timeline[0].utc).total_seconds()


def test_playing_moves_the_playhead_at_the_chosen_speed_and_advances(qtbot, running):
    page = running.page
    open_replay(qtbot, page, most_signed(running))
    replay = page.replay_view
    player = replay.player
    assert [replay.speeds.button(s).text() for s in SPEEDS] == ["1×", "10×", "60×"]

    player.go_to(2)
    start = playhead_seconds(page)
    started = time.monotonic()
    qtbot.mouseClick(replay.buttons["play"], Qt.MouseButton.LeftButton)  # 1×
    assert player.playing and replay.buttons["play"].text() == "⏸ Pause"
    qtbot.wait(600)
    moved = playhead_seconds(page) - start
    # At 1× the playhead follows the time that really passed (up to its last tick), so it
    # moved most of the wait and never ran ahead of the clock, however slow the machine.
    assert 0.3 <= moved <= time.monotonic() - started, moved
    assert player.index == 2

    qtbot.mouseClick(replay.speeds.button(60), Qt.MouseButton.LeftButton)
    assert player.speed == 60 and "60×" in replay.clock_label.text()
    gap = (player.timeline[3].utc - player.timeline[2].utc).total_seconds()
    with qtbot.waitSignal(player.moment_changed, timeout=round(gap / 60 * 1000) + 5000) as got:
        pass
    assert got.args[0].index == 3
    assert playhead_seconds(page) >= (player.timeline[3].utc - player.timeline[0].utc
                                      ).total_seconds()
    qtbot.keyClick(replay.timeline, Qt.Key.Key_Space)
    assert not player.playing and replay.buttons["play"].text() == "▶ Play"
    paused_at = player.playhead
    qtbot.wait(300)
    assert player.playhead == paused_at


def test_playing_stops_at_the_end_and_plays_again_from_the_start(qtbot, running):
    page = running.page
    open_replay(qtbot, page, most_signed(running))
    player = page.replay_view.player
    player.set_speed(100_000)  # the buttons offer 1×, 10× and 60×; the player takes any
    with qtbot.waitSignal(player.playing_changed, timeout=TIMEOUT_MS,
                          check_params_cb=lambda playing: not playing):
        player.play()
    assert player.index == len(player.timeline) - 1
    player.play()
    assert player.playing and player.index == 0
    player.pause()
    with pytest.raises(ValueError, match="positive"):
        player.set_speed(0)


def test_a_preparation_the_record_lacks_says_so(qtbot, running):
    page = running.page
    page.replay("P-NOT-THERE")
    qtbot.waitUntil(lambda: "could not be replayed" in page.replay_view.title_label.text(),
                    timeout=TIMEOUT_MS)
    assert "no preparation 'P-NOT-THERE'" in page.replay_view.title_label.text()
    assert page.replay_view.review is None


def test_screenshot_of_a_replay_mid_way(qtbot, running):
    page = running.page
    preparation_id = most_signed(running)
    open_replay(qtbot, page, preparation_id)
    stored = running.record.events.events_of(preparation_id)
    after_check = next(i for i, e in enumerate(stored) if e.kind == "in_process_checked")
    weighing = next(i for i, e in enumerate(stored)
                    if i > after_check and e.kind == "weight_read"
                    and stored[i - 1].kind == "weight_read")
    page.replay_view.player.go_to(weighing)
    assert_shows(page, stored, weighing)
    qtbot.wait(50)
    screenshot(page, "audit_replay")


def test_search_and_replay_work_on_postgresql_with_its_photo_table(qtbot, tmp_path):
    for backend in fresh_postgres():
        record = open_record(backend.url)
        try:
            seed(record, 2, seed=SEED, clock=FakeClock(END), pan=simulated_balance,
                 site_tolerance=DEFAULT_SITE_TOLERANCE)
        finally:
            record.close()
        for running in open_page(qtbot, backend.url, FakePrompts(tmp_path / "found.csv")):
            page = running.page
            assert page.banner.status is ChainStatus.INTACT
            preparation_id = most_signed(running)
            open_replay(qtbot, page, preparation_id)
            stored = running.record.events.events_of(preparation_id)
            for index in range(len(stored)):
                page.replay_view.player.go_to(index)
                assert_shows(page, stored, index)
