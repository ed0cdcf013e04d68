"""A read-only table model over a tuple of frozen records: the part every list shares.

Subclasses name their columns and say what a cell shows (:meth:`data`); the rows, their
count, the titles, the flags (selectable, never editable) and a full reset on new rows are
here once.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

Index = QModelIndex | QPersistentModelIndex


class RecordTableModel(QAbstractTableModel):
    """Rows are frozen records, one per line; ``columns`` are the titles."""

    def __init__(self, columns: tuple[str, ...], records: tuple[Any, ...] = (),
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.columns = columns
        self._records = records

    @property
    def records(self) -> tuple[Any, ...]:
        """The records shown, in order."""
        return self._records

    def set_records(self, records: tuple[Any, ...]) -> None:
        """Show ``records`` instead (a full reset: these lists are short)."""
        self.beginResetModel()
        self._records = records
        self.endResetModel()

    def record_at(self, index: Index) -> Any:
        """The record behind ``index`` (None when the index is not a cell of a record)."""
        if not index.isValid() or not 0 <= index.row() < len(self._records):
            return None
        if not 0 <= index.column() < len(self.columns):
            return None
        return self._records[index.row()]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        """Rows at the top level; none below a row."""
        return 0 if parent.isValid() else len(self._records)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        """One column per title."""
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Column titles; row numbers down the side."""
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self.columns[section] if 0 <= section < len(self.columns) else None
        return str(section + 1) if 0 <= section < len(self._records) else None

    def flags(self, index: Index) -> Qt.ItemFlag:
        """Selectable, never editable."""
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemNeverHasChildren)
