"""One model of a preparation's record, shared by the review and audit screens and the PDF.

:func:`review_preparation` replays a preparation's stored events through the workflow, one
at a time, and keeps what each event was about (which step, which attempt, which photo) and
the phase after it. From that it builds:

- one :class:`StepView` per recipe step: every scan, weighing and photo, the hard stops and
  retries, the pharmacist's override or in-process check with their signatures;
- the :class:`Flag` list a pharmacist reads first (most serious first);
- the :class:`TimelineEntry` list, one per stored event (derived ones too), for the auditor's
  "as it happened" replay;
- the signatures, with the manifestation Part 11 asks for on every display and printout.

Flags, alerts before notes, and within a level in this order:

1. every override (alert): who, why, and the stop it cleared;
2. every hard stop (alert) and how it ended (retried, overridden, cancelled or still open),
   except those about a lot (3.) or a photo (6.);
3. every weighing accepted without a weight check (alert): the balance could not verify it;
4. every scan of an expired or recalled lot or an opened vial past its time (alert);
5. every accepted weighing in the top 20 % of its tolerance band (note), e.g.
   ``near tolerance: +4.3 % of ±5 %``;
6. every refused photo (note) and how it ended.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from station.core.errors import LookupFailed
from station.core.formulary import Formulary
from station.core.gravimetry import Verdict
from station.core.label import HAZARDOUS_WARNING, HIGH_ALERT_WARNING, format_ml, format_quantity
from station.core.orders import DoseOrder
from station.core.quantities import Quantity
from station.core.recipe import Step, StepKind
from station.core.workflow import (
    ActionConfirmed,
    Attempt,
    Event,
    HardStop,
    InProcessChecked,
    LabelScanned,
    Overridden,
    Phase,
    PhotoTaken,
    Preparation,
    ProductScanned,
    Retried,
    StopReason,
    WeightRead,
    apply,
)
from station.records.store import StoredEvent
from station.records.users import Meaning, Signature
from station.services.preparations import (
    CREATED,
    DERIVED_KINDS,
    PreparationService,
    from_payload,
)

__all__ = [
    "ALERT",
    "NEAR_TOLERANCE_SHARE",
    "NOTE",
    "Flag",
    "PhotoView",
    "PreparationReview",
    "ScanView",
    "SignatureView",
    "StepView",
    "TimelineEntry",
    "UnknownPreparation",
    "WeightView",
    "near_tolerance",
    "review_preparation",
]

ALERT = "alert"
NOTE = "note"
#: An accepted weighing this far out in its tolerance band (or further) is noted.
NEAR_TOLERANCE_SHARE = Decimal("0.8")
_HUNDREDTH = Decimal("0.01")
_TENTH = Decimal("0.1")
_IDENTITY_STOPS = frozenset({StopReason.EXPIRED, StopReason.RECALLED})


class UnknownPreparation(LookupFailed):
    """The record holds no preparation with this id."""


# ------------------------------------------------------------------------------ the views


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


# ------------------------------------------------------------------------------ replay


@dataclass
class _Stop:
    """A hard stop met during the replay, and what ended it."""

    stop: HardStop
    attempt: int | None  # index of the attempt that caused it, None for a photo
    ended: str = "not cleared yet"
    override: SignatureView | None = None


@dataclass
class _Moment:
    """One stored event with what the replay learnt about it."""

    stored: StoredEvent
    phase: Phase
    step: int | None = None
    attempt: int | None = None
    signature: SignatureView | None = None


@dataclass
class _Replay:
    """The replay's running state: the preparation and what each event was about."""

    preparation: Preparation
    formulary: Formulary
    moments: list[_Moment] = field(default_factory=list)
    stops: list[_Stop] = field(default_factory=list)
    open_stop: _Stop | None = None
    retries: dict[int, int] = field(default_factory=dict)
    overrides: dict[int, SignatureView] = field(default_factory=dict)
    checks: dict[int, SignatureView] = field(default_factory=dict)
    unsigned: list[tuple[int | None, str]] = field(default_factory=list)
    held_utc: dt.datetime | None = None
    cancellation: tuple[str, str] | None = None

    def add(self, stored: StoredEvent) -> None:
        if stored.kind in DERIVED_KINDS:
            step = stored.payload.get("step") if stored.kind == "hard_stop" else None
            if (stored.kind == "state_changed" and self.held_utc is None
                    and stored.payload.get("to") == Phase.AWAITING_VERIFICATION.value):
                self.held_utc = stored.utc
            self.moments.append(_Moment(stored, self.preparation.phase,
                                        step if isinstance(step, int) else None))
            return
        event = from_payload(stored.kind, stored.user_id, stored.payload, self.formulary)
        before = self.preparation
        moment = _Moment(stored, before.phase, *_place(before, event))
        moment.signature = self._signature(stored, moment.step)
        self.preparation = after = apply(before, event)
        moment.phase = after.phase
        self.moments.append(moment)
        self._settle(event, moment)
        if after.stop is not None and after.stop != before.stop:
            self.open_stop = _Stop(after.stop, moment.attempt)
            self.stops.append(self.open_stop)

    def _signature(self, stored: StoredEvent, step: int | None) -> SignatureView | None:
        payload = stored.payload
        meaning = _MEANINGS.get(stored.kind)
        if meaning is None:
            return None
        reason = str(payload.get("reason") or "")
        signed = payload.get("signature")
        if isinstance(signed, Mapping):
            return SignatureView(str(signed.get("user_id", stored.user_id)),
                                 str(signed.get("printed_name", "")),
                                 str(signed.get("meaning", meaning.value)),
                                 _utc(signed.get("utc"), stored.utc), reason)
        self.unsigned.append((step, stored.kind))
        return SignatureView(stored.user_id, "(no signature recorded)", meaning.value,
                             stored.utc, reason)

    def _settle(self, event: Event, moment: _Moment) -> None:
        step = moment.step
        if isinstance(event, Retried) and step is not None:
            self.retries[step] = self.retries.get(step, 0) + 1
        if isinstance(event, Overridden) and step is not None and moment.signature:
            self.overrides[step] = moment.signature
        if isinstance(event, InProcessChecked) and step is not None and moment.signature:
            self.checks[step] = moment.signature
        if moment.stored.kind == "cancelled":
            self.cancellation = (event.user, str(moment.stored.payload.get("reason", "")))
        if self.open_stop is None:
            return
        stop, self.open_stop = self.open_stop, None
        if isinstance(event, Retried):
            stop.ended = f"retried by {event.user}"
        elif isinstance(event, Overridden) and moment.signature is not None:
            stop.override = moment.signature
            stop.ended = (f"overridden by {moment.signature.printed_name} "
                          f"({moment.signature.user_id})")
        else:
            stop.ended = f"the preparation was {moment.stored.kind} by {event.user}"


