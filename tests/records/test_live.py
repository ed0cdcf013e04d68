"""The live feed, on both backends: a second station appends, the first one hears of it.

On PostgreSQL the poll interval is set far above every bound asserted here, so a feed that
wakes in time can only have been woken by LISTEN/NOTIFY. On SQLite it wakes by polling.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from station.records.database import make_engine
from station.records.live import APPLICATION_NAME, CHANNEL, EventFeed, FeedItem
from station.records.store import EventStore, NewEvent

T0 = dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC)
NEVER = 60.0  # a poll interval no PostgreSQL test waits out
SQLITE_POLL = 0.1
SLACK = 1.0  # scheduling noise allowed on top of a bound


def event(preparation: str = "P1", kind: str = "weight") -> NewEvent:
    return NewEvent(preparation, kind, {"mass": Decimal("12.345")}, "tech.ana", "hood-2", T0)


def poll_interval(backend) -> float:
    return NEVER if backend.name == "postgresql" else SQLITE_POLL


def wake_bound(backend) -> float:
    """How soon after a commit the feed must have returned it."""
    return 0.5 if backend.name == "postgresql" else SQLITE_POLL + SLACK


@pytest.fixture
def other_station(backend) -> Iterator[EventStore]:
    """A second station: its own engine (on PostgreSQL, as the application role)."""
    engine = make_engine(backend.app_url or backend.url)
    yield EventStore(engine)
    engine.dispose()
    if backend.app_url:  # the owner may not end the app role's sessions: let them finish
        assert until(lambda: sessions_of(backend.engine, engine.url.username) == 0)


def until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Whether ``predicate`` comes true within ``timeout`` s (checked every 20 ms)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.02)
    return True


def appended_later(store: EventStore, events: list[tuple[NewEvent, int]],
                   delay: float = 0.3) -> tuple[threading.Timer, list[float]]:
    """Append ``events`` from another thread after ``delay`` s; record when each committed."""
    committed: list[float] = []

    def append() -> None:
        for new, version in events:
            store.append(new, version)
            committed.append(time.monotonic())

    timer = threading.Timer(delay, append)
    timer.start()
    return timer, committed


def listener_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = :name"
        ), {"name": APPLICATION_NAME}).scalar_one())


def sessions_of(engine: Engine, user: str | None) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND usename = :user"
        ), {"user": user}).scalar_one())


def test_the_feed_wakes_when_another_station_appends(backend, other_station):
    feed = EventFeed(backend.engine, after=0, poll_interval=poll_interval(backend))
    try:
        assert feed.listening == (backend.name == "postgresql")
        assert feed.wait(0) == []
        timer, committed = appended_later(other_station, [(event(kind="started"), 0)])
        started = time.monotonic()
        found = feed.wait(timeout=10)
        woke = time.monotonic()
        timer.join()
    finally:
        feed.close()
    assert found == [FeedItem(1, "P1", "started")]
    assert woke - started >= 0.2  # it really waited for the append
    assert woke - committed[0] < wake_bound(backend)
    assert feed.last == 1


def test_many_appends_over_several_waits_none_missed_none_repeated(backend, other_station):
    expected = [(f"P{n % 7}", f"kind{n}") for n in range(150)]
    versions: dict[str, int] = {}
    batch = []
    for preparation, kind in expected:
        batch.append((event(preparation, kind), versions.get(preparation, 0)))
        versions[preparation] = versions.get(preparation, 0) + 1
    feed = EventFeed(backend.engine, after=0, poll_interval=poll_interval(backend))
    seen: list[FeedItem] = []
    waits = 0
    try:
        timer, _ = appended_later(other_station, batch, delay=0.05)
        deadline = time.monotonic() + 30
        while len(seen) < len(expected) and time.monotonic() < deadline:
            seen.extend(feed.wait(timeout=5))
            waits += 1
        timer.join()
        assert feed.wait(0.2) == []  # nothing more, nothing again
    finally:
        feed.close()
    assert [item.sequence for item in seen] == list(range(1, len(expected) + 1))
    assert [(item.preparation_id, item.kind) for item in seen] == expected
    assert waits > 1


def test_after_is_respected(backend, other_station):
    for version in range(5):
        other_station.append(event(), version)
    with EventFeed(backend.engine, after=3, poll_interval=poll_interval(backend)) as feed:
        assert [item.sequence for item in feed.wait(0)] == [4, 5]
        assert feed.wait(0) == []
        assert feed.last == 5
    with EventFeed(backend.engine, after=5) as feed:
        assert feed.wait(0) == []


def test_a_feed_refuses_a_negative_start_or_a_zero_poll_interval(backend):
    with pytest.raises(ValueError, match=r"^after must be a sequence number \(0 or more\), "
                                         r"got -1$"):
        EventFeed(backend.engine, after=-1)
    with pytest.raises(ValueError, match=r"^poll_interval must be positive, got 0$"):
        EventFeed(backend.engine, after=0, poll_interval=0)


def test_close_leaves_no_connection_open(backend, other_station):
    engine = make_engine(backend.url)
    try:
        feed = EventFeed(engine, after=0, poll_interval=poll_interval(backend))
        other_station.append(event(), 0)
        assert len(feed.wait(5)) == 1
        if backend.name == "postgresql":
            assert listener_count(engine) == 1
        feed.close()
        assert feed.closed and not feed.listening
        assert engine.pool.checkedout() == 0
        if backend.name == "postgresql":
            assert until(lambda: listener_count(backend.engine) == 0)
        other_station.append(event(), 1)
        assert feed.wait(5) == []  # closed: returns at once, reads nothing
        feed.close()  # twice is fine
        assert engine.pool.checkedout() == 0
    finally:
        engine.dispose()


def test_close_from_another_thread_ends_a_wait_at_once(backend):
    feed = EventFeed(backend.engine, after=0, poll_interval=poll_interval(backend))
    results: list[list[FeedItem]] = []
    worker = threading.Thread(target=lambda: results.append(feed.wait(timeout=30)))
    worker.start()
    assert until(feed._lock.locked)  # the worker is inside wait()
    started = time.monotonic()
    feed.close()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert time.monotonic() - started < SLACK
    assert results == [[]]


def _postgres_only(backend) -> None:
    if backend.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")


def test_each_insert_notifies_its_sequence_preparation_and_kind(backend, other_station):
    _postgres_only(backend)
    conninfo = make_url(backend.url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        other_station.append_all([event("RX-1", "started"), event("RX-1", "weight")], 0)
        other_station.append(event("RX 2", "started"), 0)
        payloads = [n.payload for n in listener.notifies(timeout=5, stop_after=3)]
    assert payloads == ["1 RX-1 started", "2 RX-1 weight", "3 RX 2 started"]


def test_a_notification_is_only_a_hint_the_table_decides(backend):
    _postgres_only(backend)
    with EventFeed(backend.engine, after=0, poll_interval=NEVER) as feed:
        with backend.engine.begin() as connection:
            connection.execute(text("SELECT pg_notify(:channel, '7 FAKE started')"),
                               {"channel": CHANNEL})
        assert feed.wait(timeout=0.5) == []
        assert feed.last == 0


def test_the_feed_listens_again_after_its_connection_is_killed(backend, other_station):
    _postgres_only(backend)
    with EventFeed(backend.engine, after=0, poll_interval=NEVER) as feed:
        with backend.engine.begin() as connection:
            killed = connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = :name"
            ), {"name": APPLICATION_NAME}).scalars().all()
        assert killed == [True]
        other_station.append(event(kind="started"), 0)  # announced to no one
        assert feed.wait(timeout=5) == [FeedItem(1, "P1", "started")]
        timer, committed = appended_later(other_station, [(event(), 1)])
        found = feed.wait(timeout=10)
        woke = time.monotonic()
        timer.join()
        assert found == [FeedItem(2, "P1", "weight")]
        assert woke - committed[0] < wake_bound(backend)
        assert feed.listening
