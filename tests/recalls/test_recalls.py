"""The recall list on both backends: add, withdraw, import, notices, hard stops, past use."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from station.core.formulary import Formulary
from station.core.identifiers import Ndc, gs1_check_digit
from station.core.scan import parse_scan
from station.core.workflow import Phase, ProductScanned, StopReason
from station.records.recalls import RecallError, RecallList
from tests.clock import FakeClock
from tests.records.builders import RecordingTechnician
from tests.station.builders import FORMULARY, NOW, Technician, order, scan_of

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "recalls"
REASON = "FDA recall D-0123-2026: particulate matter (Class II)"


#: The record's clock: it stands still.
clock = FakeClock(dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC))


@pytest.fixture
def recalls(backend):
    return RecallList(backend.engine, clock)


@pytest.fixture
def formulary():
    return Formulary.from_mapping(FORMULARY)


# ------------------------------------------------------------------------------ add, withdraw


@pytest.mark.parametrize("written", ["0409-2720-01", "00409-2720-01", "000409-2720-01",
                                     "00409272001", "000409272001"])
def test_a_recalled_lot_has_a_notice_in_every_ndc_shape(recalls, written):
    recalls.add(written, "23BA071", REASON, by="rph.ben")
    for shape in ("0409-2720-01", "00409-2720-01", "000409-2720-01"):
        notice = recalls.notice_for(Ndc.parse(shape), "23BA071")
        assert notice == (f"{REASON} (on the recall list since 2026-11-26, added by rph.ben)")


def test_the_notice_is_for_that_lot_only_and_any_case(recalls):
    recalls.add("0409-2720-01", "23BA071", REASON, by="rph.ben")
    heparin = Ndc.parse("0409-2720-01")
    assert recalls.notice_for(heparin, "23ba071 ") is not None
    assert recalls.notice_for(heparin, "23BA07") is None
    assert recalls.notice_for(heparin, "23BA0711") is None
    assert recalls.notice_for(Ndc.parse("0409-2720-02"), "23BA071") is None
    assert recalls.notice_for(heparin, None) is None


def test_a_scan_is_checked_by_its_gtin_digits_and_its_own_lot(recalls, formulary):
    heparin = formulary.by_ndc_text("0409-2720-01")
    recalls.add("00409-2720-01", "23BA071", REASON, by="rph.ben")
    assert recalls.notice_for(scan_of(heparin, lot="23BA071")) is not None
    assert recalls.notice_for(scan_of(heparin, lot="23BA072")) is None
    upc = "30409272001"
    linear = parse_scan("]E0" + upc + gs1_check_digit(upc), 2026)
    assert linear.lot is None
    assert recalls.notice_for(linear) is None
    assert recalls.notice_for(linear, "23BA071") is not None


def test_adding_twice_and_withdrawing_what_is_not_there_are_refused(recalls):
    recalls.add("0409-2720-01", "23BA071", REASON, by="rph.ben")
    with pytest.raises(RecallError, match=r"^NDC 00409-2720-01 lot 23ba071 is already on the "
                       r"recall list \(added 2026-11-26 by rph.ben: FDA recall D-0123-2026"):
        recalls.add("00409-2720-01", "23ba071", REASON, by="rph.eve")
    with pytest.raises(RecallError,
                       match=r"^NDC 0409-2720-01 lot 99X is not on the recall list$"):
        recalls.withdraw("0409-2720-01", "99X", "typo", by="rph.ben")


def test_a_withdrawn_lot_stops_nothing_and_can_be_added_again(recalls):
    heparin = Ndc.parse("0409-2720-01")
    recalls.add(heparin, "23BA071", REASON, by="rph.ben")
    recalls.withdraw("00409-2720-01", "23BA071", "entered for the wrong NDC", by="rph.ben")
    assert recalls.notice_for(heparin, "23BA071") is None
    assert recalls.active() == []
    recalls.add(heparin, "23BA071", "again", by="rph.eve")
    [recall] = recalls.active()
    assert (recall.reason, recall.added_by) == ("again", "rph.eve")


@pytest.mark.parametrize(
    ("ndc", "lot", "reason", "message"),
    [
        ("0409272001", "A1", "r", r"^NDC '0409272001' has 10 digits and no hyphens, so its "
         r"shape is unknown"),
        ("0409-2720-01", "", "r", r"^the lot is empty$"),
        ("0409-2720-01", "A 1", "r", r"^lot 'A 1' contains ' ', which GS1 does not allow$"),
        ("0409-2720-01", "A1", "  ", r"^a recall needs a reason \(e.g. the FDA recall number\)$"),
    ],
)
def test_a_bad_recall_is_refused_with_a_precise_message(recalls, ndc, lot, reason, message):
    with pytest.raises((RecallError, ValueError), match=message):
        recalls.add(ndc, lot, reason, by="rph.ben")
    assert recalls.active() == []


def test_the_recall_list_is_append_only(backend, recalls):
    recalls.add("0409-2720-01", "23BA071", REASON, by="rph.ben")
    for statement in ("UPDATE recall_events SET lot = 'X'", "DELETE FROM recall_events"):
        with pytest.raises(DBAPIError, match="append-only"), backend.engine.begin() as c:
            c.execute(text(statement))
    assert len(recalls.active()) == 1


# ------------------------------------------------------------------------------ import


def test_a_recall_file_is_imported_and_a_second_import_adds_nothing(recalls):
    source = (FIXTURES / "recalls.csv").read_text(encoding="utf-8")
    report = recalls.import_csv(source, by="rph.ben", source_name="recalls.csv")
    assert report.summary() == "4 lot(s) added to the recall list, 0 already on it"
    assert [(str(r.ndc), r.lot) for r in recalls.active()] == [
        ("0409-4888-10", "23BA071"), ("00409-1966-07", "24CB115"),
        ("63323-185-10", "P10334"), ("63323-185-10", "P10335")]
    assert recalls.notice_for(Ndc.parse("0409-1966-07"), "24CB115") is not None
    again = recalls.import_csv(source, by="rph.ben", source_name="recalls.csv")
    assert again.summary() == "0 lot(s) added to the recall list, 4 already on it"
    assert len(recalls.active()) == 4


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("", "recalls.csv is empty: expected a header line ndc,lot,reason"),
        ("ndc;lot;reason\n", "recalls.csv line 1: the header must be ndc,lot,reason, got "
         "ndc;lot;reason"),
        ("ndc,lot,reason\n", "recalls.csv has a header and no recalls"),
        ("ndc,lot,reason\n0409-2720-01,A1,ok\n0409-2720-01,A2\n",
         "recalls.csv line 3: expected 3 fields (ndc, lot, reason), got 2"),
        ("ndc,lot,reason\n\n0409-2720-01,A1,ok\n0409-272-001,A2,bad\n",
         "recalls.csv line 4: NDC 0409-272-001 has segments 4-3-3: expected 4-4-2, 5-3-2 or "
         "5-4-1 (10 digits), 5-4-2 (11) or 6-4-2 (12)"),
        ("ndc,lot,reason\n0409-2720-01,,no lot\n", "recalls.csv line 2: the lot is empty"),
        ("ndc,lot,reason\n0409-2720-01,A1,\n",
         "recalls.csv line 2: a recall needs a reason (e.g. the FDA recall number)"),
        ('NDC,Lot,Reason\n0409-2720-01,A1,"a, b"\n0409-2720-01,A1\u00e9,x\n',
         "recalls.csv line 3: lot 'A1\u00e9' contains '\u00e9', which GS1 does not allow"),
    ],
)
def test_a_bad_recall_file_names_its_line_and_adds_nothing(recalls, source, message):
    with pytest.raises(RecallError) as raised:
        recalls.import_csv(source, by="rph.ben", source_name="recalls.csv")
    assert str(raised.value) == message
    assert recalls.active() == []


def test_the_bad_fixture_names_its_ten_digit_line(recalls):
    source = (FIXTURES / "bad_ndc.csv").read_text(encoding="utf-8")
    with pytest.raises(RecallError) as raised:
        recalls.import_csv(source, by="rph.ben", source_name="bad_ndc.csv")
    assert str(raised.value).startswith(
        "bad_ndc.csv line 3: NDC '0409488810' has 10 digits and no hyphens")
    assert recalls.active() == []


# ------------------------------------------------------------------------------ the workflow


def test_a_recalled_lot_is_a_hard_stop_no_pharmacist_can_override(recalls, formulary,
                                                                   recipe_for):
    recalls.add("00409-2720-01", "23BA071", REASON, by="rph.ben")
    tech = Technician()
    prep = tech.start(recipe_for(("0409-2720-01", "25000 units")))
    heparin = formulary.by_ndc_text("0409-2720-01")
    number = next(s.number for s in prep.recipe.steps if s.product == heparin)
    prep = tech.advance_to(prep, number)
    scan = scan_of(heparin, lot="23BA071")
    event = ProductScanned(tech.user, tech.at, scan, formulary.resolve(scan),
                           recall_notice=recalls.notice_for(scan))
    stopped = tech.do(prep, event)
    assert stopped.phase is Phase.HARD_STOP
    assert stopped.stop is not None and stopped.stop.reason is StopReason.RECALLED
    assert stopped.stop.message == (
        f"recalled: lot 23BA071 of Heparin Sodium: {REASON} (on the recall list since "
        "2026-11-26, added by rph.ben)")
    assert not stopped.stop.reason.overridable
    fine = scan_of(heparin, lot="23BA072")
    assert recalls.notice_for(fine) is None


@pytest.fixture
def recipe_for(formulary):
    from station.core.recipe import build_recipe  # noqa: PLC0415
    from tests.station.builders import TOLERANCE  # noqa: PLC0415

    def make(*ingredients):
        return build_recipe(order("RX1", *ingredients), formulary, TOLERANCE)

    return make


# ------------------------------------------------------------------------------ already used


class LotTechnician(RecordingTechnician):
    """Scans packages of the lots given per NDC (others keep the builders' lot)."""

    def __init__(self, service, lots):
        super().__init__(service)
        self.lots = lots

    def right_event(self, prep):
        event = super().right_event(prep)
        if isinstance(event, ProductScanned) and event.product is not None:
            lot = self.lots.get(str(event.product.ndc))
            if lot is not None:
                event = replace(event, scan=scan_of(event.product, lot=lot))
        return event


def _prepare(service, version, preparation_id, lots, until=Phase.AWAITING_VERIFICATION):
    tech = LotTechnician(service, lots)
    created = service.create(order(preparation_id, ("0409-2720-01", "25000 units")), version,
                             tech.user, preparation_id=preparation_id)
    from station.core.workflow import Started  # noqa: PLC0415

    prep = tech.do(created, Started(tech.user, NOW))
    return tech.run_until(prep, {until})


def test_adding_a_recall_answers_which_preparations_already_used_the_lot(service, version):
    _prepare(service, version, "P-R1", {"0409-2720-01": "23BA071"})
    _prepare(service, version, "P-R2", {"0409-2720-01": "23BA072"})
    _prepare(service, version, "P-R3", {"0409-2720-01": "23BA071"})
    recalls = RecallList(service.record.engine, clock)
    recall = recalls.add("00409-2720-01", "23BA071", REASON, by="rph.ben")
    used = recalls.preparations_using(recall.lot, recall.ndc)
    assert [s.preparation_id for s in used] == ["P-R1", "P-R3"]
    assert [s.preparation_id for s in recalls.preparations_using("23ba072")] == ["P-R2"]
    assert recalls.preparations_using("23BA071", "0338-0049-02") == []


# ------------------------------------------------------------------------------ command line


def run_cli(*argv):
    import argparse  # noqa: PLC0415
    import io  # noqa: PLC0415

    from station.cli.recalls import add_commands  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="station")
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    out = io.StringIO()
    status = args.run(args, out)
    return status, out.getvalue()


