"""Ohaus native codec and driver against byte transcripts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scale_drivers.api import (
    Balance,
    BalanceTimeout,
    CommandNotExecutable,
    NotStable,
    Parity,
    ProtocolError,
)
from scale_drivers.ohaus import DEFAULT_SETTINGS, OhausBalance, OhausCodec

from .transcript import ScriptedPort, decode_in_chunks


class FixedClock:
    def utc(self) -> dt.datetime:
        return dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC)

    def monotonic(self) -> float:
        return 1000.0


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


def test_default_settings_are_9600_8_none_1_without_handshake():
    assert (DEFAULT_SETTINGS.baudrate, DEFAULT_SETTINGS.bytesize, DEFAULT_SETTINGS.parity,
            DEFAULT_SETTINGS.stopbits) == (9600, 8, Parity.NONE, 1)
    assert DEFAULT_SETTINGS.handshake.value == "none"


def test_the_driver_is_a_balance():
    driver, port = balance()
    assert isinstance(driver, Balance)
    driver.close()
    assert port.closed
    port.assert_done()


# ------------------------------------------------------------------ identity


def test_identify_reads_serial_and_every_version_line_and_no_model():
    driver, port = balance(
        (b"PSN\r\n", b"B123456789\r\n"),
        (b"PV\r\n", [b"EX224\r\n", b"1.20 1.05\r\n", b"LFT ON\r\n"]),
    )
    info = driver.identify()
    assert (info.maker, info.model, info.serial_number, info.firmware) == (
        "Ohaus", "", "B123456789", "EX224 1.20 1.05 LFT ON")
    assert driver.identity_lines["PV"] == ["EX224", "1.20 1.05", "LFT ON"]
    port.assert_done()


def test_a_numeric_serial_number_is_text_not_a_weight():
    driver, port = balance(
        (b"PSN\r\n", b"8331300001\r\n"),
        (b"PV\r\n", b"1.10 LFT\r\n"),
    )
    info = driver.identify()
    assert (info.serial_number, info.firmware) == ("8331300001", "1.10 LFT")
    port.assert_done()


def test_a_balance_without_pv_leaves_the_firmware_empty():
    driver, port = balance((b"PSN\r\n", b"B123456789\r\n"), (b"PV\r\n", b"ES\r\n"))
    assert driver.identify().firmware == ""
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


def test_read_stable_waits_for_the_window_not_just_the_flag():
    driver, port = balance(
        printed(b"      12.31 g ?"),
        printed(b"      12.34 g"),
        printed(b"      12.36 g"),  # stable, but 0.02 g away: the window restarts
        printed(b"      12.35 g"),
        printed(b"      12.35 g"),
    )
    assert driver.read_stable(timeout=5).value == Decimal("12.35")
    port.assert_done()


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


def test_tare_presses_tare_confirms_zero_and_reads_the_tare():
    driver, port = balance(
        printed(b"      12.34 g"),
        (b"T\r\n", b"OK!\r\n"),  # acknowledged ("1RL"): dropped by the next exchange
        printed(b"       0.00 g ?"),
        printed(b"       0.00 g"),
        (b"PT\r\n", b"      12.34 g\r\n"),
        stability_count=1,
    )
    reading = driver.tare(timeout=5)
    assert (reading.value, reading.command) == (Decimal("12.34"), "T")
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


def test_a_refused_tare_is_reported_with_what_the_balance_shows():
    driver, port = balance(
        printed(b"      12.34 g"),
        (b"T\r\n", None),
        printed(b"      12.34 g"),
        stability_count=1,
    )
    with pytest.raises(CommandNotExecutable) as raised:
        driver.tare(timeout=0)
    assert str(raised.value) == "tare not carried out: the balance still shows '12.34 g'"
    port.assert_done()


def test_zero_presses_zero_and_confirms():
    driver, port = balance(
        (b"Z\r\n", None),
        printed(b"       0.01 g ?"),
        printed(b"       0.00 g"),
        stability_count=1,
    )
    driver.zero(timeout=5)
    port.assert_done()


# ------------------------------------------------------------------ recovery


def test_silence_is_a_timeout_naming_the_command():
    driver, port = balance((b"IP\r\n", None))
    with pytest.raises(BalanceTimeout, match=r"^no response to 'IP' from transcript://$"):
        driver.read_immediate()
    port.assert_done()


def test_silence_to_psn_is_a_timeout():
    driver, port = balance((b"PSN\r\n", None))
    with pytest.raises(BalanceTimeout, match=r"^no response to 'PSN' from transcript://$"):
        driver.identify()
    port.assert_done()


def test_garbage_is_never_a_weight_resync_and_retry():
    driver, port = balance(
        (b"IP\r\n", b"    1\xfe2.34 g\r\n"),
        printed(b"      10.00 g"),
    )
    assert driver.read_immediate().value == Decimal("10.00")
    port.assert_done()


def test_garbage_until_the_deadline_fails_naming_it():
    driver, port = balance(printed(b"     12.3.4 g"), response_timeout=0)
    with pytest.raises(ProtocolError) as raised:
        driver.read_immediate()
    assert str(raised.value) == "protocol error: garbled weight '     12.3.4 g'"
    port.assert_done()


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


# ------------------------------------------------------------------ codec properties

LINES = [
    "     192.21 g", "       0.01 g ?", "     207.80 g TOTAL", "ES", "OK!",
    "    0.4500 oz    ?", "     -12.34 g", "          3 PCS   ",
]


@given(
    lines=st.lists(st.sampled_from(LINES), min_size=1, max_size=12),
    ending=st.sampled_from([b"\r\n", b"\r", b"\n"]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=20),
)
def test_any_chunking_and_line_ending_decodes_the_same(lines, ending, cuts):
    stream = b"".join(line.encode() + ending for line in lines)
    codec = OhausCodec()
    decoded = decode_in_chunks(codec, stream, cuts)
    assert decoded == [codec.parse(line) for line in lines]
    assert [r.raw for r in decoded] == lines
