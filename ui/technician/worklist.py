"""The worklist screen: the orders waiting, most urgent first, hazardous ones marked.

:func:`worklist_rows` turns a :class:`~station.core.orders.Worklist` and the formulary into
frozen :class:`WorklistRow` records: STAT first, then urgent, then routine, each by due
time (clinical urgency decides the order; a hazardous order is never moved down). A row
whose drug is hazardous says "HAZARDOUS" in words in its own column, not by colour alone;
an order to make again because a pharmacist rejected its preparation says "REMAKE of P-…"
under its order id.

:class:`WorklistPresenter` asks for an order to be started (``start_requested(order_id)``)
when a row is activated or when a scanned text equals an order id on the list.
:class:`WorklistView` shows the table with large rows, arrow keys and Enter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from station.core.formulary import Formulary
from station.core.orders import Worklist
from station.services.order_rows import WorklistRow, worklist_rows
from ui.widgets.look import HAZARDOUS
from ui.widgets.record_table import RecordTableModel

TABLE_PT = 16
TITLE_PT = 26
ROW_HEIGHT = 80
PATIENT_WIDTH = 235
BASE_WIDTH = 275

_Index = QModelIndex | QPersistentModelIndex


# ------------------------------------------------------------------------------ model

COLUMNS = ("Order", "Priority", "Hazard", "Due", "Patient — location", "Drug and dose", "Base")

_STAT_BACKGROUND = QColor("#ffcdd2")  # light red; the word STAT and bold type carry it too
_HAZARD_BACKGROUND = QColor("#e1bee7")  # light purple, the usual colour of hazardous drugs
_HAZARD_CELL = QColor("#4a148c")  # the HAZARDOUS cell itself: white on deep purple
_BLACK = QColor("#000000")
_WHITE = QColor("#ffffff")
_REMAKE_CELL = QColor("#ffe082")  # amber behind the order id of a remake; the words carry it
_HAZARD_COLUMN = COLUMNS.index("Hazard")
_ORDER_COLUMN = COLUMNS.index("Order")


def _due_text(due: dt.datetime) -> str:
    return due.strftime("%H:%M\n%d %b")


class WorklistTableModel(RecordTableModel):
    """A read-only table over a tuple of frozen :class:`WorklistRow` records."""

    def __init__(self, rows: tuple[WorklistRow, ...] = (),
                 parent: QObject | None = None) -> None:
        super().__init__(COLUMNS, rows, parent)

    @property
    def rows(self) -> tuple[WorklistRow, ...]:
        """The rows shown, in order."""
        return self.records

    def set_rows(self, rows: tuple[WorklistRow, ...]) -> None:
        """Show ``rows`` instead."""
        self.set_records(rows)

    def row_at(self, index: _Index) -> WorklistRow | None:
        """The record behind ``index``, if it is valid."""
        row: WorklistRow | None = self.record_at(index)
        return row

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Text, and bold type and colours marking STAT and hazardous rows."""
        row = self.row_at(index)
        if row is None:
            return None
        if role == Qt.ItemDataRole.UserRole:
            return row.order_id
        render = _RENDERERS.get(role)
        return render(row, index.column()) if render is not None else None

    @staticmethod
    def _font(row: WorklistRow, column: int) -> QFont | None:
        if not (row.stat or (row.hazardous and column == _HAZARD_COLUMN)
                or (row.remake_of and column == _ORDER_COLUMN)):
            return None
        font = QFont()
        font.setBold(True)
        return font

    @staticmethod
    def _foreground(row: WorklistRow, column: int) -> QBrush | None:
        if not (row.stat or row.hazardous or row.remake_of):
            return None
        return QBrush(_WHITE if row.hazardous and column == _HAZARD_COLUMN else _BLACK)

    @staticmethod
    def _text(row: WorklistRow, column: int) -> str:
        texts = (
            f"{row.order_id}\n{row.remake_text}" if row.remake_of else row.order_id,
            row.priority.value.upper(),
            HAZARDOUS if row.hazardous else "",
            _due_text(row.due),
            row.patient,
            row.drugs,
            row.base,
        )
        return texts[column]

    @staticmethod
    def _background(row: WorklistRow, column: int) -> QBrush | None:
        if row.remake_of and column == _ORDER_COLUMN:
            return QBrush(_REMAKE_CELL)
        if row.hazardous and column == _HAZARD_COLUMN:
            return QBrush(_HAZARD_CELL)
        if row.stat:
            return QBrush(_STAT_BACKGROUND)
        if row.hazardous:
            return QBrush(_HAZARD_BACKGROUND)
        return None


_RENDERERS: dict[int, Callable[[WorklistRow, int], Any]] = {
    Qt.ItemDataRole.DisplayRole: WorklistTableModel._text,
    Qt.ItemDataRole.AccessibleTextRole: WorklistTableModel._text,
    Qt.ItemDataRole.FontRole: WorklistTableModel._font,
    Qt.ItemDataRole.BackgroundRole: WorklistTableModel._background,
    Qt.ItemDataRole.ForegroundRole: WorklistTableModel._foreground,
}


# ------------------------------------------------------------------------------ presenter


