"""The lot and expiry printed on a label, read from OCR text; or why none was taken.

A product whose only barcode is a linear UPC-A of its NDC carries no lot and no expiry in
machine-readable form; the label prints them (``LOT AB1234``, ``EXP 2028-02``). This module
turns the words an OCR engine saw — lines of words, each with its confidence — into a
:class:`PrintedLot` (a :class:`~station.core.identifiers.Lot` and an
:class:`~station.core.identifiers.Expiry`, the types a GS1 scan gives) or a :class:`Refusal`
saying why not. Pure: no image, no engine; :mod:`station.devices.ocr` does the reading.

Why a wrong read cannot slip through: a read is never recorded on its own. The station shows
the lot, the expiry and the confidence to the technician, who compares them with the label in
hand and confirms with Enter (or types the right values). What this module adds is to keep
that confirmation honest: it refuses rather than guesses, so the technician is not asked to
confirm a read that was likely wrong. It refuses when

- no lot or no expiry is in view, or an ``EXP`` is followed by nothing it reads as a date;
- two *different* lots, or two different expiries, are in view (two labels; the same value
  printed twice is one value);
- the date is impossible (``2027-02-29``, month 13, year 2629), or its day and month could
  be swapped (``03/04/2028``), or its year has two digits (``02/28``);
- the lot holds a character GS1 AI (10) forbids, or begins or ends with punctuation (more
  likely a speck read as ``.`` than part of a lot), or more text follows it on its line
  (``LOT AB12 34``: where the lot ends is unknown);
- any word that makes up the lot or the expiry has a confidence below
  :data:`MIN_CONFIDENCE`.

Accepted forms: ``LOT``, ``Lot:``, ``LOT/BATCH``, ``BATCH``, ``LOT NO.``, ``LOT #`` before the
lot; ``EXP``, ``EXP.``, ``EXP:``, ``EXPIRY``, ``EXP DATE``, ``USE BY`` before the expiry, which
may read ``2028-02-29``, ``2028-02``, ``02/2028``, ``FEB 2028``, ``29FEB2028``, ``29 FEB 2028``,
``2028FEB``, ``2028 FEB 29`` or ``14/03/2028`` (day and month told apart by the day being over
12). A month-only expiry means the last day of that month, as GS1 AI (17) day ``00`` does.

>>> read = parse_printed_lot([[Word("LOT", 96), Word("AB1234", 93)],
...                           [Word("EXP", 95), Word("FEB", 91), Word("2028", 94)]])
>>> str(read.lot), read.expiry.date, read.confidence, read.text
('AB1234', datetime.date(2028, 2, 29), 91.0, 'LOT AB1234 / EXP FEB 2028')
>>> parse_printed_lot([[Word("LOT", 96), Word("AB1234", 93)], [Word("EXP", 95),
...                     Word("2027-02-29", 92)]]).reason
'the expiry 2027-02-29 is not a date: day is out of range for month'
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final

from station.core.errors import ParseError
from station.core.identifiers import Expiry, Lot

# Below this word confidence (Tesseract's 0–100 scale) a lot or expiry is refused. Measured
# on the simulated hood frames (``python -m benchmarks ocr``): correct reads of the lot and
# date words sit at 80–93, while damaged lots (scratched, blotted: tests/station/adapters/
# test_ocr.py) read at 0–42, e.g. "AB2234" for a blotted "AB1234" at 0–15. Confidence does
# not catch every misread: the wrong reads that passed it on those frames (at 80–89) were a
# 0 read as 6 in a year (refused by PLAUSIBLE_YEARS) and a day left out of a date. Raising it
# refuses more correct reads (each costs the technician typing the lot and expiry); the
# technician's confirmation against the label, not this number, is what stops a misread.
MIN_CONFIDENCE: Final = 80.0
# Expiry years taken as printed; a year outside is an OCR slip (``2629`` for ``2029``, a 0
# read as 6 under glare, seen on the simulated frames), not a drug's shelf life.
PLAUSIBLE_YEARS: Final = range(2000, 2100)

_MONTHS: Final = {
    name: number
    for number, names in enumerate(
        (("JAN", "JANUARY"), ("FEB", "FEBRUARY"), ("MAR", "MARCH"), ("APR", "APRIL"),
         ("MAY",), ("JUN", "JUNE"), ("JUL", "JULY"), ("AUG", "AUGUST"),
         ("SEP", "SEPT", "SEPTEMBER"), ("OCT", "OCTOBER"), ("NOV", "NOVEMBER"),
         ("DEC", "DECEMBER")),
        start=1,
    )
    for name in names
}
_MONTH: Final = "(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + ")"
_SEP: Final = r"\s*[-/. ]?\s*"
_END: Final = r"(?![0-9A-Za-z])"

_LOT_KEY: Final = re.compile(
    r"(?<![0-9A-Za-z])(?i:L[O0]T(?:\s*/\s*BATCH)?|BATCH)(?i:\s*(?:NO\.?|NUMBER|#))?"
    r"(?:\s*[:.#]\s*|\s+)(?P<value>\S+)"
)
_EXPIRY_KEY: Final = re.compile(
    r"(?<![0-9A-Za-z])(?i:EXP(?:IRY|IRES|IRATION)?(?:\s*DATE)?|USE\s*BY)\.?\s*:?\s*"
)
# Words that may follow a lot or an expiry on the same line: the next field's caption.
_NEXT_FIELD: Final = re.compile(
    r"(?i:EXP|USE\s*BY|L[O0]T|BATCH|MFG|MFD|MANUFACTURED|SN|SERIAL|NDC|GTIN|Rx)(?![A-Za-z])"
)
_DATE_FORMS: Final = (
    ("ymd", re.compile(r"(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})" + _END)),
    ("dmy?", re.compile(r"(?P<a>\d{1,2})[-/.](?P<b>\d{1,2})[-/.](?P<y>\d{4})" + _END)),
    ("ym", re.compile(r"(?P<y>\d{4})[-/.](?P<m>\d{1,2})" + _END)),
    ("my", re.compile(r"(?P<m>\d{1,2})[-/.](?P<y>\d{4})" + _END)),
    ("d mon y", re.compile(r"(?:(?P<d>\d{1,2})" + _SEP + ")?(?i:" + _MONTH + ")" + _SEP
                           + r"(?P<y>\d{4})" + _END)),
    ("y mon d", re.compile(r"(?P<y>\d{4})" + _SEP + "(?i:" + _MONTH + ")(?:" + _SEP
                           + r"(?P<d>\d{1,2}))?" + _END)),
    ("two-digit year", re.compile(r"(?P<m>\d{1,2})[-/.](?P<y>\d{2})" + _END)),
)


@dataclass(frozen=True)
class Word:
    """One word the OCR engine saw, with its confidence (0–100; -1 when it gave none)."""

    text: str
    confidence: float


@dataclass(frozen=True)
class PrintedLot:
    """A lot and expiry read from a label's print, for the technician to confirm.

    ``text`` is the printed lines they were read from (``LOT AB1234 / EXP 2028-02-29``);
    ``confidence`` the lowest confidence (0–100) of the words that make up the two.
    """

    lot: Lot
    expiry: Expiry
    text: str
    confidence: float


class RefusalKind(Enum):
    """Why no lot and expiry were taken."""

    NOT_FOUND = "not found"
    AMBIGUOUS = "ambiguous"
    INVALID = "invalid"
    LOW_CONFIDENCE = "low confidence"


@dataclass(frozen=True)
class Refusal:
    """No lot and expiry taken, and why, in words to show the technician."""

    kind: RefusalKind
    reason: str


@dataclass(frozen=True)
class _Found:
    value: str
    line: str
    confidence: float


def parse_printed_lot(  # noqa: PLR0911 (one return per reason to refuse, in order)
    lines: Iterable[Sequence[Word]],
) -> PrintedLot | Refusal:
    """The lot and expiry in the OCR lines, or a :class:`Refusal` saying why none was taken."""
    lots: list[_Found] = []
    expiries: list[tuple[_Found, Expiry]] = []
    problems: list[Refusal] = []
    for words in lines:
        text, spans = _join(words)
        lots += _lots(text, spans, problems)
        expiries += _expiries(text, spans, problems)
    invalid = [p for p in problems if p.kind is RefusalKind.INVALID]
    if invalid:
        return invalid[0]
    distinct_lots = sorted({found.value for found in lots})
    distinct_dates = sorted({expiry.date for _, expiry in expiries})
    if len(distinct_lots) > 1:
        return Refusal(RefusalKind.AMBIGUOUS,
                       f"two different lots in view: {', '.join(distinct_lots)}")
    if len(distinct_dates) > 1:
        return Refusal(RefusalKind.AMBIGUOUS, "two different expiries in view: "
                       + ", ".join(day.isoformat() for day in distinct_dates))
    if problems:
        return problems[0]
    if not lots and not expiries:
        return Refusal(RefusalKind.NOT_FOUND, "no printed lot or expiry found")
    if not lots:
        return Refusal(RefusalKind.NOT_FOUND, "no printed lot found")
    if not expiries:
        return Refusal(RefusalKind.NOT_FOUND, "no printed expiry found")
    lot = min(lots, key=lambda found: found.confidence)
    found_expiry, expiry = min(expiries, key=lambda pair: pair[0].confidence)
    confidence = min(lot.confidence, found_expiry.confidence)
    if confidence < MIN_CONFIDENCE:
        weakest = lot if lot.confidence <= found_expiry.confidence else found_expiry
        return Refusal(
            RefusalKind.LOW_CONFIDENCE,
            f"read {weakest.line!r} with confidence {confidence:.0f}, below "
            f"{MIN_CONFIDENCE:.0f}: too unsure to offer",
        )
    text = lot.line if lot.line == found_expiry.line else f"{lot.line} / {found_expiry.line}"
    return PrintedLot(Lot(lot.value), expiry, text, confidence)


def _join(words: Sequence[Word]) -> tuple[str, list[tuple[int, int, float]]]:
    """A line's text (words joined by spaces) and each word's (start, end, confidence)."""
    spans: list[tuple[int, int, float]] = []
    parts: list[str] = []
    position = 0
    for word in words:
        text = word.text.strip()
        if not text:
            continue
        spans.append((position, position + len(text), word.confidence))
        parts.append(text)
        position += len(text) + 1
    return " ".join(parts), spans


def _confidence(spans: Sequence[tuple[int, int, float]], start: int, end: int) -> float:
    """The lowest confidence of the words overlapping text[start:end] (0 when none has one)."""
    overlapping = [c for s, e, c in spans if s < end and e > start]
    return float(min(overlapping)) if overlapping else 0.0


def _rest_is_next_field(rest: str) -> bool:
    """True when what follows a value on its line is nothing, or the caption of another field."""
    rest = rest.strip(" ,;|")
    return not rest or _NEXT_FIELD.match(rest) is not None


def _lots(text: str, spans: list[tuple[int, int, float]],
          problems: list[Refusal]) -> list[_Found]:
    found: list[_Found] = []
    for match in _LOT_KEY.finditer(text):
        value = match.group("value")
        try:
            Lot(value)
        except ParseError as error:
            problems.append(Refusal(RefusalKind.INVALID, f"the printed lot is unreadable: {error}"))
            continue
        if not (value[0].isalnum() and value[-1].isalnum()):
            problems.append(Refusal(
                RefusalKind.INVALID,
                f"the printed lot {value!r} begins or ends with punctuation: more likely a "
                "misread than a lot",
            ))
            continue
        if not _rest_is_next_field(text[match.end():]):
            problems.append(Refusal(
                RefusalKind.INVALID,
                f"more text follows the lot on {text!r}: where the lot ends is unclear",
            ))
            continue
        confidence = _confidence(spans, match.start(), match.end())
        found.append(_Found(value, text[match.start():match.end()], confidence))
    return found


def _expiries(text: str, spans: list[tuple[int, int, float]],
              problems: list[Refusal]) -> list[tuple[_Found, Expiry]]:
    found: list[tuple[_Found, Expiry]] = []
    for key in _EXPIRY_KEY.finditer(text):
        rest = text[key.end():]
        for form, pattern in _DATE_FORMS:
            match = pattern.match(rest)
            if match is None:
                continue
            printed = match.group(0)
            try:
                day = _date(form, match)
            except ValueError as error:
                problems.append(Refusal(
                    RefusalKind.INVALID, f"the expiry {printed} is not a date: {error}"))
                break
            if not _rest_is_next_field(rest[match.end():]):
                problems.append(Refusal(
                    RefusalKind.INVALID,
                    f"more text follows the expiry on {text!r}: which date is meant is unclear",
                ))
                break
            end = key.end() + match.end()
            confidence = _confidence(spans, key.start(), end)
            found.append((_Found(printed, text[key.start():end], confidence),
                          Expiry(day, raw=printed)))
            break
        else:
            problems.append(Refusal(
                RefusalKind.NOT_FOUND,
                f"no date this station reads after {text[key.start():key.end()].strip()!r} "
                f"in {text!r}",
            ))
    return found


def _date(form: str, match: re.Match[str]) -> dt.date:
    """The date a matched form means; raises ValueError for an impossible or unclear one."""
    groups = match.groupdict()
    if form == "two-digit year":
        raise ValueError("its year has two digits; the station needs all four")
    year = int(groups["y"])
    if year not in PLAUSIBLE_YEARS:
        raise ValueError(f"the year {year} is not plausible")
    if form == "dmy?":
        first, second = int(groups["a"]), int(groups["b"])
        if first <= 12 and second <= 12 and first != second:
            raise ValueError("its day and month could be either way round")
        day, month = (first, second) if first > 12 else (second, first)
        return dt.date(year, month, day)
    month = _MONTHS[groups["mon"].upper()] if groups.get("mon") else int(groups["m"])
    if not 1 <= month <= 12:
        raise ValueError(f"month {month} does not exist")
    if groups.get("d") is None:
        return dt.date(year, month, calendar.monthrange(year, month)[1])
    return dt.date(year, month, int(groups["d"]))
