"""The preparation screen's lot and label steps, against a real hood session on SQLite.

The screen is the real :class:`PreparationView` over the real presenter; the hood session,
the label (its BUD from the record, drawn by the station's label renderer) and the OCR of
the printed lot (Tesseract on a rendered camera frame) are real too. What the hood worker does
on its thread is done here on the GUI thread, one request at a time, through the event loop,
so the keys pressed are the only thing a test does at the screen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest
import zxingcpp
from PySide6.QtCore import Qt, QTimer

from scale_drivers.api import BalanceInfo, Reading
from station.config.catalog_files import formulary_path, load_worklist
from station.core.acceptance import AcceptanceTracker, SymbolRead
from station.core.beyond_use import preparation_bud
from station.core.bud import BudTable
from station.core.components import LotSource
from station.core.errors import StationError
from station.core.formulary import Product
from station.core.gravimetry import BalanceSpec
from station.core.label import LabelContent, format_time
from station.core.opened_vials import vial_code
from station.core.quantities import Tolerance
from station.core.recipe import MassCheck, StepKind
from station.core.workflow import LabelScanned, ProductScanned, StopReason
from station.demo.camera_scene import Label, Scene, render
from station.devices.camera import Frame
from station.devices.decoding import DecodePipeline
from station.devices.labels import PREPARATION_SIZE, VIAL_SIZE
from station.devices.labels.printer import ZplPrinter
from station.records.opened_vials import OpenedVials
from station.records.recalls import RecallList
from station.records.record import open_record
from station.reports.compounding_pdf import write_compounding_record
from station.services.hood import HoodSession, NextAction
from station.services.labelling import LabelDesk
from station.services.opened_vial_use import VialDesk
from station.services.preparations import PreparationService
from station.services.scan_events import ScanEvents
from tests.clock import FakeClock
from tests.ui.station_driver import screenshot
from ui.technician.preparation_presenter import DISCARD_SCAN, PreparationPresenter
from ui.technician.preparation_view import PreparationView
from ui.widgets.lot_entry import FIRST_ENTRY, SECOND_ENTRY
from ui.workers.devices import OcrWorker

SITE = dt.timezone(dt.timedelta(hours=-5))
START = dt.datetime(2026, 11, 26, 9, 30, tzinfo=SITE)
BALANCE = BalanceInfo("Mettler Toledo", "SIM-1200F", "SIM0000003", "1.00", Decimal("1220.000"),
                      Decimal("0.001"))
ORDER = "RX-260108"  # heparin into a 250 mL bag: base, vial, syringe, final weight, label
HEPARIN_LOT, HEPARIN_EXPIRY = "HP2417B", dt.date(2028, 6, 30)
#: The smallest screen the station runs on.
SMALL_SCREEN = (1366, 768)


class RecordingPrinter(ZplPrinter):
    """The station's ZPL printer, printing to a file, keeping each preview it returned."""

    def __init__(self, folder: Path) -> None:
        super().__init__(f"file://{folder / 'labels.zpl'}", size=PREPARATION_SIZE,
                         vial_size=VIAL_SIZE)
        self.printed: list[bytes] = []

    def print_label(self, content: LabelContent) -> bytes:
        png = super().print_label(content)
        self.printed.append(png)
        return png


