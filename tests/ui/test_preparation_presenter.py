"""The preparation presenter's own decisions, against a real hood session on SQLite.

No threads: the presenter's requests are connected straight to the session, so each test
sees exactly which request a live reading, a frame or a scan turned into.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from scale_drivers.api import BalanceInfo, Reading
from station.config.catalog_files import formulary_path
from station.core.acceptance import AcceptanceTracker
from station.core.gravimetry import BalanceSpec
from station.core.quantities import Tolerance
from station.demo.camera_scene import Label, Scene, render
from station.devices.camera import Frame
from station.records.recalls import RecallList
from station.records.record import open_record
from station.services.hood import HoodSession, NextAction
from station.services.preparations import PreparationService
from station.services.scan_events import ScanEvents
from tests.clock import FakeClock
from ui.technician.preparation_presenter import PreparationPresenter, StepStatus

SITE = dt.timezone(dt.timedelta(hours=-5))
START = dt.datetime(2026, 11, 26, 9, 30, tzinfo=SITE)
BALANCE = BalanceInfo("Mettler Toledo", "SIM-1200F", "SIM0000003", "1.00", Decimal("1220.000"),
                      Decimal("0.001"))
ORDER = "RX-260108"  # heparin into a 250 mL bag: one vial, no pharmacist check


class Prompts:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def ask_override(self, explanation: str) -> None:
        self.asked.append(("override", explanation))

    def ask_in_process_check(self, explanation: str) -> None:
        self.asked.append(("check", explanation))

    def ask_cancel(self, explanation: str) -> None:
        self.asked.append(("cancel", explanation))


class Requests:
    """What the presenter asked for, in order."""

    def __init__(self, presenter: PreparationPresenter) -> None:
        self.log: list[tuple[str, tuple[object, ...]]] = []
        for name in ("stable_weight_requested", "streaming_requested", "handheld_requested",
                     "label_requested", "weight_requested", "balance_check_requested",
                     "photo_requested", "confirm_requested", "retry_requested"):
            getattr(presenter, name).connect(
                lambda *args, name=name: self.log.append((name, args)))

    def names(self) -> list[str]:
        return [name for name, _ in self.log]


@pytest.fixture
def hood(tmp_path):
    record = open_record(f"sqlite:///{tmp_path / 'station.db'}")
    clock = FakeClock(START, step=dt.timedelta(seconds=1))
    service = PreparationService(record, station_id="hood-1",
                                 site_tolerance=Tolerance(Decimal("0.05")), clock=clock)
    version = service.versions.import_text(formulary_path().read_text(encoding="utf-8"),
                                           "formulary.toml", imported_by="rph.ben", utc=clock())
    session = HoodSession(service, version.formulary(),
                          ScanEvents(RecallList(record.engine, clock)), AcceptanceTracker,
                          station_id="hood-1", clock=clock, balance=BALANCE,
                          balance_spec=BalanceSpec(Decimal("0.001"), Decimal(0)))
    from station.config.catalog_files import load_worklist  # noqa: PLC0415

    session.start(load_worklist().get(ORDER), version, "tech.ana")
    yield session
    record.close()


@pytest.fixture
def presenter(qtbot, hood):
    made = PreparationPresenter(hood.formulary, Prompts(), check_weight=Decimal("100.000"),
                                today=START.date())
    made.on_balance_connected(BALANCE)
    return made


def reading(grams: str, *, stable: bool = True) -> Reading:
    return Reading(Decimal(grams), "g", stable, f"S {'S' if stable else 'D'} {grams} g", "SI",
                   dt.datetime(2026, 11, 26, 14, 30, tzinfo=dt.UTC), 0.0)


def frame(index: int) -> Frame:
    return Frame(render(Scene(), (320, 180), np.random.default_rng(index)), index, 0.0, "cam")


def show(presenter: PreparationPresenter, hood: HoodSession) -> None:
    presenter.on_view_changed(hood.view, hood.preparation)


def test_the_steps_show_done_current_and_to_do(presenter, hood):
    show(presenter, hood)
    state = presenter.state
    assert state.title.startswith(f"{ORDER} — ")
    assert [line.status for line in state.steps[:2]] == [StepStatus.CURRENT, StepStatus.TODO]
    assert state.hint.startswith("Hold the package under the camera")
    assert state.primary is None and state.can_cancel and not state.can_override


def test_a_handheld_scan_goes_to_the_step_that_wants_one(presenter, hood):
    requests = Requests(presenter)
    show(presenter, hood)
    presenter.on_handheld("]d2010030338001702171230311012345")
    assert requests.log == [("handheld_requested", ("]d2010030338001702171230311012345",))]


def test_no_scan_is_taken_on_a_weighing_step(presenter, hood):
    hood.scan_text(_base_scan(hood), handheld=True)
    hood.photo(Frame(render(Scene(labels=(_base_label(hood),)), (1280, 720),
                            np.random.default_rng(1)), 1, 0.0, "cam"))
    requests = Requests(presenter)
    show(presenter, hood)
    assert hood.view.next_action in {NextAction.WEIGH, NextAction.BALANCE_CHECK}
    presenter.on_handheld("P-NOTHING")
    assert "no scan is expected at this step" in presenter.state.message
    assert "handheld_requested" not in requests.names()


def test_a_steady_new_load_is_asked_for_once_and_recorded_as_the_weight(presenter, hood):
    hood.record_balance_check(reading("100.000"), Decimal("100.000"), user="tech.ana")
    hood.scan_text(_base_scan(hood), handheld=True)
    hood.photo(Frame(render(Scene(labels=(_base_label(hood),)), (1280, 720),
                            np.random.default_rng(1)), 1, 0.0, "cam"))
    requests = Requests(presenter)
    show(presenter, hood)
    assert hood.view.next_action is NextAction.WEIGH
    assert requests.log == [("streaming_requested", (True,))]
    presenter.on_live_reading(reading("0.000"), "")  # empty pan
    presenter.on_live_reading(reading("271.9", stable=False), "")  # still moving
    presenter.on_live_reading(reading("271.932"), "")
    presenter.on_live_reading(reading("271.932"), "")  # already asked
    assert requests.names().count("stable_weight_requested") == 1
    stable = reading("271.932")
    presenter.on_stable_reading(stable)
    assert requests.log[-1] == ("weight_requested", (stable,))


def test_the_daily_check_comes_first_and_takes_the_check_weight(presenter, hood):
    hood.scan_text(_base_scan(hood), handheld=True)
    hood.photo(Frame(render(Scene(labels=(_base_label(hood),)), (1280, 720),
                            np.random.default_rng(1)), 1, 0.0, "cam"))
    requests = Requests(presenter)
    show(presenter, hood)
    assert hood.view.next_action is NextAction.BALANCE_CHECK
    presenter.on_live_reading(reading("100.001"), "")
    check = reading("100.001")
    presenter.on_stable_reading(check)
    assert requests.log[-1] == ("balance_check_requested", (check,))


def test_a_photo_is_taken_from_the_next_frame_once(presenter, hood):
    hood.scan_text(_base_scan(hood), handheld=True)
    requests = Requests(presenter)
    show(presenter, hood)
    assert hood.view.next_action is NextAction.PHOTO
    assert "photo_requested" not in requests.names()  # no frame seen since the scan
    first, second = frame(7), frame(8)
    presenter.on_frame(first)
    presenter.on_frame(second)
    photos = [args for name, args in requests.log if name == "photo_requested"]
    assert photos == [(first,)]


def test_an_override_is_offered_only_where_it_is_allowed(presenter, hood):
    show(presenter, hood)
    presenter.override()
    assert presenter.prompts.asked == []
    presenter.cancel()
    assert presenter.prompts.asked == [("cancel", presenter.state.title)]


def _base_label(hood: HoodSession) -> Label:
    product = hood.preparation.step.product
    return Label.for_product(product, lot="L2405A", expiry=dt.date(2028, 12, 31),
                             serial="SN0001")


def _base_scan(hood: HoodSession) -> str:
    label = _base_label(hood)
    return "]d2" + label.gs1_data
