"""The beyond-use date of a preparation, from its record: one rule for label, review and audit.

The BUD counts from the recorded start of compounding (the ``Started`` event), takes USP
<797>'s limit for the category, sterilization and storage the formulary gives the
preparation's drugs (:attr:`~station.core.recipe.Recipe.compounded`), and is capped by the
earliest expiry of the components accepted at its scan steps and by the beyond-use time of
every opened vial it was drawn from. The label prints it, and the pharmacist's review, the
auditor's replay and the compounding record show the label's, which this recomputes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from station.core.bud import BeyondUse, BudTable
from station.core.errors import WorkflowError
from station.core.formulary import CompoundedAs
from station.core.recipe import StepKind
from station.core.workflow import Preparation, ProductScanned, Started


@dataclass(frozen=True)
class PreparationBud:
    """A preparation's beyond-use date, the rule that set it, and how it is kept."""

    until: dt.datetime
    rule: str
    compounded: CompoundedAs


def accepted_components(prep: Preparation) -> tuple[ProductScanned, ...]:
    """The accepted scan of every scan step done so far, in step order."""
    found = []
    for step in prep.recipe.steps:
        if step.kind is not StepKind.SCAN:
            continue
        attempt = prep.record(step.number).accepted
        if attempt is not None and isinstance(attempt.event, ProductScanned):
            found.append(attempt.event)
    return tuple(found)


def started_at(prep: Preparation) -> dt.datetime:
    """When compounding started, as recorded."""
    started = next((e for e in prep.events if isinstance(e, Started)), None)
    if started is None:
        raise WorkflowError(f"preparation {prep.preparation_id} has not started")
    return started.at


def preparation_bud(prep: Preparation, table: BudTable) -> PreparationBud:
    """The BUD of ``prep`` from its record (see the module's description)."""
    components = accepted_components(prep)
    expiries = [c.scan.expiry.date for c in components if c.scan.expiry is not None]
    vials = [BeyondUse(c.opened_vial.beyond_use, c.opened_vial.rule)
             for c in components if c.opened_vial is not None]
    compounded = prep.recipe.compounded
    bud = table.preparation_until(started_at(prep), compounded, component_expiries=expiries,
                                  opened_vials=vials)
    return PreparationBud(bud.until, bud.rule, compounded)
