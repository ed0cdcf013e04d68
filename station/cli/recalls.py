"""``station recalls …`` and ``station ndc …``: the recall list and the FDA NDC Directory.

- ``station recalls add NDC LOT --reason TEXT``: put a lot on the recall list, then print the
  preparations that already used it;
- ``station recalls withdraw NDC LOT --reason TEXT``: take it off;
- ``station recalls import FILE.csv``: add the lots of a CSV file (``ndc,lot,reason``);
- ``station recalls list [--json]``: the lots on the list;
- ``station ndc import PACKAGE_FILE [--products PRODUCT_FILE]``: import the FDA NDC
  Directory's tab-separated package file (and product file, for names and labelers);
- ``station ndc lookup DIGITS``: the real NDC(s) a barcode's 10 digits are.

Every command takes ``--db URL`` (the record, created or migrated first). Errors end in one
line on stderr and exit status 1. Wiring: ``add_commands(commands)`` with the top-level
sub-parser group registers both groups.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.exc import SQLAlchemyError

from station.bootstrap import StationServices, services_on
from station.cli.common import EXIT_OK, Run, acting_user, db_option, guarded, print_json, utc_now
from station.core.errors import StationError
from station.records.ndc_directory import SOURCE, NdcDirectory
from station.records.recalls import Recall
from station.records.record import open_record
from station.records.search import PreparationSummary

_ERRORS = (StationError, SQLAlchemyError, ValueError, OSError)


def add_commands(commands: Any) -> None:
    """Register ``station recalls`` and ``station ndc`` on the top-level command group."""
    recalls = commands.add_parser("recalls", help="the pharmacy's list of recalled lots")
    actions = recalls.add_subparsers(title="recalls commands", dest="recalls_command",
                                     metavar="ACTION", required=True)
    adding = actions.add_parser(
        "add", help="put a lot on the recall list and show the preparations that used it",
        description="Put LOT of NDC on the recall list: a scan of it becomes a hard stop. "
        "Then list the preparations that already used that lot.")
    adding.add_argument("ndc", metavar="NDC", help="the NDC with hyphens (any shape), or 11 "
                        "or 12 digits")
    adding.add_argument("lot", metavar="LOT", help="the lot number")
    adding.add_argument("--reason", required=True, metavar="TEXT",
                        help="why (e.g. the FDA recall number and its reason)")
    _by_option(adding)
    db_option(adding)
    adding.set_defaults(run=_guarded(_run_add), command="recalls add")

    withdrawing = actions.add_parser("withdraw", help="take a lot off the recall list")
    withdrawing.add_argument("ndc", metavar="NDC", help="the NDC with hyphens (any shape)")
    withdrawing.add_argument("lot", metavar="LOT", help="the lot number")
    withdrawing.add_argument("--reason", required=True, metavar="TEXT",
                             help="why the recall no longer applies")
    _by_option(withdrawing)
    db_option(withdrawing)
    withdrawing.set_defaults(run=_guarded(_run_withdraw), command="recalls withdraw")

    importing = actions.add_parser(
        "import", help="add the lots of a CSV file (columns ndc,lot,reason)")
    importing.add_argument("file", metavar="FILE.csv", help="CSV with a header ndc,lot,reason")
    _by_option(importing)
    db_option(importing)
    importing.set_defaults(run=_guarded(_run_import), command="recalls import")

    listing = actions.add_parser("list", help="the lots on the recall list")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    db_option(listing)
    listing.set_defaults(run=_guarded(_run_list), command="recalls list")

    ndc = commands.add_parser("ndc", help="the FDA NDC Directory: real shapes of NDC digits")
    ndc_actions = ndc.add_subparsers(title="ndc commands", dest="ndc_command",
                                     metavar="ACTION", required=True)
    ndc_import = ndc_actions.add_parser(
        "import", help="import the FDA NDC Directory's package file (package.txt)")
    ndc_import.add_argument("package_file", metavar="PACKAGE_FILE",
                            help="package.txt from the FDA's ndctext.zip (tab-separated)")
    ndc_import.add_argument("--products", metavar="PRODUCT_FILE",
                            help="product.txt from the same download: names and labelers")
    _by_option(ndc_import)
    db_option(ndc_import)
    ndc_import.set_defaults(run=_guarded(_run_ndc_import), command="ndc import")

    lookup = ndc_actions.add_parser(
        "lookup", help="the real NDC(s) a barcode's 10 digits are, per the directory")
    lookup.add_argument("digits", metavar="DIGITS", help="the 10 NDC digits, without hyphens")
    lookup.add_argument("--json", action="store_true", help="print a JSON list")
    db_option(lookup)
    lookup.set_defaults(run=_guarded(_run_ndc_lookup), command="ndc lookup")


# ------------------------------------------------------------------------------ recalls


def _run_add(args: argparse.Namespace, out: TextIO) -> int:
    with _services(args) as services:
        recalls = services.recalls()
        recall = recalls.add(args.ndc, args.lot, args.reason, by=args.by)
        out.write(f"recalled: NDC {recall.ndc} lot {recall.lot}: {recall.reason}\n")
        used = recalls.preparations_using(recall.lot, recall.ndc)
        _print_used(used, recall, out)
        others = [s for s in recalls.preparations_using(recall.lot)
                  if s.preparation_id not in {u.preparation_id for u in used}]
    if others:
        out.write(f"lot {recall.lot} was also used under another NDC in "
                  f"{len(others)} preparation(s):\n")
        _print_summaries(others, out)
    return EXIT_OK


def _print_used(used: Sequence[PreparationSummary], recall: Recall, out: TextIO) -> None:
    if not used:
        out.write(f"no preparation has used lot {recall.lot}\n")
        return
    out.write(f"{len(used)} preparation(s) already used lot {recall.lot}:\n")
    _print_summaries(used, out)


def _print_summaries(found: Sequence[PreparationSummary], out: TextIO) -> None:
    for summary in found:
        out.write(f"  {summary.preparation_id}  {summary.created_utc:%Y-%m-%d %H:%M}Z  "
                  f"{summary.outcome:<21}  {summary.drug or '-'}  "
                  f"patient {summary.patient_id or '-'}  order {summary.order_id or '-'}\n")


def _run_withdraw(args: argparse.Namespace, out: TextIO) -> int:
    with _services(args) as services:
        recall = services.recalls().withdraw(args.ndc, args.lot, args.reason, by=args.by)
    out.write(f"withdrawn: NDC {recall.ndc} lot {recall.lot} is no longer recalled\n")
    return EXIT_OK


def _run_import(args: argparse.Namespace, out: TextIO) -> int:
    source = Path(args.file)
    try:
        text = source.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise ValueError(f"{source}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{source}: not UTF-8 text") from None
    with _services(args) as services:
        recalls = services.recalls()
        report = recalls.import_csv(text, by=args.by, source_name=source.name)
        out.write(report.summary() + "\n")
        for recall in report.added:
            used = recalls.preparations_using(recall.lot, recall.ndc)
            if used:
                out.write(f"NDC {recall.ndc} lot {recall.lot}: ")
                _print_used(used, recall, out)
    return EXIT_OK


def _run_list(args: argparse.Namespace, out: TextIO) -> int:
    with _services(args) as services:
        active = services.recalls().active()
    if args.json:
        print_json([r.as_json() for r in active], out)
        return EXIT_OK
    if not active:
        out.write("the recall list is empty\n")
    for recall in active:
        out.write(f"{recall.ndc!s:<14} {recall.lot:<20} {recall.added_at:%Y-%m-%d} "
                  f"{recall.added_by}: {recall.reason}\n")
    return EXIT_OK


# ------------------------------------------------------------------------------ ndc


def _run_ndc_import(args: argparse.Namespace, out: TextIO) -> int:
    with _services(args) as services:
        directory = NdcDirectory(services.record.engine, services.clock)
        report = directory.import_package_file(Path(args.package_file),
                                               Path(args.products) if args.products else None,
                                               by=args.by)
    out.write(report.summary() + "\n")
    return EXIT_OK


def _run_ndc_lookup(args: argparse.Namespace, out: TextIO) -> int:
    with _services(args) as services:
        directory = NdcDirectory(services.record.engine, services.clock)
        if directory.batch() is None:
            raise StationError("no FDA NDC Directory imported yet: run station ndc import first")
        found = directory.lookup(args.digits)
    if args.json:
        print_json([e.as_json() for e in found], out)
        return EXIT_OK
    if not found:
        raise StationError(f"{args.digits.strip()} is no package of the imported FDA NDC "
                           "Directory in any shape (4-4-2, 5-3-2, 5-4-1)")
    if len(found) > 1:
        out.write(f"{args.digits.strip()} names {len(found)} packages ({SOURCE}); the scan "
                  "alone cannot tell which:\n")
    for entry in found:
        name = f"{entry.name} ({entry.labeler})" if entry.labeler else entry.name
        out.write(f"{entry.ndc}  (11-digit {entry.ndc.hipaa})  {name}\n")
    return EXIT_OK


# ------------------------------------------------------------------------------ shared


@contextlib.contextmanager
def _services(args: argparse.Namespace) -> Iterator[StationServices]:
    """The services on the record at ``--db``, created or migrated first; closed after."""
    record = open_record(args.db)
    try:
        yield services_on(record, clock=utc_now)
    finally:
        record.close()


def _by_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", metavar="USER", default=None,
                        help="who records it (default: the operating-system login)")


def _guarded(run: Run) -> Run:
    checked = guarded(run, _ERRORS)

    def wrapper(args: argparse.Namespace, out: TextIO) -> int:
        if getattr(args, "by", "unset") is None:
            args.by = acting_user()
        return checked(args, out)

    return wrapper
