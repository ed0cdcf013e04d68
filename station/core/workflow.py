"""The preparation workflow: phases, events, one transition table, and a pure ``apply``.

A :class:`Preparation` is immutable. ``apply(preparation, event)`` looks the pair
(phase, event type) up in :data:`TRANSITIONS`; a pair that is not there raises
:class:`~station.core.errors.WorkflowError` and nothing changes. Each handler returns the
next state, which must be one of the targets the table lists for it. Replaying a
preparation is a fold of ``apply`` over its events.

Within ``IN_PROGRESS`` the recipe's current step decides which event it takes (a scan for
a scan step, a weight for a weighing step ...). A wrong product, an expired or recalled lot,
an out-of-tolerance or unverifiable weight and an unusable photo are hard stops that record
why; the technician retries (every attempt is kept) or, where the stop allows it, a
pharmacist other than the preparer overrides it with a reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import Enum
from typing import Any

from station.core.components import LotSource, missing_identification
from station.core.errors import WorkflowError
from station.core.formulary import CompoundingCategory, Product, Storage
from station.core.gravimetry import (
    BalanceSpec,
    GravimetricResult,
    Verdict,
    check_dose,
    check_mass,
)
from station.core.opened_vials import VialInUse
from station.core.quantities import Concentration, Mass, Quantity
from station.core.recipe import MassCheck, Recipe, Step, StepKind
from station.core.scan import ScanIdentity


class Phase(Enum):
    """Where a preparation is in its life."""

    READY = "ready"
    IN_PROGRESS = "in progress"
    HARD_STOP = "hard stop"
    AWAITING_CHECK = "awaiting in-process check"
    AWAITING_VERIFICATION = "awaiting verification"
    VERIFIED = "verified"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


TERMINAL_PHASES = frozenset({Phase.VERIFIED, Phase.REJECTED, Phase.CANCELLED})


class StopReason(Enum):
    """Why a preparation stopped; only some may be overridden by a pharmacist."""

    UNKNOWN_PRODUCT = "not in formulary"
    WRONG_PRODUCT = "wrong product"
    EXPIRED = "expired lot"
    RECALLED = "recalled lot"
    OUT_OF_TOLERANCE = "out of tolerance"
    NOT_VERIFIABLE = "not verifiable by weight"
    BAD_PHOTO = "photo unusable"
    WRONG_LABEL = "wrong label"
    OPENED_VIAL_PAST_BUD = "opened vial past its beyond-use time"

    @property
    def overridable(self) -> bool:
        """Whether a pharmacist may accept the attempt anyway (with a recorded reason).

        A wrong, expired or recalled product is never accepted; a bad photo or label is
        simply redone. A product the formulary does not know (a scan failure), a weight
        outside tolerance and a weight the balance cannot verify may be accepted by a
        pharmacist who checks it another way.
        """
        return self in {
            StopReason.UNKNOWN_PRODUCT,
            StopReason.OUT_OF_TOLERANCE,
            StopReason.NOT_VERIFIABLE,
        }


# ------------------------------------------------------------------------------ events


@dataclass(frozen=True)
class Event:
    """Something that happened to a preparation: who, and when.

    ``at`` is timezone-aware and carries the site's UTC offset, so that its date is the
    pharmacy's calendar day (expiry dates are compared with it).
    """

    user: str
    at: dt.datetime


@dataclass(frozen=True)
class Started(Event):
    """A technician began the preparation."""


@dataclass(frozen=True)
class ProductScanned(Event):
    """A container was scanned; the caller resolved it against the formulary and recall list.

    ``product`` is None when the scan resolved to no product; ``lookup_problem`` says why.
    ``recall_notice`` is set when the lot is on the pharmacy's recall list, and
    ``opened_vial_problem`` when this package is an opened vial that must not be used.
    ``lot_source`` says where the scan's lot and expiry came from (None: its own barcode,
    when it carries them); ``opened_vial`` is the opened vial this package is, when it is one.
    """

    scan: ScanIdentity
    product: Product | None
    lookup_problem: str | None = None
    recall_notice: str | None = None
    opened_vial_problem: str | None = None
    lot_source: LotSource | None = None
    opened_vial: VialInUse | None = None

    @property
    def source(self) -> LotSource | None:
        """Where the lot and expiry came from; None when the scan has neither."""
        if self.lot_source is not None:
            return self.lot_source
        if self.scan.lot is not None and self.scan.expiry is not None:
            return LotSource.BARCODE
        return None


@dataclass(frozen=True)
class WeightRead(Event):
    """A stable reading from a balance, with the balance's identity and specification."""

    mass: Mass
    balance_id: str
    balance: BalanceSpec
    raw: str = ""


