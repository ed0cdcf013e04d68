"""The status bar follows the workers' state signals, in words as well as colours."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from ui.widgets.status_bar import DeviceStatusBar

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


class FakeWorker(QObject):
    state_changed = Signal(str, str)


def test_labels_follow_the_state_signals_and_a_screenshot_is_saved(qtbot):
    bar = DeviceStatusBar()
    qtbot.addWidget(bar)
    balance, camera, scanner = FakeWorker(), FakeWorker(), FakeWorker()
    balance.state_changed.connect(bar.set_balance_state)
    camera.state_changed.connect(bar.set_camera_state)
    scanner.state_changed.connect(bar.set_scanner_state)

    balance.state_changed.emit("connected", "Mettler Toledo SIM-220 SIM0000001")
    camera.state_changed.emit("open", "simulated camera, 15 fps")
    assert bar.balance_label.text() == "✔ Balance: CONNECTED — Mettler Toledo SIM-220 SIM0000001"
    assert bar.balance_label.property("level") == "ok"
    assert bar.camera_label.text() == "✔ Camera: ON — simulated camera, 15 fps"

    balance.state_changed.emit("offline", "not answering: no response within 0.5 s")
    assert bar.balance_label.text().startswith("⚠ Balance: NOT ANSWERING — ")
    assert bar.balance_label.property("level") == "warning"

    balance.state_changed.emit("garbled", "protocol error: garbled reply 'S\\x93 5.0'")
    assert bar.balance_label.text() == (
        "⚠ Balance: GARBLED REPLIES — protocol error: garbled reply 'S\\x93 5.0'")
    assert bar.balance_label.property("level") == "warning"

    balance.state_changed.emit("disconnected", "cannot open /dev/ttyUSB0: no such file")
    camera.state_changed.emit("lost", "simulated camera was unplugged")
    scanner.state_changed.emit("absent", "no scanner on /dev/ttyACM0")
    assert bar.balance_label.text() == (
        "✖ Balance: DISCONNECTED — cannot open /dev/ttyUSB0: no such file")
    assert bar.camera_label.text() == "✖ Camera: LOST — simulated camera was unplugged"
    assert bar.scanner_label.text() == "✖ Scanner: NOT FOUND — no scanner on /dev/ttyACM0"
    assert bar.camera_label.property("level") == "error"

    balance.state_changed.emit("connected", "Mettler Toledo SIM-220 SIM0000001")
    bar.resize(1400, 60)
    bar.show()
    qtbot.waitExposed(bar)
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "status_bar.png"
    assert bar.grab().save(str(path))
    assert path.stat().st_size > 0
