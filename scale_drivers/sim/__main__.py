"""``python -m scale_drivers.sim --protocol mt_sics [--scenario FILE] [--transport tcp]``."""

from __future__ import annotations

import argparse
import sys

from scale_drivers.sim.server import PROTOCOLS, TRANSPORTS, run_simulator


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and serve a simulated balance until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m scale_drivers.sim",
        description="Serve a simulated balance; prints the device path or URL, then serves "
                    "until SIGINT or SIGTERM.")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="mt_sics")
    parser.add_argument("--scenario", default=None,
                        help="scenario TOML file (default: a settled 100.00 g load)")
    parser.add_argument("--transport", choices=TRANSPORTS, default="pty")
    arguments = parser.parse_args(argv)
    return run_simulator(arguments.protocol, arguments.scenario, arguments.transport)


if __name__ == "__main__":
    sys.exit(main())
