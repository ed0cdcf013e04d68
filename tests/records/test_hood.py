"""The hood session end to end, on both backends: realistic inputs in, the record out."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from scale_drivers.api import BalanceInfo, Reading
from station.core.acceptance import AcceptanceTracker, Status, SymbolRead
from station.core.bud import BudTable
from station.core.components import LotSource
from station.core.errors import WorkflowError
from station.core.formulary import Product
from station.core.identifiers import Gtin, Lot
from station.core.opened_vials import vial_code
from station.core.printed_lot import Refusal, RefusalKind
from station.core.recipe import MassCheck
from station.core.workflow import Phase, ProductScanned, StopReason
from station.demo.camera_scene import Label, Scene, Sticker, render
from station.devices.camera import Frame
from station.devices.decoding import DecodePipeline
from station.devices.labels import LabelSize
from station.devices.labels.printer import ZplPrinter
from station.devices.ocr import OcrResult, read_printed_lot
from station.records.opened_vials import OpenedVials
from station.records.recalls import RecallList
from station.services.hood import BALANCE_CHECK, HoodSession, HoodView, NextAction, balance_stream
from station.services.hood_controller import (
    ConfirmPrintedLot,
    HoodController,
    OfferPrintedLot,
    ReadPrintedLot,
    Request,
    SubmitCameraRead,
)
from station.services.labelling import LabelDesk
from station.services.opened_vial_use import VialDesk
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


def upc_text(product: Product) -> str:
    """A handheld scan of the package's linear barcode: the NDC, no lot, no expiry."""
    gtin = product.ndc.gtin()
    assert isinstance(gtin, Gtin)
    return f"]E0{gtin.value[1:]}"


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
def printed(tmp_path) -> Path:
    """The file the station's label printer writes its ZPL to (its folder exists)."""
    folder = tmp_path / "printer"
    folder.mkdir()
    return folder / "labels.zpl"


@pytest.fixture
def hood(service, version, clock, printed):
    recalls = RecallList(service.record.engine, clock)
    formulary = version.formulary()
    printer = ZplPrinter(f"file://{printed}", size=LabelSize.parse("101.6x76.2"),
                         vial_size=LabelSize.parse("57x32"))
    vials = VialDesk(OpenedVials(service.record.engine, clock, BudTable.load()), formulary,
                     printer, station_id="hood-1", iso5=True)
    return HoodSession(service, formulary, ScanEvents(recalls), AcceptanceTracker,
                       station_id="hood-1", clock=clock, balance=BALANCE, balance_spec=FINE,
                       labels=LabelDesk(formulary, BudTable.load(), printer), vials=vials)


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
    if view.next_action is NextAction.PRINT_LABEL:
        return hood.print_label()
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
    # 5 mL and the 0.090 mL its 10 mL syringe keeps, × SG 1.010
    assert view.expected_net == Decimal("5.14090")
    assert view.expected_reading == SYRINGE + Decimal("5.14090")
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


# ---------------------------------------------------------------- lot and expiry


def at_heparin_scan(hood: HoodSession, version) -> Product:
    """Start a heparin preparation and go to its heparin scan; the heparin product."""
    formulary = version.formulary()
    hood.start(heparin_order(), version, "tech.ana")
    do_right(hood, formulary)  # the base, by its DataMatrix
    run_until(hood, formulary, {NextAction.SCAN})
    return formulary.by_ndc_text(HEPARIN)


def events_of(service, hood: HoodSession) -> list[str]:
    return [e.kind for e in service.record.events.events_of(hood.view.preparation_id)]


def accepted_scan(hood: HoodSession) -> ProductScanned:
    prep = hood.preparation
    scans = [s for s in prep.recipe.steps if s.kind.value == "scan"]
    attempt = prep.record(scans[-1].number).accepted
    assert attempt is not None and isinstance(attempt.event, ProductScanned)
    return attempt.event


