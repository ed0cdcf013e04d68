"""The settings dialog: every key of ``station.toml``, sized for a gloved hand at arm's length.

The dialog never judges a value itself. "Save" turns the fields into the tables of a TOML
document and hands them to :func:`station.config.station_config.config_from_mapping`, the
same check :func:`~station.config.station_config.load_config` makes, so the dialog and the
file refuse exactly the same things with exactly the same words. A refusal is shown in a
high-contrast label, the tab with the offending field comes to the front, and nothing is
written. An accepted configuration is written with
:func:`~station.config.writer.write_config` (one small file, atomically); the station
reads it when it starts.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPolygonF
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from scale_drivers.api import Parity
from scale_drivers.protocols import PROTOCOLS
from station.config.model import SIMULATED, StationConfig
from station.config.station_config import ConfigError, config_from_mapping
from station.config.writer import write_config
from ui.widgets.look import font

FONT_PT = 20
TITLE_PT = 26
CONTROL_HEIGHT = 60
ARROW_WIDTH = 52
FIELD_WIDTH = 620

_PARITY_NAMES = {Parity.NONE: "none", Parity.EVEN: "even", Parity.ODD: "odd"}
_ERROR_STYLE = (
    "QLabel { background: #b71c1c; color: #ffffff; padding: 12px 16px; border-radius: 6px; }"
)
_SAVED_STYLE = (
    "QLabel { background: #1b5e20; color: #ffffff; padding: 12px 16px; border-radius: 6px; }"
)
_STYLE = f"""
QDialog {{ background: #fafafa; }}
QLabel {{ color: #000000; }}
QLineEdit, QComboBox {{
    color: #000000; background: #ffffff; border: 2px solid #616161; border-radius: 4px;
    padding: 4px 10px; min-height: {CONTROL_HEIGHT - 12}px; placeholder-text-color: #595959;
}}
QLineEdit:focus, QComboBox:focus {{ border: 3px solid #0d47a1; }}
QLineEdit:disabled, QComboBox:disabled {{ color: #616161; background: #e0e0e0; }}
QComboBox::drop-down {{ width: {ARROW_WIDTH}px; border-left: 2px solid #9e9e9e; }}
QComboBox::down-arrow {{ image: none; width: 0px; height: 0px; }}
QComboBox QAbstractItemView {{ font-size: {FONT_PT}pt; }}
QComboBox QAbstractItemView::item {{ min-height: {CONTROL_HEIGHT}px; }}
QTabWidget::pane {{ border: 2px solid #9e9e9e; top: -2px; background: #ffffff; }}
QTabBar::tab {{
    font-size: {FONT_PT}pt; min-height: {CONTROL_HEIGHT - 16}px; padding: 8px 28px;
    color: #000000; background: #e0e0e0; border: 2px solid #9e9e9e; margin-right: 4px;
}}
QTabBar::tab:selected {{ background: #ffffff; font-weight: bold; border-bottom-color: #ffffff; }}
QPushButton {{ padding: 8px 32px; }}
"""


class _ChoiceBox(QComboBox):
    """A combo box whose drop-down arrow is big enough to see from arm's length."""

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        super().paintEvent(event)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#000000" if self.isEnabled() else "#9e9e9e"))
        centre = QPointF(self.width() - ARROW_WIDTH / 2, self.height() / 2)
        half_width, half_height = 11.0, 7.0
        painter.drawPolygon(QPolygonF([
            centre + QPointF(-half_width, -half_height),
            centre + QPointF(half_width, -half_height),
            centre + QPointF(0.0, half_height),
        ]))
        painter.end()



class SettingsDialog(QDialog):
    """Edit ``config`` and save it to ``path``; ``saved(config)`` after each successful save."""

    saved = Signal(object)  # StationConfig

    def __init__(self, config: StationConfig, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._path = path
        self._saved: StationConfig | None = None
        self.setObjectName("settings_dialog")
        self.setWindowTitle("Station settings")
        self.setFont(font(FONT_PT))
        self.setStyleSheet(_STYLE)

        title = QLabel("Station settings", self)
        title.setFont(font(TITLE_PT, bold=True))
        where = QLabel(f"File: {path}", self)
        where.setObjectName("path_label")
        where.setFont(font(FONT_PT - 2))
        where.setWordWrap(True)
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("settings_tabs")
        self.tabs.setFont(font(FONT_PT))
        self.tabs.tabBar().setExpanding(False)
        self._field_tabs: dict[str, int] = {}
        self._fields: dict[str, QWidget] = {}
        self._build_station_tab()
        self._build_balance_tab()
        self._build_camera_tab()
        self._build_files_tab()
        self._build_labels_tab()

        self.error_label = self._message_label("error_label", "Settings error", _ERROR_STYLE)
        self.status_label = self._message_label("status_label", "Settings saved", _SAVED_STYLE)

        self.save_button = self._button("save_button", "Save", bold=True)
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self.cancel_button = self._button("cancel_button", "Cancel")
        self.cancel_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.setSpacing(24)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 24, 32, 24)
        layout.setSpacing(16)
        layout.addWidget(title)
        layout.addWidget(where)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.error_label)
        layout.addWidget(self.status_label)
        layout.addLayout(buttons)

        self._show(config)

    # ---------------------------------------------------------------- public

    @property
    def path(self) -> Path:
        """The file the dialog saves to."""
        return self._path

    @property
    def saved_config(self) -> StationConfig | None:
        """The configuration last saved, or None until a save succeeds."""
        return self._saved

    def mapping(self) -> dict[str, dict[str, object]]:
        """What the fields say, as the tables of a ``station.toml`` document."""
        balance_port = (
            SIMULATED if self.balance_mode.currentData() == SIMULATED
            else self.balance_port_field.text()
        )
        camera_source = (
            SIMULATED if self.camera_mode.currentData() == SIMULATED
            else self.camera_source_field.text()
        )
        balance: dict[str, object] = {
            "port": balance_port,
            "protocol": self.protocol_choice.currentData(),
            "expected_serial": self.expected_serial_field.text(),
            "readability": self.readability_field.text(),
        }
        _put_text(balance, "baudrate", self.baudrate_field.text())
        for key, choice in (("bytesize", self.bytesize_choice), ("parity", self.parity_choice),
                            ("stopbits", self.stopbits_choice)):
            if choice.currentData() is not None:
                balance[key] = choice.currentData()
        camera: dict[str, object] = {"source": camera_source}
        _put_number(camera, "fps", self.fps_field.text())
        scanner: dict[str, object] = {"port": self.scanner_port_field.text()}
        _put_text(scanner, "baudrate", self.scanner_baudrate_field.text())
        labels: dict[str, object] = {"size": self.label_size_field.text(),
                                     "vial_size": self.vial_label_size_field.text()}
        _put_text(labels, "printer", self.printer_field.text())
        _put_integer(labels, "dpi", self.dpi_field.text())
        demo: dict[str, object] = {}
        if self.show_passwords_choice.currentData() is not None:
            demo["show_passwords"] = self.show_passwords_choice.currentData()
        return {
            "station": {
                "id": self.station_id_field.text(),
                "name": self.name_field.text(),
                "check_weight": self.check_weight_field.text(),
                "check_tolerance": self.check_tolerance_field.text(),
                "iso5": self.iso5_choice.currentData(),
            },
            "site": {"tolerance": self.site_tolerance_field.text()},
            "record": {"url": self.database_url_field.text()},
            "balance": balance,
            "camera": camera,
            "scanner": scanner,
            "data": {
                "formulary": self.formulary_field.text(),
                "worklist": self.worklist_field.text(),
            },
            "labels": labels,
            "demo": demo,
        }

    def save(self) -> bool:
        """Check the fields and write the file; on a refusal show why and write nothing."""
        self.status_label.hide()
        try:
            config = config_from_mapping(
                self.mapping(), source=self._path.name, base=self._path.absolute().parent
            )
            write_config(config, self._path)
        except ConfigError as error:
            self._refuse(error)
            return False
        self.error_label.hide()
        self._saved = config
        self.status_label.setText(f"Saved to {self._path} — restart the station to apply")
        self.status_label.show()
        self.cancel_button.setText("Close")
        self.saved.emit(config)
        return True

    # ---------------------------------------------------------------- showing a config

    def _show(self, config: StationConfig) -> None:
        station = config.station
        self.station_id_field.setText(station.id)
        self.name_field.setText(station.name)
        self.check_weight_field.setText(str(station.check_weight))
        self.check_tolerance_field.setText(_text(station.check_tolerance))
        _select(self.iso5_choice, station.iso5)
        self.site_tolerance_field.setText(f"{config.site.tolerance.percent.normalize():f}%")
        _select(self.show_passwords_choice, config.demo_passwords)
        self.database_url_field.setText(config.record.url or "")

        balance = config.balance
        _select(self.balance_mode, SIMULATED if balance.simulated else "port")
        self.balance_port_field.setText("" if balance.simulated else balance.port)
        _select(self.protocol_choice, balance.protocol)
        self.baudrate_field.setText(_text(balance.baudrate))
        _select(self.bytesize_choice, balance.bytesize)
        _select(self.parity_choice, _PARITY_NAMES.get(balance.parity) if balance.parity else None)
        _select(self.stopbits_choice, balance.stopbits)
        self.expected_serial_field.setText(balance.expected_serial or "")
        self.readability_field.setText(_text(balance.readability))

        camera = config.camera
        _select(self.camera_mode, SIMULATED if camera.simulated else "source")
        self.camera_source_field.setText("" if camera.simulated else str(camera.source))
        self.fps_field.setText(_number(camera.fps))
        self.scanner_port_field.setText(config.scanner.port or "")
        self.scanner_baudrate_field.setText(str(config.scanner.baudrate))
        self.formulary_field.setText(_text(config.data.formulary))
        self.worklist_field.setText(_text(config.data.worklist))
        self.printer_field.setText(config.labels.printer or "")
        self.label_size_field.setText(config.labels.size)
        self.vial_label_size_field.setText(config.labels.vial_size)
        self.dpi_field.setText(str(config.labels.dpi))
        self._update_enabled()
        self._update_protocol_defaults()

    # ---------------------------------------------------------------- tabs

    def _build_station_tab(self) -> None:
        form = self._tab("Station")
        self.station_id_field = self._line(form, "station.id", "Station id",
                                           "letters, digits, '.', '_', '-'")
        self.name_field = self._line(form, "station.name", "Name", "e.g. Cleanroom 2, left hood")
        self.check_weight_field = self._line(form, "station.check_weight", "Check weight (g)",
                                             "e.g. 100.000")
        self.check_tolerance_field = self._line(
            form, "station.check_tolerance", "Check tolerance (g)",
            "blank: 0.1 % of the weight or 2 × readability",
        )
        self.site_tolerance_field = self._line(
            form, "site.tolerance", "Dose tolerance (site)",
            "e.g. 5% — when neither the order nor the product sets one",
        )
        self.iso5_choice = self._choice(
            form, "station.iso5", "Hood",
            [("ISO Class 5 (an opened single-dose vial keeps 12 h)", True),
             ("Not ISO Class 5 (1 h; no pharmacy bulk packages)", False)],
        )
        self.show_passwords_choice = self._choice(
            form, "demo.show_passwords", "Demo passwords",
            [("Automatic: only when simulated", None), ("Show on the sign-in screen", True),
             ("Hide", False)],
        )

    def _build_balance_tab(self) -> None:
        form = self._tab("Balance")
        self.balance_mode = self._choice(
            form, "balance.mode", "Balance",
            [("Simulated balance", SIMULATED), ("Balance on a serial port", "port")],
        )
        self.balance_port_field = self._line(form, "balance.port", "Port",
                                             "/dev/ttyUSB0, COM3 or socket://host:4001")
        self.protocol_choice = self._choice(
            form, "balance.protocol", "Protocol",
            [(spec.title, name) for name, spec in PROTOCOLS.items()],
        )
        self.baudrate_field = self._line(form, "balance.baudrate", "Baud rate", "")
        self.bytesize_choice = self._choice(form, "balance.bytesize", "Data bits",
                                            [("", None), ("7", 7), ("8", 8)])
        self.parity_choice = self._choice(
            form, "balance.parity", "Parity",
            [("", None), ("None", "none"), ("Even", "even"), ("Odd", "odd")],
        )
        self.stopbits_choice = self._choice(form, "balance.stopbits", "Stop bits",
                                            [("", None), ("1", 1), ("2", 2)])
        self.expected_serial_field = self._line(form, "balance.expected_serial",
                                                "Expected serial", "blank: accept any balance")
        self.readability_field = self._line(
            form, "balance.readability", "Readability (g)",
            "blank: as the balance reports it; e.g. 0.01 for sbi, ohaus, and",
        )
        self.balance_mode.currentIndexChanged.connect(self._update_enabled)
        self.protocol_choice.currentIndexChanged.connect(self._update_protocol_defaults)

    def _build_camera_tab(self) -> None:
        form = self._tab("Camera and scanner")
        self.camera_mode = self._choice(
            form, "camera.mode", "Camera",
            [("Simulated camera", SIMULATED), ("Camera device or image folder", "source")],
        )
        self.camera_source_field = self._line(form, "camera.source", "Device or folder",
                                              "device number (0, 1 …) or a folder")
        self.fps_field = self._line(form, "camera.fps", "Frames per second", "e.g. 15")
        self.scanner_port_field = self._line(form, "scanner.port", "Scanner port",
                                             "blank: keyboard-wedge scanner only")
        self.scanner_baudrate_field = self._line(form, "scanner.baudrate", "Scanner baud rate",
                                                 "e.g. 9600")
        self.camera_mode.currentIndexChanged.connect(self._update_enabled)

    def _build_files_tab(self) -> None:
        form = self._tab("Record and files")
        self.database_url_field = self._line(form, "record.url", "Database URL",
                                             "blank: the embedded SQLite file")
        self.formulary_field = self._line(form, "data.formulary", "Formulary file",
                                          "blank: the sample formulary")
        self.worklist_field = self._line(form, "data.worklist", "Worklist file",
                                         "blank: the sample worklist")
        note = QLabel(
            "A PostgreSQL server is written postgresql+psycopg://USER@HOST/DATABASE. "
            "Relative paths are read from the settings file's folder.", self,
        )
        note.setWordWrap(True)
        note.setFont(font(FONT_PT - 2))
        form.addRow(note)

    def _build_labels_tab(self) -> None:
        form = self._tab("Labels")
        self.printer_field = self._line(form, "labels.printer", "Label printer",
                                        "tcp://HOST:9100, cups://QUEUE or file://PATH; "
                                        "blank: a file in the data folder")
        self.label_size_field = self._line(form, "labels.size", "Label size (mm)",
                                           "WIDTHxHEIGHT, e.g. 101.6x76.2")
        self.vial_label_size_field = self._line(form, "labels.vial_size",
                                                "Opened-vial label size (mm)",
                                                "WIDTHxHEIGHT, e.g. 57x32")
        self.dpi_field = self._line(form, "labels.dpi", "Printer resolution (dpi)",
                                    "152, 203, 300 or 600")

    def _update_enabled(self) -> None:
        self.balance_port_field.setEnabled(self.balance_mode.currentData() != SIMULATED)
        self.camera_source_field.setEnabled(self.camera_mode.currentData() != SIMULATED)

    def _update_protocol_defaults(self) -> None:
        """Show the chosen protocol's factory settings where a field is left at its default."""
        spec = PROTOCOLS[str(self.protocol_choice.currentData())]
        factory = spec.settings
        self.baudrate_field.setPlaceholderText(f"blank: {spec.name} default, {factory.baudrate}")
        for choice, value in ((self.bytesize_choice, factory.bytesize),
                              (self.parity_choice, _PARITY_NAMES[factory.parity]),
                              (self.stopbits_choice, factory.stopbits)):
            choice.setItemText(0, f"{spec.name} default: {value}")

    # ---------------------------------------------------------------- refusals

    def _refuse(self, error: ConfigError) -> None:
        """Show the refusal and bring its field forward (a whole table: its mode choice)."""
        self.error_label.setText(str(error))
        self.error_label.show()
        key = error.key or ""
        if key in ("balance", "camera"):
            key += ".mode"
        field = self._fields.get(key)
        if field is not None:
            self.tabs.setCurrentIndex(self._field_tabs[key])
            field.setFocus()

    # ---------------------------------------------------------------- building blocks

    def _tab(self, title: str) -> QFormLayout:
        page = QWidget(self.tabs)
        form = QFormLayout(page)
        form.setContentsMargins(28, 24, 28, 24)
        form.setVerticalSpacing(14)
        form.setHorizontalSpacing(28)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.tabs.addTab(page, title)
        return form

    def _register(self, form: QFormLayout, key: str, caption: str, field: QWidget) -> None:
        field.setObjectName(key.replace(".", "_"))
        field.setAccessibleName(caption)
        field.setFont(font(FONT_PT))
        field.setMinimumHeight(CONTROL_HEIGHT)
        field.setMinimumWidth(FIELD_WIDTH)
        label = QLabel(caption, field.parentWidget())
        label.setFont(font(FONT_PT, bold=True))
        label.setMinimumHeight(CONTROL_HEIGHT)
        label.setBuddy(field)
        form.addRow(label, field)
        self._fields[key] = field
        self._field_tabs[key] = self.tabs.count() - 1

    def _line(self, form: QFormLayout, key: str, caption: str, hint: str) -> QLineEdit:
        page = form.parentWidget()
        field = QLineEdit(page)
        field.setPlaceholderText(hint)
        field.setClearButtonEnabled(False)
        self._register(form, key, caption, field)
        return field

    def _choice(
        self, form: QFormLayout, key: str, caption: str, items: list[tuple[str, object]]
    ) -> QComboBox:
        field = _ChoiceBox(form.parentWidget())
        field.setView(QListView(field))  # so the style sheet sets the items' height
        for text, value in items:
            field.addItem(text, value)
        self._register(form, key, caption, field)
        return field

    def _message_label(self, name: str, accessible: str, style: str) -> QLabel:
        label = QLabel(self)
        label.setObjectName(name)
        label.setAccessibleName(accessible)
        label.setWordWrap(True)
        label.setFont(font(FONT_PT, bold=True))
        label.setStyleSheet(style)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.hide()
        return label

    def _button(self, name: str, text: str, *, bold: bool = False) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setFont(font(FONT_PT + 2, bold=bold))
        button.setMinimumHeight(CONTROL_HEIGHT + 8)
        button.setMinimumWidth(220)
        return button


def _text(value: object | None) -> str:
    return "" if value is None else str(value)


def _number(value: float) -> str:
    """``15`` for 15.0, every digit otherwise."""
    return str(int(value)) if value.is_integer() else repr(value)


def _select(choice: QComboBox, value: object) -> None:
    index = choice.findData(value)
    choice.setCurrentIndex(max(index, 0))


def _put_text(table: dict[str, object], key: str, text: str) -> None:
    """Set ``key`` to the text typed, or leave it out when the field is blank."""
    if text.strip():
        table[key] = text


def _put_integer(table: dict[str, object], key: str, text: str) -> None:
    """Set ``key`` to the whole number typed; other text is passed on to be refused."""
    if not text.strip():
        return
    try:
        table[key] = int(text)
    except ValueError:
        table[key] = text


def _put_number(table: dict[str, object], key: str, text: str) -> None:
    """Set ``key`` to the number typed; text that is no number is passed on to be refused."""
    if not text.strip():
        return
    try:
        table[key] = float(text)
    except ValueError:
        table[key] = text
