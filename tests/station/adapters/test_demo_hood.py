"""The demo hood acts out preparations on a real simulator, read by the real station.

Everything the station learns comes the way it would at a real hood: weights from the
MT-SICS driver over a pty served by the balance simulator, products from decoding the
simulated camera's frames, photos judged by the photo check, the label from the handheld.
"""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest

from scale_drivers.api import BalanceDisconnected
from scale_drivers.protocols import open_balance
from scale_drivers.sim.scenario import SCENARIO_DIR, load_scenario
from scale_drivers.sim.server import SimulatorServer
from station.bootstrap import configured_printer
from station.config.catalog_files import formulary_path, load_formulary, load_worklist
from station.config.model import LabelsSection
from station.core.acceptance import AcceptanceTracker, Status, SymbolRead
from station.core.bud import BudTable
from station.core.gravimetry import BalanceSpec
from station.core.quantities import Tolerance
from station.core.recipe import MassCheck
from station.core.scan import parse_scan
from station.core.workflow import Phase, StopReason
from station.demo.camera import SimulatedCamera
from station.demo.camera_scene import Scene
from station.demo.hood import (
    DOSE_ERROR_BANDS,
    DemoHood,
    Mistake,
    SimulatorPlug,
)
from station.devices.decoding import DecodePipeline
from station.devices.ocr import read_printed_lot
from station.devices.photos import assess
from station.records.opened_vials import OpenedVials
from station.records.recalls import RecallList
from station.records.record import open_record
from station.services.hood import HoodSession, HoodView, NextAction
from station.services.labelling import LabelDesk
from station.services.opened_vial_use import VialDesk
from station.services.preparations import PreparationService
from station.services.scan_events import ScanEvents
from tests.clock import FakeClock

SITE = dt.timezone(dt.timedelta(hours=-5))
START = dt.datetime(2026, 11, 26, 9, 30, tzinfo=SITE)
TODAY = START.date()
CEFTRIAXONE_ORDER = "RX-260102"  # 50 mL bag, powder vial + diluent, one syringe
FLUOROURACIL_ORDER = "RX-260116"  # no bag: one syringe
TECH = "tech.ana"
STABLE_WITHIN = 10.0  # s the driver waits for a stable reading
PIPELINE = DecodePipeline()


@pytest.fixture
def clock():
    return FakeClock(START, step=dt.timedelta(seconds=1))


@pytest.fixture
def simulator(tmp_path):
    server = SimulatorServer("mt_sics", load_scenario(SCENARIO_DIR / "hood_demo.toml"), seed=5)
    server.start(tmp_path / "balance")
    yield server
    server.stop()


@pytest.fixture
def driver(simulator):
    balance = open_balance(simulator.url, "mt-sics")
    balance.identify()
    yield balance
    balance.close()


@pytest.fixture
def camera():
    return SimulatedCamera(Scene(), seed=3)


@pytest.fixture
def record(tmp_path):
    opened = open_record(f"sqlite:///{tmp_path / 'station.db'}")
    yield opened
    opened.close()


@pytest.fixture
def service(record, clock):
    return PreparationService(record, station_id="demo-hood", site_tolerance=Tolerance(
        Decimal("0.05")), clock=clock)


@pytest.fixture
def version(service, clock):
    return service.versions.import_text(formulary_path().read_text(encoding="utf-8"),
                                        "formulary.toml", imported_by="rph.ben", utc=clock())


@pytest.fixture
def linear_share():
    """The share of products whose packages carry only a UPC-A (none, unless a test says)."""
    return 0.0


@pytest.fixture
def demo(simulator, camera, version, linear_share):
    return DemoHood(simulator.balance, SimulatorPlug(simulator), camera, version.formulary(),
                    today=TODAY, seed=7, linear_only_share=linear_share)