def test_a_upc_only_vial_is_recorded_once_its_printed_lot_is_confirmed(checked, service,
                                                                        version):
    """Camera frames through the real decoders and OCR, driven by the controller."""
    hood = checked
    heparin = at_heparin_scan(hood, version)
    before = events_of(service, hood)
    label = Label.for_product(heparin, lot="L2405A", expiry=dt.date(2028, 12, 31),
                              serial="SN0001", datamatrix=False)
    controller = HoodController()
    controller.view_changed(hood.view, hood.preparation)
    pipeline, rng = DecodePipeline(), np.random.default_rng(3)
    ocr_reads = 0

    def carry_out(requests: list[Request]) -> None:
        nonlocal ocr_reads
        for request in requests:
            match request:
                case SubmitCameraRead(frame=shown, symbols=symbols):
                    hood.scan_reads([SymbolRead(s.scan_text, matrix=s.is_matrix)
                                     for s in symbols], frame_index=shown.index)
                case ReadPrintedLot(frame=shown):
                    ocr_reads += 1
                    carry_out(controller.printed_lot_read(read_printed_lot(shown.image)))
                case OfferPrintedLot(result=result):
                    hood.offer_printed_lot(result)
                case ConfirmPrintedLot():
                    hood.confirm_printed_lot()
                case _:
                    continue
            carry_out(controller.view_changed(hood.view, hood.preparation))

    for index in range(1, 6):
        image = render(Scene(labels=(label,)), (1280, 720), rng)
        shown = Frame(image, index, index / 30, "camera-0")
        carry_out(controller.symbols(shown, pipeline.decode(image)))
    view = hood.view
    assert view.next_action is NextAction.IDENTIFY_LOT
    assert events_of(service, hood) == before  # nothing recorded yet
    pending = view.pending_lot
    assert pending is not None and pending.product == heparin
    assert pending.missing == "the barcode carries no lot and no expiry"
    assert pending.read is not None and pending.read.lot == Lot("L2405A")
    assert pending.read.expiry.date == dt.date(2028, 12, 31)
    assert ocr_reads == 1  # later frames of the same package asked for nothing
    carry_out(controller.primary())
    assert hood.view.next_action is NextAction.PHOTO
    scanned = accepted_scan(hood)
    assert scanned.lot_source is LotSource.PRINTED_TEXT
    assert (scanned.scan.lot, scanned.scan.expiry.date) == (Lot("L2405A"), dt.date(2028, 12, 31))
    stored = service.load(hood.view.preparation_id)
    assert stored.records == hood.preparation.records


def test_a_lot_typed_twice_is_recorded_and_a_mismatch_records_nothing(checked, service,
                                                                       version):
    hood = checked
    heparin = at_heparin_scan(hood, version)
    before = events_of(service, hood)
    view = hood.scan_text(upc_text(heparin), handheld=True)
    assert view.next_action is NextAction.IDENTIFY_LOT
    with pytest.raises(WorkflowError, match="no printed lot and expiry were read"):
        hood.confirm_printed_lot()
    view = hood.type_lot("K2405A", "2028-12", "K2405B", "2028-12")
    assert view.message == ("the two lots typed differ (K2405A, then K2405B): type both again "
                            "from the package")
    assert view.next_action is NextAction.IDENTIFY_LOT
    view = hood.type_lot("K2405A", "2028-12", "K2405A", "2028-11")
    assert view.message.startswith("the two expiries typed differ")
    assert events_of(service, hood) == before
    view = hood.type_lot("k2405a", "2028-12", "K2405A", "12/2028")
    assert view.next_action is NextAction.PHOTO
    scanned = accepted_scan(hood)
    assert scanned.lot_source is LotSource.TYPED
    assert (scanned.scan.lot, scanned.scan.expiry.date) == (Lot("K2405A"), dt.date(2028, 12, 31))
    assert service.load(view.preparation_id).records == hood.preparation.records


def test_an_expired_lot_typed_for_a_upc_only_vial_is_a_hard_stop(checked, version):
    hood = checked
    heparin = at_heparin_scan(hood, version)
    hood.scan_text(upc_text(heparin), handheld=True)
    view = hood.type_lot("K2405A", "2026-10-31", "K2405A", "2026-10-31")
    assert view.phase is Phase.HARD_STOP
    assert hood.preparation.stop.reason is StopReason.EXPIRED
    assert view.message == "expired: lot K2405A of Heparin Sodium expired 2026-10-31"


