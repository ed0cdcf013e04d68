"""An electronic signature at the hood: who decides, what signing means, and why.

:class:`SignatureDialog` serves three decisions: a pharmacist overriding a hard stop (a
reason is required), a pharmacist's in-process check (approve, or reject with a reason),
and a technician cancelling a preparation (a reason, no credentials). It shows what is
being decided in large type and, when credentials are asked for, what the signature means
("Signing means: override-approved").

The dialog checks only what it can see: a user id, a password, a reason where one is
needed. It then emits ``submitted(choice, user_id, password, reason)``, shows "Checking…"
and waits, input disabled, for the caller (who checks the password off the GUI thread) to
call :meth:`SignatureDialog.show_error` or :meth:`~QDialog.accept`. Esc cancels.

Keyboard only: Enter moves user id → password → standard reason → free text, and Enter in
the free text signs with the first choice; Tab reaches every button, Enter presses it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from PySide6.QtCore import QEvent, QObject, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QPainter, QPaintEvent, QPolygonF
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStyledItemDelegate,
    QVBoxLayout,
    QWidget,
)

from ui.widgets.look import font, line_edit, text_label

FONT_PT = 22
EXPLANATION_PT = 24
TITLE_PT = 28
CONTROL_HEIGHT = 72
BUTTON_HEIGHT = 88
#: The width the dialog opens at (px); long explanations wrap within it.
DIALOG_WIDTH = 1100
#: The width of the reason combo's drop-down button (px).
ARROW_BOX = 64

ENTER_USER_ID = "enter your user id"
ENTER_PASSWORD = "enter your password"
ENTER_REASON = "choose or type a reason"
CHECKING = "Checking…"
#: Choices that always need a reason, whatever ``reason_required`` says.
REASON_ALWAYS_REQUIRED = ("Reject", "Cancel preparation")

_ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
_PRIMARY = (
    "QPushButton { background: #1b5e20; color: #ffffff; border: 3px solid #0b3d0f;"
    " border-radius: 8px; padding: 8px 28px; }"
    " QPushButton:focus { border: 5px solid #ffab00; }"
    " QPushButton:disabled { background: #9e9e9e; color: #f5f5f5; border-color: #757575; }"
)
_CAUTION = (
    "QPushButton { background: #b71c1c; color: #ffffff; border: 3px solid #7f0000;"
    " border-radius: 8px; padding: 8px 28px; }"
    " QPushButton:focus { border: 5px solid #ffab00; }"
    " QPushButton:disabled { background: #9e9e9e; color: #f5f5f5; border-color: #757575; }"
)
_EXPLANATION = ("QLabel { background: #fff8e1; color: #000000; border: 3px solid #ff8f00;"
                " padding: 16px 20px; }")
_MEANING = ("QLabel { background: #0d47a1; color: #ffffff; padding: 14px 20px;"
            " border-radius: 6px; }")
_ERROR = ("QLabel { background: #b71c1c; color: #ffffff; padding: 12px 16px;"
          " border-radius: 6px; }")
_BUSY = ("QLabel { background: #e3f2fd; color: #0d47a1; border: 3px solid #0d47a1;"
         " padding: 12px 16px; border-radius: 6px; }")
_INPUT = (
    "QLineEdit, QComboBox { background: #ffffff; color: #000000; border: 2px solid #424242;"
    " border-radius: 6px; padding: 4px 12px; placeholder-text-color: #595959; }"
    " QLineEdit:focus, QComboBox:focus { border: 4px solid #0d47a1; }"
    " QLineEdit:disabled, QComboBox:disabled { background: #e0e0e0; color: #424242; }"
    " QComboBox[chosen=\"false\"] { color: #595959; }"
    f" QComboBox::drop-down {{ width: {ARROW_BOX}px; border-left: 2px solid #424242; }}"
    " QComboBox QAbstractItemView { background: #ffffff; color: #000000;"
    " selection-background-color: #0d47a1; selection-color: #ffffff; border: 2px solid #424242; }"
    " QComboBox QAbstractItemView::item { min-height: 64px; padding: 0 12px; }"
)
_NEUTRAL = (
    "QPushButton { background: #eeeeee; color: #000000; border: 3px solid #424242;"
    " border-radius: 8px; padding: 8px 28px; }"
    " QPushButton:focus { border: 5px solid #ffab00; }"
)



class _ReasonCombo(QComboBox):
    """A combo with an arrow big enough to see (the style sheet hides the tiny default)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setItemDelegate(QStyledItemDelegate(self))  # rows follow the style sheet's height
        self.currentIndexChanged.connect(self._on_index_changed)
        self._on_index_changed(self.currentIndex())

    def _on_index_changed(self, index: int) -> None:
        """Grey the placeholder so it does not read as a chosen reason."""
        self.setProperty("chosen", index >= 0)
        self.style().unpolish(self)
        self.style().polish(self)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        """The combo as styled, then a large solid triangle in its drop-down box."""
        super().paintEvent(event)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#000000" if self.isEnabled() else "#757575"))
        x, y = self.width() - ARROW_BOX / 2, self.height() / 2
        painter.drawPolygon(QPolygonF([QPointF(x - 14, y - 8), QPointF(x + 14, y - 8),
                                       QPointF(x, y + 10)]))
        painter.end()


