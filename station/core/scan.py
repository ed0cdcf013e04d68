r"""Turn what a decoder or a handheld scanner delivers into a product identity.

Accepted forms, each with or without an AIM symbology prefix (``]E0``, ``]C1``, ``]e0``,
``]d2``, ``]Q3`` ...): UPC-A (12 digits), its EAN-13 form (13), GTIN-14, a GS1 element string
with GS (0x1D) separators, the human-readable ``(01)…(17)…(10)…(21)…`` form, and an NDC typed
with hyphens. GS1 element strings are split by biip; what is NDC-specific is done here.

>>> identity = parse_scan("]d2010030409488802617280300" "10AB123\x1d21XYZ9", reference_year=2026)
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
    InvalidLength,
    MissingSeparator,
    ParseError,
)
from station.core.identifiers import Expiry, Gtin, Lot, Ndc, Serial

GS = "\x1d"
T = TypeVar("T")

# AIM symbology identifiers (ISO/IEC 15424) whose data is a GS1 element string.
# ]d5: DataMatrix with ECI and FNC1 first; ]d8: zxing-cpp's GS1 rectangular extension (DMRE).
_GS1_SYMBOLOGIES = {"]C1", "]e0", "]d2", "]d5", "]d8", "]Q3", "]J1"}
# ... and those whose data is an EAN/UPC number.
_EAN_UPC_SYMBOLOGIES = {"]E0", "]E1", "]E2", "]E3", "]E4"}
_AIM_PREFIX = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
_TYPED_NDC = re.compile(r"^\d{4,6}-\d{3,4}-\d{1,2}$")
_HRI_ELEMENT = re.compile(r"\((\d*)\)([^(]*)")
_HRI_PAREN = re.compile(r"([()])")

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


def split_symbology(text: str) -> tuple[str | None, str]:
    """The AIM symbology identifier a scanner put in front (if any), and the data after it.

    >>> split_symbology("]C0P-4F2A9C1B")
    (']C0', 'P-4F2A9C1B')
    >>> split_symbology("P-4F2A9C1B")
    (None, 'P-4F2A9C1B')
    """
    if match := _AIM_PREFIX.match(text):
        return match.group(0), text[match.end():]
    return None, text


def parse_scan(text: str, reference_year: int) -> ScanIdentity:
    """Parse one scan; ``reference_year`` (the current year) fixes the century of expiry dates.

    Raises a :class:`~station.core.errors.ParseError` naming what is wrong and where.
    """
    data = text.strip("\r\n\t ")
    if not data:
        raise InvalidFormat("empty scan")
    symbology, data = split_symbology(data)
    if symbology is not None and not data:
        raise InvalidFormat(f"scan has the symbology identifier {symbology} and no data")

    if symbology in _GS1_SYMBOLOGIES:
        identity = _parse_element_string(text, data, symbology, reference_year)
    elif symbology in _EAN_UPC_SYMBOLOGIES:
        identity = _parse_linear(text, data, symbology)
    elif data.startswith("("):
        identity = _parse_hri(text, data, symbology, reference_year)
    elif data.isdigit() and len(data) <= 14:
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
    """Read the ``(01)…(17)…`` form element by element.

    Not through biip's ``parse_hri``: it silently skips text that is not ``(AI)value``, so
    ``(10)AB(1)(21)X`` would lose part of the lot.
    """
    # People type spaces around the brackets; a space inside a value is kept, and refused.
    # Spaces around the parentheses go; one split, not a pattern that backtracks over a run.
    hri = "".join(piece.strip() for piece in _HRI_PAREN.split(data.strip()))
    pairs: list[tuple[str, str]] = []
    position = 0
    hint = ""
    while position < len(hri):
        match = _HRI_ELEMENT.match(hri, position)
        if match is None:
            raise InvalidFormat(
                f"GS1 data {_show(data)}: expected '(AI)value' at character {position + 1}, "
                f"got {_show_start(hri[position:])}{hint}"
            )
        ai, value = match.group(1), match.group(2)
        try:
            identifier = GS1ApplicationIdentifier.extract(ai)
        except BiipParseError:
            identifier = None
        if identifier is None or identifier.ai != ai:
            raise InvalidFormat(
                f"GS1 data {_show(data)}: ({ai}) at character {position + 1} is not a known "
                f"application identifier{hint}"
            )
        if not value:
            raise InvalidFormat(
                f"GS1 data {_show(data)}: AI ({ai}) at character {position + 1} has no "
                f"value{hint}"
            )
        try:
            GS1ElementString.parse(ai + value)
        except BiipParseError:
            raise _explain_bad_element(data, position, identifier, value, reference_year) from None
        pairs.append((ai, value))
        position = match.end()
        # A '(' inside a variable-length value ends it early in this form: say so if it did.
        hint = (
            f"; a value such as the AI ({ai}) before it cannot contain '(' in this form"
            if identifier.separator_required
            else ""
        )
    return _identity_from_elements(raw, ScanKind.GS1_HRI, symbology, pairs, reference_year)


def _parse_element_string(
    raw: str, data: str, symbology: str | None, reference_year: int
) -> ScanIdentity:
    body = data.lstrip(GS)
    if body.startswith("("):
        return _parse_hri(raw, body, symbology, reference_year)
    try:
        message = GS1Message.parse(body)
    except BiipParseError:
        raise _explain_bad_element_string(body, reference_year) from None
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
    try:
        ndc = Ndc.parse(value)
    except ParseError:
        ndc = None
    if ndc is None or ndc.shape != (6, 4, 2):
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
        hidden = _hidden_product_element(ai, value, "", present)
        if hidden is not None:
            raise _missing_separator(ai, value, *hidden)


def _hidden_product_element(
    ai: str, value: str, following: str, skip: set[str]
) -> tuple[str, int] | None:
    """The first product AI (not in ``skip``) inside ``value`` from which the data parses.

    Only where the field could end: AI (715) holds a 12-digit NDC, so ``715`` followed by
    12 digits that contain ``10`` is not an NDC hiding a lot.
    """
    for position in range(1, len(value)):
        if not _could_end_at(ai, value[:position]):
            continue
        for hidden in _PRODUCT_AIS:
            if hidden in skip or not value.startswith(hidden, position):
                continue
            try:
                GS1Message.parse(value[position:] + following)
            except BiipParseError:
                continue
            return hidden, position
    return None


def _could_end_at(ai: str, value: str) -> bool:
    """Whether ``value`` alone is a value this scan accepts for the AI."""
    if ai != _AI_NDC:
        return True
    try:
        _ndc_from_ai715(value)
    except ParseError:
        return False
    return True


def _missing_separator(ai: str, value: str, hidden: str, position: int) -> MissingSeparator:
    return MissingSeparator(
        f"GS1 data needs a separator after variable-length AI ({ai}): its value "
        f"{value!r} may hide AI ({hidden}) at character {position + 1}; the GS "
        "(FNC1) that ends the field was lost, so the scanner must send it"
    )


def _explain_bad_element_string(data: str, reference_year: int) -> ParseError:
    """Walk the element string to name the first element that does not fit its AI's format.

    Like biip, a variable-length field ends at a GS, at its maximum length or at a character
    its AI does not allow; when what follows such a field without a GS cannot be read, the
    fault is that field's.
    """
    position = 0
    unended: tuple[int, GS1ApplicationIdentifier, str, str] | None = None
    while position < len(data):
        rest = data[position:]
        try:
            identifier = GS1ApplicationIdentifier.extract(rest)
        except BiipParseError:
            if unended is not None:
                return _explain_unended_field(data, *unended)
            return InvalidFormat(
                f"GS1 data {_show(data)}: no known application identifier at character "
                f"{position + 1} ({_show_start(rest)})"
            )
        field = rest[len(identifier.ai) :].split(GS, 1)[0]
        try:
            element = GS1ElementString.extract(rest)
        except BiipParseError:
            return _explain_bad_element(data, position, identifier, field, reference_year)
        end = position + len(element.ai.ai) + len(element.value)
        unended = None
        if end < len(data) and data[end] != GS and identifier.separator_required:
            unended = (position, identifier, element.value, field)
        position = end
        if position < len(data) and data[position] == GS:
            position += 1
    return InvalidFormat(f"GS1 data {_show(data)} is malformed")


def _explain_bad_element(
    data: str,
    position: int,
    identifier: GS1ApplicationIdentifier,
    field: str,
    reference_year: int,
) -> ParseError:
    """Name what is wrong with one element whose value does not fit its AI."""
    maximum = _maximum_length(identifier.format)
    if maximum is not None and len(field) > maximum:
        return _too_long(data, position, identifier, maximum, field)
    if identifier.ai == _AI_EXPIRY:
        try:
            Expiry.parse_yymmdd(field[:6], reference_year)
        except ParseError as error:
            return type(error)(f"GS1 AI ({identifier.ai}): {error}")
    if identifier.ai in (_AI_LOT, _AI_SERIAL):
        try:
            (Lot if identifier.ai == _AI_LOT else Serial)(field)
        except ParseError as error:
            return type(error)(f"GS1 AI ({identifier.ai}): {error}")
    return InvalidFormat(
        f"GS1 data {_show(data)}: AI ({identifier.ai}) {identifier.description} at "
        f"character {position + 1} must be {_describe_format(identifier.format)}, "
        f"got {_show(field)}"
    )


def _explain_unended_field(
    data: str,
    position: int,
    identifier: GS1ApplicationIdentifier,
    value: str,
    field: str,
) -> ParseError:
    """A variable-length field stopped before a GS, and what follows is not GS1 data."""
    ai = identifier.ai
    value_end = position + len(ai) + len(value)
    maximum = _maximum_length(identifier.format)
    if maximum is not None and len(value) >= maximum:
        hidden = _hidden_product_element(ai, value, data[value_end:], {ai})
        if hidden is not None:
            return _missing_separator(ai, field, *hidden)
        return _too_long(data, position, identifier, maximum, field)
    return InvalidFormat(
        f"GS1 data {_show(data)}: AI ({ai}) {identifier.description} at character "
        f"{position + 1} contains {data[value_end]!r} at character {value_end + 1}, "
        "which GS1 does not allow there"
    )


def _too_long(
    data: str, position: int, identifier: GS1ApplicationIdentifier, maximum: int, field: str
) -> InvalidLength:
    return InvalidLength(
        f"GS1 data {_show(data)}: AI ({identifier.ai}) {identifier.description} at character "
        f"{position + 1} holds at most {maximum} characters, got {len(field)} ({_show(field)})"
    )


_FORMAT_PART = re.compile(r"([NX])(\.\.)?(\d+)")


def _describe_format(format_: str) -> str:
    """GS1's format notation in words: ``N2+N14`` -> ``14 digits``."""
    words = []
    for part in format_.split("+")[1:]:
        match = _FORMAT_PART.fullmatch(part)
        if match is None:
            return format_
        kind, variable, size = match.groups()
        noun = "digits" if kind == "N" else "characters"
        words.append(f"{'1 to ' if variable else ''}{size} {noun}")
    return " then ".join(words) or format_


def _maximum_length(format_: str) -> int | None:
    """The maximum length of a single variable-length value (``N2+X..20`` -> 20)."""
    parts = format_.split("+")[1:]
    if len(parts) != 1:
        return None
    match = _FORMAT_PART.fullmatch(parts[0])
    return int(match.group(3)) if match is not None and match.group(2) else None


def _show_start(text: str, length: int = 8) -> str:
    """The start of some text, quoted, with an ellipsis when it goes on."""
    return _show(text[:length]) + ("…" if len(text) > length else "")


def _show(text: str) -> str:
    """Quote scan text with GS shown as <GS> so error messages stay on one readable line."""
    return "'" + text.replace(GS, "<GS>").replace("\r", "\\r").replace("\n", "\\n") + "'"
