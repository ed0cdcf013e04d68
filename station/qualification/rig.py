"""The simulated hood's balance for a qualification run: the simulator on a pseudo-terminal.

:func:`simulated_rig` assembles it in one place for ``station qualify``, the qualification
benchmark and the tests: the scenario's balance served by the balance simulator on a pty
(:data:`SCENARIO` is the qualification's noise model), its clock running ``speed`` times
faster than the wall clock, opened by the station 8-N-1 as any simulated balance is
(:func:`~station.demo.balance.pty_settings`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from scale_drivers.protocols import open_balance
from scale_drivers.sim.scenario import Scenario
from scale_drivers.sim.server import SimulatorServer
from station.config.catalog_files import SAMPLE_DIR
from station.demo.balance import SIMULATOR_NAMES, pty_settings
from station.qualification.run import Rig

#: The qualification's balance: its noise, settling, drift and airflow.
SCENARIO = SAMPLE_DIR / "scenarios" / "qualification.toml"

#: How much faster than the wall clock the simulated balance's clock runs by default:
#: settling, airflow and drift play out in a tenth of the time, with the same statistics.
DEFAULT_SPEED = 10.0


@contextlib.contextmanager
def simulated_rig(scenario: Scenario, protocol: str, folder: Path, *, seed: int,
                  speed: float = DEFAULT_SPEED) -> Iterator[Rig]:
    """The scenario's balance simulated on a pty in ``folder``, its clock ``speed`` × real time.

    The simulator speaks ``protocol``; the rig connects to it 8-N-1. The simulator stops when
    the block ends.
    """
    started = time.monotonic()

    def device_clock() -> float:
        return float(started + (time.monotonic() - started) * speed)

    simulator = SimulatorServer(SIMULATOR_NAMES[protocol], scenario, clock=device_clock,
                                seed=seed)
    link = folder / "balance"
    simulator.start(link)
    settings = pty_settings(protocol)
    try:
        yield Rig(simulator.balance, simulator,
                  lambda: open_balance(str(link), protocol, settings))
    finally:
        simulator.stop()
