"""A preparation's review, built from its stored events: :func:`review_preparation`.

It replays the events through the workflow (:mod:`station.services.review.replay`), then turns
the replayed preparation into the :class:`~station.services.review.model.PreparationReview`
the review and audit screens and the PDF show: one step view per recipe step, the flags
(:mod:`station.services.review.wording`), one timeline entry per stored event, the signatures,
the order's description and warnings, the beyond-use date and every syringe's drawn and
delivered dose.

The beyond-use date is the one the label printed: the last printed copy's date, rule, category
and storage, as the ``LabelPrinted`` event recorded them. Before the label is printed it is
what :func:`~station.core.beyond_use.preparation_bud` gives from the record so far (the one
rule the label uses), marked as not printed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

from station.core.beyond_use import preparation_bud
from station.core.bud import BudTable
from station.core.errors import LookupFailed, StationError
from station.core.formulary import CompoundingCategory, Formulary
from station.core.gravimetry import Verdict
from station.core.label import HAZARDOUS_WARNING, HIGH_ALERT_WARNING, format_ml, format_quantity
from station.core.orders import DoseOrder
from station.core.quantities import Quantity
from station.core.recipe import MassCheck, Step, StepKind
from station.core.workflow import Attempt, Phase, Preparation, ProductScanned, WeightRead
from station.services.preparations import CREATED, PreparationService
from station.services.review.model import (
    BudView,
    LabelCopyView,
    PhotoView,
    PreparationReview,
    ScanView,
    StepView,
    SyringeView,
    TimelineEntry,
    WeightView,
)
from station.services.review.replay import Moment, Replay
from station.services.review.wording import flags_of, summary_of

__all__ = ["UnknownPreparation", "review_preparation"]

_HUNDREDTH = Decimal("0.01")


class UnknownPreparation(LookupFailed):
    """The record holds no preparation with this id."""



@cache
def _packaged_table() -> BudTable:
    return BudTable.load()


def review_preparation(service: PreparationService, preparation_id: str, *,
                       bud_table: BudTable | None = None) -> PreparationReview:
    """The review of one preparation, from its stored events; :class:`UnknownPreparation`.

    ``bud_table`` gives the beyond-use date of a preparation not labelled yet (the table
    packaged with the station when None).
    """
    stored = service.record.events.events_of(preparation_id)
    if not stored or stored[0].kind != CREATED:
        raise UnknownPreparation(f"no preparation {preparation_id!r} in the record")
    start, formulary = service.starting_state(preparation_id, stored)
    recipe, order = start.recipe, start.recipe.order
    created = stored[0].payload
    replay = Replay(start, formulary)
    replay.moments.append(Moment(stored[0], Phase.READY))
    for entry in stored[1:]:
        replay.add(entry)
    final = replay.preparation
    builder = _ViewBuilder(final, formulary, replay)
    steps = tuple(builder.step_view(step) for step in recipe.steps)
    timeline = tuple(builder.entry(moment, order, len(recipe.steps))
                     for moment in replay.moments)
    weights = [w for s in steps for w in s.weights]
    return PreparationReview(
        preparation_id=preparation_id,
        order=order,
        phase=final.phase,
        preparer=final.preparer,
        stations=tuple(dict.fromkeys(e.station_id for e in stored)),
        steps=steps,
        flags=flags_of(steps, replay),
        timeline=timeline,
        signatures=tuple(m.signature for m in replay.moments if m.signature is not None),
        formulary_version=int(created["formulary_version"]),
        created_utc=stored[0].utc.astimezone(dt.UTC),
        held_utc=replay.held_utc.astimezone(dt.UTC) if replay.held_utc else None,
        last_hash=stored[-1].hash,
        balances=tuple(dict.fromkeys(w.balance_id for w in weights)),
        bud=bud_of(final, bud_table or _packaged_table()),
        description=_description(order, formulary),
        components=tuple(s for step in steps for s in step.scans if s.accepted),
        decision=next((m.signature for m in reversed(replay.moments) if _decides(m)), None),
        cancellation=replay.cancellation,
        warnings=_warnings(order, formulary),
        site_tolerance=str(created["site_tolerance"]),
        events=len(stored),
        syringes=syringes_of(final, steps),
    )


def bud_of(prep: Preparation, table: BudTable) -> BudView:
    """The beyond-use date as the last printed label gave it, or as the label would give it."""
    compounded = prep.recipe.compounded
    labels = next((prep.record(s.number).labels for s in prep.recipe.steps
                   if s.kind is StepKind.LABEL), ())
    if labels:
        last = labels[-1]
        prerequisites = (compounded.prerequisites
                         if last.category is CompoundingCategory.CATEGORY_3 else "")
        copies = tuple(LabelCopyView(e.copy, e.at, e.user, e.printer, e.beyond_use, e.reason)
                       for e in labels)
        return BudView(last.beyond_use, last.bud_rule, last.category, last.storage,
                       prerequisites, copies)
    prerequisites = (compounded.prerequisites
                     if compounded.category is CompoundingCategory.CATEGORY_3 else "")
    try:
        bud = preparation_bud(prep, table)
    except StationError as error:
        return BudView(None, "", compounded.category, compounded.storage, prerequisites,
                       problem=str(error))
    return BudView(bud.until, bud.rule, compounded.category, compounded.storage, prerequisites)


def syringes_of(prep: Preparation, steps: Sequence[StepView]) -> tuple[SyringeView, ...]:
    """Every syringe the recipe weighs back: its accepted drawn and delivered weights."""
    delivered = [s for s in prep.recipe.steps if s.check is MassCheck.DELIVERED]
    counts: dict[int | None, int] = {}
    for step in delivered:
        counts[step.ingredient] = counts.get(step.ingredient, 0) + 1
    seen: dict[int | None, int] = {}
    found = []
    for step in delivered:
        assert step.reference is not None and step.product is not None
        seen[step.ingredient] = seen.get(step.ingredient, 0) + 1
        drawn = _accepted_weight(steps[step.reference - 1])
        given = _accepted_weight(steps[step.number - 1])
        found.append(SyringeView(
            product=step.product.name, number=seen[step.ingredient],
            of=counts[step.ingredient], draw_step=step.reference, delivered_step=step.number,
            drawn=drawn.net if drawn else None,
            drawn_dose=drawn.measured_dose if drawn else None,
            delivered=given.net if given else None,
            delivered_dose=given.measured_dose if given else None,
            ordered_dose=_quantity(step.dose),
            final_step=next((s.number for s in prep.recipe.steps if step.number in s.sums),
                            None)))
    return tuple(found)


def _accepted_weight(step: StepView) -> WeightView | None:
    return next((w for w in reversed(step.weights) if w.accepted and w.net is not None), None)


def _decides(moment: Moment) -> bool:
    """Whether the event released or rejected the preparation (a failed check rejects it)."""
    kind = moment.stored.kind
    return kind in ("verified", "rejected") or (
        kind == "in_process_checked" and moment.stored.payload.get("approved") is False)


class _ViewBuilder:
    """Turns the replayed preparation into step views and timeline entries."""

    def __init__(self, final: Preparation, formulary: Formulary, replay: Replay) -> None:
        self.final = final
        self.formulary = formulary
        self.replay = replay
        self.attempts: dict[tuple[int, int], ScanView | WeightView] = {}
        self.ends = {(s.stop.step, s.attempt): s.ended for s in replay.stops
                     if s.attempt is not None}

    def step_view(self, step: Step) -> StepView:
        record = self.final.record(step.number)
        scans: list[ScanView] = []
        weights: list[WeightView] = []
        overridden = record.override is not None
        for index, attempt in enumerate(record.attempts):
            stopped = overridden and attempt.accepted and attempt.stop is not None
            ended = self.ends.get((step.number, index))
            if isinstance(attempt.event, ProductScanned):
                scan = self._scan(step, attempt, attempt.event, overridden=stopped,
                                  resolution=ended)
                scans.append(scan)
                self.attempts[step.number, index] = scan
            elif isinstance(attempt.event, WeightRead):
                weight = self._weight(step, attempt, attempt.event, overridden=stopped,
                                      resolution=ended)
                weights.append(weight)
                self.attempts[step.number, index] = weight
        check = self.replay.checks.get(step.number)
        return StepView(
            number=step.number,
            title=step.title,
            kind=step.kind,
            photos=tuple(PhotoView(p.photo, p.problem, p.at) for p in record.photos),
            scans=tuple(scans),
            weights=tuple(weights),
            stops=tuple(s.stop.message for s in self.replay.stops
                        if s.stop.step == step.number),
            retries=self.replay.retries.get(step.number, 0),
            override=self.replay.overrides.get(step.number),
            check=(check, record.check.approved) if check and record.check else None,
            done=step.number < self.final.current,
            photo_required=step.photo_required,
        )

    def _scan(self, step: Step, attempt: Attempt, event: ProductScanned, *,
              overridden: bool, resolution: str | None) -> ScanView:
        scan, product = event.scan, event.product
        expected = tuple(self._label(ndc) for ndc in step.expects)
        ndc = product.ndc if product is not None else scan.ndc
        return ScanView(
            at=event.at,
            raw=scan.raw,
            expected=expected,
            scanned=product.label if product is not None else None,
            ndc=str(ndc) if ndc is not None else None,
            lot=str(scan.lot) if scan.lot is not None else None,
            expiry=scan.expiry.date if scan.expiry is not None else None,
            serial=str(scan.serial) if scan.serial is not None else None,
            accepted=attempt.accepted,
            problem=attempt.stop.message if attempt.stop is not None else None,
            gtin=str(scan.gtin) if scan.gtin is not None else None,
            name=product.name if product is not None else None,
            strength=product.strength if product is not None else None,
            manufacturer=product.manufacturer if product is not None else None,
            lookup_problem=event.lookup_problem,
            recall_notice=event.recall_notice,
            opened_vial_problem=event.opened_vial_problem,
            expired=scan.expiry is not None and scan.expiry.is_expired_on(event.at.date()),
            overridden=overridden,
            resolution=resolution,
            lot_source=event.source,
            opened_vial=event.opened_vial,
        )

    def _label(self, ndc: Any) -> str:
        product = self.formulary.get(ndc)
        return product.label if product is not None else f"NDC {ndc}"

    def _weight(self, step: Step, attempt: Attempt, event: WeightRead, *,
                overridden: bool, resolution: str | None) -> WeightView:
        result = attempt.result
        common: dict[str, Any] = {
            "at": event.at, "reading": event.mass.grams, "accepted": attempt.accepted,
            "problem": attempt.stop.message if attempt.stop is not None else None,
            "balance_id": event.balance_id, "raw": event.raw, "overridden": overridden,
            "resolution": resolution,
        }
        if result is None:
            return WeightView(net=None, expected_net=None, deviation_percent=None,
                              tolerance_percent=None, verifiable=None, **common)
        delivered = step.check is MassCheck.DELIVERED
        # Emptied syringe: the check's "after" is the filled syringe, its reference reading.
        reference = result.after if delivered else result.before
        return WeightView(
            net=result.net_mass,
            expected_net=result.expected_mass,
            deviation_percent=(result.deviation * 100).quantize(_HUNDREDTH, ROUND_HALF_UP),
            tolerance_percent=result.tolerance.percent.normalize(),
            verifiable=result.verdict is not Verdict.NOT_VERIFIABLE,
            before=reference.grams,
            reference_step=step.reference,
            expected_dose=_aimed(step, result.expected_dose),
            measured_dose=_quantity(result.measured_dose),
            uncertainty=result.uncertainty.quantize(Decimal("0.0001"), ROUND_HALF_UP),
            verdict=result.verdict.value,
            delivered=delivered,
            **common,
        )

    def entry(self, moment: Moment, order: DoseOrder, steps: int) -> TimelineEntry:
        stored = moment.stored
        weight = scan = None
        if moment.step is not None and moment.attempt is not None:
            view = self.attempts.get((moment.step, moment.attempt))
            weight = view if isinstance(view, WeightView) else None
            scan = view if isinstance(view, ScanView) else None
        return TimelineEntry(
            sequence=stored.sequence,
            utc=stored.utc.astimezone(dt.UTC),
            kind=stored.kind,
            user_id=stored.user_id,
            station_id=stored.station_id,
            step=moment.step,
            summary=summary_of(moment, order, steps, weight, scan),
            phase=moment.phase.value,
            photo=str(stored.payload["photo"]) if stored.kind == "photo_taken" else None,
            weight=weight,
            scan=scan,
            signature=moment.signature,
            hash=stored.hash,
        )


def _quantity(quantity: Quantity | None) -> str | None:
    return format_quantity(quantity.rounded()) if quantity is not None else None


def _description(order: DoseOrder, formulary: Formulary) -> str:
    """'Heparin Sodium 25,000 units in Sodium Chloride 0.9% 100 mL'."""
    drugs = " + ".join(f"{_name(formulary, i.ndc)} {format_quantity(i.dose)}"
                       for i in order.ingredients)
    if order.base is None:
        return f"{drugs}, {format_ml(order.final_volume_ml)}"
    base = formulary.get(order.base)
    return f"{drugs} in {base.name} {base.strength}" if base else f"{drugs} in NDC {order.base}"


def _name(formulary: Formulary, ndc: Any) -> str:
    product = formulary.get(ndc)
    return product.name if product is not None else f"NDC {ndc}"


def _warnings(order: DoseOrder, formulary: Formulary) -> tuple[str, ...]:
    products = [p for p in (formulary.get(i.ndc) for i in order.ingredients) if p is not None]
    found = ((HAZARDOUS_WARNING, any(p.hazardous for p in products)),
             (HIGH_ALERT_WARNING, any(p.high_alert for p in products)))
    return tuple(text for text, present in found if present)



def _aimed(step: Step, expected: Quantity | None) -> str | None:
    """The dose a weighing expected; for a draw aimed above the dose, says why."""
    text = _quantity(expected)
    if (text is None or step.check is not MassCheck.DOSE or step.draw_dose is None
            or step.dose is None or step.syringe_ml is None):
        return text
    return (f"{text} (the {_quantity(step.dose)} dose and what a {step.syringe_ml} mL syringe "
            "keeps)")
