"""Device workers on their own threads, against a real pty simulator and a simulated camera."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from scale_drivers.connection import LinkState
from scale_drivers.sim.server import SimulatorServer
from station.camera import CameraState, SimulatedCamera
from station.camera_scene import Label, Scene
from ui.devices import BalanceWorker, CameraWorker, DeviceThreads

LIDOCAINE = Label(
    ndc10="0409-4888-02", name="Lidocaine HCl", strength="2% 100 mg/5 mL",
    manufacturer="Hospira, Inc.", lot="AB1234", expiry=dt.date(2028, 2, 29),
    serial="100000234567",
)


class StateLog:
    """The (state, detail) pairs a worker reported, in order."""

    def __init__(self) -> None:
        self.states: list[tuple[str, str]] = []

    def __call__(self, state: str, detail: str) -> None:
        self.states.append((state, detail))

    @property
    def last(self) -> tuple[str, str] | None:
        return self.states[-1] if self.states else None


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


def test_balance_worker_connects_reads_and_comes_back_after_an_unplug(qtbot, simulator, devices):
    worker = devices.add(BalanceWorker.for_url(simulator.url, "mt-sics"))
    log = StateLog()
    worker.state_changed.connect(log)
    devices.start()

    qtbot.waitUntil(lambda: log.last is not None and log.last[0] == "connected", timeout=5000)
    detail = log.last[1]
    assert detail.startswith("Mettler Toledo ")
    assert detail.endswith(" SIM0000001")

    simulator.balance.set_load(Decimal("37.25"))
    with qtbot.waitSignal(worker.reading_received, timeout=20_000) as received:
        worker.stable_requested.emit(15.0)
    reading = received.args[0]
    assert reading.stable
    assert abs(reading.value - Decimal("37.25")) <= Decimal("0.01")

    with qtbot.waitSignal(worker.state_changed, timeout=1000,
                          check_params_cb=lambda state, _d: state == "disconnected"):
        simulator.inject("unplug")

    with qtbot.waitSignal(worker.state_changed, timeout=5000,
                          check_params_cb=lambda state, _d: state == "connected") as back:
        simulator.replug()
    assert back.args[1].endswith(" SIM0000001")


def test_a_silent_balance_goes_offline_within_a_few_seconds(qtbot, simulator, devices):
    worker = devices.add(BalanceWorker.for_url(simulator.url, "mt-sics"))
    with qtbot.waitSignal(worker.state_changed, timeout=5000,
                          check_params_cb=lambda state, _d: state == "connected"):
        devices.start()
    with qtbot.waitSignal(worker.state_changed, timeout=5000,
                          check_params_cb=lambda state, _d: state == LinkState.OFFLINE.value):
        simulator.inject("silent")


def test_a_missing_port_is_reported_disconnected_without_blocking(qtbot, tmp_path, devices):
    worker = devices.add(BalanceWorker.for_url(str(tmp_path / "nothing"), "mt-sics"))
    with qtbot.waitSignal(worker.state_changed, timeout=3000) as blocker:
        devices.start()
    state, detail = blocker.args
    assert state == "disconnected"
    assert "cannot open" in detail


def test_a_failed_request_is_reported(qtbot, tmp_path, devices):
    worker = devices.add(BalanceWorker.for_url(str(tmp_path / "nothing"), "mt-sics"))
    devices.start()
    with qtbot.waitSignal(worker.failed, timeout=3000) as failed:
        worker.stable_requested.emit(1.0)
    assert "disconnected" in failed.args[0]


def test_camera_worker_shows_frames_decodes_the_label_and_reports_lost(qtbot, devices):
    camera = SimulatedCamera(Scene(labels=(LIDOCAINE,)), fps=15.0)
    worker = devices.add(CameraWorker(camera))
    frames = []
    worker.frame_ready.connect(frames.append)
    decoded: list[str] = []
    worker.symbols_decoded.connect(lambda _frame, symbols: decoded.extend(s.text for s in symbols))
    log = StateLog()
    worker.state_changed.connect(log)
    devices.start()

    qtbot.waitUntil(lambda: len(frames) >= 5, timeout=5000)
    assert [f.index for f in frames[:5]] == [0, 1, 2, 3, 4]
    assert LIDOCAINE.upc_a is not None and LIDOCAINE.gs1_data is not None
    qtbot.waitUntil(lambda: LIDOCAINE.gs1_data in decoded
                    and any(t.endswith(LIDOCAINE.upc_a) for t in decoded), timeout=10_000)
    qtbot.waitUntil(lambda: any("fps" in d and s == "open" for s, d in log.states),
                    timeout=5000)

    def is_lost(state: str, _detail: str) -> bool:
        return state == CameraState.LOST.value

    with qtbot.waitSignal(worker.state_changed, timeout=1000, check_params_cb=is_lost) as lost:
        camera.unplug()
    assert "unplugged" in lost.args[1]
