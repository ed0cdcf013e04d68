"""The protocols a station can speak, by name, and how to open a balance with one.

>>> sorted(PROTOCOLS)
['mt-sics']
>>> PROTOCOLS["mt-sics"].settings.baudrate
9600
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scale_drivers import mt_sics
from scale_drivers.api import SerialSettings
from scale_drivers.driver import Clock, LineDriver
from scale_drivers.transport import SerialTransport


@dataclass(frozen=True)
class ProtocolSpec:
    """One protocol: its display name, factory serial settings and how to build a driver."""

    name: str
    title: str
    settings: SerialSettings
    build: Callable[[SerialTransport, Clock | None], LineDriver[Any]]


def _mt_sics(transport: SerialTransport, clock: Clock | None) -> LineDriver[Any]:
    return mt_sics.MtSicsBalance(transport, mt_sics.MtSicsCodec(), clock=clock)


PROTOCOLS: dict[str, ProtocolSpec] = {
    "mt-sics": ProtocolSpec("mt-sics", "Mettler Toledo MT-SICS", mt_sics.DEFAULT_SETTINGS,
                            _mt_sics),
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
