"""``station db …`` and ``station audit …``: create the record, and check it."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.exc import SQLAlchemyError

from station.cli import audit_export as audit_export_commands
from station.cli import records_search as records_search_commands
from station.core.errors import StationError
from station.records.audit import verify_record
from station.records.database import database_url, make_engine
from station.records.formulary_versions import FormularyVersions
from station.records.migrate import upgrade
from station.records.record import open_record
from station.records.users import SessionManager, UserDirectory

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
    export = audit_actions.add_parser(
        "export", help="write one preparation's compounding record as a PDF")
    audit_export_commands.configure(export)
    export.set_defaults(run=_guarded(audit_export_commands.run), command="audit export")
    records_search_commands.add_commands(commands, audit_actions)


def add_formulary_import(formulary_actions: Any) -> None:
    """Register ``station formulary import FILE`` under the formulary command."""
    imported = formulary_actions.add_parser(
        "import", help="make a formulary file the version in use, signed by a pharmacist")
    imported.add_argument("file", help="the formulary file (TOML)")
    imported.add_argument("--by", required=True, metavar="USER",
                          help="the pharmacist who signs the import")
    imported.add_argument("--password-stdin", action="store_true",
                          help="read the signer's password from standard input")
    _db_option(imported)
    imported.set_defaults(run=_guarded(_run_formulary_import), command="formulary import")


def _run_formulary_import(args: argparse.Namespace, out: TextIO) -> int:
    source = Path(args.file)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"{source}: {error.strerror}") from None
    password = (sys.stdin.readline().rstrip("\n") if args.password_stdin
                else getpass.getpass(f"Password of {args.by} (signing: formulary-imported): "))
    record = open_record(args.db)
    try:
        now = dt.datetime.now(dt.UTC)
        sessions = SessionManager(UserDirectory(record.engine, lambda: dt.datetime.now(dt.UTC)))
        session = sessions.start(args.by, password, now=now)
        signature = sessions.sign(session, password, "formulary-imported", now=now)
        version = FormularyVersions(record.engine).import_text(
            text, source.name, imported_by=signature.manifestation(), utc=now)
    finally:
        record.close()
    out.write(f"formulary version {version.version} ({source.name}, sha256 "
              f"{version.sha256[:12]}…) signed: {version.imported_by}\n")
    return EXIT_OK


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
