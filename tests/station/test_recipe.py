from __future__ import annotations

from decimal import Decimal

import pytest

from station.core.errors import RecipeError
from station.core.quantities import Quantity, Unit
from station.core.recipe import MassCheck, StepKind, build_recipe

from .builders import TOLERANCE, order


def kinds(recipe):
    return [(s.kind.value, s.check.value if s.check else None) for s in recipe.steps]


def test_a_liquid_dose_into_a_bag(recipe_for):
    recipe = recipe_for(("0409-2720-01", "25000 units"))
    assert kinds(recipe) == [
        ("scan", None), ("weigh tare", None), ("scan", None), ("weigh tare", None),
        ("weigh net", "dose"), ("action", None), ("weigh net", "delivered"),
        ("weigh net", "final"), ("label", None), ("photo", None),
    ]
    draw = recipe.step(5)
    assert draw.title == ("Draw 5 mL (25000 units) of Heparin Sodium into a 10 mL syringe and "
                          "weigh the syringe")
    # aimed at 5 mL and the 0.090 mL a 10 mL syringe keeps: 5.09 mL × SG 1.010
    assert draw.expected_mass == Decimal("5.14090")
    assert draw.syringe_ml == Decimal(10) and draw.checked_dose == Quantity(Decimal("25450"),
                                                                           Unit.UNIT)
    assert draw.reference == 4
    emptied = recipe.step(7)
    assert emptied.title == "Weigh the emptied syringe 1 of 1 (Heparin Sodium)"
    # what must leave the syringe is the dose: 5 mL × SG 1.010
    assert (emptied.reference, emptied.dose, emptied.expected_mass) == (5, draw.dose,
                                                                        Decimal("5.050"))
    assert emptied.checked_dose == draw.dose
    # The bag is checked against what left the syringes, not against what was drawn.
    assert recipe.step(8).sums == (7,)
    assert recipe.step(8).reference == 2
    assert [s.number for s in recipe.steps if s.photo_required] == [1, 3, 5, 8, 10]


def test_a_powder_is_reconstituted_and_the_dose_split_over_vials(recipe_for):
    recipe = recipe_for(("0143-9924-90", "1.5 g"))
    scans = [s.title for s in recipe.steps if s.kind is StepKind.SCAN]
    assert scans == [
        "Scan the base: Sodium Chloride 0.9% 100 mL",
        "Scan Cefazolin 1 g (vial 1 of 2)",
        "Scan the diluent: Sterile Water for Injection",
        "Scan Cefazolin 1 g (vial 2 of 2)",
        "Scan the diluent: Sterile Water for Injection",
    ]
    diluent = [s for s in recipe.steps if s.check is MassCheck.DILUENT]
    assert [s.expected_mass for s in diluent] == [Decimal("2.5000"), Decimal("2.5000")]
    doses = [s for s in recipe.steps if s.check is MassCheck.DOSE]
    assert [s.title.split(" (")[0] for s in doses] == ["Draw 3.03 mL", "Draw 1.52 mL"]
    total = sum(s.dose.to(doses[0].dose.unit).value for s in doses)
    assert abs(total - Decimal("1.5")) < Decimal("1e-20")


def test_a_remainder_of_at_most_one_percent_does_not_open_another_vial(recipe_for):
    # 2 g at 330 mg/mL is 6.0606 mL; two vials of 3.03 mL hold 6.06 mL.
    recipe = recipe_for(("0143-9924-90", "2 g"))
    assert sum(1 for s in recipe.steps if s.check is MassCheck.DOSE) == 2


def test_an_in_process_check_comes_after_drawing_and_before_injecting(recipe_for):
    recipe = recipe_for(("55150-1234-1", "40 mEq"))
    sequence = [s.kind for s in recipe.steps]
    check = sequence.index(StepKind.PHARMACIST_CHECK)
    assert StepKind.ACTION not in sequence[:check]
    assert sequence[check + 1] is StepKind.ACTION


def test_two_ingredients_are_both_weighed_and_the_bag_gains_both(recipe_for):
    recipe = recipe_for(("0409-2720-01", "5000 units"), ("55150-1234-1", "10 mEq"))
    final = next(s for s in recipe.steps if s.check is MassCheck.FINAL)
    doses = [s.number for s in recipe.steps if s.check is MassCheck.DOSE]
    delivered = [s for s in recipe.steps if s.check is MassCheck.DELIVERED]
    assert final.sums == tuple(s.number for s in delivered)
    assert [s.reference for s in delivered] == doses
    assert len(doses) == 2


def test_tolerance_comes_from_the_order_then_the_product_then_the_site(formulary):
    tight = build_recipe(order("RX2", ("0409-2720-01", "5000 units"), tolerance="3%"),
                         formulary, TOLERANCE)
    draw = next(s for s in tight.steps if s.check is MassCheck.DOSE)
    assert draw.tolerance.percent == Decimal(3)
    default = build_recipe(order("RX3", ("0409-2720-01", "5000 units")), formulary, TOLERANCE)
    assert next(s for s in default.steps if s.check is MassCheck.DOSE).tolerance == TOLERANCE


def test_a_syringe_dose_without_a_base(formulary):
    recipe = build_recipe(order("RX4", ("0409-2720-01", "5000 units"), base=None), formulary,
                          TOLERANCE)
    assert [s.kind for s in recipe.steps][-2:] == [StepKind.LABEL, StepKind.PHOTO]
    assert not [s for s in recipe.steps if s.kind is StepKind.ACTION]
    with pytest.raises(RecipeError, match=r"^order RX5: without a base container the dose must "
                       r"come from one syringe, but it needs 2 draws$"):
        build_recipe(order("RX5", ("0143-9924-90", "2 g"), base=None), formulary, TOLERANCE)


@pytest.mark.parametrize(
    ("ingredient", "extra", "message"),
    [
        (("0409-9999-01", "1 mL"), {}, "order RX: NDC 0409-9999-01 is not in the formulary"),
        (("63323-185-10", "1 mL"), {},
         "order RX: Sterile Water for Injection 10 mL (NDC 63323-185-10) is not a drug"),
        (("0409-2720-01", "5 mg"), {},
         "order RX: dose 5 mg cannot come from Heparin Sodium 5000 units/mL"),
        (("0409-2720-01", "1000000 units"), {},
         "1000000 units of Heparin Sodium needs 20 vials of 10 mL; more than 12 — check the "
         "order and the product"),
        (("0409-2720-01", "5000 units"), {"base": "0409-2720-01"},
         "order RX: Heparin Sodium 5,000 units/mL (NDC 0409-2720-01) is a drug, not a base "
         "solution"),
    ],
)
def test_orders_that_cannot_be_made_are_refused_with_the_reason(formulary, ingredient, extra,
                                                                message):
    with pytest.raises(RecipeError) as raised:
        build_recipe(order("RX", ingredient, **extra), formulary, TOLERANCE)
    assert str(raised.value) == message


def test_the_standard_single_vial_dose_is_recognised():
    from station.config.catalog_files import load_formulary, load_worklist  # noqa: PLC0415

    formulary, worklist = load_formulary(), load_worklist()
    standard = {o.order_id for o in worklist
                if build_recipe(o, formulary, TOLERANCE).standard_single_vial}
    # heparin, fentanyl and one more into a bag: one vial each, no pharmacist check
    assert standard == {"RX-260108", "RX-260118", "RX-260119"}
