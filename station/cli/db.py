"""``station db upgrade``: create the record database, or bring its schema up to date.

With ``--app-role`` (PostgreSQL) the role the stations connect as is granted SELECT and
INSERT only, so a station can never change or remove what it recorded. Errors end in one
line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from sqlalchemy.exc import SQLAlchemyError

from station.cli.common import EXIT_OK, db_option, guarded
from station.core.errors import StationError
from station.records.database import database_url, make_engine
from station.records.migrate import upgrade

_ERRORS = (StationError, SQLAlchemyError, ValueError, OSError)


def add_commands(commands: Any) -> None:
    """Register ``station db`` and its action on the top-level subparsers."""
    database = commands.add_parser("db", help="create or migrate the record database")
    actions = database.add_subparsers(title="db commands", dest="db_command",
                                      metavar="ACTION", required=True)
    up = actions.add_parser("upgrade", help="create the database or bring it up to date")
    db_option(up)
    up.add_argument("--app-role", metavar="ROLE",
                    help="PostgreSQL role the stations connect as: granted SELECT and INSERT only")
    up.set_defaults(run=guarded(run_upgrade, _ERRORS), command="db upgrade")


def run_upgrade(args: argparse.Namespace, out: TextIO) -> int:
    """Create or migrate the database at ``args.db``; print its URL without the password."""
    url = database_url(args.db)
    engine = make_engine(url)
    try:
        upgrade(engine, app_role=args.app_role)
    finally:
        engine.dispose()
    out.write(f"database ready: {engine.url.render_as_string(hide_password=True)}\n")
    return EXIT_OK
