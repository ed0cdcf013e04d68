"""The auditor's search: the keys, the matching preparations as a table, export as CSV.

:func:`parse_query` turns what was typed into a :class:`~ui.workers.audit_worker.SearchQuery` (dates
as ``YYYY-MM-DD``); the matching itself is :meth:`station.services.audit.AuditService.search`,
run by the :class:`~ui.workers.audit_worker.AuditWorker`. :class:`ResultsTableModel` is a
read-only table over the frozen :class:`~station.services.audit.PreparationSummary` records
found.

:class:`AuditSearchPresenter` holds what the screen shows (:class:`SearchState`) and asks
through signals: ``search_requested(SearchQuery)``, ``export_requested(path, summaries)``,
``replay_requested(preparation_id)``. :class:`AuditSearchView` is the form, the table (Enter
or a double click replays a row) and the CSV export, whose file name comes from an
injectable :class:`AuditPrompts`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from station.services.audit import (
    AWAITING_VERIFICATION,
    CANCELLED,
    IN_PROGRESS,
    OUTCOMES,
    REJECTED,
    VERIFIED,
    PreparationSummary,
    SearchError,
)
from ui.widgets.look import font, line_edit
from ui.widgets.record_table import RecordTableModel
from ui.workers.audit_worker import SearchQuery, SearchResult

TABLE_PT = 13
FORM_PT = 13
TITLE_PT = 18
FIELD_HEIGHT = 40
ROW_HEIGHT = 72
LOTS_WIDTH = 240
ANY_OUTCOME = "any outcome"

_Index = QModelIndex | QPersistentModelIndex

#: The text fields of the form: (key, label, placeholder).
TEXT_FIELDS = (
    ("patient", "Patient", "id, or part of the name"),
    ("drug", "Drug", "part of the name"),
    ("ndc", "NDC", "any shape, or GTIN"),
    ("lot", "Lot", "whole lot"),
    ("technician", "Technician", "user id"),
    ("pharmacist", "Pharmacist", "user id"),
    ("station", "Station", "station id"),
    ("date_from", "From", "YYYY-MM-DD (UTC)"),
    ("date_to", "To", "YYYY-MM-DD (UTC)"),
)


def parse_query(texts: Mapping[str, str], outcome: str | None = None) -> SearchQuery:
    """The query the form's texts make (blank: not searched on); :class:`SearchError` if not.

    >>> parse_query({"lot": " N4265K ", "date_from": "2026-11-26"}, VERIFIED)
    SearchQuery(patient=None, drug=None, ndc=None, lot='N4265K', technician=None, \
pharmacist=None, station=None, date_from=datetime.date(2026, 11, 26), date_to=None, \
outcome='verified')
    """
    keys: dict[str, Any] = {}
    for name, label, _hint in TEXT_FIELDS:
        text = texts.get(name, "").strip()
        if not text:
            continue
        if name.startswith("date_"):
            try:
                keys[name] = dt.date.fromisoformat(text)
            except ValueError:
                raise SearchError(f"{label}: {text!r} is not a date; type YYYY-MM-DD") from None
        else:
            keys[name] = text
    first, last = keys.get("date_from"), keys.get("date_to")
    if first is not None and last is not None and first > last:
        raise SearchError(f"the start date {first} is after the end date {last}")
    return SearchQuery(**keys, outcome=outcome or None)


# ------------------------------------------------------------------------------ model

COLUMNS = ("Preparation", "Outcome", "Created (UTC)", "Drug", "Patient", "Technician",
           "Pharmacist", "Lots", "Station", "Stops")
#: The role whose value the table sorts on (times and counts sort as such, not as text).
SORT_ROLE = Qt.ItemDataRole.UserRole + 1

OUTCOME_COLOURS = {
    VERIFIED: "#c8e6c9",
    REJECTED: "#ffcdd2",
    CANCELLED: "#e0e0e0",
    AWAITING_VERIFICATION: "#fff3c4",
    IN_PROGRESS: "#bbdefb",
}
_OUTCOME_COLUMN = COLUMNS.index("Outcome")
_STOPS_COLUMN = COLUMNS.index("Stops")


def _pharmacist(summary: PreparationSummary) -> str:
    if summary.verified_by:
        return summary.verified_by
    return f"{summary.rejected_by} (rejected)" if summary.rejected_by else "—"


def _patient(summary: PreparationSummary) -> str:
    return "\n".join(part for part in (summary.patient_id, summary.patient_name) if part) or "—"


def _drug(summary: PreparationSummary) -> str:
    drug = summary.drug or "—"
    return f"{drug}\nin {summary.base}" if summary.base else drug


def cell_texts(summary: PreparationSummary) -> tuple[str, ...]:
    """The text of each of :data:`COLUMNS` for one summary."""
    return (
        summary.preparation_id,
        summary.outcome.upper(),
        f"{summary.created_utc.astimezone(dt.UTC):%Y-%m-%d %H:%M}",
        _drug(summary),
        _patient(summary),
        summary.prepared_by or "—",
        _pharmacist(summary),
        ", ".join(summary.lots) or "—",
        "\n".join(summary.stations),
        str(summary.hard_stops),
    )


class ResultsTableModel(RecordTableModel):
    """A read-only table over a tuple of frozen :class:`PreparationSummary` records."""

    def __init__(self, found: tuple[PreparationSummary, ...] = (),
                 parent: QObject | None = None) -> None:
        super().__init__(COLUMNS, found, parent)

    @property
    def found(self) -> tuple[PreparationSummary, ...]:
        """The summaries shown, in the order the search returned them."""
        return self.records

    def set_found(self, found: tuple[PreparationSummary, ...]) -> None:
        """Show ``found`` instead."""
        self.set_records(found)

    def summary_at(self, index: _Index) -> PreparationSummary | None:
        """The summary behind ``index``, if it is valid."""
        summary: PreparationSummary | None = self.record_at(index)
        return summary

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Text, the outcome's colour, the decision's reason as a tooltip, sort keys."""
        summary = self.summary_at(index)
        if summary is None:
            return None
        render = _RENDERERS.get(role)
        return render(summary, index.column()) if render is not None else None


