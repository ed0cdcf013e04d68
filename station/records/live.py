"""A live feed of new events, so queues on every station update without a restart.

:class:`EventFeed` hands out ``(sequence, preparation_id, kind)`` for each event committed
after the last one it has handed out, in chain order, each exactly once::

    feed = EventFeed(engine, after=store.head().sequence)
    try:
        while not feed.closed:
            for sequence, preparation_id, kind in feed.wait(1.0):
                ...  # reload that preparation, tell the GUI what changed
    finally:
        feed.close()

How it knows:

- **PostgreSQL**: a dedicated connection (taken from the engine's pool and detached from it,
  named ``station event feed`` in ``pg_stat_activity``) runs ``LISTEN station_events``;
  revision 0002 makes every insert into ``events`` ``NOTIFY`` that channel when it commits.
  A notification only wakes the feed; what it returns always comes from a query
  (``sequence > last``), because notifications sent while the listening connection was down
  are gone. It also queries every ``poll_interval`` without being woken, and after each
  reconnection, so a lost notification costs at most one poll interval. If ``LISTEN`` cannot
  be set up (server down, a transaction-pooling proxy), the feed polls and tries again at
  its next pause.
- **SQLite**: there is no notification; it queries every ``poll_interval``. The query runs
  on a plain pooled connection, outside ``BEGIN IMMEDIATE``, so polling never takes the
  append lock.

Why ``sequence > last`` misses nothing: sequence numbers are gap-free and given out under
the append lock, which is held until commit, so no event can commit with a lower sequence
than one already visible.

Threads: one feed belongs to one thread at a time (a worker's), like a connection. The
exception is :meth:`close`, which any thread may call: a ``wait`` in progress notices within
a fraction of a second and returns ``[]``, and every later ``wait`` returns ``[]`` at once.
A failing query (the database unreachable) raises from ``wait`` and loses nothing; the next
``wait`` starts again from the last event handed out.
"""

from __future__ import annotations

import threading
import time
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection

CHANNEL = "station_events"
"""The channel revision 0002 notifies for each new event."""

APPLICATION_NAME = "station event feed"
"""How the listening connection shows up in ``pg_stat_activity``."""

BATCH = 1000
"""At most this many events per ``wait``; the next call returns the rest at once."""

_SLICE = 0.2  # the longest a waiting feed goes without checking whether it was closed
_UNKNOWN = 2**63 - 1  # a payload without a sequence: "something happened", so look


class FeedItem(NamedTuple):
    """A new event, as the feed announces it."""

    sequence: int
    preparation_id: str
    kind: str


class EventFeed:
    """Events committed after ``after`` (a sequence number), as they commit.

    ``poll_interval`` (seconds) is how often the feed reads the table without being told to:
    its only signal on SQLite, a safety net on PostgreSQL.
    """

    def __init__(self, engine: Engine, *, after: int, poll_interval: float = 1.0) -> None:
        if after < 0:
            raise ValueError(f"after must be a sequence number (0 or more), got {after}")
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, got {poll_interval}")
        self.poll_interval = poll_interval
        self._engine = engine
        self._last = after
        self._postgres = engine.dialect.name == "postgresql"
        marker = "%s" if self._postgres else "?"
        self._query = ("SELECT sequence, preparation_id, kind FROM events "
                       f"WHERE sequence > {marker} ORDER BY sequence LIMIT {marker}")
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._listener: _Listener | None = _Listener.open(engine) if self._postgres else None

    @property
    def last(self) -> int:
        """The sequence number of the last event handed out (or ``after``)."""
        return self._last

    @property
    def listening(self) -> bool:
        """True while a PostgreSQL ``LISTEN`` is in place (False: polling)."""
        return self._listener is not None

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._closing.is_set()

    def wait(self, timeout: float) -> list[FeedItem]:
        """New events, oldest first, as soon as there are any; ``[]`` after ``timeout`` s."""
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._lock:
            while not self._closing.is_set():
                found = self._read()
                if found:
                    self._last = found[-1].sequence
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._pause(min(remaining, self.poll_interval))
        return []

    def close(self) -> None:
        """Stop: close the listening connection; ``wait`` returns ``[]`` from now on."""
        self._closing.set()
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None

    def __enter__(self) -> EventFeed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self) -> list[FeedItem]:
        raw = self._engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                cursor.execute(self._query, (self._last, BATCH))
                rows = cursor.fetchall()
            finally:
                cursor.close()
        finally:
            raw.close()  # back to the pool, which ends the read transaction
        return [FeedItem(int(sequence), str(preparation), str(kind))
                for sequence, preparation, kind in rows]

    def _pause(self, seconds: float) -> None:
        """Until a notification of an event after ``last``, ``seconds``, or close()."""
        if self._postgres and self._listener is None:
            self._listener = _Listener.open(self._engine)
            if self._listener is not None:
                return  # listening again: look at once for what went unannounced meanwhile
        if self._listener is None:
            self._closing.wait(seconds)
            return
        end = time.monotonic() + seconds
        while not self._closing.is_set():
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            try:
                newest = self._listener.newest(min(remaining, _SLICE))
            except psycopg.Error:  # the connection broke: anything may have been missed
                self._listener.close()
                self._listener = _Listener.open(self._engine)
                if self._listener is None:  # poll, and try again at the next pause
                    self._closing.wait(max(end - time.monotonic(), 0.0))
                return
            if newest > self._last:
                return


class _Listener:
    """A connection of its own, listening on :data:`CHANNEL`."""

    def __init__(self, raw: PoolProxiedConnection, connection: psycopg.Connection[Any]) -> None:
        self._raw = raw
        self._connection = connection

    @classmethod
    def open(cls, engine: Engine) -> _Listener | None:
        """Listen on a connection detached from ``engine``'s pool; None if that fails."""
        try:
            raw = engine.raw_connection()
        except DBAPIError:
            return None
        connection = raw.driver_connection
        raw.detach()  # closing it closes it for good; the pool opens another when it needs one
        try:
            if not isinstance(connection, psycopg.Connection):
                raise TypeError(f"expected a psycopg connection, got {type(connection)}")
            connection.rollback()  # whatever the pool's liveness check began
            connection.autocommit = True
            connection.execute(f"SET application_name = '{APPLICATION_NAME}'")
            connection.execute(f"LISTEN {CHANNEL}")
        except (psycopg.Error, TypeError):
            raw.close()
            return None
        return cls(raw, connection)

    def newest(self, timeout: float) -> int:
        """The highest sequence announced within ``timeout`` s (stops at the first); 0 if none.

        A payload that does not start with a sequence number counts as news.
        """
        newest = 0
        for notification in self._connection.notifies(timeout=timeout, stop_after=1):
            first = notification.payload.split(" ", 1)[0]
            newest = max(newest, int(first) if first.isdigit() else _UNKNOWN)
        return newest

    def close(self) -> None:
        """Close the connection (it is not returned to the pool)."""
        try:
            self._raw.close()
        finally:
            self._connection.close()

