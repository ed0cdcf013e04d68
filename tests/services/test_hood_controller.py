"""The hood controller's decisions, from plain inputs: no Qt, no devices, no record.

Preparations are real ones, advanced through the pure workflow; the hood's views are built
here with what each test needs the station to be asking for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

import numpy as np
import pytest

from scale_drivers.api import BalanceInfo, Reading
from station.core.formulary import Formulary
from station.core.identifiers import Expiry, Lot
from station.core.printed_lot import PrintedLot, Refusal, RefusalKind
from station.core.recipe import StepKind, build_recipe
from station.core.scan import parse_scan
from station.core.workflow import Cancelled, Phase, PhotoTaken, Preparation, Retried
from station.devices.camera import Frame
from station.devices.decoding import Symbol
from station.devices.ocr import OcrResult
from station.services.hood import BalanceRefused, HoodView, NextAction, PendingLot
from station.services.hood_controller import (
    STABLE_TIMEOUT,
    Confirm,
    ConfirmPrintedLot,
    DiscardVial,
    Finished,
    GaugeMessage,
    HoodController,
    KeepVial,
    OfferPrintedLot,
    PrintLabel,
    ReadPrintedLot,
    RequestStableWeight,
    Retry,
    SetAside,
    SetStreaming,
    ShowMessage,
    SubmitBalanceCheck,
    SubmitCameraRead,
    SubmitHandheld,
    SubmitLabel,
    SubmitPhoto,
    SubmitWeight,
    TypeLot,
    balance_to_use,
)
from tests.station.builders import FORMULARY, NOW, TOLERANCE, Technician, order

BALANCE = BalanceInfo("Mettler Toledo", "XPR204", "B123456789", "1.2.3", Decimal("220"),
                      Decimal("0.001"))
HEPARIN = ("0409-2720-01", "25000 units")  # scan base, tare, scan, tare, draw, ..., photo


def reading(grams: str, *, stable: bool = True, unit: str = "g") -> Reading:
    return Reading(Decimal(grams), unit, stable, f"S {'S' if stable else 'D'} {grams} {unit}",
                   "SI", dt.datetime(2026, 11, 26, 14, 30, tzinfo=dt.UTC), 0.0)


def frame(index: int) -> Frame:
    return Frame(np.zeros((8, 8, 3), np.uint8), index, float(index), "cam")


def photographed(requests: Sequence[object]) -> int | None:
    """The index of the frame the requests photograph (frames hold arrays: no ==)."""
    if not requests:
        return None
    [request] = requests
    assert isinstance(request, SubmitPhoto)
    return request.frame.index


SYMBOL = Symbol("DataMatrix", "0100303380049486", "]d2", ((0, 0), (1, 0), (1, 1), (0, 1)),
                "zxing-cpp")


@pytest.fixture
def tech() -> Technician:
    return Technician()


@pytest.fixture
def prep(tech) -> Preparation:
    """A single-vial preparation at its first step (scan the base)."""
    recipe = build_recipe(order("RX1", HEPARIN), Formulary.from_mapping(FORMULARY), TOLERANCE)
    return tech.start(recipe)


def view_of(prep: Preparation, action: NextAction, **changes: object) -> HoodView:
    step = prep.step
    view = HoodView(prep.phase, action, prep.preparation_id,
                    step.number if step is not None else None, len(prep.recipe.steps))
    return replace(view, **changes)


def weighing(prep: Preparation, tech: Technician) -> tuple[HoodView, Preparation]:
    """The base scanned and photographed: step 2 weighs the bag."""
    prep = tech.advance_to(prep, 2)
    return view_of(prep, NextAction.WEIGH), prep


def controller_at(view: HoodView, prep: Preparation | None, *,
                  balance: BalanceInfo | None = BALANCE) -> HoodController:
    controller = HoodController(link_words=lambda state: f"<{state}>")
    if balance is not None:
        controller.balance_identified(balance)
        controller.balance_link("connected")
    controller.view_changed(view, prep)
    return controller


# ---------------------------------------------------------------- the balance connects


def test_a_balance_is_used_with_its_readability_and_the_repeatability_floor():
    used = balance_to_use(BALANCE, None)
    assert used.info == BALANCE
    assert used.spec.readability == Decimal("0.001")
    assert used.spec.repeatability == Decimal("0.00041")  # 0.41 d: none was measured


def test_a_measured_repeatability_above_the_floor_is_the_one_recorded():
    sbi = BalanceInfo("Sartorius", "BCE224I", "0034567")  # reports no readability
    used = balance_to_use(sbi, Decimal("0.01"), repeatability=Decimal("0.006"))
    assert used.info == replace(sbi, readability=Decimal("0.01"))
    assert used.spec.repeatability == Decimal("0.006")


def test_a_balance_the_configuration_disagrees_with_is_refused():
    with pytest.raises(BalanceRefused, match=r"configured as 0\.01 g"):
        balance_to_use(BALANCE, Decimal("0.01"))


# ---------------------------------------------------------------- weighing by itself


def test_a_steady_new_load_asks_once_and_is_recorded_as_the_weight(prep, tech):
    view, prep = weighing(prep, tech)
    controller = controller_at(view, prep)
    assert controller.live_reading(reading("0.000"), "") == []  # an empty pan
    assert controller.live_reading(reading("105.3", stable=False), "") == []  # still moving
    assert controller.live_reading(reading("105.312"), "") == [
        RequestStableWeight(STABLE_TIMEOUT)]
    assert controller.live_reading(reading("105.312"), "") == []  # already asked
    stable = reading("105.312")
    assert controller.stable_reading(stable) == [SubmitWeight(stable)]
    assert controller.live_reading(reading("105.313"), "") == []  # the same placement
    assert controller.live_reading(reading("118.950"), "") == [
        RequestStableWeight(STABLE_TIMEOUT)]  # the load changed: a new attempt


def test_the_stable_weight_is_asked_for_within_the_timeout_given(prep, tech):
    view, prep = weighing(prep, tech)
    controller = HoodController(stable_timeout=10.0)
    controller.balance_identified(BALANCE)
    controller.view_changed(view, prep)
    assert controller.live_reading(reading("105.312"), "") == [RequestStableWeight(10.0)]


def test_a_weight_during_the_daily_check_is_recorded_as_the_check(prep, tech):
    view, prep = weighing(prep, tech)
    controller = controller_at(replace(view, next_action=NextAction.BALANCE_CHECK), prep)
    assert controller.live_reading(reading("100.001"), "") == [
        RequestStableWeight(STABLE_TIMEOUT)]
    check = reading("100.001")
    assert controller.stable_reading(check) == [SubmitBalanceCheck(check)]


@pytest.mark.parametrize("action", [NextAction.SCAN, NextAction.PHOTO, NextAction.CONFIRM,
                                    NextAction.RETRY])
def test_nothing_is_captured_where_no_weight_is_wanted(prep, action):
    controller = controller_at(view_of(prep, action), prep)
    assert controller.live_reading(reading("105.312"), "") == []
    assert controller.stable_reading(reading("105.312")) == []


def test_nothing_is_captured_before_a_balance_with_a_readability_is_identified(prep, tech):
    view, prep = weighing(prep, tech)
    controller = controller_at(view, prep, balance=None)
    assert controller.live_reading(reading("105.312"), "") == []
    controller.balance_identified(replace(BALANCE, readability=None))
    assert controller.live_reading(reading("105.312"), "") == []


def test_a_reading_not_in_grams_is_never_captured(prep, tech):
    view, prep = weighing(prep, tech)
    controller = controller_at(view, prep)
    assert controller.live_reading(reading("105.312", unit="oz"), "") == []


@pytest.mark.parametrize("event", ["stable_failed", "refused", "link lost"])
def test_a_capture_that_came_to_nothing_tries_again_on_the_next_steady_reading(
        prep, tech, event):
    view, prep = weighing(prep, tech)
    controller = controller_at(view, prep)
    assert controller.live_reading(reading("105.312"), "")
    assert controller.live_reading(reading("105.312"), "") == []  # waiting for the answer
    if event == "stable_failed":
        assert controller.stable_failed("not stable within 8 s") == [
            ShowMessage("✖ balance: not stable within 8 s")]
    elif event == "refused":
        assert controller.refused("the balance is not stable") == [
            ShowMessage("✖ the balance is not stable")]
    else:
        controller.balance_link("offline")
        controller.balance_link("connected")
    assert controller.live_reading(reading("105.312"), "") == [
        RequestStableWeight(STABLE_TIMEOUT)]


def test_a_newly_identified_balance_takes_the_same_load_again(prep, tech):
    view, prep = weighing(prep, tech)
    controller = controller_at(view, prep)
    assert controller.live_reading(reading("105.312"), "")
    controller.stable_reading(reading("105.312"))
    assert controller.live_reading(reading("105.312"), "") == []
    replacement = replace(BALANCE, serial_number="B999", readability=Decimal("0.01"))
    assert controller.balance_identified(replacement) == []
    assert controller.balance is replacement
    assert controller.live_reading(reading("105.31"), "") == [
        RequestStableWeight(STABLE_TIMEOUT)]


# ---------------------------------------------------------------- the balance's link and gauge


def test_while_the_link_is_down_the_gauge_says_the_step_waits(prep, tech):
    view, prep = weighing(prep, tech)
    controller = controller_at(view, prep)
    assert controller.balance_link("offline") == [
        GaugeMessage("BALANCE <offline>: the step waits for it")]
    assert controller.balance_link("offline") == []  # said already
    assert controller.live_reading(None, "overload") == []  # the link speaks first
    assert controller.balance_link("connected") == [GaugeMessage("")]
    assert controller.link == "connected" and controller.gauge_message == ""


def test_the_balance_says_why_it_gives_no_reading_and_a_reading_clears_it(prep, tech):
    view, prep = weighing(prep, tech)
    controller = controller_at(view, prep)
    assert controller.live_reading(None, "overload") == [GaugeMessage("overload")]
    assert controller.balance_link("connected") == []  # not a link message: it stays
    assert controller.live_reading(reading("0.000"), "") == [GaugeMessage("")]
    assert controller.live_reading(reading("0.000"), "") == []


# ---------------------------------------------------------------- streaming


def test_live_readings_stream_while_weighing_and_while_stopped_at_a_weighing(prep, tech):
    controller = HoodController()
    assert controller.view_changed(view_of(prep, NextAction.SCAN), prep) == []
    view, prep = weighing(prep, tech)
    assert controller.view_changed(view, prep) == [SetStreaming(True)]
    assert controller.view_changed(view, prep) == []  # asked already
    stopped = replace(view, phase=Phase.HARD_STOP, next_action=NextAction.RETRY,
                      expected_reading=Decimal("17.5"))
    assert controller.view_changed(stopped, prep) == []
    assert controller.streaming
    assert controller.view_changed(view_of(prep, NextAction.CONFIRM), prep) == [
        SetStreaming(False)]
    assert controller.view_changed(view_of(prep, NextAction.BALANCE_CHECK), prep) == [
        SetStreaming(True)]


# ---------------------------------------------------------------- the camera


def test_the_photo_is_the_first_frame_after_the_acceptance(prep, tech):
    controller = controller_at(view_of(prep, NextAction.SCAN), prep)
    assert photographed(controller.frame(frame(1))) is None  # scanning: no photograph
    scanned = tech.do(prep, tech.right_event(prep))  # accepted; its photo is due
    controller.view_changed(view_of(scanned, NextAction.PHOTO), scanned)
    assert controller.photo_wanted
    assert photographed(controller.frame(frame(2))) == 2
    assert photographed(controller.frame(frame(3))) is None
    controller.view_changed(view_of(scanned, NextAction.PHOTO), scanned)  # the same attempt
    assert not controller.photo_wanted and photographed(controller.frame(frame(4))) is None


def test_enter_takes_the_photo_again_and_a_new_attempt_wants_its_own(prep, tech):
    scanned = tech.do(prep, tech.right_event(prep))
    controller = controller_at(view_of(scanned, NextAction.PHOTO), scanned)
    assert photographed(controller.frame(frame(1))) == 1
    assert controller.primary() == []
    assert photographed(controller.frame(frame(2))) == 2
    blurry = tech.do(scanned, PhotoTaken(tech.user, NOW, "sha256:blurry", "too blurry"))
    assert blurry.phase is Phase.HARD_STOP
    controller.view_changed(view_of(blurry, NextAction.RETRY), blurry)
    assert not controller.photo_wanted
    again = tech.do(blurry, Retried(tech.user, NOW))
    controller.view_changed(view_of(again, NextAction.PHOTO), again)
    assert photographed(controller.frame(frame(3))) == 3


def test_the_labelled_container_is_photographed_on_enter_only(prep, tech):
    prep = tech.advance_to(prep, len(prep.recipe.steps))
    assert prep.step is not None and prep.step.kind is StepKind.PHOTO
    controller = controller_at(view_of(prep, NextAction.PHOTO), prep)
    assert not controller.photo_wanted and photographed(controller.frame(frame(1))) is None
    assert controller.primary() == []
    assert photographed(controller.frame(frame(2))) == 2
    assert photographed(controller.frame(frame(3))) is None


def test_camera_symbols_are_a_scan_only_on_a_scanning_step(prep, tech):
    controller = controller_at(view_of(prep, NextAction.SCAN), prep)
    assert controller.scanning
    seen = frame(1)
    [read] = controller.symbols(seen, [SYMBOL])
    assert isinstance(read, SubmitCameraRead)
    assert read.frame is seen and list(read.symbols) == [SYMBOL]
    assert controller.symbols(frame(2), []) == []  # nothing read: nothing to judge
    view, prep = weighing(prep, tech)
    controller.view_changed(view, prep)
    assert not controller.scanning
    assert controller.symbols(frame(3), [SYMBOL]) == []


# ---------------------------------------------------------------- the handheld and Enter


def test_a_handheld_scan_goes_to_the_step_that_wants_one(prep, tech):
    controller = controller_at(view_of(prep, NextAction.SCAN), prep)
    assert controller.handheld("]d2010030338") == [SubmitHandheld("]d2010030338")]
    controller.view_changed(view_of(prep, NextAction.PRINT_LABEL), prep)
    assert controller.handheld("P-0001") == [ShowMessage(
        "✖ the label has not been printed: print it, apply it, then scan it")]
    controller.view_changed(view_of(prep, NextAction.SCAN_LABEL), prep)
    assert controller.handheld("P-0001") == [SubmitLabel("P-0001")]
    view, prep = weighing(prep, tech)
    controller.view_changed(view, prep)
    assert controller.handheld(" P-NOTHING\n") == [
        ShowMessage("✖ no scan is expected at this step: 'P-NOTHING' ignored")]


def test_a_handheld_scan_with_no_preparation_open_is_refused():
    assert HoodController().handheld("X") == [
        ShowMessage("✖ no scan is expected at this step: 'X' ignored")]


@pytest.mark.parametrize(("action", "requests"), [
    (NextAction.CONFIRM, [Confirm()]),
    (NextAction.RETRY, [Retry()]),
    (NextAction.RETRY_OR_OVERRIDE, [Retry()]),
    (NextAction.WEIGH, []),
    (NextAction.SCAN, []),
    (NextAction.PHARMACIST_CHECK, []),
    (NextAction.PRINT_LABEL, [PrintLabel()]),
    (NextAction.SCAN_LABEL, []),
])
def test_enter_confirms_retries_or_prints_the_label(prep, action, requests):
    controller = controller_at(view_of(prep, action), prep)
    assert controller.primary() == requests


def test_enter_with_nothing_open_does_nothing():
    assert HoodController().primary() == []


# ---------------------------------------------------------------- the lot of a linear barcode


HEPARIN_UPC = "]E00304092720014"
READ = OcrResult(PrintedLot(Lot("L2405A"), Expiry(dt.date(2028, 12, 31), "2028-12-31"),
                            "LOT L2405A / EXP 2028-12-31", 91.0), (), 2, 0.5)
REFUSED = OcrResult(Refusal(RefusalKind.NOT_FOUND, "no printed lot found"), (), 0, 0.3)


def waiting(prep: Preparation, tech: Technician, number: int, frame_index: int | None,
            read: PrintedLot | None = None) -> tuple[HoodView, Preparation]:
    """At the heparin scan, its UPC-A read: the hood waits for the lot (package ``number``)."""
    prep = tech.advance_to(prep, 3)
    assert prep.step is not None and prep.step.kind is StepKind.SCAN
    assert prep.step.product is not None
    pending = PendingLot(number, prep.preparation_id, 3, prep.step.product,
                         parse_scan(HEPARIN_UPC, 2026), "the barcode carries no lot and no "
                         "expiry", frame_index, read)
    return view_of(prep, NextAction.IDENTIFY_LOT, pending_lot=pending), prep


def test_the_print_is_read_once_from_the_frame_the_barcode_was_read_in(prep, tech):
    view, prep = waiting(prep, tech, 1, frame_index=2)
    controller = controller_at(view_of(prep, NextAction.SCAN), prep)
    shown = [frame(1), frame(2), frame(3)]
    for seen in shown:
        assert controller.symbols(seen, [SYMBOL]) == [SubmitCameraRead(seen, [SYMBOL])]
    [ask] = controller.view_changed(view, prep)
    assert isinstance(ask, ReadPrintedLot) and ask.frame is shown[1]
    assert controller.scanning  # another package shown may replace the one waiting
    assert controller.view_changed(view, prep) == []  # the same package: read once
    assert not controller.lot_read_wanted
    assert controller.printed_lot_read(READ) == [OfferPrintedLot(READ)]
    offered = replace(view, pending_lot=replace(view.pending_lot, read=READ.printed_lot))
    assert controller.view_changed(offered, prep) == []
    assert controller.primary() == [ConfirmPrintedLot()]


def test_after_a_handheld_scan_the_print_is_read_from_the_next_frame(prep, tech):
    view, prep = waiting(prep, tech, 1, frame_index=None)
    controller = controller_at(view, prep)
    assert controller.lot_read_wanted
    [ask] = controller.frame(frame(7))
    assert isinstance(ask, ReadPrintedLot) and ask.frame.index == 7
    assert controller.frame(frame(8)) == []
    assert controller.primary() == [
        ShowMessage("✖ no printed lot to confirm: type the lot and expiry twice")]
    assert controller.printed_lot_read(REFUSED) == [OfferPrintedLot(REFUSED)]


def test_a_read_that_comes_back_for_a_package_no_longer_waiting_is_dropped(prep, tech):
    first, prep = waiting(prep, tech, 1, frame_index=None)
    controller = controller_at(first, prep)
    controller.frame(frame(1))  # asked for package 1
    second = replace(first, pending_lot=replace(first.pending_lot, number=2))
    assert controller.view_changed(second, prep) == []
    controller.frame(frame(2))  # asked for package 2
    assert controller.printed_lot_read(READ) == []  # package 1's read
    assert controller.printed_lot_read(READ) == [OfferPrintedLot(READ)]
    assert controller.printed_lot_read(READ) == []  # nothing more was asked


def test_typing_and_setting_aside_go_to_the_package_waiting(prep, tech):
    view, prep = waiting(prep, tech, 1, frame_index=None)
    controller = controller_at(view, prep)
    assert controller.lot_typed("L1", "2028-12", "L1", "2028-12") == [
        TypeLot("L1", "2028-12", "L1", "2028-12")]
    assert controller.set_aside() == [SetAside()]
    assert controller.handheld(HEPARIN_UPC) == [SubmitHandheld(HEPARIN_UPC)]
    controller.view_changed(view_of(prep, NextAction.SCAN), prep)
    assert controller.lot_typed("L1", "2028-12", "L1", "2028-12") == [
        ShowMessage("✖ no package is waiting for its lot: nothing recorded")]
    assert controller.set_aside() == []


# ---------------------------------------------------------------- the label and the vial


def test_the_label_prints_only_at_the_label_step(prep):
    controller = controller_at(view_of(prep, NextAction.WEIGH), prep)
    [refused] = controller.print_label()
    assert isinstance(refused, ShowMessage) and "after the final container check" in refused.text
    controller.view_changed(view_of(prep, NextAction.SCAN_LABEL), prep)
    assert controller.print_label("smudged") == [PrintLabel("smudged")]


def test_a_vial_is_kept_only_when_the_hood_says_it_may_be(prep):
    controller = controller_at(view_of(prep, NextAction.PHOTO), prep)
    [refused] = controller.keep_vial()
    assert isinstance(refused, ShowMessage)
    controller.view_changed(view_of(prep, NextAction.PHOTO, vial_keepable=True), prep)
    assert controller.keep_vial() == [KeepVial()]
    assert controller.discard_vial("OV-1", "empty") == [DiscardVial("OV-1", "empty")]


# ---------------------------------------------------------------- leaving the hood


def test_a_preparation_that_leaves_the_hood_is_finished_once(prep, tech):
    controller = controller_at(view_of(prep, NextAction.SCAN), prep)
    cancelled = tech.do(prep, Cancelled(tech.user, NOW, "wrong bag"))
    view = view_of(cancelled, NextAction.DONE)
    assert controller.view_changed(view, cancelled) == [Finished("P-0001", "cancelled")]
    assert controller.view_changed(view, cancelled) == []
    assert controller.view is view and controller.preparation is cancelled
