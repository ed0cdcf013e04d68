"""The demo panel's buttons act on the simulated hood, and only where they make sense.

The hood is a real balance simulator on a pty and a simulated camera; the station is a real
hood session over SQLite. Camera frames are decoded for real; weights are given to the
session as the pan's load read to 1 mg (the driver's side is tested in
tests/station/adapters/test_demo_hood.py), so walking through a preparation takes no waiting.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from scale_drivers.api import BalanceInfo, Reading
from scale_drivers.sim.scenario import SCENARIO_DIR, load_scenario
from scale_drivers.sim.server import SimulatorServer
from station.bootstrap import configured_printer
from station.config.catalog_files import formulary_path, load_worklist
from station.config.model import LabelsSection
from station.core.acceptance import AcceptanceTracker, Status, SymbolRead
from station.core.bud import BudTable
from station.core.gravimetry import BalanceSpec
from station.core.quantities import Tolerance
from station.demo.camera import SimulatedCamera
from station.demo.camera_scene import Scene
from station.demo.hood import HEAVY_BLUR, DemoHood, SimulatorPlug
from station.devices.decoding import DecodePipeline
from station.records.recalls import RecallList
from station.records.record import open_record
from station.services.hood import HoodSession, HoodView, NextAction
from station.services.labelling import LabelDesk
from station.services.preparations import PreparationService
from station.services.scan_events import ScanEvents
from tests.clock import FakeClock
from ui.technician.demo_panel import REPLUG, UNPLUG, DemoPanel

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
SITE = dt.timezone(dt.timedelta(hours=-5))
START = dt.datetime(2026, 11, 26, 9, 30, tzinfo=SITE)
BALANCE = BalanceInfo("Mettler Toledo", "SIM-220F", "SIM0000003", "1.00", Decimal("220.000"),
                      Decimal("0.001"))
PIPELINE = DecodePipeline()
MILLIGRAM = Decimal("0.001")


@pytest.fixture
def simulator(tmp_path):
    server = SimulatorServer("mt_sics", load_scenario(SCENARIO_DIR / "hood_demo.toml"))
    server.start(tmp_path / "balance")
    yield server
    server.stop()


@pytest.fixture
def camera():
    return SimulatedCamera(Scene())


@pytest.fixture
def record(tmp_path):
    opened = open_record(f"sqlite:///{tmp_path / 'station.db'}")
    yield opened
    opened.close()


@pytest.fixture
def clock():
    return FakeClock(START, step=dt.timedelta(seconds=1))


@pytest.fixture
def version(record, clock):
    service = PreparationService(record, station_id="demo-hood",
                                 site_tolerance=Tolerance(Decimal("0.05")), clock=clock)
    return service.versions.import_text(formulary_path().read_text(encoding="utf-8"),
                                        "formulary.toml", imported_by="rph.ben", utc=clock())


@pytest.fixture
def session(record, version, clock, tmp_path):
    service = PreparationService(record, station_id="demo-hood",
                                 site_tolerance=Tolerance(Decimal("0.05")), clock=clock)
    printer = configured_printer(LabelsSection(), tmp_path)  # labels to a file
    labels = LabelDesk(version.formulary(), BudTable.load(), printer)
    return HoodSession(service, version.formulary(), ScanEvents(RecallList(record.engine, clock)),
                       AcceptanceTracker, station_id="demo-hood", clock=clock, balance=BALANCE,
                       balance_spec=BalanceSpec(MILLIGRAM, Decimal("0.0005")), labels=labels)


@pytest.fixture
def demo(simulator, camera, version):
    return DemoHood(simulator.balance, SimulatorPlug(simulator), camera, version.formulary(),
                    today=START.date(), seed=11)


@pytest.fixture
def panel(qtbot, demo):
    widget = DemoPanel(demo)
    qtbot.addWidget(widget)
    return widget


def reading(grams: Decimal) -> Reading:
    value = grams.quantize(MILLIGRAM)
    return Reading(value, "g", True, f"S S {value:>10} g", "SI",
                   dt.datetime(2026, 11, 26, 14, 30, tzinfo=dt.UTC), 0.0)


def take_in(session: HoodSession, demo: DemoHood, camera: SimulatedCamera,
            action: NextAction) -> HoodView:
    """What the station makes of the hood after the panel acted on it."""
    if action is NextAction.SCAN:
        view = session.view
        for _ in range(6):
            frame = camera.read()
            reads = [SymbolRead(s.scan_text, matrix=s.is_matrix)
                     for s in PIPELINE.decode(frame.image)]
            view = session.scan_reads(reads, frame_index=frame.index)
            if view.decision is not Status.PENDING:
                break
        return view
    if action is NextAction.BALANCE_CHECK:
        session.record_balance_check(reading(demo.state.pan_grams), demo.check_weight)
        return session.view
    if action is NextAction.WEIGH:
        return session.weight(reading(demo.state.pan_grams))
    if action is NextAction.PHOTO:
        return session.photo(camera.read())
    if action is NextAction.CONFIRM:
        return session.confirm()
    raise AssertionError(f"the test does not take in {action}")


def enabled(panel: DemoPanel) -> set[str]:
    buttons = (panel.right_button, panel.wrong_vial_button, panel.expired_button,
               panel.dose_high_button, panel.blur_button, panel.empty_pan_button,
               panel.plug_button)
    return {b.objectName() for b in buttons if b.isEnabled()}


DEVICES = {"empty_pan_button", "plug_button"}


def right(qtbot, panel: DemoPanel, session: HoodSession, demo: DemoHood,
          camera: SimulatedCamera) -> HoodView:
    """Click "Do the next step right", let the station take it in, and update the panel."""
    action = session.view.next_action
    if action is NextAction.CONFIRM:  # nothing physical: the window's Confirm button
        assert not panel.right_button.isEnabled()
        view = session.confirm()
    elif action is NextAction.PRINT_LABEL:  # nothing physical: the window's key prints it
        view = session.print_label()
    else:
        qtbot.mouseClick(panel.right_button, Qt.MouseButton.LeftButton)
        view = take_in(session, demo, camera, action)
    panel.set_state(view, session.preparation)
    return view


def test_buttons_act_on_the_pan_and_the_camera_and_the_label_goes_to_the_handheld(
        qtbot, panel, session, demo, camera, simulator, version):
    assert enabled(panel) == DEVICES
    assert panel.next_label.text() == "Start a preparation from the worklist."
    for button in (panel.right_button, panel.wrong_vial_button, panel.dose_high_button,
                   panel.plug_button):
        assert button.minimumHeight() >= 56
        assert button.font().pointSize() >= 16

    view = session.start(load_worklist().get("RX-260102"), version, "tech.ana")
    prep = session.preparation
    panel.set_state(view, prep)
    assert enabled(panel) == DEVICES | {"right_button", "wrong_vial_button", "expired_button",
                                        "blur_button"}
    assert panel.next_label.text().startswith("Next: show the camera Sodium Chloride 0.9%")
    bag = prep.step.product

    qtbot.mouseClick(panel.wrong_vial_button, Qt.MouseButton.LeftButton)
    (label,) = camera.scene.labels
    assert label.name.split()[0] != bag.name.split()[0]
    qtbot.mouseClick(panel.expired_button, Qt.MouseButton.LeftButton)
    (label,) = camera.scene.labels
    assert (label.ndc10, label.expiry < START.date()) == (str(bag.ndc), True)

    view = right(qtbot, panel, session, demo, camera)
    assert view.decision is Status.ACCEPTED
    assert view.next_action is NextAction.PHOTO
    assert enabled(panel) == DEVICES | {"right_button", "blur_button"}
    qtbot.mouseClick(panel.blur_button, Qt.MouseButton.LeftButton)
    assert camera.scene.blur == HEAVY_BLUR
    assert "out of focus" in panel.status_label.text()
    view = right(qtbot, panel, session, demo, camera)
    assert camera.scene.blur == 0.0
    assert view.message == "photo taken"

    assert view.next_action is NextAction.BALANCE_CHECK
    assert enabled(panel) == DEVICES | {"right_button"}
    view = right(qtbot, panel, session, demo, camera)
    assert simulator.balance.load == Decimal("100.0000")
    view = right(qtbot, panel, session, demo, camera)  # the bag before additions
    assert simulator.balance.load == demo.bag_mass(bag)
    assert panel.status_label.text().startswith(f"On the pan: the {bag.name}")

    while view.expected_reading is None or session.preparation.step.dose is None:
        view = right(qtbot, panel, session, demo, camera)
    assert enabled(panel) == DEVICES | {"right_button", "dose_high_button"}
    assert panel.dose_high_button.text() == "Draw 15 % too much"  # 3 × the 5 % tolerance
    qtbot.mouseClick(panel.dose_high_button, Qt.MouseButton.LeftButton)
    high = view.expected_reading + 3 * (view.band_high - view.expected_reading)
    assert simulator.balance.load == high.quantize(Decimal("0.0001"))
    save_screenshot(qtbot, panel, "demo_panel.png")

    view = right(qtbot, panel, session, demo, camera)  # the right draw after all
    assert view.message.endswith("g recorded")
    while view.next_action is not NextAction.SCAN_LABEL:
        if view.next_action is NextAction.CONFIRM:
            assert not panel.right_button.isEnabled()
            assert panel.next_label.text() == "Do it in the station window: press Confirm."
        view = right(qtbot, panel, session, demo, camera)
    prep = session.preparation
    with qtbot.waitSignal(panel.handheld_scanned, timeout=1000) as scanned:
        qtbot.mouseClick(panel.right_button, Qt.MouseButton.LeftButton)
    assert scanned.args == [prep.preparation_id]
    view = session.label_scanned(scanned.args[0])
    assert view.message == "label matches"


def test_empty_the_pan_and_pull_the_cable(qtbot, panel, demo, simulator):
    demo.place(Decimal("42"))
    qtbot.mouseClick(panel.empty_pan_button, Qt.MouseButton.LeftButton)
    assert simulator.balance.load == 0
    assert panel.status_label.text().startswith("On the pan: nothing.")

    assert panel.plug_button.text() == UNPLUG
    qtbot.mouseClick(panel.plug_button, Qt.MouseButton.LeftButton)
    assert "unplug" in simulator.faults
    assert simulator.pty_path is None
    assert panel.plug_button.text() == f"⚠ {REPLUG}"
    assert "The balance is UNPLUGGED." in panel.status_label.text()
    save_screenshot(qtbot, panel, "demo_panel_unplugged.png")
    qtbot.mouseClick(panel.plug_button, Qt.MouseButton.LeftButton)
    assert "unplug" not in simulator.faults
    assert Path(simulator.url).exists()
    assert panel.plug_button.text() == UNPLUG


def save_screenshot(qtbot, panel: DemoPanel, name: str) -> None:
    panel.resize(480, 1000)
    panel.show()
    qtbot.waitExposed(panel)
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    assert panel.grab().save(str(path))
    assert path.stat().st_size > 0