@dataclass(frozen=True)
class WorklistState:
    """What the worklist screen shows."""

    rows: tuple[WorklistRow, ...]
    message: str = ""
    good_news: bool = False  # the message reports success, not a problem

    @property
    def title(self) -> str:
        """``Worklist: 20 orders (3 STAT, 7 hazardous)``, and ``, 1 remake`` if any."""
        count = len(self.rows)
        stat = sum(1 for r in self.rows if r.stat)
        hazardous = sum(1 for r in self.rows if r.hazardous)
        remakes = sum(1 for r in self.rows if r.remake_of)
        noun = "order" if count == 1 else "orders"
        extra = f", {remakes} remake{'' if remakes == 1 else 's'}" if remakes else ""
        return f"Worklist: {count} {noun} ({stat} STAT, {hazardous} hazardous{extra})"


class WorklistPresenter(QObject):
    """Builds the rows and turns an activation or a scanned order id into a start request."""

    state_changed = Signal(object)  # WorklistState
    start_requested = Signal(str)  # order id

    def __init__(self, worklist: Worklist, formulary: Formulary,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._formulary = formulary
        self.state = WorklistState(worklist_rows(worklist, formulary))
        self._ids = frozenset(r.order_id for r in self.state.rows)

    def set_worklist(self, worklist: Worklist,
                     remakes: Mapping[str, str] | None = None) -> None:
        """Show the orders now to make (another station took one, a new one arrived).

        ``remakes`` maps an order id to the rejected preparation it is to be remade for.
        """
        rows = worklist_rows(worklist, self._formulary, remakes)
        if rows != self.state.rows:
            self.state = WorklistState(rows, self.state.message, self.state.good_news)
            self._ids = frozenset(r.order_id for r in rows)
            self.state_changed.emit(self.state)

    def say(self, message: str) -> None:
        """Report good news above the list (the last preparation is held for verification)."""
        self._set_message(message, good_news=True)

    def activate(self, order_id: str) -> None:
        """The operator chose this order on the list."""
        if order_id in self._ids:
            self._set_message("")
            self.start_requested.emit(order_id)

    def scan(self, text: str) -> bool:
        """A scanned text: starts the order it names; otherwise says why not."""
        order_id = text.strip()
        if order_id in self._ids:
            self.activate(order_id)
            return True
        self._set_message(f"not an order on this worklist: {order_id!r}")
        return False

    def _set_message(self, message: str, *, good_news: bool = False) -> None:
        if (message, good_news) != (self.state.message, self.state.good_news):
            self.state = WorklistState(self.state.rows, message, good_news)
            self.state_changed.emit(self.state)


# ------------------------------------------------------------------------------ view


class WorklistView(QWidget):
    """The title with the count, a message line and the table; Enter starts the order."""

    def __init__(self, presenter: WorklistPresenter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("worklist_view")
        self._presenter = presenter

        self.title_label = QLabel(self)
        self.title_label.setObjectName("worklist_title")
        title_font = QFont()
        title_font.setPointSize(TITLE_PT)
        title_font.setBold(True)
        self.title_label.setFont(title_font)

        self.message_label = QLabel(self)
        self.message_label.setObjectName("worklist_message")
        self.message_label.setWordWrap(True)
        message_font = QFont()
        message_font.setPointSize(TABLE_PT + 2)
        message_font.setBold(True)
        self.message_label.setFont(message_font)
        self.message_label.hide()

        self.model = WorklistTableModel(parent=self)
        self.table = QTableView(self)
        self.table.setObjectName("worklist_table")
        self.table.setModel(self.model)
        table_font = QFont()
        table_font.setPointSize(TABLE_PT)
        self.table.setFont(table_font)
        header_font = QFont()
        header_font.setPointSize(TABLE_PT - 2)
        header_font.setBold(True)
        self.table.horizontalHeader().setFont(header_font)
        self.table.horizontalHeader().setMinimumHeight(ROW_HEIGHT - 8)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setTabKeyNavigation(False)
        self.table.setWordWrap(True)
        self.table.setAlternatingRowColors(False)
        self.table.setStyleSheet(
            "QTableView::item:selected { background: #0d47a1; color: #ffffff; }"
            " QTableView { gridline-color: #9e9e9e; }")
        self.table.activated.connect(self._on_row_activated)

        layout = QVBoxLayout(self)
        layout.setSpacing(12)
        layout.addWidget(self.title_label)
        layout.addWidget(self.message_label)
        layout.addWidget(self.table, 1)

        presenter.state_changed.connect(self.show_state)
        self.show_state(presenter.state)
        self.setFocusProxy(self.table)

    def show_state(self, state: WorklistState) -> None:
        """Render ``state``; the first row is selected so Enter works straight away."""
        self.title_label.setText(state.title)
        mark, background = ("✔", "#1b5e20") if state.good_news else ("✖", "#b71c1c")
        self.message_label.setText(f"{mark} {state.message}" if state.message else "")
        self.message_label.setStyleSheet(
            f"QLabel {{ background: {background}; color: #ffffff; padding: 10px 14px; }}")
        self.message_label.setVisible(bool(state.message))
        if state.rows != self.model.rows:
            self.model.set_rows(state.rows)
            self._fit_columns()
            if state.rows:
                self.table.selectRow(0)

    def _fit_columns(self) -> None:
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        for name, width in (("Patient — location", PATIENT_WIDTH), ("Base", BASE_WIDTH)):
            header.setSectionResizeMode(COLUMNS.index(name), QHeaderView.ResizeMode.Fixed)
            header.resizeSection(COLUMNS.index(name), width)
        header.setSectionResizeMode(COLUMNS.index("Drug and dose"), QHeaderView.ResizeMode.Stretch)

    def _on_row_activated(self, index: QModelIndex) -> None:
        row = self.model.row_at(index)
        if row is not None:
            self._presenter.activate(row.order_id)
