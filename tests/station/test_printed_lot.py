"""The printed lot and expiry: every accepted form, and every refusal, with its reason."""

from __future__ import annotations

import datetime as dt

import pytest

from station.core.identifiers import Expiry, Lot
from station.core.printed_lot import (
    MIN_CONFIDENCE,
    PrintedLot,
    Refusal,
    RefusalKind,
    Word,
    parse_printed_lot,
)


def lines(*texts: str, confidence: float = 95.0) -> list[list[Word]]:
    return [[Word(word, confidence) for word in text.split()] for text in texts]


def read(*texts: str, confidence: float = 95.0) -> PrintedLot | Refusal:
    return parse_printed_lot(lines(*texts, confidence=confidence))


@pytest.mark.parametrize(
    ("printed", "expiry"),
    [
        ("EXP 2028-02-29", dt.date(2028, 2, 29)),
        ("EXP 02/2028", dt.date(2028, 2, 29)),
        ("EXP 2028-02", dt.date(2028, 2, 29)),
        ("EXP FEB 2028", dt.date(2028, 2, 29)),
        ("EXP 29FEB2028", dt.date(2028, 2, 29)),
        ("EXP 2028FEB", dt.date(2028, 2, 29)),
        ("EXP 2027FEB", dt.date(2027, 2, 28)),
        ("Exp. 15 Mar 2029", dt.date(2029, 3, 15)),
        ("EXP: 2028 SEPT 3", dt.date(2028, 9, 3)),
        ("EXPIRY DATE 2030.12", dt.date(2030, 12, 31)),
        ("USE BY 14/03/2028", dt.date(2028, 3, 14)),
        ("EXP 03/14/2028", dt.date(2028, 3, 14)),
        ("EXP 04/04/2028", dt.date(2028, 4, 4)),
    ],
)
def test_every_printed_expiry_form_gives_its_date(printed, expiry):
    found = read("LOT AB1234", printed)
    assert isinstance(found, PrintedLot)
    assert found.expiry == Expiry(expiry)
    assert found.lot == Lot("AB1234")


@pytest.mark.parametrize(
    ("printed", "lot"),
    [("LOT AB1234", "AB1234"), ("Lot: AB1234", "AB1234"), ("LOT/BATCH 7H-220", "7H-220"),
     ("BATCH X1", "X1"), ("LOT NO. 0042a", "0042a"), ("LOT # P123456", "P123456"),
     ("L0T:AB1234", "AB1234")],
)
def test_every_lot_caption_gives_the_lot_as_printed(printed, lot):
    found = read(printed, "EXP 2028-02")
    assert isinstance(found, PrintedLot)
    assert str(found.lot) == lot


def test_lot_and_expiry_on_one_line_with_other_fields_around():
    found = read("Hospira", "NDC 0409-4888-02", "LOT AB1234 EXP 2028-02 SN 77", "Rx only")
    assert isinstance(found, PrintedLot)
    assert (str(found.lot), found.expiry.date) == ("AB1234", dt.date(2028, 2, 29))
    assert found.text == "LOT AB1234 / EXP 2028-02"


def test_the_confidence_is_the_weakest_word_of_lot_and_expiry():
    words = [[Word("LOT", 99), Word("AB1234", 88)], [Word("EXP", 97), Word("2028-02", 93)],
             [Word("Lidocaine", 12)]]
    found = parse_printed_lot(words)
    assert isinstance(found, PrintedLot)
    assert found.confidence == 88.0


def test_the_same_lot_printed_twice_is_one_lot():
    found = read("LOT AB1234", "EXP 2028-02", "LOT AB1234 EXP 2028-02-29")
    assert isinstance(found, PrintedLot)


@pytest.mark.parametrize(
    ("texts", "kind", "reason"),
    [
        (("Lidocaine HCl",), RefusalKind.NOT_FOUND, "no printed lot or expiry found"),
        (("EXP 2028-02",), RefusalKind.NOT_FOUND, "no printed lot found"),
        (("LOT AB1234",), RefusalKind.NOT_FOUND, "no printed expiry found"),
        (("LOTION 5", "EXP 2028-02"), RefusalKind.NOT_FOUND, "no printed lot found"),
        (("LOT AB1234", "EXP soon"), RefusalKind.NOT_FOUND,
         "no date this station reads after 'EXP' in 'EXP soon'"),
        (("LOT AB1234", "LOT AB1235", "EXP 2028-02"), RefusalKind.AMBIGUOUS,
         "two different lots in view: AB1234, AB1235"),
        (("LOT AB1234", "EXP 2028-02", "EXP 2028-03"), RefusalKind.AMBIGUOUS,
         "two different expiries in view: 2028-02-29, 2028-03-31"),
        (("LOT AB1234", "EXP 2027-02-29"), RefusalKind.INVALID,
         "the expiry 2027-02-29 is not a date: day is out of range for month"),
        (("LOT AB1234", "EXP 2629-11"), RefusalKind.INVALID,
         "the expiry 2629-11 is not a date: the year 2629 is not plausible"),
        (("LOT AB1234", "EXP 2028-13"), RefusalKind.INVALID,
         "the expiry 2028-13 is not a date: month 13 does not exist"),
        (("LOT AB1234", "EXP 03/04/2028"), RefusalKind.INVALID,
         "the expiry 03/04/2028 is not a date: its day and month could be either way round"),
        (("LOT AB1234", "EXP 02/28"), RefusalKind.INVALID,
         "the expiry 02/28 is not a date: its year has two digits; the station needs all four"),
        (("LOT AB1234", "EXP 2028-02 29"), RefusalKind.INVALID,
         "more text follows the expiry on 'EXP 2028-02 29': which date is meant is unclear"),
        (("LOT AB12€4", "EXP 2028-02"), RefusalKind.INVALID,
         "the printed lot is unreadable: lot 'AB12€4' contains '€', which GS1 does not allow"),
        (("LOT AB1234.", "EXP 2028-02"), RefusalKind.INVALID,
         "the printed lot 'AB1234.' begins or ends with punctuation: more likely a misread "
         "than a lot"),
        (("LOT AB12 34", "EXP 2028-02"), RefusalKind.INVALID,
         "more text follows the lot on 'LOT AB12 34': where the lot ends is unclear"),
        (("LOT ABCDEFGHIJKLMNOPQRSTU", "EXP 2028-02"), RefusalKind.INVALID,
         "the printed lot is unreadable: lot 'ABCDEFGHIJKLMNOPQRSTU': at most 20 characters, "
         "got 21"),
    ],
)
def test_what_is_missing_ambiguous_or_impossible_is_refused_with_its_reason(texts, kind, reason):
    assert read(*texts) == Refusal(kind, reason)


def test_a_read_below_the_confidence_threshold_is_refused():
    just_enough = read("LOT AB1234", "EXP 2028-02", confidence=MIN_CONFIDENCE)
    assert isinstance(just_enough, PrintedLot)
    unsure = parse_printed_lot([[Word("LOT", 95), Word("AB1234", MIN_CONFIDENCE - 1)],
                                [Word("EXP", 95), Word("2028-02", 95)]])
    assert unsure == Refusal(
        RefusalKind.LOW_CONFIDENCE,
        f"read 'LOT AB1234' with confidence {MIN_CONFIDENCE - 1:.0f}, below "
        f"{MIN_CONFIDENCE:.0f}: too unsure to offer",
    )


def test_an_invalid_lot_is_refused_even_beside_a_valid_one():
    refusal = read("LOT AB1234", "LOT AB12|4", "EXP 2028-02")
    assert isinstance(refusal, Refusal)
    assert refusal.kind is RefusalKind.INVALID