def test_a_recalled_lot_typed_for_a_upc_only_vial_is_a_hard_stop(checked, service, version,
                                                                   clock):
    hood = checked
    RecallList(service.record.engine, clock).add(HEPARIN, "K77", "FDA class II: particulates",
                                                 by="rph.ben")
    heparin = at_heparin_scan(hood, version)
    hood.scan_text(upc_text(heparin), handheld=True)
    view = hood.type_lot("K77", "2028-12-31", "K77", "2028-12-31")
    assert view.phase is Phase.HARD_STOP
    assert hood.preparation.stop.reason is StopReason.RECALLED
    assert "particulates" in view.message
    last = hood.preparation.record(hood.preparation.current).attempts[-1].event
    assert isinstance(last, ProductScanned) and last.lot_source is LotSource.TYPED


def test_a_refused_print_read_is_not_offered(checked, version):
    hood = checked
    heparin = at_heparin_scan(hood, version)
    hood.scan_text(upc_text(heparin), handheld=True)
    refused = OcrResult(Refusal(RefusalKind.LOW_CONFIDENCE, "read 'LOT L24O5A' with confidence "
                                "61, below 80: too unsure to offer"), (), 2, 0.4)
    view = hood.offer_printed_lot(refused)
    assert view.pending_lot.read is None
    assert view.pending_lot.problem.startswith("read 'LOT L24O5A'")
    assert "type them from the package, twice" in view.message
    with pytest.raises(WorkflowError, match="too unsure to offer"):
        hood.confirm_printed_lot()
    controller = HoodController()
    controller.view_changed(view, hood.preparation)
    [message] = controller.primary()
    assert "type the lot and expiry twice" in message.text


def test_another_package_replaces_the_one_waiting_and_setting_aside_records_nothing(
        checked, service, version):
    hood = checked
    heparin = at_heparin_scan(hood, version)
    before = events_of(service, hood)
    hood.scan_text(upc_text(heparin), handheld=True)
    view = hood.scan_text(upc_text(heparin), handheld=True)  # scanned again: still waiting
    assert view.next_action is NextAction.IDENTIFY_LOT
    assert "still needs its lot and expiry" in view.message
    view = hood.set_aside()
    assert view.next_action is NextAction.SCAN and view.pending_lot is None
    assert events_of(service, hood) == before
    with pytest.raises(WorkflowError, match="no package is waiting"):
        hood.type_lot("K1", "2028-12", "K1", "2028-12")
    hood.scan_text(upc_text(heparin), handheld=True)
    # the same product's DataMatrix, with its lot and expiry: recorded from the barcode
    view = hood.scan_text(scan_text(heparin, lot="D9"), handheld=True)
    assert view.next_action is NextAction.PHOTO and view.pending_lot is None
    scanned = accepted_scan(hood)
    assert scanned.source is LotSource.BARCODE and scanned.scan.lot == Lot("D9")


def test_a_wrong_package_shown_while_one_waits_is_the_scan(checked, version):
    hood = checked
    heparin = at_heparin_scan(hood, version)
    hood.scan_text(upc_text(heparin), handheld=True)
    wrong = version.formulary().by_ndc_text(WRONG_HEPARIN)
    view = hood.scan_text(upc_text(wrong), handheld=True)
    assert view.phase is Phase.HARD_STOP
    assert hood.preparation.stop.reason is StopReason.WRONG_PRODUCT
    assert view.pending_lot is None
    view = hood.retry()
    assert view.next_action is NextAction.SCAN and view.pending_lot is None


# ---------------------------------------------------------------- the delivered dose


