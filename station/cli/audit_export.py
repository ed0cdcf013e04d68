"""``station audit export PREP_ID --pdf FILE``: one preparation's compounding record as a PDF.

The record is opened as ``station audit verify`` opens it (never migrated), the whole chain
and every photo are re-checked, and the PDF says what that found. A broken chain still gives
the PDF (it says the chain is broken), with one line on stderr and exit status 1.

Wiring: ``configure(parser)`` adds the arguments, ``run`` is the command; ``station.
records_commands`` registers it under ``station audit`` with the shared error handling.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from station.core.quantities import Tolerance
from station.records.audit import verify_record
from station.records.record import open_record
from station.reports.compounding_pdf import write_compounding_record
from station.services.preparations import PreparationService

EXIT_OK, EXIT_FAILED = 0, 1
STATION_ID = "audit-export"
"""The station id the export reads as; it records nothing."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``station audit export``."""
    parser.add_argument("preparation_id", metavar="PREP_ID", help="the preparation's id")
    parser.add_argument("--pdf", metavar="FILE", required=True,
                        help="where to write the compounding record (PDF)")
    parser.add_argument("--db", metavar="URL",
                        help="SQLAlchemy URL (default: $STATION_DB, else the embedded SQLite)")


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Check the chain, then write the PDF; one line on stdout (or stderr if the chain broke)."""
    target = Path(args.pdf)
    record = open_record(args.db, migrate=False)
    try:
        # Reading only: the site tolerance is the one each preparation recorded.
        service = PreparationService(record, station_id=STATION_ID,
                                     site_tolerance=Tolerance(Decimal("0.05")),
                                     clock=lambda: dt.datetime.now(dt.UTC))
        report = verify_record(record.events, record.photos)
        pages = write_compounding_record(service, args.preparation_id, target,
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
