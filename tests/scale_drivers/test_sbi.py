"""Sartorius SBI codec and driver against byte transcripts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scale_drivers.api import (
    Balance,
    BalanceOverload,
    BalanceTimeout,
    BalanceUnderload,
    CommandNotExecutable,
    NotStable,
    Parity,
    ProtocolError,
)
from scale_drivers.sbi import DEFAULT_SETTINGS, SbiBalance, SbiCodec

from .transcript import ScriptedPort, decode_in_chunks


class FixedClock:
    def utc(self) -> dt.datetime:
        return dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC)

    def monotonic(self) -> float:
        return 1000.0


def balance(*pairs, **options) -> tuple[SbiBalance, ScriptedPort]:
    port = ScriptedPort.of(pairs)
    return SbiBalance(port, SbiCodec(), clock=FixedClock(), **options), port


PRINT = b"\x1bP\r\n"


def printed(line: bytes) -> tuple[bytes, bytes]:
    return PRINT, line + b"\r\n"


# ------------------------------------------------------------------ from the manuals


def test_manual_example_16_characters_with_a_blank_sign():
    # Secura/Quintix/Practum user manual, 10.3.2 "Data Output Format with 16 Characters",
    # example "Output of the weight value + 111.255 g": position 1 is a space for a positive
    # value, the value runs in positions 2-10, a space, the unit in 12-14, CR LF.
    driver, port = balance((PRINT, b"   111.255 g  \r\n"))
    reading = driver.read_immediate()
    assert (reading.value, reading.unit, reading.stable) == (Decimal("111.255"), "g", True)
    assert reading.raw == "   111.255 g  "
    assert reading.command == "ESC P"
    port.assert_done()


def test_manual_example_22_characters_with_an_id_code():
    # Entris II interface description, "Data Output Format with 22 Characters", example
    # "N + 123.56 g": a 6-character ID code, the sign in column 7, the value, the unit.
    driver, port = balance((PRINT, b"N     +   123.56 g  \r\n"))
    reading = driver.read_immediate()
    assert (reading.value, reading.unit, reading.stable) == (Decimal("123.56"), "g", True)
    assert reading.raw == "N     +   123.56 g  "
    port.assert_done()


def test_the_command_is_esc_p_and_the_16_character_line_decodes():
    driver, port = balance(printed(b"+    1255.7 g  "))
    assert driver.read_immediate().value == Decimal("1255.7")
    port.assert_done()


@pytest.mark.parametrize(
    ("line", "value", "unit", "stable"),
    [
        (b"+    1255.7    ", Decimal("1255.7"), "", False),  # blank unit: not stable
        (b"-      0.003 g  ", Decimal("-0.003"), "g", True),
        (b"?+     12.34 g  ", Decimal("12.34"), "g", False),  # some models prefix "?"
        (b"N     -     0.03      ", Decimal("-0.03"), "", False),
        (b"+   123.5[6] g  ", Decimal("123.56"), "g", True),  # non-verified digit marked
        (b"+     12,34 g  ", Decimal("12.34"), "g", True),  # decimal comma
        (b"+       253 pcs", Decimal("253"), "pcs", True),
    ],
)
def test_weight_lines_stability_is_the_unit_field(line, value, unit, stable):
    driver, port = balance(printed(line))
    reading = driver.read_immediate()
    assert (reading.value, reading.unit, reading.stable) == (value, unit, stable)
    port.assert_done()


@pytest.mark.parametrize(
    ("line", "error", "message"),
    [
        (b"       H      ", BalanceOverload, "overload (H)"),
        (b"      HH      ", BalanceOverload, "overload (HH)"),
        (b"      High    ", BalanceOverload, "overload (High)"),
        (b"Stat        High    ", BalanceOverload, "overload (Stat High)"),
        (b"       L      ", BalanceUnderload, "underload (L)"),
        (b"      LL      ", BalanceUnderload, "underload (LL)"),
        (b"      Low     ", BalanceUnderload, "underload (Low)"),
        (b"Stat        Low     ", BalanceUnderload, "underload (Stat Low)"),
        (b"       C      ", CommandNotExecutable,
         "balance busy: adjusting or no final readout (C)"),
        (b"    Cal.Int.  ", CommandNotExecutable,
         "balance busy: adjusting or no final readout (Cal.Int.)"),
        (b"Stat        Cal.Ext.", CommandNotExecutable,
         "balance busy: adjusting or no final readout (Stat Cal.Ext.)"),
        (b"      --      ", CommandNotExecutable,
         "balance busy: adjusting or no final readout (--)"),
        (b"Stat                ", CommandNotExecutable,
         "balance busy: adjusting or no final readout (Stat)"),
        (b"Err 101       ", CommandNotExecutable, "balance reports an error (Err 101)"),
        (b"Stat     ERR 320    ", CommandNotExecutable,
         "balance reports an error (Stat ERR 320)"),
        (b"APP.ERR       ", CommandNotExecutable, "balance reports an error (APP.ERR)"),
        (b"Stat     DIS.ERR    ", CommandNotExecutable,
         "balance reports an error (Stat DIS.ERR)"),
        (b"Stat       OFF", CommandNotExecutable, "balance display is off (Stat OFF)"),
        (b"Stat        XY      ", CommandNotExecutable, "balance reports status (Stat XY)"),
    ],
)
def test_special_lines_are_typed_errors_never_weights(line, error, message):
    driver, port = balance(printed(line))
    with pytest.raises(error) as raised:
        driver.read_immediate()
    assert str(raised.value) == message
    port.assert_done()


def test_default_settings_are_9600_8_odd_1_without_handshake():
    assert (DEFAULT_SETTINGS.baudrate, DEFAULT_SETTINGS.bytesize, DEFAULT_SETTINGS.parity,
            DEFAULT_SETTINGS.stopbits) == (9600, 8, Parity.ODD, 1)
    assert DEFAULT_SETTINGS.handshake.value == "none"


def test_the_driver_is_a_balance():
    driver, port = balance()
    assert isinstance(driver, Balance)
    driver.close()
    assert port.closed
    port.assert_done()


# ------------------------------------------------------------------ identity


def test_identify_reads_model_serial_and_software_leniently():
    driver, port = balance(
        (b"\x1bx1_\r\n", b"BCE224I-1S\r\n"),
        (b"\x1bx2_\r\n", b"SerNo.    0031801165\r\n"),
        (b"\x1bx3_\r\n", b"  00-20-05.03  \r\n"),
    )
    info = driver.identify()
    assert (info.maker, info.model, info.serial_number, info.firmware) == (
        "Sartorius", "BCE224I-1S", "0031801165", "00-20-05.03")
    assert driver.identity_lines["ESC x2_"] == "SerNo.    0031801165"
    port.assert_done()


def test_a_model_without_software_version_leaves_the_firmware_empty():
    driver, port = balance(
        (b"\x1bx1_\r\n", b"MSE1203S-100-DA\r\n"),
        (b"\x1bx2_\r\n", b"0031801165\r\n"),
        (b"\x1bx3_\r\n", None),
    )
    info = driver.identify()
    assert (info.model, info.serial_number, info.firmware) == (
        "MSE1203S-100-DA", "0031801165", "")
    port.assert_done()


@pytest.mark.parametrize("late", [b"+     12.34 g  ", b"    111.255 g  ", b"N     +   12.34 g  "])
def test_a_late_print_is_not_taken_as_the_model(late):
    driver, port = balance(
        (b"\x1bx1_\r\n", late + b"\r\nMSE1203S\r\n"),
        (b"\x1bx2_\r\n", b"0031801165\r\n"),
        (b"\x1bx3_\r\n", b"00-20-05.03\r\n"),
    )
    assert driver.identify().model == "MSE1203S"
    port.assert_done()


def test_identify_on_a_display_that_is_off_says_so():
    driver, port = balance((b"\x1bx1_\r\n", b"Stat       OFF\r\n"))
    with pytest.raises(CommandNotExecutable, match=r"^balance display is off \(Stat OFF\)$"):
        driver.identify()
    port.assert_done()


# ------------------------------------------------------------------ weighing


def test_read_stable_waits_for_the_window_not_just_the_unit():
    driver, port = balance(
        printed(b"+     12.31    "),
        printed(b"+     12.34 g  "),
        printed(b"+     12.36 g  "),  # stable, but 0.02 g away: the window restarts
        printed(b"+     12.35 g  "),
        printed(b"+     12.35 g  "),
    )
    reading = driver.read_stable(timeout=5)
    assert (reading.value, reading.stable) == (Decimal("12.35"), True)
    port.assert_done()


def test_overload_during_the_wait_ends_it_at_once():
    driver, port = balance(printed(b"+    219.80    "), printed(b"      High    "))
    with pytest.raises(BalanceOverload, match=r"^overload \(High\)$"):
        driver.read_stable(timeout=5)
    port.assert_done()


def test_never_stable_ends_with_not_stable():
    driver, port = balance(printed(b"+     12.31    "), stability_count=1)
    with pytest.raises(NotStable, match=r"^not stable within 0 s \(last '\+     12\.31'\)$"):
        driver.read_stable(timeout=0)
    port.assert_done()


def test_tare_waits_for_stability_presses_tare_and_confirms_zero():
    driver, port = balance(
        printed(b"+     12.34 g  "),
        printed(b"+     12.34 g  "),
        (b"\x1bU\r\n", None),  # a key press: no answer
        printed(b"+     12.34 g  "),  # not taken yet
        printed(b"      --      "),  # busy taring: polled again
        printed(b"+      0.00 g  "),
        printed(b"+      0.00 g  "),
        stability_count=2,
    )
    reading = driver.tare(timeout=5)
    assert (reading.value, reading.command) == (Decimal("12.34"), "ESC U")
    port.assert_done()


def test_a_refused_tare_is_reported_with_what_the_balance_shows():
    driver, port = balance(
        printed(b"+     12.34 g  "),
        (b"\x1bU\r\n", None),
        printed(b"+     12.34 g  "),
        stability_count=1,
    )
    with pytest.raises(CommandNotExecutable) as raised:
        driver.tare(timeout=0)
    assert str(raised.value) == "tare not carried out: the balance still shows '+     12.34 g'"
    port.assert_done()


def test_zero_presses_zero_and_confirms():
    driver, port = balance(
        (b"\x1bV\r\n", None),
        printed(b"       C      "),  # adjusting: polled again
        printed(b"-      0.00 g  "),
        stability_count=1,
    )
    driver.zero(timeout=5)
    port.assert_done()


def test_zero_still_busy_at_the_deadline_names_the_busy_state():
    driver, port = balance((b"\x1bV\r\n", None), printed(b"      --      "))
    with pytest.raises(CommandNotExecutable) as raised:
        driver.zero(timeout=0)
    assert str(raised.value) == (
        "zero not confirmed: balance busy: adjusting or no final readout (--)")
    port.assert_done()


def test_zero_never_settling_is_not_stable():
    driver, port = balance((b"\x1bV\r\n", None), printed(b"+      0.01    "))
    with pytest.raises(NotStable) as raised:
        driver.zero(timeout=0)
    assert str(raised.value) == "not stable at zero after zero (last '+      0.01')"
    port.assert_done()


def test_underload_after_zero_ends_at_once():
    driver, port = balance((b"\x1bV\r\n", None), printed(b"       L      "))
    with pytest.raises(BalanceUnderload, match=r"^underload \(L\)$"):
        driver.zero(timeout=5)
    port.assert_done()


def test_older_models_tare_and_zero_with_the_combined_key():
    driver, port = balance(
        printed(b"+      5.00 g  "),
        (b"\x1bT\r\n", None),
        printed(b"+      0.00 g  "),
        stability_count=1,
        tare_command="ESC T",
    )
    assert driver.tare(timeout=5).command == "ESC T"
    port.assert_done()


# ------------------------------------------------------------------ recovery


def test_silence_is_a_timeout_naming_the_command():
    driver, port = balance((PRINT, None))
    with pytest.raises(BalanceTimeout, match=r"^no response to 'ESC P' from transcript://$"):
        driver.read_immediate()
    port.assert_done()


def test_garbage_is_never_a_weight_resync_and_retry():
    driver, port = balance(
        (PRINT, b"+  \xff\x13 12.3 g\r\n"),
        printed(b"+     10.00 g  "),
    )
    assert driver.read_immediate().value == Decimal("10.00")
    port.assert_done()


def test_garbage_until_the_deadline_fails_naming_it():
    driver, port = balance(printed(b"+    12.3.4 g  "), response_timeout=0)
    with pytest.raises(ProtocolError) as raised:
        driver.read_immediate()
    assert str(raised.value) == "protocol error: garbled weight '+    12.3.4 g  '"
    port.assert_done()


def test_text_where_a_weight_belongs_is_garbage():
    driver, port = balance(printed(b"hello world"), response_timeout=0)
    with pytest.raises(ProtocolError, match=r"^protocol error: garbled reply 'hello world'$"):
        driver.read_immediate()
    port.assert_done()


def test_the_codec_refuses_a_command_without_escape():
    with pytest.raises(ValueError, match=r"^not an SBI command: 'P'"):
        SbiCodec().encode("P")


# ------------------------------------------------------------------ codec properties

LINES = [
    "+    1255.7 g  ", "   111.255 g  ", "N     +   123.56 g  ", "-      0.003    ",
    "      High    ", "Stat       OFF", "Err 101       ", "?+     12.34 g  ",
]


@given(
    lines=st.lists(st.sampled_from(LINES), min_size=1, max_size=12),
    ending=st.sampled_from([b"\r\n", b"\r", b"\n"]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=20),
)
def test_any_chunking_and_line_ending_decodes_the_same(lines, ending, cuts):
    stream = b"".join(line.encode() + ending for line in lines)
    codec = SbiCodec()
    decoded = decode_in_chunks(codec, stream, cuts)
    assert decoded == [codec.parse(line) for line in lines]
    assert [r.raw for r in decoded] == lines


def test_a_sign_and_a_long_run_of_spaces_still_parse_in_one_pass():
    # The weight pattern once had two space runs side by side around the optional sign; a
    # long run was split every possible way. One run per side now: these parse as before.
    def parsed(line: str) -> tuple[object, ...]:
        reply = SbiCodec().parse(line)
        assert reply is not None
        return reply.value, reply.unit, reply.stable

    assert parsed("-" + " " * 40 + "12.345 g") == parsed("-12.345 g")
    assert parsed("? +   0.5 g") == parsed("?+0.5 g")
