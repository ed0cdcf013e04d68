"""The readability the station weighs with: the balance's own, else the configured one.

The same rule serves the station window (ui.workers.devices.BalanceWorker, tested in tests/ui) and
the qualification's headless station, tested here with a balance that only identifies itself.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from scale_drivers.api import BalanceInfo
from station.config import station_config as config
from station.qualification.station_side import HeadlessStation
from station.services.hood import READABILITY_KEY, BalanceRefused, readability_to_use

SARTORIUS = BalanceInfo("Sartorius", "BCE224I", "0034567", "1.0")  # SBI reports no readability
METTLER = BalanceInfo("Mettler Toledo", "XPR204", "B123456789", "1.2.3", Decimal("220"),
                      Decimal("0.0001"))

MISMATCH = ("balance B123456789 reports a readability of 0.0001 g, but balance.readability is "
            "configured as 0.001 g: weights are refused until the two agree (correct "
            "balance.readability, or remove it to use the balance's own)")
UNKNOWN = ("balance 0034567 did not report its readability: weights cannot be checked until "
           "balance.readability is set in the station configuration (the balance's readability "
           'd in grams, such as "0.01")')


@pytest.mark.parametrize(("info", "configured", "used"), [
    (METTLER, None, Decimal("0.0001")),  # the balance's own
    (METTLER, Decimal("0.00010"), Decimal("0.0001")),  # configured the same: agrees
    (SARTORIUS, Decimal("0.01"), Decimal("0.01")),  # the configured one
])
def test_the_balance_says_or_the_configuration_does(info, configured, used):
    assert readability_to_use(info, configured) == used


def test_the_refusals_name_the_key_the_configuration_reads():
    table, _, key = READABILITY_KEY.partition(".")
    assert key in config._TABLES[table]
    assert config.config_from_mapping({table: {key: "0.01"}}).balance.readability == (
        Decimal("0.01"))


def test_a_configuration_that_disagrees_with_the_balance_refuses_it():
    with pytest.raises(BalanceRefused) as refused:
        readability_to_use(METTLER, Decimal("0.001"))
    assert str(refused.value) == MISMATCH


def test_neither_refuses_the_balance_and_names_the_key_to_set():
    with pytest.raises(BalanceRefused) as refused:
        readability_to_use(SARTORIUS, None)
    assert str(refused.value) == UNKNOWN


# ---------------------------------------------------------------- the headless station


class _Balance:
    def __init__(self, info: BalanceInfo) -> None:
        self.info = info
        self.closed = False

    def identify(self) -> BalanceInfo:
        return self.info

    def close(self) -> None:
        self.closed = True


class _Session:
    def __init__(self) -> None:
        self.connected: list[tuple[BalanceInfo, object]] = []

    def connect_balance(self, info, spec):
        self.connected.append((info, spec))


def _headless(info: BalanceInfo, readability: Decimal | None):
    balance, session = _Balance(info), _Session()
    station = HeadlessStation(session, None, lambda: balance, repeatability=Decimal("0.004"),
                              check_weight=Decimal("100.00"), readability=readability)
    return station, balance, session


@pytest.mark.parametrize(("info", "configured", "used"), [
    (METTLER, None, Decimal("0.0001")),
    (SARTORIUS, Decimal("0.01"), Decimal("0.01")),
])
def test_the_headless_station_weighs_with_the_readability_to_use(info, configured, used):
    station, balance, session = _headless(info, configured)
    assert station.connect()
    assert station.balance_connected and not balance.closed
    assert station.balance_state == f"balance {info.serial_number} connected"
    [(connected, spec)] = session.connected
    assert connected == replace(info, readability=used)
    assert spec.readability == used  # what every WeightRead of the run records
    assert spec.repeatability == max(Decimal("0.004"), Decimal("0.41") * used)


@pytest.mark.parametrize(("info", "configured", "message"), [
    (METTLER, Decimal("0.001"), MISMATCH),
    (SARTORIUS, None, UNKNOWN),
])
def test_the_headless_station_refuses_what_the_rule_refuses(info, configured, message):
    station, balance, session = _headless(info, configured)
    assert not station.connect()
    assert not station.balance_connected and balance.closed
    assert station.balance_state == f"refused: {message}"
    assert session.connected == []