class Prompts:
    """Answers the reprint prompt with a fixed reason; records every prompt."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []
        self.presenter: PreparationPresenter | None = None

    def ask_override(self, explanation: str) -> None:
        self.asked.append(("override", explanation))

    def ask_in_process_check(self, explanation: str) -> None:
        self.asked.append(("check", explanation))

    def ask_cancel(self, explanation: str) -> None:
        self.asked.append(("cancel", explanation))

    def ask_reprint(self, explanation: str) -> None:
        self.asked.append(("reprint", explanation))
        assert self.presenter is not None
        self.presenter.submit_reprint("Label damaged or smudged")

    def ask_discard(self, key: str, explanation: str) -> None:
        self.asked.append(("discard", key))


class Hood:
    """Carries the presenter's requests to the session after the current event, as the hood
    worker does, and shows the session's view (or its refusal) back."""

    def __init__(self, presenter: PreparationPresenter, session: HoodSession) -> None:
        self.presenter, self.session = presenter, session
        self.refusals: list[str] = []
        self.recorded = 0
        ocr = OcrWorker()
        self.ocr = ocr
        presenter.printed_lot_read_requested.connect(
            lambda frame: QTimer.singleShot(0, lambda: ocr.read(frame)))
        ocr.read_done.connect(presenter.on_printed_lot_read)
        requests: list[tuple[object, Callable[..., object]]] = [
            (presenter.camera_read_requested, lambda frame, symbols: session.scan_reads(
                [SymbolRead(s.scan_text, matrix=s.is_matrix) for s in symbols],
                frame_index=frame.index)),
            (presenter.handheld_requested, lambda text: session.scan_text(text, handheld=True)),
            (presenter.label_requested, session.label_scanned),
            (presenter.weight_requested, session.weight),
            (presenter.photo_requested, session.photo),
            (presenter.confirm_requested, session.confirm),
            (presenter.printed_lot_offered, session.offer_printed_lot),
            (presenter.printed_lot_confirmed, session.confirm_printed_lot),
            (presenter.lot_typed, session.type_lot),
            (presenter.set_aside_requested, session.set_aside),
            (presenter.print_label_requested, session.print_label),
            (presenter.keep_vial_requested, session.keep_vial),
        ]
        for signal, call in requests:
            signal.connect(  # type: ignore[attr-defined]
                lambda *args, call=call: QTimer.singleShot(0, lambda: self._do(call, *args)))

    def _do(self, call: Callable[..., object], *args: object) -> None:
        try:
            call(*args)
        except StationError as error:
            self.show()
            self.refusals.append(str(error))
            self.presenter.on_refused(str(error))
            return
        self.show()

    def show(self) -> None:
        self.presenter.on_view_changed(self.session.view, self.session.preparation)


def heparin_single_dose(formulary_text: str) -> str:
    """The sample formulary with the order's heparin vial as a single-dose one."""
    block = formulary_text.index('ndc = "0409-2723-31"')
    end = formulary_text.index("\n\n", block)
    vial = formulary_text[block:end].replace("multi_dose = true\n", "").replace(
        "\nmulti_dose = true", "")
    return formulary_text[:block] + vial + formulary_text[end:]


@pytest.fixture(params=["sample"])
def session(tmp_path, request):
    record = open_record(f"sqlite:///{tmp_path / 'station.db'}")
    clock = FakeClock(START, step=dt.timedelta(seconds=1))
    service = PreparationService(record, station_id="hood-1",
                                 site_tolerance=Tolerance(Decimal("0.05")), clock=clock)
    text = formulary_path().read_text(encoding="utf-8")
    if request.param == "single-dose heparin":
        text = heparin_single_dose(text)
    version = service.versions.import_text(text, "formulary.toml", imported_by="rph.ben",
                                           utc=clock())
    printer = RecordingPrinter(tmp_path)
    made = HoodSession(service, version.formulary(),
                       ScanEvents(RecallList(record.engine, clock)), AcceptanceTracker,
                       station_id="hood-1", clock=clock, balance=BALANCE,
                       balance_spec=BalanceSpec(Decimal("0.001"), Decimal(0)),
                       labels=LabelDesk(version.formulary(), BudTable.load(), printer),
                       vials=VialDesk(OpenedVials(record.engine, clock, BudTable.load()),
                                      version.formulary(), printer, station_id="hood-1",
                                      iso5=True))
    made.start(load_worklist().get(ORDER), version, "tech.ana")
    made.record_balance_check(reading("100.000"), Decimal("100.000"), user="tech.ana")
    yield made
    record.close()


@pytest.fixture
def screen(qtbot, session):
    prompts = Prompts()
    presenter = PreparationPresenter(session.formulary, prompts, check_weight=Decimal("100.000"),
                                     today=START.date())
    prompts.presenter = presenter
    presenter.on_balance_connected(BALANCE)
    view = PreparationView(presenter)
    qtbot.addWidget(view)
    view.resize(*SMALL_SCREEN)
    view.show()
    view.setFocus()
    hood = Hood(presenter, session)
    hood.show()
    return view, hood


def reading(grams: str) -> Reading:
    return Reading(Decimal(grams), "g", True, f"S S {grams} g", "SI",
                   dt.datetime(2026, 11, 26, 14, 30, tzinfo=dt.UTC), 0.0)


