"""Ohaus specifics against byte transcripts: its line formats, identification without a
model, the balance's own stable print, and what is garbage.

What every driver does (identify, read, stability, tare, zero, timeouts, garbage) is
checked for Ohaus in test_driver_contract.py.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from scale_drivers.api import CommandNotExecutable, NotStable, ProtocolError
from scale_drivers.ohaus import OhausBalance, OhausCodec
from scale_drivers.testing import FixedClock, ScriptedPort


def balance(*pairs, **options) -> tuple[OhausBalance, ScriptedPort]:
    port = ScriptedPort.of(pairs)
    return OhausBalance(port, OhausCodec(), clock=FixedClock(), **options), port


def printed(line: bytes) -> tuple[bytes, bytes]:
    return b"IP\r\n", line + b"\r\n"


# ------------------------------------------------------------------ from the manual


@pytest.mark.parametrize(
    ("line", "value", "stable", "legend"),
    [
        (b"     192.21 g", Decimal("192.21"), True, ""),
        (b"       0.01 g ?", Decimal("0.01"), False, ""),
        (b"     207.80 g TOTAL", Decimal("207.80"), True, "TOTAL"),
        (b"     176.30 g ? 00:00:15", Decimal("176.30"), False, "00:00:15"),
    ],
)
def test_manual_output_examples(line, value, stable, legend):
    # Explorer instruction manual, 9.4 Communication, output format and "Output examples":
    # weight right-aligned in 10, space, unit, space, "?" when unstable, space, legend.
    driver, port = balance(printed(line))
    reading = driver.read_immediate()
    assert (reading.value, reading.unit, reading.stable) == (value, "g", stable)
    assert reading.raw == line.decode()
    assert reading.command == "IP"
    assert driver.codec.parse(line.decode()).legend == legend
    port.assert_done()


@pytest.mark.parametrize(
    ("line", "value", "unit", "stable"),
    [
        (b"     -12.34 g", Decimal("-12.34"), "g", True),
        (b"-     12.34 g", Decimal("-12.34"), "g", True),  # sign apart (3000-series layout)
        (b"    0.4500 oz    ?", Decimal("0.4500"), "oz", False),  # unit width moves the "?"
        (b"          3 PCS   ", Decimal("3"), "PCS", True),
        (b"      -0.01 g   ? NET", Decimal("-0.01"), "g", False),
    ],
)
def test_weight_lines(line, value, unit, stable):
    driver, port = balance(printed(line))
    reading = driver.read_immediate()
    assert (reading.value, reading.unit, reading.stable) == (value, unit, stable)
    port.assert_done()


def test_es_is_a_refusal_never_a_weight():
    driver, port = balance(printed(b"ES"))
    with pytest.raises(CommandNotExecutable, match=r"^the balance refused the command \(ES\)$"):
        driver.read_immediate()
    port.assert_done()


# ------------------------------------------------------------------ identity


def test_a_numeric_serial_number_is_text_not_a_weight():
    driver, port = balance(
        (b"PSN\r\n", b"8331300001\r\n"),
        (b"PV\r\n", b"1.10 LFT\r\n"),
    )
    info = driver.identify()
    assert (info.serial_number, info.firmware) == ("8331300001", "1.10 LFT")
    port.assert_done()


def test_a_balance_refusing_psn_says_so():
    driver, port = balance((b"PSN\r\n", b"ES\r\n"))
    with pytest.raises(CommandNotExecutable, match=r"^the balance refused the command \(ES\)$"):
        driver.identify()
    port.assert_done()


def test_a_late_print_is_not_taken_as_the_serial_number():
    driver, port = balance(
        (b"PSN\r\n", b"      12.34 g\r\nB123456789\r\n"),
        (b"PV\r\n", b"1.20\r\n"),
    )
    assert driver.identify().serial_number == "B123456789"
    port.assert_done()


# ------------------------------------------------------------------ weighing


def test_sp_is_the_balance_stable_print():
    driver, port = balance((b"SP\r\n", b"     100.00 g\r\n"))
    reading = driver.read_balance_stable(timeout=5)
    assert (reading.value, reading.stable, reading.command) == (Decimal("100.00"), True, "SP")
    port.assert_done()


def test_sp_giving_up_after_40_s_is_not_stable():
    driver, port = balance((b"SP\r\n", b"ES\r\n"))
    with pytest.raises(NotStable) as raised:
        driver.read_balance_stable(timeout=5)
    assert str(raised.value) == "not stable: the balance gave up waiting (ES after SP)"
    port.assert_done()


def test_tare_without_pt_returns_the_load_tared_off():
    driver, port = balance(
        printed(b"      12.34 g"),
        (b"T\r\n", None),
        printed(b"       0.00 g"),
        (b"PT\r\n", b"ES\r\n"),
        stability_count=1,
    )
    reading = driver.tare(timeout=5)
    assert (reading.value, reading.command) == (Decimal("12.34"), "T")
    port.assert_done()


# ------------------------------------------------------------------ recovery


def test_an_unexplained_line_is_garbage_never_a_weight():
    driver, port = balance(printed(b"  -----  "), response_timeout=0)
    with pytest.raises(ProtocolError, match=r"^protocol error: garbled weight '  -----  '$"):
        driver.read_immediate()
    port.assert_done()


def test_garbled_identification_is_retried():
    driver, port = balance(
        (b"PSN\r\n", b"B12\x0034\r\n"),
        (b"PSN\r\n", b"B123456789\r\n"),
        (b"PV\r\n", b"1.20\r\n"),
    )
    assert driver.identify().serial_number == "B123456789"
    port.assert_done()


def test_garbled_identification_until_the_deadline_fails_naming_it():
    driver, port = balance((b"PSN\r\n", b"B12\x0034\r\n"), response_timeout=0)
    with pytest.raises(ProtocolError, match=r"^protocol error: garbled reply 'B12\\x0034'$"):
        driver.identify()
    port.assert_done()


def test_a_late_key_acknowledgement_is_not_taken_as_the_weight():
    driver, port = balance((b"IP\r\n", b"OK!\r\n       0.00 g\r\n"))
    assert driver.read_immediate().value == Decimal("0.00")
    port.assert_done()