def compose_reason(choice: str, free_text: str) -> str:
    """``"<choice>: <free text>"``, or whichever of the two is given (trimmed).

    >>> compose_reason("Wrong diluent", " bag was D5W ")
    'Wrong diluent: bag was D5W'
    >>> compose_reason("", "label torn")
    'label torn'
    """
    choice, free_text = choice.strip(), free_text.strip()
    if choice and free_text:
        return f"{choice}: {free_text}"
    return choice or free_text


class SignatureDialog(QDialog):
    """A signature, or a technician's reasoned cancel, asked for in one modal dialog.

    ``submitted(choice, user_id, password, reason)`` once the form is complete; the caller
    answers with :meth:`show_error` or :meth:`accept`.

    ``meaning`` None asks for no credentials (``user_id_field`` and ``password_field`` are
    then None, and ``submitted`` carries empty strings for them). ``reasons`` fill a combo
    (``reason_combo``, None without reasons) beside the free-text ``reason_field``.
    """

    submitted = Signal(str, str, str, str)  # choice, user id, password, reason

    def __init__(
        self,
        *,
        title: str,
        explanation: str,
        meaning: str | None = None,
        reasons: Sequence[str] = (),
        choices: Sequence[str] = ("Approve",),
        reason_required: bool = False,
        reason_required_for: Collection[str] = REASON_ALWAYS_REQUIRED,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        if not choices:
            raise ValueError("a signature needs at least one choice")
        self.setObjectName("signature_dialog")
        self.setWindowTitle(title)
        self.setModal(True)
        self.setFont(font(FONT_PT))
        self.setMinimumWidth(960)
        self.meaning = meaning
        self.choices = tuple(choices)
        self.reason_required = reason_required
        self._reason_required_for = frozenset(reason_required_for)
        self._busy = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 24, 32, 24)
        layout.setSpacing(16)
        layout.addWidget(self._label(title, "title_label", TITLE_PT, bold=True))
        self.explanation_label = self._label(explanation, "explanation_label",
                                             EXPLANATION_PT, style=_EXPLANATION)
        layout.addWidget(self.explanation_label)
        self.meaning_label: QLabel | None = None
        if meaning is not None:
            self.meaning_label = self._label(f"Signing means: {meaning}", "meaning_label",
                                             EXPLANATION_PT, bold=True, style=_MEANING)
            layout.addWidget(self.meaning_label)
        layout.addLayout(self._form(with_credentials=meaning is not None, reasons=reasons))
        self.error_label = self._label("", "error_label", FONT_PT, bold=True, style=_ERROR)
        self.error_label.setAccessibleName("Signature error")
        self.error_label.hide()
        layout.addWidget(self.error_label)
        self.busy_label = self._label(CHECKING, "busy_label", FONT_PT, bold=True, style=_BUSY)
        self.busy_label.hide()
        layout.addWidget(self.busy_label)
        layout.addLayout(self._buttons())

        self._inputs: list[QWidget] = [
            widget for widget in (self.user_id_field, self.password_field, self.reason_combo,
                                  self.reason_field) if widget is not None
        ]
        for widget in [*self._inputs, *self.choice_buttons, self.back_button]:
            widget.installEventFilter(self)
        for before, after in zip(self._inputs, [*self._inputs[1:], *self.choice_buttons],
                                 strict=False):
            self.setTabOrder(before, after)
        self._inputs[0].setFocus()
        self._fit(DIALOG_WIDTH)

    def _fit(self, width: int) -> None:
        """Open at full size, not squeezed into Qt's 2/3-of-the-screen automatic size."""
        layout = self.layout()
        width = max(width, self.minimumSizeHint().width())
        height = self.sizeHint().height()
        if layout is not None and layout.hasHeightForWidth():
            height = layout.totalHeightForWidth(width)
        self.resize(width, max(height, self.minimumSizeHint().height()))

    # ------------------------------------------------------------ construction

    def _form(self, *, with_credentials: bool, reasons: Sequence[str]) -> QFormLayout:
        form = QFormLayout()
        form.setVerticalSpacing(12)
        form.setHorizontalSpacing(24)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.user_id_field: QLineEdit | None = None
        self.password_field: QLineEdit | None = None
        if with_credentials:
            self.user_id_field = self._field("user_id_field", "User id")
            self.password_field = self._field("password_field", "Password")
            self.password_field.setEchoMode(QLineEdit.EchoMode.Password)
            form.addRow(self._caption("User id"), self.user_id_field)
            form.addRow(self._caption("Password"), self.password_field)
        self.reason_combo: QComboBox | None = None
        if reasons:
            self.reason_combo = self._combo(reasons)
            form.addRow(self._caption("Reason"), self.reason_combo)
        self.reason_field = self._field("reason_field", "Reason in your own words")
        self.reason_field.setPlaceholderText(
            "Details (optional)" if reasons else "Type the reason"
        )
        form.addRow(self._caption("Details" if reasons else "Reason"), self.reason_field)
        return form

    def _buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(24)
        self.choice_buttons: list[QPushButton] = []
        for choice in self.choices:
            style = _CAUTION if choice in self._reason_required_for else _PRIMARY
            button = self._button(choice, style)
            button.clicked.connect(lambda _checked=False, c=choice: self.submit(c))
            self.choice_buttons.append(button)
            row.addWidget(button, 2)
        row.addSpacing(24)
        self.back_button = self._button("Go back (Esc)", _NEUTRAL)
        self.back_button.setObjectName("back_button")
        self.back_button.clicked.connect(self.reject)
        row.addWidget(self.back_button, 1)
        return row

    def _label(self, text: str, name: str, points: int, *, bold: bool = False,
               style: str = "") -> QLabel:
        label = text_label(self, name, points, text, bold=bold)
        if style:
            label.setStyleSheet(style)
        return label

    def _field(self, name: str, accessible: str) -> QLineEdit:
        field = line_edit(self, name, accessible, points=FONT_PT, height=CONTROL_HEIGHT,
                          width=560)
        field.setStyleSheet(_INPUT)
        return field

    def _combo(self, reasons: Sequence[str]) -> QComboBox:
        combo = _ReasonCombo(self)
        combo.setObjectName("reason_combo")
        combo.setAccessibleName("Standard reason")
        combo.setFont(font(FONT_PT))
        combo.view().setFont(font(FONT_PT))
        combo.setMinimumHeight(CONTROL_HEIGHT)
        combo.setMinimumWidth(560)
        combo.addItems(list(reasons))
        combo.setPlaceholderText("Choose a reason (↑ ↓)")
        combo.setCurrentIndex(-1)
        combo.setStyleSheet(_INPUT)
        return combo

    def _caption(self, text: str) -> QLabel:
        label = QLabel(text, self)
        label.setFont(font(FONT_PT, bold=True))
        label.setMinimumHeight(CONTROL_HEIGHT)
        return label

    def _button(self, text: str, style: str) -> QPushButton:
        button = QPushButton(text, self)
        button.setFont(font(FONT_PT + 2, bold=True))
        button.setMinimumHeight(BUTTON_HEIGHT)
        button.setMinimumWidth(max(220, button.fontMetrics().horizontalAdvance(text) + 80))
        button.setAutoDefault(False)  # Enter is routed by eventFilter, never by a default
        button.setStyleSheet(style)
        return button

    # ------------------------------------------------------------ the form

    def reason(self) -> str:
        """The reason as it will be signed: ``"<choice>: <free text>"`` or either alone."""
        chosen = ""
        if self.reason_combo is not None and self.reason_combo.currentIndex() >= 0:
            chosen = self.reason_combo.currentText()
        return compose_reason(chosen, self.reason_field.text())

    def needs_reason(self, choice: str) -> bool:
        """Whether signing ``choice`` needs a reason."""
        return self.reason_required or choice in self._reason_required_for

    @property
    def busy(self) -> bool:
        """Whether a submission is being checked."""
        return self._busy

    def submit(self, choice: str) -> bool:
        """Validate the form and emit ``submitted`` for ``choice``; False if refused."""
        if self._busy:
            return False
        user_id = password = ""
        if self.user_id_field is not None and self.password_field is not None:
            user_id = self.user_id_field.text().strip()
            password = self.password_field.text()
            if not user_id:
                return self._refuse(ENTER_USER_ID, self.user_id_field)
            if not password:
                return self._refuse(ENTER_PASSWORD, self.password_field)
        reason = self.reason()
        if not reason and self.needs_reason(choice):
            return self._refuse(ENTER_REASON, self._reason_input())
        self.set_busy(True)
        self.submitted.emit(choice, user_id, password, reason)
        return True

    def set_busy(self, busy: bool) -> None:
        """Show "Checking…" and disable input while the caller checks the signature."""
        self._busy = busy
        for widget in [*self._inputs, *self.choice_buttons]:
            widget.setEnabled(not busy)
        self.busy_label.setVisible(busy)
        if busy:
            self.error_label.hide()

    def show_error(self, text: str) -> None:
        """The caller refused the signature: say why, clear the password, ask again."""
        self.set_busy(False)
        if self.password_field is not None:
            self.password_field.clear()
            self._show_error(text, self.password_field)
        else:
            self._show_error(text, self._reason_input())

    def _reason_input(self) -> QWidget:
        return self.reason_combo if self.reason_combo is not None else self.reason_field

    def _refuse(self, text: str, focus: QWidget) -> bool:
        self._show_error(text, focus)
        return False

    def _show_error(self, text: str, focus: QWidget) -> None:
        self.error_label.setText(f"✖ {text}")
        self.error_label.show()
        focus.setFocus()

    # ------------------------------------------------------------ keys and closing

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        """Enter on an input steps to the next one or signs; Enter on a button presses it.

        While checking, Enter does nothing: focus falls to "Go back", and a doubled Enter
        must not cancel the signature being checked.
        """
        if (event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent)
                or event.key() not in _ENTER_KEYS):
            return super().eventFilter(watched, event)
        if self._busy:
            return True
        if isinstance(watched, QPushButton):
            if watched.isEnabled():
                watched.click()
            return True
        if isinstance(watched, QWidget) and watched in self._inputs:
            index = self._inputs.index(watched)
            if index + 1 < len(self._inputs):
                self._inputs[index + 1].setFocus()
            else:
                self.submit(self.choices[0])
            return True
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        """Esc cancels (QDialog's own); Enter elsewhere never presses a default button."""
        if event.key() in _ENTER_KEYS:
            event.accept()
            return
        super().keyPressEvent(event)

    def done(self, result: int) -> None:
        """Close (accepted or cancelled) without leaving the password in memory."""
        if self.password_field is not None:
            self.password_field.clear()
        super().done(result)
