"""FHIR R4 MedicationRequest to orders: contained, bundled and folder references."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from station.config.catalog_files import load_formulary
from station.core.identifiers import Ndc
from station.core.order_messages import MalformedMessage, OrderAction, OrderRejected
from station.core.orders import Priority
from station.intake.fhir import folder_resolver, parse_json, parse_request

FHIR = Path(__file__).resolve().parents[2] / "fixtures" / "orders" / "fhir"
EST = dt.timezone(dt.timedelta(hours=-5))


@pytest.fixture(scope="module")
def formulary():
    return load_formulary(Path(__file__).resolve().parents[2] / "fixtures" / "formulary.toml")


def read(name: str) -> str:
    return (FHIR / name).read_text(encoding="utf-8")


def test_contained_medication_patient_and_encounter(formulary):
    message = parse_json(read("active_contained_cefazolin.json"), formulary)
    assert message.message_id == "MedicationRequest/mr-270101/_history/1"
    assert (message.action, message.order_id) == (OrderAction.NEW, "RX-270101")
    order = message.order
    assert order is not None
    assert (order.patient.patient_id, order.patient.name, order.patient.location) == (
        "MRN-0039920", "Haddad, Samir", "5E/508/B")
    assert order.patient.date_of_birth == dt.date(1967, 9, 2)
    assert [(str(i.ndc), str(i.dose)) for i in order.ingredients] == [("25021-100-10", "2 g")]
    assert order.base == Ndc.parse("0338-0049-48")
    assert order.final_volume_ml == Decimal("106.06")  # 100 mL + 2 g at 330 mg/mL
    assert (order.route, order.rate, order.priority) == ("IV", "200 mL/h", Priority.URGENT)
    assert order.due == dt.datetime(2026, 11, 26, 12, 0, tzinfo=EST)
    assert order.prescriber == "Dr. Daniel Kim"


def test_bundle_references_by_type_id_and_full_url(formulary):
    message = parse_json(read("bundle_referenced_heparin.json"), formulary)
    order = message.order
    assert order is not None
    assert message.order_id == "RX-270102"
    assert message.message_id.startswith("MedicationRequest/mr-270102/")
    assert [(str(i.ndc), str(i.dose)) for i in order.ingredients] == [
        ("0409-2723-31", "25000 units")]
    assert order.final_volume_ml == Decimal(255)
    assert order.patient.location == "ICU/07/1"
    assert order.prescriber == "Dr. Robert Chen"  # from the Practitioner
    assert order.due == dt.datetime(2026, 11, 26, 18, 0, tzinfo=EST)  # boundsPeriod.start


def test_references_resolved_from_a_folder(formulary):
    message = parse_json(read("folder_referenced_meropenem.json"), formulary,
                         folder_resolver(FHIR))
    order = message.order
    assert order is not None
    assert order.priority is Priority.STAT
    assert order.final_volume_ml == Decimal(120)
    assert order.patient.name == "Okafor, Grace"


def test_unresolvable_reference(formulary):
    with pytest.raises(OrderRejected) as caught:
        parse_json(read("folder_referenced_meropenem.json"), formulary)
    assert caught.value.reason == (
        "MedicationRequest.medicationReference 'Medication/med-meropenem-1g' cannot be "
        "resolved: include the resource (contained or in the Bundle)")


def test_cancelled_is_a_discontinue(formulary):
    message = parse_json(read("cancelled_cefazolin.json"), formulary)
    assert (message.action, message.order_id, message.order) == (
        OrderAction.DISCONTINUE, "RX-270101", None)
    assert message.message_id == "MedicationRequest/mr-270101/_history/2"


def test_a_later_version_is_a_change(formulary):
    document = json.loads(read("active_contained_cefazolin.json"))
    document["meta"]["versionId"] = "3"
    assert parse_request(document, formulary).action is OrderAction.CHANGE


@pytest.mark.parametrize(("name", "reason"), [
    ("bad_rxnorm_only.json", "Medication.code has no NDC coding (1665060): the station knows "
     "drugs only by NDC"),
    ("bad_missing_dose.json", "MedicationRequest.dosageInstruction[0].doseAndRate[0]"
     ".doseQuantity is missing"),
    ("bad_draft.json", "MedicationRequest.status 'draft' is not accepted: expected active, "
     "cancelled or stopped"),
])
def test_rejected_fixtures(formulary, name, reason):
    with pytest.raises(OrderRejected) as caught:
        parse_json(read(name), formulary, folder_resolver(FHIR))
    assert caught.value.reason == reason
    assert caught.value.message_id.startswith("MedicationRequest/")


@pytest.mark.parametrize(("change", "reason"), [
    (lambda d: d.update(intent="plan"), "MedicationRequest.intent 'plan' is not an order: "
     "expected 'order'"),
    (lambda d: d["dosageInstruction"][0]["timing"].update(event=["2026-11-26T12:00:00"]),
     "MedicationRequest.dosageInstruction[0].timing.event[0] '2026-11-26T12:00:00' needs a "
     "time and a UTC offset"),
    (lambda d: d["dosageInstruction"][0]["doseAndRate"][0].update(
        doseQuantity={"value": -2, "unit": "g"}),
     "MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity -2 g must be greater "
     "than zero"),
    (lambda d: d.update(priority="whenever"), "MedicationRequest.priority 'whenever' is not "
     "routine, urgent, asap or stat"),
    (lambda d: d.pop("requester"), "MedicationRequest.requester (the prescriber) is missing"),
])
def test_bad_values(formulary, change, reason):
    document = json.loads(read("active_contained_cefazolin.json"))
    change(document)
    with pytest.raises(OrderRejected) as caught:
        parse_request(document, formulary)
    assert caught.value.reason == reason


def test_not_an_order_resource(formulary):
    with pytest.raises(MalformedMessage, match=r"^resourceType 'Patient' is not accepted"):
        parse_json(read("resource_patient_okafor.json"), formulary)
    with pytest.raises(MalformedMessage, match=r"^not JSON"):
        parse_json("{", formulary)


def test_same_content_same_message_id(formulary):
    text = read("bundle_referenced_heparin.json")
    assert parse_json(text, formulary).message_id == parse_json(text, formulary).message_id
    changed = text.replace('"value": 25000', '"value": 20000')
    assert parse_json(changed, formulary).message_id != parse_json(text, formulary).message_id
