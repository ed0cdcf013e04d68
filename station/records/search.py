"""Search the record: one summary per preparation, and the filters an auditor asks for.

:func:`summaries` folds the events of every preparation into a :class:`PreparationSummary`:
what was ordered (drug names from the formulary version the preparation was made under),
for whom, who prepared and who decided, which lots and NDCs went into it, where and when.
:func:`search` filters those summaries by lot, NDC, patient, user (technician or
pharmacist), station, date, outcome or drug; :func:`write_csv` writes them as CSV.

The recall question, "which preparations used lot X?", is answered exactly: a lot counts as
*used* when its scan was accepted into the preparation, i.e. the scan did not stop the
preparation, or the stop it caused was overridden by a pharmacist. A scan that was refused
(a wrong product, an expired or recalled lot) and then retried or cancelled did not put its
lot into the preparation; it is kept apart in :attr:`PreparationSummary.refused_lots`.
Lots are compared whole (``A12`` never matches ``A123``), ignoring case and surrounding
spaces; NDCs by the package they name, whatever their shape.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from station.core.errors import StationError
from station.core.formulary import Formulary
from station.core.identifiers import Gtin, Ndc
from station.records.formulary_versions import FormularyVersions
from station.records.store import EventStore, StoredEvent

VERIFIED = "verified"
REJECTED = "rejected"
CANCELLED = "cancelled"
AWAITING_VERIFICATION = "awaiting verification"
IN_PROGRESS = "in progress"
#: What became of a preparation. Every state before "awaiting verification" (ready, in
#: progress, hard stop, awaiting the in-process check) is "in progress".
OUTCOMES = (VERIFIED, REJECTED, CANCELLED, AWAITING_VERIFICATION, IN_PROGRESS)
_OUTCOME_OF_STATE = {
    "verified": VERIFIED,
    "rejected": REJECTED,
    "cancelled": CANCELLED,
    "awaiting verification": AWAITING_VERIFICATION,
}
_DERIVED = frozenset({"hard_stop", "state_changed"})


class SearchError(StationError):
    """A search key that cannot be used as given."""


@dataclass(frozen=True)
class PreparationSummary:
    """One preparation as an auditor sees it in a list; times are UTC."""

    preparation_id: str
    state: str
    outcome: str
    order_id: str | None
    drugs: tuple[str, ...]
    drug_ndcs: tuple[Ndc, ...]
    base: str | None
    base_ndc: Ndc | None
    patient_id: str | None
    patient_name: str | None
    prepared_by: str | None
    verified_by: str | None
    rejected_by: str | None
    decision_reason: str | None
    lots: tuple[str, ...]
    scanned_ndcs: tuple[Ndc, ...]
    refused_lots: tuple[str, ...]
    hard_stops: int
    stations: tuple[str, ...]
    formulary_version: int | None
    created_utc: dt.datetime
    last_event_utc: dt.datetime

    @property
    def ordered_ndcs(self) -> tuple[Ndc, ...]:
        """The NDCs the order names: its drugs, then its base."""
        return self.drug_ndcs + ((self.base_ndc,) if self.base_ndc is not None else ())

    @property
    def drug(self) -> str:
        """The drug names as one line, e.g. ``Potassium Chloride + Magnesium Sulfate``."""
        return " + ".join(self.drugs)

    def as_json(self) -> dict[str, Any]:
        """The summary as plain JSON values."""
        return {
            "id": self.preparation_id,
            "state": self.state,
            "outcome": self.outcome,
            "order_id": self.order_id,
            "drug": self.drug,
            "drugs": list(self.drugs),
            "drug_ndcs": [str(n) for n in self.drug_ndcs],
            "base": self.base,
            "base_ndc": str(self.base_ndc) if self.base_ndc is not None else None,
            "patient": self.patient_id,
            "patient_name": self.patient_name,
            "prepared_by": self.prepared_by,
            "verified_by": self.verified_by,
            "rejected_by": self.rejected_by,
            "decision_reason": self.decision_reason,
            "lots": list(self.lots),
            "scanned_ndcs": [str(n) for n in self.scanned_ndcs],
            "refused_lots": list(self.refused_lots),
            "hard_stops": self.hard_stops,
            "stations": list(self.stations),
            "formulary_version": self.formulary_version,
            "created_utc": self.created_utc.isoformat(),
            "last_event_utc": self.last_event_utc.isoformat(),
        }


# ------------------------------------------------------------------------------ folding


def summaries(store: EventStore, versions: FormularyVersions) -> list[PreparationSummary]:
    """A summary of every preparation in the record, in the order they were first recorded."""
    grouped: dict[str, list[StoredEvent]] = {}
    for event in store.events():
        grouped.setdefault(event.preparation_id, []).append(event)
    formularies = _Formularies(versions)
    return [summarize(events, formularies.get) for events in grouped.values()]


class _Formularies:
    """Formulary versions (each read and parsed once by ``FormularyVersions``)."""

    def __init__(self, versions: FormularyVersions) -> None:
        self.versions = versions

    def get(self, number: int) -> Formulary | None:
        try:
            return self.versions.formulary_of(number)[1]
        except StationError:
            return None  # a version the record lacks: names become NDCs


def summarize(events: Sequence[StoredEvent],
              formulary_of: Callable[[int], Formulary | None] = lambda number: None,
              ) -> PreparationSummary:
    """Fold one preparation's events (oldest first) into its summary.

    ``formulary_of(version)`` gives the :class:`Formulary` a version number names, or None.
    """
    if not events:
        raise ValueError("a preparation has at least one event")
    ordered = sorted(events, key=lambda e: e.version)
    fold = _Fold()
    for position, event in enumerate(ordered):
        following = ordered[position + 1] if position + 1 < len(ordered) else None
        fold.add(event, following)
    fold.settle_pending(accepted=False)
    created = ordered[0].payload if ordered[0].kind == "created" else {}
    order: Mapping[str, Any] = created.get("order") or {}
    patient: Mapping[str, Any] = order.get("patient") or {}
    version = _int_or_none(created.get("formulary_version"))
    formulary = formulary_of(version) if version is not None else None
    drug_ndcs = tuple(n for n in (_ndc_or_none(i.get("ndc"))
                                  for i in order.get("ingredient") or () if isinstance(i, Mapping))
                      if n is not None)
    base_ndc = _ndc_or_none(order.get("base"))
    state = fold.state
    return PreparationSummary(
        preparation_id=ordered[0].preparation_id,
        state=state,
        outcome=_OUTCOME_OF_STATE.get(state, IN_PROGRESS),
        order_id=_str_or_none(order.get("order_id")),
        drugs=tuple(_name(formulary, n) for n in drug_ndcs),
        drug_ndcs=drug_ndcs,
        base=_name(formulary, base_ndc) if base_ndc is not None else None,
        base_ndc=base_ndc,
        patient_id=_str_or_none(patient.get("id")),
        patient_name=_str_or_none(patient.get("name")),
        prepared_by=fold.prepared_by,
        verified_by=fold.verified_by,
        rejected_by=fold.rejected_by,
        decision_reason=fold.decision_reason,
        lots=tuple(fold.lots),
        scanned_ndcs=tuple(fold.ndcs),
        refused_lots=tuple(lot for lot in fold.refused_lots if lot not in fold.lots),
        hard_stops=fold.hard_stops,
        stations=tuple(dict.fromkeys(e.station_id for e in ordered)),
        formulary_version=version,
        created_utc=ordered[0].utc.astimezone(dt.UTC),
        last_event_utc=ordered[-1].utc.astimezone(dt.UTC),
    )


class _Fold:
    """The running state of one preparation's summary."""

    def __init__(self) -> None:
        self.state = "ready"
        self.prepared_by: str | None = None
        self.verified_by: str | None = None
        self.rejected_by: str | None = None
        self.decision_reason: str | None = None
        self.lots: list[str] = []
        self.ndcs: list[Ndc] = []
        self.refused_lots: list[str] = []
        self.hard_stops = 0
        # A scan that stopped the preparation: used only if a pharmacist overrides the stop.
        self.pending: tuple[str | None, tuple[Ndc, ...]] | None = None

    def add(self, event: StoredEvent, following: StoredEvent | None) -> None:
        payload = event.payload
        if event.kind == "state_changed":
            self.state = str(payload.get("to", self.state))
            return
        if event.kind == "hard_stop":
            self.hard_stops += 1
            return
        if event.kind in _DERIVED:
            return
        if self.pending is not None and event.kind != "created":
            self.settle_pending(accepted=event.kind == "overridden")
        if event.kind == "started":
            self.prepared_by = event.user_id
        elif event.kind == "product_scanned":
            scanned = (_lot(payload.get("lot")), _scanned_ndcs(payload))
            # The store appends a stop right after the event that caused it, in one batch.
            if following is not None and following.kind == "hard_stop":
                self.pending = scanned
            else:
                self._use(*scanned)
        elif event.kind == "verified":
            self.verified_by = event.user_id
        elif event.kind == "rejected" or (
                event.kind == "in_process_checked" and payload.get("approved") is False):
            self.rejected_by = event.user_id
            self.decision_reason = _str_or_none(payload.get("reason"))
        elif event.kind == "cancelled":
            self.decision_reason = _str_or_none(payload.get("reason"))

    def settle_pending(self, *, accepted: bool) -> None:
        if self.pending is None:
            return
        lot, ndcs = self.pending
        self.pending = None
        if accepted:
            self._use(lot, ndcs)
        elif lot is not None and lot not in self.refused_lots:
            self.refused_lots.append(lot)

    def _use(self, lot: str | None, ndcs: tuple[Ndc, ...]) -> None:
        if lot is not None and lot not in self.lots:
            self.lots.append(lot)
        for ndc in ndcs:
            if ndc not in self.ndcs:
                self.ndcs.append(ndc)