def _text(summary: PreparationSummary, column: int) -> str:
    return cell_texts(summary)[column]


def _background(summary: PreparationSummary, column: int) -> QBrush | None:
    if column != _OUTCOME_COLUMN:
        return None
    return QBrush(QColor(OUTCOME_COLOURS.get(summary.outcome, "#ffffff")))


def _foreground(summary: PreparationSummary, column: int) -> QBrush | None:
    return QBrush(QColor("#000000")) if column == _OUTCOME_COLUMN else None


def _font(summary: PreparationSummary, column: int) -> QFont | None:
    if column == _OUTCOME_COLUMN or (column == _STOPS_COLUMN and summary.hard_stops):
        return font(TABLE_PT, bold=True)
    return None


def _sort_key(summary: PreparationSummary, column: int) -> Any:
    if column == COLUMNS.index("Created (UTC)"):
        return summary.created_utc.astimezone(dt.UTC).isoformat()
    if column == _STOPS_COLUMN:
        return summary.hard_stops
    return cell_texts(summary)[column].casefold()


_RENDERERS: dict[int, Callable[[PreparationSummary, int], Any]] = {
    Qt.ItemDataRole.DisplayRole: _text,
    Qt.ItemDataRole.AccessibleTextRole: _text,
    Qt.ItemDataRole.UserRole: lambda summary, _column: summary.preparation_id,
    SORT_ROLE: _sort_key,
    Qt.ItemDataRole.ToolTipRole: lambda summary, _column: summary.decision_reason,
    Qt.ItemDataRole.BackgroundRole: _background,
    Qt.ItemDataRole.ForegroundRole: _foreground,
    Qt.ItemDataRole.FontRole: _font,
}


# ------------------------------------------------------------------------------ presenter


@dataclass(frozen=True)
class SearchState:
    """What the search screen shows."""

    found: tuple[PreparationSummary, ...] = ()
    query: SearchQuery | None = None  # the query ``found`` answers; None before any search
    total: int = 0  # preparations in the record at that search
    busy: bool = False
    message: str = ""
    problem: bool = False  # the message reports a problem, not news

    @property
    def title(self) -> str:
        """``3 of 8 preparations: lot N4265K``, or an invitation to search."""
        if self.query is None:
            return "Search the record"
        noun = "preparation" if self.total == 1 else "preparations"
        return f"{len(self.found)} of {self.total} {noun}: {self.query.describe()}"


