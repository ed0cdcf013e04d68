"""The review view over a preparation with every kind of event (a recalled lot, a wrong vial,
a blurred photo, an override, a weight near tolerance), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QImage

from station.services.review.build import review_preparation
from tests.records.builders import OVERRIDE_REASON, RECALL, make_preparation
from tests.ui.pharmacist_world import ARTIFACTS
from ui.pharmacist.review_view import (
    NO_PHOTO,
    ReviewView,
    facts_html,
    held_since,
    step_status,
    step_text,
)
from ui.widgets.photo_viewer import MAX_ZOOM

SITE = dt.timezone(dt.timedelta(hours=-6))
NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=SITE)


@pytest.fixture
def review(service, version):
    return review_preparation(service, make_preparation(service, version))


@pytest.fixture
def view(review, service, qtbot):
    shown = ReviewView()
    qtbot.addWidget(shown)
    shown.resize(1300, 1000)
    shown.show()
    qtbot.waitExposed(shown)
    shown.photo_wanted.connect(lambda sha: shown.show_photo(
        sha, QImage.fromData(service.record.photos.get(sha))))
    shown.show_review(review, "", NOW)
    shown.setFocus()
    return shown


def test_steps_say_what_happened_in_words(review):
    assert step_status(review.step(1)) == "stopped"
    assert step_text(review.step(1)) == ("✖ 1. " + review.step(1).title +
                                         "\n     ✖ 1 hard stop · ↻ 1 retry · ▣ 1 photo")
    assert step_text(review.step(5)).endswith("✖ 1 hard stop · ⚑ override · ▣ 1 photo")
    assert step_status(review.step(9)) == "done"
    assert held_since(review) is None  # verified: it waits for nothing


def test_the_facts_show_the_scan_beside_the_order_and_the_override_with_its_signer(review):
    recalled = facts_html(review.step(1), SITE)
    assert f"RECALLED: {RECALL}" in recalled
    assert "The order expects" in recalled and "Scanned" in recalled
    vial = facts_html(review.step(3), SITE)
    assert "Heparin Sodium 5,000 units/mL (NDC 0409-2720-01)" in vial
    assert "Heparin Sodium 1,000 units/mL (NDC 0409-1888-10)" in vial
    draw = facts_html(review.step(5), SITE)
    assert "5.141&nbsp;g" in draw and "5.758&nbsp;g" in draw and "+12.00 %" in draw
    assert "±5 %" in draw and "accepted by override" in draw
    assert f"⚑ Override: {OVERRIDE_REASON}" in draw
    assert ("Approved by Lee Nakamura, PharmD (rph.lee) — override-approved — "
            "2026-11-26 15:20:00 UTC") in draw


def test_the_view_opens_on_the_first_alert_and_shows_the_outcome(view, review):
    assert view.title_label.text() == (
        "P-REVIEW1 · Heparin Sodium 25,000 units in Sodium Chloride 0.9% 100 mL")
    assert "Order RX-REVIEW · Doe, Jane (MRN100), 4W-12-A · ROUTINE due 12:00 26 Nov" \
        in view.detail_label.text()
    assert view.warning_label.text() == "HIGH-ALERT MEDICATION"
    assert view.flags.texts()[0].startswith("⚠ ALERT — Step 5: override by Lee Nakamura")
    assert view.flags.texts()[-1].startswith("● NOTE — Step 3: photo refused")
    assert view.step.number == 1  # the first step with an alert
    assert not view.approve_button.isVisible() and not view.reject_button.isVisible()
    assert view.outcome_label.text() == (
        "VERIFIED — Ben Ruiz (rph.ben) — verified — 2026-11-26 15:30:00 UTC")


def test_a_flag_goes_to_its_step_and_keys_turn_the_photos(view, qtbot):
    view.flags.anchorClicked.emit(QUrl("step:3"))
    assert view.step.number == 3
    qtbot.waitUntil(lambda: view.photo.image is not None, timeout=5000)
    assert view.photo_caption.text().startswith("Photo 2 of 2 · taken ")
    assert "✔ usable" in view.photo_caption.text()
    usable = view.photo_hash
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert view.photo_hash != usable
    assert "✖ REFUSED: too blurred to read the lot" in view.photo_caption.text()
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.photo_hash == usable


def test_zoom_is_kept_between_fit_and_its_limit_and_facts_scroll_by_keyboard(view, qtbot):
    view.select_step(5)
    qtbot.waitUntil(lambda: view.photo.image is not None, timeout=5000)
    fitted = view.photo.zoom
    for _ in range(30):
        qtbot.keyClick(view, Qt.Key.Key_Plus)
    assert view.photo.zoom == pytest.approx(MAX_ZOOM)
    qtbot.keyClick(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)  # pan
    for _ in range(30):
        qtbot.keyClick(view, Qt.Key.Key_Minus)
    assert view.photo.fitted and view.photo.zoom == pytest.approx(fitted)
    bar = view.facts.verticalScrollBar()
    if bar.maximum() > 0:
        qtbot.keyClick(view, Qt.Key.Key_Space)
        assert bar.value() > 0
        qtbot.keyClick(view, Qt.Key.Key_Space, Qt.KeyboardModifier.ShiftModifier)
        assert bar.value() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    assert view.grab().save(str(ARTIFACTS / "pharmacist_review_override.png"))


def test_a_photo_that_cannot_be_read_says_so_and_a_step_without_one_too(view, review):
    view.select_step(1)
    sha = view.photo_hash
    assert sha is not None
    view.photo_failed(sha, "the stored photo is not an image")
    assert view.photo.image is None
    assert view.photo.message == "✖ the stored photo is not an image"
    bare = next(s for s in review.steps if not s.photos)
    view.select_step(bare.number)
    assert view.photo_hash is None
    assert view.photo.message == NO_PHOTO
    assert not view.photo_caption.isVisible()
