"""A&D specifics against byte transcripts: its line formats, out-of-range and error codes,
the balance's own stable weight, acknowledged commands, and streaming.

What every driver does (identify, read, stability, tare, zero, timeouts, garbage) is
checked for A&D in test_driver_contract.py.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from scale_drivers.a_and_d import AandDBalance, AandDCodec
from scale_drivers.api import (
    BalanceOverload,
    BalanceUnderload,
    CommandNotExecutable,
    NotStable,
    ProtocolError,
)
from scale_drivers.testing import FixedClock, ScriptedPort


def balance(*pairs, **options) -> tuple[AandDBalance, ScriptedPort]:
    port = ScriptedPort.of(pairs)
    return AandDBalance(port, AandDCodec(), clock=FixedClock(), **options), port


def queried(line: bytes) -> tuple[bytes, bytes]:
    return b"Q\r\n", line + b"\r\n"


AK = b"\x06\r\n"


# ------------------------------------------------------------------ from the manuals


def test_manual_example_stable_weight():
    # GX-A/GF-A Series Communication Manual, 7-2 "Weighing data format", A&D standard
    # format: "ST,+00123.45  g" CR LF — header, comma, sign and zero-padded value, 3-character
    # unit: 15 characters and the terminator.
    driver, port = balance((b"Q\r\n", b"ST,+00123.45  g\r\n"))
    reading = driver.read_immediate()
    assert (reading.value, reading.unit, reading.stable) == (Decimal("123.45"), "g", True)
    assert reading.raw == "ST,+00123.45  g"
    assert reading.command == "Q"
    port.assert_done()


@pytest.mark.parametrize(
    ("line", "value", "unit", "stable"),
    [
        (b"US,-00183.69  g", Decimal("-183.69"), "g", False),
        (b"QT,+00001234 PC", Decimal("1234"), "PC", True),  # stable count (GC manual 16.2)
        (b"ST,+0001.234 kg", Decimal("1.234"), "kg", True),
        (b"ST,OK,+0001.234 kg", Decimal("1.234"), "kg", True),  # with comparison result
        (b"\x06ST,+00000.00  g", Decimal("0.00"), "g", True),  # an <AK> left unended
    ],
)
def test_weight_lines(line, value, unit, stable):
    driver, port = balance(queried(line))
    reading = driver.read_immediate()
    assert (reading.value, reading.unit, reading.stable) == (value, unit, stable)
    port.assert_done()


@pytest.mark.parametrize(
    ("line", "error", "message"),
    [
        # GX instruction manual, 10-8 "Data format examples": "Overload, positive error" is
        # OL with a plus sign, "Overload, negative error" OL with a minus sign (9s, no unit).
        (b"OL,+9999999E+19", BalanceOverload, "overload (OL,+9999999E+19)"),
        (b"OL,-9999999E+19", BalanceUnderload, "underload (OL,-9999999E+19)"),
        (b"OL,HI,+9999999E+19", BalanceOverload, "overload (OL,HI,+9999999E+19)"),
        (b"OL,9999999E+19", BalanceOverload, "out of range (OL)"),
    ],
)
def test_out_of_range_is_never_a_weight(line, error, message):
    driver, port = balance(queried(line))
    with pytest.raises(error) as raised:
        driver.read_immediate()
    assert str(raised.value) == message
    port.assert_done()


@pytest.mark.parametrize(
    ("code", "error", "message"),
    [
        (b"E01", CommandNotExecutable, "the balance does not know this command (EC,E01)"),
        (b"E02", CommandNotExecutable, "balance not ready (EC,E02)"),
        (b"E04", CommandNotExecutable, "command too long (EC,E04)"),
        (b"E06", CommandNotExecutable, "command format error (EC,E06)"),
        (b"E07", CommandNotExecutable, "parameter out of range (EC,E07)"),
        (b"E11", NotStable, "not stable: the balance refused (EC,E11)"),
        (b"E16", CommandNotExecutable, "internal mass error (EC,E16)"),
        (b"E17", CommandNotExecutable, "internal mass error (EC,E17)"),
        (b"E20", CommandNotExecutable, "calibration weight error: too heavy (EC,E20)"),
        (b"E21", CommandNotExecutable, "calibration weight error: too light (EC,E21)"),
        (b"E99", CommandNotExecutable, "balance error (EC,E99)"),
    ],
)
def test_error_codes_are_typed_with_clear_messages(code, error, message):
    driver, port = balance(queried(b"EC," + code))
    with pytest.raises(error) as raised:
        driver.read_immediate()
    assert str(raised.value) == message
    port.assert_done()


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (b"E00", "protocol error: communication error (EC,E00): check the baud rate and parity"),
        (b"E03", "protocol error: time-out error (EC,E03): a command arrived incomplete"),
    ],
)
def test_line_errors_are_retried_like_garbage_then_named(code, message):
    driver, port = balance(queried(b"EC," + code), response_timeout=0)
    with pytest.raises(ProtocolError) as raised:
        driver.read_immediate()
    assert str(raised.value) == message
    port.assert_done()


def test_a_transmission_error_is_retried():
    driver, port = balance(queried(b"EC,E00"), queried(b"ST,+00010.00  g"))
    assert driver.read_immediate().value == Decimal("10.00")
    port.assert_done()


# ------------------------------------------------------------------ identity


def test_a_late_weight_is_not_taken_as_the_model():
    driver, port = balance(
        (b"?TN\r\n", b"ST,+00012.34  g\r\nTN,GX-224A\r\n"),
        (b"?SN\r\n", b"SN,T1234567\r\n"),
    )
    assert driver.identify().model == "GX-224A"
    port.assert_done()


def test_an_older_balance_without_serial_number_command_says_so():
    driver, port = balance((b"?TN\r\n", b"EC,E01\r\n"))
    with pytest.raises(CommandNotExecutable, match=r"^the balance does not know this command"):
        driver.identify()
    port.assert_done()


# ------------------------------------------------------------------ weighing


def test_s_is_the_balance_stable_weight():
    driver, port = balance((b"S\r\n", b"ST,+00100.00  g\r\n"))
    reading = driver.read_balance_stable(timeout=5)
    assert (reading.value, reading.stable, reading.command) == (Decimal("100.00"), True, "S")
    port.assert_done()


def test_s_never_answered_is_cancelled_and_not_stable():
    driver, port = balance((b"S\r\n", None), (b"C\r\n", None))
    with pytest.raises(NotStable, match=r"^not stable within 5 s \(S cancelled\)$"):
        driver.read_balance_stable(timeout=5)
    port.assert_done()


def test_tare_with_acknowledgement():
    driver, port = balance(
        queried(b"ST,+00012.34  g"),
        (b"T\r\n", AK),
        queried(b"ST,+00000.00  g"),
        stability_count=1,
        acknowledges=True,
    )
    assert driver.tare(timeout=5).value == Decimal("12.34")
    port.assert_done()


def test_tare_refused_as_unstable_is_not_stable():
    driver, port = balance(
        queried(b"ST,+00012.34  g"),
        (b"T\r\n", b"EC,E11\r\n"),
        stability_count=1,
        acknowledges=True,
    )
    with pytest.raises(NotStable, match=r"^not stable: the balance refused \(EC,E11\)$"):
        driver.tare(timeout=5)
    port.assert_done()


def test_rezero_acknowledged_twice_drops_the_second_ak():
    # FZ-i manual 18.2: R is acknowledged on receipt and again when the zero is done.
    driver, port = balance(
        (b"R\r\n", AK),
        (b"Q\r\n", AK + b"ST,+00000.00  g\r\n"),
        stability_count=1,
        acknowledges=True,
    )
    driver.zero(timeout=5)
    port.assert_done()


def test_sir_streams_until_closed_then_cancels():
    driver, port = balance(
        (b"SIR\r\n", [b"US,+00001.00  g\r\nUS,+00", b"001.50  g\r\nST,+00002.00  g\r\n"]),
        (b"C\r\n", None),
    )
    stream = driver.stream()
    values = [next(stream).value for _ in range(3)]
    stream.close()
    assert values == [Decimal("1.00"), Decimal("1.50"), Decimal("2.00")]
    port.assert_done()


# ------------------------------------------------------------------ recovery


def test_a_line_without_a_header_is_garbage():
    driver, port = balance(queried(b"+00012.34  g"), response_timeout=0)
    with pytest.raises(ProtocolError, match=r"^protocol error: garbled reply '\+00012\.34  g'$"):
        driver.read_immediate()
    port.assert_done()


def test_a_late_reply_to_another_command_is_dropped():
    driver, port = balance((b"Q\r\n", b"SN,T1234567\r\n" + AK + b"ST,+00000.00  g\r\n"))
    assert driver.read_immediate().value == Decimal("0.00")
    port.assert_done()
