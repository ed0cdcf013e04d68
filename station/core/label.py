"""What the label of a finished preparation (and of an opened vial) says.

Pure: the content is computed from the order, the formulary, the BUD table and the times passed
in; nothing here reads the clock, a file or a printer. Renderers (``station.devices.labels``) decide
where each piece goes; they draw only what :class:`LabelContent` holds, so a field missing here
is missing on every label.

>>> format_quantity(Quantity(Decimal("25000"), Unit.UNIT))
'25,000 units'
>>> str(final_concentration(Quantity(Decimal("2"), Unit.G), Decimal("116")))  # per mL
'17.2 mg'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from station.core.bud import (
    BeyondUse,
    BudTable,
    CompoundingCategory,
    Sterilization,
)
from station.core.errors import StationError
from station.core.formulary import CompoundedAs, Formulary, Product, Storage
from station.core.orders import DoseOrder
from station.core.quantities import Dimension, Quantity, Unit

__all__ = [
    "HAZARDOUS_WARNING",
    "HIGH_ALERT_WARNING",
    "DrugLine",
    "LabelContent",
    "LabelError",
    "VialLabelContent",
    "final_concentration",
    "format_ml",
    "format_quantity",
    "format_time",
    "label_for",
    "preparation_label",
    "storage_instruction",
    "vial_label_for",
]

HAZARDOUS_WARNING = "HAZARDOUS DRUG - handle with chemo precautions"
HIGH_ALERT_WARNING = "HIGH-ALERT MEDICATION"

_STORAGE_INSTRUCTIONS = {
    Storage.ROOM: "Store at controlled room temperature 20-25 °C",
    Storage.REFRIGERATED: "Refrigerate at 2-8 °C. Do not freeze",
    Storage.FROZEN: "Keep frozen at -25 to -10 °C",
}
_CATEGORY_NAMES = {
    CompoundingCategory.IMMEDIATE_USE: "Immediate use",
    CompoundingCategory.CATEGORY_1: "Category 1",
    CompoundingCategory.CATEGORY_2: "Category 2",
    CompoundingCategory.CATEGORY_3: "Category 3",
}
# Below this many mg/mL a concentration reads better in mcg/mL (0.05 mg/mL -> 50 mcg/mL).
_MCG_BELOW_MG_PER_ML = Decimal("0.1")
_SIGNIFICANT = 3


class LabelError(StationError):
    """A label cannot be made: missing or unusable input."""


@dataclass(frozen=True)
class DrugLine:
    """One drug of the preparation: what, how much, in how much liquid."""

    name: str
    strength: str
    ndc: str
    dose: Quantity
    volume_ml: Decimal
    concentration: Quantity  # amount per mL of the finished preparation
    hazardous: bool

    @property
    def text(self) -> str:
        """'Vancomycin 1,250 mg (25 mL)'."""
        return f"{self.name} {format_quantity(self.dose)} ({format_ml(self.volume_ml)})"

    @property
    def concentration_text(self) -> str:
        """'4.55 mg/mL'."""
        return f"{format_quantity(self.concentration)}/mL"


@dataclass(frozen=True)
class LabelContent:
    """Everything the label of one compounded preparation shows."""

    preparation_id: str
    order_id: str
    patient_name: str
    patient_id: str
    location: str
    date_of_birth: dt.date | None
    drugs: tuple[DrugLine, ...]
    base: str | None  # the base solution's name and size; None for a syringe
    total_volume_ml: Decimal
    route: str
    rate: str | None
    prescriber: str
    compounded_at: dt.datetime
    beyond_use: dt.datetime
    bud_rule: str
    category: CompoundingCategory
    storage: Storage
    storage_instruction: str
    hazardous: bool
    warnings: tuple[str, ...]
    preparer_initials: str
    checker_initials: str = ""  # empty: the box the checking pharmacist initials by hand
    prerequisites: str = ""  # Category 3: the records that allow its longer dating

    @property
    def barcode(self) -> str:
        """The barcode's payload: the preparation id."""
        return self.preparation_id

    @property
    def category_text(self) -> str:
        """'Category 1'."""
        return _CATEGORY_NAMES[self.category]

    @property
    def total_volume_text(self) -> str:
        """'275 mL'."""
        return format_ml(self.total_volume_ml)

    @property
    def concentration_text(self) -> str:
        """Final concentration of every drug: '4.55 mg/mL' or 'KCl 0.0197 mEq/mL; …'."""
        if len(self.drugs) == 1:
            return self.drugs[0].concentration_text
        return "; ".join(f"{d.name} {d.concentration_text}" for d in self.drugs)

    def texts(self) -> tuple[str, ...]:
        """Every piece of text the label carries, in reading order (for checks and tests)."""
        pieces = [
            self.patient_name,
            self.patient_id,
            self.location,
            *(self.date_of_birth.isoformat() for _ in (1,) if self.date_of_birth is not None),
            *self.warnings,
            *(d.text for d in self.drugs),
            *(b for b in (self.base,) if b is not None),
            self.total_volume_text,
            self.concentration_text,
            self.route,
            *(r for r in (self.rate,) if r is not None),
            format_time(self.beyond_use),
            self.bud_rule,
            self.storage_instruction,
            self.category_text,
            *(p for p in (self.prerequisites,) if p),
            format_time(self.compounded_at),
            self.preparer_initials,
            self.preparation_id,
            self.order_id,
        ]
        return tuple(pieces)


