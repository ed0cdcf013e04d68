"""The review model: one preparation's record as the review and audit screens and the PDF show it.

A :class:`PreparationReview` holds one :class:`StepView` per recipe step (every scan, weighing
and photo, the hard stops and retries, the pharmacist's override or in-process check), the
:class:`Flag` list a pharmacist reads first, the :class:`TimelineEntry` list for the auditor's
"as it happened" replay, and the :class:`SignatureView` of every signature, with the
manifestation Part 11 asks for on every display and printout. Its :class:`BudView` is the
beyond-use date as the label printed it (or, before the label, as it would print it), and its
:class:`SyringeView` list says, per syringe, what was drawn and what was delivered.
:func:`~station.services.review.build.review_preparation` builds it from the stored events.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from station.core.accounts import Meaning, Signature
from station.core.components import LotSource
from station.core.formulary import CompoundingCategory, Storage
from station.core.opened_vials import VialInUse
from station.core.orders import DoseOrder
from station.core.recipe import StepKind
from station.core.workflow import Phase

__all__ = [
    "ALERT",
    "NOTE",
    "BudView",
    "Flag",
    "LabelCopyView",
    "PhotoView",
    "PreparationReview",
    "ScanView",
    "SignatureView",
    "StepView",
    "SyringeView",
    "TimelineEntry",
    "WeightView",
]

ALERT = "alert"
NOTE = "note"


@dataclass(frozen=True)
class SignatureView:
    """An electronic signature as recorded with its decision; ``reason`` is the decision's."""

    user_id: str
    printed_name: str
    meaning: str
    utc: dt.datetime
    reason: str = ""

    @property
    def manifestation(self) -> str:
        """Printed name, user id, meaning and UTC date and time, as on every printout."""
        try:
            meaning = Meaning(self.meaning)
        except ValueError:  # a meaning this version does not know: show it as recorded
            when = self.utc.astimezone(dt.UTC)
            return (f"{self.printed_name} ({self.user_id}) — {self.meaning} — "
                    f"{when:%Y-%m-%d %H:%M:%S} UTC")
        return Signature(self.user_id, self.printed_name, meaning,
                         self.utc.isoformat()).manifestation()


@dataclass(frozen=True)
class PhotoView:
    """A photograph of a step (its sha256 in the photo store) and why it was refused, if so."""

    photo: str
    problem: str | None
    at: dt.datetime


@dataclass(frozen=True)
class ScanView:
    """One scan at a scan step: what was expected, what the scan said, and the verdict.

    ``expected`` lists "Name strength (NDC …)" per product the step accepts; ``scanned`` is
    the product the scan resolved to, the same way. ``accepted`` is the final word (True
    after an override); ``problem`` is why the scan stopped the preparation, if it did.
    ``lot_source`` is where the lot and expiry came from (None: the scan has neither), and
    ``opened_vial`` the opened vial the package is, when it is one.
    """

    at: dt.datetime
    raw: str
    expected: tuple[str, ...]
    scanned: str | None
    ndc: str | None
    lot: str | None
    expiry: dt.date | None
    serial: str | None
    accepted: bool
    problem: str | None
    gtin: str | None = None
    name: str | None = None
    strength: str | None = None
    manufacturer: str | None = None
    lookup_problem: str | None = None
    recall_notice: str | None = None
    opened_vial_problem: str | None = None
    expired: bool = False
    overridden: bool = False
    resolution: str | None = None
    lot_source: LotSource | None = None
    opened_vial: VialInUse | None = None

    @property
    def flagged(self) -> bool:
        """True when no barcode carried the lot and expiry: the pharmacist checks them."""
        return self.lot_source is not None and self.lot_source.flagged


@dataclass(frozen=True)
class WeightView:
    """One balance reading at a weighing step, and the check made with it.

    A tare reading has no ``net`` (nor expected, deviation, tolerance, verifiable). For a net
    reading, ``net`` = ``reading`` − ``before`` (the reading of step ``reference_step``);
    for an emptied syringe weighed back (``delivered``), ``net`` = ``before`` − ``reading``:
    the filled syringe's reading less the emptied one's, what the container received.
    ``deviation_percent`` = (net − expected) ÷ expected × 100, to 0.01 %. ``problem`` and
    ``resolution`` are as for :class:`ScanView`.
    """

    at: dt.datetime
    reading: Decimal
    net: Decimal | None
    expected_net: Decimal | None
    deviation_percent: Decimal | None
    tolerance_percent: Decimal | None
    verifiable: bool | None
    accepted: bool
    problem: str | None
    balance_id: str
    raw: str
    before: Decimal | None = None
    reference_step: int | None = None
    expected_dose: str | None = None
    measured_dose: str | None = None
    uncertainty: Decimal | None = None
    verdict: str | None = None
    overridden: bool = False
    resolution: str | None = None
    delivered: bool = False


