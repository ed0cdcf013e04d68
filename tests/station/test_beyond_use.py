"""The one BUD rule of a preparation, read from its record."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from station.core.beyond_use import accepted_components, preparation_bud, started_at
from station.core.bud import BudTable
from station.core.errors import WorkflowError
from station.core.formulary import CompoundedAs, CompoundingCategory, Storage
from station.core.opened_vials import VialInUse
from station.core.recipe import StepKind
from station.core.workflow import Phase, Preparation, ProductScanned

from .builders import NOW, Technician, scan_of

TABLE = BudTable.load()
HEPARIN = "0409-2720-01"


def _made(recipe, tech: Technician) -> Preparation:
    return tech.run_until(tech.start(recipe), {Phase.AWAITING_VERIFICATION})


def test_the_bud_counts_from_the_recorded_start_by_the_formularys_terms(recipe_for):
    tech = Technician()
    recipe = recipe_for((HEPARIN, "25000 units"))
    prep = _made(recipe, tech)
    bud = preparation_bud(prep, TABLE)
    # Heparin names no terms: Category 1 at room temperature, 12 h from the start.
    assert bud.compounded == CompoundedAs()
    assert bud.until == started_at(prep) + dt.timedelta(hours=12)
    assert bud.rule == "USP <797> Table 12, Category 1, controlled room temperature: 12 hours"
    refrigerated = replace(recipe, compounded=CompoundedAs(CompoundingCategory.CATEGORY_2,
                                                           Storage.REFRIGERATED))
    later = preparation_bud(replace(prep, recipe=refrigerated), TABLE)
    assert later.until == NOW + dt.timedelta(days=10)


def test_the_earliest_component_expiry_caps_it(recipe_for):
    tech = Technician()
    recipe = replace(recipe_for((HEPARIN, "25000 units")),
                     compounded=CompoundedAs(CompoundingCategory.CATEGORY_2, Storage.REFRIGERATED))
    prep = tech.start(recipe)
    base = recipe.steps[0].product
    prep = tech.do(prep, ProductScanned(tech.user, NOW, scan_of(base, expiry="261126"), base))
    prep = tech.run_until(prep, {Phase.AWAITING_VERIFICATION})
    assert len(accepted_components(prep)) == 2
    bud = preparation_bud(prep, TABLE)
    assert bud.until == dt.datetime.combine(dt.date(2026, 11, 26), dt.time.max, NOW.tzinfo)
    assert bud.rule.startswith("component expiry 2026-11-26 (end of day) comes before USP <797>")


def test_an_opened_vial_drawn_from_caps_it(recipe_for):
    tech = Technician()
    recipe = recipe_for((HEPARIN, "25000 units"))
    vial_step = [s for s in recipe.steps if s.kind is StepKind.SCAN][1]
    prep = tech.advance_to(tech.start(recipe), vial_step.number)
    vial = VialInUse("OV-12", NOW - dt.timedelta(hours=9), NOW + dt.timedelta(hours=3),
                     "USP <797> single-dose container: 12 hours")
    prep = tech.do(prep, ProductScanned(tech.user, NOW, scan_of(vial_step.product),
                                        vial_step.product, opened_vial=vial))
    prep = tech.run_until(prep, {Phase.AWAITING_VERIFICATION})
    bud = preparation_bud(prep, TABLE)
    assert bud.until == NOW + dt.timedelta(hours=3)
    assert "opened vial" in bud.rule and "single-dose container: 12 hours" in bud.rule


def test_a_preparation_not_started_has_no_bud(recipe_for):
    prep = Preparation.new("P-1", recipe_for((HEPARIN, "25000 units")))
    with pytest.raises(WorkflowError, match=r"^preparation P-1 has not started$"):
        preparation_bud(prep, TABLE)
