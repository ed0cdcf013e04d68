"""The guided preparation screen, laid out for a gloved technician at arm's length.

Top to bottom: the order and patient; the current instruction in large type with what to do
next; a red hard-stop banner when the preparation is stopped; the weight gauge and trace above
the live camera with its barcode overlays; the keys that act (Enter, F6, F8, F9). The recipe's
steps run down the left, each marked done, current, stopped or to do.

The gauge's place is shared (nothing here widens the window): while a package waits for its
lot and expiry it shows the :class:`~ui.widgets.lot_entry.LotEntryPanel` (Enter confirms the
read, T types it, Esc sets the package aside); at the label step the printed label's preview
(Enter or P prints, R prints again), taller than the gauge; at the step an opened vial was
kept, that vial's label. K keeps the vial of the last draw, D then a handheld scan discards
an opened vial. Letter keys act only when no field has the keyboard.

The view renders :class:`~ui.technician.preparation_presenter.PreparationScreenState` and
forwards key presses to the presenter; it holds no logic of its own. Its buttons never take the
focus, so Enter always means the primary action and never "press the button that happens to be
focused".
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ui.technician.preparation_presenter import (
    DISCARD_SCAN,
    PreparationPresenter,
    PreparationScreenState,
    StepLine,
    StepStatus,
)
from ui.widgets.camera_preview import CameraPreviewWidget
from ui.widgets.label_preview import LabelPreview
from ui.widgets.look import font, text_label
from ui.widgets.lot_entry import LotEntryPanel
from ui.widgets.weight_gauge import WeightGaugeWidget

TITLE_PT = 20
INSTRUCTION_PT = 30
HINT_PT = 20
STOP_PT = 24
STEP_PT = 16
BUTTON_PT = 18
BUTTON_HEIGHT = 72
STEP_LIST_WIDTH = 380
GAUGE_MIN_HEIGHT = 240

_PRIMARY_KEYS = frozenset({Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space})
#: The shares of the column the gauge's place and the camera take: the gauge's 2 to 3, the lot
#: panel's 3 to 2. A label's preview takes the camera's place too (nothing is photographed
#: while a label is printed, applied and scanned).
_SHARES = {"gauge": (2, 3), "lot": (3, 2), "label": (1, 0)}
_STEP_LOOK = {
    StepStatus.DONE: ("✔", "#1b5e20", "#e8f5e9"),
    StepStatus.CURRENT: ("▶", "#ffffff", "#0d47a1"),
    StepStatus.STOPPED: ("✖", "#ffffff", "#b71c1c"),
    StepStatus.TODO: ("○", "#424242", "#ffffff"),
}



def step_text(line: StepLine) -> str:
    """``✔ 3. Weigh the empty syringe`` — the mark says the state without colour."""
    return f"{_STEP_LOOK[line.status][0]} {line.number}. {line.title}"


class PreparationView(QWidget):
    """Renders the presenter's state; Enter, F6, F8 and F9 act through the presenter."""

    def __init__(self, presenter: PreparationPresenter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("preparation_view")
        self.presenter = presenter
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._build_widgets()
        self._bind_keys()
        self._lay_out()
        presenter.state_changed.connect(self.show_state)
        presenter.gauge_changed.connect(self.gauge.set_state)
        presenter.reading_shown.connect(self.gauge.add_reading)
        presenter.symbols_shown.connect(self.camera.show_symbols)
        self.show_state(presenter.state)

    def _build_widgets(self) -> None:
        presenter = self.presenter
        self.title_label = self._label("preparation_title", TITLE_PT, bold=True)
        self.instruction_label = self._label("instruction", INSTRUCTION_PT, bold=True)
        self.hint_label = self._label("hint", HINT_PT)
        self.stop_label = self._label("stop_banner", STOP_PT, bold=True)
        self.stop_label.setStyleSheet(
            "QLabel { background: #b71c1c; color: #ffffff; padding: 14px 18px; }")
        self.message_label = self._label("message", HINT_PT - 2)
        self.message_label.setStyleSheet("QLabel { color: #212121; padding: 2px 4px; }")
        self.vial_line = self._label("vial_line", HINT_PT - 2, bold=True)
        self.vial_line.setStyleSheet(
            "QLabel { background: #e3f2fd; color: #0d47a1; padding: 2px 8px; }")

        self.step_list = QListWidget(self)
        self.step_list.setObjectName("step_list")
        self.step_list.setFont(font(STEP_PT))
        self.step_list.setFixedWidth(STEP_LIST_WIDTH)
        self.step_list.setWordWrap(True)
        self.step_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.step_list.setSpacing(2)

        self.camera = CameraPreviewWidget(self)
        self.camera.setObjectName("camera_preview")
        self.gauge = WeightGaugeWidget(self)
        self.gauge.setObjectName("weight_gauge")
        self.gauge.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.gauge.setMinimumHeight(GAUGE_MIN_HEIGHT)
        self.lot_panel = LotEntryPanel(self)
        self.lot_panel.typed.connect(presenter.type_lot)
        self.lot_panel.typing_left.connect(self.setFocus)
        self.lot_panel.typing_changed.connect(lambda _typing: self._show_primary())
        self.label_preview = LabelPreview(self, name="label_preview")
        self.vial_preview = LabelPreview(self, name="vial_label_preview")
        self.aside = QStackedWidget(self)
        self.aside.setObjectName("aside")
        for page in (self.gauge, self.lot_panel, self.label_preview, self.vial_preview):
            self.aside.addWidget(page)

        self.primary_button = self._button("primary_button", "")
        self.check_button = self._button("check_button", "Check (F6)")
        self.override_button = self._button("override_button", "Override (F8)")
        self.cancel_button = self._button("cancel_button", "Cancel (F9)")
        self.primary_button.clicked.connect(presenter.primary)
        self.check_button.clicked.connect(presenter.in_process_check)
        self.override_button.clicked.connect(presenter.override)
        self.cancel_button.clicked.connect(presenter.cancel)
        self.primary_button.setStyleSheet(
            "QPushButton { background: #0d47a1; color: #ffffff; padding: 0 24px; }"
            " QPushButton:disabled { background: #e0e0e0; color: #9e9e9e; }")

    def _bind_keys(self) -> None:
        presenter = self.presenter
        # Enter and Space are handled in keyPressEvent, not as shortcuts: a scanner's burst
        # ends with Enter, and the scanner filter must see that Enter before any shortcut.
        for key, slot in ((Qt.Key.Key_F6, presenter.in_process_check),
                          (Qt.Key.Key_F8, presenter.override),
                          (Qt.Key.Key_F9, presenter.cancel)):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        """Enter or Space: the primary action; T, P, R, K, D and Esc as the screen says.

        Letters arrive here only when no field has the keyboard, and after the scanner filter
        has told them from a scan, so a scanned ``K`` never keeps a vial.
        """
        if event.isAutoRepeat():
            super().keyPressEvent(event)
            return
        key = event.key()
        presenter = self.presenter
        if key in _PRIMARY_KEYS:
            event.accept()
            presenter.primary()
            return
        plain = not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        letters: dict[int, Callable[[], None]] = {
            Qt.Key.Key_T: self._start_typing, Qt.Key.Key_P: presenter.print_label,
            Qt.Key.Key_R: presenter.reprint, Qt.Key.Key_K: presenter.keep_vial,
            Qt.Key.Key_D: presenter.discard_vial, Qt.Key.Key_Escape: self._escape}
        action = letters.get(key) if plain else None
        if action is None:
            super().keyPressEvent(event)
            return
        event.accept()
        action()

    def _start_typing(self) -> None:
        if self.presenter.state.lot is not None:
            self.lot_panel.start_typing()

    def _escape(self) -> None:
        if self.presenter.state.discarding:
            self.presenter.stop_discarding()
        elif self.presenter.state.lot is not None:
            self.presenter.set_aside()

    def _lay_out(self) -> None:
        # The gauge is drawn for a wide, short box; the camera takes the height that is left.
        devices = QVBoxLayout()
        devices.setSpacing(8)
        devices.addWidget(self.aside, _SHARES["gauge"][0])
        devices.addWidget(self.camera, _SHARES["gauge"][1])
        self._devices = devices

        buttons = QHBoxLayout()
        buttons.setSpacing(12)
        buttons.addWidget(self.primary_button, 2)
        buttons.addWidget(self.check_button, 1)
        buttons.addWidget(self.override_button, 1)
        buttons.addWidget(self.cancel_button, 1)

        main = QVBoxLayout()
        main.setSpacing(8)
        main.addWidget(self.instruction_label)
        main.addWidget(self.hint_label)
        main.addWidget(self.stop_label)
        main.addWidget(self.message_label)
        main.addWidget(self.vial_line)
        main.addLayout(devices, 1)
        main.addLayout(buttons)

        body = QHBoxLayout()
        body.setSpacing(12)
        body.addWidget(self.step_list)
        body.addLayout(main, 1)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 8, 12, 8)
        outer.addWidget(self.title_label)
        outer.addLayout(body, 1)

    # ------------------------------------------------------------ rendering

    def show_state(self, state: PreparationScreenState) -> None:
        """Render ``state``."""
        self.title_label.setText(state.title)
        self.instruction_label.setText(state.instruction)
        self.hint_label.setText(state.hint)
        self.hint_label.setVisible(bool(state.hint))
        self.stop_label.setText(f"✖ STOPPED — {state.stop}" if state.stop else "")
        self.stop_label.setVisible(bool(state.stop))
        # The stop's words are in the banner; the message line says only what is new. While
        # a package waits for its lot, the lot panel shows what is new.
        message = "" if state.message == state.stop or state.lot is not None else state.message
        self.message_label.setText(message)
        self.message_label.setVisible(bool(message))
        self._show_primary()
        self.check_button.setEnabled(state.can_check)
        self.override_button.setEnabled(state.can_override)
        self.cancel_button.setEnabled(state.can_cancel)
        self._show_steps(state.steps)
        self._show_aside(state)

    def _show_primary(self) -> None:
        """The primary button: the state's, but not while the lot is being typed."""
        state = self.presenter.state
        if self.lot_panel.typing:
            self.primary_button.setText("Typing the lot (Esc: stop)")
            self.primary_button.setEnabled(False)
            return
        self.primary_button.setText(state.primary or "Waiting…")
        self.primary_button.setEnabled(state.primary is not None)

    def _show_aside(self, state: PreparationScreenState) -> None:
        """The gauge, or the lot panel, the label printed, or the vial label kept."""
        if state.discarding:
            self.vial_line.setText(DISCARD_SCAN)
        else:
            self.vial_line.setText(state.vial_offer)
        self.vial_line.setVisible(bool(self.vial_line.text()))
        self.lot_panel.show_prompt(state.lot)
        self.lot_panel.show_message(state.message if state.lot is not None else "")
        page: QWidget = self.gauge
        if state.lot is not None:
            page = self.lot_panel
        elif state.can_print or state.label_png is not None:
            self.label_preview.show_label(state.label_png, state.label_caption)
            page = self.label_preview
        elif state.vial_png is not None:
            self.vial_preview.show_label(state.vial_png, state.vial_caption)
            page = self.vial_preview
        if self.aside.currentWidget() is not page:
            self.aside.setCurrentWidget(page)
            kind = ("gauge" if page is self.gauge else "lot" if page is self.lot_panel
                    else "label")
            aside, camera = _SHARES[kind]
            self._devices.setStretch(0, aside)
            self._devices.setStretch(1, camera)
            self.camera.setVisible(camera > 0)
        focused = self.focusWidget()
        if page is not self.lot_panel and focused is not None and (
                self.lot_panel.isAncestorOf(focused)):
            self.setFocus()  # the fields are gone: the keys are the screen's again

    def _show_steps(self, steps: tuple[StepLine, ...]) -> None:
        texts = [step_text(line) for line in steps]
        current = [self.step_list.item(i).text() for i in range(self.step_list.count())]
        if texts != current:
            self.step_list.clear()
            for line, text in zip(steps, texts, strict=True):
                item = QListWidgetItem(text)
                _mark, foreground, background = _STEP_LOOK[line.status]
                item.setForeground(QColor(foreground))
                item.setBackground(QColor(background))
                if line.status in {StepStatus.CURRENT, StepStatus.STOPPED}:
                    item.setFont(font(STEP_PT, bold=True))
                self.step_list.addItem(item)
        for row, line in enumerate(steps):
            if line.status in {StepStatus.CURRENT, StepStatus.STOPPED}:
                self.step_list.scrollToItem(self.step_list.item(row))

    # ------------------------------------------------------------ building

    def _label(self, name: str, points: int, *, bold: bool = False) -> QLabel:
        return text_label(self, name, points, bold=bold)

    def _button(self, name: str, text: str) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setFont(font(BUTTON_PT, bold=True))
        button.setMinimumHeight(BUTTON_HEIGHT)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.setAutoDefault(False)
        button.setToolTip({"check_button": "A pharmacist checks the drawn doses at the hood",
                           "override_button": "A pharmacist accepts the stopped attempt",
                           "cancel_button": "Abandon this preparation, with a reason"}.get(
                               name, ""))
        return button
