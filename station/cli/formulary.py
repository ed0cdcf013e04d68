"""``station formulary [--json]`` and ``station formulary import FILE --by USER``.

The first lists the formulary file's products; the second makes a formulary file the version
in use in the record, signed by a pharmacist (asked for the password, or read from one line
of standard input with ``--password-stdin``). Errors of the import end in one line on stderr
and exit status 1.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.exc import SQLAlchemyError

from station.bootstrap import services_on
from station.cli.common import EXIT_OK, db_option, guarded, print_json, utc_now
from station.config.catalog_files import load_formulary
from station.core.errors import StationError
from station.core.formulary import Product
from station.records.record import open_record

_ERRORS = (StationError, SQLAlchemyError, ValueError, OSError)


def add_commands(commands: Any) -> None:
    """Register ``station formulary`` and ``station formulary import``."""
    formulary = commands.add_parser(
        "formulary", help="list the formulary's products, or import a signed new version")
    formulary.add_argument("--formulary", metavar="PATH", help="formulary file (TOML)")
    formulary.add_argument("--json", action="store_true", help="print a JSON list")
    formulary.set_defaults(run=run_list)
    actions = formulary.add_subparsers(title="formulary commands", metavar="ACTION")

    imported = actions.add_parser(
        "import", help="make a formulary file the version in use, signed by a pharmacist")
    imported.add_argument("file", help="the formulary file (TOML)")
    imported.add_argument("--by", required=True, metavar="USER",
                          help="the pharmacist who signs the import")
    imported.add_argument("--password-stdin", action="store_true",
                          help="read the signer's password from standard input")
    db_option(imported)
    imported.set_defaults(run=guarded(run_import, _ERRORS), command="formulary import")


def run_list(args: argparse.Namespace, out: TextIO) -> int:
    """Print the products of the formulary file, or with ``--json`` a JSON list."""
    formulary = load_formulary(args.formulary)
    if args.json:
        print_json([product_json(p) for p in formulary], out)
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


def product_json(product: Product) -> dict[str, Any]:
    """One product as ``station formulary --json`` lists it."""
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


def run_import(args: argparse.Namespace, out: TextIO) -> int:
    """Import ``args.file`` as the formulary version in use, signed by ``args.by``."""
    source = Path(args.file)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"{source}: {error.strerror}") from None
    password = (sys.stdin.readline().rstrip("\n") if args.password_stdin
                else getpass.getpass(f"Password of {args.by} (signing: formulary-imported): "))
    record = open_record(args.db)
    try:
        services = services_on(record, clock=utc_now)
        now = services.clock()
        session = services.sessions.start(args.by, password, now=now)
        signature = services.sessions.sign(session, password, "formulary-imported", now=now)
        version = services.versions.import_text(
            text, source.name, imported_by=signature.manifestation(), utc=now)
    finally:
        record.close()
    out.write(f"formulary version {version.version} ({source.name}, sha256 "
              f"{version.sha256[:12]}…) signed: {version.imported_by}\n")
    return EXIT_OK
