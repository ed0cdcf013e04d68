"""``station recipe ORDER_ID``: the steps that make one order of the worklist.

Each weighing step shows the mass it expects and its band (the site's tolerance from the
configuration when neither order nor product sets one), and says when a balance of
``--readability`` could not verify it.
"""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any, TextIO

from station.bootstrap import load_station_config
from station.cli.common import EXIT_OK, print_json
from station.config.catalog_files import load_formulary, load_worklist
from station.core.gravimetry import BalanceSpec, is_verifiable
from station.core.quantities import parse_decimal
from station.core.recipe import Recipe, Step, StepKind, build_recipe

# The balance a recipe is shown for when --readability is not given: a 0.01 g balance.
DEFAULT_READABILITY = Decimal("0.01")


def add_commands(commands: Any) -> None:
    """Register ``station recipe`` on the top-level subparsers."""
    recipe = commands.add_parser("recipe", help="show the steps that make one order")
    recipe.add_argument("order_id", help="the order's id")
    recipe.add_argument("--worklist", metavar="PATH", help="worklist file (TOML)")
    recipe.add_argument("--formulary", metavar="PATH", help="formulary file (TOML)")
    recipe.add_argument(
        "--readability",
        metavar="GRAMS",
        default=str(DEFAULT_READABILITY),
        help="the balance's readability d in grams (default %(default)s)",
    )
    recipe.add_argument("--json", action="store_true", help="print one JSON object")
    recipe.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Print the recipe of ``args.order_id``, or with ``--json`` one JSON object."""
    formulary = load_formulary(args.formulary)
    order = load_worklist(args.worklist).get(args.order_id)
    recipe = build_recipe(order, formulary, load_station_config().site.tolerance)
    readability = parse_decimal(args.readability, "readability")
    balance = BalanceSpec(readability, Decimal(0))
    if args.json:
        print_json(recipe_json(recipe, balance), out)
        return EXIT_OK
    out.write(
        f"Order {order.order_id} for {order.patient.name}: "
        f"{len(recipe.steps)} steps (tolerance {recipe.tolerance})\n"
    )
    for step in recipe.steps:
        line = f"{step.number:>3}. {step.title}"
        if step.expected_mass is not None:
            line += f"  [expect {step.expected_mass.quantize(Decimal('0.001'))} g"
            line += f", {step.tolerance}" if step.tolerance else ""
            if not _step_verifiable(step, balance):
                line += f"; NOT VERIFIABLE on a {readability} g balance"
            line += "]"
        if step.sums:
            gains = ", ".join(str(n) for n in step.sums)
            line += f"  [expect the mass drawn in step(s) {gains}, {step.tolerance}]"
        if step.photo_required:
            line += "  (photo)"
        out.write(line + "\n")
    return EXIT_OK


def _step_verifiable(step: Step, balance: BalanceSpec) -> bool:
    if step.expected_mass is None or step.product is None or step.tolerance is None:
        return True
    return is_verifiable(step.expected_mass, step.product.specific_gravity, step.tolerance, balance)


def recipe_json(recipe: Recipe, balance: BalanceSpec) -> dict[str, Any]:
    """The recipe as ``station recipe --json`` prints it."""
    return {
        "order_id": recipe.order.order_id,
        "tolerance_percent": str(recipe.tolerance.percent.normalize()),
        "steps": [
            {
                "number": step.number,
                "kind": step.kind.value,
                "title": step.title,
                "expects": [str(n) for n in step.expects],
                "expected_mass_g": str(step.expected_mass) if step.expected_mass else None,
                "verifiable": _step_verifiable(step, balance)
                if step.kind is StepKind.WEIGH_NET
                else None,
                "photo_required": step.photo_required,
            }
            for step in recipe.steps
        ],
    }
