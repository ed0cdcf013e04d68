"""Balance faults in the middle of a preparation, in the real station window.

Each test runs the single-vial preparation as in ``test_station_app.py`` (keys and scans
only; the simulated hood puts each item on the simulated balance's pan), switches on one
of the balance simulator's faults at a weighing, and checks three things:

1. no wrong weight is accepted: every weight the record gains (preparation weights and
   daily balance checks) is the load on the pan within two divisions, and none is
   recorded while the fault lasts, though a healthy balance would have given it by then;
2. the technician is told, in words, what is wrong (status bar or preparation screen);
3. once the fault is cleared the same preparation carries on to "held for verification",
   with every event recorded before the fault still there, unchanged.

``unplug``, ``silent``, ``garbage``, ``overload`` and ``slow_stability`` clear; with
``serial_change`` another balance is plugged in: it must be checked before it weighs, then
weigh under its own serial number, and a dose is never its reading less a tare taken on
the other balance.

The demo hood's balance settles faster here than in the demo (about 0.6 s instead of
2.3 s, see :func:`quick_scenario`) so that seven whole preparations fit in a minute and a
half; what a fault does does not depend on how fast a load settles. A screenshot of each
fault as the technician sees it is saved to ``artifacts/station_fault_<fault>.png``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from scale_drivers.sim.scenario import Scenario, load_scenario
from scale_drivers.sim.server import SimulatorServer
from station.core.formulary import ProductRole
from station.core.recipe import MassCheck, Step, StepKind
from station.core.workflow import Phase, Preparation
from station.demo import balance as demo_balance
from station.records.store import StoredEvent
from station.services.hood import BALANCE_CHECK, HoodView, NextAction, balance_stream
from tests.ui.station_driver import (
    Technician,
    demo_config,
    local_clock,
    screenshot,
    start_single_vial_order,
)
from ui.shell.app import Station, build_station
from ui.widgets.weight_gauge import band_text, readout_text, stability_text

#: Whole preparations in the station window, each with a balance fault.
pytestmark = pytest.mark.slow

#: The quick balance: settling time constant and stability window (s).
QUICK_SETTLE_S = 0.05
QUICK_WINDOW_S = 0.3
#: By then a healthy quick balance has given the load's weight (1.0-1.3 s measured), so
#: whatever the screen shows is the fault's doing (ms).
HEALTHY_MS = 1500
#: How long a fault stays on once the load is on the pan (ms).
DWELL_MS = 2 * HEALTHY_MS
#: How long a fault's name must stay on screen once shown, at least (ms).
HOLD_MS = 1000
#: How long the station may take to name a fault (ms): a silent balance is "not
#: answering" after three missed heartbeats, about three seconds; a garbling one is
#: "garbled replies" after three exchanges without a valid reply (about a second each).
SHOWN_WITHIN_MS = 10_000
#: How far (in divisions) a recorded weight may be from the load on the pan.
DIVISIONS = 2
WEIGHT_KINDS = frozenset({"weight_read", BALANCE_CHECK})


def quick_scenario(path: str | Path) -> Scenario:
    """The demo hood's scenario, with a balance that settles in about 0.6 s."""
    scenario = load_scenario(path)
    return replace(scenario, model=replace(scenario.model, settle_time_constant=QUICK_SETTLE_S,
                                           stability_window=QUICK_WINDOW_S))


@pytest.fixture
def station(qtbot: QtBot, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Station]:
    monkeypatch.setattr(demo_balance, "load_scenario", quick_scenario)
    built = build_station(demo_config(tmp_path), clock=local_clock, seed=3)
    qtbot.addWidget(built.window)
    built.window.resize(1920, 1080)
    built.start()
    yield built
    built.close()


@pytest.fixture
def technician(qtbot: QtBot, station: Station) -> Technician:
    return Technician(qtbot, station)


def simulator_of(station: Station) -> SimulatorServer:
    """The simulated balance the station reads."""
    assert station.simulator is not None, "the fault tests run the simulated balance"
    return station.simulator


