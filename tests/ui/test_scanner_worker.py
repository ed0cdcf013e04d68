"""A serial scanner worker on its own thread, against real pseudo-terminals."""

from __future__ import annotations

import contextlib
import logging
import os
import tty
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QObject, Signal, Slot

from station.devices.scanner_input import SerialScanner
from ui.workers.devices import DeviceThreads
from ui.workers.scanner_worker import ScannerWorker

#: The scanner worker on its thread against ptys plugged and unplugged.
pytestmark = pytest.mark.slow

GS = "\x1d"
SCAN = "]d201003040942720181728123110L2405A" + GS + "21SN0001"
SECOND = "]d201003040948880261728022910AB1234"


class PluggableScanner:
    """A scanner on a pty; a symlink (like /dev/serial/by-id/…) follows it across replugs."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master: int | None = None
        self.slave: int | None = None
        self.tty_path = ""

    def plug(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.tty_path = os.ttyname(self.slave)
        temporary = self.link.with_name(f".{self.link.name}.tmp")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        temporary.symlink_to(self.tty_path)
        temporary.replace(self.link)  # re-point atomically, as udev does

    def send(self, data: bytes) -> None:
        assert self.master is not None
        os.write(self.master, data)

    def unplug(self) -> None:
        for fd in (self.master, self.slave):
            if fd is not None:
                os.close(fd)
        self.master = self.slave = None


class Relay(QObject):
    """The worker's signals re-emitted on the main thread, with what they carried.

    A plain callable (a lambda, ``list.append``, pytest-qt's waitSignal) connected straight
    to a worker's signal runs on the worker's thread; a slot of this main-thread object is
    queued to the main thread, as a widget's would be.
    """

    scanned = Signal(str)
    state_changed = Signal(str, str)

    def __init__(self, worker: ScannerWorker) -> None:
        super().__init__()
        self.scans: list[str] = []
        self.states: list[tuple[str, str]] = []
        worker.scanned.connect(self._on_scanned)
        worker.state_changed.connect(self._on_state_changed)

    @Slot(str)
    def _on_scanned(self, text: str) -> None:
        self.scans.append(text)
        self.scanned.emit(text)

    @Slot(str, str)
    def _on_state_changed(self, state: str, detail: str) -> None:
        self.states.append((state, detail))
        self.state_changed.emit(state, detail)

    @property
    def last(self) -> tuple[str, str] | None:
        return self.states[-1] if self.states else None


@pytest.fixture
def scanner(tmp_path):
    device = PluggableScanner(tmp_path / "ttySCANNER")
    yield device
    device.unplug()


@pytest.fixture
def devices():
    threads = DeviceThreads()
    yield threads
    assert threads.stop(), "a device thread did not end"


def _is(wanted: str):
    return lambda state, _detail: state == wanted


def test_scans_arrive_and_the_scanner_comes_back_after_an_unplug(qtbot, scanner, devices):
    scanner.plug()
    worker = devices.add(ScannerWorker(str(scanner.link)))
    relay = Relay(worker)
    with qtbot.waitSignal(relay.state_changed, timeout=3000, check_params_cb=_is("connected")):
        devices.start()
    assert relay.states == [("connected", str(scanner.link))]

    # Raw GS and a CR ending; a CR LF ending; a blank line between them is no scan.
    scanner.send(SCAN.encode("ascii") + b"\r\r\n" + SECOND.encode("ascii") + b"\r\n")
    qtbot.waitUntil(lambda: len(relay.scans) >= 2, timeout=3000)
    assert relay.scans == [SCAN, SECOND]

    with qtbot.waitSignal(relay.state_changed, timeout=5000,
                          check_params_cb=_is("disconnected")) as lost:
        scanner.unplug()
    assert lost.args[1] == f"{scanner.link}: the device went away"

    # The next attempt finds the link pointing at a pty that no longer exists.
    with qtbot.waitSignal(relay.state_changed, timeout=2000) as gone:
        pass
    assert gone.args[0] == "disconnected"
    assert gone.args[1].startswith(f"cannot open {scanner.link}: ")

    with qtbot.waitSignal(relay.state_changed, timeout=3000,
                          check_params_cb=_is("connected")) as back:
        scanner.plug()
    assert back.args[1] == str(scanner.link)
    assert [state for state, _ in relay.states] == [
        "connected", "disconnected", "disconnected", "connected"]

    with qtbot.waitSignal(relay.scanned, timeout=3000) as again:
        scanner.send(b"]d2010030409427201<GS>21SN0002\n")  # a configured stand-in for GS
    assert again.args == ["]d2010030409427201" + GS + "21SN0002"]

    assert devices.stop()  # the worker's thread ended
    qtbot.waitUntil(lambda: relay.last == ("disconnected", "stopped"), timeout=5000)
    assert worker.thread() is QCoreApplication.instance().thread()


def test_a_missing_scanner_is_reported_and_found_when_plugged_in(qtbot, scanner, devices):
    worker = devices.add(ScannerWorker(str(scanner.link), reopen_ms=100))
    relay = Relay(worker)
    with qtbot.waitSignal(relay.state_changed, timeout=3000,
                          check_params_cb=_is("disconnected")) as missing:
        devices.start()
    assert missing.args[1].startswith(f"cannot open {scanner.link}: ")

    qtbot.wait(500)  # about five more attempts
    assert len(relay.states) == 1, "retrying an absent port is reported once"

    with qtbot.waitSignal(relay.state_changed, timeout=2000, check_params_cb=_is("connected")):
        scanner.plug()
    with qtbot.waitSignal(relay.scanned, timeout=3000) as scan:
        scanner.send(SCAN.encode("ascii") + b"\r")
    assert scan.args == [SCAN]


def test_the_port_is_released_on_stop_so_it_can_be_opened_again(qtbot, scanner, devices):
    scanner.plug()
    worker = devices.add(ScannerWorker(str(scanner.link)))
    relay = Relay(worker)
    with qtbot.waitSignal(relay.state_changed, timeout=3000, check_params_cb=_is("connected")):
        devices.start()
    assert devices.stop()
    reopened = SerialScanner(str(scanner.link))  # PortBusy if the worker still held it
    try:
        scanner.send(SECOND.encode("ascii") + b"\r")
        assert reopened.read_scan(2.0) == SECOND
    finally:
        reopened.close()


def test_an_unexpected_error_is_logged_and_the_worker_keeps_going(
    qtbot, scanner, devices, monkeypatch, caplog
):
    scanner.plug()
    original = SerialScanner.read_scan
    calls = {"n": 0}

    def read_scan(self, timeout):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("a bug in the scanner code")
        return original(self, timeout)

    monkeypatch.setattr(SerialScanner, "read_scan", read_scan)
    worker = devices.add(ScannerWorker(str(scanner.link), reopen_ms=100))
    relay = Relay(worker)
    with caplog.at_level(logging.ERROR, logger="ui.workers.scanner_worker"):
        devices.start()
        qtbot.waitUntil(lambda: len(relay.states) >= 3, timeout=3000)
    assert relay.states == [
        ("connected", str(scanner.link)),
        ("disconnected", "RuntimeError: a bug in the scanner code"),
        ("connected", str(scanner.link)),
    ]
    logged = [r for r in caplog.records if r.name == "ui.workers.scanner_worker"]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert str(logged[0].exc_info[1]) == "a bug in the scanner code"
    with qtbot.waitSignal(relay.scanned, timeout=3000) as scan:
        scanner.send(SCAN.encode("ascii") + b"\r")
    assert scan.args == [SCAN]
