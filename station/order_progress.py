"""Which orders already have a preparation, read from the record as it grows.

The worklist at a hood shows the orders still to make. An order leaves it when a preparation
of it is started, held for a check or verification, or released; it comes back when that
preparation is cancelled or rejected (a remake). :class:`OrderProgress` folds the record's
``created`` and ``state_changed`` events once, then only the events appended since.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from station.core.orders import DoseOrder, Worklist
from station.core.workflow import Phase
from station.records.store import EventStore, StoredEvent

#: Phases in which a preparation still stands for its order (the order is taken).
TAKING_PHASES = frozenset({
    Phase.READY, Phase.IN_PROGRESS, Phase.HARD_STOP, Phase.AWAITING_CHECK,
    Phase.AWAITING_VERIFICATION, Phase.VERIFIED,
})


@dataclass(frozen=True)
class PreparationState:
    """The latest known phase of one preparation of an order, and where it was made."""

    preparation_id: str
    order_id: str
    phase: Phase
    station_id: str
    user_id: str


class OrderProgress:
    """The preparations of each order, kept current by :meth:`refresh`."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._after = 0
        self._preparations: dict[str, PreparationState] = {}

    def refresh(self) -> None:
        """Fold in the events recorded since the last refresh."""
        for event in self._store.events(after=self._after):
            self._fold(event)
            self._after = event.sequence

    def _fold(self, event: StoredEvent) -> None:
        if event.kind == "created":
            order = event.payload.get("order", {})
            self._preparations[event.preparation_id] = PreparationState(
                event.preparation_id, str(order.get("order_id", "")), Phase.READY,
                event.station_id, event.user_id)
        elif event.kind == "state_changed" and event.preparation_id in self._preparations:
            known = self._preparations[event.preparation_id]
            self._preparations[event.preparation_id] = PreparationState(
                known.preparation_id, known.order_id, Phase(event.payload["to"]),
                known.station_id, known.user_id)

    def preparations_of(self, order_id: str) -> list[PreparationState]:
        """Every preparation of the order, oldest first."""
        return [p for p in self._preparations.values() if p.order_id == order_id]

    def taken(self, order_id: str) -> PreparationState | None:
        """The preparation that currently stands for the order, if any."""
        for state in reversed(self.preparations_of(order_id)):
            if state.phase in TAKING_PHASES:
                return state
        return None

    def open_at(self, station_id: str, user_id: str) -> list[PreparationState]:
        """Preparations this user left unfinished at this station (to resume after a restart)."""
        return [p for p in self._preparations.values()
                if p.station_id == station_id and p.user_id == user_id
                and p.phase in {Phase.READY, Phase.IN_PROGRESS, Phase.HARD_STOP}]

    def to_make(self, orders: Iterable[DoseOrder]) -> Worklist:
        """The orders no preparation stands for."""
        return Worklist(o for o in orders if self.taken(o.order_id) is None)
