"""Orders from the hospital's EHR: HL7 v2 (RDE) and FHIR R4 (MedicationRequest) intake.

Both formats map to one :class:`OrderMessage`: which message it was, what it asks (a new
order, a change, a discontinue) and, for a new or changed order, a complete, validated
:class:`~station.core.orders.DoseOrder`. A message that cannot become a complete order
raises an :class:`IntakeError` whose text tells the sender what to fix; nothing is ever
half-created. The mappers are pure: text and a formulary in, a value or an error out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

from station.core.errors import ParseError, StationError
from station.core.formulary import Formulary, Product, ProductRole
from station.core.identifiers import Ndc
from station.core.orders import DoseOrder, Ingredient, Worklist, order_to_mapping
from station.core.quantities import Dimension, Quantity


class OrderAction(Enum):
    """What a message asks of the pharmacy (HL7 ORC-1 order control)."""

    NEW = "NW"
    CHANGE = "XO"
    DISCONTINUE = "DC"


@dataclass(frozen=True)
class OrderMessage:
    """One order message from the EHR, mapped and validated.

    ``order`` is present exactly for a new or changed order. ``text`` keeps the message as
    received, for the record.
    """

    message_id: str
    action: OrderAction
    order_id: str
    order: DoseOrder | None = None
    text: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.message_id:
            raise ValueError("an order message needs a message id")
        needs_order = self.action is not OrderAction.DISCONTINUE
        if needs_order and self.order is None:
            raise ValueError(f"a {self.action.name.lower()} message needs its order")
        if not needs_order and self.order is not None:
            raise ValueError("a discontinue message carries no order")
        if self.order is not None and self.order.order_id != self.order_id:
            raise ValueError(
                f"message order id {self.order_id!r} differs from the order's "
                f"{self.order.order_id!r}"
            )


class IntakeError(StationError):
    """A message the station will not turn into an order; ``str()`` is the reason.

    ``message_id`` and ``order_id`` are what could be read of the message (empty when
    unknown). ``location`` names where the problem is, HL7-style (``RXE^1^2``), and
    ``code`` is the HL7 table 0357 error code for the ERR segment.
    """

    def __init__(
        self,
        reason: str,
        *,
        message_id: str = "",
        order_id: str = "",
        location: str = "",
        code: int = 207,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message_id = message_id
        self.order_id = order_id
        self.location = location
        self.code = code


class OrderRejected(IntakeError):
    """A well-formed message whose order cannot be accepted (HL7 AE, application error)."""


class MalformedMessage(IntakeError):
    """A message that cannot be read at all (HL7 AR, application reject)."""


# ------------------------------------------------------------------ shared by both mappers

_NDC_SHAPES = "with hyphens (e.g. 67457-367-10) or as 11 digits"
_ML = Decimal("0.01")


def resolve_product(
    code: str, formulary: Formulary, role: ProductRole, what: str, location: str = ""
) -> Product:
    """The stocked product an NDC names, in the role the order gives it.

    ``code`` may be hyphenated, 11 or 12 digits, or 10 digits without hyphens (then it must
    match exactly one stocked product). ``what`` names the field in the reason.
    """
    text = code.strip()
    if not text:
        raise OrderRejected(f"{what} is missing", location=location, code=101)
    digits = text.replace("-", "")
    if not digits.isdigit() or not digits.isascii():
        raise OrderRejected(
            f"{what} {text!r} is not an NDC: the station knows drugs only by NDC, "
            f"written {_NDC_SHAPES}",
            location=location,
            code=103,
        )
    if "-" not in text and len(text) == 10:
        found = {p.ndc.key: p for c in Ndc.candidates(text) if (p := formulary.get(c))}
        if len(found) > 1:
            names = ", ".join(str(p.ndc) for p in found.values())
            raise OrderRejected(
                f"{what} {text} matches more than one stocked product ({names}): "
                "send the NDC with hyphens",
                location=location,
                code=103,
            )
        if not found:
            raise OrderRejected(
                f"{what}: NDC {text} is not in the formulary", location=location, code=103
            )
        product = next(iter(found.values()))
    else:
        try:
            ndc = Ndc.parse(text)
        except ParseError as error:
            raise OrderRejected(f"{what}: {error}", location=location, code=102) from None
        found_product = formulary.get(ndc)
        if found_product is None:
            raise OrderRejected(
                f"{what}: NDC {ndc} is not in the formulary", location=location, code=103
            )
        product = found_product
    if product.role is not role:
        raise OrderRejected(
            f"{what}: {product.label} is a {product.role.value}, not a {role.value}",
            location=location,
            code=103,
        )
    return product


def drug_volume_ml(product: Product, dose: Quantity, what: str, location: str = "") -> Decimal:
    """The mL of ``product`` that hold ``dose``; refuses a dose in units it is not made in."""
    if dose.value <= 0:
        raise OrderRejected(
            f"{what} {dose} must be greater than zero", location=location, code=102
        )
    concentration = product.concentration
    if concentration is None:  # resolve_product gave a drug, and drugs have one
        raise OrderRejected(f"{what}: {product.label} has no concentration", location=location)
    per_ml = concentration.amount
    if dose.dimension is not per_ml.dimension or dose.dimension is Dimension.VOLUME:
        raise OrderRejected(
            f"{what} {dose} cannot be made from {product.label}: its concentration is "
            f"{per_ml}/mL",
            location=location,
            code=102,
        )
    return dose.base_value() / per_ml.base_value()


def final_volume_ml(base_volume: Decimal | None, drug_volumes: Sequence[Decimal]) -> Decimal:
    """The base's volume plus the drug added, to 0.01 mL (a syringe: the drug alone)."""
    total = (base_volume or Decimal(0)) + sum(drug_volumes, Decimal(0))
    return Decimal(format(total.quantize(_ML, rounding=ROUND_HALF_UP).normalize(), "f"))


def checked_order(order_id: str, build: Callable[[], DoseOrder]) -> DoseOrder:
    """``build()``'s order, with the domain's own validation turned into a rejection.

    The order also makes the round trip through the worklist's mapping, so everything the
    station will later read back from the record is known to read.
    """
    try:
        order = build()
        Worklist.from_mapping({"order": [order_to_mapping(order)]})
    except StationError as error:
        detail = str(error).removeprefix(f"order 1 ({order_id}): ")
        detail = detail.removeprefix(f"order {order_id}: ")
        raise OrderRejected(f"order {order_id}: {detail}", order_id=order_id) from None
    return order


def check_ingredients(ingredients: Sequence[Ingredient]) -> None:
    """Refuse an order that names one product twice (the sender meant one dose)."""
    seen: set[Ndc] = set()
    for ingredient in ingredients:
        if ingredient.ndc in seen:
            raise OrderRejected(
                f"NDC {ingredient.ndc} is ordered twice: send its total dose once", code=205
            )
        seen.add(ingredient.ndc)


__all__ = [
    "IntakeError",
    "MalformedMessage",
    "OrderAction",
    "OrderMessage",
    "OrderRejected",
    "check_ingredients",
    "checked_order",
    "drug_volume_ml",
    "final_volume_ml",
    "resolve_product",
]
