"""Scenarios: which balance to simulate, how it behaves, and what happens when.

A scenario file (TOML, see ``fixtures/scenarios/``) has these tables; every key is checked
and an unknown key or a bad value raises :class:`ScenarioError` naming the file and the key.

``[model]``
    ``maker``, ``model``, ``serial_number``, ``firmware`` (text); optional ``software_id``
    and ``replacement_serial_number`` (reported after a replug with ``serial_change``);
    ``capacity`` and ``readability`` (grams, as text such as ``"220.00"``); optional
    ``update_rate`` (display updates a second) and ``stable_timeout`` (seconds the device
    itself waits for stability; the protocol's default when left out).
``[physics]`` (optional)
    ``settle_time_constant``, ``stability_window``, ``noise_sd``, ``drift_per_hour``,
    ``airflow_sd``, ``airflow_time_constant`` (see :class:`~scale_drivers.sim.physics.Balance`).
``[serial]`` (optional; the protocol's factory settings when left out)
    ``baudrate``, ``bytesize``, ``parity`` (``"N"``, ``"E"``, ``"O"``), ``stopbits``,
    ``xonxoff``, ``rtscts``.
``[load]``
    ``initial`` (grams on the pan at start) and ``settled`` (already settled, or settling
    from an empty pan).
``[sbi]`` / ``[ohaus]`` (optional)
    protocol menu settings: ``id_code`` and ``autoprint``; ``stable_only``.
``[[timeline]]`` (optional, any number)
    ``at`` (seconds after the simulator starts) and one action: ``place``, ``remove`` or
    ``set_load`` (grams), ``fault`` (start one) or ``clear`` (stop one; clearing
    ``unplug`` is a replug).

>>> scenario = default_scenario()
>>> scenario.initial_load, scenario.model.readability, scenario.identity.serial_number
(Decimal('100.00'), Decimal('0.01'), 'SIM0000001')
>>> next_serial_number("B207696838"), next_serial_number("SN-A")
('B207696839', 'SN-A-2')
"""

from __future__ import annotations

import math
import os
import random
import re
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, NoReturn, cast

from scale_drivers.sim.device import Device, Identity, SerialSettings
from scale_drivers.sim.faults import FAULT_NAMES, FaultSet
from scale_drivers.sim.physics import Balance, BalanceModel

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"
"""The scenarios shipped in the checkout (``settled.toml``, ``hood_airflow.toml`` …)."""

Action = Literal["place", "remove", "set_load", "fault", "clear"]
ACTIONS: tuple[Action, ...] = ("place", "remove", "set_load", "fault", "clear")


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class TimelineEvent:
    """Something that happens ``at`` seconds after start: a load change or a fault."""

    at: float
    action: Action
    mass: Decimal | None = None
    fault: str | None = None


@dataclass(frozen=True)
class Scenario:
    """A simulated balance: identity, physics, serial settings, load and timeline."""

    identity: Identity
    model: BalanceModel
    initial_load: Decimal = Decimal("0")
    initial_settled: bool = True
    stable_timeout: float | None = None
    serial: SerialSettings | None = None
    replacement_serial_number: str | None = None
    options: Mapping[str, Mapping[str, bool]] = field(default_factory=dict)
    timeline: tuple[TimelineEvent, ...] = ()
    description: str = ""

    def build_balance(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        faults: FaultSet | None = None,
    ) -> Balance:
        """A balance with this scenario's physics and initial load."""
        return Balance(self.model, clock=clock, rng=rng, faults=faults,
                       initial_load=self.initial_load, settled=self.initial_settled)

    def build_device(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        seed: int = 0,
        default_stable_timeout: float = 30.0,
    ) -> Device:
        """The device a responder speaks for, with a fresh fault set and a seeded balance."""
        faults = FaultSet(clock)
        balance = self.build_balance(clock=clock, rng=random.Random(seed), faults=faults)
        timeout = self.stable_timeout if self.stable_timeout is not None else (
            default_stable_timeout)
        return Device(balance, self.identity, faults, timeout)

    def protocol_options(self, protocol: str) -> dict[str, bool]:
        """Menu settings this scenario gives for one protocol (``{}`` when none)."""
        return dict(self.options.get(protocol, {}))

    @property
    def changed_serial_number(self) -> str:
        """The serial number reported after a replug with ``serial_change`` active."""
        return self.replacement_serial_number or next_serial_number(
            self.identity.serial_number)


def default_scenario() -> Scenario:
    """The documented default: a settled 100.00 g load on a 220 g × 0.01 g balance.

    Same as ``fixtures/scenarios/settled.toml``.
    """
    return Scenario(
        identity=Identity("IV Station", "SIM-220", "SIM0000001", "1.00", "SIM-SW-1"),
        model=BalanceModel(capacity=Decimal("220.00"), readability=Decimal("0.01"),
                           settle_time_constant=0.25, stability_window=1.0, noise_sd=0.002,
                           update_rate=10.0),
        initial_load=Decimal("100.00"),
        initial_settled=True,
        description="A settled 100.00 g load (the default).",
    )