@dataclass(frozen=True)
class PhotoTaken(Event):
    """A photograph of the current step, stored by content hash; ``problem`` if unusable."""

    photo: str
    problem: str | None = None


@dataclass(frozen=True)
class ActionConfirmed(Event):
    """The technician confirmed a manual step (e.g. an injection) was done."""


@dataclass(frozen=True)
class LabelPrinted(Event):
    """The preparation's label was printed (``copy`` 1) or printed again (2, 3 ...).

    It carries what the label says of keeping the preparation: the beyond-use date and the
    rule that set it, the USP <797> category and the storage, and where it was printed.
    A reprint gives its ``reason``.
    """

    beyond_use: dt.datetime
    bud_rule: str
    category: CompoundingCategory
    storage: Storage
    printer: str
    copy: int = 1
    reason: str = ""


@dataclass(frozen=True)
class LabelScanned(Event):
    """The printed label's barcode was scanned from the finished preparation."""

    text: str


@dataclass(frozen=True)
class Retried(Event):
    """The technician clears a hard stop to redo the stopped step."""


@dataclass(frozen=True)
class Overridden(Event):
    """A pharmacist (``user``) accepts a stopped attempt, with a reason."""

    reason: str


@dataclass(frozen=True)
class InProcessChecked(Event):
    """A pharmacist (``user``) checked the drawn doses before mixing."""

    approved: bool
    reason: str = ""


@dataclass(frozen=True)
class Verified(Event):
    """A pharmacist (``user``) released the finished preparation."""


@dataclass(frozen=True)
class Rejected(Event):
    """A pharmacist (``user``) rejected the finished preparation; it must be remade."""

    reason: str


@dataclass(frozen=True)
class Cancelled(Event):
    """The preparation was abandoned (order discontinued, supplies, ...)."""

    reason: str


# ------------------------------------------------------------------------------ state


@dataclass(frozen=True)
class HardStop:
    """Why the preparation stopped, at which step."""

    reason: StopReason
    message: str
    step: int


@dataclass(frozen=True)
class Attempt:
    """One try at a step: the event, and what came of it."""

    event: Event
    accepted: bool
    stop: HardStop | None = None
    result: GravimetricResult | None = None
    product: Product | None = None


@dataclass(frozen=True)
class StepRecord:
    """Everything done at one step: every attempt, photo and override."""

    attempts: tuple[Attempt, ...] = ()
    photos: tuple[PhotoTaken, ...] = ()
    override: Overridden | None = None
    check: InProcessChecked | None = None
    labels: tuple[LabelPrinted, ...] = ()

    @property
    def accepted(self) -> Attempt | None:
        """The attempt that completed the step's main action, if any."""
        return next((a for a in reversed(self.attempts) if a.accepted), None)

    @property
    def good_photos(self) -> tuple[PhotoTaken, ...]:
        """Photos without a recorded problem."""
        return tuple(p for p in self.photos if p.problem is None)


@dataclass(frozen=True)
class Preparation:
    """One preparation's state: a pure fold over its events."""

    preparation_id: str
    recipe: Recipe
    phase: Phase = Phase.READY
    current: int = 1
    preparer: str | None = None
    records: tuple[StepRecord, ...] = ()
    stop: HardStop | None = None
    events: tuple[Event, ...] = ()
    decision: Verified | Rejected | None = None
    cancellation: Cancelled | None = field(default=None)

    @classmethod
    def new(cls, preparation_id: str, recipe: Recipe) -> Preparation:
        """A preparation of ``recipe`` that has not started."""
        return cls(preparation_id, recipe, records=tuple(StepRecord() for _ in recipe.steps))

    @property
    def step(self) -> Step | None:
        """The current step, or None once every step is done."""
        if self.current > len(self.recipe.steps):
            return None
        return self.recipe.step(self.current)

    def record(self, number: int) -> StepRecord:
        """The record of the step with this 1-based number."""
        return self.records[number - 1]

    def net_mass(self, number: int) -> Mass:
        """The accepted net mass of a weighing step (after − its reference reading)."""
        attempt = self.record(number).accepted
        if attempt is None or attempt.result is None:
            raise WorkflowError(f"step {number} has no accepted net weight")
        return Mass(attempt.result.net_mass)