class AuditSearchPresenter(QObject):
    """Sends searches and exports to the worker and shows what comes back."""

    state_changed = Signal(object)  # SearchState
    search_requested = Signal(object)  # SearchQuery
    export_requested = Signal(str, object)  # path, tuple[PreparationSummary, ...]
    replay_requested = Signal(str)  # preparation id

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = SearchState()

    def submit(self, texts: Mapping[str, str], outcome: str | None) -> None:
        """Search for what the form says, or say what is wrong with it."""
        try:
            query = parse_query(texts, outcome)
        except SearchError as error:
            self._set(message=str(error), problem=True)
            return
        self._set(busy=True, message=f"Searching for {query.describe()}…", problem=False)
        self.search_requested.emit(query)

    def show_result(self, result: SearchResult) -> None:
        """The worker's answer."""
        self._set(found=result.found, query=result.query, total=result.total, busy=False,
                  message="", problem=False)

    def show_search_failure(self, query: SearchQuery, why: str) -> None:
        """The worker could not search (a bad NDC, the database unreachable)."""
        self._set(busy=False, message=f"Search for {query.describe()} failed: {why}",
                  problem=True)

    def export(self, path: str) -> None:
        """Write the results shown to ``path`` (on the worker)."""
        self._set(message=f"Exporting {len(self.state.found)} rows to {path}…", problem=False)
        self.export_requested.emit(path, self.state.found)

    def show_exported(self, path: str, rows: int) -> None:
        """The CSV is written."""
        self._set(message=f"✔ Exported {rows} preparation{'s' if rows != 1 else ''} to {path}",
                  problem=False)

    def show_export_failure(self, path: str, why: str) -> None:
        """The CSV could not be written."""
        self._set(message=f"Export to {path} failed: {why}", problem=True)

    def replay(self, preparation_id: str) -> None:
        """The auditor chose a preparation to replay."""
        self.replay_requested.emit(preparation_id)

    def clear(self) -> None:
        """Forget the results (the auditor signed out)."""
        self._set(found=(), query=None, total=0, busy=False, message="", problem=False)

    def _set(self, **changes: Any) -> None:
        state = replace(self.state, **changes)
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)


# ------------------------------------------------------------------------------ view


class AuditPrompts(Protocol):
    """Asks the auditor things; tests answer without a dialog."""

    def csv_path(self, parent: QWidget, suggested: str) -> str | None:
        """Where to save the CSV file, or None when the auditor cancels."""
        ...


class FileDialogPrompts:
    """:class:`AuditPrompts` through the platform's file dialog."""

    def csv_path(self, parent: QWidget, suggested: str) -> str | None:
        """A save-file dialog for CSV files; ``.csv`` is added when left out."""
        path, _filter = QFileDialog.getSaveFileName(parent, "Export the results as CSV",
                                                    suggested, "CSV files (*.csv)")
        if not path:
            return None
        return path if path.lower().endswith(".csv") else f"{path}.csv"


def suggested_name(today: dt.date | None = None) -> str:
    """``audit-2026-11-27.csv``."""
    day = today if today is not None else dt.datetime.now(dt.UTC).date()
    return f"audit-{day.isoformat()}.csv"