# ------------------------------------------------------------------ what the technician sees


def on_screen(station: Station) -> str:
    """Every word about the balance and the step the technician sees now, a line each."""
    window = station.window
    view = window.preparation_view
    labels = (window.status.balance_label, view.instruction_label, view.hint_label,
              view.message_label, view.stop_label)
    lines = [label.text() for label in labels if label.text()]
    # What the gauge paints: the readout, the stability chip, the band or the message as
    # they fit beside the chip (a long message is cut at its end, never at its start).
    gauge = view.gauge
    gauge.repaint()
    words, painted = band_text(gauge.state) or gauge.state.message, gauge.status_words
    assert words.startswith(painted.removesuffix("…")), f"{words!r} painted as {painted!r}"
    lines.append(f"{readout_text(gauge.state)} | {stability_text(gauge.state)} | {painted}")
    return "\n".join(lines)


def ms_since(start: float) -> int:
    """Milliseconds since ``start`` (a :func:`time.monotonic` time)."""
    return round((time.monotonic() - start) * 1000)


def hold(qtbot: QtBot, station: Station, pattern: str | None, ms: int = HOLD_MS) -> None:
    """Let ``ms`` pass with the screen's words matching ``pattern`` all along (if given).

    Each look allows a moment for the second of two signals a worker sent together.
    """
    for _ in range(0, ms, 250):
        qtbot.wait(250)
        if pattern is not None:
            wait_until_shown(qtbot, station, pattern, timeout=200)


def wait_until_shown(qtbot: QtBot, station: Station, pattern: str,
                     timeout: int = SHOWN_WITHIN_MS) -> None:
    """Wait until the screen's words match ``pattern``; fail with what it showed."""
    try:
        qtbot.waitUntil(lambda: re.search(pattern, on_screen(station)) is not None,
                        timeout=timeout)
    except Exception as error:
        raise AssertionError(f"{pattern!r} not shown; the screen said:\n"
                             f"{on_screen(station)}") from error


# ------------------------------------------------------------------ the pan and the record


class Weighing(Enum):
    """The weighings of a single-vial preparation, where a fault can strike."""

    BASE = "the base container before additions"
    SYRINGE = "the empty syringe"
    DOSE = "the filled syringe"
    FINAL = "the final container"

    def matches(self, step: Step) -> bool:
        """Whether ``step`` is this weighing."""
        if self is Weighing.DOSE:
            return step.kind is StepKind.WEIGH_NET and step.check is MassCheck.DOSE
        if self is Weighing.FINAL:
            return step.kind is StepKind.WEIGH_NET and step.check is MassCheck.FINAL
        if step.kind is not StepKind.WEIGH_TARE or step.product is None:
            return False
        return (step.product.role is ProductRole.BASE) == (self is Weighing.BASE)


@dataclass(frozen=True)
class Weighed:
    """A weight the record gained, and the load on the simulated pan when it did."""

    kind: str
    grams: Decimal
    serial: str
    pan: Decimal
    readability: Decimal

    @property
    def off_by(self) -> Decimal:
        """How many divisions the recorded weight is from the pan's load."""
        return abs(self.grams - self.pan) / self.readability


