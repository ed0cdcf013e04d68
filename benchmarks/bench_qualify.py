"""Qualification throughput: preparations a minute through the whole station path.

The same seeded plan (errors and clean preparations) is run twice, in fresh SQLite records,
through ``station.qualification.run.qualify``: once on the qualification's balance (hood
airflow, noise, drift, settling; ``fixtures/scenarios/qualification.toml``) and once, as
the baseline, on a still balance of the same model (no noise, airflow or drift, settling
in 10 ms). The difference is the time spent waiting for the balance to settle and read
stable; the rest is the station's own work (decoding, photographs, records, signatures).
Both run with the balance's clock ``SPEED`` times the wall clock, as ``station qualify``.
"""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import tomllib
from pathlib import Path

from benchmarks.summary import SummaryRow
from scale_drivers.sim.scenario import Scenario, scenario_from_mapping
from station.config.catalog_files import formulary_path, load_worklist
from station.config.model import StationConfig
from station.qualification.plan import plan_run
from station.qualification.rig import DEFAULT_SPEED, SCENARIO, simulated_rig
from station.qualification.run import QualificationResult, qualification_services, qualify
from station.records.record import open_record

COUNT = 8
SEED = 11
ERROR_RATE = 0.5
STILL = {"settle_time_constant": 0.01, "stability_window": 0.1, "noise_sd": 0.0,
         "drift_per_hour": 0.0, "airflow_sd": 0.0}


def _scenarios() -> dict[str, Scenario]:
    data = tomllib.loads(SCENARIO.read_text(encoding="utf-8"))
    still = {**data, "physics": {**data["physics"], **STILL}}
    return {"qualification balance": scenario_from_mapping(data, source=str(SCENARIO)),
            "still balance": scenario_from_mapping(still, source="still balance")}


def _run(scenario: Scenario) -> QualificationResult:
    with tempfile.TemporaryDirectory(prefix="bench-qualify-") as temporary:
        folder = Path(temporary)
        with simulated_rig(scenario, "mt-sics", folder, seed=SEED) as rig:
            record = open_record(f"sqlite:///{folder / 'q.db'}")
            try:
                services = qualification_services(record, StationConfig(),
                                                  clock=lambda: dt.datetime.now(dt.UTC))
                return qualify(services, rig, formulary_path().read_text(encoding="utf-8"),
                               list(load_worklist()),
                               plan_run(COUNT, seed=SEED, error_rate=ERROR_RATE), seed=SEED)
            finally:
                record.close()


def main() -> list[SummaryRow]:
    """Print the table; return the key figure."""
    print(f"Qualification throughput: the same {COUNT} preparations (seed {SEED}, "
          f"{ERROR_RATE:.0%} with an error), balance clock {DEFAULT_SPEED:g}× the wall clock")
    header = (f"{'balance':<22} {'prep/min':>9} {'s/prep med':>11} {'s/prep max':>11} "
              f"{'caught':>7} {'false holds':>12} {'setup s':>8}")
    print(header)
    print("-" * len(header))
    rates: dict[str, float] = {}
    for name, scenario in _scenarios().items():
        result = _run(scenario)
        seconds = result.preparation_seconds
        rates[name] = 60 * len(seconds) / sum(seconds)
        caught = sum(s.caught for s in result.errors.values())
        injected = sum(s.injected for s in result.errors.values())
        print(f"{name:<22} {rates[name]:>9.2f} {statistics.median(seconds):>11.2f} "
              f"{max(seconds):>11.2f} {f'{caught}/{injected}':>7} "
              f"{len(result.false_holds):>12} {result.seconds - sum(seconds):>8.1f}")
    print("setup = formulary import, accounts, recall list and the ten-weighing "
          "repeatability test before the first preparation.")
    return [SummaryRow("qualification preparations", rates["qualification balance"], "/min",
                       "same plan, still balance", rates["still balance"])]


if __name__ == "__main__":
    main()
