"""MT-SICS specifics against byte transcripts: the balance's own ``S``, tare and zero
statuses, the tare query, streaming, and recovery with ``@``.

What every driver does (identify, read, stability, tare, zero, timeouts, garbage) is
checked for MT-SICS in test_driver_contract.py.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from scale_drivers.api import (
    BalanceOverload,
    BalanceTimeout,
    BalanceUnderload,
    CommandNotExecutable,
    NotStable,
    ProtocolError,
)
from scale_drivers.mt_sics import MtSicsBalance, MtSicsCodec
from scale_drivers.testing import FixedClock, ScriptedPort


def balance(*pairs, **options) -> tuple[MtSicsBalance, ScriptedPort]:
    port = ScriptedPort.of(pairs)
    return MtSicsBalance(port, MtSicsCodec(), clock=FixedClock(), **options), port


RESET = (b"@\r\n", b'I4 A "B207696838"\r\n')


# ------------------------------------------------------------------ from the manual


def test_manual_example_stable_weight():
    # Operating instructions, MT-SICS section: "Command S / Response S S 100.00 g — the
    # current stable weight value is 100.00 g"; the value is right-aligned in 10 characters.
    driver, port = balance((b"S\r\n", b"S S     100.00 g\r\n"))
    reading = driver.read_balance_stable(timeout=5)
    assert (reading.value, reading.unit, reading.stable) == (Decimal("100.00"), "g", True)
    assert reading.raw == "S S     100.00 g"
    assert reading.command == "S"
    port.assert_done()


@pytest.mark.parametrize(
    ("reply", "error", "message"),
    [
        (b"S I\r\n", NotStable, "not stable: stable weight refused by the balance (S I)"),
        (b"S +\r\n", BalanceOverload, "overload"),
        (b"S -\r\n", BalanceUnderload, "underload"),
        (b"ES\r\n", CommandNotExecutable, "the balance does not know this command (ES)"),
        (b"EL\r\n", CommandNotExecutable, "the balance cannot execute this command (EL)"),
    ],
)
def test_manual_statuses_of_s_are_errors_never_weights(reply, error, message):
    driver, port = balance((b"S\r\n", reply))
    with pytest.raises(error) as raised:
        driver.read_balance_stable(timeout=5)
    assert str(raised.value) == message
    port.assert_done()


# ------------------------------------------------------------------ tare and zero


@pytest.mark.parametrize(
    ("command", "reply", "call", "error", "message"),
    [
        # "T I" and "Z I" (refused: not stable) are in the contract's refused tare and zero.
        (b"T\r\n", b"T +\r\n", "tare", BalanceOverload, "overload"),
        (b"T\r\n", b"T -\r\n", "tare", BalanceUnderload, "underload"),
        (b"Z\r\n", b"Z +\r\n", "zero", BalanceOverload, "overload"),
        (b"Z\r\n", b"Z -\r\n", "zero", BalanceUnderload, "underload"),
    ],
)
def test_tare_and_zero_out_of_range_are_errors(command, reply, call, error, message):
    driver, port = balance((command, reply))
    with pytest.raises(error) as raised:
        getattr(driver, call)(timeout=5)
    assert str(raised.value) == message
    port.assert_done()


def test_tare_query_and_clear():
    driver, port = balance(
        (b"TA\r\n", b"TA A     12.34 g\r\n"),
        (b"TAC\r\n", b"TAC A\r\n"),
    )
    assert driver.tare_value().value == Decimal("12.34")
    driver.clear_tare()
    port.assert_done()


def test_a_tare_outliving_our_deadline_is_cancelled_and_reported_not_stable():
    # The balance waits for stability longer than we do: @ cancels the pending T.
    driver, port = balance((b"T\r\n", None), RESET)
    with pytest.raises(NotStable, match=r"^not stable within 2 s: tare cancelled$"):
        driver.tare(timeout=2)
    port.assert_done()


def test_a_silent_balance_on_tare_is_no_response_not_instability():
    driver, port = balance((b"T\r\n", None), (b"@\r\n", None))
    with pytest.raises(BalanceTimeout):
        driver.tare(timeout=2)
    port.assert_done()


# ------------------------------------------------------------------ streaming


def test_sir_streams_until_closed_then_resets():
    driver, port = balance(
        (b"SIR\r\n", [b"S D      1.00 g\r\nS D     ", b" 1.50 g\r\nS S      2.00 g\r\n"]),
        RESET,
    )
    stream = driver.stream()
    values = [next(stream).value for _ in range(3)]
    stream.close()
    assert values == [Decimal("1.00"), Decimal("1.50"), Decimal("2.00")]
    port.assert_done()


# ------------------------------------------------------------------ recovery


def test_a_late_reply_to_another_command_is_dropped():
    driver, port = balance((b"TA\r\n", b"S S     99.99 g\r\nTA A      0.00 g\r\n"))
    assert driver.tare_value().value == Decimal("0.00")
    port.assert_done()


def test_transmission_error_names_the_likely_cause():
    driver, port = balance((b"SI\r\n", b"ET\r\n"), RESET, response_timeout=0)
    with pytest.raises(ProtocolError) as raised:
        driver.read_immediate()
    assert str(raised.value) == (
        "protocol error: transmission error (ET): check the baud rate and parity"
    )
    port.assert_done()
