"""App start: process start to a usable station window, against a bare Qt window.

Each start is a fresh Python process (``python -m benchmarks.bench_startup --child KIND``),
offscreen, so interpreter start-up and every import count. Times are from just before the
parent spawns the process to the moment the child sees, on its event loop:

- station: :func:`ui.shell.app.build_station` with a demo configuration (simulated balance and
  camera) whose record is an SQLite file in a fresh temporary folder (so the first start's
  seeding of the demo content counts), started as ``station app`` starts it; usable = the
  window visible on its sign-in page, the balance identified and the first camera frame
  shown in the preview;
- baseline: a bare ``QApplication`` and an empty ``QMainWindow`` shown.

Each child then closes cleanly (the station's threads joined, its simulator stopped, its
record closed) and must exit with status 0; the time from usable to exited is reported too.
The two kinds take turns, ``ROUNDS`` starts each; the medians are compared. ``CLOCK_MONOTONIC``
is one clock for every process on Linux, so the child's timestamps are the parent's.

Command-line start: ``station parse 0304094888026`` as the ``station`` console script runs it
(``ui.launcher.main``), from spawn to exit, against ``python -c pass`` (the interpreter's own
start); the two take turns, ``CLI_ROUNDS`` runs each, and the medians are compared. A command
imports only its own group's module, so this is what any command pays before it works.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from benchmarks.summary import SummaryRow

ROUNDS = 3
CLI_ROUNDS = 15
#: The command-line start and its baseline: argv of each, run from a fresh process.
CLI_KINDS = {
    "station parse": [sys.executable, "-c", "import sys; from ui.launcher import main; "
                      "sys.exit(main(['parse', '0304094888026']))"],
    "python -c pass": [sys.executable, "-c", "pass"],
}
CHILD_TIMEOUT = 120.0
READY_TIMEOUT = 60.0
KINDS = ("station", "bare")
#: How often the child looks whether its window is usable (ms).
POLL_MS = 2


# ---------------------------------------------------------------- the child


def _child_bare(marks: dict[str, float]) -> None:
    from PySide6.QtCore import QTimer  # noqa: PLC0415
    from PySide6.QtWidgets import QApplication, QMainWindow  # noqa: PLC0415

    marks["imported"] = time.monotonic()
    app = QApplication([sys.argv[0]])
    window = QMainWindow()
    window.setWindowTitle("bare")
    window.show()
    marks["shown"] = time.monotonic()

    def ready() -> None:
        marks["ready"] = time.monotonic()
        window.close()
        app.quit()

    QTimer.singleShot(0, ready)
    app.exec()


def _child_station(marks: dict[str, float]) -> None:
    import tempfile  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from PySide6.QtCore import QObject, Qt, QTimer, Slot  # noqa: PLC0415
    from PySide6.QtWidgets import QApplication  # noqa: PLC0415

    from station.config.station_config import config_from_mapping  # noqa: PLC0415
    from station.devices.camera import Frame  # noqa: PLC0415
    from ui.shell.app import build_station  # noqa: PLC0415

    marks["imported"] = time.monotonic()

    class FirstFrame(QObject):
        """Notes the first frame delivered to the GUI thread (after the preview drew it)."""

        seen = False

        @Slot(object)
        def frame(self, _frame: Frame) -> None:
            if not self.seen:
                self.seen = True
                marks["frame"] = time.monotonic()

    app = QApplication([sys.argv[0]])
    app.setApplicationName("IV station")
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as folder:
        config = config_from_mapping(
            {"record": {"url": f"sqlite:///{Path(folder) / 'station.db'}"},
             "station": {"id": "hood-bench", "name": "start-up benchmark"}})
        station = build_station(config)
        marks["built"] = time.monotonic()
        first = FirstFrame()
        # Connected after build_station's own: queued in order, so the preview has it first.
        station.camera_worker.frame_ready.connect(first.frame)
        window = station.window
        app.aboutToQuit.connect(station.close)
        screen = app.primaryScreen()
        if screen is not None:
            window.setGeometry(screen.availableGeometry())
        station.start()
        window.showMaximized()
        marks["shown"] = time.monotonic()
        deadline = time.monotonic() + READY_TIMEOUT

        def check() -> None:
            now = time.monotonic()
            if "balance" not in marks and station.preparation.balance is not None:
                marks["balance"] = now
            usable = (window.isVisible() and window.current_page is window.login_view
                      and "balance" in marks and first.seen)
            if usable or now > deadline:
                if usable:
                    marks["ready"] = now
                timer.stop()
                station.close()  # threads joined, simulator stopped, record closed
                window.close()
                app.quit()

        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.setInterval(POLL_MS)
        timer.timeout.connect(check)
        timer.start()
        app.exec()
        station.close()
        window.deleteLater()
    marks["closed"] = time.monotonic()


def child(kind: str) -> int:
    """Start ``kind``, print its marks as JSON on the last line; 1 when it never got usable."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    marks: dict[str, float] = {}
    (_child_station if kind == "station" else _child_bare)(marks)
    marks.setdefault("closed", time.monotonic())
    print(json.dumps(marks), flush=True)
    return 0 if "ready" in marks else 1


