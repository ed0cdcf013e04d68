"""The event store's contract, on both backends."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from station.core.chain import ChainBroken
from station.records.database import make_engine
from station.records.store import ConcurrencyConflict, EventStore, NewEvent

T0 = dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC)


def event(preparation: str = "P1", kind: str = "weight", **payload) -> NewEvent:
    return NewEvent(preparation, kind, payload or {"mass": Decimal("12.345")}, "tech.ana",
                    "hood-1", T0)


def test_appended_events_read_back_in_order_with_versions(backend):
    store = EventStore(backend.engine)
    first = store.append(event(kind="started"), 0)
    second = store.append(event(mass=Decimal("5.050"), raw="S S      5.050 g"), 1)
    other = store.append(event("P2", kind="started"), 0)
    assert (first.sequence, second.sequence, other.sequence) == (1, 2, 3)
    assert [e.version for e in store.events_of("P1")] == [1, 2]
    assert store.events_of("P1")[1].payload == {"mass": "5.050", "raw": "S S      5.050 g"}
    assert second.previous_hash == first.hash
    assert store.verify_chain() == (3, 2)


def test_a_stale_version_is_refused_and_nothing_is_written(backend):
    store = EventStore(backend.engine)
    store.append(event(), 0)
    with pytest.raises(ConcurrencyConflict, match=r"^preparation P1 is at version 1, not 0: "):
        store.append(event(), 0)
    assert store.head().sequence == 1


def test_concurrent_appends_make_one_gap_free_chain(backend):
    store = EventStore(backend.engine)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for version in range(15):
                store.append(event(name), version)
        except BaseException as error:  # reported below, on the test thread
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(f"P{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert [e.sequence for e in store.events()] == list(range(1, 61))
    assert store.verify_chain() == (60, 4)


@pytest.mark.parametrize("statement", ["UPDATE events SET kind = 'x'", "DELETE FROM events"])
def test_the_database_refuses_to_change_or_delete_events(backend, statement):
    EventStore(backend.engine).append(event(), 0)
    with pytest.raises(DBAPIError, match=r"refused: the record is append-only"), \
            backend.engine.begin() as connection:
        connection.execute(text(statement))


def test_postgres_refuses_truncate_and_the_app_role_may_only_append(backend):
    if backend.name != "postgresql":
        pytest.skip("TRUNCATE and roles are PostgreSQL's")
    EventStore(backend.engine).append(event(), 0)
    with pytest.raises(DBAPIError, match=r"TRUNCATE on events refused"), \
            backend.engine.begin() as connection:
        connection.execute(text("TRUNCATE events"))
    assert backend.app_url is not None, "the test command creates an application role"
    app = make_engine(backend.app_url)
    try:
        EventStore(app).append(event(), 1)
        for statement in ("UPDATE events SET kind = 'x'", "DELETE FROM events",
                          "TRUNCATE events"):
            with pytest.raises(DBAPIError, match=r"permission denied"), \
                    app.begin() as connection:
                connection.execute(text(statement))
    finally:
        app.dispose()


def _bypass_triggers(backend, statements: list[str]) -> None:
    """What an attacker with direct database access could do; the chain must notice."""
    with backend.engine.begin() as connection:
        if backend.name == "postgresql":
            connection.execute(text("ALTER TABLE events DISABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER events_no_update"))
            connection.execute(text("DROP TRIGGER events_no_delete"))
        for statement in statements:
            connection.execute(text(statement))


def _three(backend) -> EventStore:
    store = EventStore(backend.engine)
    for version in range(3):
        store.append(event(mass=Decimal(version)), version)
    return store


def test_verify_names_an_edited_event(backend):
    store = _three(backend)
    _bypass_triggers(backend, ["UPDATE events SET payload = '{\"mass\":\"9\"}' "
                               "WHERE sequence = 2"])
    with pytest.raises(ChainBroken, match=r"^event 2: content does not match its hash"):
        store.verify_chain()


def test_verify_names_a_deleted_event(backend):
    store = _three(backend)
    _bypass_triggers(backend, ["DELETE FROM events WHERE sequence = 2"])
    with pytest.raises(ChainBroken, match=r"^event 3: expected sequence 2"):
        store.verify_chain()


def test_verify_names_reordered_events(backend):
    store = _three(backend)
    _bypass_triggers(backend, [
        "UPDATE events SET sequence = 100 WHERE sequence = 2",
        "UPDATE events SET sequence = 2 WHERE sequence = 3",
        "UPDATE events SET sequence = 3 WHERE sequence = 100",
    ])
    with pytest.raises(ChainBroken, match=r"^event 2: its previous-hash does not match"):
        store.verify_chain()
