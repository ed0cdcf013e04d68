"""Dose orders as the pharmacy receives them, and the worklist they form.

Orders are read from a plain mapping (a decoded TOML document); the file format is shown in
``fixtures/worklist.toml``. Times are timezone-aware; the core never reads the clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from station.core.errors import InvalidFormat, StationError, UnknownOrder
from station.core.fields import choice, only_known, required, table
from station.core.identifiers import Ndc
from station.core.quantities import Quantity, Tolerance, parse_decimal


class Priority(Enum):
    """How urgent an order is; lower rank is more urgent."""

    STAT = "stat"
    URGENT = "urgent"
    ROUTINE = "routine"

    @property
    def rank(self) -> int:
        """Sort key: STAT first."""
        return {Priority.STAT: 0, Priority.URGENT: 1, Priority.ROUTINE: 2}[self]


@dataclass(frozen=True)
class Patient:
    """Who the preparation is for."""

    patient_id: str
    name: str
    location: str
    date_of_birth: dt.date | None = None
    weight_kg: Decimal | None = None


@dataclass(frozen=True)
class Ingredient:
    """One drug of an order: which stocked product and how much of it."""

    ndc: Ndc
    dose: Quantity


@dataclass(frozen=True)
class DoseOrder:
    """A prescriber's order for one compounded dose."""

    order_id: str
    patient: Patient
    ingredients: tuple[Ingredient, ...]
    base: Ndc | None
    final_volume_ml: Decimal
    route: str
    priority: Priority
    due: dt.datetime
    prescriber: str
    rate: str | None = None
    tolerance: Tolerance | None = None

    def __post_init__(self) -> None:
        if not self.ingredients:
            raise InvalidFormat(f"order {self.order_id}: no ingredients")
        if self.due.tzinfo is None:
            raise InvalidFormat(f"order {self.order_id}: due time needs a UTC offset")
        if self.final_volume_ml <= 0:
            raise InvalidFormat(f"order {self.order_id}: final volume must be greater than zero")
        for ingredient in self.ingredients:
            if ingredient.dose.value <= 0:
                raise InvalidFormat(
                    f"order {self.order_id}: dose {ingredient.dose} must be greater than zero"
                )


class OrderFileError(StationError):
    """The worklist file has an entry that is not a valid order."""


class Worklist:
    """Orders waiting to be prepared, most urgent first, then by due time."""

    def __init__(self, orders: Iterable[DoseOrder]) -> None:
        ordered = sorted(orders, key=lambda o: (o.priority.rank, o.due, o.order_id))
        self._orders = tuple(ordered)
        ids = [o.order_id for o in self._orders]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise OrderFileError(f"order id(s) used twice: {', '.join(duplicates)}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Worklist:
        """Build from a decoded TOML document with an ``[[order]]`` array."""
        entries = data.get("order", [])
        if not isinstance(entries, list):
            raise OrderFileError("[[order]] must be an array of tables")
        orders = []
        for number, entry in enumerate(entries, start=1):
            try:
                orders.append(_order_from_mapping(entry))
            except (StationError, TypeError) as error:
                order_id = entry.get("order_id", "?") if isinstance(entry, Mapping) else "?"
                detail = str(error).removeprefix(f"order {order_id}: ")
                raise OrderFileError(f"order {number} ({order_id}): {detail}") from None
        return cls(orders)

    def __iter__(self) -> Iterator[DoseOrder]:
        return iter(self._orders)

    def __len__(self) -> int:
        return len(self._orders)

    def get(self, order_id: str) -> DoseOrder:
        """The order with this id, or :class:`UnknownOrder`."""
        for order in self._orders:
            if order.order_id == order_id:
                return order
        raise UnknownOrder(f"unknown order {order_id!r}")


def order_to_mapping(order: DoseOrder) -> dict[str, Any]:
    """The order in the worklist file's layout; ``Worklist.from_mapping`` reads it back."""
    patient: dict[str, Any] = {
        "id": order.patient.patient_id,
        "name": order.patient.name,
        "location": order.patient.location,
    }
    if order.patient.date_of_birth is not None:
        patient["date_of_birth"] = order.patient.date_of_birth.isoformat()
    if order.patient.weight_kg is not None:
        patient["weight_kg"] = str(order.patient.weight_kg)
    entry: dict[str, Any] = {
        "order_id": order.order_id,
        "patient": patient,
        "ingredient": [{"ndc": str(i.ndc), "dose": str(i.dose)} for i in order.ingredients],
        "final_volume_ml": str(order.final_volume_ml),
        "route": order.route,
        "priority": order.priority.value,
        "due": order.due.isoformat(),
        "prescriber": order.prescriber,
    }
    if order.base is not None:
        entry["base"] = str(order.base)
    if order.rate is not None:
        entry["rate"] = order.rate
    if order.tolerance is not None:
        entry["tolerance"] = f"{order.tolerance.percent.normalize():f}%"
    return entry


_ORDER_FIELDS = (
    "order_id",
    "patient",
    "ingredient",
    "base",
    "final_volume_ml",
    "route",
    "priority",
    "due",
    "prescriber",
    "rate",
    "tolerance",
)
_PATIENT_FIELDS = ("id", "name", "location", "date_of_birth", "weight_kg")
_INGREDIENT_FIELDS = ("ndc", "dose")


def _order_from_mapping(entry: Mapping[str, Any]) -> DoseOrder:
    only_known(entry, _ORDER_FIELDS)
    patient = table(required(entry, "patient"), "patient")
    only_known(patient, _PATIENT_FIELDS, "patient")
    due = required(entry, "due")
    if isinstance(due, str):
        try:
            due = dt.datetime.fromisoformat(due)
        except ValueError:
            raise InvalidFormat(f"due {due!r} is not a date and time") from None
    if not isinstance(due, dt.datetime):
        raise InvalidFormat(f"due {due!r} is not a date and time")
    ingredients = []
    for position, raw in enumerate(required(entry, "ingredient"), start=1):
        item = table(raw, f"ingredient {position}")
        only_known(item, _INGREDIENT_FIELDS, "ingredient")
        ingredients.append(
            Ingredient(
                Ndc.parse(str(required(item, "ndc", "ingredient"))),
                Quantity.parse(str(required(item, "dose", "ingredient"))),
            )
        )
    dob = patient.get("date_of_birth")
    tolerance = entry.get("tolerance")
    return DoseOrder(
        order_id=str(required(entry, "order_id")),
        patient=Patient(
            patient_id=str(required(patient, "id", "patient")),
            name=str(required(patient, "name", "patient")),
            location=str(required(patient, "location", "patient")),
            date_of_birth=_date(dob) if dob is not None else None,
            weight_kg=parse_decimal(patient["weight_kg"], "weight")
            if "weight_kg" in patient
            else None,
        ),
        ingredients=tuple(ingredients),
        base=Ndc.parse(str(entry["base"])) if "base" in entry else None,
        final_volume_ml=parse_decimal(required(entry, "final_volume_ml"), "final volume"),
        route=str(required(entry, "route")),
        priority=choice(Priority, entry.get("priority", "routine"), "priority"),
        due=due,
        prescriber=str(required(entry, "prescriber")),
        rate=str(entry["rate"]) if "rate" in entry else None,
        tolerance=Tolerance.parse(str(tolerance)) if tolerance is not None else None,
    )


def _date(value: object) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InvalidFormat(f"date {value!r} is not YYYY-MM-DD") from None
