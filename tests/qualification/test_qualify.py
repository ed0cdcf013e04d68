"""A qualification run through the real driver on a pty, decoder, workflow and record.

Each error kind is made once, physically, and must be caught where it was made; clean
preparations must pass without a stop; what the run leaves in the record is checked too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pypdfium2
import pytest
from sqlalchemy import text

import station.qualification.technician as technician_module
from scale_drivers.api import Reading
from station.bootstrap import configured_printer
from station.cli.qualify import SCENARIO, format_result
from station.config.catalog_files import formulary_path, load_worklist
from station.config.model import StationConfig
from station.core.bud import BudTable
from station.core.errors import StationError
from station.qualification.plan import ErrorKind, PlannedPreparation
from station.qualification.run import REJECT_REASON, STATION_ID, qualification_services, qualify
from station.qualification.station_side import HeadlessStation
from station.records.formulary_versions import FormularyVersions
from station.records.opened_vials import OpenedVials
from station.records.record import open_record
from station.reports.qualification_pdf import write_qualification_report
from tests.records.seeding import accepted_sources, unidentified_components

#: Whole qualification runs on the simulated hood: tens of seconds each.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
#: What the station must show for each kind (the start of its stop, in its own words).
SHOWN = {
    ErrorKind.WRONG_DRUG: "hard stop: wrong product",
    ErrorKind.WRONG_STRENGTH: "hard stop: wrong product",
    ErrorKind.WRONG_DILUENT: "hard stop: wrong product",
    ErrorKind.EXPIRED_LOT: "hard stop: expired lot",
    ErrorKind.RECALLED_LOT: "hard stop: recalled lot",
    ErrorKind.DOSE_OVER_1_5X: "hard stop: out of tolerance",
    ErrorKind.DOSE_OVER_3X: "hard stop: out of tolerance",
    ErrorKind.DOSE_UNDER_1_5X: "hard stop: out of tolerance",
    ErrorKind.DOSE_UNDER_3X: "hard stop: out of tolerance",
    ErrorKind.SKIPPED_STEP: "hard stop: out of tolerance",
    ErrorKind.BLURRY_PHOTO: "hard stop: photo unusable",
    ErrorKind.DISAGREEING_BARCODE: "scan refused: barcodes on this vial disagree",
    ErrorKind.UNPLUGGED_BALANCE: "balance disconnected",
    ErrorKind.EXPIRED_LINEAR_ONLY: "hard stop: expired lot",
    ErrorKind.RECALLED_LINEAR_ONLY: "hard stop: recalled lot",
    ErrorKind.OPENED_VIAL_PAST_BUD: "hard stop: opened vial past its beyond-use time",
    ErrorKind.WRONG_LABEL_APPLIED: "hard stop: wrong label",
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _services(record, folder: Path):
    """The run's services, its labels printed to a file in ``folder``."""
    printer = configured_printer(StationConfig().labels, folder)
    return qualification_services(record, StationConfig(), clock=_now, label_printer=printer)


def _run(record, rig, plan, folder: Path, seed=5):
    return qualify(_services(record, folder), rig,
                   formulary_path().read_text(encoding="utf-8"), list(load_worklist()), plan,
                   seed=seed)


