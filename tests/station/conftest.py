"""Fixtures for the pure-core tests."""

from __future__ import annotations

import pytest

from station.core.formulary import Formulary
from station.core.recipe import Recipe, build_recipe

from .builders import FORMULARY, TOLERANCE, order


@pytest.fixture
def formulary() -> Formulary:
    return Formulary.from_mapping(FORMULARY)


@pytest.fixture
def recipe_for(formulary):
    def build(*ingredients: tuple[str, str], **extra: object) -> Recipe:
        return build_recipe(order("RX1", *ingredients, **extra), formulary, TOLERANCE)
    return build