_MEANINGS: dict[str, Meaning] = {
    "overridden": Meaning.OVERRIDE_APPROVED,
    "in_process_checked": Meaning.IN_PROCESS_CHECKED,
    "verified": Meaning.VERIFIED,
    "rejected": Meaning.REJECTED,
}
_STEP_EVENTS = (ProductScanned, WeightRead, ActionConfirmed, LabelScanned)


def _place(before: Preparation, event: Event) -> tuple[int | None, int | None]:
    """(step, index of the attempt it adds) an event applied to ``before`` is about."""
    if isinstance(event, _STEP_EVENTS):
        return before.current, len(before.record(before.current).attempts)
    if isinstance(event, PhotoTaken | InProcessChecked):
        return before.current, None
    if isinstance(event, Retried | Overridden) and before.stop is not None:
        return before.stop.step, None
    return None, None


def _utc(value: object, fallback: dt.datetime) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return fallback


# ------------------------------------------------------------------------------ the review


def review_preparation(service: PreparationService, preparation_id: str) -> PreparationReview:
    """The review of one preparation, from its stored events; :class:`UnknownPreparation`."""
    stored = service.record.events.events_of(preparation_id)
    if not stored or stored[0].kind != CREATED:
        raise UnknownPreparation(f"no preparation {preparation_id!r} in the record")
    start, formulary = service.starting_state(preparation_id, stored)
    recipe, order = start.recipe, start.recipe.order
    created = stored[0].payload
    replay = _Replay(start, formulary)
    replay.moments.append(_Moment(stored[0], Phase.READY))
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
        flags=_flags(steps, replay),
        timeline=timeline,
        signatures=tuple(m.signature for m in replay.moments if m.signature is not None),
        formulary_version=int(created["formulary_version"]),
        created_utc=stored[0].utc.astimezone(dt.UTC),
        held_utc=replay.held_utc.astimezone(dt.UTC) if replay.held_utc else None,
        last_hash=stored[-1].hash,
        balances=tuple(dict.fromkeys(w.balance_id for w in weights)),
        description=_description(order, formulary),
        components=tuple(s for step in steps for s in step.scans if s.accepted),
        decision=next((m.signature for m in reversed(replay.moments) if _decides(m)), None),
        cancellation=replay.cancellation,
        warnings=_warnings(order, formulary),
        site_tolerance=str(created["site_tolerance"]),
        events=len(stored),
    )


