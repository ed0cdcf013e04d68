"""FHIR R4 MedicationRequest (JSON) to :class:`OrderMessage`.

A document is a MedicationRequest, or a Bundle holding exactly one with the resources it
refers to. References are resolved from the request's ``contained`` resources (``#id``), the
bundle (``fullUrl`` or ``Type/id``) or a ``resolve`` callable (e.g. :func:`folder_resolver`).

=========================================================  ==================================
``status`` active / cancelled, stopped, entered-in-error   NW (XO when meta.versionId > 1) / DC
``intent``                                                 must be order (or original-order)
``identifier`` (the PLAC one, else the first), else ``id``  order id
``meta.versionId``, else a hash of the content             message id (with the request's id)
``medicationReference`` → Medication ``code`` (NDC)         the drug
``dosageInstruction[0].doseAndRate[0].doseQuantity``       dose
Medication ``ingredient`` with ``isActive`` false          the base; ``strength.numerator`` mL
Medication ``ingredient`` with ``isActive`` true           further additives and their amount
``dosageInstruction[0].route``                             route (coding code, else text)
``dosageInstruction[0].doseAndRate[0].rateQuantity``       rate
``dosageInstruction[0].timing.event[0]``                   due (else repeat.boundsPeriod.start)
``priority`` routine / urgent, asap / stat                 routine / urgent / stat
``subject`` → Patient identifier (MR), name, birthDate      patient
``encounter`` → Encounter ``location[0].location.display``  location
``requester`` display, else the Practitioner's name        prescriber
=========================================================  ==================================
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from station.core.errors import ParseError
from station.core.formulary import Formulary, Product, ProductRole
from station.core.order_messages import (
    IntakeError,
    MalformedMessage,
    OrderAction,
    OrderMessage,
    OrderRejected,
    check_ingredients,
    checked_order,
    drug_volume_ml,
    final_volume_ml,
    resolve_product,
)
from station.core.orders import DoseOrder, Ingredient, Patient, Priority
from station.core.quantities import Quantity, Unit, parse_decimal

NDC_SYSTEM = "http://hl7.org/fhir/sid/ndc"
Resource = Mapping[str, Any]
Resolver = Callable[[str], Resource | None]

_STATUSES = {
    "active": OrderAction.NEW,
    "cancelled": OrderAction.DISCONTINUE,
    "stopped": OrderAction.DISCONTINUE,
    "entered-in-error": OrderAction.DISCONTINUE,
}
_PRIORITIES = {
    "routine": Priority.ROUTINE,
    "urgent": Priority.URGENT,
    "asap": Priority.URGENT,
    "stat": Priority.STAT,
}
_REQUEST = "MedicationRequest"


def parse_json(text: str, formulary: Formulary, resolve: Resolver | None = None) -> OrderMessage:
    """Read a JSON document (see :func:`parse_request`)."""
    try:
        document = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise MalformedMessage(f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise MalformedMessage("the JSON document is not a FHIR resource (an object)")
    return parse_request(document, formulary, resolve, text=text)


def parse_request(
    document: Resource,
    formulary: Formulary,
    resolve: Resolver | None = None,
    text: str = "",
) -> OrderMessage:
    """Map a MedicationRequest (or a Bundle with one) to an :class:`OrderMessage`."""
    request, lookup = _request_and_lookup(document, resolve)
    request_id = str(request.get("id", ""))
    version = str(request.get("meta", {}).get("versionId", "") or "")
    content = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str).encode()
    message_id = f"{_REQUEST}/{request_id or '?'}/" + (
        f"_history/{version}" if version else hashlib.sha256(content).hexdigest()[:16])
    order_id = _order_id(request)
    try:
        if not order_id:
            raise OrderRejected("MedicationRequest has neither an identifier nor an id",
                                location=f"{_REQUEST}.identifier", code=101)
        status = str(request.get("status", ""))
        if status not in _STATUSES:
            raise OrderRejected(
                f"MedicationRequest.status {status!r} is not accepted: expected active, "
                "cancelled or stopped", location=f"{_REQUEST}.status", code=103)
        intent = str(request.get("intent", ""))
        if intent not in ("order", "original-order"):
            raise OrderRejected(
                f"MedicationRequest.intent {intent!r} is not an order: expected 'order'",
                location=f"{_REQUEST}.intent", code=103)
        action = _STATUSES[status]
        if action is OrderAction.DISCONTINUE:
            return OrderMessage(message_id, action, order_id, None, text)
        if version.isdigit() and int(version) > 1:
            action = OrderAction.CHANGE
        order = _dose_order(request, lookup, order_id, formulary)
    except IntakeError as error:
        error.message_id, error.order_id = message_id, order_id
        raise
    return OrderMessage(message_id, action, order_id, order, text)


def folder_resolver(folder: str | Path) -> Resolver:
    """Resolve ``Type/id`` references from the JSON resources in ``folder``."""
    index: dict[str, Resource] = {}
    for path in sorted(Path(folder).glob("*.json")):
        try:
            resource = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        except (OSError, ValueError):
            continue
        if isinstance(resource, dict) and "resourceType" in resource and "id" in resource:
            index[f"{resource['resourceType']}/{resource['id']}"] = resource
    return index.get


# ------------------------------------------------------------------------------ internals


def _request_and_lookup(document: Resource, resolve: Resolver | None
                        ) -> tuple[Resource, Callable[[Any, str], Resource]]:
    kind = document.get("resourceType")
    bundled: dict[str, Resource] = {}
    if kind == "Bundle":
        requests = []
        for entry in document.get("entry", []) or []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                continue
            if "fullUrl" in entry:
                bundled[str(entry["fullUrl"])] = resource
            if "id" in resource:
                bundled[f"{resource.get('resourceType')}/{resource['id']}"] = resource
            if resource.get("resourceType") == _REQUEST:
                requests.append(resource)
        if len(requests) != 1:
            raise MalformedMessage(
                f"the Bundle holds {len(requests)} MedicationRequests: send exactly one")
        request: Resource = requests[0]
    elif kind == _REQUEST:
        request = document
    else:
        raise MalformedMessage(
            f"resourceType {kind!r} is not accepted: send a MedicationRequest or a Bundle")
    contained = {f"#{r.get('id')}": r for r in request.get("contained", []) or []
                 if isinstance(r, dict)}

    def lookup(reference: Any, where: str) -> Resource:
        ref = reference.get("reference") if isinstance(reference, dict) else None
        if not ref:
            raise OrderRejected(f"{where} has no reference", location=where, code=101)
        found = contained.get(ref) or bundled.get(ref) or (resolve(ref) if resolve else None)
        if found is None:
            raise OrderRejected(f"{where} {ref!r} cannot be resolved: include the resource "
                                "(contained or in the Bundle)", location=where, code=204)
        return found

    return request, lookup


def _order_id(request: Resource) -> str:
    identifiers = [i for i in request.get("identifier", []) or [] if isinstance(i, dict)]
    for identifier in identifiers:
        codes = [c.get("code") for c in identifier.get("type", {}).get("coding", [])]
        if "PLAC" in codes and identifier.get("value"):
            return str(identifier["value"])
    for identifier in identifiers:
        if identifier.get("value"):
            return str(identifier["value"])
    return str(request.get("id", ""))


def _dose_order(request: Resource, lookup: Callable[[Any, str], Resource], order_id: str,
                formulary: Formulary) -> DoseOrder:
    where = _REQUEST
    medication = _medication(request, lookup)
    drug = resolve_product(_ndc(medication.get("code"), "Medication.code"), formulary,
                           ProductRole.DRUG, "Medication.code", "Medication.code")
    dosages = request.get("dosageInstruction") or [{}]
    dosage = dosages[0]
    dose_and_rate = (dosage.get("doseAndRate") or [{}])[0]
    dose_path = f"{where}.dosageInstruction[0].doseAndRate[0].doseQuantity"
    dose = _quantity(dose_and_rate.get("doseQuantity"), dose_path)
    ingredients = [Ingredient(drug.ndc, dose)]
    volumes = [drug_volume_ml(drug, dose, dose_path, dose_path)]
    base: Product | None = None
    base_volume: Decimal | None = None
    for number, item in enumerate(medication.get("ingredient", []) or []):
        path = f"Medication.ingredient[{number}]"
        code = _ndc(item.get("itemCodeableConcept"), f"{path}.itemCodeableConcept")
        amount = _quantity((item.get("strength") or {}).get("numerator"),
                           f"{path}.strength.numerator")
        if item.get("isActive") is False:
            if base is not None:
                raise OrderRejected(f"{path}: a second base (isActive false); an order has "
                                    "one", location=path, code=100)
            base = resolve_product(code, formulary, ProductRole.BASE, path, path)
            base_volume = _base_volume(amount, base, path)
        else:
            additive = resolve_product(code, formulary, ProductRole.DRUG, path, path)
            ingredients.append(Ingredient(additive.ndc, amount))
            volumes.append(drug_volume_ml(additive, amount, f"{path} amount", path))
    check_ingredients(ingredients)
    route = _route(dosage.get("route"))
    if not route:
        raise OrderRejected(f"{where}.dosageInstruction[0].route is missing",
                            location=f"{where}.dosageInstruction[0].route", code=101)
    priority_text = str(request.get("priority", "routine"))
    if priority_text not in _PRIORITIES:
        raise OrderRejected(f"{where}.priority {priority_text!r} is not routine, urgent, "
                            "asap or stat", location=f"{where}.priority", code=103)
    due = _due(dosage)
    patient = _patient(lookup(request.get("subject"), f"{where}.subject"),
                       request.get("encounter"), lookup)
    prescriber = _prescriber(request.get("requester"), lookup)
    rate = _rate(dose_and_rate.get("rateQuantity"))
    return checked_order(order_id, lambda: DoseOrder(
        order_id=order_id, patient=patient, ingredients=tuple(ingredients),
        base=base.ndc if base is not None else None,
        final_volume_ml=final_volume_ml(base_volume, volumes), route=route,
        priority=_PRIORITIES[priority_text], due=due, prescriber=prescriber, rate=rate,
    ))


def _medication(request: Resource, lookup: Callable[[Any, str], Resource]) -> Resource:
    if "medicationReference" in request:
        medication = lookup(request["medicationReference"], f"{_REQUEST}.medicationReference")
        if medication.get("resourceType") != "Medication":
            raise OrderRejected(f"{_REQUEST}.medicationReference is not a Medication",
                                location=f"{_REQUEST}.medicationReference", code=103)
        return medication
    if "medicationCodeableConcept" in request:
        return {"code": request["medicationCodeableConcept"]}
    raise OrderRejected(f"{_REQUEST} names no medication", location=f"{_REQUEST}.medication[x]",
                        code=101)


def _ndc(concept: Any, where: str) -> str:
    codings = concept.get("coding", []) if isinstance(concept, dict) else []
    for coding in codings:
        if coding.get("system") == NDC_SYSTEM and coding.get("code"):
            return str(coding["code"])
    names = [str(c.get("code")) for c in codings if c.get("code")]
    text = concept.get("text", "") if isinstance(concept, dict) else ""
    shown = f" ({', '.join(names) or text})" if names or text else ""
    raise OrderRejected(f"{where} has no NDC coding{shown}: the station knows drugs only by "
                        "NDC", location=where, code=103)


def _quantity(value: Any, where: str) -> Quantity:
    if not isinstance(value, dict) or "value" not in value:
        raise OrderRejected(f"{where} is missing", location=where, code=101)
    raw = value["value"]
    unit_text = value.get("unit") or value.get("code")
    try:
        # JSON numbers arrive as floats: read them back through their shortest text.
        number = parse_decimal(repr(raw) if isinstance(raw, float) else raw, where)
    except ParseError as error:
        raise OrderRejected(str(error), location=where, code=102) from None
    if not unit_text:
        raise OrderRejected(f"{where} has no unit", location=where, code=101)
    try:
        unit = Unit.parse(str(unit_text))
    except ParseError as error:
        raise OrderRejected(f"{where}: {error}", location=where, code=103) from None
    if number <= 0:
        raise OrderRejected(f"{where} {number} {unit.value} must be greater than zero",
                            location=where, code=102)
    return Quantity(number, unit)


def _base_volume(volume: Quantity, base: Product, where: str) -> Decimal:
    try:
        ml = volume.to(Unit.ML).value
    except ParseError:
        raise OrderRejected(f"{where} base volume {volume} is not a volume", location=where,
                            code=102) from None
    if ml != base.container_volume_ml:
        raise OrderRejected(
            f"{where} base volume {volume} does not match {base.label}, which holds "
            f"{base.container_volume_ml.normalize():f} mL: send the NDC of the bag ordered",
            location=where, code=102)
    return ml


def _route(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    for coding in concept.get("coding", []) or []:
        if coding.get("code"):
            return str(coding["code"])
    return str(concept.get("text", ""))


def _due(dosage: Resource) -> dt.datetime:
    timing = dosage.get("timing") or {}
    path = f"{_REQUEST}.dosageInstruction[0].timing.event[0]"
    text = (timing.get("event") or [None])[0]
    if text is None:
        text = ((timing.get("repeat") or {}).get("boundsPeriod") or {}).get("start")
        path = f"{_REQUEST}.dosageInstruction[0].timing.repeat.boundsPeriod.start"
    if not text:
        raise OrderRejected(f"the due time is missing: send it in {_REQUEST}.dosageInstruction"
                            "[0].timing.event[0]", location=path, code=101)
    try:
        due = dt.datetime.fromisoformat(str(text))
    except ValueError:
        raise OrderRejected(f"{path} {text!r} is not a date and time", location=path,
                            code=102) from None
    if due.tzinfo is None or "T" not in str(text):
        raise OrderRejected(f"{path} {text!r} needs a time and a UTC offset", location=path,
                            code=102)
    return due


def _patient(subject: Resource, encounter_ref: Any,
             lookup: Callable[[Any, str], Resource]) -> Patient:
    identifiers = [i for i in subject.get("identifier", []) or [] if isinstance(i, dict)]
    patient_id = ""
    for identifier in identifiers:
        codes = [c.get("code") for c in identifier.get("type", {}).get("coding", [])]
        if "MR" in codes and identifier.get("value"):
            patient_id = str(identifier["value"])
            break
    if not patient_id and identifiers:
        patient_id = str(identifiers[0].get("value", ""))
    if not patient_id:
        raise OrderRejected("Patient.identifier is missing", location="Patient.identifier",
                            code=101)
    names = subject.get("name") or [{}]
    family, given = str(names[0].get("family", "")), " ".join(names[0].get("given", []))
    if not family:
        raise OrderRejected("Patient.name is missing", location="Patient.name", code=101)
    birth = subject.get("birthDate")
    try:
        date_of_birth = dt.date.fromisoformat(birth) if birth else None
    except (TypeError, ValueError):
        raise OrderRejected(f"Patient.birthDate {birth!r} is not a date YYYY-MM-DD",
                            location="Patient.birthDate", code=102) from None
    encounter = lookup(encounter_ref, f"{_REQUEST}.encounter")
    locations = encounter.get("location") or [{}]
    location = str((locations[0].get("location") or {}).get("display", ""))
    if not location:
        raise OrderRejected("Encounter.location[0].location.display (the patient's unit/room/"
                            "bed) is missing", location="Encounter.location", code=101)
    name = f"{family}, {given}" if given else family
    return Patient(patient_id, name, location, date_of_birth)


def _prescriber(requester: Any, lookup: Callable[[Any, str], Resource]) -> str:
    if isinstance(requester, dict) and requester.get("display"):
        return str(requester["display"])
    if isinstance(requester, dict) and requester.get("reference"):
        practitioner = lookup(requester, f"{_REQUEST}.requester")
        names = practitioner.get("name") or [{}]
        parts = [*names[0].get("prefix", []), *names[0].get("given", []),
                 names[0].get("family", "")]
        text = " ".join(str(p) for p in parts if p)
        if text:
            return text
    raise OrderRejected(f"{_REQUEST}.requester (the prescriber) is missing",
                        location=f"{_REQUEST}.requester", code=101)


def _rate(value: Any) -> str | None:
    if value is None:
        return None
    where = f"{_REQUEST}.dosageInstruction[0].doseAndRate[0].rateQuantity"
    if not isinstance(value, dict) or "value" not in value or not value.get("unit"):
        raise OrderRejected(f"{where} needs a value and a unit", location=where, code=101)
    raw = value["value"]
    try:
        number = parse_decimal(repr(raw) if isinstance(raw, float) else raw, where)
    except ParseError as error:
        raise OrderRejected(str(error), location=where, code=102) from None
    if number <= 0:
        raise OrderRejected(f"{where} {number} must be greater than zero", location=where,
                            code=102)
    return f"{number.normalize():f} {value['unit']}"
