"""Orders as the worklist and the queue list them: who, what drug and dose, in what base, by when.

:func:`worklist_rows` turns a :class:`~station.core.orders.Worklist` and the formulary into
frozen :class:`WorklistRow` records: STAT first, then urgent, then routine, each by due time
(clinical urgency decides the order; a hazardous order is never moved down).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from station.core.formulary import Formulary
from station.core.identifiers import Ndc
from station.core.orders import DoseOrder, Priority, Worklist

REMAKE = "↻ REMAKE of"


@dataclass(frozen=True)
class WorklistRow:
    """One order as the worklist shows it."""

    order_id: str
    priority: Priority
    due: dt.datetime
    patient: str
    drugs: str
    base: str
    hazardous: bool
    remake_of: str | None = None  # the rejected preparation this order is made again for

    @property
    def stat(self) -> bool:
        """Whether the order is STAT."""
        return self.priority is Priority.STAT

    @property
    def remake_text(self) -> str:
        """``↻ REMAKE of`` and ``P-…`` on two lines, or "" for a first preparation."""
        return f"{REMAKE}\n{self.remake_of}" if self.remake_of else ""


def _product_text(formulary: Formulary, ndc: Ndc) -> tuple[str, bool]:
    product = formulary.get(ndc)
    if product is None:
        return f"NDC {ndc} (not in the formulary)", False
    return product.name, product.hazardous


def order_row(order: DoseOrder, formulary: Formulary,
              remake_of: str | None = None) -> WorklistRow:
    """The row for one order; drug names come from the formulary."""
    drugs = []
    hazardous = False
    for ingredient in order.ingredients:
        name, is_hazardous = _product_text(formulary, ingredient.ndc)
        hazardous = hazardous or is_hazardous
        drugs.append(f"{name} {ingredient.dose}")
    base = "—"
    if order.base is not None:
        product = formulary.get(order.base)
        base = (f"{product.name} {product.strength}" if product is not None
                else f"NDC {order.base} (not in the formulary)")
    return WorklistRow(
        order_id=order.order_id,
        priority=order.priority,
        due=order.due,
        patient=f"{order.patient.name}\n{order.patient.location}",
        drugs=" + ".join(drugs),
        base=base,
        hazardous=hazardous,
        remake_of=remake_of,
    )


def worklist_rows(worklist: Worklist, formulary: Formulary,
                  remakes: Mapping[str, str] | None = None) -> tuple[WorklistRow, ...]:
    """Every order's row: STAT first, then urgent, then routine, each by due time.

    ``remakes`` maps an order id to the rejected preparation the order is to be remade for.
    """
    remakes = remakes or {}
    rows = (order_row(order, formulary, remakes.get(order.order_id)) for order in worklist)
    return tuple(sorted(rows, key=lambda r: (r.priority.rank, r.due, r.order_id)))
