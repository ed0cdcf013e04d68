"""The pharmacist's page over a real record, on SQLite and PostgreSQL: the live queue, the
review, signed decisions, the preparer refused, and a rejection coming back as a remake."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from station.core.acceptance import AcceptanceTracker
from station.core.order_messages import OrderAction, OrderMessage
from station.core.workflow import Phase
from station.records.order_book import OrderBook
from station.records.recalls import RecallList
from station.services.hood import HoodSession
from station.services.order_progress import OrderProgress
from station.services.order_rows import REMAKE
from station.services.scan_events import ScanEvents
from tests.ui.pharmacist_world import ARTIFACTS, PASSWORDS, now, run_page
from tests.ui.relay import Relay
from ui.pharmacist.page import CHECK_PASSED, REJECT_REASONS, RELEASE
from ui.pharmacist.review_view import CHECK_PASSED as CHECK_BUTTON
from ui.pharmacist.review_view import RELEASE as RELEASE_BUTTON
from ui.technician.worklist import WorklistPresenter
from ui.workers.hood_worker import HoodWorker

#: A seeded record and the page's worker thread for every test.
pytestmark = pytest.mark.slow

WRONG = "not my password"


@pytest.fixture
def running(world, qtbot):
    yield from run_page(world, qtbot)


@pytest.fixture
def kim_running(world, qtbot):
    yield from run_page(world, qtbot, user="rph.kim")


def open_review(qtbot, page, preparation_id: str):
    assert page.queue_view.select(preparation_id)
    qtbot.waitUntil(lambda: page.review_view.review is not None
                    and page.review_view.review.preparation_id == preparation_id,
                    timeout=10_000)
    page.review_view.setFocus()
    return page.review_view.review


def signed(world, preparation_id: str, kind: str):
    return next(e for e in world.record.events.events_of(preparation_id) if e.kind == kind)


def test_the_queue_lists_what_waits_by_priority_then_due_time(world, running):
    entries = running.page.queue_view.model.entries
    assert {e.preparation_id for e in entries} == {*world.seeded_waiting, world.check_id,
                                                    world.own_id}
    keys = [(e.priority.rank, e.due) for e in entries]
    assert keys == sorted(keys)
    check = next(e for e in entries if e.preparation_id == world.check_id)
    assert check.is_check and check.station_id == "hood-3" and check.preparer == "tech.raj"
    seeded = next(e for e in entries if e.preparation_id == world.seeded_waiting[0])
    assert seeded.station_id.startswith("sim-hood-")
    title = running.page.queue_view.title_label.text()
    assert title.startswith(f"Queue: {len(entries) - 1} to verify, 1 in-process check (")


def test_a_release_is_signed_again_and_a_wrong_password_is_refused_and_shown(world, running,
                                                                             qtbot):
    page = running.page
    target = world.seeded_waiting[0]
    review = open_review(qtbot, page, target)
    assert page.review_view.approve_button.isEnabled()
    assert page.review_view.approve_button.text() == RELEASE_BUTTON
    qtbot.keyClick(page.review_view, Qt.Key.Key_F6)
    dialog = page.dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.meaning == "verified"
    assert dialog.meaning_label.text() == "Signing means: verified"
    assert [b.text() for b in dialog.choice_buttons] == [RELEASE]
    assert dialog.user_id_field.text() == "rph.lee" and dialog.user_id_field.isReadOnly()
    assert review.description in dialog.explanation_label.text()
    before = world.kinds(target)

    dialog.password_field.setText(WRONG)
    qtbot.keyClick(dialog.password_field, Qt.Key.Key_Return)  # Enter signs a release at once
    qtbot.waitUntil(dialog.error_label.isVisible, timeout=10_000)
    assert dialog.error_label.text() == "✖ user id or password is wrong"
    assert dialog.password_field.text() == ""
    assert world.kinds(target) == before  # nothing written

    dialog.password_field.setText(PASSWORDS["rph.lee"])
    qtbot.keyClick(dialog.password_field, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: page.dialog is None, timeout=10_000)
    verified = signed(world, target, "verified")
    assert verified.user_id == "rph.lee"
    assert verified.station_id == "rph-remote-1"
    assert verified.payload["signature"]["meaning"] == "verified"
    assert verified.payload["signature"]["printed_name"] == "Lee Nakamura, PharmD"
    assert world.service.load(target).phase is Phase.VERIFIED
    qtbot.waitUntil(lambda: page.queue_view.model.row_of(target) is None, timeout=10_000)
    message = page.message_label.text()
    assert message.startswith(f"✔ {target} verified — signed Lee Nakamura, PharmD (rph.lee) — "
                              "verified — ")
    assert message.endswith(" UTC")
    assert page.queue_view.current != target  # on to the next one waiting


def test_a_rejection_is_signed_with_its_reason_and_returns_to_the_worklist_as_a_remake(
        world, running, qtbot):
    page = running.page
    target = world.seeded_waiting[1]
    review = open_review(qtbot, page, target)
    qtbot.keyClick(page.review_view, Qt.Key.Key_F9)
    dialog = page.dialog
    assert dialog is not None and dialog.meaning == "rejected"
    assert dialog.reason_combo is not None
    assert [dialog.reason_combo.itemText(i) for i in range(dialog.reason_combo.count())] == \
        list(REJECT_REASONS)
    dialog.password_field.setText(PASSWORDS["rph.lee"])
    dialog.submit("Reject")  # no reason yet: refused by the dialog itself
    assert dialog.error_label.text() == "✖ choose or type a reason"
    dialog.reason_combo.setCurrentIndex(REJECT_REASONS.index("Label wrong or unreadable"))
    dialog.reason_field.setText("lot sticker torn")
    qtbot.keyClick(dialog.reason_field, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: page.dialog is None, timeout=10_000)
    rejected = signed(world, target, "rejected")
    assert rejected.payload["reason"] == "Label wrong or unreadable: lot sticker torn"
    assert rejected.payload["signature"]["meaning"] == "rejected"
    assert rejected.payload["signature"]["user_id"] == "rph.lee"
    assert world.service.load(target).phase is Phase.REJECTED

    # The technician's station: the order is back on the worklist, marked as a remake.
    orders = OrderBook(world.record.engine, now)
    order = review.order
    assert orders.receive(OrderMessage(f"msg-{order.order_id}", OrderAction.NEW,
                                       order.order_id, order), "test").accepted
    version = world.service.versions.latest()
    hood_service = world.hood("hood-3")

    def make_hood() -> HoodSession:
        return HoodSession(hood_service, version.formulary(),
                           ScanEvents(RecallList(world.record.engine, now)), AcceptanceTracker,
                           station_id="hood-3", clock=now)

    hood = HoodWorker(make_hood, world.sessions, orders, OrderProgress(world.record.events),
                      check_weight=Decimal("100"))
    worklist = WorklistPresenter(orders.worklist(), version.formulary())
    hood.worklist_changed.connect(worklist.set_worklist)
    hood.start()  # on this thread: the test drives it directly
    try:
        row = next(r for r in worklist.state.rows if r.order_id == order.order_id)
        assert row.remake_of == target
        assert row.remake_text == f"{REMAKE}\n{target}"
        assert worklist.state.title.endswith(", 1 remake)")
        refused = Relay(hood.refused)
        hood.begin(order.order_id, "tech.ana")
        assert refused.received == []
        remake = hood.hood.preparation
        assert remake is not None
        created = world.record.events.events_of(remake.preparation_id)[0]
        assert created.payload["remake_of"] == target
        assert all(r.order_id != order.order_id for r in worklist.state.rows)
    finally:
        hood.stop()


def test_the_preparer_is_refused_in_the_workflows_words_and_never_signs(world, kim_running,
                                                                          qtbot):
    page, worker = kim_running.page, kim_running.worker
    view = page.review_view
    open_review(qtbot, page, world.own_id)
    words = "the preparer (rph.kim) cannot sign the verification of their own work"
    assert view.refusal == words
    assert view.refusal_label.isVisible()
    assert view.refusal_label.text() == f"✖ {words}"
    assert not view.approve_button.isEnabled()
    assert not view.reject_button.isEnabled()
    qtbot.keyClick(view, Qt.Key.Key_F6)
    assert page.dialog is None
    qtbot.waitUntil(lambda: view.photo.image is not None or not view.step.photos,
                    timeout=10_000)
    if world.backend.name == "sqlite":
        ARTIFACTS.mkdir(exist_ok=True)
        assert page.grab().save(str(ARTIFACTS / "pharmacist_own_work.png"))

    # Even asked directly, the worker refuses before any password is tried.
    history = len(world.sessions.directory.history("rph.kim"))
    refused = Relay(worker.refused)
    before = world.kinds(world.own_id)
    with qtbot.waitSignal(refused.fired, timeout=10_000) as blocker:
        worker.decision_requested.emit(world.own_id, PASSWORDS["rph.kim"], True, "")
    assert blocker.args == [(words,)]
    assert world.kinds(world.own_id) == before
    assert len(world.sessions.directory.history("rph.kim")) == history


def test_an_in_process_check_is_signed_from_the_queue(world, running, qtbot):
    page = running.page
    review = open_review(qtbot, page, world.check_id)
    assert review.phase is Phase.AWAITING_CHECK
    assert page.review_view.approve_button.text() == CHECK_BUTTON
    check_step = next(s for s in review.steps if s.check is None and s.kind.value ==
                      "pharmacist check")
    assert page.review_view.step.number < check_step.number or page.review_view.step
    view = page.review_view
    qtbot.waitUntil(lambda: view.photo.image is not None or not view.step.photos,
                    timeout=10_000)
    if world.backend.name == "sqlite":
        ARTIFACTS.mkdir(exist_ok=True)
        assert page.grab().save(str(ARTIFACTS / "pharmacist_check.png"))
    qtbot.keyClick(page.review_view, Qt.Key.Key_F6)
    dialog = page.dialog
    assert dialog is not None and dialog.meaning == "in-process-checked"
    assert [b.text() for b in dialog.choice_buttons] == [CHECK_PASSED]
    dialog.password_field.setText(PASSWORDS["rph.lee"])
    qtbot.keyClick(dialog.password_field, Qt.Key.Key_Return)
    assert dialog.reason_field.hasFocus() or dialog.reason_field.isVisible()
    dialog.reason_field.setText("20 mEq drawn, syringe checked")
    qtbot.keyClick(dialog.reason_field, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: page.dialog is None, timeout=10_000)
    checked = signed(world, world.check_id, "in_process_checked")
    assert checked.payload["approved"] is True
    assert checked.payload["reason"] == "20 mEq drawn, syringe checked"
    assert checked.payload["signature"]["meaning"] == "in-process-checked"
    assert world.service.load(world.check_id).phase is Phase.IN_PROGRESS
    qtbot.waitUntil(lambda: page.queue_view.model.row_of(world.check_id) is None,
                    timeout=10_000)


def test_the_review_shows_flags_photos_at_full_resolution_and_moves_by_keyboard(world,
                                                                                running, qtbot):
    page = running.page
    view = page.review_view
    flagged = [p for p in world.seeded_waiting
               if any(f.level == "alert" for f in _review(world, p).flags)]
    target = flagged[0] if flagged else world.seeded_waiting[0]
    review = open_review(qtbot, page, target)
    assert view.flags.texts() == [("⚠ ALERT — " if f.level == "alert" else "● NOTE — ")
                                  + f.text for f in review.flags]
    first = view.step.number
    with_photo = next(s for s in review.steps if s.photos)
    view.select_step(with_photo.number)
    sha = view.photo_hash
    qtbot.waitUntil(lambda: view.photo.image is not None, timeout=10_000)
    stored = QImage.fromData(world.record.photos.get(sha))
    assert view.photo.image.size() == stored.size()  # the full resolution, not a thumbnail
    assert view.photo.fitted

    qtbot.keyClick(view, Qt.Key.Key_Plus)
    qtbot.keyClick(view, Qt.Key.Key_Plus)
    assert not view.photo.fitted
    zoomed = view.photo.zoom
    qtbot.keyClick(view, Qt.Key.Key_Minus)
    assert view.photo.zoom < zoomed
    qtbot.keyClick(view, Qt.Key.Key_0)
    assert view.photo.fitted

    view.select_step(first)
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert view.step.number == min(first + 1, len(review.steps))
    qtbot.keyClick(view, Qt.Key.Key_PageDown)
    assert view.step.number == min(first + 2, len(review.steps))
    qtbot.keyClick(view, Qt.Key.Key_Up)
    qtbot.keyClick(view, Qt.Key.Key_PageUp)
    assert view.step.number == first
    assert view.step_list.currentRow() == first - 1
    assert f"Step {first}:" in view.facts.toPlainText()
    page.queue_view.table.setFocus()
    qtbot.keyClick(page.queue_view.table, Qt.Key.Key_PageDown)  # the page's key: steps
    assert view.step.number == min(first + 1, len(review.steps))
    if world.backend.name == "sqlite":
        ARTIFACTS.mkdir(exist_ok=True)
        weighed = next((s for s in review.steps if s.weights and s.override), None) or next(
            s for s in review.steps if any(w.net is not None for w in s.weights))
        view.select_step(weighed.number)
        qtbot.waitUntil(lambda: view.photo.image is not None or not weighed.photos,
                        timeout=10_000)
        assert page.grab().save(str(ARTIFACTS / "pharmacist_review.png"))


def test_a_decision_made_elsewhere_shows_on_the_open_review(world, running, qtbot):
    page = running.page
    target = world.seeded_waiting[2]
    open_review(qtbot, page, target)
    from station.core.workflow import Verified  # noqa: PLC0415

    elsewhere = world.hood("rph-other")
    signature = world.sessions.sign(world.session("rph.kim"), PASSWORDS["rph.kim"], "verified",
                                    now=now())
    elsewhere.record_event(target, Verified("rph.kim", now()), signature=signature.as_payload())
    qtbot.waitUntil(lambda: page.review_view.review.phase is Phase.VERIFIED, timeout=10_000)
    assert not page.review_view.approve_button.isVisible()
    assert re.match(r"^VERIFIED — Kim Osei, PharmD \(rph\.kim\) — verified — .* UTC$",
                    page.review_view.outcome_label.text())
    qtbot.waitUntil(lambda: page.queue_view.model.row_of(target) is None, timeout=10_000)
    assert page.queue_view.current == target  # the review stays until the pharmacist moves


def _review(world, preparation_id):
    from station.services.review.build import review_preparation  # noqa: PLC0415

    return review_preparation(world.service, preparation_id)


def test_the_queue_is_worked_by_keyboard_and_a_scanned_label_opens_its_review(world, running,
                                                                              qtbot):
    page = running.page
    table = page.queue_view.table
    table.setFocus()
    entries = page.queue_view.model.entries
    page.queue_view.select_row(0)
    qtbot.keyClick(table, Qt.Key.Key_Down)
    assert page.queue_view.current == entries[1].preparation_id
    qtbot.waitUntil(lambda: page.review_view.review is not None
                    and page.review_view.review.preparation_id == entries[1].preparation_id,
                    timeout=10_000)
    qtbot.keyClick(table, Qt.Key.Key_Return)
    assert page.review_view.hasFocus()
    qtbot.keyClick(page.review_view, Qt.Key.Key_Escape)
    assert table.hasFocus()

    assert page.open_scanned(f"]C0{world.check_id}\n")
    assert page.queue_view.current == world.check_id
    assert page.review_view.hasFocus()
    assert not page.open_scanned("P-NOT-WAITING")
    assert page.message_label.text() == "✖ 'P-NOT-WAITING' is not waiting for a pharmacist"
