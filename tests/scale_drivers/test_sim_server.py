"""Simulators served on real pseudo-terminals and TCP ports, opened with plain pyserial.

Also the scenario files and the runnable entry point. Nothing here sleeps: waits are reads
with a timeout or polls against a deadline, and device time comes from a fake clock where
a test needs to move it.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
import serial

from scale_drivers.sim.faults import FAULT_NAMES, UnknownFault
from scale_drivers.sim.scenario import (
    SCENARIO_DIR,
    Scenario,
    ScenarioError,
    TimelineEvent,
    default_scenario,
    load_scenario,
)
from scale_drivers.sim.server import SimulatorServer, run_simulator

# Each test serves a simulator on a real pseudo-terminal: seconds in all.
pytestmark = pytest.mark.slow

D = Decimal
ROOT = Path(__file__).resolve().parents[2]


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture(autouse=True)
def no_leaks():
    threads = set(threading.enumerate())
    fds = fd_count()
    yield
    assert set(threading.enumerate()) == threads
    assert fd_count() == fds


class FakeClock:
    def __init__(self) -> None:
        self._now = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


def quiet() -> Scenario:
    scenario = default_scenario()
    return replace(scenario, model=replace(scenario.model, noise_sd=0.0))


def ask(port: serial.SerialBase, command: bytes) -> bytes:
    port.write(command)
    return port.readline()


def wait_until(condition, seconds: float = 2.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        threading.Event().wait(0.01)


# ====================================================================== pty
@pytest.mark.parametrize(("protocol", "command", "reply"), [
    ("mt_sics", b"SI\r\n", b"S S     100.00 g\r\n"),
    ("sbi", b"\x1bP", b"+   100.00 g  \r\n"),
    ("ohaus", b"IP\r\n", b"    100.00 g  \r\n"),
    ("and_gx", b"Q\r\n", b"ST,+00100.00  g\r\n"),
])
def test_each_protocol_answers_on_a_real_pty(protocol, command, reply):
    with SimulatorServer(protocol, quiet()) as sim, serial.Serial(sim.url, timeout=1) as port:
        assert sim.url.startswith("/dev/pts/")
        assert ask(port, command) == reply


def test_the_pty_opens_with_any_serial_settings():
    with SimulatorServer("and_gx", quiet()) as sim, serial.Serial(
            sim.url, baudrate=2400, bytesize=7, parity="E", timeout=1) as port:
        assert ask(port, b"?SN\r\n") == b"SN,SIM0000001\r\n"


def test_loads_placed_by_a_test_show_on_the_wire():
    brisk = replace(quiet(), model=replace(quiet().model, settle_time_constant=0.05,
                                           stability_window=0.2))
    with SimulatorServer("mt_sics", brisk) as sim, serial.Serial(sim.url, timeout=2) as port:
        sim.balance.place("12.50")
        port.write(b"S\r\n")  # waits about 0.6 s for the balance to settle, in real time
        assert port.readline() == b"S S     112.50 g\r\n"


def test_a_multi_line_reply_and_a_stream_over_the_pty():
    with SimulatorServer("mt_sics", quiet()) as sim, serial.Serial(sim.url, timeout=1) as port:
        port.write(b"I0\r\n")
        lines = [port.readline()]
        while not lines[-1].startswith(b"I0 A"):
            lines.append(port.readline())
            assert len(lines) < 50
        assert lines[0] == b'I0 B 0 "@"\r\n'
        port.write(b"SIR\r\n")
        assert [port.readline() for _ in range(3)] == [b"S S     100.00 g\r\n"] * 3
        port.write(b"@\r\n")
        line = port.readline()
        while line != b'I4 A "SIM0000001"\r\n':
            assert line == b"S S     100.00 g\r\n"
            line = port.readline()
        port.timeout = 0.3
        assert port.read(100) == b""


def test_unplug_makes_the_next_read_and_write_raise_at_once(tmp_path):
    link = tmp_path / "balance"
    with SimulatorServer("mt_sics", quiet()) as sim:
        pass
    sim = SimulatorServer("mt_sics", quiet())
    try:
        assert sim.start(link=link) == str(link)
        with serial.Serial(str(link), timeout=2) as port:
            assert ask(port, b"@\r\n") == b'I4 A "SIM0000001"\r\n'
            sim.inject("unplug")
            assert not link.exists()
            started = time.monotonic()
            with pytest.raises(serial.SerialException):  # an OSError, as the notes say
                port.read(1)
            assert time.monotonic() - started < 1.0
            with pytest.raises(serial.SerialException, match="write failed"):
                port.write(b"SI\r\n")
        sim.replug()
        assert link.is_symlink() and os.readlink(link) == sim.pty_path
        with serial.Serial(str(link), timeout=1) as port:
            assert ask(port, b"@\r\n") == b'I4 A "SIM0000001"\r\n'
            assert ask(port, b"SI\r\n") == b"S S     100.00 g\r\n"
    finally:
        sim.stop()
    assert not link.exists()


def test_replugging_a_plugged_device_unplugs_it_first(tmp_path):
    link = tmp_path / "balance"
    sim = SimulatorServer("ohaus", quiet())
    try:
        sim.start(link=link)
        with serial.Serial(str(link), timeout=1) as old:
            sim.replug()
            with pytest.raises(serial.SerialException, match="write failed"):
                old.write(b"IP\r\n")
        with serial.Serial(str(link), timeout=1) as port:
            assert ask(port, b"PSN\r\n") == b"SIM0000001\r\n"
    finally:
        sim.stop()


def test_serial_change_reports_another_serial_number_after_a_replug(tmp_path):
    link = tmp_path / "balance"
    sim = SimulatorServer("mt_sics", quiet())
    try:
        sim.start(link=link)
        sim.inject("serial_change")
        with serial.Serial(str(link), timeout=1) as port:
            assert ask(port, b"I4\r\n") == b'I4 A "SIM0000001"\r\n'  # not until replugged
        sim.inject("unplug")
        sim.clear("unplug")
        with serial.Serial(str(link), timeout=1) as port:
            assert ask(port, b"@\r\n") == b'I4 A "SIM0000002"\r\n'
        sim.clear("serial_change")
        sim.replug()
        with serial.Serial(str(link), timeout=1) as port:
            assert ask(port, b"@\r\n") == b'I4 A "SIM0000001"\r\n'
    finally:
        sim.stop()


def test_silent_keeps_the_port_open_but_never_answers():
    with SimulatorServer("mt_sics", quiet()) as sim, serial.Serial(sim.url,
                                                                   timeout=0.2) as port:
        sim.inject("silent")
        assert port.write(b"SI\r\n") == 4
        assert port.read(100) == b""
        assert port.write(b"@\r\n") == 3
        assert port.read(100) == b""
        sim.clear("silent")
        port.timeout = 1
        assert ask(port, b"SI\r\n") == b"S S     100.00 g\r\n"


def test_garbage_corrupts_replies_until_cleared():
    with SimulatorServer("mt_sics", quiet(), seed=5) as sim, serial.Serial(
            sim.url, timeout=0.3) as port:
        sim.inject("garbage")
        port.write(b"SI\r\nSI\r\nSI\r\n")
        received = port.read(1000)
        assert received and b"S S     100.00 g\r\n" not in received
        sim.clear("garbage")
        port.timeout = 1
        port.reset_input_buffer()
        assert ask(port, b"SI\r\n") == b"S S     100.00 g\r\n"


@pytest.mark.parametrize(("fault", "reply"), [("overload", b"S +\r\n"), ("underload", b"S -\r\n"),
                                              ("syntax_error", b"ES\r\n"),
                                              ("transmission_error", b"ET\r\n")])
def test_device_faults_show_on_the_wire(fault, reply):
    with SimulatorServer("mt_sics", quiet()) as sim, serial.Serial(sim.url, timeout=1) as port:
        sim.inject(fault)
        assert fault in sim.faults
        assert ask(port, b"SI\r\n") == reply


def test_blocking_commands_wait_in_device_time_with_a_fake_clock():
    clock = FakeClock()
    with SimulatorServer("mt_sics", quiet(), clock=clock) as sim, serial.Serial(
            sim.url, timeout=0.3) as port:
        sim.inject("never_stable")
        port.write(b"S\r\n")
        assert port.read(100) == b""
        clock.advance(30.5)  # the balance's own 30 s wait runs out
        port.timeout = 1
        assert port.readline() == b"S I\r\n"


def test_the_timeline_runs_on_the_device_clock():
    clock = FakeClock()
    scenario = replace(quiet(), timeline=(
        TimelineEvent(0.0, "place", mass=D("20.00")),
        TimelineEvent(10.0, "fault", fault="overload"),
    ))
    with SimulatorServer("mt_sics", scenario, clock=clock) as sim, serial.Serial(
            sim.url, timeout=1) as port:
        wait_until(lambda: sim.balance.load == D("120.00"))
        clock.advance(5)
        assert ask(port, b"SI\r\n") == b"S S     120.00 g\r\n"
        clock.advance(5)
        wait_until(lambda: "overload" in sim.faults)
        assert ask(port, b"SI\r\n") == b"S +\r\n"


def test_a_timeline_can_unplug_and_replug():
    clock = FakeClock()
    scenario = replace(quiet(), timeline=(TimelineEvent(1.0, "fault", fault="unplug"),
                                          TimelineEvent(2.0, "clear", fault="unplug")))
    with SimulatorServer("mt_sics", scenario, clock=clock) as sim:
        first = sim.url
        clock.advance(1)
        wait_until(lambda: sim.pty_path is None)
        clock.advance(1)
        wait_until(lambda: sim.pty_path is not None)
        with serial.Serial(sim.url, timeout=1) as port:
            assert ask(port, b"I4\r\n") == b'I4 A "SIM0000001"\r\n'
        assert first.startswith("/dev/pts/")


def test_pacing_takes_the_wire_time_of_the_serial_settings():
    # 8N1: 10 bits a character. The I0 reply is 243 bytes: 1.01 s at 2400 baud.
    with SimulatorServer("mt_sics", quiet(), pacing_baud=2400) as sim, serial.Serial(
            sim.url, timeout=2) as port:
        started = time.monotonic()
        port.write(b"I0\r\n")
        received = port.read_until(b'I0 A 1 "TI"\r\n')
        elapsed = time.monotonic() - started
    assert len(received) == 243
    assert elapsed >= 243 * 10 / 2400 - 0.01
    assert elapsed < 243 * 10 / 2400 + 0.5


def test_pacing_counts_eleven_bits_for_odd_parity():
    with SimulatorServer("sbi", quiet(), pacing_baud=9600) as sim:
        assert sim.serial_settings.parity == "O"
        assert sim.serial_settings.bits_per_character == 11


# ====================================================================== TCP
@pytest.mark.parametrize(("protocol", "command", "reply"), [
    ("mt_sics", b"SI\r\n", b"S S     100.00 g\r\n"),
    ("and_gx", b"?TN\r\n", b"TN,   SIM-220\r\n"),
])
def test_each_protocol_answers_over_tcp(protocol, command, reply):
    with SimulatorServer(protocol, quiet(), transport="tcp") as sim:
        assert sim.url == f"socket://127.0.0.1:{sim.port}"
        with serial.serial_for_url(sim.url, timeout=1) as port:
            assert ask(port, command) == reply


def test_tcp_unplug_drops_the_connection_and_replug_listens_on_the_same_port():
    with SimulatorServer("mt_sics", quiet(), transport="tcp") as sim:
        url = sim.url
        with serial.serial_for_url(url, timeout=2) as port:
            assert ask(port, b"SI\r\n") == b"S S     100.00 g\r\n"
            sim.inject("unplug")
            started = time.monotonic()
            with pytest.raises(serial.SerialException, match="socket disconnected"):
                port.read(1)
            assert time.monotonic() - started < 1.0
        with pytest.raises(serial.SerialException, match="Could not open port"):
            serial.serial_for_url(url, timeout=1)
        sim.replug()
        assert sim.url == url
        with serial.serial_for_url(url, timeout=1) as port:
            assert ask(port, b"I4\r\n") == b'I4 A "SIM0000001"\r\n'


def test_a_new_tcp_connection_replaces_the_old_one():
    with SimulatorServer("mt_sics", quiet(), transport="tcp") as sim, serial.serial_for_url(
            sim.url, timeout=1) as first:
        assert ask(first, b"SI\r\n") == b"S S     100.00 g\r\n"
        with serial.serial_for_url(sim.url, timeout=1) as second:
            assert ask(second, b"I4\r\n") == b'I4 A "SIM0000001"\r\n'


# ====================================================================== life cycle
def test_the_server_refuses_bad_arguments_and_misuse():
    with pytest.raises(ValueError, match="unknown protocol 'mettler'; expected one of: mt_sics"):
        SimulatorServer("mettler")
    with pytest.raises(ValueError, match="unknown transport 'usb'; expected one of: pty, tcp"):
        SimulatorServer("mt_sics", transport="usb")  # type: ignore[arg-type]
    sim = SimulatorServer("mt_sics")
    with pytest.raises(RuntimeError, match="not been started"):
        _ = sim.url
    with pytest.raises(UnknownFault, match="unknown fault 'fire'"):
        sim.inject("fire")
    sim.start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            sim.start()
    finally:
        sim.stop()
    sim.stop()  # stopping twice is harmless


def test_every_fault_can_be_injected_and_cleared_on_a_running_server():
    with SimulatorServer("mt_sics", quiet()) as sim:
        for fault in FAULT_NAMES:
            sim.inject(fault)
            sim.clear(fault)
        assert sim.faults.active() == frozenset()
        with serial.Serial(sim.url, timeout=1) as port:
            assert ask(port, b"SI\r\n") == b"S S     100.00 g\r\n"


# ====================================================================== scenarios
def test_settled_toml_is_the_documented_default():
    assert load_scenario(SCENARIO_DIR / "settled.toml") == default_scenario()


def test_every_shipped_scenario_loads_and_every_fault_has_one():
    names = {path.stem for path in SCENARIO_DIR.glob("*.toml")}
    assert {"settled", "hood_airflow", "slow_settling", *FAULT_NAMES} <= names
    for path in SCENARIO_DIR.glob("*.toml"):
        scenario = load_scenario(path)
        assert scenario.description
    for fault in FAULT_NAMES:
        faults = {event.fault for event in load_scenario(SCENARIO_DIR / f"{fault}.toml").timeline}
        assert fault in faults


def test_hood_airflow_moves_the_reading_by_tens_of_milligrams():
    clock = FakeClock()
    balance = load_scenario(SCENARIO_DIR / "hood_airflow.toml").build_balance(clock=clock)
    values, stable = [], 0
    for _ in range(3000):
        clock.advance(0.1)
        reading = balance.reading()
        values.append(reading.value)
        stable += reading.stable
    assert D("0.03") <= max(values) - min(values) <= D("0.15")
    assert 0.2 < stable / 3000 < 0.8


SCENARIO = """
[model]
maker = "Example"
model = "EX-1"
serial_number = "E1"
firmware = "2"
capacity = "100.0"
readability = "0.1"
{model}
{rest}
[load]
initial = "1.0"
"""


@pytest.mark.parametrize(("model", "rest", "message"), [
    ('colour = "red"', "", "model.colour: unknown key; expected one of: capacity, firmware"),
    ("", "[physics]\nnoise = 1.0", "physics.noise: unknown key; expected one of: airflow_sd"),
    ('update_rate = "fast"', "", "model.update_rate: expected a number, got 'fast'"),
    ("update_rate = 0", "", "model.update_rate: expected a positive number, got 0"),
    ("", "[physics]\nnoise_sd = -1", "physics.noise_sd: expected zero or more, got -1"),
    ("", "", None),
    ("", '[serial]\nparity = "X"', "serial.parity: expected one of N, E, O, got 'X'"),
    ("", "[serial]\nbytesize = 9", "serial.bytesize: expected one of 7, 8, got 9"),
    ("", "[sbi]\nid_code = 1", "sbi.id_code: expected true or false, got 1"),
    ("", '[[timeline]]\nat = 1\nfault = "fire"', "timeline[0].fault: unknown fault 'fire'"),
    ("", '[[timeline]]\nat = 1\nplace = "1"\nremove = "1"',
     "timeline[0]: expected exactly one of: place, remove, set_load, fault, clear; "
     "got place, remove"),
    ("", "[[timeline]]\nplace = \"1\"", "timeline[0].at: missing"),
    ("", '[[timeline]]\nat = 1\nplace = "lots"',
     "timeline[0].place: expected grams as a decimal number such as \"100.00\", got 'lots'"),
])
def test_scenario_files_are_read_strictly(tmp_path, model, rest, message):
    path = tmp_path / "case.toml"
    path.write_text(SCENARIO.format(model=model, rest=rest))
    if message is None:
        assert load_scenario(path).initial_load == D("1.0")
        return
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert str(error.value).startswith(f"{path}: {message}")


@pytest.mark.parametrize(("text", "message"), [
    ('[model]\nmaker = "x"\n[load]\ninitial = 1\n', "model.model: missing"),
    ("[load]\ninitial = 1\n", "model: missing table"),
    ("x = = 1", "not valid TOML"),
    ('readability = "0.1"\n', "readability: unknown key"),
])
def test_scenario_errors_name_the_file_and_the_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=f"^{re.escape(str(path))}: {message}"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match=r"nowhere\.toml: no such file"):
        load_scenario(tmp_path / "nowhere.toml")


# ====================================================================== entry point
def test_run_simulator_prints_only_the_path_on_the_first_line_and_stops_cleanly():
    out = io.StringIO()
    stop = threading.Event()
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(
        run_simulator("ohaus", None, "pty", out, stop=stop)))
    runner.start()
    try:
        wait_until(lambda: out.getvalue().endswith("\n"))
        path = out.getvalue().splitlines()[0]
        assert path.startswith("/dev/pts/")
        with serial.Serial(path, timeout=1) as port:
            port.write(b"PSN\r\n")
            assert port.readline() == b"SIM0000001\r\n"
    finally:
        stop.set()
        runner.join()
    assert result == [0]


def test_run_simulator_reports_a_bad_scenario_with_status_2(tmp_path, capsys):
    assert run_simulator("mt_sics", tmp_path / "missing.toml", "pty") == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'missing.toml'}: no such file\n"
    assert run_simulator("mt_sics", None, "usb") == 2
    assert "unknown transport 'usb'" in capsys.readouterr().err


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_the_module_runs_as_a_process_until_a_signal(stop_signal):
    process = subprocess.Popen(
        [sys.executable, "-m", "scale_drivers.sim", "--protocol", "and_gx", "--transport",
         "tcp", "--scenario", str(SCENARIO_DIR / "settled.toml")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().rstrip("\n")
        assert url.startswith("socket://127.0.0.1:")
        with serial.serial_for_url(url, timeout=1) as port:
            port.write(b"?SN\r\n")
            assert port.readline() == b"SN,SIM0000001\r\n"
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
