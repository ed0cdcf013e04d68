"""The auditor's search over a seeded record: the keys, the table, the CSV export."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt

from station.core.accounts import Role
from station.demo.seed import PHARMACISTS, TECHNICIANS
from station.records.search import (
    CSV_COLUMNS,
    OUTCOMES,
    SearchError,
    csv_row,
    search,
)
from station.records.users import User
from station.services.sessions import Session
from tests.ui.auditing import (
    COUNT,
    SCREEN,
    TIMEOUT_MS,
    FakePrompts,
    Running,
    Seeded,
    fill,
    ids,
    open_page,
    run_search,
    seed_sqlite,
)
from tests.ui.station_driver import screenshot
from ui.audit.page import ChainStatus
from ui.audit.search import COLUMNS, ResultsTableModel, parse_query
from ui.workers.audit_worker import SearchQuery

#: The auditor's page on its worker thread over a seeded record.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Seeded:
    return seed_sqlite(tmp_path_factory.mktemp("audit"))


@pytest.fixture
def running(qtbot, seeded, tmp_path) -> Iterator[Running]:
    yield from open_page(qtbot, seeded.url, FakePrompts(tmp_path / "found.csv"))


# ------------------------------------------------------------------------------ the keys


def test_technician_pharmacist_and_station_keys_match_whole_ids(seeded):
    found = seeded.found
    for technician in TECHNICIANS:
        assert ids(search(found, technician=technician.upper())) == [
            s.preparation_id for s in found if s.prepared_by == technician]
    for pharmacist in PHARMACISTS:
        assert ids(search(found, pharmacist=f" {pharmacist} ")) == [
            s.preparation_id for s in found if pharmacist in (s.verified_by, s.rejected_by)]
        assert search(found, technician=pharmacist) == []
    decided = [s for s in found if s.verified_by or s.rejected_by]
    assert decided and search(found, pharmacist="rph") == []  # whole ids only
    hood = found[0].stations[0]
    assert ids(search(found, station=hood)) == [s.preparation_id for s in found
                                                if hood in s.stations]
    assert search(found, station=hood[:-1]) == []
    with pytest.raises(SearchError, match="station"):
        search(found, station="  ")


def test_the_form_becomes_a_query_and_bad_dates_are_refused():
    query = parse_query({"patient": "  Moreau ", "date_to": "2026-11-27", "ndc": ""}, None)
    assert query == SearchQuery(patient="Moreau", date_to=dt.date(2026, 11, 27))
    assert query.keys() == {"patient": "Moreau", "date_to": dt.date(2026, 11, 27)}
    assert query.describe() == "patient Moreau, date to 2026-11-27"
    assert SearchQuery().describe() == "every preparation"
    with pytest.raises(SearchError, match=r"From: '27/11/2026' is not a date"):
        parse_query({"date_from": "27/11/2026"})
    with pytest.raises(SearchError, match="after the end date"):
        parse_query({"date_from": "2026-11-27", "date_to": "2026-11-26"})


def test_the_results_model_passes_qtmodeltester(seeded, qtmodeltester):
    model = ResultsTableModel(tuple(seeded.found))
    qtmodeltester.check(model, force_py=True)
    first = seeded.found[0]
    assert model.data(model.index(0, 0)) == first.preparation_id
    assert model.data(model.index(0, COLUMNS.index("Outcome"))) == first.outcome.upper()
    assert model.data(model.index(0, 0), Qt.ItemDataRole.UserRole) == first.preparation_id
    model.set_found(())
    qtmodeltester.check(model, force_py=True)


# ------------------------------------------------------------------------------ the page


def test_the_page_searches_on_the_worker_by_every_key(qtbot, running, seeded):
    page, found = running.page, seeded.found
    assert page.banner.status is ChainStatus.INTACT
    assert f"{seeded.report.events} events in {COUNT} preparations" in page.banner.message
    assert run_search(qtbot, page) == list(seeded.report.preparation_ids)
    assert page.search_view.title_label.text() == (
        f"{COUNT} of {COUNT} preparations: every preparation")

    sample = next(s for s in found if s.verified_by and s.lots)
    keys = {
        "patient": sample.patient_name.split(",")[0],
        "drug": sample.drugs[0][:5].lower(),
        "ndc": str(sample.drug_ndcs[0]),
        "lot": sample.lots[0].lower(),
        "technician": sample.prepared_by,
        "pharmacist": sample.verified_by,
        "station": sample.stations[0],
        "date_from": f"{sample.created_utc:%Y-%m-%d}",
        "date_to": f"{sample.created_utc:%Y-%m-%d}",
        "outcome": sample.outcome,
    }
    for name, text in keys.items():
        query = parse_query({name: text}) if name != "outcome" else SearchQuery(outcome=text)
        expected = ids(search(found, **query.keys()))
        assert sample.preparation_id in expected, name
        assert run_search(qtbot, page, **{name: text}) == expected, name
    assert run_search(qtbot, page, **keys) == [sample.preparation_id]
    assert page.search_view.title_label.text().startswith(f"1 of {COUNT} preparations: ")

    for outcome in OUTCOMES:
        assert run_search(qtbot, page, outcome=outcome) == ids(search(found, outcome=outcome))


def test_a_bad_key_is_said_in_red_and_the_results_stay(qtbot, running, seeded):
    page = running.page
    assert run_search(qtbot, page, outcome="verified")
    shown = page.search_view.model.found
    fill(page, date_from="yesterday")
    page.search_view.submit()  # refused before it reaches the worker
    assert page.search.state.problem and not page.search.state.busy
    assert "is not a date" in page.search_view.message_label.text()
    assert page.search_view.model.found == shown
    run_search(qtbot, page, ndc="12345")  # the worker's search refuses it
    assert page.search.state.problem
    assert "Search for ndc 12345 failed" in page.search_view.message_label.text()
    assert page.search_view.model.found == shown


def test_the_results_export_as_csv_to_the_chosen_file(qtbot, running, seeded, tmp_path):
    page = running.page
    assert run_search(qtbot, page, outcome="verified")
    shown = page.search_view.model.found
    with qtbot.waitSignal(page.search.state_changed, timeout=TIMEOUT_MS,
                          check_params_cb=lambda state: state.message.startswith("✔")):
        qtbot.mouseClick(page.search_view.export_button, Qt.MouseButton.LeftButton)
    assert running.prompts.asked and running.prompts.asked[0].endswith(".csv")
    assert page.search_view.message_label.text() == (
        f"✔ Exported {len(shown)} preparations to {tmp_path / 'found.csv'}")
    with (tmp_path / "found.csv").open(newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [tuple(row) for row in rows[1:]] == [csv_row(s) for s in shown]
    by_column = [dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]]
    for summary, row in zip(shown, by_column, strict=True):
        assert row["preparation_id"] == summary.preparation_id
        assert row["outcome"] == "verified"
        assert row["verified_by"] == summary.verified_by
        assert row["lots"].split("; ") == list(summary.lots)
        assert dt.datetime.fromisoformat(row["created_utc"]) == summary.created_utc
        assert row["patient_name"] == summary.patient_name


def test_cancelling_the_export_writes_nothing_and_a_failed_one_says_why(qtbot, seeded,
                                                                         tmp_path):
    prompts = FakePrompts(None)
    for running in open_page(qtbot, seeded.url, prompts):
        page = running.page
        assert run_search(qtbot, page)
        page.search_view.export()
        assert prompts.asked and not list(tmp_path.iterdir())
        prompts.path = tmp_path / "no such folder" / "found.csv"
        with qtbot.waitSignal(page.search.state_changed, timeout=TIMEOUT_MS,
                              check_params_cb=lambda state: state.problem):
            page.search_view.export()
        assert page.search_view.message_label.text().startswith(
            f"✖ Export to {prompts.path} failed: ")


def test_screenshot_of_the_search_results(qtbot, running, seeded):
    page = running.page
    run_search(qtbot, page)
    qtbot.wait(50)
    assert page.grab().size().toTuple() == SCREEN
    screenshot(page, "audit_search")


def test_signing_out_forgets_the_results(qtbot, running):
    page = running.page
    assert run_search(qtbot, page, outcome="verified")
    page.set_session(None)
    assert page.search_view.model.found == ()
    assert page.search_view.title_label.text() == "Search the record"


def test_signing_in_checks_again_and_the_keys_work(qtbot, running):
    page = running.page
    now = dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC)
    auditor = User(user_id="aud.kim", printed_name="Kim Auditor", role=Role.AUDITOR,
                   active=True, locked=False, failed_logins=0, password_hash="x",
                   created_at=now.isoformat(), password_set_at=now.isoformat())
    page.set_session(Session(user=auditor, started=now, last_activity=now))
    assert page.user_label.text() == "Auditing as Kim Auditor (aud.kim)"
    assert page.banner.status is ChainStatus.CHECKING
    qtbot.waitUntil(lambda: page.banner.status is ChainStatus.INTACT, timeout=TIMEOUT_MS)

    page.search_view.fields["lot"].setFocus()
    qtbot.keyClick(page.search_view.fields["lot"], Qt.Key.Key_F5)
    assert page.banner.status is ChainStatus.CHECKING
    qtbot.waitUntil(lambda: page.banner.status is ChainStatus.INTACT, timeout=TIMEOUT_MS)
    page.replay(next(running.record.events.events()).preparation_id)
    assert page.tabs.currentWidget() is page.replay_view
    qtbot.waitUntil(lambda: page.replay_view.review is not None, timeout=TIMEOUT_MS)
    qtbot.keyClick(page.replay_view.timeline, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert page.tabs.currentWidget() is page.search_view
    assert page.search_view.fields["patient"].hasFocus()
