"""parse_scan: every form a scanner or a person delivers, from the fixture lists and properties."""

from __future__ import annotations

import calendar
import datetime as dt
import string
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from station.core import errors
from station.core.errors import ConflictingData, InvalidChecksum, InvalidFormat, MissingSeparator
from station.core.identifiers import TEN_DIGIT_SHAPES, Expiry, Gtin, Lot, Ndc, Serial
from station.core.scan import ScanIdentity, ScanKind, parse_scan

GS = "\x1d"
REFERENCE_YEAR = 2026
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "scans"
DIGITS = "0123456789"
CSET82 = (
    "!\"%&'()*+,-./" + DIGITS + ":;<=>?" + string.ascii_uppercase + "_" + string.ascii_lowercase
)
GS1_AIMS = ["]C1", "]e0", "]d2", "]Q3"]
_ORDER = ["01", "17", "10", "21"]


def check_digit(payload: str) -> str:
    """GS1 mod-10, written out here so the tests do not trust the code under test."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    return str(-total % 10)


def read_tsv(name: str) -> list[list[str]]:
    """Rows of a fixture table, without its comment lines and header."""
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines if line and not line.startswith("#")]
    return rows[1:]


VALID = read_tsv("valid.tsv")
INVALID = read_tsv("invalid.tsv")


# ---------------------------------------------------------------- the fixture lists


def test_fixture_lists_are_well_formed():
    assert len(VALID) >= 25
    assert len(INVALID) >= 25
    assert all(len(row) == 6 for row in VALID)
    assert all(len(row) == 3 for row in INVALID)
    assert len({row[0] for row in VALID}) == len(VALID)
    assert len({row[0] for row in INVALID}) == len(INVALID)


@pytest.mark.parametrize(("text", "gtin", "ndc10", "lot", "expiry", "serial"), VALID)
def test_valid_scans(text, gtin, ndc10, lot, expiry, serial):
    identity = parse_scan(text.replace("<GS>", GS), reference_year=REFERENCE_YEAR)
    assert identity.raw == text.replace("<GS>", GS)
    assert identity.gtin == (Gtin(gtin) if gtin else None)
    assert identity.ndc10 == (ndc10 or None)
    assert identity.lot == (Lot(lot) if lot else None)
    assert identity.expiry == (Expiry.parse_iso(expiry) if expiry else None)
    assert identity.serial == (Serial(serial) if serial else None)
    if ndc10:
        assert set(Ndc.candidates(ndc10)) >= set(identity.ndc_candidates)
        assert identity.ndc_candidates


@pytest.mark.parametrize(("text", "error", "message"), INVALID)
def test_invalid_scans(text, error, message):
    error_class = getattr(errors, error)
    with pytest.raises(errors.ParseError) as raised:
        parse_scan(text.replace("<GS>", GS), reference_year=REFERENCE_YEAR)
    assert type(raised.value) is error_class
    assert str(raised.value) == message


# ---------------------------------------------------------------- what the identity says


@pytest.mark.parametrize(
    ("text", "kind", "symbology"),
    [
        ("304094888026", ScanKind.UPC_A, None),
        ("]E00304094888026", ScanKind.EAN_13, "]E0"),
        ("00304094888026", ScanKind.GTIN_14, None),
        ("]E496385074", ScanKind.EAN_8, "]E4"),
        ("]d2010030409488802610A", ScanKind.GS1, "]d2"),
        ("(01)00304094888026(10)A", ScanKind.GS1_HRI, None),
        ("]Q3(01)00304094888026(10)A", ScanKind.GS1_HRI, "]Q3"),
        ("0409-4888-02", ScanKind.NDC, None),
    ],
)
def test_kind_and_symbology(text, kind, symbology):
    identity = parse_scan(text, reference_year=REFERENCE_YEAR)
    assert identity.kind is kind
    assert identity.symbology == symbology


@pytest.mark.parametrize("ending", ["\r\n", "\n", "\r", "\t", "  "])
def test_keyboard_wedge_line_endings_are_ignored(ending):
    identity = parse_scan(" ]E0304094888026" + ending, reference_year=REFERENCE_YEAR)
    assert identity.gtin == Gtin("00304094888026")


@pytest.mark.parametrize("text", ["", " ", "\r\n", "\t"])
def test_empty_scan(text):
    with pytest.raises(InvalidFormat) as raised:
        parse_scan(text, reference_year=REFERENCE_YEAR)
    assert str(raised.value) == "empty scan"


def test_ndc_candidates_of_a_barcode_are_the_three_shapes():
    identity = parse_scan("304094888026", reference_year=REFERENCE_YEAR)
    assert identity.ndc is None
    assert identity.ndc_candidates == Ndc.candidates("0409488802")
    assert Ndc.parse("0409-4888-02") in identity.ndc_candidates


def test_a_typed_ndc_is_its_only_candidate():
    identity = parse_scan("63323-540-11", reference_year=REFERENCE_YEAR)
    assert identity.gtin is None
    assert identity.ndc == Ndc.parse("63323-540-11")
    assert identity.ndc_candidates == (Ndc.parse("63323-0540-11"),)
    assert [str(c) for c in identity.ndc_candidates] == ["63323-0540-11"]


def test_ai_715_settles_which_shape_the_gtin_digits_are():
    identity = parse_scan("]d20100304094888026715000409488802", reference_year=REFERENCE_YEAR)
    assert identity.ndc10 == "0409488802"
    assert identity.ndc == Ndc.parse("0409-4888-02")
    assert identity.ndc_candidates == (Ndc.parse("000409-4888-02"),)


def test_ai_715_alone_identifies_a_twelve_digit_era_ndc():
    identity = parse_scan("]d2715123456789012" + GS + "10LOT9", reference_year=REFERENCE_YEAR)
    assert identity.gtin is None
    assert identity.ndc10 is None
    assert identity.ndc == Ndc.parse("123456-7890-12")
    assert identity.ndc_candidates == (Ndc.parse("123456-7890-12"),)
    assert identity.lot == Lot("LOT9")


def test_ai_715_last_without_gs_is_twelve_digits_even_when_they_contain_an_ai():
    # "10" inside the NDC digits is not a lot: AI (715) holds exactly 12 digits.
    identity = parse_scan("]d20100300101234565715000010123456", REFERENCE_YEAR)
    assert identity.ndc == Ndc.parse("000010-1234-56")
    assert identity.lot is None


def test_ai_715_followed_by_a_lot_without_gs_is_refused():
    with pytest.raises(MissingSeparator) as raised:
        parse_scan("]d20100300101234565715000010123456" + "10ABC", REFERENCE_YEAR)
    assert str(raised.value) == (
        "GS1 data needs a separator after variable-length AI (715): its value "
        "'00001012345610ABC' may hide AI (10) at character 13; the GS (FNC1) that ends the "
        "field was lost, so the scanner must send it"
    )


def test_gtin_without_ndc_prefix_has_no_candidates():
    identity = parse_scan("4006381333931", reference_year=REFERENCE_YEAR)
    assert identity.ndc10 is None
    assert identity.ndc_candidates == ()


def test_a_field_running_to_the_end_is_last_when_the_scanner_sends_gs():
    # GS arrives after the lot, so a serial running to the end of the data ends there:
    # "17280331" is part of the serial, not an expiry.
    identity = parse_scan("]d2010030409488802610LOT1" + GS + "21SN17280331", REFERENCE_YEAR)
    assert identity.serial == Serial("SN17280331")
    assert identity.expiry is None


def test_without_any_gs_a_single_variable_field_that_hides_nothing_is_accepted():
    identity = parse_scan("]d20100304094888026172803311" + "0ABC123", REFERENCE_YEAR)
    assert identity.lot == Lot("ABC123")
    assert identity.expiry == Expiry(dt.date(2028, 3, 31))


def test_without_any_gs_a_lot_that_hides_a_missing_serial_is_refused():
    with pytest.raises(MissingSeparator) as raised:
        parse_scan("]d2010030409488802617280331" + "10ABC21XYZ", REFERENCE_YEAR)
    assert str(raised.value) == (
        "GS1 data needs a separator after variable-length AI (10): its value 'ABC21XYZ' may hide "
        "AI (21) at character 4; the GS (FNC1) that ends the field was lost, so the scanner "
        "must send it"
    )


def test_reference_year_fixes_the_century_of_a_scanned_expiry():
    text = "]d20100304094888026177712311077"
    assert parse_scan(text, reference_year=2026).expiry == Expiry(dt.date(1977, 12, 31))
    assert parse_scan(text, reference_year=2027).expiry == Expiry(dt.date(2077, 12, 31))


def test_leap_day_depends_on_the_century_the_reference_year_gives():
    text = "(01)00304094888026(17)000229"
    assert parse_scan(text, reference_year=2026).expiry == Expiry(dt.date(2000, 2, 29))
    with pytest.raises(InvalidFormat) as raised:
        parse_scan(text, reference_year=2075)
    assert str(raised.value) == "GS1 AI (17): expiry '000229': 2100-02 has no day 29"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("]d2", "scan has the symbology identifier ]d2 and no data"),
        ("]C1", "scan has the symbology identifier ]C1 and no data"),
        ("]E0\r\n", "scan has the symbology identifier ]E0 and no data"),
    ],
)
def test_symbology_identifier_without_data(text, message):
    with pytest.raises(InvalidFormat) as raised:
        parse_scan(text, reference_year=REFERENCE_YEAR)
    assert str(raised.value) == message


def test_the_identity_is_a_frozen_value():
    identity = parse_scan("304094888026", reference_year=REFERENCE_YEAR)
    assert identity == parse_scan("304094888026", reference_year=REFERENCE_YEAR)
    assert isinstance(identity, ScanIdentity)
    with pytest.raises(AttributeError):
        identity.lot = Lot("X")  # type: ignore[misc]


# ---------------------------------------------------------------- properties


@st.composite
def ndcs(draw: st.DrawFn) -> Ndc:
    """Any NDC in one of the three 10-digit shapes, written with hyphens."""
    shape = draw(st.sampled_from(TEN_DIGIT_SHAPES))
    return Ndc(*(draw(st.text(DIGITS, min_size=n, max_size=n)) for n in shape))


@st.composite
def expiries(draw: st.DrawFn) -> tuple[str, dt.date]:
    """A YYMMDD inside the window of REFERENCE_YEAR (day 00 included) and the date it means."""
    year = draw(st.integers(REFERENCE_YEAR - 49, REFERENCE_YEAR + 50))
    month = draw(st.integers(1, 12))
    last = calendar.monthrange(year, month)[1]
    day = draw(st.integers(0, last))
    return f"{year % 100:02d}{month:02d}{day:02d}", dt.date(year, month, day or last)


gs1_texts = st.text(CSET82, min_size=1, max_size=20)
# In the (01)… form a '(' would start a new element, so values there cannot hold one.
hri_texts = st.text(CSET82.replace("(", ""), min_size=1, max_size=20)


def gtin14(ndc: Ndc, indicator: int) -> str:
    payload = f"{indicator}03{ndc.digits}"
    return payload + check_digit(payload)


def assert_product(identity: ScanIdentity, ndc: Ndc, gtin: str) -> None:
    assert identity.gtin == Gtin(gtin)
    assert str(identity.gtin) == gtin
    assert identity.ndc10 == ndc.digits
    assert ndc in identity.ndc_candidates
    assert len(identity.ndc_candidates) <= 3


@given(ndcs(), st.sampled_from([None, "]E0"]))
def test_upc_a_of_any_ndc(ndc, aim):
    upc = "3" + ndc.digits + check_digit("3" + ndc.digits)
    identity = parse_scan((aim or "") + upc, reference_year=REFERENCE_YEAR)
    assert_product(identity, ndc, "00" + upc)
    assert identity.kind is ScanKind.UPC_A
    assert identity.symbology == aim
    assert (identity.lot, identity.expiry, identity.serial) == (None, None, None)


@given(ndcs(), st.sampled_from([None, "]E0"]))
def test_ean_13_of_any_ndc(ndc, aim):
    ean = "03" + ndc.digits + check_digit("3" + ndc.digits)
    identity = parse_scan((aim or "") + ean, reference_year=REFERENCE_YEAR)
    assert_product(identity, ndc, "0" + ean)
    assert identity.kind is ScanKind.EAN_13


@given(ndcs(), st.integers(0, 8), st.sampled_from([None, "]I1"]))
def test_gtin_14_of_any_ndc_at_any_packaging_level(ndc, indicator, aim):
    gtin = gtin14(ndc, indicator)
    identity = parse_scan((aim or "") + gtin, reference_year=REFERENCE_YEAR)
    assert_product(identity, ndc, gtin)
    assert identity.gtin is not None
    assert identity.gtin.indicator == indicator
    assert identity.kind is ScanKind.GTIN_14


@given(ndcs(), st.integers(0, 8), st.sampled_from([None, *GS1_AIMS]))
def test_gtin_alone_in_gs1_data(ndc, indicator, aim):
    gtin = gtin14(ndc, indicator)
    identity = parse_scan((aim or "") + "01" + gtin, reference_year=REFERENCE_YEAR)
    assert_product(identity, ndc, gtin)
    assert identity.kind is ScanKind.GS1


@given(
    ndcs(),
    st.integers(0, 8),
    expiries(),
    gs1_texts,
    gs1_texts,
    st.permutations(["01", "17", "10", "21"]),
    st.sampled_from([None, *GS1_AIMS]),
)
# Punctuation GS1 allows, including '(' that also starts the (01)… form, and digits that
# look like AIs: each must stay inside its field.
@example(Ndc("0409", "4888", "02"), 0, ("280300", dt.date(2028, 3, 31)), "AB(1)", "(", _ORDER, None)
@example(
    Ndc("63323", "540", "11"),
    8,
    ("770100", dt.date(1977, 1, 31)),
    "1728033",
    "0100",
    _ORDER[::-1],
    "]d2",
)
@example(
    Ndc("55150", "1234", "1"),
    3,
    ("000229", dt.date(2000, 2, 29)),
    "\"%&'()*+,-./:;<=>?_",
    "z",
    _ORDER,
    "]Q3",
)
def test_gs1_element_string_in_any_field_order(ndc, indicator, expiry, lot, serial, order, aim):
    gtin = gtin14(ndc, indicator)
    values = {"01": gtin, "17": expiry[0], "10": lot, "21": serial}
    text = ""
    for number, ai in enumerate(order):
        text += ai + values[ai]
        if ai in ("10", "21") and number < len(order) - 1:
            text += GS
    identity = parse_scan((aim or "") + text, reference_year=REFERENCE_YEAR)
    assert_product(identity, ndc, gtin)
    assert identity.kind is ScanKind.GS1
    assert identity.lot == Lot(lot)
    assert identity.serial == Serial(serial)
    assert identity.expiry is not None
    assert identity.expiry.date == expiry[1]


@given(
    ndcs(),
    st.integers(0, 8),
    expiries(),
    hri_texts,
    hri_texts,
    st.permutations(["01", "17", "10", "21"]),
    st.sampled_from([None, *GS1_AIMS]),
)
def test_gs1_human_readable_form_in_any_field_order(
    ndc, indicator, expiry, lot, serial, order, aim
):
    gtin = gtin14(ndc, indicator)
    values = {"01": gtin, "17": expiry[0], "10": lot, "21": serial}
    text = "".join(f"({ai}){values[ai]}" for ai in order)
    identity = parse_scan((aim or "") + text, reference_year=REFERENCE_YEAR)
    assert_product(identity, ndc, gtin)
    assert identity.kind is ScanKind.GS1_HRI
    assert identity.lot == Lot(lot)
    assert identity.serial == Serial(serial)
    assert identity.expiry is not None
    assert identity.expiry.date == expiry[1]


@given(ndcs(), st.sampled_from(["", "  ", "\r\n"]))
def test_hyphenated_ndc_typed_by_a_person(ndc, ending):
    identity = parse_scan(str(ndc) + ending, reference_year=REFERENCE_YEAR)
    assert identity.kind is ScanKind.NDC
    assert identity.gtin is None
    assert identity.ndc == ndc
    assert identity.ndc is not None
    assert identity.ndc.shape == ndc.shape
    assert identity.ndc10 == ndc.digits
    assert identity.ndc_candidates == (ndc,)


@given(ndcs(), st.integers(0, 8))
def test_ai_715_agreeing_with_the_gtin(ndc, indicator):
    gtin = gtin14(ndc, indicator)
    text = f"]d201{gtin}715{ndc.to_twelve().digits}"
    identity = parse_scan(text, reference_year=REFERENCE_YEAR)
    assert_product(identity, ndc, gtin)
    assert identity.ndc == ndc
    assert identity.ndc_candidates == (ndc,)


@given(ndcs(), ndcs())
def test_ai_715_disagreeing_with_the_gtin(gtin_ndc, other):
    gtin = gtin14(gtin_ndc, 0)
    twelve = other.to_twelve()
    text = f"]d201{gtin}715{twelve.digits}"
    digits = gtin_ndc.digits
    padded = {
        digits[:a].zfill(6) + digits[a : a + b].zfill(4) + digits[a + b :].zfill(2)
        for a, b, _ in TEN_DIGIT_SHAPES
    }
    if twelve.digits in padded:
        assert parse_scan(text, reference_year=REFERENCE_YEAR).ndc == twelve
        return
    with pytest.raises(ConflictingData) as raised:
        parse_scan(text, reference_year=REFERENCE_YEAR)
    assert str(raised.value) == (
        f"AI (715) NDC {twelve} disagrees with GTIN {gtin}, which carries NDC digits "
        f"{gtin_ndc.digits}"
    )


@given(st.text(DIGITS, min_size=10, max_size=10), st.integers(0, 11), st.integers(1, 9))
def test_single_digit_error_in_a_scanned_upc_a_is_refused(ndc10, position, shift):
    upc = "3" + ndc10 + check_digit("3" + ndc10)
    wrong = upc[:position] + str((int(upc[position]) + shift) % 10) + upc[position + 1 :]
    for text in (wrong, "]E0" + wrong):
        with pytest.raises(InvalidChecksum) as raised:
            parse_scan(text, reference_year=REFERENCE_YEAR)
        assert str(raised.value) == (
            f"invalid check digit in UPC-A {wrong}: expected {check_digit(wrong[:-1])}, "
            f"got {wrong[-1]}"
        )


@given(ndcs(), st.integers(0, 13), st.integers(1, 9), st.sampled_from(GS1_AIMS))
def test_single_digit_error_in_a_gtin_inside_gs1_data_is_refused(ndc, position, shift, aim):
    gtin = gtin14(ndc, 0)
    wrong = gtin[:position] + str((int(gtin[position]) + shift) % 10) + gtin[position + 1 :]
    with pytest.raises(InvalidChecksum) as raised:
        parse_scan(f"{aim}01{wrong}10LOT", reference_year=REFERENCE_YEAR)
    assert str(raised.value) == (
        f"GS1 AI (01): invalid check digit in GTIN-14 {wrong}: expected "
        f"{check_digit(wrong[:-1])}, got {wrong[-1]}"
    )


_SCAN_PIECES = st.sampled_from(
    [
        *"()-3A #²",
        GS,
        *("01", "17", "10", "21", "715", "00", "99", "]d2", "]E0", "]C1"),
        *("00304094888026", "280300", "0409488802", "000409488802"),
    ]
)


@given(
    st.one_of(st.text(), st.lists(_SCAN_PIECES, max_size=12).map("".join)),
    st.integers(1900, 2300),
)
def test_any_text_gives_an_identity_or_a_parse_error(text, reference_year):
    try:
        outcome: ScanIdentity | errors.ParseError = parse_scan(text, reference_year)
    except errors.ParseError as error:
        outcome = error
    # A parse error names what is wrong; anything else (ValueError, IndexError ...) fails.
    if isinstance(outcome, errors.ParseError):
        assert str(outcome)
    else:
        assert outcome.gtin is not None or outcome.ndc is not None


def test_spaces_around_brackets_are_allowed_but_not_inside_a_value():
    identity = parse_scan("(01) 00304094888026 (17) 280300 (10) AB12", reference_year=2026)
    assert str(identity.lot) == "AB12"
    with pytest.raises(InvalidFormat) as raised:
        parse_scan("(01)00304094888026(10)AB CD", reference_year=2026)
    assert str(raised.value) == "GS1 AI (10): lot 'AB CD' contains ' ', which GS1 does not allow"


@pytest.mark.parametrize("gap", ["", " ", "  \t ", " " * 5000])
def test_spaces_around_the_parentheses_of_the_human_readable_form_are_dropped(gap):
    # The spaces once went through a pattern that retried at every space of a run: a long
    # run made the parse quadratic. Any run now parses as the form without it.
    spaced = f"{gap}({gap}01{gap}){gap}00304094888026{gap}({gap}10{gap}){gap}A1{gap}"
    plain = parse_scan("(01)00304094888026(10)A1", reference_year=REFERENCE_YEAR)
    assert replace(parse_scan(spaced, reference_year=REFERENCE_YEAR), raw=plain.raw) == plain
    with pytest.raises(InvalidFormat, match="must be 14 digits"):
        parse_scan("(01)00304094888026" + gap + "x(", reference_year=REFERENCE_YEAR)
