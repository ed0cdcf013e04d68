"""``station db …`` and ``station audit …``: create the record, and check it."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from sqlalchemy.exc import SQLAlchemyError

from station import records_search_commands
from station.core.errors import StationError
from station.records.audit import verify_record
from station.records.database import database_url, make_engine
from station.records.migrate import upgrade
from station.records.record import open_record

EXIT_OK, EXIT_FAILED = 0, 1


def add_commands(commands: Any) -> None:
    """Register ``station db`` and ``station audit``."""
    database = commands.add_parser("db", help="create or migrate the record database")
    db_actions = database.add_subparsers(title="db commands", dest="db_command",
                                         metavar="ACTION", required=True)
    up = db_actions.add_parser("upgrade", help="create the database or bring it up to date")
    _db_option(up)
    up.add_argument("--app-role", metavar="ROLE",
                    help="PostgreSQL role the stations connect as: granted SELECT and INSERT only")
    up.set_defaults(run=_guarded(_run_upgrade), command="db upgrade")

    audit = commands.add_parser("audit", help="verify and search the record")
    audit_actions = audit.add_subparsers(title="audit commands", dest="audit_command",
                                         metavar="ACTION", required=True)
    verify = audit_actions.add_parser(
        "verify", help="re-check the whole event chain and every photo's hash")
    _db_option(verify)
    verify.set_defaults(run=_guarded(_run_verify), command="audit verify")
    records_search_commands.add_commands(commands, audit_actions)


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="URL",
                        help="SQLAlchemy URL (default: $STATION_DB, else the embedded SQLite)")


def _guarded(run: Any) -> Any:
    def wrapper(args: argparse.Namespace, out: TextIO) -> int:
        try:
            status: int = run(args, out)
        except (StationError, SQLAlchemyError, ValueError, OSError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            print(f"station {args.command}: {reason}", file=sys.stderr)
            return EXIT_FAILED
        return status

    return wrapper


def _run_upgrade(args: argparse.Namespace, out: TextIO) -> int:
    url = database_url(args.db)
    engine = make_engine(url)
    try:
        upgrade(engine, app_role=args.app_role)
    finally:
        engine.dispose()
    out.write(f"database ready: {engine.url.render_as_string(hide_password=True)}\n")
    return EXIT_OK


def _run_verify(args: argparse.Namespace, out: TextIO) -> int:
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
