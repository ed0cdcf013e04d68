from __future__ import annotations

import os
import tty

import pytest

from station.devices.scanner_input import GS, SerialScanner, WedgeBurstDetector, restore_separators


def type_keys(detector: WedgeBurstDetector, text: str, start: float, interval: float):
    scans = []
    at = start
    for char in text:
        result = detector.key(char, at)
        if result is not None:
            scans.append(result)
        at += interval
    return scans, at


def test_a_fast_burst_ending_in_enter_is_a_scan():
    detector = WedgeBurstDetector()
    scans, _ = type_keys(detector, "]E00304092720014\r", 10.0, 0.005)
    assert scans == ["]E00304092720014"]
    assert detector.typed() == ""


def test_typing_at_human_speed_is_left_alone():
    detector = WedgeBurstDetector()
    scans, _ = type_keys(detector, "tech.ana\r", 10.0, 0.15)
    assert scans == []
    assert detector.typed() == "tech.ana\r"


def test_a_short_fast_burst_is_not_a_scan():
    detector = WedgeBurstDetector()
    scans, _ = type_keys(detector, "ok\r", 10.0, 0.005)
    assert scans == []
    assert detector.typed() == "ok\r"


def test_a_pause_splits_typing_from_a_following_scan():
    detector = WedgeBurstDetector()
    _, at = type_keys(detector, "ab", 10.0, 0.2)
    scans, _ = type_keys(detector, "]C1010030409272001417281231\r", at + 0.5, 0.004)
    assert scans == ["]C1010030409272001417281231"]
    assert detector.typed() == "ab"


def test_keys_left_after_a_pause_are_flushed_as_typing():
    detector = WedgeBurstDetector()
    type_keys(detector, "xyz", 10.0, 0.2)
    assert detector.flush(now=20.0) == "xyz"


@pytest.mark.parametrize("substitute", ["<GS>", "^]", "{GS}"])
def test_a_wedges_stand_in_for_gs_becomes_gs(substitute):
    detector = WedgeBurstDetector()
    scans, _ = type_keys(detector, f"]d20100304092720014172812311010LOT7{substitute}21SN1\r",
                         1.0, 0.003)
    assert scans == [f"]d20100304092720014172812311010LOT7{GS}21SN1"]


def test_restore_separators_leaves_plain_text_alone():
    assert restore_separators("0304092720014") == "0304092720014"


def test_a_serial_scanner_on_a_pty_reads_raw_bytes_gs_included():
    master, slave = os.openpty()
    tty.setraw(slave)
    scanner = SerialScanner(os.ttyname(slave))
    try:
        os.write(master, b"]d201003040927200141728123110LOT7\x1d21SN1\r\n0304092720014\r")
        assert scanner.read_scan(timeout=2) == "]d201003040927200141728123110LOT7\x1d21SN1"
        assert scanner.read_scan(timeout=2) == "0304092720014"
        assert scanner.read_scan(timeout=0.1) is None
    finally:
        scanner.close()
        os.close(master)
        os.close(slave)