def label_of(product: Product, *, barcode_lot: bool = True) -> Label:
    lot, expiry = (HEPARIN_LOT, HEPARIN_EXPIRY) if not barcode_lot else ("L2405A",
                                                                         dt.date(2028, 12, 31))
    return Label.for_product(product, lot=lot, expiry=expiry, serial="SN0001",
                             datamatrix=barcode_lot)


def frame_of(label: Label, index: int) -> Frame:
    return Frame(render(Scene(labels=(label,)), (1280, 720), np.random.default_rng(index)),
                 index, 0.0, "cam")


def advance(session: HoodSession, *, until: Callable[[HoodSession], bool]) -> None:
    """Do each step right, straight on the session, until ``until`` holds."""
    for _ in range(40):
        if until(session):
            return
        view, prep = session.view, session.preparation
        assert prep is not None and prep.step is not None, view
        step = prep.step
        action = view.next_action
        if action is NextAction.PHOTO:
            product = step.product or prep.recipe.steps[0].product
            assert product is not None
            session.photo(frame_of(label_of(product), 1))
        elif action is NextAction.SCAN:
            assert step.product is not None
            session.scan_text("]d2" + str(label_of(step.product).gs1_data), handheld=True)
        elif action is NextAction.WEIGH:
            grams = view.expected_reading if view.expected_reading is not None else Decimal(
                "271.932" if step.number == 2 else "10.000")
            session.weight(reading(str(grams)))
        elif action is NextAction.CONFIRM:
            session.confirm()
        else:
            raise AssertionError(f"cannot do {action} here: {view.message}")
        assert session.preparation is not None and session.preparation.stop is None, (
            session.view.message)
    raise AssertionError(f"did not get there: {session.view}")


def at_heparin_scan(session: HoodSession) -> bool:
    prep = session.preparation
    return (prep is not None and prep.step is not None and prep.step.kind is StepKind.SCAN
            and prep.step.product is not None and prep.step.product.role.value != "base"
            and session.view.next_action is NextAction.SCAN)


def show_linear_only_vial(qtbot, view: PreparationView, hood: Hood) -> None:
    """The heparin vial under the camera: only its UPC-A, its lot and expiry in print."""
    step = hood.session.preparation.step
    label = label_of(step.product, barcode_lot=False)
    pipeline = DecodePipeline()
    for index in range(100, 106):
        frame = frame_of(label, index)
        symbols = pipeline.decode(frame.image)
        assert [s.format for s in symbols] == ["UPC-A"]
        view.presenter.on_frame(frame)
        view.presenter.on_symbols(frame, symbols)
        qtbot.wait(20)
        if view.presenter.view.next_action is NextAction.IDENTIFY_LOT:
            return
    raise AssertionError(f"the vial was not taken: {view.presenter.state.message}")


def accepted_scan(session: HoodSession, number: int) -> ProductScanned:
    attempt = session.preparation.record(number).accepted
    assert attempt is not None and isinstance(attempt.event, ProductScanned)
    return attempt.event


def test_a_linear_only_vial_shows_the_printed_lot_read_and_enter_records_it(qtbot, session,
                                                                           screen):
    view, hood = screen
    advance(session, until=at_heparin_scan)
    hood.show()
    show_linear_only_vial(qtbot, view, hood)
    step = session.preparation.current
    assert view.aside.currentWidget() is view.lot_panel
    qtbot.waitUntil(view.lot_panel.read_label.isVisible, timeout=15_000)
    assert view.lot_panel.read_label.text() == f"LOT {HEPARIN_LOT}   EXP 2028-06-30"
    assert "read from the label — check it against the package" in (
        view.lot_panel.caution_label.text())
    assert view.primary_button.text() == "Confirm (Enter)"
    assert session.preparation.record(step).accepted is None  # nothing before Enter
    screenshot(view, "hood_printed_lot_read")
    qtbot.keyClick(view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: session.preparation.record(step).accepted is not None, timeout=5000)
    scanned = accepted_scan(session, step)
    assert (str(scanned.scan.lot), scanned.scan.expiry.date) == (HEPARIN_LOT, HEPARIN_EXPIRY)
    assert scanned.lot_source is LotSource.PRINTED_TEXT
    qtbot.waitUntil(lambda: view.aside.currentWidget() is view.gauge, timeout=5000)