@pytest.fixture
def session(service, version, record, clock, driver, tmp_path):
    info = driver.info
    assert info is not None and info.readability == Decimal("0.001")
    formulary = version.formulary()
    printer = configured_printer(LabelsSection(), tmp_path)
    vials = OpenedVials(record.engine, clock, BudTable.load())
    return HoodSession(service, formulary,
                       ScanEvents(RecallList(record.engine, clock), vials),
                       AcceptanceTracker, station_id="demo-hood", clock=clock, balance=info,
                       balance_spec=BalanceSpec(info.readability, Decimal("0.0005")),
                       labels=LabelDesk(formulary, BudTable.load(), printer),
                       vials=VialDesk(vials, formulary, printer, station_id="demo-hood",
                                      iso5=True))


class Station:
    """What the station does with its devices: read the balance, decode frames, take photos."""

    def __init__(self, session: HoodSession, demo: DemoHood, camera: SimulatedCamera,
                 driver) -> None:
        self.session, self.demo, self.camera, self.driver = session, demo, camera, driver
        self.readings: list[tuple[Decimal, Decimal]] = []  # (true load, reading)

    def step(self, mistake: Mistake | None = None) -> HoodView:
        """The demo hood acts out the next step; the station takes it in as it would."""
        session = self.session
        view = session.view
        handheld = self.demo.perform(view, session.preparation, mistake)
        action = view.next_action
        if action is NextAction.SCAN:
            assert handheld is None
            return self.look()
        if action in (NextAction.WEIGH, NextAction.BALANCE_CHECK):
            reading = self.driver.read_stable(STABLE_WITHIN)
            self.readings.append((self.demo.state.pan_grams, reading.value))
            if action is NextAction.BALANCE_CHECK:
                session.record_balance_check(reading, self.demo.check_weight)
                return session.view
            return session.weight(reading)
        if action is NextAction.PHOTO:
            return session.photo(self.camera.read())
        if action is NextAction.CONFIRM:
            assert handheld is None
            return session.confirm()
        if action is NextAction.SCAN_LABEL:
            assert handheld is not None
            return session.label_scanned(handheld)
        if action is NextAction.PRINT_LABEL:
            return session.print_label()
        if action is NextAction.IDENTIFY_LOT:
            return self.identify_lot()
        raise AssertionError(f"nothing for the demo hood to do at {view}")

    def identify_lot(self) -> HoodView:
        """The printed lot read from the camera, then confirmed or typed by the hands."""
        pending = self.session.view.pending_lot
        assert pending is not None
        if pending.read is None and pending.problem is None:
            self.session.offer_printed_lot(read_printed_lot(self.camera.read().image))
        move = self.demo.identify_lot(self.session.view)
        if move.enter:
            return self.session.confirm_printed_lot()
        assert move.typed is not None
        return self.session.type_lot(*move.typed)

    def look(self, frames: int = 6) -> HoodView:
        """Decode camera frames until the acceptance rule decides."""
        view = self.session.view
        for _ in range(frames):
            frame = self.camera.read()
            assert frame is not None
            reads = [SymbolRead(s.scan_text, matrix=s.is_matrix)
                     for s in PIPELINE.decode(frame.image)]
            view = self.session.scan_reads(reads, frame_index=frame.index)
            if view.decision is not Status.PENDING:
                return view
        return view

    def run_until(self, actions: set[NextAction], limit: int = 40) -> HoodView:
        for _ in range(limit):
            if self.session.view.next_action in actions:
                return self.session.view
            self.step()
        raise AssertionError(f"did not reach {actions}: {self.session.view}")


@pytest.fixture
def station(session, demo, camera, driver):
    return Station(session, demo, camera, driver)


def start(station: Station, version, order_id: str) -> HoodView:
    return station.session.start(load_worklist().get(order_id), version, TECH)


# ---------------------------------------------------------------- a whole preparation


