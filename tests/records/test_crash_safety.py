"""SIGKILL at any moment loses no committed event and corrupts nothing, on both backends.

A child process appends events with photos and reports each event only after its append
call returned. The parent kills it at random moments, many times, then checks that every
reported event is there with its photo intact, and that the whole record still verifies.
A store that acknowledged before committing would fail here.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from station.records.audit import verify_record
from station.records.photostore import DatabasePhotoStore, FolderPhotoStore
from station.records.store import EventStore

#: Child processes killed at random moments, dozens of times.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
KILLS = 25


def _run_and_kill(url: str, photo_dir: Path, preparation: str, after: float) -> list[str]:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.records.crash_child", url, str(photo_dir), preparation],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    received = b""
    deadline = time.monotonic() + after
    while time.monotonic() < deadline:
        ready, _, _ = select.select([child.stdout], [], [], max(deadline - time.monotonic(), 0))
        if ready:
            chunk = os.read(child.stdout.fileno(), 65536)
            if not chunk:
                break
            received += chunk
    child.send_signal(signal.SIGKILL)
    rest, errors = child.communicate(timeout=10)
    received += rest
    assert child.returncode == -signal.SIGKILL, errors.decode(errors="replace")
    # Only a whole line is a report: the child writes each line in one atomic write.
    return [line.decode() for line in received.split(b"\n")[:-1] if line]


def test_sigkill_at_random_moments_loses_nothing_committed(backend, tmp_path):
    photo_dir = tmp_path / "photos"
    rng = random.Random(20261126)
    reported: list[str] = []
    for round_number in range(KILLS):
        # Startup takes ~0.3 s; kill anywhere from before the first append to well after.
        reported += _run_and_kill(backend.url, photo_dir, f"P-CRASH{round_number % 3}",
                                  rng.uniform(0.2, 1.2))
    assert len(reported) > KILLS, "the child must have committed events between kills"
    store = EventStore(backend.engine)
    photos = (FolderPhotoStore(photo_dir) if backend.name == "sqlite"
              else DatabasePhotoStore(backend.engine))
    recorded = {e.sequence: e.payload["photo"] for e in store.events()}
    for line in reported:
        sequence, sha256 = line.split()
        assert recorded.get(int(sequence)) == sha256, f"reported event {sequence} was lost"
        assert photos.check(sha256) is None
    report = verify_record(store, photos)
    assert report.intact, report.summary()
    if backend.name == "sqlite":
        # No photo file may be half-written: any file named by a hash has that hash.
        for path in photo_dir.rglob("*.jpg"):
            assert photos.check(path.stem) is None, path
        # A kill mid-write leaves only an unreferenced temporary file, which a sweep removes.
        photos.sweep_incomplete(older_than=0)
        assert not list(photo_dir.rglob(".incoming-*"))
