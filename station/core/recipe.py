"""Recipes: the ordered steps that make one dose order, with what each step expects.

A recipe is derived from an order and the formulary. Per ingredient it plans as many vials
as the dose needs; per vial: scan it, reconstitute it if it is a powder (scan the diluent,
weigh the vial before and after adding it), weigh the empty syringe, draw and weigh. Then
an in-process pharmacist check if the product asks for one, and per syringe its injection
and the emptied syringe weighed back; then the final container's weight gain, the label and a
photograph of the labelled container.

What a bag receives is what left the syringe, not what was drawn: the hub and needle keep
tens of microlitres to 0.1 mL, several per cent of a 1–2 mL addition. The recipe already
weighs every syringe, so it weighs each one again once emptied: filled minus emptied is the
delivered dose, checked against the ordered dose (or, when a pharmacist accepted the draw as it
was, against that draw), and the final container check sums what was delivered. A measured
residual follows the syringe and the technique actually used, and catches a syringe that was not
emptied (or not injected at all) at the syringe itself. So that a careful draw delivers the
dose, a draw that is injected is planned in the smallest syringe that holds it and aimed at the
dose plus what that syringe keeps (:mod:`station.core.syringes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from enum import Enum
from typing import Any

from station.core.errors import RecipeError
from station.core.formulary import CompoundedAs, Formulary, Product, ProductRole
from station.core.gravimetry import expected_volume
from station.core.identifiers import Ndc
from station.core.orders import DoseOrder, Ingredient
from station.core.quantities import Quantity, Tolerance, Unit
from station.core.syringes import SyringeError, SyringeTable

# More vials than this for one ingredient is almost certainly a wrong order or product.
MAX_VIALS_PER_INGREDIENT = 12
# A last-vial remainder this small (a share of the ingredient's volume) is drawn from the vial
# before it instead.
REMAINDER_SLACK = Decimal("0.01")


class StepKind(Enum):
    """What the technician does at a step, and so which event completes it."""

    SCAN = "scan"
    WEIGH_TARE = "weigh tare"
    WEIGH_NET = "weigh net"
    ACTION = "action"
    PHARMACIST_CHECK = "pharmacist check"
    LABEL = "label"
    PHOTO = "photo"


class MassCheck(Enum):
    """What a net weighing checks."""

    DOSE = "dose"  # a drawn dose: mass -> volume -> dose against the order
    DILUENT = "diluent"  # diluent added to a powder vial
    FINAL = "final"  # the final container gained what was injected
    DELIVERED = "delivered"  # an emptied syringe weighed back: filled - emptied = delivered


@dataclass(frozen=True)
class Step:
    """One step of a recipe; ``number`` is its 1-based position."""

    number: int
    kind: StepKind
    title: str
    expects: tuple[Ndc, ...] = ()
    product: Product | None = None
    reference: int | None = None
    check: MassCheck | None = None
    dose: Quantity | None = None
    expected_mass: Decimal | None = None
    sums: tuple[int, ...] = ()
    tolerance: Tolerance | None = None
    photo_required: bool = False
    ingredient: int | None = None
    reconstituted_by: int | None = None
    syringe_ml: Decimal | None = None  # the syringe a draw is planned in
    draw_dose: Quantity | None = None  # a draw's aim: the dose plus what its syringe keeps

    @property
    def checked_dose(self) -> Quantity | None:
        """The dose a weighing checks: a draw's aim, else the dose (what must be delivered)."""
        if self.check is MassCheck.DOSE and self.draw_dose is not None:
            return self.draw_dose
        return self.dose


@dataclass(frozen=True)
class Recipe:
    """The steps for one order, in the order they must be done."""

    order: DoseOrder
    steps: tuple[Step, ...]
    tolerance: Tolerance
    compounded: CompoundedAs = field(default_factory=CompoundedAs)

    def step(self, number: int) -> Step:
        """The step with this 1-based number."""
        return self.steps[number - 1]

    @property
    def hazardous(self) -> bool:
        """True when any ingredient is a hazardous drug."""
        return any(s.product is not None and s.product.hazardous for s in self.steps)

    @property
    def standard_single_vial(self) -> bool:
        """The standard dose: one drug from one vial into a base, no check, not hazardous."""
        kinds = [s.kind for s in self.steps]
        return (self.order.base is not None and len(self.order.ingredients) == 1
                and kinds.count(StepKind.SCAN) == 2 and StepKind.PHARMACIST_CHECK not in kinds
                and not self.hazardous)