Handler = Callable[[Preparation, Event], Preparation]


@dataclass(frozen=True)
class Transition:
    """A legal (phase, event) pair: the handler and the phases it may lead to."""

    handler: Handler
    targets: frozenset[Phase]


def apply(preparation: Preparation, event: Event) -> Preparation:
    """The state after ``event``; raises :class:`WorkflowError` and changes nothing if illegal."""
    if event.at.tzinfo is None:
        raise WorkflowError(f"{type(event).__name__} has a time without a UTC offset")
    transition = TRANSITIONS.get((preparation.phase, type(event)))
    if transition is None:
        raise WorkflowError(
            f"{_event_name(event)} is not allowed while the preparation is "
            f"{preparation.phase.value}"
        )
    after = transition.handler(preparation, event)
    if after.phase not in transition.targets:
        raise AssertionError(f"{_event_name(event)} led to {after.phase}, not in the table")
    return replace(after, events=(*preparation.events, event))


def replay(preparation_id: str, recipe: Recipe, events: Iterable[Event]) -> Preparation:
    """Fold ``events`` over a new preparation of ``recipe``."""
    state = Preparation.new(preparation_id, recipe)
    for event in events:
        state = apply(state, event)
    return state


# ------------------------------------------------------------------------------ handlers


def _start(prep: Preparation, event: Event) -> Preparation:
    return replace(prep, phase=Phase.IN_PROGRESS, preparer=event.user)


def _on_step_event(prep: Preparation, event: Event) -> Preparation:
    step = prep.step
    assert step is not None, "IN_PROGRESS always has a current step"
    if isinstance(event, PhotoTaken):
        return _photo(prep, step, event)
    if isinstance(event, LabelPrinted):
        return _label_printed(prep, step, event)
    expected = _EVENT_FOR_STEP[step.kind]
    if not isinstance(event, expected):
        raise WorkflowError(
            f"step {step.number} ({step.title}) needs {_describe(expected)}, "
            f"not {_describe(type(event))}"
        )
    if prep.record(step.number).accepted is not None:
        raise WorkflowError(
            f"step {step.number} ({step.title}) is done but still needs a usable photo"
        )
    attempt = _evaluate(prep, step, event)
    prep = _with_record(prep, step.number, attempts=(*prep.record(step.number).attempts, attempt))
    if attempt.stop is not None:
        return replace(prep, phase=Phase.HARD_STOP, stop=attempt.stop)
    return _advance_if_done(prep)


def _photo(prep: Preparation, step: Step, event: PhotoTaken) -> Preparation:
    record = prep.record(step.number)
    prep = _with_record(prep, step.number, photos=(*record.photos, event))
    if event.problem is not None:
        stop = HardStop(
            StopReason.BAD_PHOTO, f"photo unusable: {event.problem}; retake it", step.number
        )
        return replace(prep, phase=Phase.HARD_STOP, stop=stop)
    return _advance_if_done(prep)


def _label_printed(prep: Preparation, step: Step, event: LabelPrinted) -> Preparation:
    if step.kind is not StepKind.LABEL:
        raise WorkflowError(
            f"the label prints at the label step, after every weight has passed; this is "
            f"step {step.number} ({step.title})")
    record = prep.record(step.number)
    if record.accepted is not None:
        raise WorkflowError(f"the label of {prep.preparation_id} was already scanned on the "
                            "preparation")
    if event.copy != len(record.labels) + 1:
        raise WorkflowError(f"label copy {event.copy} of {prep.preparation_id} follows "
                            f"{len(record.labels)} printed; expected copy {len(record.labels) + 1}")
    if event.copy > 1 and not event.reason.strip():
        raise WorkflowError("printing the label again needs a reason")
    if event.beyond_use.tzinfo is None:
        raise WorkflowError("the label's beyond-use date has no UTC offset")
    return _with_record(prep, step.number, labels=(*record.labels, event))