def test_every_kind_of_error_is_caught_where_it_is_made_and_clean_ones_pass(rig, tmp_path):
    plan = [PlannedPreparation(n, kind) for n, kind in enumerate(ErrorKind, 1)]
    plan += [PlannedPreparation(len(plan) + 1, None), PlannedPreparation(len(plan) + 2, None)]
    seen: list[int] = []
    record = open_record(f"sqlite:///{tmp_path / 'q.db'}")
    try:
        result = qualify(_services(record, tmp_path), rig,
                         formulary_path().read_text(encoding="utf-8"), list(load_worklist()),
                         plan, seed=5, progress=lambda done, total, _: seen.append(done))
        assert seen == list(range(1, len(plan) + 1))
        for kind in ErrorKind:
            score = result.errors[kind]
            assert (score.injected, score.caught, score.missed) == (1, 1, []), kind
            assert list(score.how) == [SHOWN[kind]], kind
        assert result.clean == 2 and result.false_holds == []
        assert result.exit_status == 0
        assert result.got_through == 0
        # the pull-back model sees no identity, photo, balance or injection error
        assert all(result.errors[k].pullback_caught == 0 for k in ErrorKind
                   if k.dose_factor is None)
        assert result.errors[ErrorKind.DOSE_OVER_3X].pullback_caught == 1
        document = json.loads(json.dumps(result.as_json()))
        assert set(document) == {"errors", "clean", "pullback"}
        assert document["errors"]["recalled_lot"] == {"injected": 1, "caught": 1}
        assert document["clean"] == {"count": 2, "false_holds": 0}
        assert set(document["pullback"]) == {k.value for k in ErrorKind}
        # the repeatability was measured, and the balance that did it is named
        assert len(result.readings) == 10 and result.repeatability > 0
        assert "SIM0000022" in result.balance
        _check_record(record, len(plan))
    finally:
        record.close()
    text_table = format_result(result)
    assert "PASSED" in text_table and "recalled_lot" in text_table
    pdf = tmp_path / "report.pdf"
    pages = write_qualification_report(result, pdf, scenario_path=SCENARIO,
                                       scenario_text=SCENARIO.read_text(encoding="utf-8"),
                                       protocol="mt-sics", speed=10, database="temporary")
    document_text = _pdf_text(pdf)
    assert pages == len(pypdfium2.PdfDocument(str(pdf)))
    for phrase in ("PASSED", "pull-back check", "disagreeing_barcode", "hood airflow",
                   "qualification.toml", "Pharmacist in charge", f"page 1 of {pages}"):
        assert phrase in document_text, phrase


def _check_record(record, count: int) -> None:
    """Every preparation of the run is closed; its accounts, recalls and vials are gone.

    Every component it accepted has a lot and an expiry (queried from the stored events),
    some read from the print of a package with only a UPC-A.
    """
    assert unidentified_components(record) == []
    sources = accepted_sources(record)
    assert sources["barcode"] > 0 and sources["printed_text"] + sources["typed"] > 0, sources
    assert OpenedVials(record.engine, _now, BudTable.load()).in_use() == []
    with record.engine.connect() as connection:
        rejected = connection.execute(text(
            "SELECT payload FROM events WHERE kind = 'rejected'")).scalars().all()
        stations = set(connection.execute(text(
            "SELECT DISTINCT station_id FROM events WHERE kind = 'started'")).scalars())
    assert len(rejected) == count
    assert all(REJECT_REASON in str(p) for p in rejected)
    assert stations == {STATION_ID}
    from station.records.recalls import RecallList  # noqa: PLC0415
    from station.records.users import UserDirectory  # noqa: PLC0415
    assert RecallList(record.engine, _now).active() == []
    users = UserDirectory(record.engine, _now).list()
    assert users and all(u.status == "disabled" for u in users)


def _pdf_text(path: Path) -> str:
    document = pypdfium2.PdfDocument(str(path))
    return "\n".join(page.get_textpage().get_text_range() for page in document)


def test_an_error_the_station_is_not_told_of_gets_through_and_fails_the_run(
        rig, tmp_path, monkeypatch):
    # The technician shows a lot that is not on the pharmacy's recall list: nothing can
    # stop it, and the run must say so rather than count it.
    monkeypatch.setattr(technician_module, "recalled_lot", lambda product, seed: "L424242")
    record = open_record(f"sqlite:///{tmp_path / 'q.db'}")
    try:
        result = _run(record, rig, [PlannedPreparation(1, ErrorKind.RECALLED_LOT)], tmp_path)
    finally:
        record.close()
    score = result.errors[ErrorKind.RECALLED_LOT]
    assert (score.injected, score.caught, len(score.missed)) == (1, 0, 1)
    assert result.exit_status == 1
    assert "GOT THROUGH recalled_lot" in format_result(result)


