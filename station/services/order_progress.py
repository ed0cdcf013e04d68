"""Which orders already have a preparation, read from the record as it grows.

The worklist at a hood shows the orders still to make. An order leaves it when a preparation
of it is started, held for a check or verification, or released; it comes back when that
preparation is cancelled or rejected. An order whose latest preparation was rejected comes
back as a remake: :meth:`OrderProgress.remake_of` names the rejected preparation, which the
new one records as ``remake_of``. :class:`OrderProgress` folds the record's ``created`` and
``state_changed`` events once, then only the events appended since. The orders themselves
come from an :class:`OrderSource` (the order book).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from station.core.orders import DoseOrder, Worklist
from station.core.workflow import Phase
from station.records.store import EventStore, StoredEvent

#: Phases in which a preparation still stands for its order (the order is taken).
TAKING_PHASES = frozenset({
    Phase.READY, Phase.IN_PROGRESS, Phase.HARD_STOP, Phase.AWAITING_CHECK,
    Phase.AWAITING_VERIFICATION, Phase.VERIFIED,
})


class OrderSource(Protocol):
    """Where the orders come from: the order book, as a hood reads it."""

    def worklist(self) -> Worklist:
        """The orders waiting to be prepared."""
        ...

    def order(self, order_id: str) -> DoseOrder:
        """One order on the worklist, or :class:`~station.core.errors.UnknownOrder`."""
        ...


@dataclass(frozen=True)
class PreparationState:
    """The latest known phase of one preparation of an order, and where it was made."""

    preparation_id: str
    order_id: str
    phase: Phase
    station_id: str
    user_id: str
    remake_of: str | None = None


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
            remake_of = event.payload.get("remake_of")
            self._preparations[event.preparation_id] = PreparationState(
                event.preparation_id, str(order.get("order_id", "")), Phase.READY,
                event.station_id, event.user_id,
                str(remake_of) if remake_of is not None else None)
        elif event.kind == "state_changed" and event.preparation_id in self._preparations:
            known = self._preparations[event.preparation_id]
            self._preparations[event.preparation_id] = replace(
                known, phase=Phase(event.payload["to"]))

    def phase_of(self, preparation_id: str) -> Phase | None:
        """The latest recorded phase of one preparation (None if unknown)."""
        state = self._preparations.get(preparation_id)
        return state.phase if state is not None else None

    def preparations_of(self, order_id: str) -> list[PreparationState]:
        """Every preparation of the order, oldest first."""
        return [p for p in self._preparations.values() if p.order_id == order_id]

    def taken(self, order_id: str) -> PreparationState | None:
        """The preparation that currently stands for the order, if any."""
        for state in reversed(self.preparations_of(order_id)):
            if state.phase in TAKING_PHASES:
                return state
        return None

    def remake_of(self, order_id: str) -> str | None:
        """The rejected preparation a new preparation of the order would remake, if any.

        Only while no preparation stands for the order, and only when its latest one that
        was not cancelled was rejected: a remake that was cancelled leaves the order still
        to remake the same rejected preparation.
        """
        if self.taken(order_id) is not None:
            return None
        for state in reversed(self.preparations_of(order_id)):
            if state.phase is Phase.REJECTED:
                return state.preparation_id
            if state.phase is not Phase.CANCELLED:
                return None
        return None

    def remakes(self, orders: Iterable[DoseOrder]) -> Mapping[str, str]:
        """``{order id: rejected preparation id}`` for the orders that would be remakes."""
        found = {o.order_id: self.remake_of(o.order_id) for o in orders}
        return {order_id: rejected for order_id, rejected in found.items() if rejected}

    def open_at(self, station_id: str, user_id: str) -> list[PreparationState]:
        """Preparations this user left unfinished at this station (to resume after a restart)."""
        return [p for p in self._preparations.values()
                if p.station_id == station_id and p.user_id == user_id
                and p.phase in {Phase.READY, Phase.IN_PROGRESS, Phase.HARD_STOP}]

    def to_make(self, orders: Iterable[DoseOrder]) -> Worklist:
        """The orders no preparation stands for."""
        return Worklist(o for o in orders if self.taken(o.order_id) is None)