def test_recalls_add_prints_the_preparations_that_used_the_lot(service, version, capsys):
    _prepare(service, version, "P-C1", {"0409-2720-01": "23BA071"})
    url = service.record.url
    status, out = run_cli("recalls", "add", "0409-2720-01", "23BA071", "--reason", REASON,
                          "--by", "rph.ben", "--db", url)
    assert status == 0, capsys.readouterr().err
    lines = out.splitlines()
    assert lines[0] == f"recalled: NDC 0409-2720-01 lot 23BA071: {REASON}"
    assert lines[1] == "1 preparation(s) already used lot 23BA071:"
    assert lines[2].lstrip().startswith("P-C1 ")
    status, out = run_cli("recalls", "list", "--json", "--db", url)
    assert status == 0
    import json  # noqa: PLC0415

    [listed] = json.loads(out)
    assert (listed["ndc_11"], listed["lot"], listed["added_by"]) == (
        "00409-2720-01", "23BA071", "rph.ben")
    status, out = run_cli("recalls", "add", "0409-2720-01", "23BA071", "--reason", REASON,
                          "--by", "rph.ben", "--db", url)
    assert (status, out) == (1, "")
    assert capsys.readouterr().err == (
        "station recalls add: NDC 0409-2720-01 lot 23BA071 is already on the recall list "
        f"(added 2026-11-26 by rph.ben: {REASON})\n".replace("2026-11-26", _today()))