def test_the_run_records_into_either_backend_and_keeps_its_formulary(rig, backend, tmp_path):
    record = open_record(backend.url)
    versions = FormularyVersions(record.engine)
    own = "# the pharmacy's own copy\n" + formulary_path().read_text(encoding="utf-8")
    versions.import_text(own, "formulary.toml", imported_by="rph.ben", utc=_now())
    try:
        result = _run(record, rig, [PlannedPreparation(1, ErrorKind.UNPLUGGED_BALANCE),
                                    PlannedPreparation(2, None)], tmp_path, seed=7)
        latest = versions.latest()
    finally:
        record.close()
    assert result.errors[ErrorKind.UNPLUGGED_BALANCE].caught == 1
    assert (result.clean, result.false_holds) == (1, [])
    # qualified with the record's formulary: no version published to the other stations
    assert latest is not None and (latest.version, latest.text) == (1, own)


def test_station_qualify_prints_one_json_object_and_writes_the_report(tmp_path):
    pdf = tmp_path / "q.pdf"
    done = subprocess.run(
        [sys.executable, "-m", "station.cli.main", "qualify", "--count", "2", "--error-rate", "0.5",
         "--seed", "3", "--json", "--pdf", str(pdf)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert sum(v["injected"] for v in document["errors"].values()) == 1
    assert sum(v["caught"] for v in document["errors"].values()) == 1
    assert document["clean"] == {"count": 1, "false_holds": 0}
    assert "2/2" in done.stderr and f"report: {pdf}" in done.stderr
    assert pdf.read_bytes().startswith(b"%PDF")


def test_station_qualify_weighs_on_a_balance_that_does_not_report_its_readability(tmp_path):
    # Sartorius SBI reports no readability: the run configures the scenario's 0.01 g.
    pdf = tmp_path / "q.pdf"
    done = subprocess.run(
        [sys.executable, "-m", "station.cli.main", "qualify", "--protocol", "sbi", "--count", "1",
         "--error-rate", "0", "--seed", "3", "--json", "--pdf", str(pdf)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["clean"] == {"count": 1, "false_holds": 0}
    assert "1/1" in done.stderr and pdf.read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("arguments", [["--count", "0"], ["--error-rate", "2"]])
def test_station_qualify_refuses_a_run_that_cannot_be_made(arguments):
    done = subprocess.run([sys.executable, "-m", "station.cli.main", "qualify", *arguments],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "must be" in done.stderr


def test_a_weight_taken_while_the_cable_is_out_is_never_counted_as_caught(
        rig, tmp_path, monkeypatch):
    # A station that, on losing its balance, records the last weight it saw (the bug the
    # unplug error is there to catch) shows the balance lost and still takes a weight: the
    # scorer must not count that as caught.
    lost = HeadlessStation._lost

    def lose_and_keep_a_stale_weight(self, state):
        lost(self, state)
        stale = Reading(Decimal("12.34"), "g", True, "S S      12.34 g", "S",
                        dt.datetime.now(dt.UTC), 0.0)
        with contextlib.suppress(StationError):
            self.session.weight(stale)

    monkeypatch.setattr(HeadlessStation, "_lost", lose_and_keep_a_stale_weight)
    record = open_record(f"sqlite:///{tmp_path / 'q.db'}")
    try:
        result = _run(record, rig, [PlannedPreparation(1, ErrorKind.UNPLUGGED_BALANCE)],
                      tmp_path)
    finally:
        record.close()
    score = result.errors[ErrorKind.UNPLUGGED_BALANCE]
    assert (score.injected, score.caught, len(score.missed)) == (1, 0, 1)
    assert result.exit_status == 1


def test_station_qualify_records_a_lot_and_an_expiry_for_every_accepted_component(tmp_path):
    url = f"sqlite:///{tmp_path / 'q.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "station.cli.main", "qualify", "--count", "3", "--error-rate",
         "0", "--seed", "4", "--json", "--db", url, "--pdf", str(tmp_path / "q.pdf")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    record = open_record(url)
    try:
        assert unidentified_components(record) == []
        assert sum(accepted_sources(record).values()) > 0
        with record.engine.connect() as connection:
            printed = connection.execute(text(
                "SELECT count(*) FROM events WHERE kind = 'label_printed'")).scalar()
    finally:
        record.close()
    assert printed == 3  # each clean preparation printed its label once