def _scanned_ndcs(payload: Mapping[str, Any]) -> tuple[Ndc, ...]:
    """The formulary product a scan resolved to; else what its GTIN's 10 digits could be."""
    product = _ndc_or_none(payload.get("product"))
    if product is not None:
        return (product,)
    try:
        ndc10 = Gtin.parse(str(payload.get("gtin") or "")).ndc10
        return Ndc.candidates(ndc10) if ndc10 is not None else ()
    except StationError:
        return ()


def _name(formulary: Formulary | None, ndc: Ndc) -> str:
    product = formulary.get(ndc) if formulary is not None else None
    return product.name if product is not None else f"NDC {ndc}"


def _lot(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _ndc_or_none(value: object) -> Ndc | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return Ndc.parse(value)
    except StationError:
        return None


def _str_or_none(value: object) -> str | None:
    return str(value) if value is not None and str(value) != "" else None


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


# ------------------------------------------------------------------------------ filtering


def search(
    found: Iterable[PreparationSummary],
    *,
    lot: str | None = None,
    ndc: str | Ndc | None = None,
    patient: str | None = None,
    user: str | None = None,
    technician: str | None = None,
    pharmacist: str | None = None,
    station: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    outcome: str | None = None,
    drug: str | None = None,
) -> list[PreparationSummary]:
    """The summaries that match every key given (no key: all of them).

    - ``lot``: a lot used in the preparation (whole lot, any case);
    - ``ndc``: an NDC the order names or a scan put into the preparation, in any shape
      (``0409-4888-02``, ``00409-4888-02``, ``00409488802``, 10 digits without hyphens,
      or a GTIN-14 carrying the NDC);
    - ``patient``: the patient id (whole, any case) or part of the patient's name;
    - ``user``: who prepared it or who verified or rejected it (whole user id, any case);
    - ``technician``: who prepared it; ``pharmacist``: who verified or rejected it (whole
      user id, any case);
    - ``station``: a station where one of its events was recorded (whole id, any case);
    - ``date_from`` / ``date_to``: the UTC day it was created, both ends included;
    - ``outcome``: one of :data:`OUTCOMES` (``awaiting-verification`` and
      ``awaiting_verification`` are accepted too);
    - ``drug``: part of a drug's or the base's name, any case.
    """
    lot_key = _key(lot, "lot")
    ndcs = _ndc_keys(ndc) if ndc is not None else None
    patient_key = _key(patient, "patient")
    user_key = _key(user, "user")
    technician_key = _key(technician, "technician")
    pharmacist_key = _key(pharmacist, "pharmacist")
    station_key = _key(station, "station")
    drug_key = _key(drug, "drug")
    wanted_outcome = parse_outcome(outcome) if outcome is not None else None
    first, last = _day(date_from, "date_from"), _day(date_to, "date_to")
    if first is not None and last is not None and first > last:
        raise SearchError(f"the start date {first} is after the end date {last}")

    tests: list[Callable[[PreparationSummary], bool]] = []
    if lot_key is not None:
        tests.append(lambda s: lot_key in (x.casefold() for x in s.lots))
    if ndcs is not None:
        tests.append(lambda s: not ndcs.isdisjoint((*s.ordered_ndcs, *s.scanned_ndcs)))
    if patient_key is not None:
        tests.append(lambda s: patient_key == (s.patient_id or "").casefold()
                     or patient_key in (s.patient_name or "").casefold())
    if user_key is not None:
        tests.append(lambda s: user_key in (
            (u or "").casefold() for u in (s.prepared_by, s.verified_by, s.rejected_by)))
    if technician_key is not None:
        tests.append(lambda s: technician_key == (s.prepared_by or "").casefold())
    if pharmacist_key is not None:
        tests.append(lambda s: pharmacist_key in (
            (u or "").casefold() for u in (s.verified_by, s.rejected_by)))
    if station_key is not None:
        tests.append(lambda s: station_key in (x.casefold() for x in s.stations))
    if first is not None:
        tests.append(lambda s: s.created_utc.astimezone(dt.UTC).date() >= first)
    if last is not None:
        tests.append(lambda s: s.created_utc.astimezone(dt.UTC).date() <= last)
    if wanted_outcome is not None:
        tests.append(lambda s: s.outcome == wanted_outcome)
    if drug_key is not None:
        tests.append(lambda s: any(drug_key in name.casefold()
                                   for name in (*s.drugs, s.base or "")))
    return [summary for summary in found if all(test(summary) for test in tests)]


def parse_outcome(text: str) -> str:
    """One of :data:`OUTCOMES`, from its name with spaces, hyphens or underscores."""
    wanted = " ".join(text.replace("-", " ").replace("_", " ").split()).casefold()
    if wanted not in OUTCOMES:
        raise SearchError(f"unknown outcome {text!r}: expected one of {', '.join(OUTCOMES)}")
    return wanted


def parse_ndc_query(text: str) -> frozenset[Ndc]:
    """The packages an NDC typed in any shape may name (several for 10 bare digits)."""
    stripped = text.strip()
    try:
        if stripped.isdigit() and len(stripped) == 10:
            return frozenset(Ndc.candidates(stripped))
        if stripped.isdigit() and len(stripped) in (13, 14):
            ndc10 = Gtin.parse(stripped).ndc10
            if ndc10 is None:
                raise SearchError(f"GTIN {stripped} carries no NDC")
            return frozenset(Ndc.candidates(ndc10))
        return frozenset({Ndc.parse(stripped)})
    except SearchError:
        raise
    except StationError as error:
        raise SearchError(str(error)) from None


def _ndc_keys(ndc: str | Ndc) -> frozenset[Ndc]:
    return frozenset({ndc}) if isinstance(ndc, Ndc) else parse_ndc_query(ndc)


def _key(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    key = value.strip().casefold()
    if not key:
        raise SearchError(f"the {name} to search for is empty")
    return key


def _day(value: dt.date | None, name: str) -> dt.date | None:
    if value is None or not isinstance(value, dt.datetime):
        return value
    if value.tzinfo is None:
        raise SearchError(f"{name} {value.isoformat()} needs a UTC offset, or give a date")
    return value.astimezone(dt.UTC).date()


# ------------------------------------------------------------------------------ CSV

#: The CSV header: one column per summary field; several values in one cell are "; "-joined.
CSV_COLUMNS = (
    "preparation_id", "outcome", "state", "created_utc", "last_event_utc", "order_id",
    "patient_id", "patient_name", "drugs", "drug_ndcs", "base", "base_ndc", "prepared_by",
    "verified_by", "rejected_by", "decision_reason", "lots", "refused_lots", "scanned_ndcs",
    "hard_stops", "stations", "formulary_version",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_row(summary: PreparationSummary) -> tuple[str, ...]:
    """One summary as the cells of :data:`CSV_COLUMNS` (times in ISO 8601, UTC).

    A free-text cell a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``)
    starts with an apostrophe; numbers are left alone.

    >>> event = StoredEvent(1, "0", "1", "P-1", 1, "created", "hood-1", "tech.ana",
    ...                     "2026-11-26T21:31:00+00:00", {"order": {"order_id": "=HYPERLINK()"}})
    >>> row = csv_row(summarize([event]))
    >>> row[:4], row[CSV_COLUMNS.index("order_id")]
    (('P-1', 'in progress', 'ready', '2026-11-26T21:31:00+00:00'), "'=HYPERLINK()")
    """

    def many(values: Iterable[object]) -> str:
        return "; ".join(str(v) for v in values)

    def text(value: object) -> str:
        return "" if value is None else str(value)

    cells = (
        summary.preparation_id, summary.outcome, summary.state,
        summary.created_utc.astimezone(dt.UTC).isoformat(),
        summary.last_event_utc.astimezone(dt.UTC).isoformat(),
        text(summary.order_id), text(summary.patient_id), text(summary.patient_name),
        many(summary.drugs), many(summary.drug_ndcs), text(summary.base),
        text(summary.base_ndc), text(summary.prepared_by), text(summary.verified_by),
        text(summary.rejected_by), text(summary.decision_reason), many(summary.lots),
        many(summary.refused_lots), many(summary.scanned_ndcs), str(summary.hard_stops),
        many(summary.stations), text(summary.formulary_version),
    )
    return tuple(_defused(cell) for cell in cells)


def write_csv(found: Iterable[PreparationSummary], out: TextIO) -> int:
    """Write the header and one row per summary to ``out``; how many rows.

    Open ``out`` with ``newline=""`` (the csv module writes its own CRLF line ends).
    """
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for summary in found:
        writer.writerow(csv_row(summary))
        count += 1
    return count


def _defused(cell: str) -> str:
    if not cell.startswith(_FORMULA_STARTS):
        return cell
    try:
        float(cell)
    except ValueError:
        return "'" + cell
    return cell
