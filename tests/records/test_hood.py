"""The hood session end to end, on both backends: realistic inputs in, the record out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from scale_drivers.api import BalanceInfo, Reading
from station.core.acceptance import AcceptanceTracker, Status
from station.core.errors import WorkflowError
from station.core.formulary import Product
from station.core.identifiers import Gtin
from station.core.workflow import Phase, StopReason
from station.demo.camera_scene import Label, Scene, render
from station.devices.camera import Frame
from station.records.recalls import RecallList
from station.services.hood import BALANCE_CHECK, HoodSession, HoodView, NextAction, balance_stream
from station.services.scan_events import ScanEvents
from tests.clock import FakeClock
from tests.station.builders import FINE, NOW, order

GS = "\x1d"
BALANCE = BalanceInfo("Mettler Toledo", "XPR204", "B123456789", "1.2.3",
                      Decimal("220"), Decimal("0.001"))
HEPARIN = "0409-2720-01"
WRONG_HEPARIN = "0409-1888-10"
BASE = "0338-0049-48"
SYRINGE = Decimal("12.000")
BAG = Decimal("118.400")
RNG = np.random.default_rng(7)


def scan_text(product: Product, lot: str = "L2405A", expiry: str = "281231",
              serial: str = "SN0001") -> str:
    gtin = product.ndc.gtin()
    assert isinstance(gtin, Gtin)
    return f"]d201{gtin}17{expiry}10{lot}{GS}21{serial}"


def reading(grams: Decimal, *, stable: bool = True) -> Reading:
    status = "S" if stable else "D"
    return Reading(grams, "g", stable, f"S {status} {grams:>10} g", "S",
                   dt.datetime(2026, 11, 26, 15, 30, tzinfo=dt.UTC), 1234.5)


def frame(product: Product | None, index: int, *, blur: float = 0.0) -> Frame:
    labels = (Label.for_product(product, lot="L2405A", expiry=dt.date(2028, 12, 31),
                                serial="SN0001"),) if product is not None else ()
    image = render(Scene(labels=labels, blur=blur), (1280, 720), RNG)
    return Frame(image, index, float(index) / 30, "camera-0")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW, step=dt.timedelta(seconds=1))


@pytest.fixture
def hood(service, version, clock):
    recalls = RecallList(service.record.engine, clock)
    return HoodSession(service, version.formulary(), ScanEvents(recalls), AcceptanceTracker,
                       station_id="hood-1", clock=clock, balance=BALANCE, balance_spec=FINE)


@pytest.fixture
def checked(hood):
    result = hood.record_balance_check(reading(Decimal("100.003")), Decimal("100.000"),
                                       user="tech.ana")
    assert result.passed
    return hood


def heparin_order(order_id: str = "RX1"):
    return order(order_id, (HEPARIN, "25000 units"))


def do_right(hood: HoodSession, formulary) -> HoodView:
    """One right input for what the view asks next."""
    view = hood.view
    prep = hood.preparation
    assert prep is not None and prep.step is not None
    step = prep.step
    if view.next_action is NextAction.SCAN:
        assert step.product is not None
        return hood.scan_text(scan_text(step.product), handheld=True)
    if view.next_action is NextAction.WEIGH:
        if view.expected_reading is not None:
            return hood.weight(reading(view.expected_reading.quantize(Decimal("0.001"))))
        tare = BAG if step.product is not None and step.product.ndc == formulary.by_ndc_text(
            BASE).ndc else SYRINGE
        return hood.weight(reading(tare))
    if view.next_action is NextAction.PHOTO:
        return hood.photo(frame(step.product, step.number))
    if view.next_action is NextAction.CONFIRM:
        return hood.confirm()
    if view.next_action is NextAction.SCAN_LABEL:
        return hood.label_scanned("]C0" + prep.preparation_id)  # as an AIM scanner sends it
    raise AssertionError(f"no right input for {view}")


def run_until(hood: HoodSession, formulary, stop: set[NextAction], limit: int = 40) -> HoodView:
    for _ in range(limit):
        if hood.view.next_action in stop:
            return hood.view
        do_right(hood, formulary)
    raise AssertionError(f"did not reach {stop}: {hood.view}")


def test_a_whole_single_vial_preparation_through_the_hood(checked, service, version):
    hood = checked
    view = hood.start(heparin_order(), version, "tech.ana")
    assert view.phase is Phase.IN_PROGRESS
    assert view.next_action is NextAction.SCAN
    assert view.step_title.startswith("Scan the base")
    formulary = version.formulary()
    view = run_until(hood, formulary, {NextAction.VERIFY})
    assert view.phase is Phase.AWAITING_VERIFICATION
    prep = hood.preparation
    assert prep is not None
    loaded = service.load(prep.preparation_id)
    assert loaded.phase is Phase.AWAITING_VERIFICATION
    assert loaded.records == prep.records
    kinds = [e.kind for e in service.record.events.events_of(prep.preparation_id)]
    assert kinds.count("photo_taken") == 5
    assert "hard_stop" not in kinds
    weights = [e.payload for e in service.record.events.events_of(prep.preparation_id)
               if e.kind == "weight_read"]
    assert {w["balance_id"] for w in weights} == {"B123456789"}
    assert weights[0]["raw"] == "S S    118.400 g"
    for event in service.record.events.events_of(prep.preparation_id):
        if event.kind == "photo_taken":
            assert service.record.photos.get(event.payload["photo"])[:2] == b"\xff\xd8"


def test_camera_frames_need_two_reads_and_pending_records_nothing(checked, service,
                                                                   version):
    hood = checked
    hood.start(heparin_order(), version, "tech.ana")
    base = version.formulary().by_ndc_text(BASE)
    prep_id = hood.preparation.preparation_id
    before = len(service.record.events.events_of(prep_id))
    view = hood.scan_text(scan_text(base), handheld=False, frame_index=1)
    assert view.decision is Status.PENDING
    assert view.message == "read once — hold steady"
    assert len(service.record.events.events_of(prep_id)) == before
    view = hood.scan_text(scan_text(base), handheld=False, frame_index=2)
    assert view.decision is Status.ACCEPTED
    assert view.next_action is NextAction.PHOTO


def test_a_wrong_vial_is_a_hard_stop_then_retried(checked, version):
    hood = checked
    formulary = version.formulary()
    hood.start(heparin_order(), version, "tech.ana")
    do_right(hood, formulary)  # scan the base
    run_until(hood, formulary, {NextAction.SCAN})
    view = hood.scan_text(scan_text(formulary.by_ndc_text(WRONG_HEPARIN)), handheld=True)
    assert view.phase is Phase.HARD_STOP
    assert view.next_action is NextAction.RETRY
    assert view.message.startswith("wrong product: scanned")
    with pytest.raises(WorkflowError, match="cannot be overridden"):
        hood.override({"user_id": "rph.ben", "printed_name": "Ben Ruiz",
                       "meaning": "override-approved", "utc": "2026-11-26T15:40:00+00:00"},
                      "looks fine")
    with pytest.raises(WorkflowError):
        hood.weight(reading(SYRINGE))
    view = hood.retry()
    assert view.next_action is NextAction.SCAN
    view = do_right(hood, formulary)
    assert view.next_action is NextAction.PHOTO
    attempts = hood.preparation.record(hood.preparation.current).attempts
    assert [a.accepted for a in attempts] == [False, True]


def test_an_expired_lot_is_stopped(checked, version):
    hood = checked
    formulary = version.formulary()
    hood.start(heparin_order(), version, "tech.ana")
    view = hood.scan_text(scan_text(formulary.by_ndc_text(BASE), expiry="261031"), handheld=True)
    assert view.phase is Phase.HARD_STOP
    assert hood.preparation.stop.reason is StopReason.EXPIRED
    assert "expired" in view.message


def test_an_out_of_tolerance_draw_is_stopped_then_redone(checked, service,
                                                          version):
    hood = checked
    formulary = version.formulary()
    hood.start(heparin_order(), version, "tech.ana")
    for _ in range(20):
        prep = hood.preparation
        if prep.step.kind.value == "weigh net" and hood.view.next_action is NextAction.WEIGH:
            break
        do_right(hood, formulary)
    view = hood.view
    assert view.expected_net == Decimal("5.050")
    assert view.expected_reading == SYRINGE + Decimal("5.050")
    assert view.band_low < view.expected_reading < view.band_high
    view = hood.weight(reading(SYRINGE + Decimal("6.000")))
    assert view.phase is Phase.HARD_STOP
    assert view.next_action is NextAction.RETRY_OR_OVERRIDE
    assert "out of tolerance" in view.message
    hood.retry()
    view = hood.weight(reading(SYRINGE + Decimal("5.040")))
    assert view.phase is Phase.IN_PROGRESS
    assert view.next_action is NextAction.PHOTO
    kinds = [e.kind for e in service.record.events.events_of(view.preparation_id)]
    assert kinds.count("hard_stop") == 1


def test_an_unstable_reading_is_refused_and_not_recorded(checked, service,
                                                         version):
    hood = checked
    formulary = version.formulary()
    hood.start(heparin_order(), version, "tech.ana")
    run_until(hood, formulary, {NextAction.WEIGH})
    written = len(service.record.events.events_of(hood.view.preparation_id))
    view = hood.weight(reading(BAG, stable=False))
    assert view.message.startswith("the balance is not stable")
    assert len(service.record.events.events_of(hood.view.preparation_id)) == written


def test_a_blurry_photo_is_refused_and_retaken(checked, service, version):
    hood = checked
    formulary = version.formulary()
    hood.start(heparin_order(), version, "tech.ana")
    view = do_right(hood, formulary)
    assert view.next_action is NextAction.PHOTO
    base = formulary.by_ndc_text(BASE)
    view = hood.photo(frame(base, 1, blur=3.0))
    assert view.phase is Phase.HARD_STOP
    assert view.message.startswith("photo refused: too blurry")
    assert hood.preparation.stop.reason is StopReason.BAD_PHOTO
    hood.retry()
    view = hood.photo(frame(base, 2))
    assert view.next_action is NextAction.WEIGH
    photos = [e.payload for e in service.record.events.events_of(view.preparation_id)
              if e.kind == "photo_taken"]
    assert [p["problem"] is None for p in photos] == [False, True]
    assert all(service.record.photos.get(p["photo"]) for p in photos)


def test_weights_wait_for_the_daily_balance_check(hood, service, version, clock):
    formulary = version.formulary()
    hood.start(heparin_order(), version, "tech.ana")
    view = run_until(hood, formulary, {NextAction.BALANCE_CHECK})
    assert view.balance_check_due
    written = len(service.record.events.events_of(view.preparation_id))
    view = hood.weight(reading(BAG))
    assert "has not been checked today" in view.message
    assert len(service.record.events.events_of(view.preparation_id)) == written
    failed = hood.record_balance_check(reading(Decimal("100.250")), Decimal("100.000"))
    assert not failed.passed
    assert hood.weight(reading(BAG)).next_action is NextAction.BALANCE_CHECK
    assert hood.record_balance_check(reading(Decimal("99.998")), Decimal("100.000")).passed
    view = hood.weight(reading(BAG))
    assert view.next_action is NextAction.SCAN
    checks = service.record.events.events_of(balance_stream(BALANCE.serial_number))
    assert [c.kind for c in checks] == [BALANCE_CHECK, BALANCE_CHECK]
    assert [c.payload["passed"] for c in checks] == [False, True]
    clock.now += dt.timedelta(days=1)  # the next local day: checked again before weighing
    view = run_until(hood, formulary, {NextAction.BALANCE_CHECK, NextAction.WEIGH})
    assert view.next_action is NextAction.BALANCE_CHECK
    assert "has not been checked today" in hood.weight(reading(SYRINGE)).message


def test_illegal_inputs_raise_and_write_nothing(checked, service, version):
    hood = checked
    with pytest.raises(WorkflowError, match="no preparation is open"):
        hood.confirm()
    hood.start(heparin_order(), version, "tech.ana")
    written = len(service.record.events.events_of(hood.view.preparation_id))
    with pytest.raises(WorkflowError):
        hood.confirm()
    with pytest.raises(WorkflowError):
        hood.weight(reading(BAG))
    with pytest.raises(WorkflowError):
        hood.retry()
    assert len(service.record.events.events_of(hood.view.preparation_id)) == written
    view = hood.cancel("order discontinued")
    assert view.phase is Phase.CANCELLED
    assert view.next_action is NextAction.DONE


def test_an_in_process_check_waits_for_a_pharmacists_signature(checked, service, version):
    hood = checked
    formulary = version.formulary()
    hood.start(order("RX-KCL", ("55150-1234-1", "10 mEq")), version, "tech.ana")
    view = run_until(hood, formulary, {NextAction.PHARMACIST_CHECK})
    assert view.phase is Phase.AWAITING_CHECK
    signature = {"user_id": "rph.ben", "printed_name": "Ben Ruiz",
                 "meaning": "in-process-checked", "utc": "2026-11-26T15:40:00+00:00"}
    with pytest.raises(WorkflowError, match="reason"):
        hood.in_process_check(signature, approved=False)
    view = hood.in_process_check(signature, approved=True)
    assert view.phase is Phase.IN_PROGRESS
    assert view.message == "checked and approved by rph.ben"
    stored = [e for e in service.record.events.events_of(hood.preparation.preparation_id)
              if e.kind == "in_process_checked"][-1]
    assert stored.payload["signature"]["user_id"] == "rph.ben"


def test_a_preparation_created_but_never_started_is_started_when_resumed(checked, service,
                                                                          version):
    # The station stopped between the two writes of start(): created, not started.
    created = service.create(heparin_order("RX-HALF"), version, "tech.ana")
    assert service.load(created.preparation_id).phase is Phase.READY
    view = checked.resume(created.preparation_id, "tech.ana")
    assert view.phase is Phase.IN_PROGRESS
    assert view.next_action is NextAction.SCAN
    kinds = [e.kind for e in service.record.events.events_of(created.preparation_id)]
    assert kinds.count("started") == 1
    # resuming again records nothing more
    checked.resume(created.preparation_id, "tech.ana")
    kinds = [e.kind for e in service.record.events.events_of(created.preparation_id)]
    assert kinds.count("started") == 1
