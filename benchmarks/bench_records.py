"""Record store: durable appends and chain verification against the database and hashlib alone.

One table, each figure beside its baseline in the same run:

- durable appends a second through ``EventStore.append`` (one transaction per event: lock,
  read version and chain head, hash, insert, commit) against plain single-row
  INSERT + COMMIT of the very same rows into a table of the same shape and indexes, with the
  same durability settings: ``sqlite3`` directly (WAL, ``synchronous=FULL``) and psycopg
  directly. The two take turns in chunks so drift in the disk's state hits both alike;
- ``EventStore.verify_chain`` over those events (events/s and MB/s of canonical bytes)
  against ``hashlib.sha256`` over the same bytes (previous hash + canonical encoding);
- all of it on SQLite (a file in a temporary folder) and, when ``STATION_TEST_PG_URL`` is
  set, on a scratch PostgreSQL database created and dropped here (its events table carries
  revision 0002's NOTIFY trigger, the plain one does not).

Goal printed beside each: at least half the baseline. Two "bare driver" rows, without a
goal, say where a shortfall comes from: the store's own work (the same statements, the same
transaction, the same hashing and encoding) written on sqlite3/psycopg directly. What the
store loses against them is SQLAlchemy's; what they lose against the baseline is the
protocol's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url

from benchmarks.summary import SummaryRow
from station.core.chain import GENESIS, ChainLink, canonical, link_hash
from station.records.database import make_engine
from station.records.migrate import upgrade
from station.records.schema import events, metadata
from station.records.store import EventStore, NewEvent, hashed_fields

APPENDS = 2000
PREPARATIONS = 100
CHUNKS = 4
VERIFY_REPEATS = 3
SHA_REPEATS = 5
GOAL = 0.5
T0 = dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC)
COLUMNS = [column.name for column in events.columns]


@dataclass
class Line:
    """One figure against its baseline."""

    backend: str
    what: str
    station: float
    baseline: float
    baseline_name: str
    unit: str
    has_goal: bool = True

    @property
    def ratio(self) -> float:
        return self.station / self.baseline


def new_events(count: int = APPENDS) -> list[tuple[NewEvent, int]]:
    """A morning's worth of weighings over many preparations, with expected versions."""
    versions: dict[str, int] = {}
    made = []
    for n in range(count):
        preparation = f"RX-{n % PREPARATIONS:05d}"
        version = versions.get(preparation, 0)
        versions[preparation] = version + 1
        payload = {
            "step": version + 1,
            "ingredient": "ceftriaxone 1 g vial",
            "ndc": "0409-7332-01",
            "lot": f"L{n % 37:04d}A",
            "expires": dt.date(2027, 6, 30),
            "mass": Decimal("12.345") + Decimal(n % 100) / 1000,
            "unit": "g",
            "raw": "S S     12.345 g",
            "balance": "XPR205 #B123456789",
            "photo": hashlib.sha256(str(n).encode()).hexdigest(),
        }
        kind = "started" if version == 0 else "weighed"
        made.append((NewEvent(preparation, kind, payload, "tech.ana", "hood-1",
                              T0 + dt.timedelta(seconds=n)), version))
    return made


def _rows(engine: Engine, after: int) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        found = connection.execute(
            select(*events.columns).where(events.c.sequence > after)
            .order_by(events.c.sequence)
        ).all()
    return [tuple(row) for row in found]


