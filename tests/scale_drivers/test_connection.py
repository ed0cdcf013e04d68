"""The supervisor: heartbeat, offline, garbled, unplug, reconnect with re-identification."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest

from scale_drivers.api import (
    BalanceDisconnected,
    BalanceInfo,
    BalanceOverload,
    BalanceTimeout,
    IdentityMismatch,
    ProtocolError,
    Reading,
)
from scale_drivers.connection import GARBLED_SILENT_MISSES, LinkState, ManagedBalance
from scale_drivers.mt_sics import MtSicsBalance, MtSicsCodec
from scale_drivers.testing import ScriptedPort

IDENTIFY = [
    (b"@\r\n", b'I4 A "B207696838"\r\n'),
    (b"I2\r\n", b'I2 A "XS204 Excellence 220.0090 g"\r\n'),
    (b"I3\r\n", b"ES\r\n"),
    (b"I4\r\n", b'I4 A "B207696838"\r\n'),
]
RESET = (b"@\r\n", b'I4 A "B207696838"\r\n')


def identify_as(serial: bytes):
    return [(b"@\r\n", b'I4 A "' + serial + b'"\r\n'),
            (b"I2\r\n", b'I2 A "XS204 Excellence 220.0090 g"\r\n'),
            (b"I3\r\n", b"ES\r\n"),
            (b"I4\r\n", b'I4 A "' + serial + b'"\r\n')]


class Ports:
    """Hands out one scripted port per (re)connection."""

    def __init__(self, *scripts):
        self.ports = [ScriptedPort.of(script) for script in scripts]
        self.opened = 0

    def open(self) -> MtSicsBalance:
        if self.opened >= len(self.ports):
            raise BalanceDisconnected("cannot open /dev/ttyUSB0: no such device")
        port = self.ports[self.opened]
        self.opened += 1
        return MtSicsBalance(port, MtSicsCodec())


def test_connect_identifies_and_starts_an_epoch():
    ports = Ports(IDENTIFY)
    balance = ManagedBalance(ports.open)
    info = balance.connect()
    assert (info.serial_number, balance.state, balance.epoch) == (
        "B207696838", LinkState.CONNECTED, 1)
    ports.ports[0].assert_done()


def test_a_silent_balance_is_offline_after_three_missed_beats_and_back_when_it_answers():
    ports = Ports(IDENTIFY + [(b"SI\r\n", None), RESET] * 3 + [(b"SI\r\n", b"S S 0.00 g\r\n")])
    balance = ManagedBalance(ports.open)
    balance.connect()
    assert [balance.heartbeat() for _ in range(3)] == [
        LinkState.CONNECTED, LinkState.CONNECTED, LinkState.OFFLINE]
    assert balance.last_error == "no response to 'SI' from transcript://"
    assert balance.heartbeat() is LinkState.CONNECTED
    ports.ports[0].assert_done()


def test_an_unplug_is_seen_at_once_and_weights_are_refused_until_reconnected():
    unplug = BalanceDisconnected("transcript://: disconnected")
    ports = Ports(IDENTIFY + [(b"SI\r\n", unplug)],
                  IDENTIFY + [(b"TAC\r\n", b"TAC A\r\n"), (b"SI\r\n", b"S S     5.00 g\r\n")])
    balance = ManagedBalance(ports.open)
    balance.connect()
    assert balance.heartbeat() is LinkState.DISCONNECTED
    assert ports.ports[0].closed
    with pytest.raises(BalanceDisconnected, match=r"^balance disconnected \(transcript://: "
                       r"disconnected\)$"):
        balance.read_immediate()
    balance.reconnect(deadline=time.monotonic() + 1, interval=0.01)
    assert balance.epoch == 2, "a new epoch: nothing weighed before counts"
    assert balance.read_immediate().value == Decimal("5.00")
    for port in ports.ports:
        port.assert_done()


def test_a_different_balance_after_reconnect_is_refused():
    ports = Ports(IDENTIFY, identify_as(b"X999"))
    balance = ManagedBalance(ports.open)
    balance.connect()
    balance.close()
    with pytest.raises(IdentityMismatch) as raised:
        balance.reconnect(deadline=time.monotonic() + 1, interval=0.01)
    assert str(raised.value) == (
        "balance on this port is serial X999, expected B207696838: weights refused until the "
        "right balance is back"
    )
    assert balance.state is LinkState.DISCONNECTED
    assert ports.ports[1].closed


def test_reconnect_gives_up_at_the_deadline_with_the_last_reason():
    balance = ManagedBalance(Ports().open)
    with pytest.raises(BalanceDisconnected, match=r"no such device$"):
        balance.reconnect(deadline=time.monotonic() + 0.05, interval=0.01)
    assert balance.last_error == "cannot open /dev/ttyUSB0: no such device"


GOOD = "good"


class Replies:
    """A driver whose immediate readings follow a script: GOOD, or the error to raise."""

    def __init__(self, *script: str | Exception) -> None:
        self.script = list(script)

    def identify(self) -> BalanceInfo:
        return BalanceInfo("Mettler Toledo", "XS204", "B207696838")

    def read_immediate(self) -> Reading:
        reply = self.script.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return Reading(Decimal("5.00"), "g", True, "S S 5.00 g", "SI", dt.datetime.now(dt.UTC),
                       time.monotonic())

    def read_stable(self, timeout: float) -> Reading:
        return self.read_immediate()

    def tare(self, timeout: float) -> Reading:
        return self.read_immediate()

    def zero(self, timeout: float) -> None:
        pass

    def close(self) -> None:
        pass


GARBLED = ProtocolError("protocol error: garbled reply 'S\\x93 5.0'")
SILENT = BalanceTimeout("no response to 'SI' from transcript://")


def states(balance: ManagedBalance, beats: int) -> list[str]:
    return [balance.heartbeat().value for _ in range(beats)]


def test_garbled_replies_three_exchanges_in_a_row_are_a_state_until_a_valid_reply():
    driver = Replies(GARBLED, GOOD, GARBLED, GARBLED, GOOD,  # noise on the line: nothing
                     GARBLED, SILENT, GARBLED, SILENT, SILENT, GARBLED,  # garbage, unended too
                     BalanceOverload("overload"), GARBLED, GOOD)  # the balance's own answer
    balance = ManagedBalance(lambda: driver)
    balance.connect()
    assert states(balance, 5) == ["connected"] * 5
    assert states(balance, 6) == ["connected", "connected", "garbled", "garbled", "garbled",
                                  "garbled"], "timeouts among garbled replies are garbage too"
    assert balance.last_garbled == str(GARBLED)
    assert states(balance, 3) == ["connected", "connected", "connected"]
    assert balance.last_garbled == ""


def test_a_garbled_stable_request_counts_and_a_stable_weight_ends_the_state():
    driver = Replies(GARBLED, GARBLED, GARBLED, GOOD)
    balance = ManagedBalance(lambda: driver)
    balance.connect()
    assert states(balance, 2) == ["connected", "connected"]
    with pytest.raises(ProtocolError):
        balance.read_stable(8.0)
    assert balance.state is LinkState.GARBLED
    balance.read_stable(8.0)
    assert balance.state is LinkState.CONNECTED


def test_a_garbling_balance_that_falls_silent_is_offline_in_the_end():
    driver = Replies(*[GARBLED] * 3, *[SILENT] * GARBLED_SILENT_MISSES, GARBLED)
    balance = ManagedBalance(lambda: driver)
    balance.connect()
    assert states(balance, 3 + GARBLED_SILENT_MISSES + 1) == (
        ["connected"] * 2 + ["garbled"] * GARBLED_SILENT_MISSES + ["offline", "garbled"])
