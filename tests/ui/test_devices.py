"""Device workers on their own threads, against a real pty simulator and a simulated camera."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from scale_drivers.api import Parity, SerialSettings
from scale_drivers.connection import LinkState
from scale_drivers.sim.server import SimulatorServer
from station.demo.camera import SimulatedCamera
from station.demo.camera_scene import Label, Scene
from station.devices.camera import CameraState
from tests.ui.relay import Relay
from ui.workers.devices import BalanceWorker, CameraWorker, DeviceThreads

#: Device workers on their threads against simulators on ptys, waiting for heartbeats.
pytestmark = pytest.mark.slow

LIDOCAINE = Label(
    ndc10="0409-4888-02", name="Lidocaine HCl", strength="2% 100 mg/5 mL",
    manufacturer="Hospira, Inc.", lot="AB1234", expiry=dt.date(2028, 2, 29),
    serial="100000234567",
)


@pytest.fixture
def simulator(tmp_path):
    server = SimulatorServer("mt_sics", seed=7)
    server.start(link=tmp_path / "ttyBALANCE")
    yield server
    server.stop()


@pytest.fixture
def devices():
    threads = DeviceThreads()
    yield threads
    assert threads.stop(), "a device thread did not end"


def state_is(wanted: str):
    return lambda args: args[0] == wanted


def test_balance_worker_connects_reads_and_comes_back_after_an_unplug(qtbot, simulator, devices):
    worker = devices.add(BalanceWorker.for_url(simulator.url, "mt-sics"))
    states = Relay(worker.state_changed)
    identified = Relay(worker.identified)
    readings = Relay(worker.reading_received)
    devices.start()

    qtbot.waitUntil(lambda: states.last is not None and states.last[0] == "connected",
                    timeout=5000)
    detail = states.last[1]
    assert detail.startswith("Mettler Toledo ")
    assert detail.endswith(" SIM0000001")
    qtbot.waitUntil(lambda: identified.last is not None, timeout=5000)
    assert identified.last[0].serial_number == "SIM0000001"

    simulator.balance.set_load(Decimal("37.25"))
    with qtbot.waitSignal(readings.fired, timeout=20_000) as received:
        worker.stable_requested.emit(15.0)
    reading = received.args[0][0]
    assert reading.stable
    assert abs(reading.value - Decimal("37.25")) <= Decimal("0.01")

    with qtbot.waitSignal(states.fired, timeout=5000, check_params_cb=state_is("disconnected")):
        simulator.inject("unplug")

    with qtbot.waitSignal(states.fired, timeout=5000,
                          check_params_cb=state_is("connected")) as back:
        simulator.replug()
    assert back.args[0][1].endswith(" SIM0000001")
    assert len(identified.received) == 2  # identified again after the replug


def test_streaming_gives_live_readings_and_stops_when_asked(qtbot, simulator, devices):
    worker = devices.add(BalanceWorker.for_url(simulator.url, "mt-sics"))
    live = Relay(worker.live_reading)
    states = Relay(worker.state_changed)
    devices.start()
    qtbot.waitUntil(lambda: states.last is not None and states.last[0] == "connected",
                    timeout=5000)
    qtbot.wait(700)
    assert live.received == []  # heartbeats alone show nothing
    worker.streaming_requested.emit(True)
    qtbot.waitUntil(lambda: len(live.received) >= 5, timeout=3000)
    reading, problem = live.received[-1]
    assert problem == ""
    assert abs(reading.value - Decimal("100.00")) <= Decimal("0.05")
    simulator.inject("overload")
    qtbot.waitUntil(lambda: live.last[0] is None and "overload" in live.last[1].lower(),
                    timeout=3000)
    simulator.clear("overload")
    worker.streaming_requested.emit(False)
    qtbot.wait(400)
    count = len(live.received)
    qtbot.wait(700)
    assert len(live.received) == count


def test_a_silent_balance_goes_offline(qtbot, simulator, devices):
    worker = devices.add(BalanceWorker.for_url(simulator.url, "mt-sics"))
    states = Relay(worker.state_changed)
    with qtbot.waitSignal(states.fired, timeout=5000, check_params_cb=state_is("connected")):
        devices.start()
    with qtbot.waitSignal(states.fired, timeout=15_000,
                          check_params_cb=state_is(LinkState.OFFLINE.value)):
        simulator.inject("silent")


def test_a_missing_port_is_reported_disconnected_without_blocking(qtbot, tmp_path, devices):
    worker = devices.add(BalanceWorker.for_url(str(tmp_path / "nothing"), "mt-sics"))
    states = Relay(worker.state_changed)
    with qtbot.waitSignal(states.fired, timeout=3000) as blocker:
        devices.start()
    state, detail = blocker.args[0]
    assert state == "disconnected"
    assert "cannot open" in detail


def test_a_failed_request_is_reported(qtbot, tmp_path, devices):
    worker = devices.add(BalanceWorker.for_url(str(tmp_path / "nothing"), "mt-sics"))
    failures = Relay(worker.failed)
    devices.start()
    with qtbot.waitSignal(failures.fired, timeout=3000) as failed:
        worker.stable_requested.emit(1.0)
    assert "disconnected" in failed.args[0][0]


# Linux ptys refuse SBI's odd parity on a reopen (and ignore it anyway): 8-N-1 on the pty,
# as in tests/integration/test_balance_on_pty.py. A refused balance is reopened each heartbeat.
SBI_ON_A_PTY = SerialSettings(9600, 8, Parity.NONE)


@pytest.fixture
def sbi_simulator(tmp_path):
    server = SimulatorServer("sbi", seed=7)
    server.start(link=tmp_path / "ttySBI")
    yield server
    server.stop()


def test_a_balance_that_does_not_report_its_readability_takes_the_configured_one(
        qtbot, sbi_simulator, devices):
    worker = devices.add(BalanceWorker.for_url(sbi_simulator.url, "sbi", SBI_ON_A_PTY,
                                               readability=Decimal("0.01")))
    states = Relay(worker.state_changed)
    identified = Relay(worker.identified)
    failures = Relay(worker.failed)
    devices.start()
    qtbot.waitUntil(lambda: identified.last is not None, timeout=5000)
    info = identified.last[0]
    assert (info.maker, info.readability) == ("Sartorius", Decimal("0.01"))
    qtbot.waitUntil(lambda: states.last is not None and states.last[0] == "connected",
                    timeout=5000)
    assert failures.received == []


@pytest.mark.parametrize("configured", [None, Decimal("0.010")])
def test_a_balance_that_reports_its_readability_keeps_it(qtbot, simulator, devices, configured):
    worker = devices.add(BalanceWorker.for_url(simulator.url, "mt-sics",
                                               readability=configured))
    identified = Relay(worker.identified)
    devices.start()
    qtbot.waitUntil(lambda: identified.last is not None, timeout=5000)
    assert str(identified.last[0].readability) == "0.01"  # the balance's own words


def refused_for_good(qtbot, devices, worker, message: str) -> None:
    """Start ``worker``: its balance is refused with ``message``, retried, never connected."""
    states = Relay(worker.state_changed)
    identified = Relay(worker.identified)
    failures = Relay(worker.failed)
    devices.start()
    qtbot.waitUntil(lambda: failures.last is not None, timeout=5000)
    assert failures.last == (message,)
    qtbot.waitUntil(lambda: states.last == ("disconnected", message), timeout=5000)
    qtbot.wait(1200)  # a few heartbeats: each reopens the balance and refuses it again
    assert len(failures.received) >= 2
    assert set(failures.received) == {(message,)}
    assert states.last == ("disconnected", message)
    assert all(state != "connected" for state, _ in states.received)
    assert identified.received == []


def test_a_balance_that_contradicts_the_configured_readability_is_refused(qtbot, simulator,
                                                                          devices):
    worker = devices.add(BalanceWorker.for_url(simulator.url, "mt-sics",
                                               readability=Decimal("0.001")))
    refused_for_good(qtbot, devices, worker, (
        "balance SIM0000001 reports a readability of 0.01 g, but balance.readability is "
        "configured as 0.001 g: weights are refused until the two agree (correct "
        "balance.readability, or remove it to use the balance's own)"))


def test_a_balance_without_a_readability_from_it_or_the_configuration_is_refused(
        qtbot, sbi_simulator, devices):
    worker = devices.add(BalanceWorker.for_url(sbi_simulator.url, "sbi", SBI_ON_A_PTY))
    refused_for_good(qtbot, devices, worker, (
        "balance SIM0000001 did not report its readability: weights cannot be checked until "
        "balance.readability is set in the station configuration (the balance's readability "
        'd in grams, such as "0.01")'))


def test_camera_worker_shows_frames_decodes_the_label_and_reports_lost(qtbot, devices):
    camera = SimulatedCamera(Scene(labels=(LIDOCAINE,)), fps=15.0)
    worker = devices.add(CameraWorker(camera))
    frames = Relay(worker.frame_ready)
    decoded = Relay(worker.symbols_decoded)
    states = Relay(worker.state_changed)
    devices.start()

    qtbot.waitUntil(lambda: len(frames.received) >= 5, timeout=5000)
    assert [args[0].index for args in frames.received[:5]] == [0, 1, 2, 3, 4]
    assert LIDOCAINE.upc_a is not None and LIDOCAINE.gs1_data is not None

    def texts() -> list[str]:
        return [s.text for _frame, symbols in decoded.received for s in symbols]

    qtbot.waitUntil(lambda: LIDOCAINE.gs1_data in texts()
                    and any(t.endswith(LIDOCAINE.upc_a) for t in texts()), timeout=10_000)
    qtbot.waitUntil(lambda: any("fps" in d and s == "open" for s, d in states.received),
                    timeout=5000)
    with qtbot.waitSignal(states.fired, timeout=5000,
                          check_params_cb=state_is(CameraState.LOST.value)) as lost:
        camera.unplug()
    assert "unplugged" in lost.args[0][1]
