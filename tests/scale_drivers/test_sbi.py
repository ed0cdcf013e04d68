"""Sartorius SBI specifics against byte transcripts: its line formats and special lines,
lenient identification, key presses for tare and zero, and what is garbage.

What every driver does (identify, read, stability, tare, zero, timeouts, garbage) is
checked for SBI in test_driver_contract.py.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from scale_drivers.api import (
    BalanceOverload,
    BalanceUnderload,
    CommandNotExecutable,
    NotStable,
    ProtocolError,
)
from scale_drivers.sbi import SbiBalance, SbiCodec
from scale_drivers.testing import FixedClock, ScriptedPort


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


# ------------------------------------------------------------------ identity


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


# ------------------------------------------------------------------ tare and zero


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


def test_text_where_a_weight_belongs_is_garbage():
    driver, port = balance(printed(b"hello world"), response_timeout=0)
    with pytest.raises(ProtocolError, match=r"^protocol error: garbled reply 'hello world'$"):
        driver.read_immediate()
    port.assert_done()


def test_the_codec_refuses_a_command_without_escape():
    with pytest.raises(ValueError, match=r"^not an SBI command: 'P'"):
        SbiCodec().encode("P")


# ------------------------------------------------------------------ codec properties


def test_a_sign_and_a_long_run_of_spaces_still_parse_in_one_pass():
    # The weight pattern once had two space runs side by side around the optional sign; a
    # long run was split every possible way. One run per side now: these parse as before.
    def parsed(line: str) -> tuple[object, ...]:
        reply = SbiCodec().parse(line)
        assert reply is not None
        return reply.value, reply.unit, reply.stable

    assert parsed("-" + " " * 40 + "12.345 g") == parsed("-12.345 g")
    assert parsed("? +   0.5 g") == parsed("?+0.5 g")