class Bench:
    """The technician at work, with each weight the record gains checked against the pan."""

    def __init__(self, technician: Technician) -> None:
        self.technician = technician
        self.station = technician.station
        self.weighed: list[Weighed] = []
        self._seen = max((e.sequence for e in self.station.record.events.events()), default=0)

    @property
    def view(self) -> HoodView:
        """The hood's view as the presenter last heard it."""
        view = self.station.preparation.view
        assert view is not None
        return view

    @property
    def preparation(self) -> Preparation:
        """The open preparation as the presenter last heard it."""
        prep = self.station.preparation.preparation
        assert prep is not None
        return prep

    def look(self) -> list[Weighed]:
        """Weights recorded since the last look, each checked against the load on the pan."""
        fresh = list(self.station.record.events.events(after=self._seen))
        if fresh:
            self._seen = fresh[-1].sequence
        pan = self.technician.hood.state.pan_grams
        new = [_weighed(event, pan) for event in fresh if event.kind in WEIGHT_KINDS]
        for weight in new:
            assert weight.off_by <= DIVISIONS, (
                f"{weight.kind} recorded {weight.grams} g on {weight.serial}, but {pan} g "
                "is on the pan")
        self.weighed += new
        return new

    def step(self) -> None:
        """Do what the station asks next, right, and look at what it recorded."""
        self.technician.do_step()
        self.look()

    def work_until(self, weighing: Weighing, limit: int = 30) -> None:
        """Do each step right until the station asks to weigh ``weighing``."""
        for _ in range(limit):
            step = self.preparation.step
            if self.view.next_action is NextAction.WEIGH and step is not None and (
                    weighing.matches(step)):
                return
            self.step()
        raise AssertionError(f"never asked to weigh {weighing.value}")

    def finish(self, limit: int = 30) -> None:
        """Do each step right until the preparation is held for verification."""
        for _ in range(limit):
            if self.view.phase is Phase.AWAITING_VERIFICATION:
                return
            self.step()
        raise AssertionError(f"not held after {limit} steps: {self.view}")


def _weighed(event: StoredEvent, pan: Decimal) -> Weighed:
    payload = event.payload
    if event.kind == BALANCE_CHECK:
        grams, serial = payload["reading"], payload["serial_number"]
    else:
        grams, serial = payload["mass"], payload["balance_id"]
    return Weighed(event.kind, Decimal(grams), serial, pan, Decimal(payload["readability"]))


def event_hashes(station: Station, preparation_id: str) -> list[str]:
    """The preparation's events as recorded, by hash, oldest first."""
    return [e.hash for e in station.record.events.events_of(preparation_id)]


def assert_held_with_every_step(bench: Bench, preparation_id: str, kept: list[str]) -> None:
    """The same preparation is held, every step done, and nothing before the fault lost."""
    prep = bench.preparation
    assert prep.preparation_id == preparation_id
    assert bench.view.phase is Phase.AWAITING_VERIFICATION
    assert prep.phase is Phase.AWAITING_VERIFICATION
    now = event_hashes(bench.station, preparation_id)
    assert now[:len(kept)] == kept, "events recorded before the fault were lost or changed"
    for step in prep.recipe.steps:
        record = prep.record(step.number)
        done = record.good_photos if step.kind is StepKind.PHOTO else record.accepted
        assert done, f"step {step.number} ({step.title}) was never done"
    weights = [w for w in bench.weighed if w.kind == "weight_read"]
    weighings = [s for s in prep.recipe.steps
                 if s.kind in {StepKind.WEIGH_TARE, StepKind.WEIGH_NET}]
    assert len(weights) == len(weighings), "one weight per weighing, each from the pan"


# ------------------------------------------------------------------ faults that clear


@dataclass(frozen=True)
class Fault:
    """One fault: where it strikes, how, and the words that must name it on screen."""

    name: str
    at: Weighing
    #: Strike when the load first reads stable (just before the station asks the balance
    #: for its stable weight), else before the load goes on the pan.
    on_stable: bool
    shown: str
    #: Whether those words stay on screen for as long as it lasts.
    steady: bool = True

    def __str__(self) -> str:
        return self.name


