"""SIGKILL of the whole station mid-preparation loses nothing it announced and corrupts nothing.

The record-level crash test (``tests/records/test_crash_safety.py``) kills a bare appender;
this one kills the real application. Each round a child process
(``tests.ui.crash_app_child``) builds the station on the same SQLite record, signs in as the
demo technician with keys and prepares doses with the demo hood, reporting every event the
hood worker announced as recorded; the parent kills it with SIGKILL at a random moment —
mostly while it prepares, sometimes while it starts up or signs in. The first child instead
dies at the worst moment there is: an order's preparation created, its start not recorded.

Before each round the parent reads from the record what the technician left open, and the
restarted window must reopen exactly that, where it stopped. No child may die by itself or
print a traceback. After every kill the whole record verifies; at the end every reported
event is in it with its photo intact, and a last child carries the reopened preparation on
to held for verification and exits cleanly.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from station.config.model import DEFAULT_SITE_TOLERANCE
from station.core.workflow import Phase, PhotoTaken
from station.records.audit import verify_record
from station.records.photostore import FolderPhotoStore
from station.records.record import Record, open_record
from station.services.order_progress import OrderProgress
from station.services.preparations import PreparationService
from tests.ui.crash_app_child import USER
from tests.ui.station_driver import demo_config, local_clock

#: The station killed and restarted a dozen times.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
STATION_ID = demo_config(ROOT).station.id
#: The kill schedule's seed; set STATION_CRASH_SEED to try another schedule.
SEED = int(os.environ.get("STATION_CRASH_SEED", "20261127"))
ROUNDS = 12
#: Every this many rounds, the kill lands during start-up or sign-in instead.
EARLY_EVERY = 4
#: Extra killed rounds allowed to leave a preparation open for the last child to finish.
EXTRA_ROUNDS = 3
#: A killed round's child must get to its moment of death within this many seconds.
READY_TIMEOUT = 40.0
FINISH_TIMEOUT = 90.0

#: What the parent knows of one event: kind, time, photo (or "-").
EventKey = tuple[str, str, str]


@dataclass
class Reports:
    """Everything the children reported, merged over the rounds."""

    events: dict[tuple[str, int], EventKey] = field(default_factory=dict)
    checks: int = 0
    held: list[str] = field(default_factory=list)
    reopened: int = 0

    def add(self, lines: list[str], expected_open: tuple[str, int] | None) -> None:
        """Take one round's lines; check what the window reopened against the record."""
        for line in lines:
            word, *rest = line.split()
            if word == "event":
                prep, index, kind, at, photo = rest
                key = (prep, int(index))
                first = self.events.setdefault(key, (kind, at, photo))
                assert first == (kind, at, photo), (
                    f"{prep} event {index} was reported as {first}, lost, and then "
                    f"another was recorded in its place: {(kind, at, photo)}")
            elif word == "check":
                self.checks += 1
            elif word == "held":
                self.held.append(rest[0])
            elif word == "reopened":
                assert expected_open == (rest[0], int(rest[1])), (
                    f"the window reopened {rest} but the technician left {expected_open} open")
                self.reopened += 1
            elif word == "fresh":
                assert expected_open is None, f"{expected_open} was left open, not reopened"
            else:
                assert word == "up", f"unknown report {line!r}"


def _service(record: Record) -> PreparationService:
    return PreparationService(record, station_id=STATION_ID,
                              site_tolerance=DEFAULT_SITE_TOLERANCE, clock=local_clock)


def _left_open(url: str) -> tuple[str, int] | None:
    """What the record says the technician left unfinished here, with the events the window
    must show when it reopens it: those recorded, or for a preparation created but never
    started (killed between the two writes) the start that reopening it records."""
    record = open_record(url)
    try:
        progress = OrderProgress(record.events)
        progress.refresh()
        left = progress.open_at(STATION_ID, USER)
        if not left:
            return None
        prep = _service(record).load(left[-1].preparation_id)
        return prep.preparation_id, 1 if prep.phase is Phase.READY else len(prep.events)
    finally:
        record.close()


def _assert_intact(url: str) -> None:
    record = open_record(url)
    try:
        report = verify_record(record.events, record.photos)
        assert report.intact, report.summary()
    finally:
        record.close()


def _lines(received: bytes) -> list[str]:
    # Only a whole line is a report: the child writes each line in one atomic write.
    return [line.decode() for line in received.split(b"\n")[:-1] if line]


@dataclass(frozen=True)
class Kill:
    """When to SIGKILL a child: ``delay`` s after its spawn (``early``: during start-up or
    sign-in), else ``delay`` s after the ``events``-th event it announced since signing in
    (0: since signing in), which puts most kills among the record's writes."""

    delay: float
    early: bool = False
    events: int = 0

    @classmethod
    def draw(cls, rng: random.Random, round_number: int) -> Kill:
        """This round's moment: early every ``EARLY_EVERY`` rounds, else after sign-in."""
        if round_number % EARLY_EVERY == EARLY_EVERY - 1:
            return cls(rng.uniform(0.1, 3.0), early=True)
        if rng.random() < 1 / 3:  # after a restart the first weight takes about 3 s
            return cls(rng.uniform(0.0, 5.0))
        return cls(rng.uniform(0.0, 0.15), events=rng.randint(1, 4))


