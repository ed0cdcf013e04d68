"""``station records seed --db URL --count N``: fill a demonstration record.

``records seed`` needs ``--db``: seeded preparations can never be deleted from an
append-only record, so they must never land in the default (real) database by accident.
The preparations are made through the real workflow, weighed on a simulated balance
(:func:`~station.demo.seed.simulated_balance`), to the site tolerance of the configuration.
Errors end in one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from sqlalchemy.exc import SQLAlchemyError

from station.bootstrap import load_station_config, services_on
from station.cli.common import EXIT_OK, guarded, utc_now
from station.core.errors import StationError
from station.demo.seed import seed, simulated_balance
from station.records.record import open_record

_ERRORS = (StationError, SQLAlchemyError, ValueError, OSError)


def add_commands(commands: Any) -> None:
    """Register ``station records seed`` on the top-level subparsers."""
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
    seeding.set_defaults(run=guarded(run_seed, _ERRORS), command="records seed")


def run_seed(args: argparse.Namespace, out: TextIO) -> int:
    """Add ``args.count`` preparations to the record at ``args.db``; print the summary."""
    if args.count < 1:
        raise ValueError(f"--count must be at least 1, got {args.count}")
    record = open_record(args.db)
    try:
        services = services_on(record, load_station_config(), clock=utc_now)
        report = seed(record, args.count, seed=args.seed, clock=services.clock,
                      pan=simulated_balance, site_tolerance=services.site_tolerance)
    finally:
        record.close()
    out.write(report.summary() + "\n")
    return EXIT_OK
