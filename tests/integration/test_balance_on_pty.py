"""Each protocol's real driver against its simulator on a real pseudo-terminal.

The simulator is written from the protocol descriptions, sharing no code with the drivers;
pyserial opens its pty by path exactly as it would open /dev/ttyUSB0. For every fault the
driver must raise the named error, and no wrong weight is ever returned.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest

from scale_drivers.api import (
    BalanceDisconnected,
    BalanceError,
    BalanceOverload,
    BalanceTimeout,
    BalanceUnderload,
    IdentityMismatch,
    NotStable,
    Parity,
    ProtocolError,
    SerialSettings,
)
from scale_drivers.connection import LinkState, ManagedBalance
from scale_drivers.protocols import open_balance
from scale_drivers.sim.server import SimulatorServer
from scale_drivers.transport import PortBusy
from station.demo.balance import SIMULATOR_NAMES

#: Every driver against its simulator on a real pty, at the wire's pace.
pytestmark = pytest.mark.slow

# Linux ptys refuse some line settings (odd parity; 7-E-1 on a reopen) with EINVAL, and a pty
# ignores them anyway, so SBI's 8-O-1 and A&D's 7-E-1 run as 8-N-1 here. Real adapters take
# the factory settings.
PTY_SETTINGS = {"sbi": SerialSettings(9600, 8, Parity.NONE),
                "and": SerialSettings(2400, 8, Parity.NONE)}
PROTOCOLS = sorted(SIMULATOR_NAMES)
LOAD = Decimal("100.00")


@pytest.fixture(params=PROTOCOLS)
def protocol(request) -> str:
    return request.param


@pytest.fixture
def server(protocol) -> Iterator[SimulatorServer]:
    with SimulatorServer(SIMULATOR_NAMES[protocol], seed=7) as running:
        yield running


@pytest.fixture
def driver(server, protocol):
    opened = open_balance(server.url, protocol, PTY_SETTINGS.get(protocol))
    opened.response_timeout = 1.0
    yield opened
    opened.close()


def test_identify_then_read_the_settled_load(driver):
    info = driver.identify()
    assert info.serial_number == "SIM0000001"
    reading = driver.read_stable(timeout=10)
    assert reading.stable
    assert reading.value == LOAD
    assert reading.raw.strip()


def test_a_new_load_is_read_once_it_has_settled(driver, server):
    driver.identify()
    server.balance.set_load(Decimal("37.25"))
    reading = driver.read_stable(timeout=15)
    assert abs(reading.value - Decimal("37.25")) <= Decimal("0.01")


@pytest.mark.parametrize(
    ("fault", "error", "words"),
    [
        ("overload", BalanceOverload, "overload"),
        ("underload", BalanceUnderload, "underload"),
        ("silent", BalanceTimeout, "no response"),
    ],
)
def test_faults_are_named_errors_never_weights(driver, server, protocol, fault, error, words):
    driver.identify()
    server.inject(fault)
    if protocol == "ohaus" and fault in ("overload", "underload"):
        # Ohaus documents no output for an out-of-range load: whatever it prints instead of
        # a weight is refused as garbage, naming the line. Never a weight.
        error, words = ProtocolError, "protocol error: garbled reply"
    with pytest.raises(error) as raised:
        driver.read_stable(timeout=3)
    assert words in str(raised.value)


def test_a_balance_that_never_settles_is_not_stable_in_time(driver, server):
    driver.identify()
    server.inject("never_stable")
    with pytest.raises(NotStable, match=r"^not stable within 1.5 s"):
        driver.read_stable(timeout=1.5)


def test_garbage_is_never_a_weight(driver, server):
    driver.identify()
    server.inject("garbage")
    outcomes = []
    for _ in range(5):
        try:
            outcomes.append(driver.read_immediate().value)
        except BalanceError as error:
            outcomes.append(type(error))
    for outcome in outcomes:
        assert outcome in (LOAD, ProtocolError, BalanceTimeout), f"garbage became {outcome}"


def test_an_unplug_is_a_disconnection_not_a_wait_for_the_timeout(driver, server):
    driver.identify()
    server.inject("unplug")
    # Waiting out the timeout would end in NotStable or BalanceTimeout instead.
    with pytest.raises(BalanceDisconnected):
        driver.read_stable(timeout=10)


@contextmanager
def behind_a_stable_path(protocol: str, link: Path) -> Iterator[tuple[SimulatorServer,
                                                                    ManagedBalance]]:
    """A simulator served through a symlink (like /dev/serial/by-id) and a supervised driver."""
    with SimulatorServer(SIMULATOR_NAMES[protocol], seed=3) as server:
        server.stop()
        server.start(link=link)
        settings = PTY_SETTINGS.get(protocol)
        managed = ManagedBalance(lambda: open_balance(str(link), protocol, settings))
        try:
            yield server, managed
        finally:
            managed.close()


def test_reconnect_after_unplug_through_a_stable_path(protocol, tmp_path: Path):
    with behind_a_stable_path(protocol, tmp_path / "balance") as (server, managed):
        assert managed.connect().serial_number == "SIM0000001"
        server.inject("unplug")
        assert _beat_until(managed, LinkState.DISCONNECTED)
        with pytest.raises(BalanceDisconnected):
            managed.read_immediate()
        server.replug()
        managed.reconnect(deadline=time.monotonic() + 5, interval=0.1)
        assert managed.epoch == 2
        assert managed.read_stable(timeout=10).value == LOAD


def test_a_different_balance_after_replug_is_refused(protocol, tmp_path: Path):
    with behind_a_stable_path(protocol, tmp_path / "balance") as (server, managed):
        managed.connect()
        server.inject("serial_change")
        server.inject("unplug")
        assert _beat_until(managed, LinkState.DISCONNECTED)
        server.replug()
        with pytest.raises(IdentityMismatch, match=r"expected SIM0000001"):
            managed.reconnect(deadline=time.monotonic() + 5, interval=0.1)
        assert managed.state is LinkState.DISCONNECTED


def test_a_silent_balance_goes_offline_on_heartbeats(protocol, server):
    managed = ManagedBalance(lambda: open_balance(server.url, protocol, PTY_SETTINGS.get(protocol)))
    managed.connect()
    assert managed.heartbeat() is LinkState.CONNECTED
    server.inject("silent")
    assert _beat_until(managed, LinkState.OFFLINE)
    server.clear("silent")
    assert _beat_until(managed, LinkState.CONNECTED)
    managed.close()


def _beat_until(managed: ManagedBalance, state: LinkState, limit: float = 10) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if managed.heartbeat() is state:
            return True
    return False


# ------------------------------------------------------------------ MT-SICS specifics


@pytest.fixture
def mt(server, protocol):
    if protocol != "mt-sics":
        pytest.skip("MT-SICS only")
    opened = open_balance(server.url, protocol, PTY_SETTINGS.get(protocol))
    yield opened
    opened.close()


def test_mt_sics_slow_stability_refuses_to_tare(mt, server):
    mt.identify()
    server.inject("slow_stability")
    with pytest.raises(NotStable, match=r"^not stable within 5 s: tare cancelled$"):
        mt.tare(timeout=5)


def test_mt_sics_syntax_and_transmission_errors(mt, server):
    mt.identify()
    server.inject("syntax_error")
    with pytest.raises(BalanceError, match=r"\(ES\)"):
        mt.read_immediate()
    server.clear("syntax_error")
    server.inject("transmission_error")
    with pytest.raises(ProtocolError, match=r"transmission error \(ET\)"):
        mt.read_immediate()


def test_mt_sics_tare_and_streaming(mt, server):
    mt.identify()
    assert mt.tare(timeout=10).value == LOAD
    assert mt.read_stable(timeout=10).value == Decimal("0.00")
    stream = mt.stream()
    values = [next(stream).value for _ in range(3)]
    stream.close()
    assert all(abs(v) <= Decimal("0.02") for v in values)


# ------------------------------------------------------------------ ports as strings


def test_an_ethernet_balance_is_a_socket_url():
    with SimulatorServer("mt_sics", transport="tcp", seed=2) as server:
        assert server.url.startswith("socket://127.0.0.1:")
        driver = open_balance(server.url, "mt-sics")
        try:
            assert driver.identify().serial_number == "SIM0000001"
            assert driver.read_stable(timeout=10).value == LOAD
        finally:
            driver.close()


def test_a_traffic_dump_through_a_spy_url(server, protocol, tmp_path):
    if protocol != "mt-sics":
        pytest.skip("one protocol is enough to show the URL handler")
    dump = tmp_path / "traffic.txt"
    driver = open_balance(f"spy://{server.url}?file={dump}", protocol)
    try:
        driver.read_immediate()
    finally:
        driver.close()
    assert "SI" in dump.read_text()


def test_one_owner_per_port(server, protocol):
    first = open_balance(server.url, protocol, PTY_SETTINGS.get(protocol))
    try:
        with pytest.raises(PortBusy, match=r"is already in use by this station$"):
            open_balance(server.url, protocol, PTY_SETTINGS.get(protocol))
    finally:
        first.close()
    open_balance(server.url, protocol, PTY_SETTINGS.get(protocol)).close()
