"""MT-SICS codec and driver against byte transcripts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scale_drivers.api import (
    BalanceOverload,
    BalanceTimeout,
    BalanceUnderload,
    CommandNotExecutable,
    NotStable,
    ProtocolError,
)
from scale_drivers.mt_sics import MtSicsBalance, MtSicsCodec

from .transcript import ScriptedPort, decode_in_chunks


class FixedClock:
    def utc(self) -> dt.datetime:
        return dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC)

    def monotonic(self) -> float:
        return 1000.0


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


# ------------------------------------------------------------------ identity


def test_identify_resets_then_reads_model_firmware_and_serial():
    driver, port = balance(
        RESET,
        (b"I2\r\n", b'I2 A "XS204 Excellence 220.0090 g"\r\n'),
        (b"I3\r\n", b'I3 A "1.10 18.6.4.1361.772"\r\n'),
        (b"I4\r\n", b'I4 A "B207696838"\r\n'),
    )
    info = driver.identify()
    assert info.maker == "Mettler Toledo"
    assert info.model == "XS204 Excellence"
    assert info.capacity == Decimal("220.0090")
    assert info.readability == Decimal("0.0001")
    assert info.serial_number == "B207696838"
    assert info.firmware == "1.10 18.6.4.1361.772"
    port.assert_done()


def test_an_optional_command_answered_es_leaves_its_field_empty():
    driver, port = balance(
        RESET,
        (b"I2\r\n", b'I2 A "PG503-S 510.008 g"\r\n'),
        (b"I3\r\n", b"ES\r\n"),
        (b"I4\r\n", b'I4 A "1122334455"\r\n'),
    )
    info = driver.identify()
    assert info.firmware == ""
    assert info.readability == Decimal("0.001")
    port.assert_done()


# ------------------------------------------------------------------ weighing


def test_si_reads_dynamic_and_negative_values():
    driver, port = balance((b"SI\r\n", b"S D    -0.003 g\r\n"))
    reading = driver.read_immediate()
    assert (reading.value, reading.stable, reading.command) == (Decimal("-0.003"), False, "SI")
    port.assert_done()


def test_read_stable_waits_for_the_window_not_just_the_flag():
    driver, port = balance(
        (b"SI\r\n", b"S D     12.31 g\r\n"),
        (b"SI\r\n", b"S S     12.34 g\r\n"),
        (b"SI\r\n", b"S S     12.36 g\r\n"),  # stable flag, but 0.02 g away: window restarts
        (b"SI\r\n", b"S S     12.35 g\r\n"),
        (b"SI\r\n", b"S S     12.35 g\r\n"),
    )
    reading = driver.read_stable(timeout=5)
    assert reading.value == Decimal("12.35")
    port.assert_done()


def test_overload_during_the_wait_ends_it_at_once():
    driver, port = balance((b"SI\r\n", b"S D    212.00 g\r\n"), (b"SI\r\n", b"S +\r\n"))
    with pytest.raises(BalanceOverload):
        driver.read_stable(timeout=5)
    port.assert_done()


@pytest.mark.parametrize(
    ("command", "reply", "call", "error", "message"),
    [
        (b"T\r\n", b"T I\r\n", "tare", NotStable, "not stable: tare refused by the balance (T I)"),
        (b"T\r\n", b"T +\r\n", "tare", BalanceOverload, "overload"),
        (b"T\r\n", b"T -\r\n", "tare", BalanceUnderload, "underload"),
        (b"Z\r\n", b"Z I\r\n", "zero", NotStable, "not stable: zero refused by the balance (Z I)"),
        (b"Z\r\n", b"Z +\r\n", "zero", BalanceOverload, "overload"),
        (b"Z\r\n", b"Z -\r\n", "zero", BalanceUnderload, "underload"),
    ],
)
def test_tare_and_zero_refusals(command, reply, call, error, message):
    driver, port = balance((command, reply))
    with pytest.raises(error) as raised:
        getattr(driver, call)(timeout=5)
    assert str(raised.value) == message
    port.assert_done()


def test_tare_zero_tare_query_and_clear():
    driver, port = balance(
        (b"T\r\n", b"T S     12.34 g\r\n"),
        (b"TA\r\n", b"TA A     12.34 g\r\n"),
        (b"TAC\r\n", b"TAC A\r\n"),
        (b"Z\r\n", b"Z A\r\n"),
    )
    assert driver.tare(timeout=5).value == Decimal("12.34")
    assert driver.tare_value().value == Decimal("12.34")
    driver.clear_tare()
    driver.zero(timeout=5)
    port.assert_done()


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


def test_a_timeout_resynchronises_with_reset_before_failing():
    driver, port = balance((b"SI\r\n", None), RESET)
    with pytest.raises(BalanceTimeout, match=r"^no response to 'SI' from transcript://$"):
        driver.read_immediate()
    port.assert_done()


def test_garbage_is_never_a_weight_resync_and_retry():
    driver, port = balance(
        (b"SI\r\n", b"S S  \xff\x13garbage\r\n"),
        RESET,
        (b"SI\r\n", b"S S     10.00 g\r\n"),
    )
    assert driver.read_immediate().value == Decimal("10.00")
    port.assert_done()


def test_garbage_until_the_deadline_fails_naming_it():
    driver, port = balance((b"SI\r\n", b"S S 12.3.4 g\r\n"), RESET,
                           response_timeout=0)
    with pytest.raises(ProtocolError, match=r"^protocol error: garbled weight '12.3.4'"):
        driver.read_immediate()
    port.assert_done()


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


# ------------------------------------------------------------------ codec properties

LINES = [
    "S S     100.00 g", "S D    -0.003 g", 'I4 A "B207696838"', "ES", "T S     12.34 g",
    'I2 A "XS204 Excellence 220.0090 g"', "Z A", "S +",
]


@given(
    lines=st.lists(st.sampled_from(LINES), min_size=1, max_size=12),
    ending=st.sampled_from([b"\r\n", b"\r", b"\n"]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=20),
)
def test_any_chunking_and_line_ending_decodes_the_same(lines, ending, cuts):
    stream = b"".join(line.encode() + ending for line in lines)
    codec = MtSicsCodec()
    decoded = decode_in_chunks(codec, stream, cuts)
    assert [r.raw for r in decoded] == lines


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
