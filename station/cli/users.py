"""``station users …``: add, list, disable and enable accounts, and set a password.

The database is ``--db``, else ``STATION_DB``, else the embedded default; each command
first brings its schema up to date, so a fresh database works. The change is recorded as
made by the operating-system account running the command, ``os:<login>`` (for example
``os:alice``): whoever can run these commands against the database administers its
accounts. A password is asked for twice without echo, or read from one line of standard
input with ``--password-stdin``. Errors are one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import Any, TextIO

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from station.bootstrap import services_on
from station.cli.common import EXIT_FAILED, EXIT_OK, Run, acting_user, print_json, utc_now
from station.core.accounts import AccountError, Role, parse_user_id
from station.core.errors import StationError
from station.records.record import open_record
from station.records.users import DuplicateUser, User, UserDirectory


def add_commands(commands: Any) -> None:
    """Register ``station users`` and its actions on the top-level subparsers."""
    users = commands.add_parser("users", help="add, list, disable and enable user accounts")
    actions = users.add_subparsers(title="users commands", dest="users_command",
                                   metavar="ACTION", required=True)

    add = actions.add_parser("add", help="create an account (asks for its password twice)")
    add.add_argument("user_id", metavar="NAME", help="login name, e.g. rph.jane")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--printed-name", required=True, metavar="FULL NAME",
                     help="the name shown on the user's signatures")
    _password_option(add)
    _db_option(add)
    add.set_defaults(run=_guarded(_run_add), command="users add")

    listing = actions.add_parser("list", help="list accounts and their status")
    _db_option(listing)
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(run=_guarded(_run_list), command="users list")

    disable = actions.add_parser("disable", help="disable an account (it can no longer sign)")
    disable.add_argument("user_id", metavar="NAME")
    disable.add_argument("--reason", required=True, metavar="TEXT", help="why (recorded)")
    _db_option(disable)
    disable.set_defaults(run=_guarded(_run_disable), command="users disable")

    enable = actions.add_parser("enable", help="enable a disabled or locked-out account")
    enable.add_argument("user_id", metavar="NAME")
    _db_option(enable)
    enable.set_defaults(run=_guarded(_run_enable), command="users enable")

    password = actions.add_parser("password", help="set a new password for an account")
    password.add_argument("user_id", metavar="NAME")
    _password_option(password)
    _db_option(password)
    password.set_defaults(run=_guarded(_run_password), command="users password")


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="URL",
                        help="database URL (default: $STATION_DB, else the embedded database)")


def _password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the password from one line of standard input")


def _guarded(run: Run) -> Run:
    def guarded(args: argparse.Namespace, out: TextIO) -> int:
        try:
            return run(args, out)
        except (StationError, ValueError, OSError) as error:
            message = str(error)
        except SQLAlchemyError as error:
            cause: BaseException = error
            if isinstance(error, DBAPIError) and error.orig is not None:
                cause = error.orig
            lines = str(cause).strip().splitlines()
            message = f"database error: {lines[0] if lines else type(cause).__name__}"
        except (EOFError, KeyboardInterrupt):
            message = "cancelled: no password given"
        print(f"station {args.command}: {message}", file=sys.stderr)
        return EXIT_FAILED

    return guarded


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\r\n")
    first = getpass.getpass(f"Password for {args.user_id}: ")
    second = getpass.getpass("Same password again: ")
    if first != second:
        raise AccountError("the two passwords differ; nothing was changed")
    return first


def _with_directory(args: argparse.Namespace, action: Callable[[UserDirectory], int]) -> int:
    """Run ``action`` on the accounts of the record at ``--db`` (created or migrated first)."""
    record = open_record(args.db)
    try:
        return action(services_on(record, clock=utc_now).users)
    finally:
        record.close()


def _run_add(args: argparse.Namespace, out: TextIO) -> int:
    role = Role(args.role)
    by = acting_user()

    def add(directory: UserDirectory) -> int:
        # Refuse what can be refused before anyone types a password twice.
        parse_user_id(args.user_id)
        if not args.printed_name.strip():
            raise AccountError("the printed name is empty")
        if (existing := directory.get(args.user_id)) is not None:
            raise DuplicateUser(f"user {args.user_id} exists already ({existing.status})")
        password = _read_password(args)
        user = directory.add(args.user_id, args.printed_name, role, password, by=by)
        out.write(f"added {user.user_id} ({user.role.value}): {user.printed_name}\n")
        return EXIT_OK

    return _with_directory(args, add)


def _run_password(args: argparse.Namespace, out: TextIO) -> int:
    by = acting_user()

    def set_password(directory: UserDirectory) -> int:
        if directory.get(args.user_id) is None:
            raise AccountError(f"no user {args.user_id}")
        user = directory.set_password(args.user_id, _read_password(args), by=by)
        out.write(f"new password set for {user.user_id}\n")
        return EXIT_OK

    return _with_directory(args, set_password)


def _run_list(args: argparse.Namespace, out: TextIO) -> int:
    def listing(directory: UserDirectory) -> int:
        users = directory.list()
        if args.json:
            print_json([_user_json(u) for u in users], out)
            return EXIT_OK
        width = max((len(u.user_id) for u in users), default=0)
        for user in users:
            out.write(f"{user.user_id:<{width}}  {user.role.value:<10}  {user.status:<8}  "
                      f"{user.printed_name}\n")
        out.write(f"{len(users)} users\n")
        return EXIT_OK

    return _with_directory(args, listing)


def _user_json(user: User) -> dict[str, Any]:
    return {
        "user_id": user.user_id,
        "printed_name": user.printed_name,
        "role": user.role.value,
        "status": user.status,
        "active": user.active,
        "locked": user.locked,
        "failed_logins": user.failed_logins,
        "created_at": user.created_at,
        "password_set_at": user.password_set_at,
    }


def _run_disable(args: argparse.Namespace, out: TextIO) -> int:
    by = acting_user()

    def disable(directory: UserDirectory) -> int:
        user = directory.disable(args.user_id, by=by, reason=args.reason)
        out.write(f"disabled {user.user_id}\n")
        return EXIT_OK

    return _with_directory(args, disable)


def _run_enable(args: argparse.Namespace, out: TextIO) -> int:
    by = acting_user()

    def enable(directory: UserDirectory) -> int:
        user = directory.enable(args.user_id, by=by)
        out.write(f"enabled {user.user_id}\n")
        return EXIT_OK

    return _with_directory(args, enable)