def test_an_emptied_syringe_is_expected_at_the_filled_reading_less_the_dose(checked, version):
    hood = checked
    formulary = version.formulary()
    hood.start(heparin_order(), version, "tech.ana")
    for _ in range(40):
        step = hood.preparation.step
        if step.check is MassCheck.DELIVERED and hood.view.next_action is NextAction.WEIGH:
            break
        do_right(hood, formulary)
    view = hood.view
    emptied = view.step_number
    prep = hood.preparation
    filled = prep.record(prep.step.reference).accepted.event.mass.grams  # drawn to the aim
    assert filled == SYRINGE + Decimal("5.141")  # the dose and what its syringe keeps
    assert view.expected_net == Decimal("5.050")
    assert view.expected_reading == filled - Decimal("5.050")
    band = Decimal("0.05") * Decimal("5.050")
    assert (view.band_low, view.band_high) == (view.expected_reading - band,
                                                view.expected_reading + band)
    stopped = hood.weight(reading(SYRINGE + Decimal("1.000")))  # not emptied: 4.141 g left it
    assert stopped.phase is Phase.HARD_STOP
    assert "out of tolerance" in stopped.message
    hood.retry()
    view = hood.weight(reading(SYRINGE + Decimal("0.060")))  # 5.081 g delivered: within 5 %
    assert view.phase is Phase.IN_PROGRESS
    assert hood.preparation.net_mass(emptied).grams == Decimal("5.081")


# ---------------------------------------------------------------- the label


def test_the_label_cannot_print_before_the_final_weight_passes(checked, version, printed):
    hood = checked
    formulary = version.formulary()
    hood.start(heparin_order(), version, "tech.ana")
    for _ in range(40):
        step = hood.preparation.step
        if step.check is MassCheck.FINAL and hood.view.next_action is NextAction.WEIGH:
            break
        do_right(hood, formulary)
    with pytest.raises(WorkflowError, match="needs weigh on the balance, not printing the label"):
        hood.print_label()
    view = hood.weight(reading(hood.view.expected_reading + Decimal("1.000")))  # far off
    assert view.phase is Phase.HARD_STOP
    with pytest.raises(WorkflowError):
        hood.print_label()
    assert not printed.exists()  # the printer was sent nothing
    assert hood.view.label_preview is None


def test_a_printed_then_scanned_label_moves_on_and_a_reprint_needs_a_reason(checked, service,
                                                                            version, printed):
    hood = checked
    formulary = version.formulary()
    hood.start(heparin_order(), version, "tech.ana")
    view = run_until(hood, formulary, {NextAction.PRINT_LABEL})
    with pytest.raises(WorkflowError, match="has not been printed"):
        hood.label_scanned(view.preparation_id)
    assert not printed.exists()
    view = hood.print_label()
    assert view.next_action is NextAction.SCAN_LABEL
    assert view.label_preview is not None and view.label_preview[:8] == b"\x89PNG\r\n\x1a\n"
    zpl = printed.read_text()
    assert zpl.startswith("^XA") and view.preparation_id in zpl
    printed.unlink()
    with pytest.raises(WorkflowError, match="needs a reason"):
        hood.print_label()
    assert not printed.exists()
    view = hood.print_label(reason="label torn while applying it")
    assert printed.exists()
    view = hood.label_scanned("]C0" + view.preparation_id)
    assert view.next_action is NextAction.PHOTO
    labels = [e.payload for e in service.record.events.events_of(view.preparation_id)
              if e.kind == "label_printed"]
    assert [(label["copy"], label["reason"]) for label in labels] == [
        (1, ""), (2, "label torn while applying it")]
    assert service.load(view.preparation_id).records == hood.preparation.records


# ---------------------------------------------------------------- opened vials

SINGLE_DOSE = "0409-1888-10"  # heparin 1,000 units/mL, 10 mL single-dose vials


def single_dose_order(order_id: str):
    return order(order_id, (SINGLE_DOSE, "5000 units"))  # 5 mL of the vial's 10


def keep_the_vial_of_a_draw(hood: HoodSession, version) -> str:
    """A preparation whose draw leaves 5 mL in a single-dose vial, kept; the vial's id."""
    formulary = version.formulary()
    hood.start(single_dose_order("RX-SD1"), version, "tech.ana")
    for _ in range(40):
        if hood.view.vial_keepable:
            break
        do_right(hood, formulary)
    view = hood.keep_vial()
    assert view.vial_kept is not None and not view.vial_keepable
    assert view.vial_label_preview[:4] == b"\x89PNG"
    assert view.message.startswith(f"vial {view.vial_kept} kept, usable until ")
    with pytest.raises(WorkflowError, match="no vial to keep"):
        hood.keep_vial()
    run_until(hood, formulary, {NextAction.VERIFY})
    return view.vial_kept


