"""``station parse TEXT``: one barcode scan as NDC, GTIN, lot, expiry and serial.

With ``--formulary`` the scan is also resolved to a product; with ``--json`` it prints one
JSON object with every key, ``null`` where the scan does not say.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any, TextIO

from station.cli.common import EXIT_OK, print_json, print_rows
from station.config.catalog_files import load_formulary
from station.core.scan import ScanIdentity, parse_scan


def add_commands(commands: Any) -> None:
    """Register ``station parse`` on the top-level subparsers."""
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
    parse.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Parse ``args.text``, resolve it with ``--formulary`` if given, and print it."""
    identity = parse_scan(args.text, reference_year=dt.datetime.now(dt.UTC).year)
    product = load_formulary(args.formulary).resolve(identity) if args.formulary else None
    if args.json:
        document = identity_json(identity)
        if args.formulary:
            document["product"] = (
                {"ndc": str(product.ndc), "name": product.name} if product else None
            )
        print_json(document, out)
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
    print_rows(rows, out)
    return EXIT_OK


def identity_json(identity: ScanIdentity) -> dict[str, Any]:
    """A parsed scan as JSON: every key present, ``None`` where the scan does not say."""
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