def _decides(moment: _Moment) -> bool:
    """Whether the event released or rejected the preparation (a failed check rejects it)."""
    kind = moment.stored.kind
    return kind in ("verified", "rejected") or (
        kind == "in_process_checked" and moment.stored.payload.get("approved") is False)


class _ViewBuilder:
    """Turns the replayed preparation into step views and timeline entries."""

    def __init__(self, final: Preparation, formulary: Formulary, replay: _Replay) -> None:
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
        return WeightView(
            net=result.net_mass,
            expected_net=result.expected_mass,
            deviation_percent=(result.deviation * 100).quantize(_HUNDREDTH, ROUND_HALF_UP),
            tolerance_percent=result.tolerance.percent.normalize(),
            verifiable=result.verdict is not Verdict.NOT_VERIFIABLE,
            before=result.before.grams,
            reference_step=step.reference,
            expected_dose=_quantity(result.expected_dose),
            measured_dose=_quantity(result.measured_dose),
            uncertainty=result.uncertainty.quantize(Decimal("0.0001"), ROUND_HALF_UP),
            verdict=result.verdict.value,
            **common,
        )

    def entry(self, moment: _Moment, order: DoseOrder, steps: int) -> TimelineEntry:
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
            summary=_summary(moment, order, steps, weight, scan),
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


# ------------------------------------------------------------------------------ flags


def _flags(steps: Sequence[StepView], replay: _Replay) -> tuple[Flag, ...]:
    """Alerts first, then notes; within a level in the order the module docstring gives."""
    flags = [*_override_flags(replay), *_stop_flags(replay),
             *(Flag(ALERT, step, f"{_where(step)}{kind.replace('_', ' ')} recorded without an "
                    "electronic signature") for step, kind in replay.unsigned)]
    for step in steps:
        flags.extend(Flag(ALERT, step.number, f"Step {step.number}: {w.net} g accepted without "
                          f"a weight check: {w.problem}")
                     for w in step.weights if w.accepted and w.verifiable is False)
    for step in steps:
        for scan in step.scans:
            issue = _identity_issue(scan)
            if issue is not None:
                ended = "accepted" if scan.accepted else f"refused, {scan.resolution}"
                flags.append(Flag(ALERT, step.number, f"Step {step.number}: {issue}; {ended}"))
    for step in steps:
        flags.extend(Flag(NOTE, step.number, f"Step {step.number}: {near} — {step.title}")
                     for near in map(near_tolerance, step.weights) if near is not None)
    flags.extend(_photo_flags(replay))
    return tuple(flags)


def _override_flags(replay: _Replay) -> list[Flag]:
    return [Flag(ALERT, s.stop.step, f"Step {s.stop.step}: override by {s.override.printed_name} "
                 f"({s.override.user_id}): {s.override.reason} — it cleared: {s.stop.message}")
            for s in replay.stops if s.override is not None]


def _stop_flags(replay: _Replay) -> list[Flag]:
    return [Flag(ALERT, s.stop.step, f"Step {s.stop.step}: hard stop — {s.stop.message}; "
                 f"{s.ended}")
            for s in replay.stops
            if s.stop.reason is not StopReason.BAD_PHOTO and s.stop.reason not in _IDENTITY_STOPS]


def _photo_flags(replay: _Replay) -> list[Flag]:
    flags = []
    for stop in replay.stops:
        if stop.stop.reason is StopReason.BAD_PHOTO:
            problem = stop.stop.message.removeprefix("photo unusable: ").removesuffix(
                "; retake it")
            flags.append(Flag(NOTE, stop.stop.step,
                              f"Step {stop.stop.step}: photo refused — {problem}; {stop.ended}"))
    return flags


