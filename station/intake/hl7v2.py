r"""HL7 v2 pharmacy orders (RDE^O11, and the older RDE^O01) to :class:`OrderMessage`, and ACKs.

The ``hl7`` library splits the message; this module maps its fields:

==============================  ==========================================================
MSH-9 / MSH-10                  message type (RDE^O11 or RDE^O01) / message id
ORC-1                           NW new, XO change, DC (or CA) discontinue
ORC-2 (else ORC-3)              order id (placer, else filler order number)
PID-3 / PID-5 / PID-7           patient id (the MR repetition, else the first), name, birth
PV1-3                           location: point of care/room/bed
RXE-2                           the drug's NDC (or RXE-2.4 when RXE-2.6 says NDC)
RXE-3 / RXE-4 / RXE-5           dose, its maximum (a range is refused), dose units
RXC (type A) -2 / -3 / -4       further additives: NDC, amount, units
RXC (type B) -2 / -3 / -4       the base: NDC, volume, units (must be the bag's volume)
RXR-1                           route
RXE-23 / RXE-24                 rate amount and units
TQ1-7 / TQ1-9                   due time / priority S stat, A urgent, R routine; failing TQ1,
                                ORC-7 (TQ .4 start, .6 priority), then RXE-1
ORC-12                          prescriber
==============================  ==========================================================

The final volume is the base's volume plus the drug volume each dose takes at the stocked
product's concentration (without a base: the drug volume alone), as in the worklist file.

>>> print(build_ack("MSH|^~\\&|EHR|GEN|IV|RX|20261126||RDE^O11|M1|P|2.5.1", AckCode.ACCEPTED,
...                 control_id="A1", now=dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.UTC))
...       .replace("\r", "\n"))
MSH|^~\&|IVSTATION|PHARMACY|EHR|GEN|20261126093000+0000||ACK^O11^ACK|A1|P|2.5.1
MSA|AA|M1
<BLANKLINE>
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from enum import Enum
from typing import Any

import hl7

from station.core.errors import ParseError
from station.core.formulary import Formulary, ProductRole
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

ACCEPTED_TYPES = ("RDE^O11", "RDE^O01")
STATION_APPLICATION = "IVSTATION"
STATION_FACILITY = "PHARMACY"

_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{2}")
_DTM = re.compile(
    r"(?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})(?P<h>\d{2})(?P<mi>\d{2})(?P<s>\d{2})?"
    r"(?:\.\d{1,4})?(?P<tz>[+-]\d{4})?"
)
_ACTIONS = {
    "NW": OrderAction.NEW,
    "XO": OrderAction.CHANGE,
    "DC": OrderAction.DISCONTINUE,
    "CA": OrderAction.DISCONTINUE,
}
_PRIORITIES = {"S": Priority.STAT, "A": Priority.URGENT, "R": Priority.ROUTINE}
_NDC_SYSTEMS = {"NDC", "N4"}

Segment = Any  # an hl7.Segment: the library has no type information


class AckCode(Enum):
    """HL7 table 0008, original mode."""

    ACCEPTED = "AA"
    ERROR = "AE"
    REJECTED = "AR"


_ERROR_TEXT = {
    100: "Segment sequence error",
    101: "Required field missing",
    102: "Data type error",
    103: "Table value not found",
    200: "Unsupported message type",
    204: "Unknown key identifier",
    205: "Duplicate key identifier",
    207: "Application internal error",
}


# ------------------------------------------------------------------------------ reading


def parse_order(
    text: str, formulary: Formulary, local_zone: dt.tzinfo | None = None
) -> OrderMessage:
    """Map one RDE message to an :class:`OrderMessage`, or raise an :class:`IntakeError`.

    :class:`MalformedMessage` (answer AR) when the text is not a readable RDE message;
    :class:`OrderRejected` (answer AE) when it is, but its order cannot be accepted.
    Times without a UTC offset are read in ``local_zone``, and refused without one.
    """
    text = normalise(text)
    message = _split(text)
    msh = message.segment("MSH")
    message_id = _get(msh, 10)
    if not message_id:
        raise MalformedMessage("MSH-10 message control id is missing", location="MSH^1^10",
                               code=101)
    message_type = f"{_get(msh, 9, 1)}^{_get(msh, 9, 2)}"
    if message_type not in ACCEPTED_TYPES:
        raise MalformedMessage(
            f"message type {message_type} is not accepted: send RDE^O11 (or RDE^O01)",
            message_id=message_id, location="MSH^1^9", code=200,
        )
    try:
        return _order_message(message, message_id, formulary, local_zone, text)
    except IntakeError as error:
        error.message_id = message_id
        raise


def normalise(text: str) -> str:
    """The message with segments ended by CR only (files and e-mails use LF or CRLF)."""
    return text.replace("\r\n", "\r").replace("\n", "\r").strip("\r \t\x0b\x1c")


def _split(text: str) -> Any:
    if not text.startswith("MSH"):
        raise MalformedMessage("the message does not start with an MSH segment",
                               location="MSH", code=100)
    separator = text[3:4]
    if not separator or separator.isalnum():
        raise MalformedMessage("MSH has no field separator after 'MSH'", location="MSH",
                               code=100)
    for number, line in enumerate(text.split("\r"), start=1):
        if not line:
            continue
        if not _SEGMENT_ID.fullmatch(line[:3]) or line[3:4] not in ("", separator):
            raise MalformedMessage(
                f"segment {number} ({line[:12]!r}) is not a segment: expected a "
                f"three-character segment id followed by {separator!r}",
                location=f"{line[:3]}", code=100,
            )
    try:
        return hl7.parse(text)
    except Exception as error:  # the library raises assorted errors for broken text
        raise MalformedMessage(f"the message cannot be read as HL7 v2: {error}",
                               code=100) from None


def _segments(message: Any, segment_id: str) -> list[Segment]:
    return [s for s in message if str(s[0][0]) == segment_id]


def _one(message: Any, segment_id: str, required: bool = True) -> Segment | None:
    found = _segments(message, segment_id)
    if not found and required:
        raise MalformedMessage(f"required segment {segment_id} is missing",
                               location=segment_id, code=100)
    return found[0] if found else None


def _get(segment: Segment | None, field: int, component: int = 1, repetition: int = 1) -> str:
    if segment is None:
        return ""
    try:
        value = segment.extract_field(1, field, repetition, component, 1)
    except IndexError:
        return ""
    text = str(value).strip()
    return "" if text == '""' else text


def _repetitions(segment: Segment, field: int) -> int:
    if field >= len(segment):
        return 0
    return len(segment(field))


def _order_message(
    message: Any,
    message_id: str,
    formulary: Formulary,
    local_zone: dt.tzinfo | None,
    text: str,
) -> OrderMessage:
    orcs = _segments(message, "ORC")
    if not orcs:
        raise MalformedMessage("required segment ORC is missing", location="ORC", code=100)
    if len(orcs) > 1:
        raise OrderRejected(f"the message carries {len(orcs)} orders (ORC segments): send "
                            "one order per message", location="ORC^2", code=100)
    orc = orcs[0]
    control = _get(orc, 1)
    if control not in _ACTIONS:
        raise OrderRejected(
            f"ORC-1 order control {control!r} is not accepted: expected NW (new), XO "
            "(change) or DC (discontinue)", location="ORC^1^1", code=103,
        )
    action = _ACTIONS[control]
    order_id = _get(orc, 2) or _get(orc, 3)
    if not order_id:
        raise OrderRejected("ORC-2 placer order number is missing", location="ORC^1^2",
                            code=101)
    if action is OrderAction.DISCONTINUE:
        return OrderMessage(message_id, action, order_id, None, text)
    try:
        order = _dose_order(message, orc, order_id, formulary, local_zone)
    except IntakeError as error:
        error.order_id = order_id
        raise
    return OrderMessage(message_id, action, order_id, order, text)


def _dose_order(
    message: Any,
    orc: Segment,
    order_id: str,
    formulary: Formulary,
    local_zone: dt.tzinfo | None,
) -> DoseOrder:
    pid = _one(message, "PID")
    pv1 = _one(message, "PV1")
    rxe = _one(message, "RXE")
    rxr = _one(message, "RXR")
    patient = _patient(pid, pv1)

    drug = resolve_product(_give_code(rxe), formulary, ProductRole.DRUG, "RXE-2 give code",
                           "RXE^1^2")
    dose = _dose(rxe)
    ingredients = [Ingredient(drug.ndc, dose)]
    volumes = [drug_volume_ml(drug, dose, "RXE-3 dose", "RXE^1^3")]
    base_volume: Decimal | None = None
    base = None
    for number, rxc in enumerate(_segments(message, "RXC"), start=1):
        kind = _get(rxc, 1)
        where = f"RXC {number}"
        if kind == "B":
            if base is not None:
                raise OrderRejected(f"{where}: a second base (RXC-1 B); an order has one",
                                    location=f"RXC^{number}^1", code=100)
            base = resolve_product(_get(rxc, 2), formulary, ProductRole.BASE,
                                   f"{where} base RXC-2", f"RXC^{number}^2")
            base_volume = _base_volume(rxc, number, base.container_volume_ml, base.label)
        elif kind == "A":
            additive = resolve_product(_get(rxc, 2), formulary, ProductRole.DRUG,
                                       f"{where} additive RXC-2", f"RXC^{number}^2")
            amount = _quantity(_get(rxc, 3), _get(rxc, 4), f"{where} RXC-3 amount",
                               f"{where} RXC-4 units", f"RXC^{number}^3")
            ingredients.append(Ingredient(additive.ndc, amount))
            volumes.append(drug_volume_ml(additive, amount, f"{where} RXC-3 amount",
                                          f"RXC^{number}^3"))
        else:
            raise OrderRejected(f"{where}: RXC-1 component type {kind!r} is not B (base) "
                                "or A (additive)", location=f"RXC^{number}^1", code=103)
    check_ingredients(ingredients)

    route = _get(rxr, 1)
    if not route:
        raise OrderRejected("RXR-1 route is missing", location="RXR^1^1", code=101)
    due, priority = _timing(message, orc, rxe, local_zone)
    prescriber = _prescriber(orc)
    rate = _rate(rxe)
    return checked_order(order_id, lambda: DoseOrder(
        order_id=order_id,
        patient=patient,
        ingredients=tuple(ingredients),
        base=base.ndc if base is not None else None,
        final_volume_ml=final_volume_ml(base_volume, volumes),
        route=route,
        priority=priority,
        due=due,
        prescriber=prescriber,
        rate=rate,
    ))


def _patient(pid: Segment, pv1: Segment) -> Patient:
    patient_id = ""
    for repetition in range(1, _repetitions(pid, 3) + 1):
        if _get(pid, 3, 5, repetition) == "MR" or not patient_id:
            patient_id = _get(pid, 3, 1, repetition) or patient_id
    if not patient_id:
        raise OrderRejected("PID-3 patient identifier is missing", location="PID^1^3",
                            code=101)
    family, given, middle = _get(pid, 5, 1), _get(pid, 5, 2), _get(pid, 5, 3)
    if not family:
        raise OrderRejected("PID-5 patient name is missing", location="PID^1^5", code=101)
    name = family + (", " + " ".join(p for p in (given, middle) if p) if given else "")
    birth = _get(pid, 7)
    date_of_birth = None
    if birth:
        try:
            if not birth[:8].isdigit() or len(birth) < 8:
                raise ValueError(birth)
            date_of_birth = dt.date(int(birth[:4]), int(birth[4:6]), int(birth[6:8]))
        except ValueError:
            raise OrderRejected(f"PID-7 date of birth {birth!r} is not a date YYYYMMDD",
                                location="PID^1^7", code=102) from None
    location = "/".join(p for p in (_get(pv1, 3, 1), _get(pv1, 3, 2), _get(pv1, 3, 3)) if p)
    if not location:
        raise OrderRejected("PV1-3 patient location is missing", location="PV1^1^3",
                            code=101)
    return Patient(patient_id, name, location, date_of_birth)


def _give_code(rxe: Segment) -> str:
    code, system = _get(rxe, 2, 1), _get(rxe, 2, 3).upper()
    alternate, alternate_system = _get(rxe, 2, 4), _get(rxe, 2, 6).upper()
    if system and system not in _NDC_SYSTEMS:
        if alternate and alternate_system in _NDC_SYSTEMS:
            return alternate
        text = _get(rxe, 2, 2)
        named = f" ({text})" if text else ""
        raise OrderRejected(
            f"RXE-2 give code {code!r}{named} is coded in {system}, not NDC: the station "
            "knows drugs only by NDC", location="RXE^1^2", code=103,
        )
    return code


def _dose(rxe: Segment) -> Quantity:
    minimum, maximum = _get(rxe, 3), _get(rxe, 4)
    dose = _quantity(minimum, _get(rxe, 5), "RXE-3 dose", "RXE-5 dose units", "RXE^1^3")
    if maximum:
        try:
            same = parse_decimal(maximum) == dose.value
        except ParseError:
            same = False
        if not same:
            raise OrderRejected(
                f"RXE-3/RXE-4 dose range {minimum}–{maximum} cannot be compounded: "
                "send one dose", location="RXE^1^4", code=102,
            )
    return dose


def _quantity(amount: str, units: str, what: str, what_units: str, location: str) -> Quantity:
    if not amount:
        raise OrderRejected(f"{what} is missing", location=location, code=101)
    try:
        value = parse_decimal(amount, what)
    except ParseError as error:
        raise OrderRejected(str(error), location=location, code=102) from None
    if not units:
        raise OrderRejected(f"{what_units} are missing", location=location, code=101)
    try:
        unit = Unit.parse(units)
    except ParseError as error:
        raise OrderRejected(f"{what_units}: {error}", location=location, code=103) from None
    if value <= 0:
        raise OrderRejected(f"{what} {amount} {unit.value} must be greater than zero",
                            location=location, code=102)
    return Quantity(value, unit)


def _base_volume(rxc: Segment, number: int, bag_ml: Decimal, label: str) -> Decimal:
    where = f"RXC {number}"
    volume = _quantity(_get(rxc, 3), _get(rxc, 4), f"{where} RXC-3 base volume",
                       f"{where} RXC-4 base volume units", f"RXC^{number}^3")
    try:
        ml = volume.to(Unit.ML).value
    except ParseError:
        raise OrderRejected(f"{where} RXC-3 base volume {volume} is not a volume",
                            location=f"RXC^{number}^4", code=102) from None
    if ml != bag_ml:
        raise OrderRejected(
            f"{where} RXC-3 base volume {volume} does not match {label}, which holds "
            f"{bag_ml.normalize():f} mL: send the NDC of the bag ordered",
            location=f"RXC^{number}^3", code=102,
        )
    return ml


def _timing(
    message: Any, orc: Segment, rxe: Segment, local_zone: dt.tzinfo | None
) -> tuple[dt.datetime, Priority]:
    tq1 = _one(message, "TQ1", required=False)
    if tq1 is not None and (_get(tq1, 7) or _get(tq1, 9)):
        start, start_field, start_at = _get(tq1, 7), "TQ1-7 start time", "TQ1^1^7"
        code, code_field, code_at = _get(tq1, 9), "TQ1-9 priority", "TQ1^1^9"
    elif _get(orc, 7, 4) or _get(orc, 7, 6):
        start, start_field, start_at = _get(orc, 7, 4), "ORC-7.4 start time", "ORC^1^7^1^4"
        code, code_field, code_at = _get(orc, 7, 6), "ORC-7.6 priority", "ORC^1^7^1^6"
    else:
        start, start_field, start_at = _get(rxe, 1, 4), "RXE-1.4 start time", "RXE^1^1^1^4"
        code, code_field, code_at = _get(rxe, 1, 6), "RXE-1.6 priority", "RXE^1^1^1^6"
    if not start:
        raise OrderRejected("the due time is missing: send it in TQ1-7 (or ORC-7.4)",
                            location="TQ1^1^7", code=101)
    priority = Priority.ROUTINE
    if code:
        if code.upper() not in _PRIORITIES:
            raise OrderRejected(
                f"{code_field} {code!r} is not S (stat), A (urgent) or R (routine)",
                location=code_at, code=103,
            )
        priority = _PRIORITIES[code.upper()]
    try:
        return parse_time(start, start_field, local_zone), priority
    except IntakeError as error:
        error.location = start_at
        raise


def parse_time(text: str, what: str, local_zone: dt.tzinfo | None = None) -> dt.datetime:
    """An HL7 DTM to the minute or finer, with its UTC offset (or in ``local_zone``).

    >>> parse_time("202611261600-0500", "due").isoformat()
    '2026-11-26T16:00:00-05:00'
    """
    match = _DTM.fullmatch(text)
    if match is None:
        raise OrderRejected(
            f"{what} {text!r} is not an HL7 time YYYYMMDDHHMM[SS][+/-ZZZZ]", code=102
        )
    offset = match["tz"]
    zone: dt.tzinfo
    if offset:
        minutes = int(offset[1:3]) * 60 + int(offset[3:])
        if minutes >= 24 * 60:
            raise OrderRejected(f"{what} {text!r} has an impossible UTC offset", code=102)
        zone = dt.timezone(dt.timedelta(minutes=minutes if offset[0] == "+" else -minutes))
    elif local_zone is not None:
        zone = local_zone
    else:
        raise OrderRejected(f"{what} {text!r} has no UTC offset: send e.g. {text}-0500",
                            code=102)
    try:
        return dt.datetime(int(match["y"]), int(match["mo"]), int(match["d"]),
                           int(match["h"]), int(match["mi"]), int(match["s"] or 0),
                           tzinfo=zone)
    except ValueError as error:
        raise OrderRejected(f"{what} {text!r} is not a real time: {error}",
                            code=102) from None


def _prescriber(orc: Segment) -> str:
    number, family, given = _get(orc, 12, 1), _get(orc, 12, 2), _get(orc, 12, 3)
    prefix = _get(orc, 12, 6)
    name = " ".join(p for p in (prefix, given, family) if p) if family else ""
    if not (name or number):
        raise OrderRejected("ORC-12 ordering provider is missing", location="ORC^1^12",
                            code=101)
    return name or number


def _rate(rxe: Segment) -> str | None:
    amount, units = _get(rxe, 23), _get(rxe, 24, 1)
    if not amount:
        return None
    try:
        value = parse_decimal(amount, "RXE-23 give rate")
    except ParseError as error:
        raise OrderRejected(str(error), location="RXE^1^23", code=102) from None
    if value <= 0:
        raise OrderRejected(f"RXE-23 give rate {amount} must be greater than zero",
                            location="RXE^1^23", code=102)
    if not units:
        raise OrderRejected("RXE-24 give rate units are missing", location="RXE^1^24",
                            code=101)
    return f"{value.normalize():f} {units}"


# ------------------------------------------------------------------------------ answering


def build_ack(
    received: str,
    code: AckCode,
    *,
    control_id: str,
    now: dt.datetime,
    error: IntakeError | None = None,
    application: str = STATION_APPLICATION,
    facility: str = STATION_FACILITY,
) -> str:
    """The ACK for ``received`` (read leniently: it may be the malformed message itself).

    AE and AR carry the reason in MSA-3 and in an ERR segment (location, table 0357 code,
    severity E, the reason again as the user message).
    """
    header = _lenient_header(normalise(received))
    trigger = header.get(9, "").split("^")[1:2] or ["O11"]
    msh = [
        "MSH", "^~\\&", application, facility, header.get(3, ""), header.get(4, ""),
        now.strftime("%Y%m%d%H%M%S%z"), "", f"ACK^{trigger[0]}^ACK", control_id,
        header.get(11, "") or "P", header.get(12, "") or "2.5.1",
    ]
    segments = ["|".join(msh)]
    msa = ["MSA", code.value, header.get(10, "")]
    if error is not None:
        reason = escape(error.reason)
        msa.append(reason)
        label = _ERROR_TEXT.get(error.code, _ERROR_TEXT[207])
        segments.append("|".join(msa))
        segments.append("|".join(["ERR", "", error.location, f"{error.code}^{label}^HL70357",
                                  "E", "", "", "", reason]))
    else:
        segments.append("|".join(msa))
    return "\r".join(segments) + "\r"


def escape(text: str) -> str:
    r"""Text safe inside one HL7 field (standard encoding characters).

    >>> escape("a|b^c&d~e\\f")
    'a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f'
    """
    out = text.replace("\\", "\\E\\")
    for char, code in (("|", "F"), ("^", "S"), ("&", "T"), ("~", "R")):
        out = out.replace(char, f"\\{code}\\")
    return out.replace("\r", " ").replace("\n", " ")


def _lenient_header(text: str) -> dict[int, str]:
    """MSH fields by HL7 number, from whatever MSH the text has (empty if none)."""
    first = text.split("\r", 1)[0]
    if not first.startswith("MSH") or len(first) < 4:
        return {}
    separator = first[3]
    fields = first.split(separator)
    return {number: value for number, value in enumerate(fields[1:], start=2)}


def message_id_of(text: str) -> str:
    """MSH-10 of ``text``, read leniently (empty when there is none)."""
    return _lenient_header(normalise(text)).get(10, "").split("^")[0]
