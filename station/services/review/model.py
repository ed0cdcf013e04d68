"""The review model: one preparation's record as the review and audit screens and the PDF show it.

A :class:`PreparationReview` holds one :class:`StepView` per recipe step (every scan, weighing
and photo, the hard stops and retries, the pharmacist's override or in-process check), the
:class:`Flag` list a pharmacist reads first, the :class:`TimelineEntry` list for the auditor's
"as it happened" replay, and the :class:`SignatureView` of every signature, with the
manifestation Part 11 asks for on every display and printout.
:func:`~station.services.review.build.review_preparation` builds it from the stored events.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from station.core.accounts import Meaning, Signature
from station.core.orders import DoseOrder
from station.core.recipe import StepKind
from station.core.workflow import Phase

__all__ = [
    "ALERT",
    "NOTE",
    "Flag",
    "PhotoView",
    "PreparationReview",
    "ScanView",
    "SignatureView",
    "StepView",
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


@dataclass(frozen=True)
class WeightView:
    """One balance reading at a weighing step, and the check made with it.

    A tare reading has no ``net`` (nor expected, deviation, tolerance, verifiable). For a net
    reading, ``net`` = ``reading`` − ``before`` (the reading of step ``reference_step``);
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
    ``held_utc`` is when it began waiting for verification.
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
    description: str = ""
    components: tuple[ScanView, ...] = ()
    decision: SignatureView | None = None
    cancellation: tuple[str, str] | None = None
    warnings: tuple[str, ...] = ()
    site_tolerance: str = ""
    events: int = 0

    @property
    def alerts(self) -> tuple[Flag, ...]:
        """The flags of level ``alert``."""
        return tuple(f for f in self.flags if f.level == ALERT)

    def step(self, number: int) -> StepView:
        """The view of the step with this 1-based number."""
        return self.steps[number - 1]

