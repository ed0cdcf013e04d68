"""Balance link: the driver's time per reading against the wire and a bare pyserial client.

The simulator runs in its own process on a real pty, pacing its output as a 9600-baud wire
would, so this process's CPU time is the driver's alone. For each protocol, in one run:

- wire time: the command and reply bytes at 9600 baud (the simulator paces only its reply,
  so a round trip can come in under this);
- baseline: a bare pyserial client sending the same command and reading one line;
- driver: ``read_immediate()`` through the real driver; overhead = driver − baseline;
- driver CPU per reading (process time);
- MT-SICS ``SIR`` streaming: readings a second against the link's limit.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import serial

from benchmarks.summary import SummaryRow
from scale_drivers.api import Parity, SerialSettings
from scale_drivers.protocols import open_balance
from station.demo.balance import SIMULATOR_NAMES

BAUD = 9600
READINGS = 200
SCENARIO = Path(__file__).resolve().parents[1] / "fixtures" / "scenarios" / "settled.toml"
COMMANDS = {"mt-sics": b"SI\r\n", "sbi": b"\x1bP\r\n", "ohaus": b"IP\r\n", "and": b"Q\r\n"}
# A pty takes only some parity/size combinations, so every protocol runs 8-N-1 here: 10 bits
# a character, the same wire time as 7-E-1 (8-O-1 would be 11).
PTY_SETTINGS = dict.fromkeys(SIMULATOR_NAMES, SerialSettings(BAUD, 8, Parity.NONE))


def _serve(protocol: str, update_rate: float, pipe: Connection) -> None:
    """Child process: serve a paced simulator until the parent closes the pipe."""
    from scale_drivers.sim.scenario import scenario_from_mapping  # noqa: PLC0415
    from scale_drivers.sim.server import SimulatorServer  # noqa: PLC0415

    data = tomllib.loads(SCENARIO.read_text())
    data["model"]["update_rate"] = update_rate
    data["serial"] = {"baudrate": BAUD, "bytesize": 8, "parity": "N", "stopbits": 1}
    scenario = scenario_from_mapping(data, source="benchmark")
    with SimulatorServer(SIMULATOR_NAMES[protocol], scenario, pacing_baud=BAUD, seed=1) as server:
        pipe.send(server.url)
        pipe.recv()  # until the parent is done


@dataclass
class Simulator:
    """A paced simulator in a child process."""

    protocol: str
    update_rate: float = 10.0

    def __enter__(self) -> str:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve,
                                        args=(self.protocol, self.update_rate, child))
        self._process.start()
        url: str = self._pipe.recv()
        return url

    def __exit__(self, *exc: object) -> None:
        self._pipe.send("stop")
        self._process.join(10)


def _timed(action: Callable[[], object], count: int) -> tuple[list[float], float]:
    """Wall times of ``count`` calls, and the process CPU time per call."""
    walls = []
    cpu_start = time.process_time()
    for _ in range(count):
        started = time.perf_counter()
        action()
        walls.append(time.perf_counter() - started)
    return walls, (time.process_time() - cpu_start) / count


def _raw_client(url: str, command: bytes) -> tuple[Callable[[], bytes], serial.Serial]:
    port = serial.serial_for_url(url, timeout=2)

    def exchange() -> bytes:
        port.reset_input_buffer()
        port.write(command)
        return port.readline()

    return exchange, port


@dataclass
class Row:
    """One protocol's figures, in milliseconds."""

    protocol: str
    wire: float
    baseline: float
    driver: float
    driver_p95: float
    cpu: float

    @property
    def overhead(self) -> float:
        """What the driver adds to a bare client's round trip."""
        return self.driver - self.baseline


def measure_protocol(protocol: str, count: int = READINGS) -> Row:
    """Round trips for one protocol: bare client, then the driver, on the same simulator."""
    settings = PTY_SETTINGS[protocol]
    with Simulator(protocol) as url:
        exchange, port = _raw_client(url, COMMANDS[protocol])
        reply = exchange()
        raw_walls, _ = _timed(exchange, count)
        port.close()
        driver = open_balance(url, protocol, settings)
        driver.read_immediate()
        walls, cpu = _timed(driver.read_immediate, count)
        driver.close()
    wire = settings.wire_seconds(len(COMMANDS[protocol]) + len(reply))
    ordered = sorted(walls)
    return Row(protocol, wire * 1000, statistics.median(raw_walls) * 1000,
               statistics.median(walls) * 1000, ordered[int(len(ordered) * 0.95)] * 1000,
               cpu * 1000)


def measure_streaming(seconds: float = 3.0) -> tuple[float, float]:
    """MT-SICS SIR readings a second, and the link's limit for those lines at 9600 baud."""
    settings = PTY_SETTINGS["mt-sics"]
    with Simulator("mt-sics", update_rate=1000.0) as url:
        driver = open_balance(url, "mt-sics", settings)
        stream = driver.stream()
        first = next(stream)
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            next(stream)
            count += 1
        elapsed = time.perf_counter() - started
        stream.close()
        driver.close()
    line = len(first.raw) + 2
    return count / elapsed, 1 / settings.wire_seconds(line)


def main() -> list[SummaryRow]:
    """Print the table; return the key figures."""
    rows = []
    print(f"Balance link over a pty, simulator paced at {BAUD} baud, {READINGS} readings each")
    print(f"{'protocol':<9} {'wire':>8} {'baseline':>9} {'driver':>8} {'p95':>8} "
          f"{'overhead':>9} {'driver CPU':>11}   (ms per reading; goal: overhead < 1 ms)")
    for protocol in ("mt-sics", "sbi", "ohaus", "and"):
        row = measure_protocol(protocol)
        print(f"{row.protocol:<9} {row.wire:>8.2f} {row.baseline:>9.2f} {row.driver:>8.2f} "
              f"{row.driver_p95:>8.2f} {row.overhead:>9.2f} {row.cpu:>11.3f}")
        rows.append(SummaryRow(f"{protocol} driver overhead/reading", row.overhead, "ms",
                               "wire time", row.wire))
    rate, limit = measure_streaming()
    print(f"MT-SICS SIR streaming: {rate:.1f} readings/s against the link's limit of "
          f"{limit:.1f} lines/s ({rate / limit:.0%})")
    rows.append(SummaryRow("mt-sics SIR streaming", rate, "/s", "link limit", limit))
    return rows


if __name__ == "__main__":
    main()
