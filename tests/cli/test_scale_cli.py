"""`station scale sim` and `station scale read`, each a real process, over a real pty."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

STATION = Path(sys.executable).with_name("station")
SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"
PROTOCOLS = ["mt-sics", "sbi", "ohaus", "and"]
# Linux ptys refuse some line settings (odd parity; 7-E-1 on a reopen) and ignore them all,
# so SBI and A&D run 8-N-1 here.
PTY_OPTIONS = {"sbi": ["--parity", "N"], "and": ["--bytesize", "8", "--parity", "N"]}


class Simulator:
    def __init__(self, protocol: str, scenario: Path | None = None) -> None:
        command = [str(STATION), "scale", "sim", "--protocol", protocol]
        if scenario is not None:
            command += ["--scenario", str(scenario)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        assert self.process.stdout is not None
        self.port = self.process.stdout.readline().strip()
        assert self.port.startswith("/dev/pts/"), self.process.stderr.read()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=10)


@pytest.fixture
def simulator(request) -> Iterator[Simulator]:
    protocol, scenario = request.param
    sim = Simulator(protocol, scenario)
    yield sim
    if sim.process.poll() is None:
        assert sim.stop() == 0, "the simulator ends cleanly on SIGINT"


def read(port: str, protocol: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(STATION), "scale", "read", "--port", port, "--protocol", protocol,
         *PTY_OPTIONS.get(protocol, []), *extra],
        capture_output=True, text=True, check=False, timeout=60,
    )


@pytest.mark.parametrize("simulator", [(p, None) for p in PROTOCOLS], indirect=True,
                         ids=PROTOCOLS)
def test_read_prints_one_stable_reading_as_json(simulator, request):
    protocol = request.node.callspec.id
    result = read(simulator.port, protocol, "--json", "--timeout", "10")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["value"], document["unit"], document["stable"]) == ("100.00", "g", True)
    assert document["raw"].strip()
    assert document["balance"]["serial"] == "SIM0000001"


def scenario_now(tmp: Path, fault: str) -> Path:
    """The fault's scenario with the fault from the first instant."""
    text = (SCENARIOS / f"{fault}.toml").read_text().replace("at = 2.0", "at = 0.0")
    path = tmp / f"{fault}.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("overload", "station scale read: overload\n"),
        ("underload", "station scale read: underload\n"),
        ("silent", "station scale read: no response to '@' from {port}\n"),
    ],
)
def test_faults_end_in_one_line_naming_the_condition_and_no_weight(tmp_path, fault, message):
    sim = Simulator("mt-sics", scenario_now(tmp_path, fault))
    try:
        result = read(sim.port, "mt-sics", "--timeout", "3")
    finally:
        sim.stop()
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == message.format(port=sim.port)


@pytest.mark.slow
def test_never_stable_is_named_with_the_timeout(tmp_path):
    sim = Simulator("mt-sics", scenario_now(tmp_path, "never_stable"))
    try:
        result = read(sim.port, "mt-sics", "--timeout", "2")
    finally:
        sim.stop()
    assert result.returncode == 1
    assert result.stderr.startswith("station scale read: not stable within ")
    assert result.stdout == ""


def test_an_unplugged_balance_fails_at_once_not_at_the_timeout():
    sim = Simulator("mt-sics")
    port = sim.port
    sim.stop()
    started = time.monotonic()
    result = read(port, "mt-sics", "--timeout", "30")
    assert time.monotonic() - started < 5
    assert result.returncode == 1
    assert result.stderr.startswith("station scale read: disconnected: ")


def test_an_unknown_scenario_key_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[model]\nmaker = "X"\nwobble = 1\n')
    result = subprocess.run([str(STATION), "scale", "sim", "--protocol", "mt-sics",
                             "--scenario", str(bad)], capture_output=True, text=True,
                            check=False, timeout=30)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "wobble" in result.stderr
