"""``station qualify``: the operational qualification, from the command line.

It assembles the simulated hood — the balance simulator on a pseudo-terminal
(:func:`station.qualification.rig.simulated_rig`, with the qualification's noise model,
``fixtures/scenarios/qualification.toml``), the simulated camera — and the station,
configured with the scenario's readability as ``balance.readability`` would (SBI, Ohaus and
A&D balances do not report one). It runs
:func:`station.qualification.run.qualify` into a temporary database (or ``--db``), prints a
table (or, with ``--json``, one JSON object), writes the PDF report and exits 0 when every
injected error was caught and false holds stayed within the target, 1 if an error got
through, 2 if false holds exceeded the target.

The simulated balance's clock runs ``--speed`` times faster than the wall clock (default
10): settling, airflow and drift play out in a tenth of the time, with the same statistics;
everything on the station's side (driver timeouts, records) keeps real time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from scale_drivers.protocols import PROTOCOLS
from scale_drivers.sim.scenario import load_scenario
from station.bootstrap import configured_printer, load_station_config
from station.config.catalog_files import formulary_path, load_worklist
from station.qualification.plan import plan_run
from station.qualification.rig import DEFAULT_SPEED, SCENARIO, simulated_rig
from station.qualification.run import QualificationResult, qualification_services, qualify
from station.records.record import open_record
from station.reports.qualification_pdf import write_qualification_report

DEFAULT_COUNT = 200
DEFAULT_ERROR_RATE = 0.3


def add_commands(commands: Any) -> None:
    """Register ``station qualify`` on the top-level subparsers."""
    parser = commands.add_parser(
        "qualify", help="operational qualification: inject known errors, count those caught",
        description="Make N preparations at a simulated hood through the real drivers, "
        "decoder, workflow and record, with known errors injected physically; report per "
        "error kind what was injected and caught, false holds on clean preparations, and "
        "what a syringe pull-back check would have caught. Exit 1 if an error got through, "
        "2 if false holds exceed 0.5 %.")
    configure(parser)
    parser.set_defaults(run=run)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``station qualify``."""
    parser.add_argument("--count", type=_positive_int, default=DEFAULT_COUNT, metavar="N",
                        help=f"preparations to make (default {DEFAULT_COUNT})")
    parser.add_argument("--seed", type=int, default=1, metavar="S",
                        help="seed of the plan, the noise and the packages (default 1)")
    parser.add_argument("--db", metavar="URL",
                        help="record into this database (default: a temporary one)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of the table")
    parser.add_argument("--pdf", metavar="FILE",
                        help="where to write the report (default qualification-DATE-sSEED.pdf)")
    parser.add_argument("--error-rate", type=_share, default=DEFAULT_ERROR_RATE, metavar="R",
                        help=f"share of preparations with an error (default {DEFAULT_ERROR_RATE})")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="mt-sics",
                        help="the balance protocol spoken on the pseudo-terminal")
    parser.add_argument("--speed", type=float, default=DEFAULT_SPEED, metavar="X",
                        help="how much faster the simulated balance's clock runs "
                             f"(default {DEFAULT_SPEED:g})")


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Run the qualification; the exit status says whether it passed."""
    speed = max(args.speed, 0.1)
    scenario = load_scenario(SCENARIO)
    plan = plan_run(args.count, seed=args.seed, error_rate=args.error_rate)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    pdf = Path(args.pdf or f"qualification-{today}-s{args.seed}.pdf")
    with tempfile.TemporaryDirectory(prefix="qualify-") as temporary:
        folder = Path(temporary)
        url = args.db or f"sqlite:///{folder / 'qualification.db'}"
        with simulated_rig(scenario, args.protocol, folder, seed=args.seed,
                           speed=speed) as rig:
            record = open_record(url)
            try:
                site = load_station_config()
                # the run's labels go to a file of its own, never to the pharmacy's printer
                printer = configured_printer(replace(site.labels, printer=None), folder)
                services = qualification_services(record, site,
                                                  clock=lambda: dt.datetime.now(dt.UTC),
                                                  label_printer=printer)
                result = qualify(services, rig, formulary_path().read_text(encoding="utf-8"),
                                 list(load_worklist()), plan, seed=args.seed,
                                 progress=_progress_bar(sys.stderr),
                                 readability=scenario.model.readability)
            finally:
                record.close()
    pages = write_qualification_report(result, pdf, scenario_path=SCENARIO,
                                       scenario_text=SCENARIO.read_text(encoding="utf-8"),
                                       protocol=args.protocol, speed=speed,
                                       database="temporary" if args.db is None else "given")
    if args.json:
        out.write(json.dumps(result.as_json()) + "\n")
        print(f"report: {pdf} ({pages} pages)", file=sys.stderr)
    else:
        out.write(format_result(result) + f"\nreport: {pdf} ({pages} pages)\n")
    return result.exit_status


def format_result(result: QualificationResult) -> str:
    """The run as a plain-text table with its verdict."""
    rows = [("error", "injected", "caught", "pull-back")]
    for kind, score in result.errors.items():
        rows.append((kind.value, str(score.injected), str(score.caught),
                     str(score.pullback_caught)))
    injected = sum(s.injected for s in result.errors.values())
    caught = sum(s.caught for s in result.errors.values())
    pullback = sum(s.pullback_caught for s in result.errors.values())
    rows.append(("all errors", str(injected), str(caught), str(pullback)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(-1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(f"clean preparations: {result.clean}, false holds: {len(result.false_holds)} "
                 f"({result.false_hold_rate:.2%}; target at most "
                 f"{result.false_hold_target:.1%})")
    for preparation, why in result.false_holds:
        lines.append(f"  false hold {preparation}: {why}")
    for kind, score in result.errors.items():
        for preparation in score.missed:
            lines.append(f"  GOT THROUGH {kind.value}: {preparation}")
    lines.append(f"balance {result.balance}, repeatability s = {result.repeatability} g; "
                 f"{result.count} preparation{'' if result.count == 1 else 's'} in "
                 f"{result.seconds:.0f} s")
    lines.append(_verdict(result))
    return "\n".join(lines)


def _verdict(result: QualificationResult) -> str:
    if result.exit_status == 1:
        return f"FAILED: {result.got_through} injected error(s) got through"
    if result.exit_status == 2:
        return "FAILED: false holds above the target"
    return "PASSED: every injected error was caught; false holds within the target"


def _progress_bar(stream: TextIO) -> Callable[[int, int, QualificationResult], None]:
    tty = stream.isatty()
    width = 30

    def show(done: int, total: int, result: QualificationResult) -> None:
        caught = sum(s.caught for s in result.errors.values())
        injected = sum(s.injected for s in result.errors.values())
        filled = width * done // total
        text = (f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}  "
                f"caught {caught}/{injected}  false holds {len(result.false_holds)}")
        if tty:
            stream.write("\r" + text + ("\n" if done == total else ""))
        elif done == total or done % max(1, total // 10) == 0:
            stream.write(text + "\n")
        stream.flush()

    return show


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value
