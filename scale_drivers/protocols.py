"""The protocols a station can speak, by name, and how to open a balance with one.

>>> sorted(PROTOCOLS)
['and', 'mt-sics', 'ohaus', 'sbi']
>>> PROTOCOLS["mt-sics"].settings.baudrate
9600
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scale_drivers import a_and_d, mt_sics, ohaus, sbi
from scale_drivers.api import SerialSettings
from scale_drivers.driver import Clock, LineDriver
from scale_drivers.transport import Port, SerialTransport


@dataclass(frozen=True)
class ProtocolSpec:
    """One protocol: its display name, factory serial settings and how to build a driver.

    ``build`` takes any :class:`~scale_drivers.transport.Port`: a :class:`SerialTransport`
    in the station, a :class:`scale_drivers.testing.ScriptedPort` in a transcript test.
    """

    name: str
    title: str
    settings: SerialSettings
    build: Callable[[Port, Clock | None], LineDriver[Any]]


def _mt_sics(transport: Port, clock: Clock | None) -> LineDriver[Any]:
    return mt_sics.MtSicsBalance(transport, mt_sics.MtSicsCodec(), clock=clock)


def _sbi(transport: Port, clock: Clock | None) -> LineDriver[Any]:
    return sbi.SbiBalance(transport, sbi.SbiCodec(), clock=clock)


def _ohaus(transport: Port, clock: Clock | None) -> LineDriver[Any]:
    return ohaus.OhausBalance(transport, ohaus.OhausCodec(), clock=clock)


def _a_and_d(transport: Port, clock: Clock | None) -> LineDriver[Any]:
    return a_and_d.AandDBalance(transport, a_and_d.AandDCodec(), clock=clock)


PROTOCOLS: dict[str, ProtocolSpec] = {
    "mt-sics": ProtocolSpec("mt-sics", "Mettler Toledo MT-SICS", mt_sics.DEFAULT_SETTINGS,
                            _mt_sics),
    "sbi": ProtocolSpec("sbi", "Sartorius SBI", sbi.DEFAULT_SETTINGS, _sbi),
    "ohaus": ProtocolSpec("ohaus", "Ohaus", ohaus.DEFAULT_SETTINGS, _ohaus),
    "and": ProtocolSpec("and", "A&D", a_and_d.DEFAULT_SETTINGS, _a_and_d),
}


class UnknownProtocol(ValueError):
    """A protocol name the station does not speak."""


def spec(name: str) -> ProtocolSpec:
    """The protocol called ``name``."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        known = ", ".join(sorted(PROTOCOLS))
        raise UnknownProtocol(f"unknown protocol {name!r}: expected one of {known}") from None


def open_balance(
    url: str,
    protocol: str,
    settings: SerialSettings | None = None,
    *,
    clock: Clock | None = None,
) -> LineDriver[Any]:
    """Open ``url`` and return the protocol's driver on it (not yet identified)."""
    chosen = spec(protocol)
    transport = SerialTransport(url, settings or chosen.settings)
    return chosen.build(transport, clock)