def _today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


def test_recalls_import_and_its_one_line_error(backend, capsys):
    status, out = run_cli("recalls", "import", str(FIXTURES / "recalls.csv"), "--by", "rph.ben",
                          "--db", backend.url)
    assert (status, out) == (0, "4 lot(s) added to the recall list, 0 already on it\n")
    status, out = run_cli("recalls", "import", str(FIXTURES / "bad_ndc.csv"), "--db",
                          backend.url)
    assert (status, out) == (1, "")
    err = capsys.readouterr().err
    assert err.startswith("station recalls import: bad_ndc.csv line 3: NDC '0409488810' has "
                          "10 digits and no hyphens")
    assert err.count("\n") == 1
    status, out = run_cli("recalls", "list", "--db", backend.url)
    assert status == 0 and len(out.splitlines()) == 4


def test_the_station_role_may_add_recalls_but_never_change_them(backend):
    if backend.app_url is None:
        pytest.skip("only PostgreSQL has a separate application role")
    from station.records.database import make_engine  # noqa: PLC0415

    engine = make_engine(backend.app_url)
    try:
        recalls = RecallList(engine, clock)
        recalls.add("0409-2720-01", "23BA071", REASON, by="rph.ben")
        recalls.withdraw("0409-2720-01", "23BA071", "closed", by="rph.ben")
        with pytest.raises(DBAPIError), engine.begin() as connection:
            connection.execute(text("UPDATE recall_events SET reason = 'x'"))
        assert recalls.active() == []
    finally:
        engine.dispose()
