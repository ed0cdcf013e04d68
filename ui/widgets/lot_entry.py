"""The lot and expiry of a package whose barcode carries neither: confirm the read, or type.

:class:`LotEntryPanel` shows the product and what its barcode lacks, then one of three things:

- the lot and expiry the camera read from the printed label, large, with "read from the label —
  check it against the package": Enter (handled by the screen) confirms them;
- "reading the printed lot…" while the read is under way;
- two fields, lot and expiry, typed twice, blind: the first pair is checked for form (a lot
  the record can hold, an expiry as ``YYYY-MM-DD``, ``YYYY-MM`` or ``MM/YYYY``) and hidden,
  then the second pair is typed into empty fields. Two pairs that differ
  (:func:`~station.core.components.typed_twice`) are not sent: the panel says how they differ
  and starts again at the first pair. Two that agree go out together with
  ``typed(first_lot, first_expiry, second_lot, second_expiry)``, for the hood to check and
  record.

:meth:`LotEntryPanel.start_typing` opens the fields (the screen's T key); Esc in a field leaves
them (``typing_left``); ``typing_changed`` says whenever they open or close. Enter and Esc typed
in a field are kept inside the panel, so Enter never reaches the screen and confirms the read
by accident.

The screen's message while a package waits goes to :meth:`LotEntryPanel.show_message`: a new
refusal (``✖ …``) shows on the panel's error line; what merely repeats the read is left out,
since the panel shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from station.core.components import (
    ComponentError,
    parse_typed_expiry,
    parse_typed_lot,
    typed_twice,
)
from ui.widgets.look import font, line_edit, text_label

READ_PT = 26
TEXT_PT = 16
FIELD_PT = 20
FIELD_HEIGHT = 52
FIELD_WIDTH = 220
EXPIRY_FORMS = "YYYY-MM-DD, YYYY-MM or MM/YYYY"
FIRST_ENTRY = "Type the lot and expiry from the package (entry 1 of 2)"
SECOND_ENTRY = "Type them again from the package (entry 2 of 2: the first is hidden)"
READING = "Reading the printed lot and expiry…"
READ_CAUTION = "read from the label — check it against the package"

_ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)


@dataclass(frozen=True)
class LotPrompt:
    """What the panel shows of the package waiting for its lot and expiry.

    ``number`` tells one package from the next; ``read`` is ``LOT … EXP …`` as read from the
    printed label (None until read, or when it could not be read: ``problem`` says why);
    ``reading`` is True while the read is under way.
    """

    number: int
    product: str
    missing: str
    read: str | None = None
    confidence: float | None = None
    problem: str | None = None
    reading: bool = False


class LotEntryPanel(QWidget):
    """See the module's description."""

    typed = Signal(str, str, str, str)  # first lot, first expiry, second lot, second expiry
    typing_left = Signal()
    typing_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lot_entry")
        self.prompt: LotPrompt | None = None
        self._first: tuple[str, str] | None = None
        self._typing = False
        self._message = ""

        self.product_label = text_label(self, "lot_product", TEXT_PT, bold=True)
        self.read_label = text_label(self, "lot_read", READ_PT, bold=True)
        self.read_label.setStyleSheet(
            "QLabel { background: #fff8e1; color: #000000; border: 3px solid #ff8f00;"
            " padding: 6px 12px; }")
        self.caution_label = text_label(self, "lot_caution", TEXT_PT)
        self.entry_label = text_label(self, "lot_entry_heading", TEXT_PT, bold=True)
        self.error_label = text_label(self, "lot_error", TEXT_PT, bold=True)
        self.error_label.setStyleSheet("QLabel { color: #b71c1c; }")
        self.keys_label = text_label(self, "lot_keys", TEXT_PT)
        self.keys_label.setStyleSheet("QLabel { color: #424242; }")
        self.lot_field = line_edit(self, "lot_field", "Lot", points=FIELD_PT,
                                   height=FIELD_HEIGHT, width=FIELD_WIDTH)
        self.lot_field.setPlaceholderText("Lot")
        self.expiry_field = line_edit(self, "expiry_field", "Expiry", points=FIELD_PT,
                                      height=FIELD_HEIGHT, width=FIELD_WIDTH)
        self.expiry_field.setPlaceholderText("YYYY-MM-DD or MM/YYYY")
        self.expiry_field.setToolTip(f"The expiry as {EXPIRY_FORMS}")
        for field in (self.lot_field, self.expiry_field):
            field.installEventFilter(self)
        self._fields = QWidget(self)
        grid = QGridLayout(self._fields)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(12)
        for column, (caption, field) in enumerate((("Lot", self.lot_field),
                                                   ("Expiry", self.expiry_field))):
            label = QLabel(caption, self._fields)
            label.setFont(font(TEXT_PT))
            grid.addWidget(label, 0, 2 * column)
            grid.addWidget(field, 0, 2 * column + 1, 1, 1)
            grid.setColumnStretch(2 * column + 1, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(6)
        for widget in (self.product_label, self.read_label, self.caution_label,
                       self.entry_label, self._fields, self.error_label, self.keys_label):
            layout.addWidget(widget)
        layout.addStretch(1)
        self._render()

    # ------------------------------------------------------------ state

    @property
    def typing(self) -> bool:
        """Whether the lot and expiry fields are open."""
        return self._typing

    @property
    def entry(self) -> int:
        """Which entry is being typed: 1 or 2 (the first is kept, hidden, meanwhile)."""
        return 1 if self._first is None else 2

    def show_prompt(self, prompt: LotPrompt | None) -> None:
        """Show ``prompt``; a new package (or a read that failed) starts afresh."""
        before = self.prompt
        self.prompt = prompt
        if prompt is None or before is None or before.number != prompt.number:
            self._stop_typing()
        if prompt is not None and prompt.problem is not None and (
                before is None or before.problem != prompt.problem) and not self._typing:
            self.start_typing()  # nothing to confirm: the lot must be typed
            return
        self._render()

    def start_typing(self) -> None:
        """Open the fields at the first entry, the lot field focused."""
        if self.prompt is None:
            return
        self._typing = True
        self._restart()
        self._render()
        self.lot_field.setFocus()
        self.typing_changed.emit(True)

    def show_message(self, message: str) -> None:
        """The screen's message line, shown here when it is news (see the module)."""
        before, self._message = self._message, message
        if message != before and message.startswith("✖"):
            self.error_label.setText(message)
            self.error_label.show()

    def leave_typing(self) -> None:
        """Close the fields, dropping what was typed."""
        self._stop_typing()
        self._render()
        self.typing_left.emit()

    # ------------------------------------------------------------ keys in the fields

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        """Enter moves lot → expiry → next entry; Esc leaves the fields."""
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        if event.key() in _ENTER_KEYS:
            if watched is self.lot_field:
                self.expiry_field.setFocus()
            else:
                self._submit_entry()
            return True
        if event.key() == Qt.Key.Key_Escape:
            self.leave_typing()
            return True
        return False

    def _submit_entry(self) -> None:
        lot, expiry = self.lot_field.text(), self.expiry_field.text()
        try:
            parse_typed_lot(lot)
            parse_typed_expiry(expiry)
        except ComponentError as error:
            self.error_label.setText(f"✖ {error}")
            self.error_label.show()
            (self.lot_field if not lot.strip() else self.expiry_field).setFocus()
            return
        self.error_label.hide()
        if self._first is None:
            self._first = (lot, expiry)
            self._clear_fields()
            self._render()
            self.lot_field.setFocus()
            return
        first_lot, first_expiry = self._first
        self._restart()
        self._render()
        self.lot_field.setFocus()
        try:
            typed_twice(first_lot, first_expiry, lot, expiry)
        except ComponentError as error:
            self.error_label.setText(f"✖ {error}")
            self.error_label.show()
            return
        self.typed.emit(first_lot, first_expiry, lot, expiry)

    # ------------------------------------------------------------ rendering

    def _restart(self) -> None:
        self._first = None
        self._clear_fields()
        self.error_label.hide()

    def _stop_typing(self) -> None:
        was = self._typing
        self._typing = False
        self._restart()
        if was:
            self.typing_changed.emit(False)

    def _clear_fields(self) -> None:
        self.lot_field.clear()
        self.expiry_field.clear()

    def _render(self) -> None:
        prompt = self.prompt
        if prompt is None:
            for widget in (self.product_label, self.read_label, self.caution_label,
                           self.entry_label, self._fields, self.keys_label):
                widget.hide()
            return
        self.product_label.setText(prompt.missing[:1].upper() + prompt.missing[1:])
        self.product_label.setToolTip(prompt.product)
        self.product_label.show()
        offered = prompt.read is not None and not self._typing
        self.read_label.setText(prompt.read or "")
        self.read_label.setVisible(offered)
        if offered:
            confidence = (f" (confidence {prompt.confidence:.0f})"
                          if prompt.confidence is not None else "")
            caution = f"{READ_CAUTION}{confidence}"
        elif self._typing:
            caution = ""
        elif prompt.reading:
            caution = READING
        elif prompt.problem is not None:
            caution = f"The printed lot could not be read: {prompt.problem}"
        else:
            caution = "Hold the package's printed lot and expiry under the camera"
        self.caution_label.setText(caution)
        self.caution_label.setVisible(bool(caution))
        self.entry_label.setText(FIRST_ENTRY if self.entry == 1 else SECOND_ENTRY)
        self.entry_label.setVisible(self._typing)
        self._fields.setVisible(self._typing)
        if self._typing:
            keys = "Enter: next · Esc: stop typing"
        elif offered:
            keys = "Enter: it is right · T: type it instead · Esc: set the package aside"
        else:
            keys = "T: type the lot and expiry · Esc: set the package aside"
        self.keys_label.setText(keys)
        self.keys_label.show()