@dataclass(frozen=True)
class VialLabelContent:
    """The label stuck on an opened (punctured) vial kept for later use."""

    product_name: str
    strength: str
    ndc: str
    lot: str
    punctured_at: dt.datetime
    beyond_use: dt.datetime
    bud_rule: str
    remaining_ml: Decimal
    storage_instruction: str
    hazardous: bool
    warnings: tuple[str, ...]
    initials: str = ""
    code: str = ""  # the text of the label's DataMatrix, which finds the vial again
    vial_id: str = ""

    @property
    def remaining_text(self) -> str:
        """'18.5 mL'."""
        return format_ml(self.remaining_ml)

    def texts(self) -> tuple[str, ...]:
        """Every piece of text the label carries, in reading order."""
        return (
            *self.warnings,
            self.product_name,
            self.strength,
            self.ndc,
            self.lot,
            format_time(self.punctured_at),
            format_time(self.beyond_use),
            self.bud_rule,
            self.remaining_text,
            self.storage_instruction,
            *(i for i in (self.initials,) if i),
            *(v for v in (self.vial_id,) if v),
        )


def label_for(
    order: DoseOrder,
    formulary: Formulary,
    *,
    preparation_id: str,
    compounded_at: dt.datetime,
    category: CompoundingCategory,
    storage: Storage,
    preparer_initials: str,
    bud_table: BudTable,
    component_expiries: Iterable[dt.date] = (),
    sterilization: Sterilization = Sterilization.ASEPTIC_STERILE_COMPONENTS,
    sterility_tested: bool = False,
    prerequisites: str = "",
) -> LabelContent:
    """The label of ``order`` compounded at ``compounded_at`` (timezone-aware).

    The beyond-use date is USP <797>'s limit for the category, preparation and storage,
    counted from ``compounded_at`` and capped by the earliest component expiry
    (:meth:`BudTable.beyond_use`); an expired component raises ``BudError``.
    """
    bud = bud_table.beyond_use(
        compounded_at,
        category,
        storage,
        sterilization=sterilization,
        sterility_tested=sterility_tested,
        component_expiries=tuple(component_expiries),
    )
    terms = CompoundedAs(category, storage, sterilization, sterility_tested, prerequisites)
    return preparation_label(order, formulary, preparation_id=preparation_id,
                             compounded_at=compounded_at, bud=bud, compounded=terms,
                             preparer_initials=preparer_initials)


def preparation_label(
    order: DoseOrder,
    formulary: Formulary,
    *,
    preparation_id: str,
    compounded_at: dt.datetime,
    bud: BeyondUse,
    compounded: CompoundedAs,
    preparer_initials: str,
) -> LabelContent:
    """The label of ``order`` with a beyond-use date already computed (``bud``).

    The station's labels take theirs from the record
    (:func:`station.core.beyond_use.preparation_bud`), so the label, the pharmacist's review
    and the audit show one date. ``compounded`` gives the category and storage the label
    states, and for Category 3 the prerequisites that allow its dating.
    """
    preparation_id = preparation_id.strip()
    if not preparation_id:
        raise LabelError(f"order {order.order_id}: a label needs a preparation id")
    if not preparer_initials.strip():
        raise LabelError(f"order {order.order_id}: a label needs the preparer's initials")
    if bud.until < compounded_at:
        raise LabelError(f"order {order.order_id}: the beyond-use date is before compounding")
    drugs = tuple(_drug_line(order, ingredient_index, formulary)
                  for ingredient_index in range(len(order.ingredients)))
    base = None
    if order.base is not None:
        product = formulary.by_ndc(order.base)
        base = f"{product.name} {product.strength}"
    hazardous = any(d.hazardous for d in drugs)
    high_alert = any(formulary.by_ndc(i.ndc).high_alert for i in order.ingredients)
    warnings = tuple(
        w for w, present in ((HAZARDOUS_WARNING, hazardous), (HIGH_ALERT_WARNING, high_alert))
        if present
    )
    prerequisites = ""
    if compounded.category is CompoundingCategory.CATEGORY_3:
        prerequisites = compounded.prerequisites.strip()
    return LabelContent(
        preparation_id=preparation_id,
        order_id=order.order_id,
        patient_name=order.patient.name,
        patient_id=order.patient.patient_id,
        location=order.patient.location,
        date_of_birth=order.patient.date_of_birth,
        drugs=drugs,
        base=base,
        total_volume_ml=order.final_volume_ml,
        route=order.route,
        rate=order.rate,
        prescriber=order.prescriber,
        compounded_at=compounded_at,
        beyond_use=bud.until,
        bud_rule=bud.rule,
        category=compounded.category,
        storage=compounded.storage,
        storage_instruction=storage_instruction(compounded.storage),
        hazardous=hazardous,
        warnings=warnings,
        preparer_initials=preparer_initials.strip().upper(),
        prerequisites=prerequisites,
    )


