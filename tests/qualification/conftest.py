"""A simulated hood for qualification runs: the balance simulator on a pty, a fast clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scale_drivers.sim.scenario import load_scenario
from station.qualification.rig import SCENARIO, simulated_rig
from station.qualification.run import Rig


@pytest.fixture
def rig(tmp_path) -> Iterator[Rig]:
    with simulated_rig(load_scenario(SCENARIO), "mt-sics", tmp_path, seed=4) as made:
        yield made