FAULTS = (
    Fault("unplug", Weighing.DOSE, on_stable=True, shown=r"Balance: DISCONNECTED"),
    # The status bar and the gauge say the same words for it.
    Fault("silent", Weighing.BASE, on_stable=False,
          shown=r"(?s)⚠ Balance: NOT ANSWERING — .*\| BALANCE NOT ANSWERING\b"),
    # Each garbled reply is a "protocol error" (or, a line without its end, "no response");
    # after three exchanges in a row without a valid reply the status bar names the state,
    # with the latest garbled reply, and the gauge the same words, until a valid reply.
    Fault("garbage", Weighing.SYRINGE, on_stable=False,
          shown=r"(?s)⚠ Balance: GARBLED REPLIES — \S.*\| BALANCE GARBLED REPLIES\b"),
    Fault("overload", Weighing.FINAL, on_stable=True, shown=r"(?i)\boverload\b"),
    Fault("slow_stability", Weighing.DOSE, on_stable=False, shown=r"\| ≈ MOVING \|"),
)


def strike(fault: Fault, bench: Bench) -> Callable[[], None]:
    """Switch ``fault`` on; returns what switches it off again (a replug for an unplug)."""
    hood = bench.technician.hood
    simulator = simulator_of(bench.station)
    if fault.name == "unplug":
        hood.unplug_balance()
        return hood.replug_balance
    simulator.inject(fault.name)
    return lambda: simulator.clear(fault.name)


def strike_when_stable(fault: Fault, bench: Bench) -> list[Callable[[], None]]:
    """Strike once the load on the pan reads stable; the list gets the fault's clear."""
    presenter = bench.station.preparation
    hood = bench.technician.hood
    clears: list[Callable[[], None]] = []

    def on_reading(value: Decimal, stable: bool, _at: float) -> None:
        # The presenter emits this on the GUI thread just before it asks for the weight.
        if clears or not stable or abs(value - hood.state.pan_grams) > Decimal("0.002"):
            return
        presenter.reading_shown.disconnect(on_reading)
        clears.append(strike(fault, bench))

    presenter.reading_shown.connect(on_reading)
    return clears


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_a_balance_fault_accepts_no_weight_is_named_and_the_preparation_carries_on(
        fault: Fault, technician: Technician, station: Station, qtbot: QtBot) -> None:
    bench = Bench(technician)
    start_single_vial_order(technician, station, qtbot)
    preparation_id = bench.preparation.preparation_id
    bench.work_until(fault.at)
    kept = event_hashes(station, preparation_id)
    before = technician.snapshot()
    if fault.on_stable:
        clears = strike_when_stable(fault, bench)
        loaded_at = time.monotonic()
        technician.hood.perform(bench.view, bench.preparation)  # the load goes on the pan
        qtbot.waitUntil(lambda: bool(clears), timeout=SHOWN_WITHIN_MS)
        clear = clears[0]
    else:
        clear = strike(fault, bench)
        loaded_at = time.monotonic()
        technician.hood.perform(bench.view, bench.preparation)
    qtbot.wait(max(0, HEALTHY_MS - ms_since(loaded_at)))
    wait_until_shown(qtbot, station, fault.shown)
    screenshot(station.window, f"station_fault_{fault.name}")
    hold(qtbot, station, fault.shown if fault.steady else None,
         max(HOLD_MS, DWELL_MS - ms_since(loaded_at)))
    assert technician.snapshot() == before, "the preparation moved on during the fault"
    assert bench.look() == [], "a weight was recorded from the faulty balance"

    clear()
    technician.wait_for_change(before)  # the load still on the pan is weighed now
    taken = bench.look()
    assert [w.kind for w in taken] == ["weight_read"]
    assert not re.search(fault.shown, on_screen(station)), "the fault is still shown"
    wait_until_shown(qtbot, station, r"✔ Balance: CONNECTED — ")
    bench.finish()
    assert_held_with_every_step(bench, preparation_id, kept)


# ------------------------------------------------------------------ another balance


def swap_balance(bench: Bench, qtbot: QtBot, *, another: bool) -> str:
    """Unplug the balance, plug in another one (or the first one again); its serial.

    The ``serial_change`` fault makes the simulator report another serial number after the
    replug; the balance plugged in has nothing on its pan.
    """
    simulator = simulator_of(bench.station)
    if another:
        simulator.inject("serial_change")
        serial = simulator.scenario.changed_serial_number
    else:
        simulator.clear("serial_change")
        serial = simulator.scenario.identity.serial_number
    hood = bench.technician.hood
    hood.unplug_balance()
    wait_until_shown(qtbot, bench.station, r"Balance: DISCONNECTED")
    hood.empty_pan()
    hood.replug_balance()
    wait_until_shown(qtbot, bench.station, rf"Balance: CONNECTED — .*{serial}")
    return serial