# ---------------------------------------------------------------- the parent


@dataclass(frozen=True)
class Start:
    """One start, in seconds from just before the spawn."""

    kind: str
    marks: dict[str, float]
    exited: float

    def at(self, mark: str) -> float:
        return self.marks.get(mark, float("nan"))


def start_once(kind: str) -> Start:
    """Spawn one child of ``kind``; its marks relative to the spawn."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    spawned = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_startup", "--child", kind],
                          capture_output=True, text=True, env=env, timeout=CHILD_TIMEOUT,
                          check=False)
    exited = time.monotonic() - spawned
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the {kind} start exited with status {done.returncode}:\n"
                           f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
    marks = {name: value - spawned for name, value in json.loads(lines[-1]).items()}
    return Start(kind, marks, exited)


def measure(rounds: int = ROUNDS) -> dict[str, list[Start]]:
    """``rounds`` starts of each kind, taking turns."""
    starts: dict[str, list[Start]] = {kind: [] for kind in KINDS}
    for _ in range(rounds):
        for kind in KINDS:
            starts[kind].append(start_once(kind))
    return starts


def measure_cli(rounds: int = CLI_ROUNDS) -> dict[str, list[float]]:
    """Seconds from spawn to exit of each command-line kind, ``rounds`` each, taking turns."""
    seconds: dict[str, list[float]] = {kind: [] for kind in CLI_KINDS}
    for _ in range(rounds):
        for kind, argv in CLI_KINDS.items():
            spawned = time.monotonic()
            done = subprocess.run(argv, capture_output=True, text=True, timeout=CHILD_TIMEOUT,
                                  check=False)
            seconds[kind].append(time.monotonic() - spawned)
            if done.returncode != 0:
                raise RuntimeError(f"{kind} exited with status {done.returncode}:\n"
                                   f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return seconds


def _median(starts: list[Start], mark: str) -> float:
    return statistics.median(s.at(mark) for s in starts)


def _cell(value: float, width: int = 9) -> str:
    text = "-" if math.isnan(value) else f"{value:.3f}"  # NaN: a mark this kind has not
    return f"{text:>{width}}"


def main() -> list[SummaryRow]:
    """Print the table; return the key figures."""
    starts = measure()
    print(f"App start: process start to a usable window, offscreen, fresh process each "
          f"({ROUNDS} starts each, taking turns; seconds, median)")
    marks = ("imported", "built", "shown", "balance", "frame", "ready")
    header = (f"{'kind':<8} " + " ".join(f"{m:>9}" for m in marks)
              + f" {'closed':>9} {'exited':>9} {'min ready':>10} {'max ready':>10}")
    print(header)
    print("-" * len(header))
    for kind, runs in starts.items():
        readies = [s.at("ready") for s in runs]
        print(f"{kind:<8} " + " ".join(_cell(_median(runs, m)) for m in marks)
              + f" {_median(runs, 'closed'):>9.3f} "
              f"{statistics.median(s.exited for s in runs):>9.3f} "
              f"{min(readies):>10.3f} {max(readies):>10.3f}")
    print("imported = Python up and the modules imported; built = build_station returned "
          "(demo content seeded into the fresh SQLite record); shown = window shown; balance "
          "= balance identified; frame = first camera frame in the preview; ready = all of "
          "it seen on the event loop with the sign-in page up; closed/exited = after a clean "
          "close (every thread joined).")
    station, bare = _median(starts["station"], "ready"), _median(starts["bare"], "ready")

    cli = measure_cli()
    print()
    print(f"Command-line start: spawn to exit, fresh process each ({CLI_ROUNDS} runs each, "
          "taking turns; seconds)")
    header = f"{'command':<16} {'median':>9} {'min':>9} {'max':>9}"
    print(header)
    print("-" * len(header))
    for kind, seconds in cli.items():
        print(f"{kind:<16} {statistics.median(seconds):>9.3f} {min(seconds):>9.3f} "
              f"{max(seconds):>9.3f}")
    parse = statistics.median(cli["station parse"])
    interpreter = statistics.median(cli["python -c pass"])
    return [SummaryRow("start to usable window", station, "s",
                       "bare QApplication+QMainWindow", bare),
            SummaryRow("station parse, start to exit", parse, "s", "python -c pass",
                       interpreter)]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        raise SystemExit(child(arguments.child))
    main()
