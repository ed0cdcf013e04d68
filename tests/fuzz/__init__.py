"""Fuzz tests: short runs of ``benchmarks/fuzz.py`` (long runs: ``python -m benchmarks.fuzz``)."""

from __future__ import annotations

from benchmarks.fuzz import Outcome, Target, run_one


def findings(outcome: Outcome) -> str:
    """The findings of a run, one per line, for an assertion message."""
    return "\n".join(
        f"{f.kind} at {f.where} ×{f.count}: {f.message} — e.g. {f.example!r}"
        for f in outcome.findings.values()
    )


def assert_named(target: Target, data: str | bytes) -> None:
    """``data`` is accepted or refused with one of the target's named errors."""
    outcome = Outcome(target.name)
    run_one(target, data, outcome)
    assert outcome.uncaught == 0, findings(outcome)
