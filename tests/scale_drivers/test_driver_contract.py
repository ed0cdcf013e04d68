"""The behaviour every balance driver shows, checked for each protocol against transcripts.

Each protocol supplies its transcript fragments in a :class:`Dialect` (the bytes of its
commands, how its weight lines look, what it answers to a tare ...); every test here runs
once per dialect. A test that needs something a protocol does not have (Ohaus prints no
overload line, A&D reports no firmware) runs for the dialects that have it. What only one
protocol does stays in its own module (test_mt_sics.py, test_sbi.py, test_ohaus.py,
test_a_and_d.py). A fifth protocol joins by adding its dialect to :data:`DIALECTS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scale_drivers.a_and_d import AandDBalance, AandDCodec
from scale_drivers.api import (
    Balance,
    BalanceDisconnected,
    BalanceInfo,
    BalanceOverload,
    BalanceTimeout,
    BalanceUnderload,
    CommandNotExecutable,
    Handshake,
    NotStable,
    Parity,
    ProtocolError,
)
from scale_drivers.mt_sics import MtSicsBalance, MtSicsCodec
from scale_drivers.ohaus import OhausBalance, OhausCodec
from scale_drivers.protocols import PROTOCOLS
from scale_drivers.sbi import SbiBalance, SbiCodec
from scale_drivers.testing import (
    FIXED_UTC,
    Exchange,
    FixedClock,
    ScriptedPort,
    decode_in_chunks,
)

#: The load every tare takes off, in every dialect.
LOAD = Decimal("12.34")


@dataclass(frozen=True)
class Case:
    """A transcript, the driver options it needs, and the error it must end in (if any)."""

    script: Sequence[Exchange]
    options: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 5
    error: type[Exception] | None = None
    message: str = ""


@dataclass(frozen=True)
class Dialect:
    """What one protocol sends and answers, for the behaviours every driver shares."""

    id: str  # the pytest id
    name: str  # the name in scale_drivers.protocols.PROTOCOLS
    driver: Callable[..., Any]  # the driver class: (port, codec, *, clock, **options)
    codec: Callable[[], Any]
    factory: tuple[int, int, Parity, int]  # baud, data bits, parity, stop bits
    weight_command: bytes  # what read_immediate sends
    command: str  # its name in Reading.command
    line: Callable[[str, bool], bytes]  # a weight line for (value, stable), no line ending
    unsettled_unit: str  # the unit an unsettled weight line shows
    identify: Sequence[Exchange]
    identity: BalanceInfo
    identity_lines: object  # the driver's raw identification lines (None: it keeps none)
    identify_command: str  # the first command identify sends
    resync: Sequence[Exchange]  # what the driver sends to resynchronise after trouble
    noise: bytes  # a garbled reply, retried after resynchronising
    garbled: tuple[bytes, str]  # a garbled weight line and the error that names it
    tare: Case  # tare LOAD: the reading has the value LOAD and the command tare_command
    tare_command: str
    zero: Case
    refused_tare: Case
    refused_zero: Case
    overload: tuple[bytes, str] | None  # the line and the error message
    underload: tuple[bytes, str] | None
    without_firmware: tuple[Sequence[Exchange], BalanceInfo] | None
    lines: tuple[str, ...]  # sample reply lines for the chunking property

    def balance(self, *exchanges: Exchange, **options: Any) -> tuple[Any, ScriptedPort]:
        """A driver of this protocol on a port following ``exchanges``."""
        port = ScriptedPort.of(exchanges)
        return self.driver(port, self.codec(), clock=FixedClock(), **options), port

    def weighed(self, value: str, stable: bool = True) -> Exchange:
        """The immediate-weight command answered with ``value``."""
        return self.weight_command, self.line(value, stable) + b"\r\n"

    def answered(self, line: bytes) -> Exchange:
        """The immediate-weight command answered with ``line``."""
        return self.weight_command, line + b"\r\n"


# ------------------------------------------------------------------ MT-SICS

def _mt_sics_line(value: str, stable: bool) -> bytes:
    return f"S {'S' if stable else 'D'}{value:>10} g".encode()


MT_RESET = (b"@\r\n", b'I4 A "B207696838"\r\n')

MT_SICS = Dialect(
    id="mt_sics",
    name="mt-sics",
    driver=MtSicsBalance,
    codec=MtSicsCodec,
    factory=(9600, 8, Parity.NONE, 1),
    weight_command=b"SI\r\n",
    command="SI",
    line=_mt_sics_line,
    unsettled_unit="g",
    identify=[
        MT_RESET,
        (b"I2\r\n", b'I2 A "XS204 Excellence 220.0090 g"\r\n'),
        (b"I3\r\n", b'I3 A "1.10 18.6.4.1361.772"\r\n'),
        (b"I4\r\n", b'I4 A "B207696838"\r\n'),
    ],
    identity=BalanceInfo("Mettler Toledo", "XS204 Excellence", "B207696838",
                         "1.10 18.6.4.1361.772", Decimal("220.0090"), Decimal("0.0001"), "g"),
    identity_lines=None,
    identify_command="@",
    resync=[MT_RESET],  # "@" cancels anything pending; its I4 line says the balance is back
    noise=b"S S  \xff\x13garbage\r\n",
    garbled=(b"S S 12.3.4 g", "protocol error: garbled weight '12.3.4' in 'S S 12.3.4 g'"),
    tare=Case([(b"T\r\n", b"T S     12.34 g\r\n")]),  # the balance waits, then names the tare
    tare_command="T",
    zero=Case([(b"Z\r\n", b"Z A\r\n")]),
    refused_tare=Case([(b"T\r\n", b"T I\r\n")], error=NotStable,
                      message="not stable: tare refused by the balance (T I)"),
    refused_zero=Case([(b"Z\r\n", b"Z I\r\n")], error=NotStable,
                      message="not stable: zero refused by the balance (Z I)"),
    overload=(b"S +", "overload"),
    underload=(b"S -", "underload"),
    without_firmware=(  # I3 answered ES (unknown command)
        [
            MT_RESET,
            (b"I2\r\n", b'I2 A "PG503-S 510.008 g"\r\n'),
            (b"I3\r\n", b"ES\r\n"),
            (b"I4\r\n", b'I4 A "1122334455"\r\n'),
        ],
        BalanceInfo("Mettler Toledo", "PG503-S", "1122334455", "", Decimal("510.008"),
                    Decimal("0.001"), "g"),
    ),
    lines=("S S     100.00 g", "S D    -0.003 g", 'I4 A "B207696838"', "ES", "T S     12.34 g",
           'I2 A "XS204 Excellence 220.0090 g"', "Z A", "S +"),
)


# ------------------------------------------------------------------ Sartorius SBI

def _sbi_line(value: str, stable: bool) -> bytes:
    # Sign, value right-aligned, a space, the unit in 3: blank while unsettled.
    sign, digits = ("-", value[1:]) if value.startswith("-") else ("+", value)
    return f"{sign}{digits:>10} {'g  ' if stable else '   '}".encode()


def _sbi_print(line: bytes) -> Exchange:
    return b"\x1bP\r\n", line + b"\r\n"


SBI = Dialect(
    id="sbi",
    name="sbi",
    driver=SbiBalance,
    codec=SbiCodec,
    factory=(9600, 8, Parity.ODD, 1),
    weight_command=b"\x1bP\r\n",
    command="ESC P",
    line=_sbi_line,
    unsettled_unit="",  # the blank unit is SBI's "not stable"
    identify=[
        (b"\x1bx1_\r\n", b"BCE224I-1S\r\n"),
        (b"\x1bx2_\r\n", b"SerNo.    0031801165\r\n"),
        (b"\x1bx3_\r\n", b"  00-20-05.03  \r\n"),
    ],
    identity=BalanceInfo("Sartorius", "BCE224I-1S", "0031801165", "00-20-05.03"),
    identity_lines={"ESC x1_": "BCE224I-1S", "ESC x2_": "SerNo.    0031801165",
                    "ESC x3_": "  00-20-05.03  "},
    identify_command="ESC x1_",
    resync=[],  # no reset command: the driver drains the line
    noise=b"+  \xff\x13 12.3 g\r\n",
    garbled=(b"+    12.3.4 g  ", "protocol error: garbled weight '+    12.3.4 g  '"),
    tare=Case(
        [
            _sbi_print(b"+     12.34 g  "),
            _sbi_print(b"+     12.34 g  "),
            (b"\x1bU\r\n", None),  # a key press: no answer
            _sbi_print(b"+     12.34 g  "),  # not taken yet
            _sbi_print(b"      --      "),  # busy taring: polled again
            _sbi_print(b"+      0.00 g  "),
            _sbi_print(b"+      0.00 g  "),
        ],
        {"stability_count": 2},
    ),
    tare_command="ESC U",
    zero=Case(
        [
            (b"\x1bV\r\n", None),
            _sbi_print(b"       C      "),  # adjusting: polled again
            _sbi_print(b"-      0.00 g  "),
        ],
        {"stability_count": 1},
    ),
    refused_tare=Case(
        [_sbi_print(b"+     12.34 g  "), (b"\x1bU\r\n", None), _sbi_print(b"+     12.34 g  ")],
        {"stability_count": 1}, timeout=0, error=CommandNotExecutable,
        message="tare not carried out: the balance still shows '+     12.34 g'"),
    refused_zero=Case(
        [(b"\x1bV\r\n", None), _sbi_print(b"+     12.34 g  ")],
        {"stability_count": 1}, timeout=0, error=CommandNotExecutable,
        message="zero not carried out: the balance still shows '+     12.34 g'"),
    overload=(b"      High    ", "overload (High)"),
    underload=(b"       L      ", "underload (L)"),
    without_firmware=(  # older models do not answer ESC x3_
        [
            (b"\x1bx1_\r\n", b"MSE1203S-100-DA\r\n"),
            (b"\x1bx2_\r\n", b"0031801165\r\n"),
            (b"\x1bx3_\r\n", None),
        ],
        BalanceInfo("Sartorius", "MSE1203S-100-DA", "0031801165", ""),
    ),
    lines=("+    1255.7 g  ", "   111.255 g  ", "N     +   123.56 g  ", "-      0.003    ",
           "      High    ", "Stat       OFF", "Err 101       ", "?+     12.34 g  "),
)


# ------------------------------------------------------------------ Ohaus

def _ohaus_line(value: str, stable: bool) -> bytes:
    return f"{value:>11} g{'' if stable else ' ?'}".encode()


def _ohaus_print(line: bytes) -> Exchange:
    return b"IP\r\n", line + b"\r\n"


OHAUS = Dialect(
    id="ohaus",
    name="ohaus",
    driver=OhausBalance,
    codec=OhausCodec,
    factory=(9600, 8, Parity.NONE, 1),
    weight_command=b"IP\r\n",
    command="IP",
    line=_ohaus_line,
    unsettled_unit="g",
    identify=[
        (b"PSN\r\n", b"B123456789\r\n"),
        (b"PV\r\n", [b"EX224\r\n", b"1.20 1.05\r\n", b"LFT ON\r\n"]),
    ],
    identity=BalanceInfo("Ohaus", "", "B123456789", "EX224 1.20 1.05 LFT ON"),  # no model
    identity_lines={"PSN": ["B123456789"], "PV": ["EX224", "1.20 1.05", "LFT ON"]},
    identify_command="PSN",
    resync=[],  # no reset command: the driver drains the line
    noise=b"    1\xfe2.34 g\r\n",
    garbled=(b"     12.3.4 g", "protocol error: garbled weight '     12.3.4 g'"),
    tare=Case(
        [
            _ohaus_print(b"      12.34 g"),
            (b"T\r\n", b"OK!\r\n"),  # acknowledged ("1RL"): dropped by the next exchange
            _ohaus_print(b"       0.00 g ?"),
            _ohaus_print(b"       0.00 g"),
            (b"PT\r\n", b"      12.34 g\r\n"),  # the tare in memory
        ],
        {"stability_count": 1},
    ),
    tare_command="T",
    zero=Case(
        [
            (b"Z\r\n", None),
            _ohaus_print(b"       0.01 g ?"),
            _ohaus_print(b"       0.00 g"),
        ],
        {"stability_count": 1},
    ),
    refused_tare=Case(
        [_ohaus_print(b"      12.34 g"), (b"T\r\n", None), _ohaus_print(b"      12.34 g")],
        {"stability_count": 1}, timeout=0, error=CommandNotExecutable,
        message="tare not carried out: the balance still shows '12.34 g'"),
    refused_zero=Case(
        [(b"Z\r\n", None), _ohaus_print(b"      12.34 g")],
        {"stability_count": 1}, timeout=0, error=CommandNotExecutable,
        message="zero not carried out: the balance still shows '12.34 g'"),
    # The manuals document no overload or underload line: whatever comes instead of a
    # weight is garbage (test_ohaus.py), never a weight.
    overload=None,
    underload=None,
    without_firmware=(  # PV answered ES
        [(b"PSN\r\n", b"B123456789\r\n"), (b"PV\r\n", b"ES\r\n")],
        BalanceInfo("Ohaus", "", "B123456789", ""),
    ),
    lines=("     192.21 g", "       0.01 g ?", "     207.80 g TOTAL", "ES", "OK!",
           "    0.4500 oz    ?", "     -12.34 g", "          3 PCS   "),
)


# ------------------------------------------------------------------ A&D

def _a_and_d_line(value: str, stable: bool) -> bytes:
    # Header, comma, sign and zero-padded value, the unit in 3.
    sign, digits = ("-", value[1:]) if value.startswith("-") else ("+", value)
    return f"{'ST' if stable else 'US'},{sign}{digits:0>8}  g".encode()


def _a_and_d_query(line: bytes) -> Exchange:
    return b"Q\r\n", line + b"\r\n"


A_AND_D = Dialect(
    id="a_and_d",
    name="and",
    driver=AandDBalance,
    codec=AandDCodec,
    factory=(2400, 7, Parity.EVEN, 1),
    weight_command=b"Q\r\n",
    command="Q",
    line=_a_and_d_line,
    unsettled_unit="g",
    identify=[
        (b"?TN\r\n", b"TN,  GX-224A\r\n"),
        (b"?SN\r\n", b"SN,T1234567\r\n"),
    ],
    identity=BalanceInfo("A&D", "GX-224A", "T1234567", ""),  # the protocol has no firmware
    identity_lines={"?TN": "TN,  GX-224A", "?SN": "SN,T1234567"},
    identify_command="?TN",
    resync=[],  # no reset command: the driver drains the line
    noise=b"ST,+001\xff3.45  g\r\n",
    garbled=(b"ST,+0012.3.4  g", "protocol error: garbled weight 'ST,+0012.3.4  g'"),
    tare=Case(
        [
            _a_and_d_query(b"ST,+00012.34  g"),
            (b"T\r\n", None),  # factory erCd 0: no answer
            _a_and_d_query(b"EC,E02"),  # not ready while taring: polled again
            _a_and_d_query(b"ST,+00000.00  g"),
        ],
        {"stability_count": 1},
    ),
    tare_command="T",
    zero=Case(
        [(b"R\r\n", None), _a_and_d_query(b"ST,+00000.00  g")],  # RE-ZERO, factory erCd 0
        {"stability_count": 1},
    ),
    refused_tare=Case(
        [_a_and_d_query(b"ST,+00012.34  g"), (b"T\r\n", None),
         _a_and_d_query(b"ST,+00012.34  g")],
        {"stability_count": 1}, timeout=0, error=CommandNotExecutable,
        message="tare not carried out: the balance still shows 'ST,+00012.34  g'"),
    refused_zero=Case(
        [(b"R\r\n", None), _a_and_d_query(b"ST,+00012.34  g")],
        {"stability_count": 1}, timeout=0, error=CommandNotExecutable,
        message="zero not carried out: the balance still shows 'ST,+00012.34  g'"),
    overload=(b"OL,+9999999E+19", "overload (OL,+9999999E+19)"),
    underload=(b"OL,-9999999E+19", "underload (OL,-9999999E+19)"),
    without_firmware=None,  # no command reports it: the identity above has it empty
    lines=("ST,+00123.45  g", "US,-00183.69  g", "QT,+00001234 PC", "OL,+9999999E+19",
           "EC,E11", "\x06", "SN,T1234567", "TN,  GX-224A"),
)


DIALECTS = [MT_SICS, SBI, OHAUS, A_AND_D]


def dialects(*needs: str) -> pytest.MarkDecorator:
    """Parametrise over the dialects that have every fragment in ``needs``."""
    chosen = [d for d in DIALECTS if all(getattr(d, need) is not None for need in needs)]
    return pytest.mark.parametrize("dialect", chosen, ids=[d.id for d in chosen])


def test_every_registered_protocol_has_a_dialect():
    assert sorted(d.name for d in DIALECTS) == sorted(PROTOCOLS)
    ids = [d.id for d in DIALECTS]
    assert len(set(ids)) == len(ids)
    assert {"mt_sics", "sbi", "ohaus", "a_and_d"} <= set(ids)


# ------------------------------------------------------------------ registry and settings


@dialects()
def test_the_registry_has_the_factory_serial_settings(dialect):
    settings = PROTOCOLS[dialect.name].settings
    assert (settings.baudrate, settings.bytesize, settings.parity,
            settings.stopbits) == dialect.factory
    assert settings.handshake is Handshake.NONE


@dialects()
def test_the_registry_builds_a_balance_that_releases_its_port(dialect):
    port = ScriptedPort.of([])
    driver = PROTOCOLS[dialect.name].build(port, FixedClock())
    assert isinstance(driver, dialect.driver)
    assert isinstance(driver, Balance)
    driver.close()
    assert port.closed
    port.assert_done()


# ------------------------------------------------------------------ identity


@dialects()
def test_identify_says_who_the_balance_is(dialect):
    driver, port = dialect.balance(*dialect.identify)
    assert driver.identify() == dialect.identity
    assert driver.info == dialect.identity
    assert getattr(driver, "identity_lines", None) == dialect.identity_lines
    port.assert_done()


@dialects("without_firmware")
def test_a_balance_that_does_not_report_its_firmware_leaves_it_empty(dialect):
    script, identity = dialect.without_firmware
    driver, port = dialect.balance(*script)
    info = driver.identify()
    assert info.firmware == ""
    assert info == identity
    port.assert_done()


@dialects()
def test_silence_to_identify_is_a_timeout_naming_the_command(dialect):
    first_command = dialect.identify[0][0]
    driver, port = dialect.balance((first_command, None))
    with pytest.raises(BalanceTimeout) as raised:
        driver.identify()
    assert str(raised.value) == f"no response to {dialect.identify_command!r} from transcript://"
    port.assert_done()


# ------------------------------------------------------------------ weighing


@dialects()
@pytest.mark.parametrize("stable", [True, False], ids=["stable", "unsettled"])
def test_read_immediate_is_the_weight_now_with_its_line_and_command(stable, dialect):
    line = dialect.line("-0.003", stable)
    driver, port = dialect.balance(dialect.answered(line))
    reading = driver.read_immediate()
    assert (reading.value, reading.stable) == (Decimal("-0.003"), stable)
    assert reading.unit == ("g" if stable else dialect.unsettled_unit)
    assert reading.raw == line.decode()
    assert reading.command == dialect.command
    assert (reading.utc, reading.monotonic) == (FIXED_UTC, 1000.0)
    port.assert_done()


@dialects()
def test_read_stable_waits_for_the_window_not_just_the_flag(dialect):
    driver, port = dialect.balance(
        dialect.weighed("12.31", stable=False),
        dialect.weighed("12.34"),
        dialect.weighed("12.36"),  # stable, but 0.02 g away: the window restarts
        dialect.weighed("12.35"),
        dialect.weighed("12.35"),
    )
    reading = driver.read_stable(timeout=5)
    assert (reading.value, reading.stable) == (Decimal("12.35"), True)
    assert reading.command == dialect.command
    port.assert_done()


@dialects()
def test_never_stable_within_the_time_is_not_stable_naming_the_last_line(dialect):
    line = dialect.line("12.31", stable=False)
    driver, port = dialect.balance(dialect.answered(line), stability_count=1)
    with pytest.raises(NotStable) as raised:
        driver.read_stable(timeout=0)
    assert str(raised.value) == f"not stable within 0 s (last {line.decode().strip()!r})"
    port.assert_done()


OUT_OF_RANGE = pytest.mark.parametrize(
    ("which", "error"),
    [("overload", BalanceOverload), ("underload", BalanceUnderload)],
    ids=["overload", "underload"],
)


@dialects("overload", "underload")
@OUT_OF_RANGE
def test_overload_and_underload_are_named_errors_never_weights(which, error, dialect):
    line, message = getattr(dialect, which)
    driver, port = dialect.balance(dialect.answered(line))
    with pytest.raises(error) as raised:
        driver.read_immediate()
    assert str(raised.value) == message
    port.assert_done()


@dialects("overload", "underload")
@OUT_OF_RANGE
def test_overload_or_underload_during_the_wait_ends_it_at_once(which, error, dialect):
    line, message = getattr(dialect, which)
    driver, port = dialect.balance(dialect.weighed("219.80", stable=False), dialect.answered(line))
    with pytest.raises(error) as raised:
        driver.read_stable(timeout=5)
    assert str(raised.value) == message
    port.assert_done()


# ------------------------------------------------------------------ tare and zero


@dialects()
def test_tare_returns_the_load_taken_off_and_the_command_that_took_it(dialect):
    case = dialect.tare
    driver, port = dialect.balance(*case.script, **case.options)
    reading = driver.tare(timeout=case.timeout)
    assert (reading.value, reading.command) == (LOAD, dialect.tare_command)
    port.assert_done()


@dialects()
def test_zero_is_confirmed_by_the_balance(dialect):
    case = dialect.zero
    driver, port = dialect.balance(*case.script, **case.options)
    driver.zero(timeout=case.timeout)
    port.assert_done()


@dialects()
@pytest.mark.parametrize("action", ["tare", "zero"])
def test_a_refused_tare_or_zero_is_an_error_saying_why(action, dialect):
    case = getattr(dialect, f"refused_{action}")
    driver, port = dialect.balance(*case.script, **case.options)
    with pytest.raises(case.error) as raised:
        getattr(driver, action)(timeout=case.timeout)
    assert str(raised.value) == case.message
    port.assert_done()


# ------------------------------------------------------------------ recovery


@dialects()
def test_silence_is_a_timeout_naming_the_command(dialect):
    driver, port = dialect.balance((dialect.weight_command, None), *dialect.resync)
    with pytest.raises(BalanceTimeout) as raised:
        driver.read_immediate()
    assert str(raised.value) == f"no response to {dialect.command!r} from transcript://"
    port.assert_done()


@dialects()
@pytest.mark.parametrize(
    "read",
    [pytest.param(lambda driver: driver.read_immediate(), id="read_immediate"),
     pytest.param(lambda driver: driver.read_stable(timeout=5), id="read_stable")],
)
def test_an_unplug_is_a_disconnection_at_once(read, dialect):
    unplug = BalanceDisconnected("transcript://: the device went away")
    driver, port = dialect.balance((dialect.weight_command, unplug))
    with pytest.raises(BalanceDisconnected) as raised:
        read(driver)
    assert raised.value is unplug
    port.assert_done()


@dialects()
def test_garbage_is_never_a_weight_resync_and_retry(dialect):
    driver, port = dialect.balance(
        (dialect.weight_command, dialect.noise),
        *dialect.resync,
        dialect.weighed("10.00"),
    )
    assert driver.read_immediate().value == Decimal("10.00")
    port.assert_done()


@dialects()
def test_garbage_until_the_deadline_fails_naming_it(dialect):
    line, message = dialect.garbled
    driver, port = dialect.balance(dialect.answered(line), *dialect.resync, response_timeout=0)
    with pytest.raises(ProtocolError) as raised:
        driver.read_immediate()
    assert str(raised.value) == message
    port.assert_done()


# ------------------------------------------------------------------ codec properties


@dialects()
@given(
    data=st.data(),
    ending=st.sampled_from([b"\r\n", b"\r", b"\n"]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=20),
)
def test_any_chunking_and_line_ending_decodes_the_same(dialect, data, ending, cuts):
    lines = data.draw(st.lists(st.sampled_from(dialect.lines), min_size=1, max_size=12))
    stream = b"".join(line.encode() + ending for line in lines)
    codec = dialect.codec()
    decoded = decode_in_chunks(codec, stream, cuts)
    assert decoded == [codec.parse(line) for line in lines]
    assert [reply.raw for reply in decoded] == lines
