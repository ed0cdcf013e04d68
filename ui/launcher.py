"""The ``station`` command: the command line of :mod:`station.cli.main`, plus ``station app``.

``station app`` (and ``station`` with no command) opens the station window. It lives here,
not in :mod:`station.cli.main`, because ``station`` never imports Qt; the command line offers it
through :class:`~station.cli.main.ExtraCommand`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from station.cli.main import ExtraCommand
from station.cli.main import main as cli_main


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", type=Path,
                        help="configuration file (default: $STATION_CONFIG, else the user's "
                             "iv-station/station.toml; none: the demo)")


def _run(args: argparse.Namespace, _out: TextIO) -> int:
    from ui.shell.app import main as app_main  # noqa: PLC0415 (Qt loads only for the window)

    return app_main(config_path=args.config)


APP = ExtraCommand("app", "open the station window (the default command)", _configure, _run,
                   default=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``station``; with no command, open the window."""
    return cli_main(argv, extra=(APP,))