def test_typed_twice_blind_a_mismatch_records_nothing_and_starts_again(qtbot, session, screen):
    view, hood = screen
    advance(session, until=at_heparin_scan)
    hood.show()
    show_linear_only_vial(qtbot, view, hood)
    step = session.preparation.current
    panel = view.lot_panel
    qtbot.keyClick(view, Qt.Key.Key_T)
    assert panel.typing and panel.lot_field.hasFocus()
    assert panel.entry_label.text() == FIRST_ENTRY

    def enter_pair(lot: str, expiry: str) -> None:
        qtbot.keyClicks(panel.lot_field, lot)
        qtbot.keyClick(panel.lot_field, Qt.Key.Key_Return)
        assert panel.expiry_field.hasFocus()
        qtbot.keyClicks(panel.expiry_field, expiry)
        qtbot.keyClick(panel.expiry_field, Qt.Key.Key_Return)

    enter_pair(HEPARIN_LOT, "2028-06")
    # the first pair is hidden while the second is typed
    assert panel.entry_label.text() == SECOND_ENTRY
    assert (panel.lot_field.text(), panel.expiry_field.text()) == ("", "")
    assert HEPARIN_LOT not in {w.text() for w in panel.findChildren(type(panel.read_label))
                               if w.isVisible()}
    screenshot(view, "hood_lot_typed_second_entry")
    enter_pair("HP2471B", "06/2028")  # two digits swapped
    assert panel.error_label.isVisible()
    assert panel.error_label.text() == ("✖ the two lots typed differ (HP2417B, then HP2471B): "
                                        "type both again from the package")
    screenshot(view, "hood_lot_typed_mismatch")
    qtbot.wait(50)
    assert session.preparation.record(step).accepted is None  # nothing recorded
    assert not view.primary_button.isEnabled()  # Enter types here, it confirms nothing
    assert panel.typing and panel.entry_label.text() == FIRST_ENTRY
    assert (panel.lot_field.text(), panel.expiry_field.text()) == ("", "")

    enter_pair(HEPARIN_LOT.lower(), "2028-06")  # Enter here never confirms the camera's read
    enter_pair(HEPARIN_LOT, "06/2028")
    qtbot.waitUntil(lambda: session.preparation.record(step).accepted is not None, timeout=5000)
    scanned = accepted_scan(session, step)
    assert scanned.lot_source is LotSource.TYPED
    assert (str(scanned.scan.lot), scanned.scan.expiry.date) == (HEPARIN_LOT, HEPARIN_EXPIRY)
    qtbot.waitUntil(lambda: not panel.typing, timeout=5000)


def test_an_expiry_in_another_form_is_refused_before_the_second_entry(qtbot, session, screen):
    view, hood = screen
    advance(session, until=at_heparin_scan)
    hood.show()
    show_linear_only_vial(qtbot, view, hood)
    panel = view.lot_panel
    qtbot.keyClick(view, Qt.Key.Key_T)
    qtbot.keyClicks(panel.lot_field, HEPARIN_LOT)
    qtbot.keyClick(panel.lot_field, Qt.Key.Key_Return)
    qtbot.keyClicks(panel.expiry_field, "30.06.28")
    qtbot.keyClick(panel.expiry_field, Qt.Key.Key_Return)
    assert panel.entry == 1 and panel.error_label.isVisible()
    assert "YYYY-MM-DD, YYYY-MM or MM/YYYY" in panel.error_label.text()
    qtbot.keyClick(panel.expiry_field, Qt.Key.Key_Escape)  # leave the fields ...
    assert not panel.typing and view.hasFocus()
    qtbot.keyClick(view, Qt.Key.Key_Escape)  # ... and set the package aside
    qtbot.waitUntil(lambda: view.presenter.view.next_action is NextAction.SCAN, timeout=5000)
    assert "set aside, nothing recorded" in view.message_label.text()
    assert session.preparation.record(session.preparation.current).accepted is None