def scan_the_vial_label(hood: HoodSession, product: Product, key: str) -> HoodView:
    """The kept vial in front of the camera, its station sticker under the maker's label."""
    label = Label.for_product(product, lot="L2405A", expiry=dt.date(2028, 12, 31),
                              serial="SN0001")
    sticker = Sticker(vial_code(key), ("OPENED", f"vial {key}"))
    rng, pipeline = np.random.default_rng(5), DecodePipeline()
    view = hood.view
    for index in (1, 2):
        image = render(Scene(labels=(replace(label, sticker=sticker),)), (1280, 720), rng)
        symbols = pipeline.decode(image)
        view = hood.scan_reads([SymbolRead(s.scan_text, matrix=s.is_matrix) for s in symbols],
                               frame_index=index)
    return view


def test_an_opened_single_dose_vial_past_12_hours_is_a_hard_stop_naming_it(checked, version,
                                                                           service, clock):
    hood = checked
    key = keep_the_vial_of_a_draw(hood, version)
    vial = OpenedVials(service.record.engine, clock, BudTable.load()).get(key)
    assert vial is not None and vial.beyond_use - vial.punctured_at == dt.timedelta(hours=12)
    clock.now = vial.punctured_at + dt.timedelta(hours=12, minutes=1)
    formulary = version.formulary()
    hood.start(single_dose_order("RX-SD2"), version, "tech.ana")
    do_right(hood, formulary)  # the base
    run_until(hood, formulary, {NextAction.SCAN})
    view = scan_the_vial_label(hood, formulary.by_ndc_text(SINGLE_DOSE), key)
    assert view.phase is Phase.HARD_STOP
    assert view.next_action is NextAction.RETRY  # not overridable
    assert hood.preparation.stop.reason is StopReason.OPENED_VIAL_PAST_BUD
    punctured = vial.punctured_at.isoformat(timespec="minutes")
    assert view.message == (
        f"opened vial {vial.label}, first punctured {punctured}, is past its beyond-use time "
        f"{vial.beyond_use.isoformat(timespec='minutes')} ({vial.rule}): discard it")
    assert key in view.message and "12 hours" in vial.rule


def test_an_opened_vial_within_its_time_is_drawn_from_and_taken_down(checked, version,
                                                                     service, clock):
    hood = checked
    key = keep_the_vial_of_a_draw(hood, version)
    vials = OpenedVials(service.record.engine, clock, BudTable.load())
    left = vials.get(key).remaining_ml
    clock.now = vials.get(key).punctured_at + dt.timedelta(hours=11)
    formulary = version.formulary()
    hood.start(single_dose_order("RX-SD3"), version, "tech.ana")
    do_right(hood, formulary)
    run_until(hood, formulary, {NextAction.SCAN})
    view = scan_the_vial_label(hood, formulary.by_ndc_text(SINGLE_DOSE), key)
    assert view.next_action is NextAction.PHOTO
    scanned = accepted_scan(hood)
    assert scanned.lot_source is LotSource.OPENED_VIAL
    assert scanned.opened_vial is not None and scanned.opened_vial.key == key
    assert scanned.scan.lot == Lot("L2405A")
    for _ in range(20):
        if hood.preparation.step.check is MassCheck.DOSE and hood.view.next_action is \
                NextAction.WEIGH:
            break
        do_right(hood, formulary)
    view = do_right(hood, formulary)  # the draw: 5 mL and the 0.090 mL its syringe keeps
    assert not view.vial_keepable  # already kept: it is not kept twice
    rest = max(left - Decimal("5.09"), Decimal(0)).quantize(Decimal("0.01"))
    assert view.message.endswith(f"has {rest} mL left")
    assert vials.get(key).remaining_ml == rest
    view = hood.discard_vial(key, "empty")
    assert view.message.startswith(f"opened vial {key}") and view.message.endswith("empty")
    assert vials.get(key).discarded_at is not None