class _Planner:
    """Accumulates steps, numbering them as they are added."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def add(self, kind: StepKind, title: str, **fields: Any) -> int:
        number = len(self.steps) + 1
        self.steps.append(Step(number, kind, title, **fields))
        return number


def build_recipe(order: DoseOrder, formulary: Formulary, site_tolerance: Tolerance) -> Recipe:
    """Plan the steps for ``order``; raises :class:`RecipeError` if it cannot be made."""
    plan = _Planner()
    base = _base_product(order, formulary)
    base_tare = None
    if base is not None:
        plan.add(
            StepKind.SCAN,
            f"Scan the base: {base.name} {base.strength}",
            expects=(base.ndc,),
            product=base,
            photo_required=True,
        )
        base_tare = plan.add(
            StepKind.WEIGH_TARE, "Weigh the base container before additions", product=base
        )
    draws: list[int] = []
    delivered: list[int] = []
    for index, ingredient in enumerate(order.ingredients):
        product = _drug_product(order, ingredient, formulary)
        tolerance = order.tolerance or product.tolerance or site_tolerance
        ingredient_draws = _plan_draws(plan, index, ingredient, product, formulary, tolerance,
                                       injected=base is not None)
        if product.in_process_check:
            plan.add(
                StepKind.PHARMACIST_CHECK,
                f"Pharmacist checks {product.name} before it is added",
                product=product,
                ingredient=index,
            )
        if base is not None:
            for count, draw in enumerate(ingredient_draws, start=1):
                of = f"{count} of {len(ingredient_draws)}"
                plan.add(
                    StepKind.ACTION,
                    f"Inject syringe {of} ({product.name}) into the {base.name} container "
                    f"(step {draw})",
                    product=product,
                    reference=draw,
                    ingredient=index,
                )
                drawn = plan.steps[draw - 1]
                delivered.append(plan.add(
                    StepKind.WEIGH_NET,
                    f"Weigh the emptied syringe {of} ({product.name})",
                    product=product,
                    reference=draw,
                    check=MassCheck.DELIVERED,
                    dose=drawn.dose,
                    expected_mass=_delivered_mass(drawn),
                    tolerance=tolerance,
                    ingredient=index,
                    reconstituted_by=drawn.reconstituted_by,
                ))
        draws.extend(ingredient_draws)
    if base is None and len(draws) > 1:
        raise RecipeError(
            f"order {order.order_id}: without a base container the dose must come from one "
            f"syringe, but it needs {len(draws)} draws"
        )
    if base is not None and base_tare is not None:
        plan.add(
            StepKind.WEIGH_NET,
            "Weigh the final container",
            product=base,
            reference=base_tare,
            check=MassCheck.FINAL,
            sums=tuple(delivered),
            tolerance=site_tolerance,
            photo_required=True,
        )
    plan.add(StepKind.LABEL, "Print the label, apply it, and scan it")
    plan.add(StepKind.PHOTO, "Photograph the labelled preparation", photo_required=True)
    return Recipe(order, tuple(plan.steps), site_tolerance, _compounded(order, formulary))


def _delivered_mass(draw: Step) -> Decimal | None:
    """The mass a draw must deliver: its aim less the residual it was aimed for."""
    if draw.expected_mass is None or draw.dose is None or draw.draw_dose is None:
        return draw.expected_mass
    return draw.expected_mass * draw.dose.value / draw.draw_dose.value


def _compounded(order: DoseOrder, formulary: Formulary) -> CompoundedAs:
    """How the preparation is compounded and kept: its drugs' terms, which must agree on storage.

    With several drugs the terms of the most restrictive category apply (immediate use, then
    Category 1, 2, 3), and they must agree on where the preparation is kept, since a label
    gives one storage.
    """
    terms = [formulary.by_ndc(i.ndc).compounded for i in order.ingredients]
    storages = {t.storage for t in terms}
    if len(storages) > 1:
        named = ", ".join(sorted(s.value for s in storages))
        raise RecipeError(f"order {order.order_id}: its drugs are kept differently ({named}): "
                          "the formulary must give one storage for a preparation")
    return min(terms, key=_rank)


def _rank(terms: CompoundedAs) -> int:
    """Lower is more restrictive: immediate use, then Category 1, 2, 3."""
    return list(type(terms.category)).index(terms.category)


def _base_product(order: DoseOrder, formulary: Formulary) -> Product | None:
    if order.base is None:
        return None
    base = formulary.get(order.base)
    if base is None:
        raise RecipeError(f"order {order.order_id}: base NDC {order.base} is not in the formulary")
    if base.role is not ProductRole.BASE:
        raise RecipeError(
            f"order {order.order_id}: {base.label} is a {base.role.value}, not a base solution"
        )
    return base


def _drug_product(order: DoseOrder, ingredient: Ingredient, formulary: Formulary) -> Product:
    product = formulary.get(ingredient.ndc)
    if product is None:
        raise RecipeError(f"order {order.order_id}: NDC {ingredient.ndc} is not in the formulary")
    if product.role is not ProductRole.DRUG or product.concentration is None:
        raise RecipeError(f"order {order.order_id}: {product.label} is not a drug")
    if (
        ingredient.dose.dimension is not Unit.ML.dimension
        and ingredient.dose.dimension is not product.concentration.unit.dimension
    ):
        raise RecipeError(
            f"order {order.order_id}: dose {ingredient.dose} cannot come from "
            f"{product.name} {product.concentration}"
        )
    return product


def _plan_draws(
    plan: _Planner,
    index: int,
    ingredient: Ingredient,
    product: Product,
    formulary: Formulary,
    tolerance: Tolerance,
    *,
    injected: bool,
) -> list[int]:
    """Add the steps that draw one ingredient; returns the numbers of its draw-weighing steps.

    A draw that is ``injected`` into a base is aimed at its dose plus its syringe's dead
    space; one that stays in its syringe (the final container) at the dose.
    """
    volume = expected_volume(ingredient.dose, product.concentration)
    portions = _vial_portions(volume, product.container_volume_ml)
    if len(portions) > MAX_VIALS_PER_INGREDIENT:
        raise RecipeError(
            f"{ingredient.dose} of {product.name} needs {len(portions)} vials of "
            f"{product.container_volume_ml} mL; more than {MAX_VIALS_PER_INGREDIENT} — check "
            "the order and the product"
        )
    draws = []
    vials = len(portions)
    for vial, portion in enumerate(portions, start=1):
        of = f" (vial {vial} of {vials})" if vials > 1 else ""
        plan.add(
            StepKind.SCAN,
            f"Scan {product.name} {product.strength}{of}",
            expects=(product.ndc,),
            product=product,
            photo_required=True,
            ingredient=index,
        )
        reconstituted_by = None
        if product.reconstitution is not None:
            reconstituted_by = _plan_reconstitution(plan, index, product, formulary, tolerance)
        tare = plan.add(
            StepKind.WEIGH_TARE, "Weigh the empty syringe", product=product, ingredient=index
        )
        dose = _portion_dose(ingredient.dose, portion, volume)
        syringe, residual = _syringe_for(portion, injected=injected)
        into = f" into a {_ml(syringe)} mL syringe" if syringe is not None else ""
        draws.append(
            plan.add(
                StepKind.WEIGH_NET,
                f"Draw {_ml(portion)} mL ({dose.rounded()}) of {product.name}{into} and weigh "
                "the syringe",
                product=product,
                reference=tare,
                check=MassCheck.DOSE,
                dose=dose,
                draw_dose=Quantity(dose.value * (portion + residual) / portion, dose.unit)
                if residual else None,
                syringe_ml=syringe,
                expected_mass=(portion + residual) * product.specific_gravity.value,
                tolerance=tolerance,
                photo_required=True,
                ingredient=index,
                reconstituted_by=reconstituted_by,
            )
        )
    return draws


def _plan_reconstitution(
    plan: _Planner, index: int, product: Product, formulary: Formulary, tolerance: Tolerance
) -> int:
    """Add the diluent steps; returns the number of the step that weighs the diluent added."""
    assert product.reconstitution is not None
    spec = product.reconstitution
    diluent = formulary.get(spec.diluents[0])
    if diluent is None:
        raise RecipeError(
            f"{product.label}: diluent NDC {spec.diluents[0]} is not in the formulary"
        )
    plan.add(
        StepKind.SCAN,
        f"Scan the diluent: {diluent.name}",
        expects=spec.diluents,
        product=diluent,
        photo_required=True,
        ingredient=index,
    )
    tare = plan.add(
        StepKind.WEIGH_TARE,
        f"Weigh the {product.name} vial before adding diluent",
        product=product,
        ingredient=index,
    )
    return plan.add(
        StepKind.WEIGH_NET,
        f"Add {_ml(spec.volume_ml)} mL of {diluent.name}, mix, and weigh the vial",
        product=diluent,
        reference=tare,
        check=MassCheck.DILUENT,
        expected_mass=spec.volume_ml * diluent.specific_gravity.value,
        tolerance=tolerance,
        ingredient=index,
    )


def _syringe_for(portion: Decimal, *, injected: bool) -> tuple[Decimal | None, Decimal]:
    """The syringe size a draw is planned in, and the residual it is aimed to make up for."""
    if not injected:
        return None, Decimal(0)
    try:
        plan = _SYRINGES.for_volume(portion)
    except SyringeError:
        return None, Decimal(0)  # larger than any syringe listed: drawn to the dose
    return plan.size_ml, plan.residual_ml


_SYRINGES = SyringeTable.load()


def _vial_portions(volume: Decimal, per_vial: Decimal) -> list[Decimal]:
    """How much to draw from each vial: full vials, then the rest from the last one.

    A remainder of at most 1 % of the volume is drawn from the last full vial (vials hold a
    little overfill) rather than opening another vial for a few microlitres.
    """
    vials = int((volume / per_vial).to_integral_value(rounding=ROUND_CEILING))
    rest = volume - per_vial * (vials - 1)
    if vials > 1 and rest <= volume * REMAINDER_SLACK:
        vials -= 1
    return [per_vial] * (vials - 1) + [volume - per_vial * (vials - 1)]


def _portion_dose(dose: Quantity, portion_ml: Decimal, total_ml: Decimal) -> Quantity:
    """The share of the ordered dose that one vial's draw carries."""
    if portion_ml == total_ml:
        return dose
    return Quantity(dose.value * portion_ml / total_ml, dose.unit)


def _ml(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")).normalize(), "f")