@pytest.mark.slow  # a whole preparation at the simulated balance's pace
def test_a_whole_preparation_is_acted_out_and_read_through_the_real_devices(
        station, version, service):
    view = start(station, version, CEFTRIAXONE_ORDER)
    assert view.next_action is NextAction.SCAN
    view = station.run_until({NextAction.VERIFY})
    assert view.phase is Phase.AWAITING_VERIFICATION
    prep = station.session.preparation
    events = service.record.events.events_of(prep.preparation_id)
    kinds = [e.kind for e in events]
    assert "hard_stop" not in kinds
    assert kinds.count("photo_taken") == 6  # three scans, the draw, the bag, the end
    # every reading came off the simulated pan within 2 d of what was put on it
    assert len(station.readings) == 8  # the daily check and seven weighings
    for load, reading in station.readings:
        assert abs(reading - load) <= Decimal("0.002"), (load, reading)
    assert station.readings[0][0] == Decimal("100.0000")
    bag = version.formulary().by_ndc_text("0338-0049-41")
    assert station.readings[1][0] == station.demo.bag_mass(bag)
    # each package scanned is a package off the shelf: in-date lot, a serial of its own
    scans = [e.payload for e in events if e.kind == "product_scanned"]
    assert [s["product"] for s in scans] == ["0338-0049-41", "0781-3208-95", "63323-185-10"]
    for scan in scans:
        package = station.demo.package(version.formulary().by_ndc_text(scan["product"]))
        assert (scan["lot"], scan["expiry"], scan["serial"]) == (
            package.lot, package.expiry.isoformat(), package.serial)
    assert len({s["serial"] for s in scans}) == 3
    labels = [e.payload for e in events if e.kind == "label_scanned"]
    assert [label["text"] for label in labels] == [prep.preparation_id]
    # the label was printed (once) before it was scanned back
    assert kinds.index("label_printed") < kinds.index("label_scanned")
    assert kinds.count("label_printed") == 1
    # the emptied syringe weighs its empty mass plus its dead space: the bag got the rest
    syringe, filled, emptied = (load for load, _ in station.readings[4:7])
    draw = next(s for s in prep.recipe.steps if s.check is MassCheck.DOSE)
    gravity = draw.product.specific_gravity.value
    residual = station.demo.dead_space(draw.expected_mass / gravity) * gravity
    assert Decimal("0.01") < emptied - syringe == residual.quantize(Decimal("0.0001"))
    assert filled > emptied


# ---------------------------------------------------------------- mistakes


@pytest.mark.parametrize(("mistake", "reason", "words"), [
    (Mistake.WRONG_PRODUCT, StopReason.WRONG_PRODUCT, "wrong product: scanned "),
    (Mistake.EXPIRED_LOT, StopReason.EXPIRED, "expired: lot "),
])
def test_a_wrong_package_under_the_camera_is_a_hard_stop(station, version, mistake, reason,
                                                         words):
    view = start(station, version, CEFTRIAXONE_ORDER)
    assert mistake in station.demo.mistakes_for(view, station.session.preparation)
    view = station.step(mistake)
    prep = station.session.preparation
    assert view.phase is Phase.HARD_STOP
    assert prep.stop.reason is reason
    assert view.message.startswith(words)
    station.session.retry()
    view = station.step()  # the right bag this time
    assert view.phase is Phase.IN_PROGRESS
    assert view.next_action is NextAction.PHOTO


def test_the_expired_lot_expired_before_today_and_the_wrong_package_is_another_drug(
        station, version):
    view = start(station, version, CEFTRIAXONE_ORDER)
    prep = station.session.preparation
    wanted = prep.step.product
    station.demo.perform(view, prep, Mistake.EXPIRED_LOT)
    (label,) = station.camera.scene.labels
    assert label.ndc10 == str(wanted.ndc)
    assert label.expiry < TODAY
    station.demo.perform(view, prep, Mistake.WRONG_PRODUCT)
    (label,) = station.camera.scene.labels
    assert label.name.split()[0] != wanted.name.split()[0]
    assert label.container == "bag"  # a bag from the bin next door, not a vial
    assert label.expiry > TODAY


