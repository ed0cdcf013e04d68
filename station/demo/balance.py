"""The demo's balance: the balance simulator on a pseudo-terminal, opened like a real port.

:func:`start_simulated_balance` starts the simulator for a protocol on a pty behind a stable
link path (as ``/dev/serial/by-id/…`` would be) and says how to open it. The station side
opens a simulated balance 8-N-1 (:func:`pty_settings`): Linux ptys refuse parity and 7 data
bits when a port is reopened, and a simulated balance is reopened after every refusal or
replug.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from scale_drivers.api import Parity, SerialSettings
from scale_drivers.protocols import PROTOCOLS
from scale_drivers.sim.scenario import Scenario, load_scenario
from scale_drivers.sim.server import SimulatorServer

#: The simulator's name for each protocol the station speaks.
SIMULATOR_NAMES = {"mt-sics": "mt_sics", "sbi": "sbi", "ohaus": "ohaus", "and": "and_gx"}


def pty_settings(protocol: str) -> SerialSettings:
    """``protocol``'s factory settings as 8-N-1: what the simulator's pty can be reopened with.

    Linux ptys refuse parity and 7 data bits when a port is reopened (EINVAL), and ignore them
    anyway; a simulated balance is reopened after every refusal or replug, so SBI's 8-O-1 and
    A&D's 7-E-1 run as 8-N-1 on a simulator, as in the pty tests. Real adapters take the
    factory settings.

    >>> pty_settings("sbi").parity is Parity.NONE, pty_settings("sbi").bytesize
    (True, 8)
    """
    factory = PROTOCOLS[protocol].settings
    return SerialSettings(factory.baudrate, 8, Parity.NONE, factory.stopbits, factory.handshake)


@dataclass
class SimulatedBalance:
    """A running simulator and how the station opens it; :meth:`stop` removes its link."""

    simulator: SimulatorServer
    url: str
    settings: SerialSettings

    def stop(self) -> None:
        """Stop the simulator and remove the folder of its link."""
        self.simulator.stop()
        shutil.rmtree(Path(self.url).parent, ignore_errors=True)


def start_simulated_balance(protocol: str, scenario: Path | Scenario, *,
                            seed: int = 0) -> SimulatedBalance:
    """Start ``protocol``'s simulator with ``scenario`` on a pty behind a fresh link path."""
    loaded = load_scenario(scenario) if isinstance(scenario, Path) else scenario
    simulator = SimulatorServer(SIMULATOR_NAMES[protocol], loaded, seed=seed)
    link = Path(tempfile.mkdtemp(prefix="iv-station-")) / "balance"
    return SimulatedBalance(simulator, simulator.start(link), pty_settings(protocol))
