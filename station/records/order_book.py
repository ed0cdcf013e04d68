"""The order book: every order message the station received, as append-only events.

``order_events`` holds one row per accepted or rejected message (kinds ``received``,
``changed``, ``discontinued``, ``rejected``); the worklist is a pure fold over them
(:func:`fold`). Receiving is idempotent on the message id: a message the book has accepted
once is answered again with the same outcome and records nothing new. Each receipt runs in
one transaction under a lock (``BEGIN IMMEDIATE`` on SQLite, an advisory transaction lock
on PostgreSQL), so two listeners never accept the same order twice.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
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
from sqlalchemy.engine import Connection

from station.core.order_messages import IntakeError, OrderAction, OrderMessage
from station.core.orders import DoseOrder, Worklist, order_to_mapping

Clock = Callable[[], dt.datetime]
InPreparation = Callable[[str], bool]

# Any constant will do: every receipt takes this advisory lock on PostgreSQL.
_ORDERS_LOCK = 0x4F52_4445_5253_4C4B
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")

metadata = MetaData()

order_events = Table(
    "order_events",
    metadata,
    # SQLite numbers rows itself only for a column declared exactly INTEGER PRIMARY KEY.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("order_id", String(64), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("message_id", String(199), nullable=False, index=True),
    Column("source", String(255), nullable=False),
    Column("recorded_at", String(40), nullable=False),
    Column("payload", Text, nullable=False),
)


class EventKind(Enum):
    """What one row of ``order_events`` records."""

    RECEIVED = "received"
    CHANGED = "changed"
    DISCONTINUED = "discontinued"
    REJECTED = "rejected"


class OutcomeKind(Enum):
    """What receiving a message did."""

    CREATED = "created"
    CHANGED = "changed"
    DISCONTINUED = "discontinued"
    REJECTED = "rejected"


_KIND_OF = {
    OutcomeKind.CREATED: EventKind.RECEIVED,
    OutcomeKind.CHANGED: EventKind.CHANGED,
    OutcomeKind.DISCONTINUED: EventKind.DISCONTINUED,
    OutcomeKind.REJECTED: EventKind.REJECTED,
}
_OUTCOME_OF = {event: outcome for outcome, event in _KIND_OF.items()}


@dataclass(frozen=True)
class Outcome:
    """The answer to one message.

    ``duplicate``: the message had been accepted before and nothing new was recorded.
    ``in_preparation``: a change or discontinue reached an order someone is already
    preparing; the pharmacy must stop or redo that preparation.
    """

    kind: OutcomeKind
    message_id: str
    order_id: str
    reason: str = ""
    duplicate: bool = False
    in_preparation: bool = False

    @property
    def accepted(self) -> bool:
        """True unless the message was rejected."""
        return self.kind is not OutcomeKind.REJECTED

    def describe(self) -> str:
        """One line for a log: ``created RX-1 (message M1)``, ``rejected M2: …``."""
        if not self.accepted:
            order = f" (order {self.order_id})" if self.order_id else ""
            return f"rejected message {self.message_id}{order}: {self.reason}"
        notes = [f"message {self.message_id}"]
        if self.duplicate:
            notes.append("already received")
        if self.in_preparation:
            notes.append("ALREADY IN PREPARATION")
        return f"{self.kind.value} {self.order_id} ({', '.join(notes)})"


@dataclass(frozen=True)
class OrderEvent:
    """One recorded row."""

    id: int
    order_id: str
    kind: EventKind
    message_id: str
    source: str
    recorded_at: str
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class RejectedMessage:
    """A message the station refused, and why."""

    message_id: str
    order_id: str
    source: str
    recorded_at: str
    reason: str


def fold(events: Iterable[OrderEvent]) -> dict[str, Mapping[str, Any]]:
    """The orders on the worklist (as order mappings by id), from events oldest first."""
    orders: dict[str, Mapping[str, Any]] = {}
    for event in events:
        if event.kind in (EventKind.RECEIVED, EventKind.CHANGED):
            orders[event.order_id] = event.payload["order"]
        elif event.kind is EventKind.DISCONTINUED:
            orders.pop(event.order_id, None)
    return orders


def _never(order_id: str) -> bool:
    del order_id
    return False


class OrderBook:
    """Order messages and the worklist they make, on one database."""

    def __init__(self, engine: Engine, clock: Clock,
                 in_preparation: InPreparation = _never) -> None:
        self.engine = engine
        self.clock = clock
        self.in_preparation = in_preparation
        self._postgres = engine.dialect.name == "postgresql"

    def receive(self, message: OrderMessage, source: str,
                in_preparation: InPreparation | None = None) -> Outcome:
        """Apply one accepted-for-reading message: create, change or discontinue its order.

        A new order for an id the book has, or a change or discontinue of an order it does
        not have, is rejected (and recorded as such). ``in_preparation`` (else the book's)
        says whether an order is being prepared.
        """
        busy = in_preparation or self.in_preparation
        # Asked before the write transaction: the answer may need its own connection, which
        # would otherwise wait on this transaction's lock (SQLite's BEGIN IMMEDIATE).
        preparing_now = message.action is not OrderAction.NEW and busy(message.order_id)
        with self.engine.begin() as connection:
            self._lock(connection)
            earlier = self._accepted_message(connection, message.message_id)
            if earlier is not None:
                return Outcome(_OUTCOME_OF[earlier.kind], message.message_id,
                               earlier.order_id, duplicate=True,
                               in_preparation=bool(earlier.payload.get("in_preparation")))
            state = self._state(connection, message.order_id)
            problem = _refusal(message, state)
            if problem:
                return self._record_rejection(connection, message.message_id,
                                              message.order_id, problem, source, message.text)
            kind = {OrderAction.NEW: OutcomeKind.CREATED,
                    OrderAction.CHANGE: OutcomeKind.CHANGED,
                    OrderAction.DISCONTINUE: OutcomeKind.DISCONTINUED}[message.action]
            preparing = kind is not OutcomeKind.CREATED and preparing_now
            payload: dict[str, Any] = {"message": message.text}
            if message.order is not None:
                payload["order"] = order_to_mapping(message.order)
            if preparing:
                payload["in_preparation"] = True
            self._insert(connection, message.order_id, _KIND_OF[kind], message.message_id,
                         source, payload)
            return Outcome(kind, message.message_id, message.order_id,
                           in_preparation=preparing)

    def reject(self, error: IntakeError, source: str, text: str = "") -> Outcome:
        """Record a message that could not be read as an order (``error`` says why)."""
        with self.engine.begin() as connection:
            return self._record_rejection(connection, error.message_id, error.order_id,
                                          error.reason, source, text)

    def worklist(self) -> Worklist:
        """The orders waiting to be prepared, folded from the events."""
        return Worklist.from_mapping({"order": list(fold(self.events()).values())})

    def order(self, order_id: str) -> DoseOrder:
        """One order on the worklist, or :class:`~station.core.errors.UnknownOrder`."""
        return self.worklist().get(order_id)

    def events(self) -> list[OrderEvent]:
        """Every recorded row, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(order_events).order_by(order_events.c.id))
            return [_event(row) for row in rows]

    def rejected(self) -> list[RejectedMessage]:
        """The messages refused, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(order_events).where(order_events.c.kind == EventKind.REJECTED.value)
                .order_by(order_events.c.id))
            return [RejectedMessage(row.message_id, row.order_id, row.source, row.recorded_at,
                                    str(json.loads(row.payload)["reason"])) for row in rows]

    # -------------------------------------------------------------------- internals

    def _lock(self, connection: Connection) -> None:
        if self._postgres:
            connection.execute(_LOCK, {"key": _ORDERS_LOCK})

    @staticmethod
    def _accepted_message(connection: Connection, message_id: str) -> OrderEvent | None:
        row = connection.execute(
            select(order_events)
            .where(order_events.c.message_id == message_id,
                   order_events.c.kind != EventKind.REJECTED.value)
            .order_by(order_events.c.id).limit(1)).first()
        return _event(row) if row is not None else None

    @staticmethod
    def _state(connection: Connection, order_id: str) -> EventKind | None:
        """The order's last accepted event kind; None when it was never seen."""
        row = connection.execute(
            select(order_events.c.kind)
            .where(order_events.c.order_id == order_id,
                   order_events.c.kind != EventKind.REJECTED.value)
            .order_by(order_events.c.id.desc()).limit(1)).first()
        return EventKind(row.kind) if row is not None else None

    def _record_rejection(self, connection: Connection, message_id: str, order_id: str,
                          reason: str, source: str, text: str) -> Outcome:
        self._insert(connection, order_id, EventKind.REJECTED, message_id, source,
                     {"reason": reason, "message": text})
        return Outcome(OutcomeKind.REJECTED, message_id, order_id, reason)

    def _insert(self, connection: Connection, order_id: str, kind: EventKind,
                message_id: str, source: str, payload: Mapping[str, Any]) -> None:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the clock must give times with a UTC offset")
        connection.execute(insert(order_events), {
            "order_id": order_id, "kind": kind.value, "message_id": message_id,
            "source": source, "recorded_at": now.astimezone(dt.UTC).isoformat(),
            "payload": json.dumps(payload, sort_keys=True, ensure_ascii=False),
        })


def _refusal(message: OrderMessage, state: EventKind | None) -> str:
    order_id = message.order_id
    on_list = state in (EventKind.RECEIVED, EventKind.CHANGED)
    if message.action is OrderAction.NEW:
        if on_list:
            return f"order {order_id} exists already: send XO to change it"
        if state is EventKind.DISCONTINUED:
            return f"order {order_id} was discontinued: a new order needs a new order number"
        return ""
    verb = "change" if message.action is OrderAction.CHANGE else "discontinue"
    if state is EventKind.DISCONTINUED:
        return f"cannot {verb} order {order_id}: it was discontinued"
    if not on_list:
        return f"cannot {verb} order {order_id}: the station has no such order"
    return ""


def _event(row: Any) -> OrderEvent:
    return OrderEvent(int(row.id), row.order_id, EventKind(row.kind), row.message_id,
                      row.source, row.recorded_at, json.loads(row.payload))