def test_a_blurred_camera_spoils_the_photo(station, version):
    start(station, version, CEFTRIAXONE_ORDER)
    view = station.step()
    assert view.next_action is NextAction.PHOTO
    prep = station.session.preparation
    assert station.demo.mistakes_for(view, prep) == {Mistake.BLURRY}
    station.demo.perform(view, prep, Mistake.BLURRY)
    frame = station.camera.read()
    quality = assess(frame.image)
    assert quality.problem is not None and quality.problem.startswith("too blurry")
    view = station.session.photo(frame)
    assert station.session.preparation.stop.reason is StopReason.BAD_PHOTO
    assert view.message.startswith("photo refused: too blurry")
    station.session.retry()
    view = station.step()  # sharp again
    assert view.message == "photo taken"
    assert station.demo.state.blur == 0.0


@pytest.mark.slow  # weighings at the simulated balance's pace
def test_too_much_and_too_little_drawn_are_out_of_tolerance_then_the_label(station, version):
    start(station, version, FLUOROURACIL_ORDER)
    view = station.run_until({NextAction.WEIGH})
    view = station.step()  # the empty syringe
    assert view.expected_reading is not None
    prep = station.session.preparation
    assert station.demo.mistakes_for(view, prep) == {Mistake.DOSE_HIGH, Mistake.DOSE_LOW}
    expected, half_band = view.expected_reading, view.band_high - view.expected_reading
    for mistake, sign in ((Mistake.DOSE_HIGH, 1), (Mistake.DOSE_LOW, -1)):
        view = station.step(mistake)
        assert station.demo.state.pan_grams == (
            expected + sign * DOSE_ERROR_BANDS * half_band).quantize(Decimal("0.0001"))
        assert view.phase is Phase.HARD_STOP
        assert station.session.preparation.stop.reason is StopReason.OUT_OF_TOLERANCE
        assert view.next_action is NextAction.RETRY_OR_OVERRIDE
        view = station.session.retry()
        assert view.expected_reading == expected
    view = station.run_until({NextAction.SCAN_LABEL})
    prep = station.session.preparation
    assert station.demo.describe(view, prep) == (
        "apply the printed label and scan it with the handheld")
    assert station.demo.perform(view, prep) == prep.preparation_id  # the label's barcode
    view = station.run_until({NextAction.VERIFY})
    assert view.phase is Phase.AWAITING_VERIFICATION


def test_a_mistake_that_does_not_fit_the_step_is_refused(station, version, simulator):
    view = start(station, version, CEFTRIAXONE_ORDER)
    prep = station.session.preparation
    with pytest.raises(ValueError, match="cannot draw too much when the station asks to scan"):
        station.demo.perform(view, prep, Mistake.DOSE_HIGH)
    assert simulator.balance.load == 0
    assert station.camera.scene == Scene()


# ---------------------------------------------------------------- devices


@pytest.mark.slow  # waits for the driver to reconnect
def test_unplugging_the_balance_cuts_the_driver_off_until_it_is_plugged_back(
        demo, driver, simulator):
    demo.place(Decimal("12.5"))
    demo.unplug_balance()
    assert not demo.state.balance_plugged
    with pytest.raises(BalanceDisconnected):
        driver.read_immediate()
    demo.replug_balance()
    assert demo.state.balance_plugged
    again = open_balance(simulator.url, "mt-sics")
    try:
        assert again.read_stable(STABLE_WITHIN).value == Decimal("12.500")
    finally:
        again.close()


def test_the_handheld_sends_what_the_cameras_datamatrix_carries(demo, camera, version):
    formulary = version.formulary()
    for ndc in ("0781-3208-95", "0338-0049-41", "63323-185-10"):
        product = formulary.by_ndc_text(ndc)
        demo.show(product)
        symbols = PIPELINE.decode(camera.read().image)
        matrix = [s.scan_text for s in symbols if s.is_matrix]
        assert matrix == [demo.handheld_text(product)]
        identity = parse_scan(matrix[0], TODAY.year)
        package = demo.package(product)
        assert (str(identity.lot), identity.expiry.date, str(identity.serial)) == (
            package.lot, package.expiry, package.serial)


