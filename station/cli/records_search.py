"""``station records seed`` and ``station audit search``: fill a demo record, search a record.

``records seed`` needs ``--db``: seeded preparations can never be deleted from an
append-only record, so they must never land in the default (real) database by accident.
It assembles the simulated balance the seeder weighs on: besides ``station scale sim``, the
one place in ``station`` that imports a simulator (an exception the import-linter contract
lists). ``audit search`` lists preparations by lot, NDC, patient, user, drug, outcome and
date, as a table or with ``--json`` as a JSON list.
Errors end in one line on stderr and exit status 1.

Wiring: ``add_commands(commands, audit_actions)`` registers both, where ``audit_actions``
is the sub-parser group of ``station audit`` (``add_seed`` and ``add_search`` each
register one).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from sqlalchemy.exc import SQLAlchemyError

from station.core.errors import StationError
from station.demo.seed import BALANCE_CAPACITY, BALANCE_READABILITY, SimulatedPan, seed
from station.records.formulary_versions import FormularyVersions
from station.records.record import open_record
from station.records.search import OUTCOMES, PreparationSummary, search, summaries

EXIT_OK, EXIT_FAILED = 0, 1

def simulated_balance(clock: Callable[[], float], rng: random.Random) -> SimulatedPan:
    """The balance the seeder weighs on, on the seeder's clock (seconds).

    A 1,220 g × 1 mg precision balance in a laminar-flow hood: repeatability 0.4 mg, airflow
    0.3 mg, a little drift, stable after about a second of steady readings.
    """
    from scale_drivers.sim.physics import Balance, BalanceModel  # noqa: PLC0415 - only here

    model = BalanceModel(
        capacity=BALANCE_CAPACITY,
        readability=BALANCE_READABILITY,
        settle_time_constant=0.6,
        stability_window=1.0,
        noise_sd=0.0004,
        drift_per_hour=0.002,
        airflow_sd=0.0003,
        airflow_time_constant=3.0,
    )
    return Balance(model, clock=clock, rng=rng)


def add_commands(commands: Any, audit_actions: Any) -> None:
    """Register ``station records seed`` and ``station audit search``."""
    add_seed(commands)
    add_search(audit_actions)


def add_seed(commands: Any) -> None:
    """Register ``station records seed`` on the top-level command group."""
    records = commands.add_parser("records", help="fill a demonstration record")
    actions = records.add_subparsers(title="records commands", dest="records_command",
                                     metavar="ACTION", required=True)
    seeding = actions.add_parser(
        "seed", help="add realistic preparations made through the real workflow",
        description="Add COUNT complete preparations (scans, weights, photos, hard stops, "
        "verifications) to the record at --db. They can never be deleted: use a record "
        "made for demonstrations or tests.")
    seeding.add_argument("--db", metavar="URL", required=True,
                         help="SQLAlchemy URL of the record to fill (required: seeded "
                         "preparations cannot be removed)")
    seeding.add_argument("--count", metavar="N", type=int, required=True,
                         help="how many preparations to add")
    seeding.add_argument("--seed", metavar="S", type=int, default=0,
                         help="random seed: the same seed on the same record state gives the "
                         "same preparations (default %(default)s)")
    seeding.set_defaults(run=_guarded(_run_seed), command="records seed")


def add_search(audit_actions: Any) -> None:
    """Register ``station audit search`` on the ``station audit`` sub-parser group."""
    finder = audit_actions.add_parser(
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
    finder.add_argument("--db", metavar="URL",
                        help="SQLAlchemy URL (default: $STATION_DB, else the embedded SQLite)")
    finder.add_argument("--json", action="store_true", help="print a JSON list")
    finder.set_defaults(run=_guarded(_run_search), command="audit search")


def _guarded(run: Callable[[argparse.Namespace, TextIO], int]) -> Any:
    def wrapper(args: argparse.Namespace, out: TextIO) -> int:
        try:
            return run(args, out)
        except (StationError, SQLAlchemyError, ValueError, OSError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            print(f"station {args.command}: {reason}", file=sys.stderr)
            return EXIT_FAILED

    return wrapper


# ------------------------------------------------------------------------------ seed


def _run_seed(args: argparse.Namespace, out: TextIO) -> int:
    if args.count < 1:
        raise ValueError(f"--count must be at least 1, got {args.count}")
    record = open_record(args.db)
    try:
        report = seed(record, args.count, seed=args.seed, clock=lambda: dt.datetime.now(dt.UTC),
                      pan=simulated_balance)
    finally:
        record.close()
    out.write(report.summary() + "\n")
    return EXIT_OK


# ------------------------------------------------------------------------------ search


def _run_search(args: argparse.Namespace, out: TextIO) -> int:
    date_from = _date(args.date_from, "--from")
    date_to = _date(args.date_to, "--to")
    record = open_record(args.db, migrate=False)
    try:
        found = summaries(record.events, FormularyVersions(record.engine))
    finally:
        record.close()
    matching = search(found, lot=args.lot, ndc=args.ndc, patient=args.patient, user=args.user,
                      date_from=date_from, date_to=date_to, outcome=args.outcome,
                      drug=args.drug)
    if args.json:
        json.dump([s.as_json() for s in matching], out, indent=2, ensure_ascii=False)
        out.write("\n")
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