def _retry(prep: Preparation, event: Event) -> Preparation:
    return replace(prep, phase=Phase.IN_PROGRESS, stop=None)


def _override(prep: Preparation, event: Event) -> Preparation:
    assert isinstance(event, Overridden) and prep.stop is not None
    stop = prep.stop
    if not stop.reason.overridable:
        raise WorkflowError(
            f"the hard stop '{stop.reason.value}' cannot be overridden; redo the step"
        )
    _require_other_than_preparer(prep, event, "override")
    if not event.reason.strip():
        raise WorkflowError("an override needs a reason")
    record = prep.record(stop.step)
    stopped = record.attempts[-1]
    accepted = replace(stopped, accepted=True)
    prep = _with_record(prep, stop.step, attempts=(*record.attempts[:-1], accepted), override=event)
    return _advance_if_done(replace(prep, phase=Phase.IN_PROGRESS, stop=None))


def _in_process_check(prep: Preparation, event: Event) -> Preparation:
    assert isinstance(event, InProcessChecked)
    _require_other_than_preparer(prep, event, "in-process check")
    if not event.approved:
        if not event.reason.strip():
            raise WorkflowError("a failed in-process check needs a reason")
        prep = _with_record(prep, prep.current, check=event)
        return replace(prep, phase=Phase.REJECTED)
    prep = _with_record(prep, prep.current, check=event)
    return _move_to(replace(prep, phase=Phase.IN_PROGRESS), prep.current + 1)


def _decide(prep: Preparation, event: Event) -> Preparation:
    assert isinstance(event, Verified | Rejected)
    _require_other_than_preparer(prep, event, "verification")
    if isinstance(event, Rejected):
        if not event.reason.strip():
            raise WorkflowError("a rejection needs a reason")
        return replace(prep, phase=Phase.REJECTED, decision=event)
    return replace(prep, phase=Phase.VERIFIED, decision=event)


def _cancel(prep: Preparation, event: Event) -> Preparation:
    assert isinstance(event, Cancelled)
    if not event.reason.strip():
        raise WorkflowError("cancelling a preparation needs a reason")
    return replace(prep, phase=Phase.CANCELLED, cancellation=event, stop=None)


# ------------------------------------------------------------------------------ the table

_STEP_EVENTS: tuple[type[Event], ...] = (
    ProductScanned,
    WeightRead,
    PhotoTaken,
    ActionConfirmed,
    LabelPrinted,
    LabelScanned,
)
_STEP_TARGETS = frozenset(
    {
        Phase.IN_PROGRESS,
        Phase.HARD_STOP,
        Phase.AWAITING_CHECK,
        Phase.AWAITING_VERIFICATION,
    }
)
_CANCELLABLE = (Phase.READY, Phase.IN_PROGRESS, Phase.HARD_STOP, Phase.AWAITING_CHECK)

TRANSITIONS: dict[tuple[Phase, type[Event]], Transition] = {
    (Phase.READY, Started): Transition(_start, frozenset({Phase.IN_PROGRESS})),
    **{
        (Phase.IN_PROGRESS, kind): Transition(_on_step_event, _STEP_TARGETS)
        for kind in _STEP_EVENTS
    },
    (Phase.HARD_STOP, Retried): Transition(_retry, frozenset({Phase.IN_PROGRESS})),
    (Phase.HARD_STOP, Overridden): Transition(
        _override,
        frozenset({Phase.IN_PROGRESS, Phase.AWAITING_CHECK, Phase.AWAITING_VERIFICATION}),
    ),
    (Phase.AWAITING_CHECK, InProcessChecked): Transition(
        _in_process_check,
        frozenset(
            {Phase.IN_PROGRESS, Phase.AWAITING_CHECK, Phase.AWAITING_VERIFICATION, Phase.REJECTED}
        ),
    ),
    (Phase.AWAITING_VERIFICATION, Verified): Transition(_decide, frozenset({Phase.VERIFIED})),
    (Phase.AWAITING_VERIFICATION, Rejected): Transition(_decide, frozenset({Phase.REJECTED})),
    **{
        (phase, Cancelled): Transition(_cancel, frozenset({Phase.CANCELLED}))
        for phase in _CANCELLABLE
    },
}
"""Every legal (phase, event type) pair. Anything else raises and changes nothing."""

