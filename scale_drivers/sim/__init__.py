"""Device-side simulators of four balance protocols, shipped with the product.

MT-SICS (:mod:`~scale_drivers.sim.mt_sics`), Sartorius SBI (:mod:`~scale_drivers.sim.sbi`),
Ohaus (:mod:`~scale_drivers.sim.ohaus`) and A&D (:mod:`~scale_drivers.sim.and_gx`) answer
from a physical model of a balance (:mod:`~scale_drivers.sim.physics`) driven by a scenario
(:mod:`~scale_drivers.sim.scenario`), with faults (:mod:`~scale_drivers.sim.faults`)
switched on and off at run time, served on a pseudo-terminal or a TCP port
(:mod:`~scale_drivers.sim.server`). They are written from the protocol descriptions and
the manufacturers' manuals, never from the drivers in :mod:`scale_drivers`, and import
nothing from them.
"""

from scale_drivers.sim.device import Device, Identity, SerialSettings
from scale_drivers.sim.faults import FAULT_NAMES, FaultSet, UnknownFault
from scale_drivers.sim.physics import Balance, BalanceModel, OutOfRange, PanReading
from scale_drivers.sim.scenario import (
    SCENARIO_DIR,
    Scenario,
    ScenarioError,
    default_scenario,
    load_scenario,
)
from scale_drivers.sim.server import PROTOCOLS, SimulatorServer, make_responder, run_simulator

__all__ = [
    "FAULT_NAMES",
    "PROTOCOLS",
    "SCENARIO_DIR",
    "Balance",
    "BalanceModel",
    "Device",
    "FaultSet",
    "Identity",
    "OutOfRange",
    "PanReading",
    "Scenario",
    "ScenarioError",
    "SerialSettings",
    "SimulatorServer",
    "UnknownFault",
    "default_scenario",
    "load_scenario",
    "make_responder",
    "run_simulator",
]
