"""The order book on SQLite and PostgreSQL: idempotent, append-only, folded into a worklist."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from station.cli.orders import OrderIntake, add_actions
from station.config.catalog_files import load_formulary
from station.core.errors import UnknownOrder
from station.intake.fhir import folder_resolver
from station.intake.hl7v2 import parse_order
from station.records.database import make_engine
from station.records.order_book import EventKind, OrderBook, OutcomeKind
from tests.clock import FakeClock

ROOT = Path(__file__).resolve().parents[2]
HL7 = ROOT / "fixtures" / "orders" / "hl7"
FHIR = ROOT / "fixtures" / "orders" / "fhir"
T0 = dt.datetime(2026, 11, 26, 14, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def formulary():
    return load_formulary(ROOT / "fixtures" / "formulary.toml")


@pytest.fixture
def book(backend):
    return OrderBook(backend.engine, FakeClock(T0))


def message(name, formulary):
    return parse_order((HL7 / name).read_text(encoding="utf-8"), formulary)


def test_new_order_lands_on_the_worklist(book, formulary):
    outcome = book.receive(message("nw_vancomycin.hl7", formulary), "test")
    assert (outcome.kind, outcome.order_id, outcome.accepted) == (
        OutcomeKind.CREATED, "RX-270001", True)
    [order] = list(book.worklist())
    assert order == message("nw_vancomycin.hl7", formulary).order
    assert book.events()[0].recorded_at == "2026-11-26T14:00:00+00:00"


def test_the_same_message_twice_creates_one_order(book, formulary):
    first = book.receive(message("nw_vancomycin.hl7", formulary), "test")
    again = book.receive(message("nw_vancomycin.hl7", formulary), "test")
    assert again.kind is OutcomeKind.CREATED and again.duplicate and not first.duplicate
    assert len(book.worklist()) == 1
    assert [e.kind for e in book.events()] == [EventKind.RECEIVED]


def test_a_change_replaces_the_order(book, formulary):
    book.receive(message("nw_vancomycin.hl7", formulary), "test")
    outcome = book.receive(message("xo_vancomycin.hl7", formulary), "test")
    assert outcome.kind is OutcomeKind.CHANGED and not outcome.in_preparation
    [order] = list(book.worklist())
    assert str(order.ingredients[0].dose) == "1500 mg"
    assert order.final_volume_ml == Decimal(280)


def test_discontinue_removes_the_order(book, formulary):
    book.receive(message("nw_vancomycin.hl7", formulary), "test")
    book.receive(message("nw_morphine_syringe_stat.hl7", formulary), "test")
    outcome = book.receive(message("dc_vancomycin.hl7", formulary), "test")
    assert outcome.kind is OutcomeKind.DISCONTINUED and not outcome.in_preparation
    assert [o.order_id for o in book.worklist()] == ["RX-270003"]
    with pytest.raises(UnknownOrder):
        book.order("RX-270001")


def test_discontinue_flags_an_order_in_preparation(book, formulary):
    book.receive(message("nw_vancomycin.hl7", formulary), "test")
    asked: list[str] = []

    def preparing(order_id: str) -> bool:
        asked.append(order_id)
        return True

    outcome = book.receive(message("dc_vancomycin.hl7", formulary), "test", preparing)
    assert outcome.kind is OutcomeKind.DISCONTINUED and outcome.in_preparation
    assert asked == ["RX-270001"]
    assert "ALREADY IN PREPARATION" in outcome.describe()
    again = book.receive(message("dc_vancomycin.hl7", formulary), "test")
    assert again.duplicate and again.in_preparation
    assert len(book.worklist()) == 0


@pytest.mark.parametrize(("steps", "reason"), [
    (["nw_vancomycin.hl7", "nw_vancomycin.hl7!"],
     "order RX-270001 exists already: send XO to change it"),
    (["xo_vancomycin.hl7"], "cannot change order RX-270001: the station has no such order"),
    (["dc_vancomycin.hl7"], "cannot discontinue order RX-270001: the station has no such order"),
    (["nw_vancomycin.hl7", "dc_vancomycin.hl7", "xo_vancomycin.hl7"],
     "cannot change order RX-270001: it was discontinued"),
    (["nw_vancomycin.hl7", "dc_vancomycin.hl7", "nw_vancomycin.hl7!"],
     "order RX-270001 was discontinued: a new order needs a new order number"),
])
def test_out_of_order_messages_are_rejected_and_recorded(book, formulary, steps, reason):
    outcome = None
    for step in steps:
        text = (HL7 / step.rstrip("!")).read_text(encoding="utf-8")
        if step.endswith("!"):  # the same order again under a new message id
            text = text.replace("MSG-20261126-0001", "MSG-20261126-0099")
        outcome = book.receive(parse_order(text, formulary), "test")
    assert outcome is not None and not outcome.accepted
    assert outcome.reason == reason
    assert [r.reason for r in book.rejected()] == [reason]


def test_intake_records_rejections_with_their_reason(backend, formulary):
    book = OrderBook(backend.engine, FakeClock(T0))
    intake = OrderIntake(book, formulary, clock=FakeClock(T0), new_id=lambda: "ACK1")
    outcome, ack = intake.hl7((HL7 / "bad_unknown_ndc.hl7").read_text(), "mllp:test")
    assert ack.split("\r")[1] == (
        "MSA|AE|MSG-20261126-0005|RXE-2 give code: NDC 12345-678-90 is not in the formulary")
    _, ack = intake.hl7((HL7 / "bad_malformed_segment.hl7").read_text(), "mllp:test")
    assert ack.split("\r")[1].startswith("MSA|AR|MSG-20261126-0007|segment 5")
    outcome = intake.fhir((FHIR / "bad_draft.json").read_text(), "file:bad_draft.json",
                          folder_resolver(FHIR))
    assert not outcome.accepted
    rejected = book.rejected()
    assert [(r.message_id, r.order_id, r.source) for r in rejected] == [
        ("MSG-20261126-0005", "RX-270004", "mllp:test"),
        ("MSG-20261126-0007", "", "mllp:test"),
        (outcome.message_id, "RX-270106", "file:bad_draft.json"),
    ]
    assert rejected[0].reason == "RXE-2 give code: NDC 12345-678-90 is not in the formulary"
    assert len(book.worklist()) == 0


def test_fhir_and_hl7_meet_in_one_worklist(book, formulary):
    intake = OrderIntake(book, formulary, clock=FakeClock(T0))
    intake.hl7((HL7 / "nw_morphine_syringe_stat.hl7").read_text(), "mllp")
    intake.fhir((FHIR / "active_contained_cefazolin.json").read_text(), "file")
    intake.fhir((FHIR / "folder_referenced_meropenem.json").read_text(), "file",
                folder_resolver(FHIR))
    assert [o.order_id for o in book.worklist()] == ["RX-270003", "RX-270103", "RX-270101"]
    outcome = intake.fhir((FHIR / "cancelled_cefazolin.json").read_text(), "file")
    assert outcome.kind is OutcomeKind.DISCONTINUED
    assert [o.order_id for o in book.worklist()] == ["RX-270003", "RX-270103"]


@pytest.mark.parametrize("statement", [
    "UPDATE order_events SET kind = 'received'",
    "DELETE FROM order_events",
])
def test_the_database_refuses_changes(backend, book, formulary, statement):
    book.receive(message("nw_vancomycin.hl7", formulary), "test")
    with pytest.raises(DBAPIError, match="append-only"), backend.engine.begin() as connection:
        connection.execute(text(statement))
    assert len(book.events()) == 1


def test_postgres_refuses_truncate(backend, book, formulary):
    if backend.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    book.receive(message("nw_vancomycin.hl7", formulary), "test")
    with pytest.raises(DBAPIError, match="append-only"), backend.engine.begin() as connection:
        connection.execute(text("TRUNCATE order_events"))
    assert len(book.events()) == 1


def test_the_application_role_may_append_but_not_change(backend, formulary):
    if backend.app_url is None:
        pytest.skip("only PostgreSQL has a separate application role")
    engine = make_engine(backend.app_url)
    try:
        app_book = OrderBook(engine, FakeClock(T0))
        outcome = app_book.receive(message("nw_vancomycin.hl7", formulary), "test")
        assert outcome.accepted
        with pytest.raises(DBAPIError), engine.begin() as connection:
            connection.execute(text("DELETE FROM order_events"))
    finally:
        engine.dispose()


def run_import(argv, capsys):
    parser = argparse.ArgumentParser(prog="station orders")
    add_actions(parser.add_subparsers(dest="orders_command"))
    args = parser.parse_args(argv)
    status = args.run(args, sys.stdout)
    return status, capsys.readouterr().out


def test_import_command_prints_one_line_per_file(backend, capsys):
    formulary_file = str(ROOT / "fixtures" / "formulary.toml")
    files = [HL7 / "nw_vancomycin.hl7", HL7 / "bad_unknown_ndc.hl7",
             FHIR / "folder_referenced_meropenem.json", FHIR / "resource_patient_okafor.json"]
    status, out = run_import(["import", *map(str, files), "--db", backend.url,
                              "--formulary", formulary_file], capsys)
    assert status == 1
    assert out.splitlines() == [
        f"{files[0]}: accepted: created RX-270001 (message MSG-20261126-0001)",
        f"{files[1]}: rejected: RXE-2 give code: NDC 12345-678-90 is not in the formulary",
        f"{files[2]}: accepted: created RX-270103 (message MedicationRequest/mr-270103/"
        "e605c8b35b928e1f)",
        f"{files[3]}: skipped: a Patient, not an order (used to resolve references)",
    ]
    status, out = run_import(["import", str(files[0]), "--db", backend.url,
                              "--formulary", formulary_file], capsys)
    assert status == 0
    assert out == (f"{files[0]}: accepted: created RX-270001 (message MSG-20261126-0001, "
                   "already received)\n")
