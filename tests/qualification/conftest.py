"""A simulated hood for qualification runs: the balance simulator on a pty, a fast clock."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from scale_drivers.protocols import open_balance
from scale_drivers.sim.scenario import load_scenario
from scale_drivers.sim.server import SimulatorServer
from station.qualification.run import Rig
from station.qualify_commands import SCENARIO
from tests.records.conftest import backend  # noqa: F401 - the fixture, on both backends

SPEED = 10.0


@pytest.fixture
def simulator(tmp_path) -> Iterator[SimulatorServer]:
    started = time.monotonic()
    server = SimulatorServer("mt_sics", load_scenario(SCENARIO), seed=4,
                             clock=lambda: started + (time.monotonic() - started) * SPEED)
    server.start(tmp_path / "balance")
    yield server
    server.stop()


@pytest.fixture
def rig(simulator, tmp_path) -> Rig:
    link = str(tmp_path / "balance")
    return Rig(simulator.balance, simulator, lambda: open_balance(link, "mt-sics"))
