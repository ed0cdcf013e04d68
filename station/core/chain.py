"""The tamper-evident chain over all recorded events, in commit order.

Each event has a gap-free sequence number and carries the hash of the event before it; its
own hash is sha256 over the previous hash and a canonical encoding of its fields (sorted
keys, no insignificant whitespace, UTF-8, decimals as strings). Changing, removing or
reordering any event breaks every hash after it, and a signature made on a chain head
covers everything before it.

>>> first = ChainLink.first()
>>> link = first.next({"kind": "started", "user": "tech.ana"})
>>> link.sequence, link.previous == first.hash
(1, True)
>>> verify_links([(1, first.hash, link.hash, {"kind": "started", "user": "tech.ana"})])
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from station.core.errors import StationError

GENESIS = "0" * 64


class ChainBroken(StationError):
    """The recorded events no longer hash to the chain they were written in."""


def canonical(value: Mapping[str, Any]) -> bytes:
    """The one byte encoding of an event's fields that its hash is taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_plain).encode("utf-8")


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise TypeError(f"time {value!r} has no UTC offset")
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__} in an event")


def link_hash(previous: str, fields: Mapping[str, Any]) -> str:
    """sha256 over the previous hash and the canonical fields, hex."""
    digest = hashlib.sha256()
    digest.update(previous.encode("ascii"))
    digest.update(canonical(fields))
    return digest.hexdigest()


@dataclass(frozen=True)
class ChainLink:
    """The head of the chain: the last sequence number and its hash."""

    sequence: int
    hash: str
    previous: str = GENESIS

    @classmethod
    def first(cls) -> ChainLink:
        """The empty chain."""
        return cls(0, GENESIS, GENESIS)

    def next(self, fields: Mapping[str, Any]) -> ChainLink:
        """The link that appending ``fields`` makes."""
        return ChainLink(self.sequence + 1, link_hash(self.hash, fields), self.hash)


def verify_links(rows: Iterable[tuple[int, str, str, Mapping[str, Any]]]) -> None:
    """Check (sequence, previous hash, hash, fields) rows in order; raise at the first break."""
    expected_sequence, expected_previous = 1, GENESIS
    for sequence, previous, recorded, fields in rows:
        if sequence != expected_sequence:
            raise ChainBroken(
                f"event {sequence}: expected sequence {expected_sequence} (an event is missing "
                "or out of order)"
            )
        if previous != expected_previous:
            raise ChainBroken(f"event {sequence}: its previous-hash does not match event "
                              f"{sequence - 1}")
        actual = link_hash(previous, fields)
        if actual != recorded:
            raise ChainBroken(f"event {sequence}: content does not match its hash (altered)")
        expected_sequence, expected_previous = sequence + 1, recorded
