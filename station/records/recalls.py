"""The pharmacy's recall list: lots of an NDC that must not be used.

The list is a history of events in ``recall_events`` (append-only): a lot is *added* with a
reason, and may later be *withdrawn* (the recall was closed, or entered by mistake). A lot
is recalled when its newest event is an addition.

NDCs are compared by the package they name, whatever their shape (``0409-4888-02``,
``00409-4888-02`` and ``000409-4888-02`` are one package): the 12-digit key of
:class:`~station.core.identifiers.Ndc`. Lots are compared whole, ignoring case and
surrounding spaces, as the record search does (a recall typed from a notice in lower case
still stops the lot).

:meth:`RecallList.notice_for` gives the ``recall_notice`` the caller puts into
:class:`~station.core.workflow.ProductScanned`; the workflow turns it into a RECALLED hard
stop. :func:`preparations_using` answers the other half of a recall: which preparations
already used the lot.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    text,
)

from station.core.errors import ParseError, StationError
from station.core.identifiers import Lot, Ndc
from station.core.scan import ScanIdentity
from station.records.formulary_versions import FormularyVersions
from station.records.search import PreparationSummary, search, summaries
from station.records.store import EventStore

Clock = Callable[[], dt.datetime]

ADDED, WITHDRAWN = "added", "withdrawn"
CSV_COLUMNS = ("ndc", "lot", "reason")
_RECALLS_LOCK = 0x5245_4341

_metadata = MetaData()
recall_events = Table(
    "recall_events",
    _metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("ndc_key", String(12), nullable=False),
    Column("ndc", String(16), nullable=False),
    Column("lot", String(20), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("recorded_by", String(64), nullable=False),
    Column("recorded_at", String(40), nullable=False),
)


class RecallError(StationError):
    """A recall that cannot be added or withdrawn as asked, or a recall file that is wrong."""


@dataclass(frozen=True)
class Recall:
    """One lot on the recall list, as last added."""

    ndc: Ndc
    lot: str
    reason: str
    added_by: str
    added_at: dt.datetime

    @property
    def notice(self) -> str:
        """What a technician reads when the lot is scanned."""
        return (f"{self.reason} (on the recall list since {self.added_at.date().isoformat()}, "
                f"added by {self.added_by})")

    def as_json(self) -> dict[str, str]:
        """The recall as plain JSON values."""
        return {"ndc": str(self.ndc), "ndc_11": self.ndc.hipaa, "lot": self.lot,
                "reason": self.reason, "added_by": self.added_by,
                "added_at": self.added_at.isoformat()}


@dataclass(frozen=True)
class ImportReport:
    """What an import of a recall file did."""

    added: tuple[Recall, ...]
    already_recalled: tuple[Recall, ...]

    def summary(self) -> str:
        """One line for the command line."""
        return (f"{len(self.added)} lot(s) added to the recall list, "
                f"{len(self.already_recalled)} already on it")


def lot_key(lot: str) -> str:
    """How lots are compared: whole, any case, without surrounding spaces."""
    return lot.strip().casefold()


class RecallList:
    """The recall list of one record database (SQLite or PostgreSQL).

    ``clock`` returns the current time, timezone-aware.
    """

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self._clock = clock

    # -------------------------------------------------------------- changing

    def add(self, ndc: str | Ndc, lot: str | Lot, reason: str, *, by: str) -> Recall:
        """Put a lot of an NDC on the recall list; refused if it is already there."""
        entry = _entry(ndc, lot, reason, by)
        with self.engine.begin() as connection:
            self._lock(connection)
            current = _active(connection).get(_pair(entry.ndc, entry.lot))
            if current is not None:
                raise RecallError(
                    f"NDC {entry.ndc} lot {entry.lot} is already on the recall list "
                    f"(added {current.added_at.date().isoformat()} by {current.added_by}: "
                    f"{current.reason})")
            return self._insert(connection, [entry], ADDED)[0]

    def withdraw(self, ndc: str | Ndc, lot: str | Lot, reason: str, *, by: str) -> Recall:
        """Take a lot off the recall list, with the reason; refused if it is not on it."""
        entry = _entry(ndc, lot, reason, by)
        with self.engine.begin() as connection:
            self._lock(connection)
            current = _active(connection).get(_pair(entry.ndc, entry.lot))
            if current is None:
                raise RecallError(f"NDC {entry.ndc} lot {entry.lot} is not on the recall list")
            self._insert(connection, [entry], WITHDRAWN)
            return current

    def import_csv(self, source: str, *, by: str, source_name: str = "recall file",
                   ) -> ImportReport:
        """Add every lot of a CSV file with the columns ``ndc``, ``lot``, ``reason``.

        The whole file is checked first; one bad line refuses the whole file, with an error
        naming the line. Lots already on the list are left as they are and counted.
        """
        entries = parse_csv(source, by=by, source_name=source_name)
        with self.engine.begin() as connection:
            self._lock(connection)
            active = _active(connection)
            fresh: list[_Entry] = []
            already: list[Recall] = []
            seen: set[tuple[str, str]] = set()
            for entry in entries:
                pair = _pair(entry.ndc, entry.lot)
                if pair in active:
                    already.append(active[pair])
                elif pair not in seen:
                    seen.add(pair)
                    fresh.append(entry)
            added = self._insert(connection, fresh, ADDED) if fresh else []
        return ImportReport(tuple(added), tuple(already))

    # -------------------------------------------------------------- reading

    def active(self) -> list[Recall]:
        """Every lot on the recall list, oldest addition first."""
        with self.engine.connect() as connection:
            return list(_active(connection).values())

    def find(self, ndc: Ndc, lot: str | Lot) -> Recall | None:
        """The recall of this lot of this NDC (in any shape), if it is on the list."""
        with self.engine.connect() as connection:
            return _active(connection, [ndc.key]).get((ndc.key, lot_key(str(lot))))

    def notice_for(self, subject: ScanIdentity | Ndc, lot: str | Lot | None = None,
                   ) -> str | None:
        """The ``recall_notice`` for :class:`~station.core.workflow.ProductScanned`, or None.

        ``subject`` is the scan (its lot is used when ``lot`` is not given) or the NDC of the
        product it resolved to. A scan whose 10 NDC digits have no known shape is checked
        under each of its candidate NDCs: a recalled lot stops the scan whichever it is.
        Without a lot (a linear barcode) there is nothing to match, and the answer is None;
        :meth:`recalled_lots` lists what to check on the label.
        """
        if isinstance(subject, ScanIdentity):
            if lot is None and subject.lot is not None:
                lot = subject.lot
            ndcs: Sequence[Ndc] = _scan_ndcs(subject)
        else:
            ndcs = (subject,)
        if lot is None or not ndcs:
            return None
        wanted = lot_key(str(lot))
        keys = [n.key for n in ndcs]
        with self.engine.connect() as connection:
            active = _active(connection, keys)
        for key in keys:
            recall = active.get((key, wanted))
            if recall is not None:
                return recall.notice
        return None

    def recalled_lots(self, ndc: Ndc) -> list[Recall]:
        """The recalled lots of this NDC (in any shape)."""
        with self.engine.connect() as connection:
            return list(_active(connection, [ndc.key]).values())

    def preparations_using(self, lot: str | Lot, ndc: str | Ndc | None = None,
                           ) -> list[PreparationSummary]:
        """The preparations that already used this lot (of this NDC, when given)."""
        return preparations_using(self.engine, lot, ndc)

    # -------------------------------------------------------------- internals

    def _lock(self, connection: Connection) -> None:
        if self.engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": _RECALLS_LOCK})

    def _now(self) -> dt.datetime:
        now = self._clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("the clock must return a timezone-aware time")
        return now.astimezone(dt.UTC)

    def _insert(self, connection: Connection, entries: Sequence[_Entry], kind: str,
                ) -> list[Recall]:
        now = self._now()
        connection.execute(insert(recall_events), [
            {"ndc_key": e.ndc.key, "ndc": str(e.ndc), "lot": e.lot, "kind": kind,
             "reason": e.reason, "recorded_by": e.by, "recorded_at": now.isoformat()}
            for e in entries
        ])
        return [Recall(e.ndc, e.lot, e.reason, e.by, now) for e in entries]


def preparations_using(engine: Engine, lot: str | Lot,
                       ndc: str | Ndc | None = None) -> list[PreparationSummary]:
    """The preparations of the record that used ``lot`` (an accepted scan), via records search.

    With ``ndc``, only those whose order or scans name that NDC (in any shape).
    """
    found = summaries(EventStore(engine), FormularyVersions(engine))
    return search(found, lot=str(lot), ndc=ndc)


def parse_csv(source: str, *, by: str, source_name: str = "recall file") -> list[_Entry]:
    """Read a recall CSV (header ``ndc,lot,reason``); errors name the file and the line."""
    reader = csv.reader(io.StringIO(source.lstrip("\ufeff")))
    rows = list(enumerate(reader, start=1))
    rows = [(number, row) for number, row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise RecallError(f"{source_name} is empty: expected a header line ndc,lot,reason")
    header_line, header = rows[0]
    names = [cell.strip().lower() for cell in header]
    if names != list(CSV_COLUMNS):
        raise RecallError(
            f"{source_name} line {header_line}: the header must be ndc,lot,reason, "
            f"got {','.join(cell.strip() for cell in header)}")
    entries = []
    for number, row in rows[1:]:
        where = f"{source_name} line {number}"
        if len(row) != len(CSV_COLUMNS):
            raise RecallError(f"{where}: expected 3 fields (ndc, lot, reason), got {len(row)}")
        ndc, lot, reason = (cell.strip() for cell in row)
        try:
            entries.append(_entry(ndc, lot, reason, by))
        except (ParseError, RecallError) as error:
            raise RecallError(f"{where}: {error}") from None
    if not entries:
        raise RecallError(f"{source_name} has a header and no recalls")
    return entries


# ------------------------------------------------------------------------------ helpers


@dataclass(frozen=True)
class _Entry:
    ndc: Ndc
    lot: str
    reason: str
    by: str


def _entry(ndc: str | Ndc, lot: str | Lot, reason: str, by: str) -> _Entry:
    """Check one recall's fields; the NDC must be hyphenated (or 11 or 12 digits)."""
    parsed = ndc if isinstance(ndc, Ndc) else Ndc.parse(ndc)
    lot_text = str(lot).strip()
    if not lot_text:
        raise RecallError("the lot is empty")
    Lot(lot_text)  # GS1 AI (10): what a scan can carry
    if not reason.strip():
        raise RecallError("a recall needs a reason (e.g. the FDA recall number)")
    if not by.strip():
        raise RecallError("a recall needs the user who records it")
    return _Entry(parsed, lot_text, reason.strip(), by.strip())


def _pair(ndc: Ndc, lot: str) -> tuple[str, str]:
    return (ndc.key, lot_key(lot))


def _scan_ndcs(identity: ScanIdentity) -> tuple[Ndc, ...]:
    if identity.ndc is not None:
        return (identity.ndc,)
    return identity.ndc_candidates


def _active(connection: Connection, keys: Sequence[str] | None = None,
            ) -> dict[tuple[str, str], Recall]:
    """Fold the recall events (optionally of some NDC keys) into the lots now recalled."""
    query = select(recall_events).order_by(recall_events.c.id)
    if keys is not None:
        query = query.where(recall_events.c.ndc_key.in_(list(keys)))
    active: dict[tuple[str, str], Recall] = {}
    for row in connection.execute(query):
        pair = (row.ndc_key, lot_key(row.lot))
        if row.kind == ADDED:
            active[pair] = Recall(Ndc.parse(row.ndc), row.lot, row.reason, row.recorded_by,
                                  dt.datetime.fromisoformat(row.recorded_at))
        else:
            active.pop(pair, None)
    return active
