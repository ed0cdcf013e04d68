"""`station db upgrade` and `station audit verify`, as real processes on an SQLite record."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from station.records.record import open_record
from station.records.store import NewEvent

STATION = Path(sys.executable).with_name("station")


def station(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(STATION), *args], capture_output=True, text=True, check=False,
                          timeout=60)


@pytest.mark.slow
def test_upgrade_then_verify_an_empty_then_a_used_record(tmp_path):
    url = f"sqlite:///{tmp_path / 'station.db'}"
    created = station("db", "upgrade", "--db", url)
    assert created.returncode == 0, created.stderr
    assert created.stdout == f"database ready: {url}\n"
    assert station("audit", "verify", "--db", url).stdout == (
        "0 events in 0 preparations, 0 photos, chain intact\n")
    record = open_record(url)
    sha = record.photos.put(b"\xff\xd8 a vial \xff\xd9")
    record.events.append(NewEvent("P-1", "photo_taken", {"photo": sha}, "tech.ana", "hood-1",
                                  dt.datetime(2026, 11, 26, tzinfo=dt.UTC)), 0)
    record.close()
    verified = station("audit", "verify", "--db", url)
    assert (verified.returncode, verified.stdout) == (
        0, "1 events in 1 preparations, 1 photos, chain intact\n")


@pytest.mark.slow
def test_verify_names_the_first_altered_event(tmp_path):
    url = f"sqlite:///{tmp_path / 'station.db'}"
    record = open_record(url)
    for version in range(3):
        record.events.append(NewEvent("P-1", "weight_read", {"mass": str(version)}, "tech.ana",
                                      "hood-1", dt.datetime(2026, 11, 26, tzinfo=dt.UTC)),
                             version)
    record.close()
    with sqlite3.connect(tmp_path / "station.db") as raw:
        raw.execute("DROP TRIGGER events_no_update")
        raw.execute("UPDATE events SET payload = '{\"mass\":\"7\"}' WHERE sequence = 2")
    result = station("audit", "verify", "--db", url)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "station audit verify: chain broken at event 2: content does not match its hash "
        "(altered)\n"
    )
