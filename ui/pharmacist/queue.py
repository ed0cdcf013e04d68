"""The pharmacist's queue on screen: what is held for verification or an in-process check.

The entries come from :class:`~station.services.verification_queue.VerificationQueue`.
:class:`QueueTableModel` shows the entries in three columns of short lines, and
:class:`QueueView` the title with the counts above the table; ``selected(preparation_id)``
fires when the highlighted row changes. Ages are shown against the time given to
:meth:`QueueTableModel.set_now`, which the page moves on every half minute.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QItemSelection,
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

from station.services.verification_queue import QueueEntry
from ui.widgets.look import HAZARDOUS, font
from ui.widgets.record_table import RecordTableModel

TABLE_PT = 15
TITLE_PT = 22
ROW_HEIGHT = 84
VERIFY = "VERIFY"
CHECK = "IN-PROCESS\nCHECK"
REMAKE = "↻ REMAKE"

_Index = QModelIndex | QPersistentModelIndex


def waited_text(waited: dt.timedelta) -> str:
    """``just now``, ``12 min``, ``1 h 05 min``, ``2 d 3 h``.

    >>> waited_text(dt.timedelta(minutes=65))
    '1 h 05 min'
    """
    minutes = int(waited.total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"



# ------------------------------------------------------------------------------ model

COLUMNS = ("Priority", "Patient · drug", "Awaiting")
_PRIORITY, _WHAT, _AWAITING = range(len(COLUMNS))
_STAT_BACKGROUND = QColor("#ffcdd2")
_CHECK_CELL = QColor("#ffe082")  # a technician is waiting at the hood
_HAZARD_BACKGROUND = QColor("#e1bee7")  # as on the worklist; the word HAZARDOUS carries it
_BLACK = QColor("#000000")


class QueueTableModel(RecordTableModel):
    """A read-only table over the queue's entries; ages as at :meth:`set_now`."""

    def __init__(self, now: dt.datetime, parent: QObject | None = None) -> None:
        super().__init__(COLUMNS, (), parent)
        self._now = now

    @property
    def entries(self) -> tuple[QueueEntry, ...]:
        """The entries shown, in order."""
        return self.records

    def set_entries(self, entries: tuple[QueueEntry, ...]) -> None:
        """Show ``entries`` instead."""
        self.set_records(entries)

    def set_now(self, now: dt.datetime) -> None:
        """Show the ages as at ``now``."""
        self._now = now
        if self.records:
            last = len(self.records) - 1
            self.dataChanged.emit(self.index(0, _AWAITING), self.index(last, _AWAITING))

    def row_of(self, preparation_id: str) -> int | None:
        """The row showing this preparation, if any."""
        return next((i for i, e in enumerate(self.records)
                     if e.preparation_id == preparation_id), None)

    def entry_at(self, index: _Index) -> QueueEntry | None:
        """The entry behind ``index``, if it is valid."""
        entry: QueueEntry | None = self.record_at(index)
        return entry

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Text, and bold type and colours for STAT, in-process checks and hazardous drugs."""
        entry = self.entry_at(index)
        if entry is None:
            return None
        if role == Qt.ItemDataRole.UserRole:
            return entry.preparation_id
        render = _RENDERERS.get(role)
        return render(self, entry, index.column()) if render is not None else None

    def text(self, entry: QueueEntry, column: int) -> str:
        """What the cell at ``column`` says for ``entry``."""
        if column == _PRIORITY:
            due = entry.due.astimezone(self._now.tzinfo)
            return f"{entry.priority.value.upper()}\ndue {due:%H:%M}\n{due:%d %b}"
        if column == _WHAT:
            marks = [m for m, on in ((HAZARDOUS, entry.hazardous),
                                     (f"{REMAKE} of {entry.remake_of}", entry.remake_of)) if on]
            return "\n".join([entry.patient, entry.drugs, *marks,
                              f"{entry.preparation_id} · by {entry.preparer}"])
        what = CHECK if entry.is_check else VERIFY
        return f"{what}\nheld {waited_text(entry.waited(self._now))}\nat {entry.station_id}"

    def _font(self, entry: QueueEntry, column: int) -> QFont | None:
        bold = entry.stat or column == _AWAITING
        return font(TABLE_PT, bold=True) if bold else None

    def _background(self, entry: QueueEntry, column: int) -> QBrush | None:
        if column == _AWAITING and entry.is_check:
            return QBrush(_CHECK_CELL)
        if column == _WHAT and entry.hazardous:
            return QBrush(_HAZARD_BACKGROUND)
        return QBrush(_STAT_BACKGROUND) if entry.stat else None

    def _foreground(self, entry: QueueEntry, column: int) -> QBrush | None:
        coloured = entry.stat or (column == _AWAITING and entry.is_check) or (
            column == _WHAT and entry.hazardous)
        return QBrush(_BLACK) if coloured else None


_RENDERERS: dict[int, Callable[[QueueTableModel, QueueEntry, int], Any]] = {
    Qt.ItemDataRole.DisplayRole: QueueTableModel.text,
    Qt.ItemDataRole.AccessibleTextRole: QueueTableModel.text,
    Qt.ItemDataRole.FontRole: QueueTableModel._font,
    Qt.ItemDataRole.BackgroundRole: QueueTableModel._background,
    Qt.ItemDataRole.ForegroundRole: QueueTableModel._foreground,
}


# ------------------------------------------------------------------------------ view


def queue_title(entries: tuple[QueueEntry, ...]) -> str:
    """``Queue: 4 to verify, 1 in-process check (2 STAT)``."""
    checks = sum(1 for e in entries if e.is_check)
    verify = len(entries) - checks
    stat = sum(1 for e in entries if e.stat)
    check_words = f", {checks} in-process check{'' if checks == 1 else 's'}" if checks else ""
    return f"Queue: {verify} to verify{check_words} ({stat} STAT)"


class QueueView(QWidget):
    """The title with the counts and the table; ``selected(preparation_id)`` on a new row."""

    selected = Signal(str)
    activated = Signal(str)  # Enter on a row: go to its review

    def __init__(self, now: Callable[[], dt.datetime], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("verification_queue")
        self._now = now
        self.title_label = QLabel(queue_title(()), self)
        self.title_label.setObjectName("queue_title")
        self.title_label.setFont(font(TITLE_PT, bold=True))
        self.title_label.setWordWrap(True)

        self.model = QueueTableModel(now(), self)
        self.table = QTableView(self)
        self.table.setObjectName("queue_table")
        self.table.setModel(self.model)
        self.table.setFont(font(TABLE_PT))
        header = self.table.horizontalHeader()
        header.setFont(font(TABLE_PT - 2, bold=True))
        header.setMinimumHeight(48)
        for column in (_PRIORITY, _AWAITING):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(_WHAT, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        # Rows grow to their text: a drug name is never cut short.
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setMinimumSectionSize(ROW_HEIGHT)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setTabKeyNavigation(False)
        self.table.setWordWrap(True)
        self.table.setStyleSheet(
            "QTableView::item:selected { background: #0d47a1; color: #ffffff; }"
            " QTableView { gridline-color: #9e9e9e; }"
            " QTableView:focus { border: 4px solid #ffab00; }")
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.table.activated.connect(self._on_activated)

        self.empty_label = QLabel("Nothing is waiting for a pharmacist.", self)
        self.empty_label.setObjectName("queue_empty")
        self.empty_label.setFont(font(TABLE_PT + 2))
        self.empty_label.setStyleSheet("QLabel { color: #1b5e20; padding: 8px; }")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.title_label)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.table, 1)
        self.setFocusProxy(self.table)
        self._current: str | None = None

    @property
    def current(self) -> str | None:
        """The preparation highlighted, if any."""
        return self._current

    def set_entries(self, entries: tuple[QueueEntry, ...]) -> None:
        """Show ``entries``, keeping the highlighted preparation if it is still there.

        With nothing highlighted yet, the first entry is. A highlighted preparation that left
        the queue (another pharmacist decided it) stays :attr:`current`, so its review stays
        on show, until :meth:`next` or a new choice.
        """
        keep = self._current
        self.model.set_now(self._now())
        self.table.selectionModel().blockSignals(True)
        self.model.set_entries(entries)
        self.table.selectionModel().blockSignals(False)
        self.title_label.setText(queue_title(entries))
        self.empty_label.setVisible(not entries)
        row = self.model.row_of(keep) if keep is not None else None
        if row is None and keep is None and entries:
            row = 0
        if row is not None:
            self.select_row(row)

    def next(self) -> None:
        """Leave the preparation just decided: highlight the first one waiting, if any."""
        self._current = None
        self.table.clearSelection()
        if self.model.entries:
            self.select_row(0)

    def select(self, preparation_id: str) -> bool:
        """Highlight this preparation; False if it is not in the queue."""
        row = self.model.row_of(preparation_id)
        if row is None:
            return False
        self.select_row(row)
        return True

    def select_row(self, row: int) -> None:
        """Highlight row ``row`` (and announce it if it is another preparation)."""
        self.table.selectRow(row)
        self.table.setCurrentIndex(self.model.index(row, 0))
        self._announce(row)

    def tick(self) -> None:
        """Move the ages on to now."""
        self.model.set_now(self._now())

    def _on_selection(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = {index.row() for index in selected.indexes()}
        if rows:
            self._announce(min(rows))

    def _announce(self, row: int) -> None:
        entry = self.model.entry_at(self.model.index(row, 0))
        if entry is not None and entry.preparation_id != self._current:
            self._current = entry.preparation_id
            self.selected.emit(entry.preparation_id)

    def _on_activated(self, index: QModelIndex) -> None:
        entry = self.model.entry_at(index)
        if entry is not None:
            self.activated.emit(entry.preparation_id)
