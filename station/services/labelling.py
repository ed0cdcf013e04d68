"""The label desk: the preparation's label at the end, built from the record, and its printing.

The label prints at the label step, after the final container check has passed. Its
beyond-use date is :func:`station.core.beyond_use.preparation_bud` of the record (the one rule
the pharmacist's review, the auditor's replay and the compounding record use too), counted from
the recorded start; its category and storage are the recipe's (the formulary's terms for its
drugs), and a Category 3 label names the prerequisites that allow its dating. Its barcode is
the preparation id, which the label step checks when the label is scanned back.

Every print and reprint is a :class:`~station.core.workflow.LabelPrinted` event: the desk
builds it (:meth:`LabelDesk.label_event`) without printing, the hood applies it to the
preparation (which refuses it outside the label step, or a reprint without a reason), prints
(:meth:`LabelDesk.print`) and records it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from station.core.beyond_use import preparation_bud, started_at
from station.core.bud import BeyondUse, BudTable
from station.core.errors import WorkflowError
from station.core.formulary import Formulary
from station.core.label import LabelContent, VialLabelContent, preparation_label
from station.core.recipe import StepKind
from station.core.workflow import LabelPrinted, Preparation

__all__ = ["LabelDesk", "LabelPrinter", "PrintedLabel"]


class LabelPrinter(Protocol):
    """A label printer: prints a label, returns a PNG picture of what it printed.

    ``name`` is where it prints, as recorded with each label (``tcp://host:9100``,
    ``cups://QUEUE``, ``file:///path``). Printing raises a
    :class:`~station.core.errors.StationError` when the label could not be printed.
    """

    name: str

    def print_label(self, content: LabelContent) -> bytes:
        """Print a preparation's label; its PNG preview."""
        ...

    def print_vial_label(self, content: VialLabelContent) -> bytes:
        """Print an opened vial's label; its PNG preview."""
        ...


@dataclass(frozen=True)
class PrintedLabel:
    """A label printed: its event, what it says, and its picture."""

    event: LabelPrinted
    content: LabelContent
    preview_png: bytes


class LabelDesk:
    """Builds each preparation's label from its record and prints it on ``printer``."""

    def __init__(self, formulary: Formulary, bud_table: BudTable, printer: LabelPrinter, *,
                 initials: Callable[[str], str] | None = None) -> None:
        self.formulary = formulary
        self.bud_table = bud_table
        self.printer = printer
        #: A user id's initials as the label prints them (default: the id itself).
        self.initials = initials or (lambda user_id: user_id)

    def label_event(self, prep: Preparation, *, user: str, at: dt.datetime,
                    reason: str = "") -> tuple[LabelPrinted, LabelContent]:
        """The event of printing ``prep``'s label now, and the label's content; prints nothing.

        ``copy`` is the number of labels printed so far plus one; a reprint needs ``reason``
        (the workflow refuses the event otherwise).
        """
        bud = preparation_bud(prep, self.bud_table)
        content = preparation_label(
            prep.recipe.order, self.formulary, preparation_id=prep.preparation_id,
            compounded_at=started_at(prep), bud=BeyondUse(bud.until, bud.rule),
            compounded=bud.compounded, preparer_initials=self.initials(prep.preparer or user))
        event = LabelPrinted(user, at, bud.until, bud.rule, bud.compounded.category,
                             bud.compounded.storage, self.printer.name,
                             copy=printed_so_far(prep) + 1, reason=reason.strip())
        return event, content

    def print(self, content: LabelContent) -> bytes:
        """Print the label; its PNG preview."""
        return self.printer.print_label(content)


def printed_so_far(prep: Preparation) -> int:
    """How many copies of ``prep``'s label were printed."""
    step = next((s for s in prep.recipe.steps if s.kind is StepKind.LABEL), None)
    if step is None:
        raise WorkflowError(f"preparation {prep.preparation_id} has no label step")
    return len(prep.record(step.number).labels)
