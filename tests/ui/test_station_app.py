"""The station window end to end: sign in, worklist, a guided preparation, held.

Everything is real but the physical world: the record is SQLite in a temporary folder, the
balance is the simulator on a pseudo-terminal read through the real MT-SICS driver on its own
thread, the camera is the simulated hood camera decoded by the real pipeline. The operator
only presses keys and scans; an application-wide event filter counts both, and mouse clicks.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt

from station.config.station_config import config_from_mapping
from station.core.accounts import Role
from station.core.workflow import Phase, StopReason
from station.demo.content import DEMO_ACCOUNTS
from station.demo.hood import Mistake
from station.services.hood import BALANCE_CHECK, NextAction, balance_stream
from tests.ui.station_driver import (
    Technician,
    demo_config,
    local_clock,
    screenshot,
    single_vial_order,
    start_single_vial_order,
)
from ui.shell.app import build_station
from ui.widgets.signature_dialog import SignatureDialog

#: The whole station window, driven by keys through whole preparations.
pytestmark = pytest.mark.slow


@pytest.fixture
def station(qtbot, tmp_path):
    built = build_station(demo_config(tmp_path), clock=local_clock, seed=3)
    qtbot.addWidget(built.window)
    built.window.resize(1920, 1080)
    built.start()
    yield built
    built.close()


@pytest.fixture
def technician(qtbot, station):
    return Technician(qtbot, station)


def test_a_single_vial_dose_from_sign_in_to_held_needs_no_mouse(technician, station, qtbot):
    window = station.window
    screenshot(window, "station_sign_in")
    technician.sign_in()
    qtbot.waitUntil(lambda: window.current_page is window.worklist_view, timeout=5000)
    qtbot.waitUntil(lambda: len(window.worklist_presenter.state.rows) > 0, timeout=10_000)
    screenshot(window, "station_worklist")
    order_id = single_vial_order(station)
    technician.scan(order_id)
    qtbot.waitUntil(lambda: window.current_page is window.preparation_view, timeout=10_000)
    technician.finish()
    qtbot.waitUntil(lambda: window.current_page is window.worklist_view, timeout=10_000)
    screenshot(window, "station_held")
    prep = station.preparation.preparation
    assert prep is not None and prep.phase is Phase.AWAITING_VERIFICATION
    assert order_id not in {r.order_id for r in window.worklist_presenter.state.rows}
    assert "held for a pharmacist's verification" in window.worklist_presenter.state.message
    counts = station.scanner_filter
    assert counts.mouse_clicks == 0
    assert counts.scans >= 2  # the order and the label
    assert counts.key_presses > 0


def drug_step_reached(technician) -> None:
    """Work up to the scan of the drug vial (after the base's scan and weighing)."""
    for _ in range(5):
        technician.work_until({NextAction.SCAN})
        step = technician.presenter.preparation.step
        if step.product is not None and step.product.role.value != "base":
            return
        technician.do_step()
    raise AssertionError("no drug vial to scan")


def test_a_wrong_vial_and_an_expired_lot_are_hard_stops_redone_with_enter(technician, station,
                                                                           qtbot):
    start_single_vial_order(technician, station, qtbot)
    drug_step_reached(technician)
    technician.do_step(Mistake.WRONG_PRODUCT)
    view = station.preparation.view
    assert view.phase is Phase.HARD_STOP
    assert station.preparation.preparation.stop.reason is StopReason.WRONG_PRODUCT
    prep_view = station.window.preparation_view
    assert prep_view.stop_label.isVisible()
    assert prep_view.stop_label.text().startswith("✖ STOPPED — wrong product")
    assert not prep_view.override_button.isEnabled()  # a wrong product is never overridden
    qtbot.wait(400)  # the camera's next frames carry the stop on their banner
    screenshot(station.window, "station_hard_stop")
    technician.press(Qt.Key.Key_F8)  # no override is offered: nothing opens
    assert station.window.findChild(SignatureDialog) is None
    technician.do_step()  # Enter: redo the step
    assert station.preparation.view.next_action is NextAction.SCAN
    technician.do_step(Mistake.EXPIRED_LOT)
    assert station.preparation.preparation.stop.reason is StopReason.EXPIRED
    technician.do_step()  # Enter
    technician.do_step()  # the right vial this time
    assert station.preparation.view.phase is Phase.IN_PROGRESS
    attempts = station.preparation.preparation.record(
        station.preparation.preparation.current).attempts
    assert [a.accepted for a in attempts][-3:] == [False, False, True]
    assert station.scanner_filter.mouse_clicks == 0


def test_an_out_of_tolerance_draw_stops_and_a_corrected_one_is_accepted(technician, station,
                                                                        qtbot):
    start_single_vial_order(technician, station, qtbot)
    drug_step_reached(technician)
    # the drug vial, its photo, the empty syringe: then the draw
    for _ in range(5):
        technician.work_until({NextAction.WEIGH})
        if station.preparation.view.expected_reading is not None:
            break
        technician.do_step()
    screenshot(station.window, "station_weighing")
    technician.do_step(Mistake.DOSE_HIGH)
    prep = station.preparation.preparation
    assert prep.stop.reason is StopReason.OUT_OF_TOLERANCE
    assert station.window.preparation_view.override_button.isEnabled()
    qtbot.wait(400)
    screenshot(station.window, "station_out_of_tolerance")
    technician.do_step()  # Enter: redo
    technician.do_step()  # the corrected syringe, placed again
    prep = station.preparation.preparation
    assert prep.phase is Phase.IN_PROGRESS
    weights = [e for e in station.record.events.events_of(prep.preparation_id)
               if e.kind == "weight_read"]
    assert len(weights) >= 2
    technician.finish()
    assert station.preparation.view.phase is Phase.AWAITING_VERIFICATION


def test_an_unplugged_balance_is_shown_and_the_step_waits_until_it_is_back(technician, station,
                                                                           qtbot):
    start_single_vial_order(technician, station, qtbot)
    technician.work_until({NextAction.WEIGH})
    preparation_id = station.preparation.preparation.preparation_id

    def weights() -> int:
        return sum(e.kind == "weight_read"
                   for e in station.record.events.events_of(preparation_id))

    weighed = weights()
    before = technician.snapshot()
    status = station.window.status
    technician.hood.unplug_balance()
    qtbot.waitUntil(lambda: "DISCONNECTED" in status.balance_label.text().upper(),
                    timeout=10_000)
    screenshot(station.window, "station_balance_unplugged")
    technician.hood.perform(station.preparation.view, station.preparation.preparation)
    qtbot.wait(1500)
    assert technician.snapshot() == before  # nothing recorded while the balance is away
    assert weights() == weighed
    technician.hood.replug_balance()
    qtbot.waitUntil(lambda: "Balance: CONNECTED —" in status.balance_label.text(),
                    timeout=10_000)
    technician.wait_for_change(before)  # the weight on the pan is taken once it is back
    assert weights() == weighed + 1  # once
    technician.finish()
    assert station.preparation.view.phase is Phase.AWAITING_VERIFICATION


def test_a_blurry_photo_is_refused_and_retaken(technician, station, qtbot):
    start_single_vial_order(technician, station, qtbot)
    view = station.preparation.view
    assert view.next_action is NextAction.SCAN
    product = station.preparation.preparation.step.product
    technician.hood.show(product, blur=12.0)  # the camera is out of focus
    technician.qtbot.wait(300)  # frames already on their way show the blur too
    technician.scan(technician.hood.handheld_text(product))  # the handheld reads the bag
    technician.wait_for(NextAction.RETRY)
    prep = station.preparation.preparation
    assert prep.stop.reason is StopReason.BAD_PHOTO
    assert "blurry" in station.window.preparation_view.stop_label.text()
    technician.hood.show(product)  # focus
    technician.do_step()  # Enter: retake
    technician.qtbot.waitUntil(
        lambda: station.preparation.view.next_action is not NextAction.PHOTO, timeout=10_000)
    record = station.preparation.preparation.record(1)
    assert [p.problem is None for p in record.photos] == [False, True]


def test_signing_out_mid_preparation_and_back_in_carries_on_where_it_stopped(technician,
                                                                             station, qtbot):
    window = station.window
    start_single_vial_order(technician, station, qtbot)
    technician.do_step()  # the base is scanned
    prep = station.preparation.preparation
    before = technician.snapshot()
    technician.press(Qt.Key.Key_F12)
    assert window.current_page is window.login_view
    qtbot.waitUntil(lambda: station.preparation.view.phase is None, timeout=5000)
    technician.sign_in()
    qtbot.waitUntil(lambda: window.current_page is window.preparation_view, timeout=10_000)
    assert station.preparation.preparation.preparation_id == prep.preparation_id
    assert technician.snapshot()[:3] == before[:3]
    technician.finish()
    assert station.preparation.view.phase is Phase.AWAITING_VERIFICATION


def test_a_session_left_idle_for_ten_minutes_is_signed_out(technician, station, qtbot):
    window = station.window
    technician.sign_in()
    now = local_clock()
    assert not window.check_idle(now + dt.timedelta(minutes=9))
    window.note_activity(now + dt.timedelta(minutes=9))  # a key press keeps it open
    assert not window.check_idle(now + dt.timedelta(minutes=18))
    assert window.check_idle(now + dt.timedelta(minutes=20))
    assert window.session is None and window.current_page is window.login_view
    assert window.login_view.error_label.text() == (
        "✖ tech.demo was signed out after 10 minutes without activity: sign in again "
        "(an open preparation carries on)")


def test_an_account_without_a_screen_here_is_told_so(technician, station, qtbot):
    window = station.window
    window.role_pages.clear()  # a station built without the auditor's page
    technician.sign_in("audit.demo")
    assert window.current_page is window.login_view
    assert "audit.demo is an auditor: this station has no screen for that role" in (
        window.login_view.error_label.text())


def test_the_pharmacist_signs_in_at_the_same_window_and_releases_the_held_dose(technician,
                                                                               station,
                                                                               qtbot):
    window = station.window
    start_single_vial_order(technician, station, qtbot)
    technician.finish()
    held = station.preparation.preparation.preparation_id
    technician.press(Qt.Key.Key_F12)
    technician.sign_in("rph.demo")
    page = window.role_pages[Role.PHARMACIST]
    qtbot.waitUntil(lambda: window.current_page is page, timeout=5000)
    qtbot.waitUntil(lambda: page.queue_view.model.row_of(held) is not None, timeout=10_000)
    technician.scan("]C0" + held)  # the held bag's label, as an AIM-prefixing scanner sends it
    qtbot.waitUntil(lambda: page.review_view.review is not None
                    and page.review_view.review.preparation_id == held, timeout=10_000)
    screenshot(window, "station_pharmacist")
    technician.press(Qt.Key.Key_F6)
    qtbot.waitUntil(lambda: page.dialog is not None and page.dialog.isVisible(), timeout=5000)
    technician.type(next(a.password for a in DEMO_ACCOUNTS if a.user_id == "rph.demo"))
    technician.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: page.dialog is None, timeout=10_000)
    kinds = [e.kind for e in station.record.events.events_of(held)]
    assert "verified" in kinds
    assert station.scanner_filter.mouse_clicks == 0


