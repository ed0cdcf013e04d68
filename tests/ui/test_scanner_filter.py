"""A wedge scanner's burst becomes one scan; a person's typing reaches the focused field."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QLineEdit, QPushButton, QVBoxLayout, QWidget

from ui.shell.scanner_filter import ScannerEventFilter

GS1 = "01003040948880261728022910AB1234"


@pytest.fixture
def form(qtbot):
    window = QWidget()
    layout = QVBoxLayout(window)
    field = QLineEdit()
    button = QPushButton("OK")
    layout.addWidget(field)
    layout.addWidget(button)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    field.setFocus()
    return window, field, button


@pytest.fixture
def scanner_filter():
    app = QCoreApplication.instance()
    installed = ScannerEventFilter()
    app.installEventFilter(installed)
    yield installed
    app.removeEventFilter(installed)


def test_a_fast_burst_ending_in_enter_is_a_scan_that_never_reaches_the_field(
        qtbot, form, scanner_filter):
    _window, field, _button = form
    with qtbot.waitSignal(scanner_filter.scanned, timeout=1000) as scanned:
        qtbot.keyClicks(field, GS1)
        qtbot.keyClick(field, Qt.Key.Key_Return)
    assert scanned.args == [GS1]
    qtbot.wait(100)  # longer than a pause: nothing held back is handed on later
    assert field.text() == ""
    assert scanner_filter.key_presses == len(GS1) + 1


def test_a_substitute_for_gs_becomes_the_gs_byte(qtbot, form, scanner_filter):
    _window, field, _button = form
    with qtbot.waitSignal(scanner_filter.scanned, timeout=1000) as scanned:
        qtbot.keyClicks(field, "10AB1234<GS>21SN88")
        qtbot.keyClick(field, Qt.Key.Key_Return)
    assert scanned.args == ["10AB1234\x1d21SN88"]


def test_slow_typing_reaches_the_field_in_order(qtbot, form, scanner_filter):
    _window, field, _button = form
    scans = []
    scanner_filter.scanned.connect(scans.append)
    qtbot.keyClicks(field, "lido 2%", delay=60)
    qtbot.waitUntil(lambda: field.text() == "lido 2%", timeout=2000)
    qtbot.keyClick(field, Qt.Key.Key_Backspace, delay=60)
    qtbot.waitUntil(lambda: field.text() == "lido 2", timeout=2000)
    assert scans == []
    assert scanner_filter.key_presses == 8


def test_a_short_fast_entry_is_typing_not_a_scan(qtbot, form, scanner_filter):
    _window, field, _button = form
    scans = []
    scanner_filter.scanned.connect(scans.append)
    with qtbot.waitSignal(field.returnPressed, timeout=1000):
        qtbot.keyClicks(field, "12")
        qtbot.keyClick(field, Qt.Key.Key_Return)
    assert field.text() == "12"
    assert scans == []


def test_mouse_clicks_are_counted_once_each(qtbot, form, scanner_filter):
    _window, _field, button = form
    clicks = []
    button.clicked.connect(lambda: clicks.append(1))
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert clicks == [1, 1]
    assert scanner_filter.mouse_clicks == 2