class Protocol:
    """``EventStore.append``'s protocol written straight on the driver, without SQLAlchemy.

    The same statements in the same transaction: take the append lock, read the
    preparation's version and the chain head, hash, insert, commit. Its rows must equal the
    store's, which :func:`measure_appends` checks.
    """

    def __init__(self, connection: Any, marker: str, lock: str, table: str) -> None:
        self.connection = connection
        self.lock = lock
        self.version_sql = (f"SELECT max(version) FROM {table} "
                            f"WHERE preparation_id = {marker}")
        self.head_sql = (f"SELECT sequence, hash, previous_hash FROM {table} "
                         "ORDER BY sequence DESC LIMIT 1")
        self.insert_sql = (f"INSERT INTO {table} ({', '.join(COLUMNS)}) "
                           f"VALUES ({', '.join([marker] * len(COLUMNS))})")

    def append(self, event: NewEvent, expected_version: int) -> None:
        connection = self.connection
        cursor = connection.cursor()
        try:
            cursor.execute(self.lock)
            cursor.execute(self.version_sql, (event.preparation_id,))
            current = cursor.fetchone()[0] or 0
            if current != expected_version:
                raise RuntimeError(f"{event.preparation_id} is at version {current}")
            cursor.execute(self.head_sql)
            found = cursor.fetchone()
            head = ChainLink(*found) if found else ChainLink.first()
            recorded_at = event.recorded_at.astimezone(dt.UTC).isoformat()
            payload = json.loads(canonical(event.payload))
            version = current + 1
            link = head.next(hashed_fields(event.preparation_id, version, event.kind,
                                           event.station_id, event.user_id, recorded_at,
                                           payload))
            cursor.execute(self.insert_sql, (
                link.sequence, link.previous, link.hash, event.preparation_id, version,
                event.kind, event.station_id, event.user_id, recorded_at,
                canonical(payload).decode("utf-8")))
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            cursor.close()


@dataclass
class Appends:
    """Appends a second, three ways, and the mean row size."""

    store: float
    protocol: float
    plain: float
    row_bytes: int


