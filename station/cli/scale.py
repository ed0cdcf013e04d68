"""``station scale …``: read, watch and simulate a balance from the command line.

Errors name the condition first (``overload``, ``underload``, ``not stable within 5 s``,
``no response``, ``disconnected``, ``protocol error`` …) in one line on stderr, and no
weight is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

from scale_drivers.api import (
    BalanceDisconnected,
    BalanceError,
    BalanceInfo,
    BalanceOverload,
    BalanceTimeout,
    BalanceUnderload,
    CommandNotExecutable,
    Handshake,
    IdentityMismatch,
    NotStable,
    Parity,
    ProtocolError,
    Reading,
    SerialSettings,
)
from scale_drivers.protocols import PROTOCOLS, UnknownProtocol, open_balance, spec
from station.cli.common import EXIT_FAILED, EXIT_OK

_CONDITIONS: tuple[tuple[type[BalanceError], str], ...] = (
    (BalanceOverload, "overload"),
    (BalanceUnderload, "underload"),
    (NotStable, "not stable"),
    (BalanceTimeout, "no response"),
    (IdentityMismatch, "wrong balance"),
    (BalanceDisconnected, "disconnected"),
    (CommandNotExecutable, "command not executable"),
    (ProtocolError, "protocol error"),
)


def condition_message(error: BalanceError) -> str:
    """The error's message, starting with the name of the condition."""
    text = str(error)
    for kind, name in _CONDITIONS:
        if isinstance(error, kind):
            return text if text.startswith(name) else f"{name}: {text}"
    return text


def add_commands(commands: Any) -> None:
    """Register ``station scale`` and its actions on the top-level subparsers."""
    scale = commands.add_parser("scale", help="read, watch or simulate a laboratory balance")
    actions = scale.add_subparsers(title="scale commands", dest="scale_command",
                                   metavar="ACTION", required=True)

    read = actions.add_parser("read", help="wait for one stable reading and print it")
    _port_options(read)
    read.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                      help="how long to wait for a stable reading (default %(default)s)")
    read.add_argument("--json", action="store_true", help="print one JSON object")
    read.set_defaults(run=_run_read, command="scale read")

    watch = actions.add_parser("watch", help="print readings as they come (diagnostics)")
    _port_options(watch)
    watch.add_argument("--count", type=int, default=0, metavar="N",
                       help="stop after N readings (default: until interrupted)")
    watch.set_defaults(run=_run_watch, command="scale watch")

    sim = actions.add_parser("sim", help="serve a simulated balance on a pseudo-terminal")
    sim.add_argument("--protocol", required=True, choices=sorted(PROTOCOLS))
    sim.add_argument("--scenario", metavar="FILE",
                     help="scenario file (default: a settled 100.00 g load)")
    sim.add_argument("--tcp", action="store_true",
                     help="serve on a TCP port (socket://127.0.0.1:PORT) instead of a pty")
    sim.set_defaults(run=_run_sim, command="scale sim")


def _port_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", required=True,
                        help="device path or URL: /dev/ttyUSB0, COM3, socket://host:port, spy://…")
    parser.add_argument("--protocol", required=True, choices=sorted(PROTOCOLS))
    parser.add_argument("--baud", type=int, help="baud rate (default: the protocol's)")
    parser.add_argument("--parity", choices=[p.value for p in Parity],
                        help="N, E or O (default: the protocol's)")
    parser.add_argument("--bytesize", type=int, choices=(7, 8), help="data bits")
    parser.add_argument("--stopbits", type=int, choices=(1, 2), help="stop bits")
    parser.add_argument("--handshake", choices=[h.value for h in Handshake],
                        help="flow control (default: none)")


def _settings(args: argparse.Namespace) -> SerialSettings:
    base = spec(args.protocol).settings
    return SerialSettings(
        baudrate=args.baud or base.baudrate,
        bytesize=args.bytesize or base.bytesize,
        parity=Parity(args.parity) if args.parity else base.parity,
        stopbits=args.stopbits or base.stopbits,
        handshake=Handshake(args.handshake) if args.handshake else base.handshake,
    )


def _guarded(run: Any) -> Any:
    def wrapper(args: argparse.Namespace, out: TextIO) -> int:
        try:
            result: int = run(args, out)
        except BalanceError as error:
            print(f"station {args.command}: {condition_message(error)}", file=sys.stderr)
            return EXIT_FAILED
        except (UnknownProtocol, ValueError) as error:
            print(f"station {args.command}: {error}", file=sys.stderr)
            return EXIT_FAILED
        return result

    return wrapper


@_guarded
def _run_read(args: argparse.Namespace, out: TextIO) -> int:
    driver = open_balance(args.port, args.protocol, _settings(args))
    try:
        deadline = time.monotonic() + args.timeout
        info = driver.identify()
        reading = driver.read_stable(max(deadline - time.monotonic(), 0.0))
    finally:
        driver.close()
    if args.json:
        json.dump(_reading_json(reading, info, args), out, indent=2)
        out.write("\n")
    else:
        out.write(f"{reading.value} {reading.unit}  stable  "
                  f"({info.maker} {info.model}, serial {info.serial_number})\n")
    return EXIT_OK


def _reading_json(reading: Reading, info: BalanceInfo, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "value": str(reading.value),
        "unit": reading.unit,
        "stable": reading.stable,
        "raw": reading.raw,
        "command": reading.command,
        "utc": reading.utc.isoformat(),
        "port": args.port,
        "protocol": args.protocol,
        "balance": {
            "maker": info.maker,
            "model": info.model,
            "serial": info.serial_number,
            "firmware": info.firmware,
            "capacity": str(info.capacity) if info.capacity is not None else None,
            "readability": str(info.readability) if info.readability is not None else None,
        },
    }


@_guarded
def _run_watch(args: argparse.Namespace, out: TextIO) -> int:
    driver = open_balance(args.port, args.protocol, _settings(args))
    try:
        info = driver.identify()
        out.write(f"{info.maker} {info.model}, serial {info.serial_number}\n")
        out.flush()
        for shown, reading in enumerate(_readings(driver), start=1):
            flag = "stable" if reading.stable else "moving"
            out.write(f"{reading.value:>12} {reading.unit:<3} {flag:<7} {reading.raw!r}\n")
            out.flush()
            if args.count and shown >= args.count:
                break
    except KeyboardInterrupt:
        pass
    finally:
        driver.close()
    return EXIT_OK


def _readings(driver: Any) -> Iterator[Reading]:
    stream = getattr(driver, "stream", None)
    if callable(stream):
        yield from stream()
        return
    while True:
        yield driver.read_immediate()


@_guarded
def _run_sim(args: argparse.Namespace, out: TextIO) -> int:
    from scale_drivers.sim.server import run_simulator  # noqa: PLC0415 - only here
    from station.demo.balance import SIMULATOR_NAMES  # noqa: PLC0415 - only here

    transport = "tcp" if args.tcp else "pty"
    status: int = run_simulator(SIMULATOR_NAMES[args.protocol], args.scenario, transport, out=out)
    return status