def _spawn(folder: Path, seed: int, mode: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TMPDIR=str(folder / "tmp"))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.ui.crash_app_child", str(folder), str(seed), mode],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _signed_in_events(lines: list[str]) -> int | None:
    """How many events the child announced since it signed in (None: not signed in yet)."""
    words = [line.split()[0] for line in lines]
    for at, word in enumerate(words):
        if word in {"fresh", "reopened"}:
            return words[at:].count("event")
    return None


def _tail(errors: bytes) -> str:
    """The end of a child's stderr, without the noise its extension modules print at exit."""
    lines = errors.decode(errors="replace").splitlines()
    return "\n".join(line for line in lines
                     if not line.startswith(("nanobind:", " - leaked", " - ...")))[-3000:]


def _run_and_kill(folder: Path, seed: int, kill: Kill) -> list[str]:
    """One child, killed as ``kill`` says; its whole report lines."""
    child = _spawn(folder, seed, "run")
    assert child.stdout is not None
    received = b""
    now = time.monotonic()
    give_up = now + READY_TIMEOUT
    kill_at = now + kill.delay if kill.early else None
    while (now := time.monotonic()) < (kill_at or give_up):
        if select.select([child.stdout], [], [], (kill_at or give_up) - now)[0]:
            chunk = os.read(child.stdout.fileno(), 65536)
            if not chunk:
                break  # it died by itself: the return code below says so
            received += chunk
        announced = _signed_in_events(_lines(received))
        if kill_at is None and announced is not None and announced >= kill.events:
            kill_at = time.monotonic() + kill.delay
    child.send_signal(signal.SIGKILL)
    rest, errors = child.communicate(timeout=10)
    lines = _lines(received + rest)
    assert child.returncode == -signal.SIGKILL, (
        f"the station stopped by itself:\n{_tail(errors)}")
    assert b"Traceback" not in errors, _tail(errors)
    assert kill_at is not None, f"{kill} never came within {READY_TIMEOUT} s: {lines}"
    return lines


def _run_to_the_end(folder: Path, seed: int, mode: str, returncode: int) -> list[str]:
    """One child in ``mode`` that ends by itself with ``returncode``; its report lines."""
    child = _spawn(folder, seed, mode)
    out, errors = child.communicate(timeout=FINISH_TIMEOUT)
    assert child.returncode == returncode, _tail(errors)
    assert b"Traceback" not in errors, _tail(errors)
    return _lines(out)


def test_sigkill_of_the_station_mid_preparation_loses_nothing_and_it_carries_on(
        tmp_path: Path) -> None:
    url = demo_config(tmp_path).record.url
    assert url is not None
    (tmp_path / "tmp").mkdir()
    rng = random.Random(SEED)
    reports = Reports()
    # First the worst moment: the first order's creation is recorded, its start is not.
    reports.add(_run_to_the_end(tmp_path, 0, "crash-after-created", -signal.SIGKILL), None)
    expected = _left_open(url)
    assert expected is not None and expected[1] == 1, expected
    kills = 0
    while kills < ROUNDS or (expected is None and kills < ROUNDS + EXTRA_ROUNDS):
        kills += 1
        reports.add(_run_and_kill(tmp_path, kills, Kill.draw(rng, kills)), expected)
        _assert_intact(url)
        expected = _left_open(url)
    assert expected is not None, "no preparation was left open for the last child to finish"
    reports.add(_run_to_the_end(tmp_path, kills + 1, "finish", 0), expected)
    assert reports.held[-1] == expected[0]

    assert reports.reopened >= ROUNDS // 2, "too few restarts found a preparation to reopen"
    assert len(reports.events) > 2 * ROUNDS, "the children recorded too little between kills"
    record = open_record(url)
    try:
        service = _service(record)
        recorded: dict[str, list[EventKey]] = {}
        for prep_id in {prep for prep, _ in reports.events}:
            events = service.load(prep_id).events
            recorded[prep_id] = [
                (type(e).__name__, e.at.isoformat(),
                 e.photo if isinstance(e, PhotoTaken) else "-") for e in events]
        for (prep_id, index), reported in reports.events.items():
            assert index < len(recorded[prep_id]), f"{prep_id} lost its event {index}"
            assert recorded[prep_id][index] == reported, f"{prep_id} event {index} differs"
            if reported[2] != "-":
                assert record.photos.check(reported[2]) is None
        assert service.load(expected[0]).phase is Phase.AWAITING_VERIFICATION
        checks = [e for e in record.events.events() if e.kind == "balance_check"]
        assert len(checks) >= reports.checks
        report = verify_record(record.events, record.photos)
        assert report.intact, report.summary()
        # A kill mid-write leaves at most an unreferenced temporary file, which a sweep removes.
        photos = tmp_path / "photos"
        for path in photos.rglob("*.jpg"):
            assert record.photos.check(path.stem) is None, path
        assert isinstance(record.photos, FolderPhotoStore)
        record.photos.sweep_incomplete(older_than=0)
        assert not list(photos.rglob(".incoming-*"))
    finally:
        record.close()
