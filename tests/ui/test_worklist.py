"""The worklist: a tested table model, urgency order, hazardous marking, start requests."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from station.config.catalog_files import load_formulary, load_worklist
from station.core.orders import Priority
from station.services.order_rows import REMAKE, worklist_rows
from ui.technician.worklist import (
    COLUMNS,
    WorklistPresenter,
    WorklistTableModel,
    WorklistView,
)
from ui.widgets.look import HAZARDOUS

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture(scope="module")
def catalog():
    return load_worklist(), load_formulary()


@pytest.fixture
def presenter(catalog, qtbot):
    return WorklistPresenter(*catalog)


def test_the_model_passes_qtmodeltester(catalog, qtmodeltester):
    model = WorklistTableModel(worklist_rows(*catalog))
    qtmodeltester.check(model, force_py=True)
    model.set_rows(())
    qtmodeltester.check(model, force_py=True)


def test_stat_orders_come_first_then_by_due_time(catalog):
    rows = worklist_rows(*catalog)
    ranks = [r.priority.rank for r in rows]
    assert ranks == sorted(ranks)
    assert rows[0].priority is Priority.STAT
    for earlier, later in itertools.pairwise(rows):
        if earlier.priority is later.priority:
            assert earlier.due <= later.due
    assert len(rows) == len(catalog[0])


def test_hazardous_rows_say_so_in_words_and_are_coloured(catalog):
    model = WorklistTableModel(worklist_rows(*catalog))
    hazard_column = COLUMNS.index("Hazard")
    hazardous = [i for i, r in enumerate(model.rows) if r.hazardous]
    safe = [i for i, r in enumerate(model.rows) if not r.hazardous]
    assert hazardous and safe  # the sample has both kinds
    for row in hazardous:
        index = model.index(row, hazard_column)
        assert model.data(index) == HAZARDOUS
        assert "HAZARDOUS" in HAZARDOUS
        assert model.data(index, Qt.ItemDataRole.BackgroundRole) is not None
        assert model.data(index, Qt.ItemDataRole.FontRole).bold()
    for row in safe:
        assert model.data(model.index(row, hazard_column)) == ""


def test_stat_rows_are_bold_and_coloured_and_say_stat(catalog):
    model = WorklistTableModel(worklist_rows(*catalog))
    stat_rows = [i for i, r in enumerate(model.rows) if r.stat]
    assert stat_rows
    for row in stat_rows:
        assert model.data(model.index(row, COLUMNS.index("Priority"))) == "STAT"
        index = model.index(row, COLUMNS.index("Patient — location"))
        assert model.data(index, Qt.ItemDataRole.FontRole).bold()
        assert model.data(index, Qt.ItemDataRole.BackgroundRole) is not None
    routine = next(i for i, r in enumerate(model.rows) if r.priority is Priority.ROUTINE)
    assert model.data(model.index(routine, 1), Qt.ItemDataRole.FontRole) is None


def test_a_scanned_order_id_requests_its_start(presenter, qtbot):
    order_id = presenter.state.rows[3].order_id
    with qtbot.waitSignal(presenter.start_requested) as blocker:
        assert presenter.scan(f"{order_id}\n")
    assert blocker.args == [order_id]


def test_a_scan_that_is_no_order_starts_nothing_and_says_why(presenter, qtbot):
    with qtbot.assertNotEmitted(presenter.start_requested):
        assert not presenter.scan("RX-999999")
    assert presenter.state.message == "not an order on this worklist: 'RX-999999'"


def _view(presenter, qtbot):
    view = WorklistView(presenter)
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    qtbot.waitExposed(view)
    view.table.setFocus()
    return view


def test_arrow_keys_and_enter_start_the_selected_order(presenter, qtbot):
    view = _view(presenter, qtbot)
    rows = presenter.state.rows
    assert view.title_label.text().startswith(f"Worklist: {len(rows)} orders (")
    assert view.table.rowHeight(0) >= 48
    assert view.table.font().pointSize() >= 16
    qtbot.keyClick(view.table, Qt.Key.Key_Down)
    qtbot.keyClick(view.table, Qt.Key.Key_Down)
    with qtbot.waitSignal(presenter.start_requested) as blocker:
        qtbot.keyClick(view.table, Qt.Key.Key_Return)
    assert blocker.args == [rows[2].order_id]
    ARTIFACTS.mkdir(exist_ok=True)
    assert view.grab().save(str(ARTIFACTS / "worklist.png"))


def test_a_wrong_scan_is_shown_on_the_view(presenter, qtbot):
    view = _view(presenter, qtbot)
    presenter.scan("hello")
    assert view.message_label.isVisible()
    assert view.message_label.text() == "✖ not an order on this worklist: 'hello'"
    ARTIFACTS.mkdir(exist_ok=True)
    assert view.grab().save(str(ARTIFACTS / "worklist_wrong_scan.png"))


def test_a_remake_says_so_under_its_order_id_and_in_the_title(catalog, qtbot):
    worklist, formulary = catalog
    target = worklist_rows(worklist, formulary)[4].order_id
    presenter = WorklistPresenter(worklist, formulary)
    view = _view(presenter, qtbot)
    view.resize(1500, 900)  # the worklist's share of the station's 1920 x 1080 window
    presenter.set_worklist(worklist, {target: "P-0A1B2C3D4E5F"})
    model = view.model
    row = next(i for i, r in enumerate(model.rows) if r.order_id == target)
    assert model.rows[row].remake_of == "P-0A1B2C3D4E5F"
    order_cell = model.index(row, COLUMNS.index("Order"))
    assert model.data(order_cell) == f"{target}\n{REMAKE}\nP-0A1B2C3D4E5F"
    assert model.data(order_cell).splitlines()[1:] == ["↻ REMAKE of", "P-0A1B2C3D4E5F"]
    assert model.data(order_cell, Qt.ItemDataRole.FontRole).bold()
    assert model.data(order_cell, Qt.ItemDataRole.BackgroundRole) is not None
    others = [i for i, r in enumerate(model.rows) if r.order_id != target]
    assert all("REMAKE" not in model.data(model.index(i, 0)) for i in others)
    assert view.title_label.text().endswith(" hazardous, 1 remake)")
    assert [r.order_id for r in model.rows] == [
        r.order_id for r in worklist_rows(worklist, formulary)]  # a remake keeps its place
    header = view.table.horizontalHeader()
    assert header.length() <= view.table.viewport().width()  # nothing pushed off the screen
    ARTIFACTS.mkdir(exist_ok=True)
    assert view.grab().save(str(ARTIFACTS / "worklist_remake.png"))