EVENT_TYPES: tuple[type[Event], ...] = (
    Started,
    *_STEP_EVENTS,
    Retried,
    Overridden,
    InProcessChecked,
    Verified,
    Rejected,
    Cancelled,
)

_EVENT_FOR_STEP: dict[StepKind, type[Event]] = {
    StepKind.SCAN: ProductScanned,
    StepKind.WEIGH_TARE: WeightRead,
    StepKind.WEIGH_NET: WeightRead,
    StepKind.ACTION: ActionConfirmed,
    StepKind.LABEL: LabelScanned,
    StepKind.PHOTO: PhotoTaken,
    StepKind.PHARMACIST_CHECK: InProcessChecked,
}


# ------------------------------------------------------------------------------ guards


def _require_other_than_preparer(prep: Preparation, event: Event, what: str) -> None:
    if event.user == prep.preparer:
        raise WorkflowError(f"the preparer ({event.user}) cannot sign the {what} of their own work")


# ------------------------------------------------------------------------------ evaluation


def _evaluate(prep: Preparation, step: Step, event: Event) -> Attempt:
    if isinstance(event, ProductScanned):
        return _evaluate_scan(step, event)
    if isinstance(event, WeightRead):
        return _evaluate_weight(prep, step, event)
    if isinstance(event, LabelScanned):
        if not prep.record(step.number).labels:
            raise WorkflowError(f"the label of {prep.preparation_id} has not been printed: "
                                "print it, apply it, then scan it")
        if event.text.strip() != prep.preparation_id:
            message = (
                f"label scanned {event.text.strip()!r}, but this preparation is "
                f"{prep.preparation_id!r}"
            )
            return Attempt(event, False, HardStop(StopReason.WRONG_LABEL, message, step.number))
        return Attempt(event, True)
    return Attempt(event, True)


def _evaluate_scan(step: Step, event: ProductScanned) -> Attempt:
    def stop(reason: StopReason, message: str) -> Attempt:
        return Attempt(event, False, HardStop(reason, message, step.number), product=product)

    product = event.product
    if product is None:
        return stop(StopReason.UNKNOWN_PRODUCT, event.lookup_problem or "not in the formulary")
    if product.ndc not in step.expects:
        wanted = " or ".join(str(n) for n in step.expects)
        expected = step.product.label if step.product is not None else wanted
        return stop(
            StopReason.WRONG_PRODUCT,
            f"wrong product: scanned {product.label}; this step needs {expected}",
        )
    missing = missing_identification(event.scan)
    if missing is not None:
        raise WorkflowError(
            f"{product.label}: {missing}; its lot and expiry must be read from the printed "
            "label or typed twice before it is accepted")
    expiry = event.scan.expiry
    assert expiry is not None
    # Expiry is a calendar day at the pharmacy: the event time carries the site's UTC offset,
    # so its date() is the local date.
    if expiry.is_expired_on(event.at.date()):
        return stop(
            StopReason.EXPIRED,
            f"expired: lot {event.scan.lot} of {product.name} expired {expiry}",
        )
    if event.opened_vial_problem is not None:
        return stop(StopReason.OPENED_VIAL_PAST_BUD, event.opened_vial_problem)
    if event.recall_notice is not None:
        return stop(
            StopReason.RECALLED,
            f"recalled: lot {event.scan.lot} of {product.name}: {event.recall_notice}",
        )
    return Attempt(event, True, product=product)


