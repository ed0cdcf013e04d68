"""The ``station`` command line.

Every subcommand prints what a person reads, or with ``--json`` one JSON document. Bad
input ends in one line on stderr saying what is wrong and a non-zero exit, never a
traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TextIO

from station.cli import decode as decode_command
from station.cli import labels as labels_commands
from station.cli import orders as orders_commands
from station.cli import qualify as qualify_commands
from station.cli import recalls as recalls_commands
from station.cli import records as records_commands
from station.cli import scale as scale_commands
from station.cli import users as users_commands
from station.config.catalog_files import load_formulary, load_worklist
from station.core.errors import StationError
from station.core.formulary import Product
from station.core.gravimetry import BalanceSpec, is_verifiable
from station.core.identifiers import Ndc
from station.core.quantities import Tolerance, parse_decimal
from station.core.recipe import Recipe, Step, StepKind, build_recipe
from station.core.scan import ScanIdentity, parse_scan
from station.records.order_book import OrderBook
from station.records.record import open_record

# Site defaults until a configuration file exists: ±5 % and a 0.01 g balance.
DEFAULT_TOLERANCE = Tolerance(Decimal("0.05"))
DEFAULT_READABILITY = Decimal("0.01")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class ExtraCommand:
    """A command an outer layer adds (the station window, from ``ui``).

    ``configure`` adds its options to its subparser; with ``default`` it also runs when no
    command is given.
    """

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, TextIO], int]
    default: bool = False


def main(argv: Sequence[str] | None = None, extra: Sequence[ExtraCommand] = ()) -> int:
    """Run the command line; returns the process exit status."""
    parser, commands = _parser()
    for command in extra:
        sub = commands.add_parser(command.name, help=command.help, description=command.help)
        command.configure(sub)
        sub.set_defaults(run=command.run)
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        default = next((c for c in extra if c.default), None)
        if default is None:
            parser.print_help()
            return EXIT_OK
        args = parser.parse_args([default.name])
    try:
        run: Callable[[argparse.Namespace, TextIO], int] = args.run
        return run(args, sys.stdout)
    except StationError as error:
        print(f"station {args.command}: {error}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        # The reader (e.g. `head`) went away: stop quietly, as other command-line tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED


def _parser() -> tuple[argparse.ArgumentParser, Any]:
    parser = argparse.ArgumentParser(
        prog="station",
        description="IV compounding station: scan, weigh and photograph every step of a dose.",
    )
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")

    parse = commands.add_parser(
        "parse",
        help="parse one barcode scan into NDC, GTIN, lot, expiry and serial",
        description="Parse one scan: UPC-A, EAN-13, GTIN-14, GS1 element string (GS as the "
        "0x1D byte), the (01)…(17)…(10)…(21)… form or a hyphenated NDC, with or without an "
        "AIM prefix such as ]d2.",
    )
    parse.add_argument("text", help="the scanned text")
    parse.add_argument("--formulary", metavar="PATH", help="resolve the scan to a product")
    parse.add_argument("--json", action="store_true", help="print one JSON object")
    parse.set_defaults(run=_run_parse)

    formulary = commands.add_parser(
        "formulary", help="list the formulary's products, or import a signed new version")
    formulary.add_argument("--formulary", metavar="PATH", help="formulary file (TOML)")
    formulary.add_argument("--json", action="store_true", help="print a JSON list")
    formulary.set_defaults(run=_run_formulary)
    formulary_actions = formulary.add_subparsers(title="formulary commands", metavar="ACTION")
    records_commands.add_formulary_import(formulary_actions)

    orders = commands.add_parser("orders", help="the worklist of dose orders")
    order_commands = orders.add_subparsers(
        title="orders commands", dest="orders_command", metavar="ACTION", required=True
    )
    listing = order_commands.add_parser("list", help="list orders, most urgent first")
    listing.add_argument("--worklist", metavar="PATH", help="worklist file (TOML)")
    listing.add_argument("--formulary", metavar="PATH", help="formulary file, for drug names")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.add_argument("--db", metavar="URL",
                         help="list the orders received into this record (HL7, FHIR)")
    listing.set_defaults(run=_run_orders_list)
    orders_commands.add_commands(order_commands)

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
    recipe.set_defaults(run=_run_recipe)

    scale_commands.add_commands(commands)
    records_commands.add_commands(commands)
    users_commands.add_commands(commands)
    decode_command.add_command(commands)
    labels_commands.add_commands(commands)
    recalls_commands.add_commands(commands)
    qualify_commands.add_command(commands)
    return parser, commands


# ------------------------------------------------------------------------------ parse


def _run_parse(args: argparse.Namespace, out: TextIO) -> int:
    identity = parse_scan(args.text, reference_year=dt.datetime.now(dt.UTC).year)
    product = load_formulary(args.formulary).resolve(identity) if args.formulary else None
    if args.json:
        document = _identity_json(identity)
        if args.formulary:
            document["product"] = (
                {"ndc": str(product.ndc), "name": product.name} if product else None
            )
        _print_json(document, out)
        return EXIT_OK
    rows = [
        ("kind", identity.kind.value),
        ("symbology", identity.symbology or "-"),
        ("GTIN", str(identity.gtin) if identity.gtin else "-"),
        ("NDC digits", identity.ndc10 or "-"),
        ("NDC candidates", ", ".join(str(n) for n in identity.ndc_candidates) or "-"),
        ("lot", str(identity.lot) if identity.lot else "-"),
        ("expiry", str(identity.expiry) if identity.expiry else "-"),
        ("serial", str(identity.serial) if identity.serial else "-"),
    ]
    if product is not None:
        rows.append(("product", product.label))
    _print_rows(rows, out)
    return EXIT_OK


def _identity_json(identity: ScanIdentity) -> dict[str, Any]:
    return {
        "gtin": str(identity.gtin) if identity.gtin else None,
        "ndc10": identity.ndc10,
        "ndc_candidates": [str(n) for n in identity.ndc_candidates],
        "ndc": str(identity.ndc) if identity.ndc else None,
        "lot": str(identity.lot) if identity.lot else None,
        "expiry": str(identity.expiry) if identity.expiry else None,
        "serial": str(identity.serial) if identity.serial else None,
        "kind": identity.kind.value,
        "symbology": identity.symbology,
    }


# ------------------------------------------------------------------------------ formulary


def _run_formulary(args: argparse.Namespace, out: TextIO) -> int:
    formulary = load_formulary(args.formulary)
    if args.json:
        _print_json([_product_json(p) for p in formulary], out)
        return EXIT_OK
    for product in formulary:
        flags = " ".join(
            flag
            for flag, on in (
                ("HAZARDOUS", product.hazardous),
                ("high-alert", product.high_alert),
                ("check-before-mixing", product.in_process_check),
            )
            if on
        )
        out.write(
            f"{product.ndc!s:<14} {product.role.value:<8} {product.name} "
            f"{product.strength}  {flags}\n".rstrip()
            + "\n"
        )
    out.write(f"{len(formulary)} products\n")
    return EXIT_OK


def _product_json(product: Product) -> dict[str, Any]:
    return {
        "ndc": str(product.ndc),
        "ndc11": product.ndc.hipaa,
        "gtin": str(min(product.gtins, key=str)) if product.gtins else None,
        "name": product.name,
        "manufacturer": product.manufacturer,
        "strength": product.strength,
        "role": product.role.value,
        "concentration": str(product.concentration) if product.concentration else None,
        "specific_gravity": str(product.specific_gravity.value),
        "specific_gravity_estimated": product.specific_gravity.is_estimate,
        "hazardous": product.hazardous,
        "high_alert": product.high_alert,
        "in_process_check": product.in_process_check,
        "storage": product.storage.value,
    }


# ------------------------------------------------------------------------------ orders


def _run_orders_list(args: argparse.Namespace, out: TextIO) -> int:
    if args.db:
        record = open_record(args.db)
        try:
            worklist = OrderBook(record.engine, lambda: dt.datetime.now(dt.UTC)).worklist()
        finally:
            record.close()
    else:
        worklist = load_worklist(args.worklist)
    formulary = load_formulary(args.formulary)

    def drug(ndc: Ndc) -> str:
        product = formulary.get(ndc)
        return product.name if product is not None else f"NDC {ndc} (not in formulary)"

    if args.json:
        documents = []
        for order in worklist:
            first = order.ingredients[0]
            documents.append(
                {
                    "order_id": order.order_id,
                    "patient_id": order.patient.patient_id,
                    "patient_name": order.patient.name,
                    "location": order.patient.location,
                    "drug": drug(first.ndc),
                    "ndc": str(first.ndc),
                    "dose": str(first.dose.value.normalize()),
                    "dose_unit": first.dose.unit.value,
                    "ingredients": [
                        {"drug": drug(i.ndc), "ndc": str(i.ndc), "dose": str(i.dose)}
                        for i in order.ingredients
                    ],
                    "base": drug(order.base) if order.base else None,
                    "final_volume_ml": str(order.final_volume_ml.normalize()),
                    "priority": order.priority.value,
                    "due": order.due.isoformat(),
                    "status": "pending",
                }
            )
        _print_json(documents, out)
        return EXIT_OK
    for order in worklist:
        drugs = " + ".join(f"{drug(i.ndc)} {i.dose}" for i in order.ingredients)
        base = (
            f" in {drug(order.base)} {order.final_volume_ml.normalize():f} mL" if order.base else ""
        )
        out.write(
            f"{order.order_id:<10} {order.priority.value.upper():<7} "
            f"due {order.due:%Y-%m-%d %H:%M}  {order.patient.name} ({order.patient.location})"
            f"  {drugs}{base}\n"
        )
    out.write(f"{len(worklist)} orders\n")
    return EXIT_OK


# ------------------------------------------------------------------------------ recipe


def _run_recipe(args: argparse.Namespace, out: TextIO) -> int:
    formulary = load_formulary(args.formulary)
    order = load_worklist(args.worklist).get(args.order_id)
    recipe = build_recipe(order, formulary, DEFAULT_TOLERANCE)
    readability = parse_decimal(args.readability, "readability")
    balance = BalanceSpec(readability, Decimal(0))
    if args.json:
        _print_json(_recipe_json(recipe, balance), out)
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


def _recipe_json(recipe: Recipe, balance: BalanceSpec) -> dict[str, Any]:
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


# ------------------------------------------------------------------------------ output


def _print_json(document: object, out: TextIO) -> None:
    json.dump(document, out, indent=2, ensure_ascii=False)
    out.write("\n")


def _print_rows(rows: list[tuple[str, str]], out: TextIO) -> None:
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        out.write(f"{label:<{width}}  {value}\n")


if __name__ == "__main__":
    raise SystemExit(main())