def next_serial_number(serial_number: str) -> str:
    """Another serial number like this one: trailing digits plus one, else ``-2`` appended."""
    match = re.search(r"(\d+)$", serial_number)
    if match is None:
        return serial_number + "-2"
    digits = match.group(1)
    bumped = str(int(digits) + 1).zfill(len(digits))
    return serial_number[: match.start()] + bumped


class Timeline:
    """A scenario's events on the device clock, handed out as they fall due."""

    def __init__(self, events: tuple[TimelineEvent, ...], start: float) -> None:
        self._events = sorted(events, key=lambda event: event.at)  # stable: file order kept
        self._start = start

    def due(self, now: float) -> list[TimelineEvent]:
        """Events whose time has come, oldest first; each is handed out once."""
        count = 0
        while count < len(self._events) and self._start + self._events[count].at <= now:
            count += 1
        due, self._events = self._events[:count], self._events[count:]
        return due

    def next_time(self) -> float | None:
        """Device time of the next event, or None when none is left."""
        return self._start + self._events[0].at if self._events else None


# ---------------------------------------------------------------------- loading
def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and check a scenario file."""
    chosen = Path(path)
    try:
        with chosen.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ScenarioError(f"{chosen}: no such file") from None
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{chosen}: not valid TOML: {error}") from None
    except OSError as error:
        raise ScenarioError(f"{chosen}: cannot read: {error.strerror}") from None
    return scenario_from_mapping(data, source=str(chosen))


def scenario_from_mapping(data: Mapping[str, object], *, source: str = "<scenario>") -> Scenario:
    """A scenario from parsed TOML; :class:`ScenarioError` names ``source`` and the key."""
    reader = _Reader(source)
    top = reader.table(data, "", {"description", "model", "physics", "serial", "load", "sbi",
                                  "ohaus", "timeline"})
    model = reader.table(top.get("model"), "model",
                         {"maker", "model", "serial_number", "firmware", "software_id",
                          "replacement_serial_number", "capacity", "readability",
                          "update_rate", "stable_timeout"}, required=True)
    physics = reader.table(top.get("physics", {}), "physics",
                           {"settle_time_constant", "stability_window", "noise_sd",
                            "drift_per_hour", "airflow_sd", "airflow_time_constant"})
    load = reader.table(top.get("load"), "load", {"initial", "settled"}, required=True)

    identity = Identity(
        maker=reader.text(model, "model", "maker"),
        model=reader.text(model, "model", "model"),
        serial_number=reader.text(model, "model", "serial_number"),
        firmware=reader.text(model, "model", "firmware"),
        software_id=reader.text(model, "model", "software_id", default="0000000000"),
    )
    numbers: dict[str, Any] = {}
    for key in ("settle_time_constant", "stability_window", "airflow_time_constant"):
        if key in physics:
            numbers[key] = reader.number(physics, "physics", key, positive=True)
    for key in ("noise_sd", "airflow_sd"):
        if key in physics:
            numbers[key] = reader.number(physics, "physics", key, positive=False)
    if "drift_per_hour" in physics:
        numbers["drift_per_hour"] = reader.number(physics, "physics", "drift_per_hour",
                                                  signed=True)
    if "update_rate" in model:
        numbers["update_rate"] = reader.number(model, "model", "update_rate", positive=True)
    capacity = reader.grams(model, "model", "capacity", positive=True)
    readability = reader.grams(model, "model", "readability", positive=True)
    if readability > capacity:
        reader.fail("model.readability", f"must not exceed the capacity ({capacity} g)")
    balance_model = replace(BalanceModel(capacity=capacity, readability=readability), **numbers)

    stable_timeout = (reader.number(model, "model", "stable_timeout", positive=True)
                      if "stable_timeout" in model else None)
    replacement = (reader.text(model, "model", "replacement_serial_number")
                   if "replacement_serial_number" in model else None)
    options: dict[str, dict[str, bool]] = {}
    for protocol, keys in (("sbi", {"id_code", "autoprint"}), ("ohaus", {"stable_only"})):
        if protocol in top:
            table = reader.table(top[protocol], protocol, keys)
            options[protocol] = {key: reader.flag(table, protocol, key) for key in table}

    return Scenario(
        identity=identity,
        model=balance_model,
        initial_load=reader.grams(load, "load", "initial"),
        initial_settled=reader.flag(load, "load", "settled", default=True),
        stable_timeout=stable_timeout,
        serial=_serial_settings(reader, top["serial"]) if "serial" in top else None,
        replacement_serial_number=replacement,
        options=options,
        timeline=_timeline(reader, top.get("timeline", [])),
        description=reader.text(top, "", "description", default=""),
    )


def _serial_settings(reader: _Reader, value: object) -> SerialSettings:
    table = reader.table(value, "serial", {"baudrate", "bytesize", "parity", "stopbits",
                                           "xonxoff", "rtscts"})
    defaults = SerialSettings()
    baudrate = reader.integer(table, "serial", "baudrate", default=defaults.baudrate)
    if baudrate <= 0:
        reader.fail("serial.baudrate", f"expected a positive number, got {baudrate}")
    bytesize = reader.choice(table, "serial", "bytesize", (7, 8), defaults.bytesize)
    parity = reader.choice(table, "serial", "parity", ("N", "E", "O"), defaults.parity)
    stopbits = reader.choice(table, "serial", "stopbits", (1, 2), defaults.stopbits)
    return SerialSettings(
        baudrate=baudrate,
        bytesize=cast(Literal[7, 8], bytesize),
        parity=cast(Literal["N", "E", "O"], parity),
        stopbits=cast(Literal[1, 2], stopbits),
        xonxoff=reader.flag(table, "serial", "xonxoff", default=False),
        rtscts=reader.flag(table, "serial", "rtscts", default=False),
    )


def _timeline(reader: _Reader, value: object) -> tuple[TimelineEvent, ...]:
    if not isinstance(value, list):
        reader.fail("timeline", "expected [[timeline]] tables")
    events = []
    for index, item in enumerate(value):
        where = f"timeline[{index}]"
        table = reader.table(item, where, {"at", *ACTIONS})
        at = reader.number(table, where, "at", positive=False)
        actions = [key for key in ACTIONS if key in table]
        if len(actions) != 1:
            reader.fail(where, "expected exactly one of: " + ", ".join(ACTIONS)
                        + f"; got {', '.join(actions) or 'none'}")
        action = actions[0]
        if action in ("fault", "clear"):
            name = reader.text(table, where, action)
            if name not in FAULT_NAMES:
                reader.fail(f"{where}.{action}", f"unknown fault {name!r}; expected one of: "
                            + ", ".join(FAULT_NAMES))
            events.append(TimelineEvent(at, action, fault=name))
        else:
            events.append(TimelineEvent(at, action, mass=reader.grams(table, where, action)))
    return tuple(events)


class _Reader:
    """Typed access to parsed TOML, failing with the file and the dotted key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> NoReturn:
        raise ScenarioError(f"{self.source}: {key}: {problem}" if key
                            else f"{self.source}: {problem}")

    @staticmethod
    def _dotted(table: str, key: str) -> str:
        return f"{table}.{key}" if table else key

    def table(self, value: object, name: str, keys: set[str], *,
              required: bool = False) -> dict[str, object]:
        if value is None:
            if required:
                self.fail(name, "missing table")
            return {}
        if not isinstance(value, dict):
            self.fail(name, "expected a table")
        unknown = sorted(set(value) - keys)
        if unknown:
            self.fail(self._dotted(name, unknown[0]),
                      f"unknown key; expected one of: {', '.join(sorted(keys))}")
        return value

    def _required(self, table: Mapping[str, object], name: str, key: str) -> object:
        if key not in table:
            self.fail(self._dotted(name, key), "missing")
        return table[key]

    def text(self, table: Mapping[str, object], name: str, key: str, *,
             default: str | None = None) -> str:
        if key not in table and default is not None:
            return default
        value = self._required(table, name, key)
        if not isinstance(value, str) or not value.strip():
            self.fail(self._dotted(name, key), f"expected non-empty text, got {value!r}")
        return value

    def flag(self, table: Mapping[str, object], name: str, key: str, *,
             default: bool | None = None) -> bool:
        if key not in table and default is not None:
            return default
        value = self._required(table, name, key)
        if not isinstance(value, bool):
            self.fail(self._dotted(name, key), f"expected true or false, got {value!r}")
        return bool(value)

    def number(self, table: Mapping[str, object], name: str, key: str, *,
               positive: bool = False, signed: bool = False) -> float:
        value = self._required(table, name, key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value):
            self.fail(self._dotted(name, key), f"expected a number, got {value!r}")
        number = float(cast(float, value))
        if positive and number <= 0:
            self.fail(self._dotted(name, key), f"expected a positive number, got {value!r}")
        if not positive and not signed and number < 0:
            self.fail(self._dotted(name, key), f"expected zero or more, got {value!r}")
        return number

    def integer(self, table: Mapping[str, object], name: str, key: str, *, default: int) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(self._dotted(name, key), f"expected a whole number, got {value!r}")
        assert isinstance(value, int)
        return value

    def choice(self, table: Mapping[str, object], name: str, key: str,
               allowed: tuple[object, ...], default: object) -> object:
        value = table.get(key, default)
        if isinstance(value, bool) or value not in allowed:
            self.fail(self._dotted(name, key),
                      f"expected one of {', '.join(map(str, allowed))}, got {value!r}")
        return value

    def grams(self, table: Mapping[str, object], name: str, key: str, *,
              positive: bool = False) -> Decimal:
        value = self._required(table, name, key)
        problem = f"expected grams as a decimal number such as \"100.00\", got {value!r}"
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(self._dotted(name, key), problem)
        try:
            grams = Decimal(str(value).strip())
        except InvalidOperation:
            self.fail(self._dotted(name, key), problem)
        if not grams.is_finite() or (positive and grams <= 0):
            self.fail(self._dotted(name, key), problem if not grams.is_finite() else
                      f"expected a positive mass, got {value!r}")
        return grams
