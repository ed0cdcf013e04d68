"""The record's new events as they are committed, at any station sharing the database.

:func:`follow` opens an :class:`EventFeed` on a record (LISTEN/NOTIFY on PostgreSQL, polling
on SQLite; see :mod:`station.records.live`), so a queue kept on one station learns of
preparations held at another without a refresh. The feed and the :class:`FeedItem` it hands
out are named here so that the screens reach them through the services.
"""

from __future__ import annotations

from station.records.live import EventFeed, FeedItem
from station.records.record import Record

__all__ = ["EventFeed", "FeedItem", "follow"]


def follow(record: Record, *, after: int, poll_interval: float = 1.0) -> EventFeed:
    """A feed of the events ``record`` commits after sequence number ``after``.

    ``poll_interval`` (seconds) is how often the feed reads the record without being told
    to. The feed belongs to one thread at a time; any thread may close it.
    """
    return EventFeed(record.engine, after=after, poll_interval=poll_interval)