def _sartorius(qtbot, tmp_path, balance):
    """The demo with a simulated Sartorius (SBI) balance, which reports no readability."""
    config = config_from_mapping({
        "record": {"url": f"sqlite:///{tmp_path / 'station.db'}"},
        "station": {"id": "hood-test", "name": "Hood test"},
        "balance": {"protocol": "sbi", **balance},
    })
    built = build_station(config, clock=local_clock, seed=3)
    qtbot.addWidget(built.window)
    built.window.resize(1920, 1080)
    built.start()
    return built


@pytest.fixture
def sartorius_station(qtbot, tmp_path):
    built = _sartorius(qtbot, tmp_path, {"readability": "0.01"})
    yield built
    built.close()


def test_a_balance_without_any_readability_stays_refused_and_says_what_to_configure(
        qtbot, tmp_path):
    station = _sartorius(qtbot, tmp_path, {})
    try:
        status = station.window.status.balance_label
        qtbot.waitUntil(lambda: "balance.readability" in status.text(), timeout=10_000)
        qtbot.wait(3500)  # several reconnect attempts later: still the same reason
        assert "balance.readability" in status.text(), status.text()
        assert "DISCONNECTED" in status.text()
        assert station.preparation.balance is None
    finally:
        station.close()


def test_a_balance_without_a_readability_weighs_with_the_configured_one(sartorius_station,
                                                                          qtbot):
    station = sartorius_station
    status = station.window.status.balance_label
    qtbot.waitUntil(lambda: "Balance: CONNECTED —" in status.text(), timeout=10_000)
    assert "Sartorius" in status.text()
    qtbot.waitUntil(lambda: station.preparation.balance is not None, timeout=5000)
    assert station.preparation.balance.readability == Decimal("0.01")
    technician = Technician(qtbot, station)
    start_single_vial_order(technician, station, qtbot)
    technician.work_until({NextAction.WEIGH})  # the daily balance check on the way
    technician.do_step()  # a weighing
    assert "readability" not in station.preparation.state.message
    serial = station.preparation.balance.serial_number
    checks = [e.payload for e in station.record.events.events_of(balance_stream(serial))
              if e.kind == BALANCE_CHECK]
    assert [c["readability"] for c in checks] == ["0.01"]
    prep = station.preparation.preparation
    weights = [e.payload for e in station.record.events.events_of(prep.preparation_id)
               if e.kind == "weight_read"]
    assert weights and {w["readability"] for w in weights} == {"0.01"}
    assert {w["balance_id"] for w in weights} == {serial}
