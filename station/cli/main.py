"""The ``station`` command line: a table of command groups, each imported only when it runs.

:data:`GROUPS` names every top-level command, its line of help and the module that holds it,
so ``station --help`` lists them all without importing any. For the command actually given,
:func:`main` imports that one module, which adds its subparser (``add_commands``), and runs
it: ``station parse`` never loads the database, the camera or the reports.

Every subcommand prints what a person reads, or with ``--json`` one JSON document. Bad
input ends in one line on stderr saying what is wrong and a non-zero exit, never a
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from station.cli.common import EXIT_FAILED, EXIT_OK, Run
from station.core.errors import StationError


@dataclass(frozen=True)
class Group:
    """A top-level command: its name, its line in ``station --help``, the module that runs it.

    The module's ``add_commands(commands)`` adds the group's subparser (with the same help)
    to the top-level subparsers; a module may hold more than one group.
    """

    name: str
    help: str
    module: str


GROUPS: tuple[Group, ...] = (
    Group("parse", "parse one barcode scan into NDC, GTIN, lot, expiry and serial",
          "station.cli.parse"),
    Group("formulary", "list the formulary's products, or import a signed new version",
          "station.cli.formulary"),
    Group("orders", "the worklist of dose orders", "station.cli.orders"),
    Group("recipe", "show the steps that make one order", "station.cli.recipe"),
    Group("scale", "read, watch or simulate a laboratory balance", "station.cli.scale"),
    Group("db", "create or migrate the record database", "station.cli.db"),
    Group("audit", "verify and search the record", "station.cli.audit"),
    Group("records", "fill a demonstration record", "station.cli.records"),
    Group("users", "add, list, disable and enable user accounts", "station.cli.users"),
    Group("decode", "read the barcodes in image files (EAN/UPC, GS1-128, DataBar, DataMatrix)",
          "station.cli.decode"),
    Group("label", "make the label of an order: PDF preview, ZPL, or print it",
          "station.cli.labels"),
    Group("recalls", "the pharmacy's list of recalled lots", "station.cli.recalls"),
    Group("ndc", "the FDA NDC Directory: real shapes of NDC digits", "station.cli.recalls"),
    Group("qualify", "operational qualification: inject known errors, count those caught",
          "station.cli.qualify"),
)


@dataclass(frozen=True)
class ExtraCommand:
    """A command an outer layer adds (the station window, from ``ui``).

    ``configure`` adds its options to its subparser; with ``default`` it also runs when no
    command is given.
    """

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Run
    default: bool = False


def main(argv: Sequence[str] | None = None, extra: Sequence[ExtraCommand] = ()) -> int:
    """Run the command line; returns the process exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = _parser(_command_name(arguments), extra)
    args = parser.parse_args(arguments)
    if not hasattr(args, "run"):
        default = next((c for c in extra if c.default), None)
        if default is None:
            parser.print_help()
            return EXIT_OK
        args = parser.parse_args([default.name])
    try:
        run: Run = args.run
        return run(args, sys.stdout)
    except StationError as error:
        print(f"station {args.command}: {error}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        # The reader (e.g. `head`) went away: stop quietly, as other command-line tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED


def _command_name(arguments: Sequence[str]) -> str | None:
    """The command argparse will pick: the first argument that is not an option.

    ``station`` itself takes no option with a value, so that is the first word without a
    leading ``-``.
    """
    return next((a for a in arguments if not a.startswith("-")), None)


def _parser(command: str | None, extra: Sequence[ExtraCommand]) -> argparse.ArgumentParser:
    """``station``'s parser: the module of ``command`` loaded, every other group by name."""
    parser = argparse.ArgumentParser(
        prog="station",
        description="IV compounding station: scan, weigh and photograph every step of a dose.",
    )
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    chosen = next((g.module for g in GROUPS if g.name == command), None)
    for group in GROUPS:
        if group.module != chosen:
            # Never parsed: the command given is another group's. It only lists the name
            # (for --help and for the choices an unknown command is told).
            commands.add_parser(group.name, help=group.help)
        elif group.name == next(g.name for g in GROUPS if g.module == chosen):
            # The module adds all its groups, in place of its first one.
            importlib.import_module(chosen).add_commands(commands)
    for addition in extra:
        sub = commands.add_parser(addition.name, help=addition.help, description=addition.help)
        addition.configure(sub)
        sub.set_defaults(run=addition.run)
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
