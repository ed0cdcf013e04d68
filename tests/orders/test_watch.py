"""`station orders watch`: order files dropped into a folder are imported as they arrive."""

from __future__ import annotations

import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from station.intake.watch import FolderWatch

STATION = Path(sys.executable).with_name("station")
FHIR = Path(__file__).resolve().parents[2] / "fixtures" / "orders" / "fhir"


def test_a_file_is_offered_once_it_stops_growing_and_again_when_rewritten(tmp_path):
    watch = FolderWatch(tmp_path)
    order = tmp_path / "order.json"
    order.write_text("{}")
    (tmp_path / "notes.txt").write_text("ignored")
    assert watch.pending() == [], "first sight: it may still be growing"
    assert watch.pending() == [order]
    assert watch.pending() == []
    order.write_text('{"changed": true}')
    watch.pending()
    assert watch.pending() == [order]


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    return process.stdout.readline() if ready else ""


@pytest.mark.slow  # the watch command polling its folder
def test_the_watch_command_imports_an_order_dropped_into_the_folder(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    process = subprocess.Popen(
        [str(STATION), "orders", "watch", str(inbox), "--interval", "0.1",
         "--db", f"sqlite:///{tmp_path / 'station.db'}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert _read_line(process, 30).startswith(f"watching {inbox}")
        source = next(p for p in sorted(FHIR.glob("*.json")) if "contained" in p.name)
        shutil.copy(source, inbox / source.name)
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline and source.name not in line:
            line = _read_line(process, 1)
        assert f"{source.name}: accepted: created " in line
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
