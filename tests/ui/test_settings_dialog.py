"""The settings dialog: edits every key, saves what load_config reads back, refuses in words."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDialog, QLabel, QLineEdit, QPushButton

from scale_drivers.api import Parity
from station.config.model import (
    BalanceConfig,
    CameraConfig,
    DataConfig,
    LabelsSection,
    RecordConfig,
    ScannerConfig,
    SiteSection,
    StationConfig,
    StationSection,
)
from station.config.station_config import load_config
from station.config.writer import write_config
from station.core.quantities import Tolerance
from ui.shell.settings_dialog import SettingsDialog

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

REAL = StationConfig(
    station=StationSection(id="hood-2", name="Cleanroom 2, left hood",
                           check_weight=Decimal("50.0000"), check_tolerance=Decimal("0.0300"),
                           iso5=False),
    labels=LabelsSection(printer="tcp://10.0.0.50:9100", size="76.2x50.8", vial_size="50x25",
                         dpi=300),
    record=RecordConfig(url="postgresql+psycopg://station@db.pharmacy.example/ivstation"),
    balance=BalanceConfig(port="/dev/ttyUSB0", protocol="mt-sics", baudrate=19200,
                          parity=Parity.NONE, expected_serial="B936102145"),
    camera=CameraConfig(source=0, fps=30.0),
    scanner=ScannerConfig(port="/dev/ttyACM0", baudrate=115200),
    data=DataConfig(formulary=Path("/srv/pharmacy/formulary.toml")),
    demo_passwords=False,
)


@pytest.fixture
def open_dialog(qtbot, tmp_path):
    def make(config: StationConfig | None = None) -> SettingsDialog:
        dialog = SettingsDialog(config or StationConfig(), tmp_path / "etc" / "station.toml")
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        return dialog
    return make


def choose(combo: QComboBox, value: object) -> None:
    index = combo.findData(value)
    assert index >= 0, f"{combo.objectName()} has no choice {value!r}"
    combo.setCurrentIndex(index)


def retype(qtbot, field: QLineEdit, text: str) -> None:
    field.clear()
    qtbot.keyClicks(field, text)


def test_a_saved_config_is_the_one_shown(open_dialog, qtbot):
    dialog = open_dialog(REAL)
    with qtbot.waitSignal(dialog.saved) as blocker:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.saved_config == REAL
    assert blocker.args == [REAL]
    assert load_config(dialog.path) == REAL


def test_edit_every_table_save_and_reload(open_dialog, qtbot, tmp_path):
    dialog = open_dialog()
    assert dialog.saved_config is None
    assert not dialog.balance_port_field.isEnabled()
    assert not dialog.camera_source_field.isEnabled()

    retype(qtbot, dialog.station_id_field, "hood-7")
    retype(qtbot, dialog.name_field, "Oncology hood")
    retype(qtbot, dialog.check_weight_field, "200.0000")
    retype(qtbot, dialog.check_tolerance_field, "0.020")
    retype(qtbot, dialog.site_tolerance_field, "2.5%")
    choose(dialog.show_passwords_choice, True)
    choose(dialog.balance_mode, "port")
    assert dialog.balance_port_field.isEnabled()
    retype(qtbot, dialog.balance_port_field, "/dev/ttyUSB0")
    choose(dialog.protocol_choice, "sbi")
    retype(qtbot, dialog.baudrate_field, "4800")
    choose(dialog.bytesize_choice, 7)
    choose(dialog.parity_choice, "even")
    choose(dialog.stopbits_choice, 2)
    retype(qtbot, dialog.expected_serial_field, "SN-1")
    retype(qtbot, dialog.readability_field, "0.010")
    choose(dialog.camera_mode, "source")
    retype(qtbot, dialog.camera_source_field, "images")
    retype(qtbot, dialog.fps_field, "7.5")
    retype(qtbot, dialog.scanner_port_field, "COM4")
    retype(qtbot, dialog.scanner_baudrate_field, "19200")
    retype(qtbot, dialog.database_url_field, "postgresql+psycopg://station@db/iv")
    retype(qtbot, dialog.formulary_field, "formulary.toml")
    retype(qtbot, dialog.worklist_field, "/srv/worklist.toml")
    choose(dialog.iso5_choice, False)
    retype(qtbot, dialog.printer_field, "cups://zebra-hood7")
    retype(qtbot, dialog.label_size_field, "101.6x50.8")
    retype(qtbot, dialog.dpi_field, "300")

    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)

    folder = tmp_path / "etc"
    expected = StationConfig(
        station=StationSection(id="hood-7", name="Oncology hood",
                               check_weight=Decimal("200.0000"), check_tolerance=Decimal("0.020"),
                               iso5=False),
        labels=LabelsSection(printer="cups://zebra-hood7", size="101.6x50.8", dpi=300),
        site=SiteSection(tolerance=Tolerance(Decimal("0.025"))),
        record=RecordConfig(url="postgresql+psycopg://station@db/iv"),
        balance=BalanceConfig(port="/dev/ttyUSB0", protocol="sbi", baudrate=4800, bytesize=7,
                              parity=Parity.EVEN, stopbits=2, expected_serial="SN-1",
                              readability=Decimal("0.010")),
        camera=CameraConfig(source=folder / "images", fps=7.5),
        scanner=ScannerConfig(port="COM4", baudrate=19200),
        data=DataConfig(formulary=folder / "formulary.toml", worklist=Path("/srv/worklist.toml")),
        demo_passwords=True,
    )
    assert dialog.saved_config == expected
    assert load_config(dialog.path) == expected
    assert dialog.error_label.isHidden()
    assert not dialog.status_label.isHidden()
    assert dialog.status_label.text() == (
        f"Saved to {dialog.path} — restart the station to apply"
    )
    assert dialog.cancel_button.text() == "Close"
    assert dialog.isVisible()

    reopened = open_dialog(load_config(dialog.path))
    assert reopened.mapping() == dialog.mapping() | {
        "camera": {"source": str(folder / "images"), "fps": 7.5},
        "data": {"formulary": str(folder / "formulary.toml"), "worklist": "/srv/worklist.toml"},
    }


def test_back_to_simulated_and_protocol_defaults(open_dialog, qtbot):
    dialog = open_dialog(REAL)
    choose(dialog.balance_mode, "simulated")
    choose(dialog.camera_mode, "simulated")
    dialog.baudrate_field.clear()
    choose(dialog.parity_choice, None)
    choose(dialog.show_passwords_choice, None)
    assert dialog.save()
    saved = load_config(dialog.path)
    assert saved.balance == BalanceConfig(expected_serial="B936102145")
    assert saved.camera == CameraConfig(fps=30.0)
    assert saved.demo
    assert saved.show_passwords


def test_the_protocol_defaults_are_shown(open_dialog):
    dialog = open_dialog()
    assert dialog.bytesize_choice.itemText(0) == "mt-sics default: 8"
    assert dialog.baudrate_field.placeholderText() == "blank: mt-sics default, 9600"
    choose(dialog.protocol_choice, "and")
    assert dialog.bytesize_choice.itemText(0) == "and default: 7"
    assert dialog.parity_choice.itemText(0) == "and default: even"
    assert dialog.stopbits_choice.itemText(0) == "and default: 1"
    assert dialog.baudrate_field.placeholderText() == "blank: and default, 2400"


INVALID = [
    ("baudrate_field", "fast", 1,
     "station.toml: balance.baudrate: expected an integer such as 9600, got the string 'fast'"),
    ("fps_field", "0", 2,
     "station.toml: camera.fps: expected a number of frames per second above 0, such as 15,"
     " got the number 0.0"),
    ("check_weight_field", "heavy", 0,
     'station.toml: station.check_weight: expected a number of grams in quotes, such as'
     " \"100.000\", got the string 'heavy'"),
    ("readability_field", "0", 1,
     "station.toml: balance.readability: expected more than 0 g, got '0'"),
    ("readability_field", "0,01", 1,
     'station.toml: balance.readability: expected a number of grams in quotes, such as'
     " \"0.01\", got the string '0,01'"),
    ("site_tolerance_field", "50%", 0,
     "station.toml: site.tolerance: ±50% is wider than the ±10% a site may set: a wrong dose"
     " would pass"),
    ("database_url_field", "mysql://db/iv", 3,
     "station.toml: record.url: 'mysql://db/iv' is not a database URL the station can use;"
     " expected sqlite:///PATH or postgresql+psycopg://USER@HOST/DATABASE"),
]


@pytest.mark.parametrize(("field_name", "text", "tab", "message"), INVALID)
def test_an_invalid_value_is_shown_and_nothing_is_written(
    open_dialog, qtbot, field_name, text, tab, message
):
    dialog = open_dialog(REAL)
    field = getattr(dialog, field_name)
    retype(qtbot, field, text)
    dialog.tabs.setCurrentIndex(0 if tab else 1)
    with qtbot.assertNotEmitted(dialog.saved):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.error_label.text() == message
    assert not dialog.error_label.isHidden()
    assert dialog.status_label.isHidden()
    assert dialog.isVisible()
    assert dialog.saved_config is None
    assert not dialog.path.exists()
    assert not dialog.path.parent.exists()
    assert dialog.tabs.currentIndex() == tab
    assert dialog.focusWidget() is field


def test_a_blank_port_brings_the_balance_forward(open_dialog, qtbot):
    dialog = open_dialog()
    choose(dialog.balance_mode, "port")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.error_label.text() == (
        'station.toml: balance.port: expected "simulated" or a serial port such as'
        " /dev/ttyUSB0, COM3 or socket://host:4001, got an empty string"
    )
    assert dialog.tabs.currentIndex() == 1
    assert dialog.focusWidget() is dialog.balance_port_field
    assert not dialog.path.exists()


def test_fixing_the_value_saves_and_clears_the_error(open_dialog, qtbot):
    dialog = open_dialog(REAL)
    retype(qtbot, dialog.station_id_field, "hood 2")
    assert not dialog.save()
    assert dialog.error_label.text().startswith("station.toml: station.id: 'hood 2' is not")
    retype(qtbot, dialog.station_id_field, "hood-2")
    assert dialog.save()
    assert dialog.error_label.isHidden()
    assert load_config(dialog.path) == REAL


def test_a_file_that_cannot_be_written_is_reported(qtbot, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    dialog = SettingsDialog(StationConfig(), blocker / "station.toml")
    qtbot.addWidget(dialog)
    assert not dialog.save()
    assert dialog.error_label.text().startswith(f"{blocker / 'station.toml'}: cannot write: ")
    assert dialog.saved_config is None


def test_saving_replaces_an_existing_file(open_dialog, qtbot):
    dialog = open_dialog(REAL)
    write_config(StationConfig(station=StationSection(name="before")), dialog.path)
    retype(qtbot, dialog.name_field, "after")
    assert dialog.save()
    assert load_config(dialog.path).station.name == "after"
    assert sorted(p.name for p in dialog.path.parent.iterdir()) == ["station.toml"]


def test_cancel_closes_without_writing(open_dialog, qtbot):
    dialog = open_dialog(REAL)
    retype(qtbot, dialog.name_field, "never saved")
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert dialog.saved_config is None
    assert not dialog.path.exists()


def test_sized_for_gloves_at_arms_length(open_dialog):
    dialog = open_dialog(REAL)
    for index in range(dialog.tabs.count()):
        dialog.tabs.setCurrentIndex(index)
        page = dialog.tabs.widget(index)
        controls = page.findChildren(QLineEdit) + page.findChildren(QComboBox)
        assert controls
        for control in controls:
            assert control.height() >= 56, control.objectName()
            assert control.font().pointSize() >= 18, control.objectName()
        for label in page.findChildren(QLabel):
            assert label.font().pointSize() >= 18, label.text()
    for button in dialog.findChildren(QPushButton):
        assert button.height() >= 56
        assert button.font().pointSize() >= 18
    assert dialog.tabs.tabBar().tabRect(0).height() >= 56
    assert dialog.tabs.tabBar().font().pointSize() >= 18


def test_screenshot(open_dialog, qtbot):
    dialog = open_dialog(REAL)
    dialog.tabs.setCurrentIndex(1)
    retype(qtbot, dialog.baudrate_field, "96OO")
    assert not dialog.save()
    qtbot.wait(50)
    ARTIFACTS.mkdir(exist_ok=True)
    assert dialog.grab().save(str(ARTIFACTS / "settings_dialog.png"))