def vial_label_for(
    product: Product,
    lot: str,
    punctured_at: dt.datetime,
    remaining_ml: Decimal,
    bud: BeyondUse,
    *,
    initials: str = "",
    vial_id: str = "",
    code: str = "",
) -> VialLabelContent:
    """The label of an opened vial: when it was punctured, until when, and what is left.

    ``bud`` comes from :meth:`BudTable.opened_container_until` for the same puncture time;
    ``vial_id`` and ``code`` are the vial's id on the record and the text of the DataMatrix
    that finds it again (:func:`station.core.opened_vials.vial_code`).
    """
    if remaining_ml < 0:
        raise LabelError(f"{product.label}: remaining volume {remaining_ml} mL is negative")
    if remaining_ml > product.container_volume_ml:
        raise LabelError(
            f"{product.label}: remaining volume {format_ml(remaining_ml)} is more than the "
            f"container holds ({format_ml(product.container_volume_ml)})"
        )
    if bud.until < punctured_at:
        raise LabelError(f"{product.label}: beyond-use time is before the puncture time")
    if not lot.strip():
        raise LabelError(f"{product.label}: an opened-vial label needs the lot")
    warnings = tuple(
        w
        for w, present in (
            (HAZARDOUS_WARNING, product.hazardous),
            (HIGH_ALERT_WARNING, product.high_alert),
        )
        if present
    )
    return VialLabelContent(
        product_name=product.name,
        strength=product.strength,
        ndc=str(product.ndc),
        lot=lot.strip(),
        punctured_at=punctured_at,
        beyond_use=bud.until,
        bud_rule=bud.rule,
        remaining_ml=remaining_ml,
        storage_instruction=storage_instruction(product.storage),
        hazardous=product.hazardous,
        warnings=warnings,
        initials=initials.strip().upper(),
        code=code,
        vial_id=vial_id,
    )


def initials_of(printed_name: str) -> str:
    """The initials a label prints for a person: the first letter of each name, at most three.

    >>> initials_of("Ana Novak"), initials_of("Lee Nakamura, PharmD"), initials_of("  ")
    ('AN', 'LNP', '')
    """
    return "".join(word[0] for word in printed_name.replace(",", " ").split()[:3]).upper()


def storage_instruction(storage: Storage) -> str:
    """What the label tells the nurse about keeping the preparation."""
    return _STORAGE_INSTRUCTIONS[storage]


def final_concentration(dose: Quantity, final_volume_ml: Decimal) -> Quantity:
    """Dose ÷ final volume, per mL, in a unit people read easily, to 3 significant digits.

    Grams become mg when under 1 g/mL; mg become mcg when under 0.1 mg/mL.
    """
    if final_volume_ml <= 0:
        raise LabelError(f"final volume {final_volume_ml} mL must be greater than zero")
    per_ml = Quantity(dose.value / final_volume_ml, dose.unit)
    if per_ml.dimension is Dimension.MASS:
        if per_ml.unit is Unit.G and per_ml.value < 1:
            per_ml = per_ml.to(Unit.MG)
        if per_ml.unit is Unit.MG and per_ml.value < _MCG_BELOW_MG_PER_ML:
            per_ml = per_ml.to(Unit.MCG)
    if per_ml.unit is Unit.MILLION_UNITS and per_ml.value < 1:
        per_ml = per_ml.to(Unit.UNIT)
    return per_ml.rounded(_SIGNIFICANT)


def format_quantity(quantity: Quantity) -> str:
    """'1,250 mg', '25,000 units', '0.4 mg': thousands separated, no trailing zeros."""
    return f"{quantity.value.normalize():,f} {quantity.unit.value}"


def format_ml(volume_ml: Decimal) -> str:
    """A volume for the label: '25 mL', '6.06 mL', '1,014 mL'."""
    return format_quantity(Quantity(volume_ml, Unit.ML).rounded(_SIGNIFICANT))


def format_time(moment: dt.datetime) -> str:
    """'2026-11-26 21:00 UTC-05:00': date, 24-hour time and the zone, as it was given."""
    zone = moment.tzname() or ""
    return f"{moment:%Y-%m-%d %H:%M} {zone}".rstrip()


def _drug_line(order: DoseOrder, index: int, formulary: Formulary) -> DrugLine:
    ingredient = order.ingredients[index]
    product = formulary.by_ndc(ingredient.ndc)
    if product.concentration is None:
        raise LabelError(f"order {order.order_id}: {product.label} has no concentration")
    try:
        volume = product.concentration.volume_for(ingredient.dose)
    except StationError as error:
        raise LabelError(f"order {order.order_id}: {error}") from None
    return DrugLine(
        name=product.name,
        strength=product.strength,
        ndc=str(product.ndc),
        dose=ingredient.dose,
        volume_ml=volume,
        concentration=final_concentration(ingredient.dose, order.final_volume_ml),
        hazardous=product.hazardous,
    )