def measure_appends(store: EventStore, protocol: Protocol,
                    plain_insert: Callable[[Sequence[tuple[Any, ...]]], float],
                    protocol_rows: Callable[[], list[tuple[Any, ...]]]) -> Appends:
    """The store, its protocol on the bare driver, and plain inserts, taking turns in chunks."""
    work = new_events()
    size = len(work) // CHUNKS
    store_seconds = protocol_seconds = plain_seconds = 0.0
    row_bytes = 0
    for chunk in range(CHUNKS):
        part = work[chunk * size:(chunk + 1) * size]
        before = store.head().sequence
        store_seconds += _seconds(lambda part=part: [store.append(*item) for item in part])
        protocol_seconds += _seconds(
            lambda part=part: [protocol.append(*item) for item in part])
        rows = _rows(store.engine, before)
        row_bytes += sum(len(str(value).encode()) for row in rows for value in row)
        plain_seconds += plain_insert(rows)
    if [tuple(map(str, row)) for row in protocol_rows()] != [
            tuple(map(str, row)) for row in _rows(store.engine, 0)]:
        raise AssertionError("the bare-driver protocol wrote other rows than the store")
    count = size * CHUNKS
    return Appends(count / store_seconds, count / protocol_seconds, count / plain_seconds,
                   row_bytes // count)


def measure_verify(store: EventStore) -> tuple[float, float, float, int]:
    """Seconds for verify_chain, the same checks on the bare driver, and sha256 alone (each
    the best of several runs), and the bytes hashed."""
    blobs = [event.previous_hash.encode("ascii") + canonical(event.hashed_fields())
             for event in store.events()]
    verify = min(_seconds(store.verify_chain) for _ in range(VERIFY_REPEATS))
    bare = min(_seconds(lambda: _verify_bare(store.engine)) for _ in range(VERIFY_REPEATS))

    def hash_all() -> None:
        for blob in blobs:
            hashlib.sha256(blob).hexdigest()

    sha = min(_seconds(hash_all) for _ in range(SHA_REPEATS))
    return verify, bare, sha, sum(map(len, blobs))


def _verify_bare(engine: Engine) -> None:
    """verify_chain's work (fetch, decode, re-encode, hash) on a raw DBAPI cursor."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT sequence, previous_hash, hash, preparation_id, version, kind, "
                       "station_id, user_id, recorded_at, payload FROM events "
                       "ORDER BY sequence")
        expected = GENESIS
        for (sequence, previous, recorded, preparation, version, kind, station, user,
             recorded_at, payload) in cursor.fetchall():
            fields = hashed_fields(preparation, version, kind, station, user, recorded_at,
                                   json.loads(payload))
            if previous != expected or link_hash(previous, fields) != recorded:
                raise AssertionError(f"event {sequence} does not verify")
            expected = recorded
        cursor.close()
    finally:
        raw.close()


def _seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _lines(backend: str, store: EventStore, protocol: Protocol,
           plain_insert: Callable[[Sequence[tuple[Any, ...]]], float],
           protocol_rows: Callable[[], list[tuple[Any, ...]]],
           plain_name: str) -> tuple[list[Line], int]:
    appends = measure_appends(store, protocol, plain_insert, protocol_rows)
    verify, bare, sha, hashed = measure_verify(store)
    count = store.head().sequence
    return [
        Line(backend, "durable appends", appends.store, appends.plain, plain_name, "/s"),
        Line(backend, "  bare driver", appends.protocol, appends.plain, plain_name, "/s",
             has_goal=False),
        Line(backend, "verify chain", count / verify, count / sha, "hashlib.sha256", "ev/s"),
        Line(backend, "verify chain", hashed / verify / 1e6, hashed / sha / 1e6,
             "hashlib.sha256", "MB/s", has_goal=False),
        Line(backend, "  bare driver", count / bare, count / sha, "hashlib.sha256", "ev/s",
             has_goal=False),
    ], appends.row_bytes


# ---------------------------------------------------------------- SQLite


def _sqlite_file(path: Path) -> sqlite3.Connection:
    """An events table of the store's shape (columns, indexes; no triggers), on sqlite3."""
    shape = create_engine(f"sqlite:///{path}")
    metadata.create_all(shape, tables=[events])
    shape.dispose()
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    return connection


def sqlite_lines(folder: Path) -> tuple[list[Line], int]:
    engine = make_engine(f"sqlite:///{folder / 'station.db'}")
    upgrade(engine)
    plain = _sqlite_file(folder / "plain.db")
    bare = _sqlite_file(folder / "protocol.db")
    insert = (f"INSERT INTO events ({', '.join(COLUMNS)}) "
              f"VALUES ({', '.join('?' * len(COLUMNS))})")

    def plain_insert(rows: Sequence[tuple[Any, ...]]) -> float:
        started = time.perf_counter()
        for row in rows:
            plain.execute("BEGIN")
            plain.execute(insert, row)
            plain.execute("COMMIT")
        return time.perf_counter() - started

    def protocol_rows() -> list[tuple[Any, ...]]:
        return bare.execute(f"SELECT {', '.join(COLUMNS)} FROM events "
                            "ORDER BY sequence").fetchall()

    try:
        return _lines("sqlite", EventStore(engine), Protocol(bare, "?", "BEGIN IMMEDIATE",
                                                             "events"),
                      plain_insert, protocol_rows, "sqlite3 1 row/txn")
    finally:
        plain.close()
        bare.close()
        engine.dispose()


# ---------------------------------------------------------------- PostgreSQL


@contextmanager
def scratch_postgres(admin: str) -> Iterator[str]:
    """A fresh database on the server at ``admin`` (its URL), dropped afterwards."""
    admin_url = make_url(admin).set(drivername="postgresql+psycopg")
    name = f"station_bench_{uuid.uuid4().hex[:12]}"
    server = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        server.dispose()


def postgres_lines(admin: str) -> tuple[list[Line], int, str]:
    with scratch_postgres(admin) as url, ExitStack() as stack:
        engine = make_engine(url)
        stack.callback(engine.dispose)
        upgrade(engine)
        conninfo = make_url(url).set(drivername="postgresql").render_as_string(
            hide_password=False)
        plain = stack.enter_context(psycopg.connect(conninfo))
        bare = stack.enter_context(psycopg.connect(conninfo))
        settings = ", ".join(
            f"{name}={plain.execute(f'SHOW {name}').fetchone()[0]}"  # type: ignore[index]
            for name in ("fsync", "synchronous_commit", "wal_sync_method"))
        plain.execute("CREATE TABLE plain (LIKE events INCLUDING ALL)")  # no triggers
        plain.execute("CREATE TABLE protocol (LIKE events INCLUDING ALL)")  # store's trigger
        plain.execute("CREATE TRIGGER protocol_notify AFTER INSERT ON protocol "
                      "FOR EACH ROW EXECUTE FUNCTION station_notify_event()")
        plain.commit()
        insert = (f"INSERT INTO plain ({', '.join(COLUMNS)}) "
                  f"VALUES ({', '.join(['%s'] * len(COLUMNS))})")

        def plain_insert(rows: Sequence[tuple[Any, ...]]) -> float:
            started = time.perf_counter()
            for row in rows:
                plain.execute(insert, row)
                plain.commit()
            return time.perf_counter() - started

        def protocol_rows() -> list[tuple[Any, ...]]:
            found = plain.execute(f"SELECT {', '.join(COLUMNS)} FROM protocol "
                                  "ORDER BY sequence").fetchall()
            plain.commit()
            return found

        lines, row_bytes = _lines(
            "postgresql", EventStore(engine),
            Protocol(bare, "%s", "SELECT pg_advisory_xact_lock(1)", "protocol"),
            plain_insert, protocol_rows, "psycopg 1 row/txn")
    return lines, row_bytes, settings


# ---------------------------------------------------------------- the table


def _print(lines: list[Line]) -> None:
    for line in lines:
        goal = f"≥ {GOAL:.2f}" if line.has_goal else ""
        verdict = ("met" if line.ratio >= GOAL else "MISSED") if line.has_goal else ""
        print(f"{line.backend:<11} {line.what:<16} {line.unit:<5} {line.station:>12,.1f} "
              f"{line.baseline:>12,.1f}  {line.baseline_name:<18} {line.ratio:>6.3f}  "
              f"{goal:<6} {verdict}")


def _summary(lines: list[Line]) -> list[SummaryRow]:
    """Appends against plain inserts and verification against sha256 (events/s)."""
    rows = []
    for line in lines:
        if line.what == "durable appends":
            rows.append(SummaryRow(f"{line.backend}: EventStore.append", line.station,
                                   "ev/s", f"{line.baseline_name} plain insert", line.baseline))
        elif line.what == "verify chain" and line.unit == "ev/s":
            rows.append(SummaryRow(f"{line.backend}: verify_chain", line.station, "ev/s",
                                   "raw hashlib.sha256", line.baseline))
    return rows


def main() -> list[SummaryRow]:
    """Print the table; return the key figures."""
    rows: list[SummaryRow] = []
    print(f"Record store: {APPENDS} events over {PREPARATIONS} preparations, one transaction "
          f"each; verify best of {VERIFY_REPEATS}, sha256 best of {SHA_REPEATS}")
    header = (f"{'backend':<11} {'measure':<16} {'unit':<5} {'EventStore':>12} "
              f"{'baseline':>12}  {'baseline is':<18} {'ratio':>6}  {'goal':<6} verdict")
    print(header)
    print("-" * len(header))
    notes = []
    with tempfile.TemporaryDirectory(prefix="station-bench-") as folder:
        lines, row_bytes = sqlite_lines(Path(folder))
    _print(lines)
    rows += _summary(lines)
    notes.append(f"sqlite: WAL, synchronous=FULL, temporary folder; ~{row_bytes} B a row")
    admin = os.environ.get("STATION_TEST_PG_URL")
    if admin:
        lines, row_bytes, settings = postgres_lines(admin)
        _print(lines)
        rows += _summary(lines)
        notes.append(f"postgresql: {settings}; ~{row_bytes} B a row")
    else:
        print(f"{'postgresql':<11} skipped: no PostgreSQL (set STATION_TEST_PG_URL)")
    for note in notes:
        print(note)
    print("bare driver: the same work written on sqlite3/psycopg directly (same statements, "
          "same transaction, same hashing), without SQLAlchemy; no goal, it shows the floor")
    return rows


if __name__ == "__main__":
    main()