def serials(weighed: list[Weighed], kind: str) -> list[str]:
    """The balance of each weight of ``kind`` (``weight_read`` or a balance check)."""
    return [w.serial for w in weighed if w.kind == kind]


def test_another_balance_before_the_first_tare_is_checked_then_weighs_under_its_serial(
        technician: Technician, station: Station, qtbot: QtBot) -> None:
    simulator = simulator_of(station)
    old = simulator.scenario.identity.serial_number
    bench = Bench(technician)
    start_single_vial_order(technician, station, qtbot)
    preparation_id = bench.preparation.preparation_id
    bench.work_until(Weighing.BASE)
    kept = event_hashes(station, preparation_id)
    assert serials(bench.weighed, BALANCE_CHECK) == [old]

    new = swap_balance(bench, qtbot, another=True)
    assert new != old
    technician.wait_for(NextAction.BALANCE_CHECK)  # never checked today: check it first
    wait_until_shown(qtbot, station, rf"different balance \(serial {new}\) replaced {old}")
    assert "daily check is due" in on_screen(station)
    gauge = station.window.preparation_view.gauge.state
    assert gauge.target == technician.hood.check_weight, "the gauge aims at the check weight"
    qtbot.wait(300)
    screenshot(station.window, "station_fault_serial_change")
    assert bench.look() == []

    bench.finish()  # the check weight, then every weighing on the new balance
    assert_held_with_every_step(bench, preparation_id, kept)
    assert serials(bench.weighed, BALANCE_CHECK) == [old, new]
    assert set(serials(bench.weighed, "weight_read")) == {new}
    checks = station.record.events.events_of(balance_stream(new))
    assert [(c.payload["serial_number"], c.payload["passed"]) for c in checks] == [(new, True)]


def test_another_balance_mid_dose_is_checked_but_refuses_a_tare_from_the_first(
        technician: Technician, station: Station, qtbot: QtBot) -> None:
    simulator = simulator_of(station)
    old = simulator.scenario.identity.serial_number
    bench = Bench(technician)
    start_single_vial_order(technician, station, qtbot)
    preparation_id = bench.preparation.preparation_id
    bench.work_until(Weighing.DOSE)
    kept = event_hashes(station, preparation_id)

    new = swap_balance(bench, qtbot, another=True)
    technician.wait_for(NextAction.BALANCE_CHECK)
    wait_until_shown(qtbot, station, rf"different balance \(serial {new}\) replaced {old}")
    bench.step()  # the new balance's daily check, recorded under its serial
    assert serials(bench.weighed, BALANCE_CHECK) == [old, new]
    before = technician.snapshot()
    technician.hood.perform(bench.view, bench.preparation)  # the filled syringe goes on it
    # The empty syringe was weighed on the first balance: the dose cannot be its difference.
    refusal = rf"✖ step \d+ was weighed on balance {new}, but its reference .* on {old}"
    wait_until_shown(qtbot, station, refusal)
    qtbot.wait(300)
    screenshot(station.window, "station_fault_serial_change_mid_dose")
    hold(qtbot, station, refusal)
    assert technician.snapshot() == before
    assert bench.look() == [], "no weight is recorded against a tare from another balance"

    swap_balance(bench, qtbot, another=False)  # the first balance is back, checked today
    wait_until_shown(qtbot, station, rf"different balance \(serial {old}\) replaced {new}")
    bench.finish()
    assert_held_with_every_step(bench, preparation_id, kept)
    assert set(serials(bench.weighed, "weight_read")) == {old}
