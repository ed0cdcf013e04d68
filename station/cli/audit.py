"""``station audit …``: verify the record, search it, export one preparation's record.

- ``audit verify``: re-check the whole event chain and every photo's hash; exit status 1
  (and the finding on stderr) when something does not hold.
- ``audit search``: list preparations by lot, NDC, patient, user, drug, outcome and date, as
  a table or with ``--json`` as a JSON list.
- ``audit export PREP_ID --pdf FILE``: one preparation's compounding record as a PDF. The
  whole chain and every photo are re-checked first, and the PDF says what that found. A
  broken chain still gives the PDF (it says the chain is broken), with one line on stderr and
  exit status 1.

The record is opened without migrating it: the audit only reads. Errors end in one line on
stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.exc import SQLAlchemyError

from station.bootstrap import services_on
from station.cli.common import EXIT_FAILED, EXIT_OK, db_option, guarded, print_json, utc_now
from station.core.errors import StationError
from station.records.audit import verify_record
from station.records.record import open_record
from station.records.search import OUTCOMES, PreparationSummary, search, summaries
from station.reports.compounding_pdf import write_compounding_record

_ERRORS = (StationError, SQLAlchemyError, ValueError, OSError)


def add_commands(commands: Any) -> None:
    """Register ``station audit`` and its actions on the top-level subparsers."""
    audit = commands.add_parser("audit", help="verify and search the record")
    actions = audit.add_subparsers(title="audit commands", dest="audit_command",
                                   metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify", help="re-check the whole event chain and every photo's hash")
    db_option(verify)
    verify.set_defaults(run=guarded(run_verify, _ERRORS), command="audit verify")

    export = actions.add_parser(
        "export", help="write one preparation's compounding record as a PDF")
    export.add_argument("preparation_id", metavar="PREP_ID", help="the preparation's id")
    export.add_argument("--pdf", metavar="FILE", required=True,
                        help="where to write the compounding record (PDF)")
    db_option(export)
    export.set_defaults(run=guarded(run_export, _ERRORS), command="audit export")

    finder = actions.add_parser(
        "search", help="find preparations by lot, NDC, patient, user, drug, outcome or date",
        description="List the preparations that match every key given; with no key, all of "
        "them. A lot matches only the preparations it was used in (an accepted scan).")
    finder.add_argument("--lot", help="a lot used in the preparation (whole lot, any case)")
    finder.add_argument("--ndc", help="an NDC ordered or scanned, in any shape")
    finder.add_argument("--patient", metavar="ID", help="patient id, or part of the name")
    finder.add_argument("--user", metavar="NAME", help="who prepared, verified or rejected it")
    finder.add_argument("--drug", metavar="TEXT", help="part of a drug's name")
    finder.add_argument("--outcome", metavar="O", help=f"one of: {', '.join(OUTCOMES)}")
    finder.add_argument("--from", dest="date_from", metavar="DATE",
                        help="created on or after this UTC date (YYYY-MM-DD)")
    finder.add_argument("--to", dest="date_to", metavar="DATE",
                        help="created on or before this UTC date (YYYY-MM-DD)")
    db_option(finder)
    finder.add_argument("--json", action="store_true", help="print a JSON list")
    finder.set_defaults(run=guarded(run_search, _ERRORS), command="audit search")


# ------------------------------------------------------------------------------ verify


def run_verify(args: argparse.Namespace, out: TextIO) -> int:
    """Re-check the chain and the photos; 1 (the finding on stderr) if anything is off."""
    record = open_record(args.db, migrate=False)
    try:
        report = verify_record(record.events, record.photos)
    finally:
        record.close()
    if report.intact:
        out.write(report.summary() + "\n")
        return EXIT_OK
    print(f"station audit verify: {report.summary()}", file=sys.stderr)
    return EXIT_FAILED


# ------------------------------------------------------------------------------ export


def run_export(args: argparse.Namespace, out: TextIO) -> int:
    """Check the chain, then write the PDF; one line on stdout (or stderr if the chain broke)."""
    target = Path(args.pdf)
    record = open_record(args.db, migrate=False)
    try:
        # Reading only: the site tolerance is the one each preparation recorded.
        reader = services_on(record, clock=utc_now).reader()
        report = verify_record(record.events, record.photos)
        pages = write_compounding_record(reader, args.preparation_id, target,
                                         chain_ok=report.intact)
    finally:
        record.close()
    written = f"{args.preparation_id}: {pages} page{'' if pages == 1 else 's'} written to {target}"
    if not report.intact:
        print(f"station audit export: {report.summary()}; {written}, marked CHAIN BROKEN",
              file=sys.stderr)
        return EXIT_FAILED
    out.write(f"{written} (chain intact)\n")
    return EXIT_OK


# ------------------------------------------------------------------------------ search


def run_search(args: argparse.Namespace, out: TextIO) -> int:
    """Print the preparations matching every key given, as a table or a JSON list."""
    date_from = _date(args.date_from, "--from")
    date_to = _date(args.date_to, "--to")
    record = open_record(args.db, migrate=False)
    try:
        found = summaries(record.events, services_on(record, clock=utc_now).versions)
    finally:
        record.close()
    matching = search(found, lot=args.lot, ndc=args.ndc, patient=args.patient, user=args.user,
                      date_from=date_from, date_to=date_to, outcome=args.outcome,
                      drug=args.drug)
    if args.json:
        print_json([s.as_json() for s in matching], out)
        return EXIT_OK
    _print_table(matching, out)
    return EXIT_OK


def _date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{option} {text!r} is not a date: expected YYYY-MM-DD") from None


_COLUMNS = ("PREPARATION", "OUTCOME", "CREATED (UTC)", "DRUG", "PATIENT", "PREPARED BY",
            "VERIFIED BY", "LOTS")


def _row(summary: PreparationSummary) -> Sequence[str]:
    decided = summary.verified_by or (f"{summary.rejected_by} (rejected)"
                                      if summary.rejected_by else "-")
    patient = summary.patient_id or "-"
    if summary.patient_name:
        patient += f" {summary.patient_name}"
    return (summary.preparation_id, summary.outcome,
            f"{summary.created_utc:%Y-%m-%d %H:%M}", summary.drug or "-", patient,
            summary.prepared_by or "-", decided, ", ".join(summary.lots) or "-")


def _print_table(found: list[PreparationSummary], out: TextIO) -> None:
    if found:
        rows = [_COLUMNS, *(_row(s) for s in found)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
        for row in rows:
            out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
                      .rstrip() + "\n")
    out.write(f"{len(found)} preparation{'s' if len(found) != 1 else ''}\n")