def test_show_nothing_and_empty_pan_clear_the_view_and_the_pan(demo, camera, simulator):
    demo.place(Decimal("50"))
    demo.show(load_formulary().by_ndc_text("63323-185-10"), blur=1.0)
    assert simulator.balance.load == Decimal("50.0000")
    assert camera.scene.blur == 1.0
    demo.empty_pan()
    demo.show_nothing()
    assert simulator.balance.load == 0
    assert camera.scene.labels == ()
    assert (demo.state.on_pan, demo.state.in_view) == ("nothing", "nothing")


# ---------------------------------------------------------------- the shelf


class Pan:
    def __init__(self) -> None:
        self.load = Decimal(0)

    def set_load(self, grams: Decimal) -> None:
        self.load = grams


class Plug:
    def unplug(self) -> None:
        pass

    def replug(self) -> None:
        pass


def shelf(seed: int, pan: Pan | None = None) -> DemoHood:
    return DemoHood(pan or Pan(), Plug(), SimulatedCamera(Scene(), size=(320, 180)),
                    load_formulary(), today=TODAY, seed=seed)


def test_packages_are_in_date_and_deterministic_from_the_seed():
    one, same, other = shelf(1), shelf(1), shelf(2)
    lots = []
    for product in load_formulary():
        package = one.package(product)
        assert package == same.package(product)
        assert package.lot.startswith("L") and package.lot[1:].isdigit()
        assert TODAY + dt.timedelta(days=365) <= package.expiry <= TODAY + dt.timedelta(days=730)
        lots.append(package.lot == other.package(product).lot)
    assert not all(lots)


def test_container_masses_are_physically_plausible():
    hood = shelf(4)
    for volume in ("0.4", "1", "2.5", "5", "9.9", "15.2", "25", "48", "60", "75"):
        size, mass = hood.syringe(Decimal(volume))
        assert Decimal(5) - Decimal("0.25") <= mass <= Decimal(20) + Decimal("0.25")
        assert size >= min(Decimal(volume), Decimal(60))
    assert hood.syringe(Decimal(1))[1] < hood.syringe(Decimal(10))[1] < hood.syringe(
        Decimal(50))[1]
    for product in load_formulary():
        assert Decimal(15) <= hood.vial_mass(product) <= Decimal(40)
        plastic = hood.bag_mass(product) - (product.container_volume_ml
                                            * product.specific_gravity.value)
        assert Decimal(18) <= plastic <= Decimal(22)
    assert shelf(4).syringe(Decimal(3)) == hood.syringe(Decimal(3))


def test_every_method_can_be_called_from_several_threads():
    pan = Pan()
    hood = shelf(5, pan)
    products = list(load_formulary())[:6]
    failures: list[BaseException] = []

    def work(number: int) -> None:
        try:
            for turn in range(30):
                hood.place(Decimal(number * 10 + turn))
                hood.show(products[(number + turn) % len(products)])
                hood.handheld_text(products[turn % len(products)])
                if turn % 7 == 0:
                    hood.empty_pan()
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert hood.state.pan_grams == pan.load


@pytest.mark.slow  # a whole preparation at the simulated balance's pace
@pytest.mark.parametrize("linear_share", [1.0])
def test_packages_with_only_a_upc_a_are_read_from_their_print_or_typed(station, version,
                                                                        service):
    # Every product with a UPC-A comes with no DataMatrix: the station reads the printed lot
    # and expiry, and the hands confirm them against the package or type them twice.
    start(station, version, CEFTRIAXONE_ORDER)
    view = station.run_until({NextAction.VERIFY}, limit=60)
    assert view.phase is Phase.AWAITING_VERIFICATION
    prep = station.session.preparation
    events = service.record.events.events_of(prep.preparation_id)
    scans = [e.payload for e in events if e.kind == "product_scanned"]
    assert "hard_stop" not in [e.kind for e in events]
    linear = [s for s in scans if s["scan"].startswith("]E0")]
    assert linear, scans
    for scan in linear:
        assert scan["lot_source"] in ("printed_text", "typed")
        package = station.demo.package(version.formulary().by_ndc_text(scan["product"]))
        assert (scan["lot"], scan["expiry"]) == (package.lot, package.expiry.isoformat())
    assert all(s["lot"] and s["expiry"] for s in scans)
