r"""Turn what a decoder or a handheld scanner delivers into a product identity.

Accepted forms, each with or without an AIM symbology prefix (``]E0``, ``]C1``, ``]e0``,
``]d2``, ``]Q3`` ...): UPC-A (12 digits), its EAN-13 form (13), GTIN-14, a GS1 element string
with GS (0x1D) separators, the human-readable ``(01)…(17)…(10)…(21)…`` form, and an NDC typed
with hyphens. GS1 element strings are split by biip; what is NDC-specific is done here.

>>> identity = parse_scan("]d2010030409488802617280300" "10AB123\\x1d21XYZ9", reference_year=2026)
>>> identity.ndc10, str(identity.expiry), str(identity.lot), str(identity.serial)
('0409488802', '2028-03-31', 'AB123', 'XYZ9')
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from biip import ParseError as BiipParseError
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_element_strings import GS1ElementString
from biip.gs1_messages import GS1Message

from station.core.errors import (
    ConflictingData,
    InvalidFormat,
    MissingSeparator,
    ParseError,
)
from station.core.identifiers import Expiry, Gtin, Lot, Ndc, Serial

GS = "\x1d"
T = TypeVar("T")

# AIM symbology identifiers (ISO/IEC 15424) whose data is a GS1 element string.
_GS1_SYMBOLOGIES = {"]C1", "]e0", "]d2", "]Q3", "]J1"}
# ... and those whose data is an EAN/UPC number.
_EAN_UPC_SYMBOLOGIES = {"]E0", "]E1", "]E2", "]E3", "]E4"}
_AIM_PREFIX = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
_TYPED_NDC = re.compile(r"^\d{4,6}-\d{3,4}-\d{1,2}$")

# The elements a drug package's identifier uses; any other AI is carried but not interpreted.
_AI_GTIN, _AI_EXPIRY, _AI_LOT, _AI_SERIAL, _AI_NDC = "01", "17", "10", "21", "715"
_PRODUCT_AIS = (_AI_GTIN, _AI_EXPIRY, _AI_LOT, _AI_SERIAL)


class ScanKind(Enum):
    """What shape of data the scan carried."""

    UPC_A = "UPC-A"
    EAN_13 = "EAN-13"
    EAN_8 = "EAN-8"
    GTIN_14 = "GTIN-14"
    GS1 = "GS1 element string"
    GS1_HRI = "GS1 human-readable"
    NDC = "typed NDC"


@dataclass(frozen=True)
class ScanIdentity:
    """What one scan says about a package: its identifier, and lot, expiry and serial if given."""

    raw: str
    kind: ScanKind
    symbology: str | None
    gtin: Gtin | None
    ndc: Ndc | None
    lot: Lot | None
    expiry: Expiry | None
    serial: Serial | None

    @property
    def ndc10(self) -> str | None:
        """The 10 NDC digits the GTIN carries (or the typed/AI 715 NDC's, when it has them)."""
        if self.gtin is not None and self.gtin.ndc10 is not None:
            return self.gtin.ndc10
        return self.ndc.ndc10 if self.ndc is not None else None

    @property
    def ndc_candidates(self) -> tuple[Ndc, ...]:
        """The 11-digit NDCs this scan could name: one when the NDC is explicit, else up to 3."""
        if self.ndc is not None:
            return (self.ndc.to_hipaa(),) if self.ndc.shape != (6, 4, 2) else (self.ndc,)
        ndc10 = self.ndc10
        return Ndc.candidates(ndc10) if ndc10 is not None else ()


def parse_scan(text: str, reference_year: int) -> ScanIdentity:
    """Parse one scan; ``reference_year`` (the current year) fixes the century of expiry dates.

    Raises a :class:`~station.core.errors.ParseError` naming what is wrong and where.
    """
    data = text.strip("\r\n\t ")
    if not data:
        raise InvalidFormat("empty scan")
    symbology = None
    if match := _AIM_PREFIX.match(data):
        symbology = match.group(0)
        data = data[len(symbology) :]
        if not data:
            raise InvalidFormat(f"scan has the symbology identifier {symbology} and no data")

    if symbology in _GS1_SYMBOLOGIES:
        identity = _parse_element_string(text, data, symbology, reference_year)
    elif symbology in _EAN_UPC_SYMBOLOGIES:
        identity = _parse_linear(text, data, symbology)
    elif data.startswith("("):
        identity = _parse_hri(text, data, symbology, reference_year)
    elif data.isdigit() and len(data) in (8, 12, 13, 14):
        identity = _parse_linear(text, data, symbology)
    elif _TYPED_NDC.match(data):
        identity = ScanIdentity(text, ScanKind.NDC, symbology, None, Ndc.parse(data),
                                None, None, None)
    elif GS in data or (data[:2].isdigit() and len(data) > 14):
        identity = _parse_element_string(text, data, symbology, reference_year)
    else:
        raise InvalidFormat(
            f"unrecognised scan {_show(text)}: expected a UPC-A, EAN-13, GTIN-14, "
            "GS1 element string, (01)… form or hyphenated NDC"
        )
    if identity.gtin is None and identity.ndc is None:
        raise InvalidFormat(
            f"scan {_show(text)} carries no product identifier: expected AI (01) GTIN "
            "or AI (715) NDC"
        )
    return identity


def _parse_linear(raw: str, digits: str, symbology: str | None) -> ScanIdentity:
    if not digits.isdigit():
        raise InvalidFormat(f"{symbology or 'EAN/UPC'} data {_show(digits)} must be digits only")
    gtin = Gtin.parse(digits)
    kind = {8: ScanKind.EAN_8, 12: ScanKind.UPC_A, 13: ScanKind.EAN_13, 14: ScanKind.GTIN_14}
    return ScanIdentity(raw, kind[len(digits)], symbology, gtin, None, None, None, None)


def _parse_hri(raw: str, data: str, symbology: str | None, reference_year: int) -> ScanIdentity:
    try:
        message = GS1Message.parse_hri(data)
    except BiipParseError as error:
        raise InvalidFormat(f"GS1 data {_show(data)} is malformed: {error}") from None
    pairs = [(e.ai.ai, e.value) for e in message.element_strings]
    return _identity_from_elements(raw, ScanKind.GS1_HRI, symbology, pairs, reference_year)


def _parse_element_string(
    raw: str, data: str, symbology: str | None, reference_year: int
) -> ScanIdentity:
    body = data.lstrip(GS)
    if "(" in body:
        return _parse_hri(raw, body, symbology, reference_year)
    try:
        message = GS1Message.parse(body)
    except BiipParseError:
        raise _explain_bad_element_string(body) from None
    pairs = [(e.ai.ai, e.value) for e in message.element_strings]
    if GS not in body:
        _refuse_merged_fields(pairs)
    return _identity_from_elements(raw, ScanKind.GS1, symbology, pairs, reference_year)


def _identity_from_elements(
    raw: str,
    kind: ScanKind,
    symbology: str | None,
    pairs: list[tuple[str, str]],
    reference_year: int,
) -> ScanIdentity:
    seen: dict[str, str] = {}
    for ai, value in pairs:
        if ai in seen and seen[ai] != value:
            raise ConflictingData(f"GS1 data has AI ({ai}) twice: {seen[ai]!r} and {value!r}")
        seen[ai] = value
    gtin = _element(seen, _AI_GTIN, Gtin.parse)
    ndc = _element(seen, _AI_NDC, _ndc_from_ai715)
    expiry = _element(seen, _AI_EXPIRY, lambda v: Expiry.parse_yymmdd(v, reference_year))
    lot = _element(seen, _AI_LOT, Lot)
    serial = _element(seen, _AI_SERIAL, Serial)
    if gtin is not None and ndc is not None and gtin.ndc10 is not None and (
        ndc not in Ndc.candidates(gtin.ndc10)
    ):
        raise ConflictingData(
            f"AI (715) NDC {ndc} disagrees with GTIN {gtin}, which carries NDC digits "
            f"{gtin.ndc10}"
        )
    return ScanIdentity(raw, kind, symbology, gtin, ndc, lot, expiry, serial)


def _element(seen: dict[str, str], ai: str, build: Callable[[str], T]) -> T | None:
    value = seen.get(ai)
    if value is None:
        return None
    try:
        return build(value)
    except ParseError as error:
        raise type(error)(f"GS1 AI ({ai}): {error}") from None


def _ndc_from_ai715(value: str) -> Ndc:
    """AI (715) carries the NDC in its 12-digit form (hyphens allowed)."""
    ndc = Ndc.parse(value)
    if ndc.shape != (6, 4, 2):
        raise InvalidFormat(f"NDC {value!r} must be the 12-digit 6-4-2 form")
    return ndc


def _refuse_merged_fields(pairs: list[tuple[str, str]]) -> None:
    """Refuse GS1 data whose variable-length field swallowed a later field.

    Without GS separators a variable-length field runs to the end of the data (or to its
    maximum length). When such a field's value contains, after its first character, the
    start of a product element this scan otherwise lacks, and the rest parses as valid GS1
    data, the split is ambiguous: we say so rather than guess.
    """
    present = {ai for ai, _ in pairs}
    for ai, value in pairs:
        identifier = GS1ApplicationIdentifier.extract(ai)
        if not identifier.separator_required:
            continue
        for position in range(1, len(value)):
            for hidden in _PRODUCT_AIS:
                if hidden in present or not value.startswith(hidden, position):
                    continue
                try:
                    GS1Message.parse(value[position:])
                except BiipParseError:
                    continue
                raise MissingSeparator(
                    f"GS1 data needs a separator after variable-length AI {ai}: its value "
                    f"{value!r} may hide AI ({hidden}) at character {position + 1}; the GS "
                    "(FNC1) that ends the field was lost, so the scanner must send it"
                )


def _explain_bad_element_string(data: str) -> ParseError:
    """Walk the element string to name the first element that does not fit its AI's format."""
    position = 0
    while position < len(data):
        rest = data[position:]
        try:
            identifier = GS1ApplicationIdentifier.extract(rest)
        except BiipParseError:
            return InvalidFormat(
                f"GS1 data {_show(data)}: no known application identifier at character "
                f"{position + 1} ({_show(rest[:8])}…)"
            )
        try:
            element = GS1ElementString.extract(rest)
        except BiipParseError:
            field = rest.split(GS, 1)[0]
            return InvalidFormat(
                f"GS1 data {_show(data)}: AI ({identifier.ai}) {identifier.description} at "
                f"character {position + 1} must be {identifier.format}, got {_show(field)}"
            )
        position += len(element.ai.ai) + len(element.value)
        if position < len(data) and data[position] == GS:
            position += 1
    return InvalidFormat(f"GS1 data {_show(data)} is malformed")


def _show(text: str) -> str:
    """Quote scan text with GS shown as <GS> so error messages stay on one readable line."""
    return "'" + text.replace(GS, "<GS>").replace("\r", "\\r").replace("\n", "\\n") + "'"
