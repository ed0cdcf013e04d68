"""HL7 v2 RDE messages to orders: every fixture, its exact outcome, and the ACKs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from station.config.catalog_files import load_formulary
from station.core.identifiers import Ndc
from station.core.order_messages import MalformedMessage, OrderAction, OrderRejected
from station.core.orders import Priority
from station.core.quantities import Quantity
from station.intake.hl7v2 import AckCode, build_ack, escape, parse_order, parse_time

HL7 = Path(__file__).resolve().parents[2] / "fixtures" / "orders" / "hl7"
EST = dt.timezone(dt.timedelta(hours=-5))
NOW = dt.datetime(2026, 11, 26, 14, 30, 5, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def formulary():
    return load_formulary(Path(__file__).resolve().parents[2] / "fixtures" / "formulary.toml")


def read(name: str) -> str:
    return (HL7 / name).read_text(encoding="utf-8")


def test_new_order_maps_every_field(formulary):
    message = parse_order(read("nw_vancomycin.hl7"), formulary)
    assert message.message_id == "MSG-20261126-0001"
    assert message.action is OrderAction.NEW
    assert message.order_id == "RX-270001"
    order = message.order
    assert order is not None
    assert order.patient.patient_id == "MRN-0041187"  # the MR repetition of PID-3
    assert order.patient.name == "Okafor, Grace A"
    assert order.patient.date_of_birth == dt.date(1958, 3, 14)
    assert order.patient.location == "4W/412/A"
    assert [(str(i.ndc), str(i.dose)) for i in order.ingredients] == [("67457-367-10", "1250 mg")]
    assert order.base == Ndc.parse("0338-0049-02")
    assert order.final_volume_ml == Decimal(275)  # 250 mL bag + 1250 mg at 50 mg/mL
    assert order.route == "IV"
    assert order.rate == "183 mL/h"
    assert order.priority is Priority.ROUTINE
    assert order.due == dt.datetime(2026, 11, 26, 16, 0, tzinfo=EST)
    assert order.prescriber == "Dr. Maria Alvarez"


def test_change_carries_the_whole_new_order(formulary):
    message = parse_order(read("xo_vancomycin.hl7"), formulary)
    assert (message.action, message.order_id) == (OrderAction.CHANGE, "RX-270001")
    assert message.order is not None
    assert message.order.ingredients[0].dose == Quantity.parse("1500 mg")
    assert message.order.final_volume_ml == Decimal(280)
    assert message.order.priority is Priority.URGENT
    assert message.order.rate == "200 mL/h"


def test_discontinue_needs_only_the_order_number(formulary):
    message = parse_order(read("dc_vancomycin.hl7"), formulary)
    assert (message.message_id, message.action, message.order_id, message.order) == (
        "MSG-20261126-0003", OrderAction.DISCONTINUE, "RX-270001", None)


def test_older_o01_with_orc7_timing_ten_digit_ndc_and_additive(formulary):
    message = parse_order(read("nw_potassium_magnesium_o01.hl7"), formulary)
    order = message.order
    assert order is not None
    assert [(str(i.ndc), str(i.dose)) for i in order.ingredients] == [
        ("55154-6999-8", "20 mEq"), ("63323-064-10", "1 g")]
    assert order.base == Ndc.parse("0338-0017-02")  # sent as 11 digits
    assert order.final_volume_ml == Decimal(262)  # 250 + 10 mL KCl + 2 mL MgSO4
    assert order.priority is Priority.URGENT
    assert order.due == dt.datetime(2026, 11, 26, 10, 0, tzinfo=EST)
    assert order.prescriber == "Dr. Robert Chen"
    assert order.rate == "50 mL/h"


def test_stat_syringe_without_base(formulary):
    order = parse_order(read("nw_morphine_syringe_stat.hl7"), formulary).order
    assert order is not None
    assert order.base is None
    assert order.final_volume_ml == Decimal("0.4")
    assert order.priority is Priority.STAT
    assert order.patient.location == "ED/12"


@pytest.mark.parametrize(("name", "reason", "location"), [
    ("bad_unknown_ndc.hl7", "RXE-2 give code: NDC 12345-678-90 is not in the formulary",
     "RXE^1^2"),
    ("bad_missing_dose.hl7", "RXE-3 dose is missing", "RXE^1^3"),
    ("bad_unknown_drug.hl7", "RXE-2 give code 'CEFAZ2G' (Cefazolin 2 g IVPB) is coded in LOCAL, "
     "not NDC: the station knows drugs only by NDC", "RXE^1^2"),
    ("bad_time.hl7", "TQ1-7 start time '2026-11-26 14:00' is not an HL7 time "
     "YYYYMMDDHHMM[SS][+/-ZZZZ]", "TQ1^1^7"),
    ("bad_dose_units.hl7", "RXE-3 dose 5000 mg cannot be made from Heparin Sodium (porcine) "
     "10,000 units/10 mL (1,000 units/mL) (NDC 63323-540-11): its concentration is "
     "1000 units/mL", "RXE^1^3"),
])
def test_rejected_fixtures_say_exactly_why(formulary, name, reason, location):
    with pytest.raises(OrderRejected) as caught:
        parse_order(read(name), formulary)
    assert caught.value.reason == reason
    assert caught.value.location == location
    assert caught.value.message_id.startswith("MSG-20261126-")
    assert caught.value.order_id.startswith("RX-2700")


@pytest.mark.parametrize(("name", "reason"), [
    ("bad_malformed_segment.hl7", "segment 5 ('RXE give 2 g') is not a segment: expected a "
     "three-character segment id followed by '|'"),
    ("bad_not_rde.hl7", "message type ADT^A01 is not accepted: send RDE^O11 (or RDE^O01)"),
])
def test_malformed_fixtures(formulary, name, reason):
    with pytest.raises(MalformedMessage) as caught:
        parse_order(read(name), formulary)
    assert caught.value.reason == reason


def edit(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


@pytest.mark.parametrize(("old", "new", "reason"), [
    ("|1250||mg", "|0||mg", "RXE-3 dose 0 mg must be greater than zero"),
    ("|1250||mg", "|1250|1500|mg", "RXE-3/RXE-4 dose range 1250–1500 cannot be compounded: "
     "send one dose"),
    ("|1250||mg^milligram^UCUM", "|1250||", "RXE-5 dose units are missing"),
    ("|1250||mg^milligram^UCUM", "|1250||tabs", "RXE-5 dose units: unknown unit 'tabs': "
     "expected one of g, mg, mcg, L, mL, units, million units, mEq, mmol"),
    ("|250|mL^milliliter", "|500|mL^milliliter", "RXC 1 RXC-3 base volume 500 mL does not "
     "match Sodium Chloride 0.9% 250 mL (NDC 0338-0049-02), which holds 250 mL: send the NDC "
     "of the bag ordered"),
    ("RXC|B|0338-0049-02", "RXC|B|0409-4888-10", "RXC 1 base RXC-2: Sodium Chloride 0.9% "
     "(preservative-free) 90 mg/10 mL (0.9%) (NDC 0409-4888-10) is a diluent, not a base"),
    ("RXR|IV^Intravenous^HL70162", "RXR|", "RXR-1 route is missing"),
    ("202611261600-0500", "202611261600", "TQ1-7 start time '202611261600' has no UTC offset: "
     "send e.g. 202611261600-0500"),
    ("202611261600-0500", "202602301600-0500", "TQ1-7 start time '202602301600-0500' is not a "
     "real time: day is out of range for month"),
    ("||R^Routine^HL70485", "||P^Preop^HL70485", "TQ1-9 priority 'P' is not S (stat), "
     "A (urgent) or R (routine)"),
    ("|183|", "|fast|", "RXE-23 give rate 'fast' is not a decimal number"),
    ("|1234567^Alvarez^Maria^^^Dr.\nTQ1", "|\nTQ1", "ORC-12 ordering provider is missing"),
    ("ORC|NW|", "ORC|SC|", "ORC-1 order control 'SC' is not accepted: expected NW (new), XO "
     "(change) or DC (discontinue)"),
    ("||19580314|", "||19581314|", "PID-7 date of birth '19581314' is not a date YYYYMMDD"),
    ("PV1|1|I|4W^412^A^GENHOSP", "PV1|1|I|", "PV1-3 patient location is missing"),
])
def test_impossible_or_missing_values(formulary, old, new, reason):
    with pytest.raises(OrderRejected) as caught:
        parse_order(edit(read("nw_vancomycin.hl7"), old, new), formulary)
    assert caught.value.reason == reason


def test_missing_segment_is_malformed(formulary):
    text = edit(read("nw_vancomycin.hl7"), "RXR|IV^Intravenous^HL70162\n", "")
    with pytest.raises(MalformedMessage, match=r"^required segment RXR is missing$"):
        parse_order(text, formulary)


def test_not_hl7_at_all(formulary):
    with pytest.raises(MalformedMessage, match=r"^the message does not start with an MSH"):
        parse_order("hello", formulary)


def test_local_zone_reads_times_without_offset(formulary):
    text = edit(read("nw_vancomycin.hl7"), "202611261600-0500", "202611261600")
    order = parse_order(text, formulary, local_zone=EST).order
    assert order is not None and order.due == dt.datetime(2026, 11, 26, 16, 0, tzinfo=EST)


def test_alternate_ndc_coding_in_rxe2(formulary):
    text = edit(read("nw_vancomycin.hl7"), "67457-367-10^Vancomycin 1 g vial^NDC",
                "VANC1G^Vancomycin 1 g^LOCAL^67457-367-10^Vancomycin^NDC")
    order = parse_order(text, formulary).order
    assert order is not None and str(order.ingredients[0].ndc) == "67457-367-10"


def test_parse_time_offsets():
    assert parse_time("20261126160030+0130", "t").utcoffset() == dt.timedelta(hours=1,
                                                                              minutes=30)
    with pytest.raises(OrderRejected, match="impossible UTC offset"):
        parse_time("202611261600+2500", "t")


def test_ack_accepted():
    ack = build_ack(read("nw_vancomycin.hl7"), AckCode.ACCEPTED, control_id="ACK1", now=NOW)
    assert ack.split("\r") == [
        "MSH|^~\\&|IVSTATION|PHARMACY|EPIC|GENHOSP|20261126143005+0000||ACK^O11^ACK|ACK1|P|2.5.1",
        "MSA|AA|MSG-20261126-0001",
        "",
    ]


def test_ack_error_carries_the_reason_in_msa3_and_err(formulary):
    text = read("bad_unknown_ndc.hl7")
    with pytest.raises(OrderRejected) as caught:
        parse_order(text, formulary)
    ack = build_ack(text, AckCode.ERROR, control_id="ACK2", now=NOW, error=caught.value)
    reason = "RXE-2 give code: NDC 12345-678-90 is not in the formulary"
    assert ack.split("\r")[1:] == [
        f"MSA|AE|MSG-20261126-0005|{reason}",
        f"ERR||RXE^1^2|103^Table value not found^HL70357|E||||{reason}",
        "",
    ]


def test_ack_reject_for_unreadable_text():
    error = MalformedMessage("the message does not start with an MSH segment", code=100)
    ack = build_ack("garbage", AckCode.REJECTED, control_id="ACK3", now=NOW, error=error)
    assert ack.split("\r")[1] == "MSA|AR||the message does not start with an MSH segment"
    assert ack.startswith("MSH|^~\\&|IVSTATION|PHARMACY|||")


def test_escape_keeps_fields_intact():
    assert escape("ADT^A01 | x") == "ADT\\S\\A01 \\F\\ x"
