"""Protocol responders, byte for byte, on a fake clock.

Expected replies are written from the manufacturers' manuals (section named beside each
test) and from /work/shared/design/protocols.md, never from the project's drivers.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scale_drivers.sim.and_gx import AndGxResponder
from scale_drivers.sim.mt_sics import MtSicsResponder
from scale_drivers.sim.ohaus import OhausResponder
from scale_drivers.sim.physics import BalanceModel
from scale_drivers.sim.responder import Responder
from scale_drivers.sim.sbi import SbiResponder
from scale_drivers.sim.scenario import Scenario, default_scenario
from scale_drivers.sim.server import PROTOCOLS, make_responder

D = Decimal
ESC = b"\x1b"


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def quiet(scenario: Scenario | None = None, **model) -> Scenario:
    """The default scenario (settled 100.00 g) without noise, so every digit is known."""
    scenario = scenario or default_scenario()
    return replace(scenario, model=replace(scenario.model, noise_sd=0.0, **model))


def build(responder_class: type[Responder], clock: FakeClock, scenario: Scenario | None = None,
          **options) -> Responder:
    device = quiet(scenario).build_device(
        clock=clock, seed=1, default_stable_timeout=responder_class.default_stable_timeout)
    return responder_class(device, **options)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mt(clock) -> MtSicsResponder:
    responder = build(MtSicsResponder, clock)
    assert isinstance(responder, MtSicsResponder)
    return responder


def settle(responder: Responder, clock: FakeClock, seconds: float = 10.0) -> None:
    clock.advance(seconds)
    responder.poll()


# ====================================================================== MT-SICS
# Mettler Toledo, "MT-SICS Reference Manual, Excellence balances" (11780711), section 3.2
# "Response formats": ID, status, weight value right-aligned in 10 characters, unit; CR LF.

def test_mt_sics_stable_weight_has_the_value_right_aligned_in_ten_characters(mt):
    # §4.1 "S – Send stable weight value", example "S S 100.00 g".
    assert mt.receive(b"S\r\n") == b"S S     100.00 g\r\n"
    assert mt.receive(b"SI\r\n") == b"S S     100.00 g\r\n"


def test_mt_sics_identification_replies(mt):
    # §4.1 "@", "I1"…"I5": one quoted string each; I2 is parsed from the right.
    assert mt.receive(b"@\r\n") == b'I4 A "SIM0000001"\r\n'
    assert mt.receive(b"I1\r\n") == b'I1 A "01" "2.30" "2.20" "" ""\r\n'
    assert mt.receive(b"I2\r\n") == b'I2 A "SIM-220 220.00 g"\r\n'
    assert mt.receive(b"I3\r\n") == b'I3 A "1.00"\r\n'
    assert mt.receive(b"I4\r\n") == b'I4 A "SIM0000001"\r\n'
    assert mt.receive(b"I5\r\n") == b'I5 A "SIM-SW-1"\r\n'


def test_mt_sics_i0_lists_every_command_with_b_lines_then_a_last_line(mt):
    # §4.1 "I0 – Inquiry of all implemented MT-SICS commands": "I0 B <level> "<cmd>"" …,
    # the last line with status A.
    assert mt.receive(b"I0\r\n") == (
        b'I0 B 0 "@"\r\nI0 B 0 "C"\r\nI0 B 0 "I0"\r\nI0 B 0 "I1"\r\nI0 B 0 "I2"\r\n'
        b'I0 B 0 "I3"\r\nI0 B 0 "I4"\r\nI0 B 0 "I5"\r\nI0 B 0 "S"\r\nI0 B 0 "SI"\r\n'
        b'I0 B 0 "SIR"\r\nI0 B 0 "Z"\r\nI0 B 0 "ZI"\r\nI0 B 1 "D"\r\nI0 B 1 "DW"\r\n'
        b'I0 B 1 "T"\r\nI0 B 1 "TA"\r\nI0 B 1 "TAC"\r\nI0 A 1 "TI"\r\n'
    )


def test_mt_sics_weight_now_is_dynamic_while_settling(mt, clock):
    mt.device.balance.place("50")
    clock.advance(0.5)
    line = mt.receive(b"SI\r\n")
    assert line.startswith(b"S D ") and line.endswith(b" g\r\n") and len(line) == 18
    settle(mt, clock)
    assert mt.receive(b"SI\r\n") == b"S S     150.00 g\r\n"


def test_mt_sics_stable_weight_waits_in_device_time_then_answers(mt, clock):
    mt.device.balance.place("12.5")
    assert mt.receive(b"S\r\n") == b""
    clock.advance(1.0)
    assert mt.poll() == b""
    clock.advance(4.0)
    assert mt.poll() == b"S S     112.50 g\r\n"


def test_mt_sics_stable_weight_gives_up_with_status_i_after_its_own_timeout(mt, clock):
    mt.device.faults.inject("never_stable")
    assert mt.receive(b"S\r\n") == b""
    clock.advance(29.9)
    assert mt.poll() == b""
    clock.advance(0.2)
    assert mt.poll() == b"S I\r\n"
    assert mt.receive(b"SI\r\n") == b"S D     100.00 g\r\n"


def test_mt_sics_slow_stability_makes_s_answer_i_after_the_timeout(mt, clock):
    mt.device.faults.inject("slow_stability")
    assert mt.receive(b"S\r\n") == b""
    clock.advance(30.1)
    assert mt.poll() == b"S I\r\n"
    assert mt.receive(b"SI\r\n") == b"S D     100.00 g\r\n"


def test_mt_sics_commands_wait_behind_a_blocking_one_and_keep_their_order(mt, clock):
    mt.device.balance.place("1")
    assert mt.receive(b"S\r\nI4\r\nSI\r\n") == b""
    clock.advance(5)
    assert mt.poll() == b'S S     101.00 g\r\nI4 A "SIM0000001"\r\nS S     101.00 g\r\n'


def test_mt_sics_reset_cancels_a_waiting_command_without_answering_it(mt, clock):
    mt.device.faults.inject("never_stable")
    assert mt.receive(b"S\r\nSI\r\n") == b""
    assert mt.receive(b"@\r\n") == b'I4 A "SIM0000001"\r\n'
    clock.advance(60)
    assert mt.poll() == b""


@pytest.mark.parametrize(("fault", "status"), [("overload", b"+"), ("underload", b"-")])
def test_mt_sics_overload_and_underload_carry_no_value(mt, fault, status):
    # §3.2.1: "+" overload, "-" underload; no weight value follows.
    mt.device.faults.inject(fault)
    assert mt.receive(b"S\r\n") == b"S " + status + b"\r\n"
    assert mt.receive(b"SI\r\n") == b"S " + status + b"\r\n"
    assert mt.receive(b"Z\r\n") == b"Z " + status + b"\r\n"
    assert mt.receive(b"T\r\n") == b"T " + status + b"\r\n"


def test_mt_sics_sir_streams_every_display_update_until_reset(mt, clock):
    # §4.1 "SIR – Send weight value immediately and repeat", stopped by "@".
    assert mt.receive(b"SIR\r\n") == b"S S     100.00 g\r\n"
    assert mt.poll() == b""
    mt.device.balance.place("0.50")
    clock.advance(0.1)
    assert mt.poll().startswith(b"S D ")
    clock.advance(0.1)
    assert mt.poll().startswith(b"S D ")
    assert mt.receive(b"@\r\n") == b'I4 A "SIM0000001"\r\n'
    clock.advance(1.0)
    assert mt.poll() == b""


def test_mt_sics_sir_is_also_stopped_by_cancel_and_by_s_or_si(mt, clock):
    mt.receive(b"SIR\r\n")
    assert mt.receive(b"C\r\n") == b"C B\r\nC A\r\n"
    clock.advance(1.0)
    assert mt.poll() == b""
    mt.receive(b"SIR\r\n")
    assert mt.receive(b"SI\r\n") == b"S S     100.00 g\r\n"
    clock.advance(1.0)
    assert mt.poll() == b""


def test_mt_sics_other_commands_are_answered_between_streamed_lines(mt, clock):
    mt.receive(b"SIR\r\n")
    assert mt.receive(b"TA\r\n") == b"TA A       0.00 g\r\n"
    clock.advance(0.1)
    assert mt.poll() == b"S S     100.00 g\r\n"


def test_mt_sics_zero(mt, clock):
    # §4.1 "Z": "Z A" done; "Z +"/"Z -" beyond the zero range; "Z I" not executable.
    assert mt.receive(b"Z\r\n") == b"Z +\r\n"  # 100 g is far outside ±2 % of 220 g
    mt.device.balance.set_load("1.20")
    assert mt.receive(b"Z\r\n") == b""
    clock.advance(5)
    assert mt.poll() == b"Z A\r\n"
    assert mt.receive(b"SI\r\n") == b"S S       0.00 g\r\n"


def test_mt_sics_zero_gives_up_when_never_stable(mt, clock):
    mt.device.balance.set_load("1.00")
    mt.device.faults.inject("never_stable")
    assert mt.receive(b"Z\r\n") == b""
    clock.advance(31)
    assert mt.poll() == b"Z I\r\n"


def test_mt_sics_zero_immediately_says_whether_it_was_stable(mt, clock):
    mt.device.balance.set_load("1.00")
    clock.advance(5)
    assert mt.receive(b"ZI\r\n") == b"ZI S\r\n"
    mt.device.balance.place("2.00")
    clock.advance(0.3)
    assert mt.receive(b"ZI\r\n") == b"ZI D\r\n"
    mt.device.balance.set_load("50")
    clock.advance(5)
    assert mt.receive(b"ZI\r\n") == b"ZI +\r\n"


def test_mt_sics_tare_and_tare_memory(mt, clock):
    # §4.2 "T", "TA", "TAC", "TI": T S answers with the tare weight.
    assert mt.receive(b"T\r\n") == b"T S     100.00 g\r\n"
    assert mt.receive(b"SI\r\n") == b"S S       0.00 g\r\n"
    assert mt.receive(b"TA\r\n") == b"TA A     100.00 g\r\n"
    mt.device.balance.remove("12.34")
    settle(mt, clock)
    assert mt.receive(b"SI\r\n") == b"S S     -12.34 g\r\n"
    assert mt.receive(b"TAC\r\n") == b"TAC A\r\n"
    assert mt.receive(b"SI\r\n") == b"S S      87.66 g\r\n"


def test_mt_sics_tare_preset_and_its_errors(mt):
    assert mt.receive(b"TA 12.34 g\r\n") == b"TA A      12.34 g\r\n"
    assert mt.receive(b"SI\r\n") == b"S S      87.66 g\r\n"
    assert mt.receive(b"TA 12.34 kg\r\n") == b"TA L\r\n"
    assert mt.receive(b"TA twelve g\r\n") == b"TA L\r\n"
    assert mt.receive(b"TA 500 g\r\n") == b"TA L\r\n"
    assert mt.receive(b"TA\r\n") == b"TA A      12.34 g\r\n"


def test_mt_sics_tare_immediately_reports_stable_or_dynamic(mt, clock):
    assert mt.receive(b"TI\r\n") == b"TI S     100.00 g\r\n"
    mt.device.balance.place("10")
    clock.advance(5.0)
    mt.device.balance.place("0.05")
    clock.advance(0.1)
    assert mt.receive(b"TI\r\n") == b"TI D     110.02 g\r\n"  # the gross, while moving


def test_mt_sics_tare_gives_up_when_never_stable(mt, clock):
    mt.device.faults.inject("never_stable")
    assert mt.receive(b"T\r\n") == b""
    clock.advance(31)
    assert mt.poll() == b"T I\r\n"


def test_mt_sics_display_text_and_back_to_weight(mt):
    # §4.2 "D": D A shown, D L wrong parameter; "DW": DW A.
    assert mt.receive(b'D "HEPARIN 5000"\r\n') == b"D A\r\n"
    assert mt.display_text == "HEPARIN 5000"
    assert mt.receive(b"D HEPARIN\r\n") == b"D L\r\n"
    assert mt.receive(b"DW\r\n") == b"DW A\r\n"
    assert mt.display_text is None


@pytest.mark.parametrize("command", [b"XYZ", b"si", b"SI 5", b"I4 x", b"S1", b""])
def test_mt_sics_unknown_or_malformed_commands_are_syntax_errors(mt, command):
    # §3.2.3 "Error messages": ES syntax error, the command was not recognised.
    expected = b"" if command == b"" else b"ES\r\n"
    assert mt.receive(command + b"\r\n") == expected


def test_mt_sics_garbled_bytes_are_transmission_errors(mt):
    # §3.2.3: ET transmission error (parity or framing).
    assert mt.receive(b"S\xc9\r\n") == b"ET\r\n"


@pytest.mark.parametrize(("fault", "reply"), [("syntax_error", b"ES\r\n"),
                                              ("transmission_error", b"ET\r\n")])
def test_mt_sics_error_faults_answer_every_command(mt, fault, reply):
    mt.device.faults.inject(fault)
    assert mt.receive(b"SI\r\n@\r\n") == reply * 2
    mt.device.faults.clear(fault)
    assert mt.receive(b"SI\r\n") == b"S S     100.00 g\r\n"


@pytest.mark.parametrize("ending", [b"\r\n", b"\r", b"\n"])
def test_mt_sics_accepts_any_line_ending_and_answers_with_cr_lf(mt, ending):
    assert mt.receive(b"I4" + ending + b"SI" + ending) == (
        b'I4 A "SIM0000001"\r\nS S     100.00 g\r\n')


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), max_size=8))
def test_mt_sics_replies_do_not_depend_on_how_the_input_is_chunked(cuts):
    stream = b'I4\r\nSI\rTA 1.00 g\nD "A B"\r\nTA\r\nXX\r\n@\r\n'
    whole = build(MtSicsResponder, FakeClock()).receive(stream)
    responder = build(MtSicsResponder, FakeClock())
    out = b""
    start = 0
    for cut in sorted(cuts):
        out += responder.receive(stream[start:cut])
        start = max(start, cut)
    out += responder.receive(stream[start:])
    assert out == whole


def test_mt_sics_value_field_follows_the_readability(clock):
    fine = quiet(default_scenario(), readability=D("0.0001"))
    fine = replace(fine, initial_load=D("12.3456"))
    responder = build(MtSicsResponder, clock, fine)
    assert responder.receive(b"SI\r\n") == b"S S    12.3456 g\r\n"
    assert responder.receive(b"I2\r\n") == b'I2 A "SIM-220 220.0000 g"\r\n'


# ====================================================================== Sartorius SBI
# Sartorius LE/Entris/Quintix operating instructions, "Data output format": 16 characters
# (sign, space, 8-character value, space, 3-character unit, CR LF), 22 with a 6-character
# ID; "Special codes" High/Low at positions 7–10.

def test_sbi_print_gives_a_sixteen_character_line(clock):
    sbi = build(SbiResponder, clock)
    assert sbi.receive(ESC + b"P") == b"+   100.00 g  \r\n"
    assert sbi.receive(ESC + b"P\r\n") == b"+   100.00 g  \r\n"


def test_sbi_matches_the_manual_example_of_1255_7_g(clock):
    # FB series manual, "Data output example: + 1255.7 g": "+***1255.7*g**CRLF".
    scenario = replace(default_scenario(), initial_load=D("1255.7"),
                       model=BalanceModel(capacity=D("2200.0"), readability=D("0.1")))
    sbi = build(SbiResponder, clock, scenario)
    assert sbi.receive(ESC + b"P") == b"+   1255.7 g  \r\n"


def test_sbi_unstable_values_have_a_blank_unit(clock):
    sbi = build(SbiResponder, clock)
    sbi.device.balance.place("5")
    clock.advance(0.5)
    line = sbi.receive(ESC + b"P")
    assert len(line) == 16 and line.endswith(b"    \r\n") and line.startswith(b"+ ")


def test_sbi_id_code_gives_twenty_two_character_lines(clock):
    # Entris II manual, "Data output format with 22 characters", example "N + 123.56 g".
    sbi = build(SbiResponder, clock, id_code=True)
    assert sbi.receive(ESC + b"P") == b"N     +   100.00 g  \r\n"
    sbi.device.faults.inject("overload")
    assert sbi.receive(ESC + b"P") == b"Stat        High    \r\n"


@pytest.mark.parametrize(("fault", "line"), [("overload", b"      High    \r\n"),
                                             ("underload", b"      Low     \r\n")])
def test_sbi_special_codes_for_overload_and_underload(clock, fault, line):
    # Quintix manual, "Special outputs": "******High****" and "******Low*****".
    sbi = build(SbiResponder, clock)
    sbi.device.faults.inject(fault)
    assert sbi.receive(ESC + b"P") == line


def test_sbi_tare_zero_keys_act_once_stable_and_answer_nothing(clock):
    sbi = build(SbiResponder, clock)
    assert sbi.receive(ESC + b"T") == b""  # 100 g is outside the zero range: tare
    assert sbi.receive(ESC + b"P") == b"+     0.00 g  \r\n"
    sbi.device.balance.remove("3.25")
    clock.advance(5)
    assert sbi.receive(ESC + b"P") == b"-     3.25 g  \r\n"
    sbi.device.balance.set_load("1.00")
    clock.advance(5)
    assert sbi.receive(ESC + b"V") == b""  # zero: within ±2 %; clears the tare
    assert sbi.receive(ESC + b"P") == b"+     0.00 g  \r\n"
    sbi.device.balance.place("20")
    clock.advance(5)
    assert sbi.receive(ESC + b"U\r\n") == b""
    sbi.device.balance.place("5")
    clock.advance(5)
    assert sbi.receive(ESC + b"P") == b"+     5.00 g  \r\n"


def test_sbi_tare_waits_for_stability(clock):
    sbi = build(SbiResponder, clock)
    sbi.device.balance.place("5")
    assert sbi.receive(ESC + b"U") == b""
    assert sbi.device.balance.tare_value == D("0")
    clock.advance(5)
    sbi.poll()
    assert sbi.device.balance.tare_value == D("105.00")


def test_sbi_identification_commands(clock):
    sbi = build(SbiResponder, clock)
    assert sbi.receive(ESC + b"x1_") == b"SIM-220\r\n"
    assert sbi.receive(ESC + b"x2_\r\n") == b"SIM0000001\r\n"
    assert sbi.receive(ESC + b"x3_") == b"1.00\r\n"


def test_sbi_commands_may_arrive_in_pieces_and_unknown_ones_are_ignored(clock):
    sbi = build(SbiResponder, clock)
    assert sbi.receive(ESC) == b""
    assert sbi.receive(b"x") == b""
    assert sbi.receive(b"2") == b""
    assert sbi.receive(b"_") == b"SIM0000001\r\n"
    assert sbi.receive(ESC + b"Q" + ESC + b"xA" + b"junk\r\n" + ESC + b"P") == (
        b"+   100.00 g  \r\n")


def test_sbi_autoprint_streams_and_print_toggles_it(clock):
    sbi = build(SbiResponder, clock, autoprint=True)
    assert sbi.poll() == b"+   100.00 g  \r\n"
    clock.advance(0.1)
    assert sbi.poll() == b"+   100.00 g  \r\n"
    assert sbi.receive(ESC + b"P") == b""  # with autoprint on, ESC P stops printing
    clock.advance(1)
    assert sbi.poll() == b""
    assert sbi.receive(ESC + b"P") == b"+   100.00 g  \r\n"  # and starts it again
    assert sbi.streaming


# ====================================================================== Ohaus
# Ohaus Explorer instruction manual, "Interface commands" and "Output format": value
# right-aligned in 10 characters, space, unit, space, "?" when unstable; "ES" for invalid.

def test_ohaus_print_now_and_unstable_marker(clock):
    ohaus = build(OhausResponder, clock)
    assert ohaus.receive(b"IP\r\n") == b"    100.00 g  \r\n"
    ohaus.device.balance.remove("99.99")
    clock.advance(30)
    assert ohaus.receive(b"IP\r\n") == b"      0.01 g  \r\n"
    ohaus.device.balance.place("0.50")
    clock.advance(0.2)
    line = ohaus.receive(b"IP\r\n")
    assert line.endswith(b" g ?\r\n") and len(line) == 16


def test_ohaus_net_legend_after_tare(clock):
    ohaus = build(OhausResponder, clock)
    assert ohaus.receive(b"T\r\n") == b""
    assert ohaus.receive(b"IP\r\n") == b"      0.00 g   NET\r\n"


def test_ohaus_print_on_stability_and_its_forty_second_timeout(clock):
    ohaus = build(OhausResponder, clock)
    ohaus.device.balance.place("10")
    assert ohaus.receive(b"SP\r\n") == b""
    clock.advance(5)
    assert ohaus.poll() == b"    110.00 g  \r\n"
    ohaus.device.faults.inject("never_stable")
    assert ohaus.receive(b"SP\r\n") == b""
    clock.advance(39.9)
    assert ohaus.poll() == b""
    clock.advance(0.2)
    assert ohaus.poll() == b"ES\r\n"


def test_ohaus_print_obeys_the_stable_only_setting(clock):
    ohaus = build(OhausResponder, clock)
    ohaus.device.balance.place("1")
    clock.advance(0.3)
    assert ohaus.receive(b"P\r\n").endswith(b"?\r\n")
    assert ohaus.receive(b"1S\r\n") == b""
    assert ohaus.receive(b"P\r\n") == b""
    clock.advance(5)
    assert ohaus.poll() == b"    101.00 g  \r\n"
    assert ohaus.receive(b"0S\r\n") == b""
    assert not ohaus.stable_only


def test_ohaus_continuous_print_until_0p(clock):
    ohaus = build(OhausResponder, clock)
    assert ohaus.receive(b"CP\r\n") == b"    100.00 g  \r\n"
    clock.advance(0.1)
    assert ohaus.poll() == b"    100.00 g  \r\n"
    assert ohaus.receive(b"PSN\r\n") == b"SIM0000001\r\n"
    assert ohaus.receive(b"0P\r\n") == b""
    clock.advance(1)
    assert ohaus.poll() == b""


def test_ohaus_zero_version_and_invalid_commands(clock):
    ohaus = build(OhausResponder, clock)
    assert ohaus.receive(b"PV\r\n") == b"1.00\r\n"
    ohaus.device.balance.set_load("2.00")
    clock.advance(5)
    assert ohaus.receive(b"Z\r") == b""
    assert ohaus.receive(b"IP\r") == b"      0.00 g  \r\n"
    assert ohaus.receive(b"XYZ\r\n") == b"ES\r\n"
    ohaus.device.faults.inject("syntax_error")
    assert ohaus.receive(b"IP\r\n") == b"ES\r\n"


def test_ohaus_overload_prints_a_marked_line(clock):
    ohaus = build(OhausResponder, clock)
    ohaus.device.faults.inject("overload")
    assert ohaus.receive(b"IP\r\n") == b"  OVERLOAD g ?\r\n"


# ====================================================================== A&D
# A&D GX/GF instruction manual, "A&D standard format" (17 bytes: header, comma, sign and
# 8-character zero-padded value, 3-character unit, CR LF) and "Error codes".

def test_and_weight_now_in_the_seventeen_byte_standard_format(clock):
    ad = build(AndGxResponder, clock)
    line = ad.receive(b"Q\r\n")
    assert line == b"ST,+00100.00  g\r\n" and len(line) == 17
    assert ad.receive(b"SI\r\n") == b"ST,+00100.00  g\r\n"


def test_and_unstable_and_negative_values(clock):
    ad = build(AndGxResponder, clock)
    ad.receive(b"T\r\n")
    ad.device.balance.remove("83.96")
    clock.advance(0.3)
    assert ad.receive(b"Q\r\n").startswith(b"US,-000")
    clock.advance(5)
    assert ad.receive(b"Q\r\n") == b"ST,-00083.96  g\r\n"


@pytest.mark.parametrize(("fault", "line"), [("overload", b"OL,+9999999E+19\r\n"),
                                             ("underload", b"OL,-9999999E+19\r\n")])
def test_and_out_of_range_lines(clock, fault, line):
    ad = build(AndGxResponder, clock)
    ad.device.faults.inject(fault)
    assert ad.receive(b"Q\r\n") == line


def test_and_stable_weight_waits_and_reports_a_stability_error(clock):
    ad = build(AndGxResponder, clock)
    ad.device.balance.place("1")
    assert ad.receive(b"S\r\n") == b""
    clock.advance(5)
    assert ad.poll() == b"ST,+00101.00  g\r\n"
    ad.device.faults.inject("never_stable")
    assert ad.receive(b"S\r\n") == b""
    clock.advance(30.1)
    assert ad.poll() == b"EC,E11\r\n"


def test_and_cancel_stops_a_waiting_stable_weight_and_a_stream(clock):
    ad = build(AndGxResponder, clock)
    ad.device.faults.inject("never_stable")
    assert ad.receive(b"S\r\n") == b""
    assert ad.receive(b"C\r\n") == b""
    clock.advance(60)
    assert ad.poll() == b""
    ad.device.faults.clear("never_stable")
    assert ad.receive(b"SIR\r\n") == b"ST,+00100.00  g\r\n"
    clock.advance(0.1)
    assert ad.poll() == b"ST,+00100.00  g\r\n"
    assert ad.receive(b"C\r\n") == b""
    clock.advance(1)
    assert ad.poll() == b""


def test_and_rezero_and_tare(clock):
    ad = build(AndGxResponder, clock)
    assert ad.receive(b"T\r\n") == b""
    assert ad.receive(b"Q\r\n") == b"ST,+00000.00  g\r\n"
    ad.device.balance.set_load("3.00")
    clock.advance(5)
    assert ad.receive(b"R\r\n") == b""
    assert ad.receive(b"Q\r\n") == b"ST,+00000.00  g\r\n"
    assert ad.device.balance.tare_value == 0
    ad.device.balance.place("1.0")  # 4 g from the factory zero: still within ±2 %
    clock.advance(5)
    assert ad.receive(b"Z\r\n") == b""
    assert ad.receive(b"Q\r\n") == b"ST,+00000.00  g\r\n"


def test_and_serial_number_model_and_undefined_commands(clock):
    ad = build(AndGxResponder, clock)
    assert ad.receive(b"?SN\r\n") == b"SN,SIM0000001\r\n"
    assert ad.receive(b"?TN\r\n") == b"TN,   SIM-220\r\n"
    assert ad.receive(b"?XX\r\n") == b"EC,E01\r\n"


# ====================================================================== all protocols
def test_make_responder_names_the_known_protocols():
    device = default_scenario().build_device()
    assert sorted(PROTOCOLS) == ["and_gx", "mt_sics", "ohaus", "sbi"]
    assert isinstance(make_responder("sbi", device, {"id_code": True}), SbiResponder)
    with pytest.raises(ValueError, match="unknown protocol 'sics'; expected one of: mt_sics"):
        make_responder("sics", device)


@pytest.mark.parametrize(("responder_class", "command", "reply"), [
    (MtSicsResponder, b"SI\r\n", b"ES\r\n"),
    (OhausResponder, b"IP\r\n", b"ES\r\n"),
    (AndGxResponder, b"Q\r\n", b"EC,E01\r\n"),
    (SbiResponder, ESC + b"P", b""),  # SBI has no error reply
])
def test_the_syntax_error_fault_uses_each_protocols_own_error(clock, responder_class, command,
                                                              reply):
    responder = build(responder_class, clock)
    responder.device.faults.inject("syntax_error")
    assert responder.receive(command) == reply


@pytest.mark.parametrize("responder_class", list(PROTOCOLS.values()))
def test_reset_forgets_everything_in_flight(clock, responder_class):
    responder = build(responder_class, clock)
    responder.device.faults.inject("never_stable")
    responder.receive({"sbi": ESC + b"U", "ohaus": b"SP\r\n"}.get(responder.name, b"S\r\n")
                      + b"partial")
    assert responder.next_deadline() is not None
    responder.reset()
    assert responder.next_deadline() is None
    clock.advance(60)
    assert responder.poll() == b""
