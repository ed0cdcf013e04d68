"""NDC, GTIN, lot, serial and expiry value objects: parsing, equality and exact errors."""

from __future__ import annotations

import datetime as dt
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station.core.errors import InvalidChecksum, InvalidFormat, InvalidLength, ParseError
from station.core.identifiers import TEN_DIGIT_SHAPES, Expiry, Gtin, Lot, Ndc, Serial

DIGITS = "0123456789"
# GS1 General Specifications, figure 7.11-1: the 82 characters AI (10) and AI (21) may hold.
CSET82 = (
    "!\"%&'()*+,-./" + DIGITS + ":;<=>?" + string.ascii_uppercase + "_" + string.ascii_lowercase
)


def check_digit(payload: str) -> str:
    """GS1 mod-10, written out here so the tests do not trust the code under test."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    return str(-total % 10)


@st.composite
def ndcs(draw: st.DrawFn) -> Ndc:
    """Any NDC in one of the three 10-digit shapes, written with hyphens."""
    shape = draw(st.sampled_from(TEN_DIGIT_SHAPES))
    return Ndc(*(draw(st.text(DIGITS, min_size=n, max_size=n)) for n in shape))


# ---------------------------------------------------------------- NDC


@pytest.mark.parametrize(
    ("text", "shape", "hipaa", "twelve"),
    [
        ("0409-4888-02", (4, 4, 2), "00409-4888-02", "000409-4888-02"),
        ("63323-540-11", (5, 3, 2), "63323-0540-11", "063323-0540-11"),
        ("55150-1234-1", (5, 4, 1), "55150-1234-01", "055150-1234-01"),
        ("00409-4888-02", (5, 4, 2), "00409-4888-02", "000409-4888-02"),
        ("00409488802", (5, 4, 2), "00409-4888-02", "000409-4888-02"),
        ("000409488802", (6, 4, 2), "00409-4888-02", "000409-4888-02"),
        ("  0409-4888-02 ", (4, 4, 2), "00409-4888-02", "000409-4888-02"),
    ],
)
def test_ndc_parse_keeps_shape_and_converts(text, shape, hipaa, twelve):
    ndc = Ndc.parse(text)
    assert ndc.shape == shape
    assert ndc.hipaa == hipaa
    assert str(ndc.to_hipaa()) == hipaa
    assert str(ndc.to_twelve()) == twelve
    assert ndc.key == twelve.replace("-", "")


def test_ndc_str_and_digits_are_as_written():
    ndc = Ndc.parse("63323-540-11")
    assert str(ndc) == "63323-540-11"
    assert ndc.digits == "6332354011"


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (
            "0409-4888",
            InvalidFormat,
            "NDC '0409-4888' must have three segments separated by hyphens, e.g. '0409-4888-02'",
        ),
        (
            "0409--4888-02",
            InvalidFormat,
            "NDC '0409--4888-02' must have three segments separated by hyphens, "
            "e.g. '0409-4888-02'",
        ),
        ("0409-48a8-02", InvalidFormat, "NDC 0409-48a8-02: segments must be digits"),
        ("0409-4888-٠٢", InvalidFormat, "NDC 0409-4888-٠٢: segments must be digits"),
        (
            "123-4567-89",
            InvalidLength,
            "NDC 123-4567-89 has segments 3-4-2: expected 4-4-2, 5-3-2 or 5-4-1 (10 digits), "
            "5-4-2 (11) or 6-4-2 (12)",
        ),
        (
            "0409488802",
            InvalidFormat,
            "NDC '0409488802' has 10 digits and no hyphens, so its shape is unknown; write it "
            "with hyphens (e.g. 4-4-2) or look up its candidates",
        ),
        ("12345678", InvalidLength, "NDC '12345678': expected 10, 11 or 12 digits, got 8"),
        ("abc", InvalidFormat, "NDC 'abc' must be digits, optionally with hyphens"),
        ("", InvalidFormat, "NDC '' must be digits, optionally with hyphens"),
    ],
)
def test_ndc_parse_errors(text, error, message):
    with pytest.raises(error) as raised:
        Ndc.parse(text)
    assert str(raised.value) == message


def test_ndc_equality_crosses_shapes_and_nothing_else():
    assert Ndc.parse("0409-4888-02") == Ndc.parse("00409-4888-02") == Ndc.parse("000409488802")
    assert Ndc.parse("0409-4888-02") != Ndc.parse("0409-4888-03")
    assert Ndc.parse("0409-4888-02") != "0409-4888-02"
    # The same ten digits in two shapes are two different products.
    assert Ndc.parse("0409-4888-02") != Ndc.parse("04094-888-02")


@given(ndcs())
def test_ndc_hyphenated_hipaa_and_twelve_forms_are_one_value(ndc):
    hipaa, twelve = ndc.to_hipaa(), ndc.to_twelve()
    assert hipaa.shape == (5, 4, 2)
    assert twelve.shape == (6, 4, 2)
    assert ndc == hipaa == twelve
    assert hash(ndc) == hash(hipaa) == hash(twelve)
    assert len({ndc, hipaa, twelve}) == 1
    assert twelve.to_hipaa() == ndc
    # Every written form reads back as the same NDC; the hyphenated one keeps its shape.
    again = Ndc.parse(str(ndc))
    assert again == ndc
    assert again.shape == ndc.shape
    for text in (str(hipaa), hipaa.digits, str(twelve), twelve.digits):
        assert Ndc.parse(text) == ndc
        assert hash(Ndc.parse(text)) == hash(ndc)


@given(ndcs(), ndcs())
def test_ndcs_are_equal_exactly_when_their_twelve_digit_forms_are(first, second):
    assert (first == second) == (first.to_twelve().digits == second.to_twelve().digits)
    if first.shape == second.shape:
        assert (first == second) == (first.digits == second.digits)


@given(ndcs())
def test_ndc_ndc10_and_gtin_of_a_ten_digit_shape(ndc):
    assert ndc.ndc10 == ndc.digits
    payload = "003" + ndc.digits
    assert ndc.gtin() == Gtin(payload + check_digit(payload))
    payload = "503" + ndc.digits
    assert ndc.gtin(indicator=5) == Gtin(payload + check_digit(payload))


@pytest.mark.parametrize(
    ("text", "ndc10"),
    [
        ("63323-0540-11", "6332354011"),  # only the product segment was padded
        ("55150-1234-01", "5515012341"),  # only the package segment was padded
        ("04094-8880-02", None),  # labeler or package padded: two 10-digit NDCs
        ("00409-4888-02", None),  # labeler or package padded: two 10-digit NDCs
        ("12345-6789-10", None),  # no padded segment: never a 10-digit NDC
        ("000409-4888-02", None),  # the 12-digit form says nothing about the old shape
    ],
)
def test_ndc10_of_longer_forms_only_when_unambiguous(text, ndc10):
    ndc = Ndc.parse(text)
    assert ndc.ndc10 == ndc10
    if ndc10 is None:
        assert ndc.gtin() is None


def test_twelve_digit_ndc_without_a_hipaa_form():
    ndc = Ndc.parse("123456-7890-12")
    assert ndc.to_twelve() is not ndc
    with pytest.raises(InvalidFormat) as raised:
        ndc.to_hipaa()
    assert str(raised.value) == "NDC 123456-7890-12 has a 6-digit labeler and no 11-digit form"


def test_candidates_one_per_shape_in_order():
    assert [str(n) for n in Ndc.candidates("6332354011")] == [
        "06332-3540-11",  # 4-4-2
        "63323-0540-11",  # 5-3-2
        "63323-5401-01",  # 5-4-1
    ]


@given(st.text(DIGITS, min_size=10, max_size=10))
def test_candidates_are_distinct_eleven_digit_forms(ndc10):
    candidates = Ndc.candidates(ndc10)
    assert all(c.shape == (5, 4, 2) and len(c.digits) == 11 for c in candidates)
    assert len(set(candidates)) == len(candidates)
    # Two shapes pad to the same 11 digits only when a segment is all zeros.
    expected = 3 - (ndc10[:5] == "00000") - (ndc10[5:9] == "0000")
    assert len(candidates) == max(expected, 1)


@given(ndcs().filter(lambda n: n.digits[:5] != "00000" and n.digits[5:9] != "0000"))
def test_candidates_always_three_and_include_the_real_ndc(ndc):
    candidates = Ndc.candidates(ndc.digits)
    assert len(candidates) == 3
    assert len({c.digits for c in candidates}) == 3
    assert ndc in candidates


@pytest.mark.parametrize(
    ("ndc10", "expected"),
    [
        ("0000012345", ["00000-0123-45", "00000-1234-05"]),  # 4-4-2 and 5-3-2 coincide
        ("1234500001", ["01234-5000-01", "12345-0000-01"]),  # 5-3-2 and 5-4-1 coincide
        ("0000000001", ["00000-0000-01"]),
    ],
)
def test_candidates_list_each_form_once(ndc10, expected):
    assert [str(c) for c in Ndc.candidates(ndc10)] == expected


@pytest.mark.parametrize("ndc10", ["040948880", "04094888022", "0409-48880", "", "²²²²²²²²²²"])
def test_candidates_need_ten_digits(ndc10):
    with pytest.raises(ParseError) as raised:
        Ndc.candidates(ndc10)
    if ndc10.isdigit() and len(ndc10) == 10:
        assert (
            str(raised.value)
            == f"NDC {ndc10[:4]}-{ndc10[4:8]}-{ndc10[8:]}: segments must be digits"
        )
    else:
        assert str(raised.value) == f"a 10-digit NDC was expected, got {ndc10!r}"


# ---------------------------------------------------------------- GTIN


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("304094888026", "00304094888026"),  # UPC-A
        ("0304094888026", "00304094888026"),  # EAN-13
        ("00304094888026", "00304094888026"),  # GTIN-14
        ("50304094888021", "50304094888021"),
        ("96385074", "00000096385074"),  # EAN-8
        (" 304094888026\n", "00304094888026"),
    ],
)
def test_gtin_parse_normalises_to_fourteen_digits(text, value):
    assert Gtin.parse(text) == Gtin(value)
    assert str(Gtin.parse(text)) == value


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (
            "304094888027",
            InvalidChecksum,
            "invalid check digit in UPC-A 304094888027: expected 6, got 7",
        ),
        (
            "0304094888020",
            InvalidChecksum,
            "invalid check digit in EAN-13 0304094888020: expected 6, got 0",
        ),
        (
            "10304094888024",
            InvalidChecksum,
            "invalid check digit in GTIN-14 10304094888024: expected 3, got 4",
        ),
        ("96385075", InvalidChecksum, "invalid check digit in EAN-8 96385075: expected 4, got 5"),
        (
            "30409488802",
            InvalidLength,
            "GTIN '30409488802': expected 8, 12, 13 or 14 digits, got 11",
        ),
        (
            "003040948880261",
            InvalidLength,
            "GTIN '003040948880261': expected 8, 12, 13 or 14 digits, got 15",
        ),
        ("30409488802O", InvalidFormat, "GTIN '30409488802O' must be digits only"),
        (
            "３０４０９４８８８０２６",
            InvalidFormat,
            "GTIN '３０４０９４８８８０２６' must be digits only",
        ),
        ("", InvalidFormat, "GTIN '' must be digits only"),
    ],
)
def test_gtin_parse_errors(text, error, message):
    with pytest.raises(error) as raised:
        Gtin.parse(text)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("304094888026", InvalidLength, "GTIN '304094888026': expected 14 digits"),
        ("²" * 14, InvalidLength, f"GTIN {'²' * 14!r}: expected 14 digits"),
        (
            "00304094888027",
            InvalidChecksum,
            "invalid check digit in GTIN 00304094888027: expected 6, got 7",
        ),
    ],
)
def test_gtin_constructor_verifies(value, error, message):
    with pytest.raises(error) as raised:
        Gtin(value)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("value", "indicator", "ndc10", "upc_a"),
    [
        ("00304094888026", 0, "0409488802", "304094888026"),
        ("50304094888021", 5, "0409488802", None),
        ("90304094888029", 9, None, None),  # variable-measure item: not an NDC carrier
        ("04006381333931", 0, None, None),  # no 03 prefix, no UPC-A form
        ("00000096385074", 0, None, "000096385074"),
    ],
)
def test_gtin_parts(value, indicator, ndc10, upc_a):
    gtin = Gtin(value)
    assert gtin.indicator == indicator
    assert gtin.ndc10 == ndc10
    assert gtin.upc_a == upc_a


@given(st.text(DIGITS, min_size=10, max_size=10), st.integers(0, 8))
def test_gtin_from_ndc10_round_trips(ndc10, indicator):
    payload = f"{indicator}03{ndc10}"
    gtin = Gtin.from_ndc10(ndc10, indicator)
    assert gtin.value == payload + check_digit(payload)
    assert gtin.indicator == indicator
    assert gtin.ndc10 == ndc10
    # Leading zeros do not change a mod-10 check digit: GTIN-12, -13 and -14 share it.
    if indicator == 0:
        assert gtin.upc_a == "3" + ndc10 + gtin.value[-1]
        assert Gtin.parse(gtin.upc_a) == gtin
        assert Gtin.parse("0" + gtin.upc_a) == gtin


@pytest.mark.parametrize(
    ("ndc10", "indicator", "error", "message"),
    [
        ("0409488802", 9, InvalidFormat, "packaging indicator must be 0–8, got 9"),
        ("0409488802", -1, InvalidFormat, "packaging indicator must be 0–8, got -1"),
        ("040948880", 0, InvalidLength, "a 10-digit NDC was expected, got '040948880'"),
        ("²" * 10, 0, InvalidLength, f"a 10-digit NDC was expected, got {'²' * 10!r}"),
    ],
)
def test_gtin_from_ndc10_errors(ndc10, indicator, error, message):
    with pytest.raises(error) as raised:
        Gtin.from_ndc10(ndc10, indicator)
    assert str(raised.value) == message


@given(
    st.text(DIGITS, min_size=10, max_size=10),
    st.integers(0, 11),
    st.integers(1, 9),
)
def test_any_single_digit_change_to_a_upc_a_is_caught(ndc10, position, shift):
    upc = "3" + ndc10 + check_digit("3" + ndc10)
    wrong = upc[:position] + str((int(upc[position]) + shift) % 10) + upc[position + 1 :]
    with pytest.raises(InvalidChecksum) as raised:
        Gtin.parse(wrong)
    expected = check_digit(wrong[:-1])
    assert str(raised.value) == (
        f"invalid check digit in UPC-A {wrong}: expected {expected}, got {wrong[-1]}"
    )


# ---------------------------------------------------------------- lot and serial


@pytest.mark.parametrize("kind", [Lot, Serial])
def test_lot_and_serial_accept_exactly_gs1_character_set_82(kind):
    assert len(CSET82) == 82
    for start in range(0, len(CSET82), 20):
        chunk = CSET82[start : start + 20]
        assert kind(chunk).value == chunk
        assert str(kind(chunk)) == chunk
    refused = [chr(c) for c in range(0, 256) if chr(c) not in CSET82]
    for char in refused:
        with pytest.raises(InvalidFormat):
            kind("A" + char)


@pytest.mark.parametrize(
    ("kind", "text", "error", "message"),
    [
        (Lot, "", InvalidLength, "lot is empty"),
        (Serial, "", InvalidLength, "serial is empty"),
        (Lot, "A" * 21, InvalidLength, f"lot {'A' * 21!r}: at most 20 characters, got 21"),
        (Serial, "9" * 25, InvalidLength, f"serial {'9' * 25!r}: at most 20 characters, got 25"),
        (Lot, "AB#12", InvalidFormat, "lot 'AB#12' contains '#', which GS1 does not allow"),
        (Lot, "AB 12", InvalidFormat, "lot 'AB 12' contains ' ', which GS1 does not allow"),
        (
            Serial,
            "S\x1d21",
            InvalidFormat,
            "serial 'S\\x1d21' contains '\\x1d', which GS1 does not allow",
        ),
        (Lot, "AB12\n", InvalidFormat, "lot 'AB12\\n' contains '\\n', which GS1 does not allow"),
        (Lot, "LOTé", InvalidFormat, "lot 'LOTé' contains 'é', which GS1 does not allow"),
    ],
)
def test_lot_and_serial_errors(kind, text, error, message):
    with pytest.raises(error) as raised:
        kind(text)
    assert str(raised.value) == message


@given(st.text(CSET82, min_size=1, max_size=20))
def test_any_gs1_text_up_to_twenty_is_a_lot_and_a_serial(text):
    assert Lot(text).value == text
    assert Serial(text).value == text
    assert Lot(text) == Lot(text)


# ---------------------------------------------------------------- expiry


@pytest.mark.parametrize(
    ("reference_year", "yymmdd", "expected"),
    [
        (2026, "761231", dt.date(2076, 12, 31)),  # 50 years ahead: still this century
        (2026, "771231", dt.date(1977, 12, 31)),  # 51 ahead: previous century
        (2026, "000101", dt.date(2000, 1, 1)),
        (2026, "260615", dt.date(2026, 6, 15)),
        (2000, "500101", dt.date(2050, 1, 1)),
        (2000, "510101", dt.date(1951, 1, 1)),
        (2000, "990101", dt.date(1999, 1, 1)),
        (2050, "000101", dt.date(2100, 1, 1)),  # 50 behind: next century
        (2050, "010101", dt.date(2001, 1, 1)),  # 49 behind: this century
        (2099, "491231", dt.date(2149, 12, 31)),
        (2099, "501231", dt.date(2050, 12, 31)),
        (1999, "480101", dt.date(2048, 1, 1)),
        (1999, "490101", dt.date(2049, 1, 1)),
        (1999, "500101", dt.date(1950, 1, 1)),
    ],
)
def test_expiry_century_follows_the_gs1_sliding_window(reference_year, yymmdd, expected):
    expiry = Expiry.parse_yymmdd(yymmdd, reference_year=reference_year)
    assert expiry.date == expected
    assert expiry.raw == yymmdd


@given(st.integers(1900, 2400), st.integers(0, 99))
def test_expiry_year_lies_from_49_years_before_to_50_after_the_reference(reference_year, yy):
    year = Expiry.parse_yymmdd(f"{yy:02d}0101", reference_year=reference_year).date.year
    assert year % 100 == yy
    assert reference_year - 49 <= year <= reference_year + 50


@pytest.mark.parametrize(
    ("reference_year", "yymmdd", "expected"),
    [
        (2026, "280200", dt.date(2028, 2, 29)),  # leap year
        (2026, "270200", dt.date(2027, 2, 28)),
        (2026, "000200", dt.date(2000, 2, 29)),  # 2000 is a leap year ...
        (2075, "000200", dt.date(2100, 2, 28)),  # ... 2100 is not
        (2026, "260400", dt.date(2026, 4, 30)),
        (2026, "261200", dt.date(2026, 12, 31)),
        (2026, "270100", dt.date(2027, 1, 31)),
    ],
)
def test_expiry_day_00_is_the_last_day_of_the_month(reference_year, yymmdd, expected):
    assert Expiry.parse_yymmdd(yymmdd, reference_year=reference_year).date == expected


@pytest.mark.parametrize(
    ("text", "reference_year", "message"),
    [
        ("281301", 2026, "expiry '281301' has month 13: expected 01–12"),
        ("280015", 2026, "expiry '280015' has month 00: expected 01–12"),
        ("280132", 2026, "expiry '280132': 2028-01 has no day 32"),
        ("280431", 2026, "expiry '280431': 2028-04 has no day 31"),
        ("280230", 2026, "expiry '280230': 2028-02 has no day 30"),
        ("270229", 2026, "expiry '270229': 2027-02 has no day 29"),
        ("000229", 2075, "expiry '000229': 2100-02 has no day 29"),
        ("2803", 2026, "expiry '2803' must be 6 digits YYMMDD"),
        ("2803310", 2026, "expiry '2803310' must be 6 digits YYMMDD"),
        ("28O331", 2026, "expiry '28O331' must be 6 digits YYMMDD"),
        ("２８０３３１", 2026, "expiry '２８０３３１' must be 6 digits YYMMDD"),
        ("²²0331", 2026, "expiry '²²0331' must be 6 digits YYMMDD"),
    ],
)
def test_expiry_yymmdd_errors(text, reference_year, message):
    with pytest.raises(InvalidFormat) as raised:
        Expiry.parse_yymmdd(text, reference_year=reference_year)
    assert str(raised.value) == message


def test_expiry_is_usable_through_its_own_day():
    expiry = Expiry.parse_yymmdd("280300", reference_year=2026)  # 2028-03-31
    assert not expiry.is_expired_on(dt.date(2028, 3, 30))
    assert not expiry.is_expired_on(dt.date(2028, 3, 31))
    assert expiry.is_expired_on(dt.date(2028, 4, 1))
    assert expiry.is_expired_on(dt.date(2029, 1, 1))


@given(st.dates(dt.date(1950, 1, 1), dt.date(2149, 12, 30)))
def test_expiry_boundary_for_any_date(date):
    expiry = Expiry(date)
    assert not expiry.is_expired_on(date)
    assert expiry.is_expired_on(date + dt.timedelta(days=1))


def test_expiry_equality_ignores_how_it_was_written():
    day_00 = Expiry.parse_yymmdd("280200", reference_year=2026)
    explicit = Expiry.parse_yymmdd("280229", reference_year=2026)
    assert day_00 == explicit == Expiry.parse_iso("2028-02-29")
    assert (day_00.raw, explicit.raw) == ("280200", "280229")
    assert str(day_00) == "2028-02-29"


@pytest.mark.parametrize("text", ["2028-02-30", "28-02-01", "", "2028/02/01"])
def test_expiry_iso_errors(text):
    with pytest.raises(InvalidFormat) as raised:
        Expiry.parse_iso(text)
    assert str(raised.value) == f"expiry {text!r} is not a date YYYY-MM-DD"


@pytest.mark.parametrize(
    "parse",
    [
        Ndc.parse,
        Ndc.candidates,
        Gtin.parse,
        Gtin.from_ndc10,
        Lot,
        Serial,
        Expiry.parse_iso,
        lambda text: Expiry.parse_yymmdd(text, reference_year=2026),
    ],
)
@given(st.text(st.characters(codec="utf-8"), max_size=16) | st.text("0123456789-²", max_size=14))
def test_parsers_raise_only_parse_errors(parse, text):
    try:
        value = parse(text)
    except ParseError as error:
        value = error
    # A parse error names what is wrong; anything else (ValueError, IndexError ...) fails.
    assert str(value) if isinstance(value, ParseError) else value is not None
