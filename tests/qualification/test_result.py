"""A run's verdict: exit 1 when an error got through, 2 when false holds pass the target."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from station.cli.qualify import format_result
from station.qualification.plan import ErrorKind
from station.qualification.run import KindScore, QualificationResult


def result(*, caught: int, false_holds: int, clean: int = 200) -> QualificationResult:
    errors = {k: KindScore() for k in ErrorKind}
    errors[ErrorKind.WRONG_DRUG] = KindScore(injected=3, caught=caught, pullback_caught=0,
                                             missed=["P-1"] * (3 - caught))
    return QualificationResult(
        seed=1, count=clean + 3, errors=errors, clean=clean,
        false_holds=[(f"P-{n}", "hard stop: out of tolerance") for n in range(false_holds)],
        excluded_orders=[], balance="SIM", repeatability=Decimal("0.01"), readings=[],
        seconds=1.0, preparation_seconds=[], started=dt.datetime(2026, 11, 26, tzinfo=dt.UTC))


@pytest.mark.parametrize(("caught", "false_holds", "status", "words"), [
    (3, 0, 0, "PASSED"),
    (3, 1, 0, "PASSED"),  # 1 in 200 is 0.5 %: at the target, not above it
    (3, 2, 2, "FAILED: false holds above the target"),
    (2, 0, 1, "FAILED: 1 injected error(s) got through"),
    (2, 5, 1, "got through"),  # an error that got through outranks the false holds
])
def test_the_exit_status_and_verdict(caught, false_holds, status, words):
    run = result(caught=caught, false_holds=false_holds)
    assert run.exit_status == status
    assert words in format_result(run)


def test_the_json_has_every_kind_and_the_clean_count():
    document = result(caught=2, false_holds=1).as_json()
    assert document["errors"]["wrong_drug"] == {"injected": 3, "caught": 2}
    assert document["errors"]["unplugged_balance"] == {"injected": 0, "caught": 0}
    assert document["clean"] == {"count": 200, "false_holds": 1}
    assert document["pullback"]["wrong_drug"] == {"caught": 0}