def test_the_label_prints_only_at_the_label_step_then_shows_and_its_scan_moves_on(
        qtbot, session, screen, tmp_path):
    view, hood = screen
    desk = session.labels.printer
    # the final container's weight is next: P refuses, nothing prints
    advance(session, until=lambda s: s.preparation.step.check is MassCheck.FINAL)
    hood.show()
    qtbot.keyClick(view, Qt.Key.Key_P)
    assert view.message_label.text().startswith("✖ the label prints at the label step")
    qtbot.wait(50)
    assert desk.printed == [] and view.aside.currentWidget() is view.gauge
    advance(session, until=lambda s: s.view.next_action is NextAction.PRINT_LABEL)
    hood.show()
    assert view.primary_button.text() == "Print the label (Enter)"
    assert view.aside.currentWidget() is view.label_preview
    qtbot.keyClick(view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: view.presenter.view.next_action is NextAction.SCAN_LABEL,
                    timeout=5000)
    preview = view.label_preview
    qtbot.waitUntil(lambda: not preview.shown_size.isEmpty(), timeout=5000)
    assert preview.png == desk.printed[0]
    qtbot.wait(50)
    assert preview.isVisible() and preview.shown_size.height() >= 320  # readable, not a thumb
    assert view.width() <= SMALL_SCREEN[0]
    screenshot(view, "hood_label_printed")
    # a reprint asks why, and records the reason with copy 2
    qtbot.keyClick(view, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: len(desk.printed) == 2, timeout=5000)
    labels = session.preparation.record(session.preparation.current).labels
    assert [(e.copy, e.reason) for e in labels] == [(1, ""), (2, "Label damaged or smudged")]
    # the label's barcode, scanned from the bag, moves on
    step = session.preparation.current
    view.presenter.on_handheld(session.preparation.preparation_id)
    qtbot.waitUntil(lambda: session.preparation.record(step).accepted is not None, timeout=5000)
    assert isinstance(session.preparation.record(step).accepted.event, LabelScanned)
    assert session.view.next_action is NextAction.PHOTO
    # the label's BUD is the record's, and the compounding record prints the same one
    printed = labels[-1]
    assert printed.beyond_use == preparation_bud(session.preparation, BudTable.load()).until
    assert (tmp_path / "labels.zpl").read_text(encoding="ascii").count("^XA") == 1
    write_compounding_record(session.service, session.preparation.preparation_id,
                             tmp_path / "record.pdf")
    document = pdfium.PdfDocument(str(tmp_path / "record.pdf"))
    text = " ".join(" ".join(page.get_textpage().get_text_bounded().split())
                    for page in document)
    assert f"{format_time(printed.beyond_use)} (as printed, copy 2)" in text
    assert printed.bud_rule in text


def test_the_emptied_syringe_shows_the_band_below_the_filled_one(qtbot, session, screen):
    view, hood = screen
    advance(session, until=lambda s: s.preparation.step.check is MassCheck.DELIVERED
            and s.view.next_action is NextAction.WEIGH)
    hood.show()
    hood_view, prep = session.view, session.preparation
    filled = prep.record(prep.step.reference).accepted.event.mass.grams
    gauge = view.gauge._state
    assert gauge.target == hood_view.expected_reading
    assert (gauge.low, gauge.high) == (hood_view.band_low, hood_view.band_high)
    assert gauge.low < gauge.target < gauge.high < filled
    assert gauge.target == filled - hood_view.expected_net


def test_k_keeps_only_a_keepable_vial_and_d_discards_the_vial_whose_label_is_scanned(
        qtbot, session, screen):
    view, _hood = screen
    prompts = view.presenter.prompts
    qtbot.keyClick(view, Qt.Key.Key_K)  # no dose drawn yet: nothing to keep
    assert view.message_label.text().startswith("✖ no vial to keep")
    assert not view.vial_line.isVisible()
    qtbot.keyClick(view, Qt.Key.Key_D)
    assert view.vial_line.isVisible() and view.vial_line.text() == DISCARD_SCAN
    camera_reads: list[object] = []
    view.presenter.camera_read_requested.connect(lambda *args: camera_reads.append(args))
    frame = frame_of(label_of(session.preparation.step.product), 7)
    view.presenter.on_symbols(frame, DecodePipeline().decode(frame.image))
    assert camera_reads == []  # the camera does not scan while the vial is named
    view.presenter.on_handheld("]d2" + str(label_of(session.preparation.step.product).gs1_data))
    assert "is not an opened vial's label" in view.message_label.text()
    view.presenter.on_handheld(vial_code("OV-12"))
    assert prompts.asked[-1] == ("discard", "OV-12")
    assert not view.vial_line.isVisible()
    qtbot.keyClick(view, Qt.Key.Key_D)
    qtbot.keyClick(view, Qt.Key.Key_Escape)  # changed their mind: scans are the step's again
    assert not view.vial_line.isVisible()


