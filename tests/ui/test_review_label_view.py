"""The pharmacist's review and the auditor's replay of a labelled preparation: the beyond-use
date as printed (or "no label printed yet"), each component's lot source with its marker, an
opened vial, and each syringe's drawn and delivered dose, in the review's own words."""

from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal

from station.core.components import LotSource
from station.services.review.build import review_preparation
from station.services.review.wording import CHECK_LOT, NO_LABEL_YET, bud_rows, syringe_text
from tests.records.labelled import DELIVERED, DRAWN, SYRINGE_TARE, VIAL, record_heparin
from ui.audit.replay_moment import bud_lines, gauge_state, scan_lines, weight_lines
from ui.audit.replay_view import ReplayView
from ui.pharmacist.review_view import ReviewView, facts_html, step_syringes

SITE = dt.timezone(dt.timedelta(hours=-6))
NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=SITE)


def shown_review(qtbot, review) -> ReviewView:
    view = ReviewView()
    qtbot.addWidget(view)
    view.resize(1300, 1000)
    view.show_review(review, "", NOW)
    return view


def test_the_review_header_gives_the_printed_bud_rule_storage_and_category(qtbot, service,
                                                                          version):
    prep = record_heparin(service, version, until="labelled", reprint=True)
    review = review_preparation(service, prep.preparation_id)
    view = shown_review(qtbot, review)
    text = view.bud_label.text()
    assert text.split(" · ") == [f"{what}: {said}" for what, said in bud_rows(review.bud)
                                 if what not in ("Label", "Reprint")]
    assert "(as printed, copy 2)" in text and "Store at controlled room temperature" in text
    assert not view.bud_label.isHidden()
    label_step = next(s for s in review.steps if s.kind.value == "label")
    facts = facts_html(label_step, SITE, bud=review.bud)
    for what, said in bud_rows(review.bud):
        assert f"<th>{html.escape(what)}</th><td>{html.escape(said)}</td>" in facts


def test_the_review_says_no_label_printed_yet_in_red(qtbot, service, version):
    prep = record_heparin(service, version, until="weighed")
    review = review_preparation(service, prep.preparation_id)
    view = shown_review(qtbot, review)
    assert NO_LABEL_YET in view.bud_label.text()
    assert "#b71c1c" in view.bud_label.styleSheet()


def test_a_typed_lot_is_marked_for_the_pharmacist_and_an_opened_vial_named(service, version):
    typed = record_heparin(service, version, preparation_id="P-TYPED",
                           heparin_from=LotSource.TYPED, until="weighed")
    facts = facts_html(review_preparation(service, typed.preparation_id).step(3), SITE)
    assert ("<span class='bad'>⚑ lot and expiry typed twice by the technician — "
            f"{CHECK_LOT}</span>") in facts
    vial = record_heparin(service, version, preparation_id="P-VIAL",
                          heparin_from=LotSource.OPENED_VIAL, until="weighed")
    review = review_preparation(service, vial.preparation_id)
    facts = facts_html(review.step(3), SITE)
    assert "lot and expiry from the opened-vial record" in facts and "⚑" not in facts
    assert f"opened vial {VIAL.key}, first punctured 2026-11-26 07:30 UTC-06:00" in facts
    lines = scan_lines(review.step(3).scans[0]).splitlines()
    assert lines[2] == "Lot and expiry from the opened-vial record"
    assert lines[3].startswith(f"Opened vial {VIAL.key}, first punctured ")
    typed_scan = review_preparation(service, typed.preparation_id).step(3).scans[0]
    assert scan_lines(typed_scan).splitlines()[2] == (
        f"⚑ Lot and expiry typed twice by the technician — {CHECK_LOT}")


def test_the_draw_the_emptied_syringe_and_the_final_weight_show_drawn_and_delivered(
        service, version):
    prep = record_heparin(service, version, until="weighed")
    review = review_preparation(service, prep.preparation_id)
    (syringe,) = review.syringes
    for number in (5, 7, 8):
        step = review.step(number)
        assert step_syringes(review, step) == (syringe,)
        facts = facts_html(step, SITE, syringes=step_syringes(review, step))
        assert syringe_text(syringe) in facts
    assert step_syringes(review, review.step(4)) == ()
    emptied = facts_html(review.step(7), SITE)
    assert "5.010&nbsp;g delivered<br><small>17.050&nbsp;g filled − 12.040&nbsp;g emptied" \
        in emptied


def test_the_replay_shows_the_delivered_weight_on_the_gauge_and_in_words(service, version):
    prep = record_heparin(service, version, until="weighed")
    weight = review_preparation(service, prep.preparation_id).step(7).weights[0]
    state = gauge_state(weight)
    filled = SYRINGE_TARE + DRAWN
    assert state.target == filled - DRAWN  # the emptied syringe should weigh the dose less
    assert state.low < state.value < state.high and state.value == filled - DELIVERED
    assert weight_lines(weight).splitlines()[1:3] == [
        "Emptied syringe: delivered 5.010 g = 17.050 g filled (step 5) − 12.040 g, expected "
        "5.050 g: -0.79 % of ±5 %", "Dose 24,802 units delivered, 25,000 units ordered"]
    assert state.target - state.low == Decimal("0.2525")


def test_the_replay_shows_the_printed_bud_under_the_order(qtbot, service, version):
    prep = record_heparin(service, version, reprint=True)
    review = review_preparation(service, prep.preparation_id)
    view = ReplayView(tick_ms=10)
    qtbot.addWidget(view)
    view.load(review, {}, {})
    assert view.bud_label.text() == bud_lines(review.bud)
    lines = view.bud_label.text().splitlines()
    assert lines[0] == "Beyond-use date: 2026-11-26 21:30 UTC-06:00 (as printed, copy 2)"
    assert lines[2] == "Storage: Store at controlled room temperature 20-25 °C"
    assert lines[-1].startswith("Reprint: copy 2 printed ")
    view.clear("nothing")
    assert view.bud_label.text() == ""