def _where(step: int | None) -> str:
    return f"Step {step}: " if step is not None else ""


def _identity_issue(scan: ScanView) -> str | None:
    what = scan.name or scan.scanned or "the product"
    lot = scan.lot or "(unknown)"
    if scan.recall_notice:
        return f"recalled lot {lot} of {what}: {scan.recall_notice}"
    if scan.expired:
        return f"expired lot {lot} of {what} (expired {scan.expiry})"
    if scan.opened_vial_problem:
        return f"opened vial past its time: {scan.opened_vial_problem}"
    return None


def near_tolerance(weight: WeightView) -> str | None:
    """'near tolerance: +4.3 % of ±5 %' for an accepted weighing in the top of its band."""
    if (not weight.accepted or weight.verdict != Verdict.PASS.value
            or weight.net is None or weight.expected_net is None
            or weight.tolerance_percent is None):
        return None
    deviation = (weight.net - weight.expected_net) / weight.expected_net * 100
    if abs(deviation) < NEAR_TOLERANCE_SHARE * weight.tolerance_percent:
        return None
    shown = deviation.quantize(_TENTH, ROUND_HALF_UP)
    return f"near tolerance: {shown:+} % of ±{weight.tolerance_percent:f} %"


# ------------------------------------------------------------------------------ summaries


def _summary(moment: _Moment, order: DoseOrder, steps: int, weight: WeightView | None,
             scan: ScanView | None) -> str:
    """One line in plain words for a stored event."""
    if scan is not None:
        return _scan_summary(scan)
    if weight is not None:
        return _weight_summary(weight)
    stored, payload = moment.stored, moment.stored.payload
    user, signed = stored.user_id, moment.signature
    by = f"{signed.printed_name} ({signed.user_id})" if signed is not None else user
    reason = payload.get("reason", "")
    photo = f"Photo {str(payload.get('photo', ''))[:12]}…"
    said = {
        CREATED: f"Order {order.order_id} for {order.patient.name} "
                 f"({order.patient.patient_id}) recorded: {steps} steps, formulary version "
                 f"{payload.get('formulary_version')}",
        "state_changed": f"Now {payload.get('to')} (was {payload.get('from')})",
        "hard_stop": f"Hard stop at step {payload.get('step')}: {payload.get('message')}",
        "started": f"{user} started the preparation",
        "action_confirmed": f"{user} confirmed step {moment.step}",
        "label_scanned": f"Label scanned: {payload.get('text', '')}",
        "photo_taken": (f"{photo} refused: {payload['problem']}" if payload.get("problem")
                        else f"{photo} taken"),
        "retried": f"{user} cleared the hard stop to redo step {moment.step}",
        "overridden": f"Override by {by}: {reason}",
        "in_process_checked": (f"In-process check passed by {by}" if payload.get("approved")
                               else f"In-process check failed by {by}: {reason}"),
        "verified": f"Verified and released by {by}",
        "rejected": f"Rejected by {by}: {reason}",
        "cancelled": f"Cancelled by {user}: {reason}",
    }
    return said.get(stored.kind, stored.kind.replace("_", " "))


def _scan_summary(scan: ScanView) -> str:
    what = scan.scanned or f"an unknown product ({scan.lookup_problem or scan.raw})"
    details = ", ".join(part for part in (
        f"lot {scan.lot}" if scan.lot else "",
        f"exp {scan.expiry}" if scan.expiry else "",
        f"serial {scan.serial}" if scan.serial else "") if part)
    verdict = "accepted" if scan.problem is None else scan.problem
    return f"Scanned {what}{f' — {details}' if details else ''}: {verdict}"


def _weight_summary(weight: WeightView) -> str:
    read = f"Read {weight.reading} g on balance {weight.balance_id}"
    if weight.net is None:
        return f"{read} (reference weighing)"
    verdict = ("within tolerance" if weight.problem is None else weight.problem)
    return (f"{read}: net {weight.net} g, expected {_grams(weight.expected_net)} g "
            f"({weight.deviation_percent:+} % of ±{weight.tolerance_percent} %): {verdict}")


def _grams(value: Decimal | None) -> str:
    return str(value.quantize(Decimal("0.001"), ROUND_HALF_UP)) if value is not None else "?"