def test_the_new_panels_do_not_widen_the_smallest_screen(qtbot, session, screen):
    view, hood = screen
    advance(session, until=at_heparin_scan)
    hood.show()
    show_linear_only_vial(qtbot, view, hood)
    qtbot.waitUntil(view.lot_panel.read_label.isVisible, timeout=15_000)
    fits(view)
    qtbot.keyClick(view, Qt.Key.Key_T)
    fits(view)
    qtbot.keyClick(view.lot_panel.lot_field, Qt.Key.Key_Escape)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: session.view.next_action is not NextAction.IDENTIFY_LOT,
                    timeout=5000)
    advance(session, until=lambda s: s.view.next_action is NextAction.PRINT_LABEL)
    hood.show()
    qtbot.keyClick(view, Qt.Key.Key_P)
    qtbot.waitUntil(lambda: view.presenter.view.next_action is NextAction.SCAN_LABEL,
                    timeout=5000)
    fits(view)


def fits(view: PreparationView) -> None:
    """Nothing shown asks for more than the smallest screen, nor makes the view grow."""
    width, height = SMALL_SCREEN
    assert view.minimumSizeHint().width() <= width
    assert view.minimumSizeHint().height() <= height
    assert (view.width(), view.height()) == SMALL_SCREEN


def test_k_after_a_draw_keeps_the_vial_and_shows_its_label_with_its_own_code(
        qtbot, session, screen):
    view, hood = screen
    advance(session, until=lambda s: s.view.vial_keepable)
    hood.show()
    assert view.vial_line.isVisible() and "(K)" in view.vial_line.text()
    qtbot.keyClick(view, Qt.Key.Key_K)
    qtbot.waitUntil(lambda: session.view.vial_kept is not None, timeout=5000)
    hood.show()
    kept = session.view.vial_kept
    assert view.aside.currentWidget() is view.vial_preview
    assert view.vial_preview.png == session.view.vial_label_preview
    image = cv2.imdecode(np.frombuffer(view.vial_preview.png, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert vial_code(kept) in [r.text for r in zxingcpp.read_barcodes(image)]
    vial = session.vials.vials.get(kept)
    assert vial is not None and vial.punctured_by == "tech.ana" and vial.iso5
    # 10 mL vial; 5 mL and the 0.090 mL its 10 mL syringe keeps drawn, by weight
    assert vial.remaining_ml == Decimal("4.91")
    preview = view.vial_preview
    qtbot.waitUntil(lambda: preview.shown_size.height() >= 2 * 150, timeout=5000)  # readable
    screenshot(view, "hood_vial_kept")


@pytest.mark.parametrize("session", ["single-dose heparin"], indirect=True)
def test_an_opened_single_dose_vial_scanned_12_h_1_min_after_its_puncture_stops_the_window(
        qtbot, session, screen):
    view, hood = screen
    clock = session.clock
    advance(session, until=lambda s: s.view.vial_keepable)
    draw = session.preparation.recipe.step(session.preparation.step.number)
    vial_scan = max(s.number for s in session.preparation.recipe.steps
                    if s.kind is StepKind.SCAN and s.number < draw.number)
    punctured = accepted_scan(session, vial_scan).at
    kept = session.keep_vial()
    key = kept.vial_kept
    assert key is not None
    session.cancel("the order was changed")  # the vial stays kept, with its sticker on it
    version = session.service.versions.latest()
    assert version is not None
    clock.now = punctured + dt.timedelta(hours=12, minutes=1)
    session.start(load_worklist().get(ORDER), version, "tech.ana")
    session.record_balance_check(reading("100.000"), Decimal("100.000"), user="tech.ana")
    advance(session, until=at_heparin_scan)
    hood.show()
    view.presenter.on_handheld(vial_code(key))  # the sticker, scanned with the handheld
    qtbot.waitUntil(view.stop_label.isVisible, timeout=5000)
    banner = view.stop_label.text()
    assert session.preparation.stop.reason is StopReason.OPENED_VIAL_PAST_BUD
    assert banner.startswith(f"✖ STOPPED — opened vial {key} (Heparin Sodium (porcine)")
    assert "first punctured 2026-11-26T09:3" in banner and "is past its beyond-use time" in banner
    assert "single-dose container entered only in ISO Class 5 air" in banner
    assert "12 hours" in banner
    # no pharmacist can accept it: the window offers no override
    assert not view.override_button.isEnabled()
    screenshot(view, "hood_opened_vial_past_bud")