@dataclass(frozen=True)
class StepView:
    """Everything done at one recipe step; ``check`` is the in-process check and its verdict."""

    number: int
    title: str
    kind: StepKind
    photos: tuple[PhotoView, ...]
    scans: tuple[ScanView, ...]
    weights: tuple[WeightView, ...]
    stops: tuple[str, ...]
    retries: int
    override: SignatureView | None
    check: tuple[SignatureView, bool] | None
    done: bool
    photo_required: bool = False


@dataclass(frozen=True)
class SyringeView:
    """One syringe: what was drawn into it and what it delivered to the final container.

    ``drawn`` is the draw step's accepted net mass, ``delivered`` the emptied syringe's
    (filled − emptied); either is None until that step has an accepted reading. ``left`` is
    what stayed in the syringe (drawn − delivered). ``final_step`` is the final container's
    weighing, which checks the sum of what was delivered.
    """

    product: str
    number: int
    of: int
    draw_step: int
    delivered_step: int
    drawn: Decimal | None
    drawn_dose: str | None
    delivered: Decimal | None
    delivered_dose: str | None
    ordered_dose: str | None
    final_step: int | None = None  # the final container's weighing, which sums it

    @property
    def left(self) -> Decimal | None:
        """Grams left in the syringe (drawn − delivered), once both are weighed."""
        if self.drawn is None or self.delivered is None:
            return None
        return self.drawn - self.delivered


@dataclass(frozen=True)
class LabelCopyView:
    """One printed copy of the preparation's label: when, by whom, where, and why again."""

    copy: int
    at: dt.datetime
    user_id: str
    printer: str
    beyond_use: dt.datetime
    reason: str = ""


@dataclass(frozen=True)
class BudView:
    """The preparation's beyond-use date, the rule that set it, and how it is kept.

    Once the label is printed these are the last printed copy's (``copies`` lists every copy,
    reprints with their reasons); before that, what :func:`station.core.beyond_use.
    preparation_bud` gives from the record so far, not printed. ``until`` is None when no
    date can be given yet, and ``problem`` says why. ``prerequisites`` are the Category 3
    records the formulary names.
    """

    until: dt.datetime | None
    rule: str
    category: CompoundingCategory | None
    storage: Storage | None
    prerequisites: str = ""
    copies: tuple[LabelCopyView, ...] = ()
    problem: str | None = None

    @property
    def printed(self) -> bool:
        """Whether a label has been printed."""
        return bool(self.copies)


@dataclass(frozen=True)
class Flag:
    """Something a reviewer must see: ``level`` is ``"alert"`` or ``"note"``."""

    level: str
    step: int | None
    text: str


@dataclass(frozen=True)
class TimelineEntry:
    """One stored event: when, who, where, what in plain words, and the phase after it."""

    sequence: int
    utc: dt.datetime
    kind: str
    user_id: str
    station_id: str
    step: int | None
    summary: str
    phase: str
    photo: str | None = None
    weight: WeightView | None = None
    scan: ScanView | None = None
    signature: SignatureView | None = None
    hash: str = ""


@dataclass(frozen=True)
class PreparationReview:
    """A preparation's whole record, read back for review, audit and printing.

    ``components`` are the accepted scans (what went into the preparation), ``decision`` the
    pharmacist's verification or rejection (or failed in-process check), ``cancellation``
    (user, reason) if abandoned.
    ``held_utc`` is when it began waiting for verification. ``bud`` is the beyond-use date
    (:class:`BudView`), ``syringes`` every syringe's drawn and delivered dose.
    """

    preparation_id: str
    order: DoseOrder
    phase: Phase
    preparer: str | None
    stations: tuple[str, ...]
    steps: tuple[StepView, ...]
    flags: tuple[Flag, ...]
    timeline: tuple[TimelineEntry, ...]
    signatures: tuple[SignatureView, ...]
    formulary_version: int
    created_utc: dt.datetime
    held_utc: dt.datetime | None
    last_hash: str
    balances: tuple[str, ...]
    bud: BudView
    description: str = ""
    components: tuple[ScanView, ...] = ()
    decision: SignatureView | None = None
    cancellation: tuple[str, str] | None = None
    warnings: tuple[str, ...] = ()
    site_tolerance: str = ""
    events: int = 0
    syringes: tuple[SyringeView, ...] = ()

    @property
    def alerts(self) -> tuple[Flag, ...]:
        """The flags of level ``alert``."""
        return tuple(f for f in self.flags if f.level == ALERT)

    def step(self, number: int) -> StepView:
        """The view of the step with this 1-based number."""
        return self.steps[number - 1]

