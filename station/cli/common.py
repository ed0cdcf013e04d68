"""What the command groups share: exit codes, JSON and row printing, one-line errors.

Imported by every command, so it imports nothing beyond the standard library: a command
that needs no database must not pay for one here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import sys
from collections.abc import Callable
from typing import TextIO

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

Run = Callable[[argparse.Namespace, TextIO], int]
"""A command: its parsed arguments and where to print, in; its exit status, out."""


def utc_now() -> dt.datetime:
    """The time now in UTC: the clock the commands record with."""
    return dt.datetime.now(dt.UTC)


def acting_user() -> str:
    """Who runs the command: ``os:`` and the operating-system login name."""
    try:
        return f"os:{getpass.getuser()}"
    except (OSError, KeyError):
        return f"os:uid={os.getuid()}"


def print_json(document: object, out: TextIO) -> None:
    """``document`` as indented JSON (non-ASCII kept as it is) and a newline."""
    json.dump(document, out, indent=2, ensure_ascii=False)
    out.write("\n")


def print_rows(rows: list[tuple[str, str]], out: TextIO) -> None:
    """Label and value pairs, the values lined up in one column."""
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        out.write(f"{label:<{width}}  {value}\n")


def db_option(parser: argparse.ArgumentParser) -> None:
    """``--db URL``, as the commands on the record take it."""
    parser.add_argument("--db", metavar="URL",
                        help="SQLAlchemy URL (default: $STATION_DB, else the embedded SQLite)")


def guarded(run: Run, errors: tuple[type[BaseException], ...]) -> Run:
    """``run``, with any of ``errors`` ending in one line on stderr and exit status 1.

    The line is ``station COMMAND: `` and the error's first line (its type's name if it has
    no message).
    """

    def wrapper(args: argparse.Namespace, out: TextIO) -> int:
        try:
            return run(args, out)
        except errors as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            print(f"station {args.command}: {reason}", file=sys.stderr)
            return EXIT_FAILED

    return wrapper