def _evaluate_weight(prep: Preparation, step: Step, event: WeightRead) -> Attempt:
    if step.kind is StepKind.WEIGH_TARE:
        if event.mass.grams <= 0:
            raise WorkflowError(
                f"step {step.number} ({step.title}) read {event.mass}: put the item on the balance"
            )
        return Attempt(event, True)
    assert step.reference is not None and step.tolerance is not None and step.product
    tare = prep.record(step.reference).accepted
    assert tare is not None and isinstance(tare.event, WeightRead)
    if tare.event.balance_id != event.balance_id:
        raise WorkflowError(
            f"step {step.number} was weighed on balance {event.balance_id}, but its reference "
            f"(step {step.reference}) on {tare.event.balance_id}: weigh both on the same balance"
        )
    before, after, sg = tare.event.mass, event.mass, step.product.specific_gravity
    if step.check is MassCheck.DELIVERED:
        # The reference is the filled syringe; what left it is what the bag received.
        before, after = event.mass, tare.event.mass
    accepted_draw = (step.check is MassCheck.DELIVERED and step.reference is not None
                     and prep.record(step.reference).override is not None)
    if step.check is MassCheck.DOSE or (step.check is MassCheck.DELIVERED and not accepted_draw):
        checked = step.checked_dose
        assert checked is not None
        result = check_dose(
            before,
            after,
            ordered=checked,
            concentration=drawn_concentration(prep, step),
            specific_gravity=sg,
            tolerance=step.tolerance,
            balance=event.balance,
        )
    else:
        expected = step.expected_mass
        if step.check is MassCheck.FINAL:
            expected = sum((prep.net_mass(n).grams for n in step.sums), Decimal(0))
        if accepted_draw:
            # A pharmacist accepted this syringe's draw as it was: it must all reach the bag.
            assert step.reference is not None
            expected = prep.net_mass(step.reference).grams
        assert expected is not None
        result = check_mass(
            before,
            after,
            expected=expected,
            specific_gravity=sg,
            tolerance=step.tolerance,
            balance=event.balance,
        )
    if result.verdict is Verdict.PASS:
        return Attempt(event, True, result=result)
    reason = (
        StopReason.NOT_VERIFIABLE
        if result.verdict is Verdict.NOT_VERIFIABLE
        else StopReason.OUT_OF_TOLERANCE
    )
    return Attempt(
        event,
        False,
        HardStop(reason, f"{reason.value}: {result.reason}", step.number),
        result=result,
    )


def drawn_concentration(prep: Preparation, step: Step) -> Concentration | None:
    """The concentration a draw takes from its vial, after any reconstitution as weighed.

    A powder vial holds its content in (powder + diluent) grams. When the diluent weighed in
    differs from the nominal amount, the drug per gram of solution changes by the ratio of
    the nominal to the actual solution mass, and so does the dose each gram drawn carries.
    """
    product = step.product
    assert product is not None
    nominal = product.concentration
    if nominal is None or step.reconstituted_by is None:
        return nominal
    diluent_step = prep.recipe.step(step.reconstituted_by)
    assert diluent_step.expected_mass is not None
    solution = product.container_volume_ml * product.specific_gravity.value
    actual = solution - diluent_step.expected_mass + prep.net_mass(diluent_step.number).grams
    amount = nominal.amount
    return Concentration(Quantity(amount.value * solution / actual, amount.unit))


# ------------------------------------------------------------------------------ moving on


def _advance_if_done(prep: Preparation) -> Preparation:
    step = prep.step
    assert step is not None
    record = prep.record(step.number)
    main_done = step.kind is StepKind.PHOTO or record.accepted is not None
    photo_done = not step.photo_required or bool(record.good_photos)
    if main_done and photo_done:
        return _move_to(prep, step.number + 1)
    return replace(prep, phase=Phase.IN_PROGRESS)


def _move_to(prep: Preparation, number: int) -> Preparation:
    if number > len(prep.recipe.steps):
        return replace(prep, current=number, phase=Phase.AWAITING_VERIFICATION)
    step = prep.recipe.step(number)
    if step.kind is StepKind.PHARMACIST_CHECK:
        return replace(prep, current=number, phase=Phase.AWAITING_CHECK)
    return replace(prep, current=number, phase=Phase.IN_PROGRESS)


def _with_record(prep: Preparation, number: int, **changes: Any) -> Preparation:
    records = list(prep.records)
    records[number - 1] = replace(records[number - 1], **changes)
    return replace(prep, records=tuple(records))


def _describe(kind: type[Event]) -> str:
    return {
        ProductScanned: "a scan",
        WeightRead: "a weight",
        PhotoTaken: "a photo",
        ActionConfirmed: "a confirmation",
        LabelPrinted: "a printed label",
        LabelScanned: "a label scan",
        InProcessChecked: "a pharmacist's check",
    }.get(kind, _event_name_of(kind))


def _event_name(event: Event) -> str:
    return _event_name_of(type(event))


def _event_name_of(kind: type[Event]) -> str:
    return kind.__name__