class AuditSearchView(QWidget):
    """The form, the results and the export button; Enter searches, or replays a row."""

    def __init__(self, presenter: AuditSearchPresenter, prompts: AuditPrompts | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("audit_search")
        self._presenter = presenter
        self._prompts = prompts if prompts is not None else FileDialogPrompts()

        self.fields: dict[str, QLineEdit] = {}
        self.outcome = QComboBox(self)
        form = self._make_form()
        self.search_button = self._button("audit_search_button", "Search  ⏎", self.submit)
        self.clear_button = self._button("audit_clear_button", "Clear", self.clear_form)
        self.export_button = self._button("audit_export_button", "Export CSV…",
                                          self.export)
        buttons = QHBoxLayout()
        buttons.addWidget(self.search_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)

        self.title_label = QLabel(self)
        self.title_label.setObjectName("audit_search_title")
        self.title_label.setFont(font(TITLE_PT, bold=True))
        self.message_label = QLabel(self)
        self.message_label.setObjectName("audit_search_message")
        self.message_label.setWordWrap(True)
        self.message_label.setFont(font(FORM_PT, bold=True))
        self.message_label.hide()

        self.model = ResultsTableModel(parent=self)
        self.sorted = QSortFilterProxyModel(self)
        self.sorted.setSourceModel(self.model)
        self.sorted.setSortRole(SORT_ROLE)
        self.table = self._make_table()

        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.title_label)
        layout.addWidget(self.message_label)
        layout.addWidget(self.table, 1)

        presenter.state_changed.connect(self.show_state)
        self.show_state(presenter.state)
        self.setFocusProxy(self.fields["patient"])

    def _make_form(self) -> QGridLayout:
        form = QGridLayout()
        form.setHorizontalSpacing(12)
        form.setVerticalSpacing(6)
        for position, (name, label, hint) in enumerate(TEXT_FIELDS):
            field = line_edit(self, f"audit_{name}", label, points=FORM_PT, height=FIELD_HEIGHT,
                              width=150)
            field.setPlaceholderText(hint)
            field.setClearButtonEnabled(True)
            field.returnPressed.connect(self.submit)
            self.fields[name] = field
            self._place(form, position, label, field)
        self.outcome.setObjectName("audit_outcome")
        self.outcome.setAccessibleName("Outcome")
        self.outcome.setFont(font(FORM_PT))
        self.outcome.setMinimumHeight(FIELD_HEIGHT)
        self.outcome.addItem(ANY_OUTCOME, None)
        for outcome in OUTCOMES:
            self.outcome.addItem(outcome, outcome)
        self._place(form, len(TEXT_FIELDS), "Outcome", self.outcome)
        return form

    def _place(self, form: QGridLayout, position: int, label: str, field: QWidget) -> None:
        row, column = divmod(position, 5)
        caption = QLabel(label, self)
        caption.setFont(font(FORM_PT, bold=True))
        caption.setBuddy(field)
        form.addWidget(caption, row * 2, column)
        form.addWidget(field, row * 2 + 1, column)

    def _button(self, name: str, text: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setFont(font(FORM_PT, bold=True))
        button.setMinimumHeight(FIELD_HEIGHT + 4)
        button.setMinimumWidth(150)
        button.clicked.connect(slot)
        return button

    def _make_table(self) -> QTableView:
        table = QTableView(self)
        table.setObjectName("audit_results")
        table.setModel(self.sorted)
        table.setFont(font(TABLE_PT))
        table.horizontalHeader().setFont(font(TABLE_PT - 1, bold=True))
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setTabKeyNavigation(False)
        table.setWordWrap(True)
        table.setSortingEnabled(True)
        table.setStyleSheet("QTableView::item:selected { background: #0d47a1; color: #ffffff; }"
                            " QTableView { gridline-color: #9e9e9e; }")
        header = table.horizontalHeader()
        header.setSortIndicatorShown(True)
        for column, _name in enumerate(COLUMNS):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("Drug"), QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COLUMNS.index("Lots"), QHeaderView.ResizeMode.Fixed)
        header.resizeSection(COLUMNS.index("Lots"), LOTS_WIDTH)
        table.sortByColumn(COLUMNS.index("Created (UTC)"), Qt.SortOrder.AscendingOrder)
        table.activated.connect(self._on_activated)  # Enter, or a double click
        return table

    # ------------------------------------------------------------ actions

    def texts(self) -> dict[str, str]:
        """What each text field holds."""
        return {name: field.text() for name, field in self.fields.items()}

    def submit(self) -> None:
        """Search for what the form says."""
        self._presenter.submit(self.texts(), self.outcome.currentData())

    def clear_form(self) -> None:
        """Empty every key."""
        for field in self.fields.values():
            field.clear()
        self.outcome.setCurrentIndex(0)
        self.fields["patient"].setFocus()

    def export(self) -> None:
        """Ask where, then write the results shown as CSV."""
        path = self._prompts.csv_path(self, suggested_name())
        if path:
            self._presenter.export(path)

    def selected_preparation(self) -> str | None:
        """The preparation id of the selected row."""
        rows = self.table.selectionModel().selectedRows()
        return self._preparation_at(rows[0]) if rows else None

    def _preparation_at(self, index: QModelIndex) -> str | None:
        summary = self.model.summary_at(self.sorted.mapToSource(index))
        return summary.preparation_id if summary is not None else None

    def _on_activated(self, index: QModelIndex) -> None:
        preparation_id = self._preparation_at(index)
        if preparation_id is not None:
            self._presenter.replay(preparation_id)

    # ------------------------------------------------------------ rendering

    def show_state(self, state: SearchState) -> None:
        """Render ``state``."""
        self.title_label.setText(state.title)
        colour = "#b71c1c" if state.problem else "#1b5e20" if state.message.startswith(
            "✔") else "#37474f"
        self.message_label.setText(f"✖ {state.message}" if state.problem else state.message)
        self.message_label.setStyleSheet(
            f"QLabel {{ background: {colour}; color: #ffffff; padding: 8px 12px; }}")
        self.message_label.setVisible(bool(state.message))
        self.search_button.setEnabled(not state.busy)
        self.export_button.setEnabled(bool(state.found))
        if state.found != self.model.found:
            self.model.set_found(state.found)
            if state.found:
                self.table.selectRow(0)
