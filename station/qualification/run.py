"""One qualification run: make the planned preparations, score what the station stopped.

:func:`qualify` sets the record up as a pharmacy would (the record's own formulary, or the
given one for a record without; two accounts for the run; one recalled lot per product on the
recall list), measures the balance's repeatability
(ten weighings of the check weight, USP <41>), keeps the sample orders the balance can
verify by weight, then makes every planned preparation. Per preparation it watches each
turn's outcome: a hard stop, a refused scan, a refused photo or a lost balance is a *stop*.
An injected error is caught when the station stopped at the step it was made in; a clean
preparation with any stop is a false hold. The run's pharmacist signs in-process checks and
rejects every finished preparation ("qualification run, not for a patient"), so nothing of
the run waits in a verification queue; at the end the accounts are disabled, the recalls
withdrawn and every vial the run opened discarded.

An opened vial past its beyond-use time is one left from an earlier shift: for that error the
run records, just before the preparation, a vial of the product first punctured at this
station long enough ago (:func:`stale_vial_age`), as a pharmacy's record would hold it; the
technician finds it with the station's sticker on it and scans it.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import statistics
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from scale_drivers.api import Balance
from station.bootstrap import StationServices, services_on
from station.config.model import StationConfig, StationSection
from station.core.acceptance import Status
from station.core.accounts import Meaning, Role
from station.core.errors import StationError
from station.core.formulary import Container, Formulary, Product
from station.core.gravimetry import BalanceSpec, is_verifiable
from station.core.opened_vials import vial_code
from station.core.orders import DoseOrder
from station.core.recipe import Recipe, StepKind
from station.core.workflow import Phase, Rejected
from station.demo.camera import SimulatedCamera
from station.demo.camera_scene import Scene, Sticker
from station.demo.hood import DemoHood, FaultInjector, Package, Pan, SimulatorPlug
from station.qualification.plan import ErrorKind, PlannedPreparation
from station.qualification.pullback import pullback_catches
from station.qualification.station_side import HeadlessStation, Outcome
from station.qualification.technician import (
    Injection,
    Screen,
    Technician,
    eligible_steps,
    recalled_lot,
)
from station.records.formulary_versions import FormularyVersion
from station.records.opened_vials import OpenedVials
from station.records.record import Record
from station.services.hood import HoodSession, HoodView, NextAction
from station.services.labelling import LabelPrinter
from station.services.sessions import SessionManager

STATION_ID = "QUALIFY"
#: Turns (a look and an act) one preparation may take before it counts as stuck.
MAX_TURNS = 600
#: Stops in a row at one step after which the preparation is given up (and cancelled): a
#: retry that cannot change what is weighed (a dose already in the bag) stops again.
REPEATED_STOPS = 3
#: Replicate weighings of the check weight for the repeatability (USP <41>: at least ten).
REPEATABILITY_WEIGHINGS = 10
#: False holds allowed on clean preparations.
FALSE_HOLD_TARGET = 0.005
REJECT_REASON = "qualification run, not for a patient"
#: What a weight recorded while the technician had the balance cable out is scored as: never
#: caught, whatever else the station showed.
WEIGHED_UNPLUGGED = "a weight was recorded while the balance was unplugged"
CHECK_WEIGHT = Decimal("100.00")
VIALS_DISCARDED = "qualification run ended"


def stale_vial_age(product: Product) -> dt.timedelta:
    """How long before now a vial of ``product`` left from an earlier shift was punctured.

    An hour past the longest an opened container of its kind may be used (USP <797>: a
    single-dose vial 12 hours, a pharmacy bulk package its labeled time, a multiple-dose vial
    28 days; the product's own in-use time when longer).
    """
    hours = 28 * 24 if product.container is Container.MULTI_DOSE else 12
    return dt.timedelta(hours=max(hours, product.in_use_hours or 0) + 1)


@dataclass
class KindScore:
    """Per error kind: how many were injected, caught, and which got through."""

    injected: int = 0
    caught: int = 0
    pullback_caught: int = 0
    missed: list[str] = field(default_factory=list)  # preparation ids
    how: dict[str, int] = field(default_factory=dict)  # what the station showed -> count


@dataclass
class QualificationResult:
    """Everything a run found; :meth:`as_json` is the machine-readable summary."""

    seed: int
    count: int
    errors: dict[ErrorKind, KindScore]
    clean: int
    false_holds: list[tuple[str, str]]  # (preparation id, what stopped it)
    excluded_orders: list[tuple[str, str]]  # (order id, why)
    balance: str
    repeatability: Decimal
    readings: list[Decimal]
    seconds: float
    preparation_seconds: list[float]
    started: dt.datetime
    false_hold_target: float = FALSE_HOLD_TARGET

    @property
    def got_through(self) -> int:
        """Injected errors the station did not stop."""
        return sum(s.injected - s.caught for s in self.errors.values())

    @property
    def false_hold_rate(self) -> float:
        """False holds as a share of clean preparations."""
        return len(self.false_holds) / self.clean if self.clean else 0.0

    @property
    def exit_status(self) -> int:
        """1 if an error got through, else 2 if false holds exceed the target, else 0."""
        if self.got_through:
            return 1
        return 2 if self.false_hold_rate > self.false_hold_target else 0

    def as_json(self) -> dict[str, object]:
        """``{"errors": {KIND: {"injected", "caught"}}, "clean": {...}, "pullback": {...}}``."""
        return {
            "errors": {k.value: {"injected": s.injected, "caught": s.caught}
                       for k, s in self.errors.items()},
            "clean": {"count": self.clean, "false_holds": len(self.false_holds)},
            "pullback": {k.value: {"caught": s.pullback_caught}
                         for k, s in self.errors.items()},
        }


@dataclass(frozen=True)
class Rig:
    """The simulated hood's hardware: the pan, the balance's cable, a way to connect."""

    pan: Pan
    simulator: FaultInjector
    open_balance: Callable[[], Balance]


Progress = Callable[[int, int, "QualificationResult"], None]


def qualification_services(record: Record, site: StationConfig, *,
                           clock: Callable[[], dt.datetime],
                           label_printer: LabelPrinter) -> StationServices:
    """The services of the qualification's station on ``record``, under the site's rules.

    The station is the qualification's own (``QUALIFY``, the 100 g check weight); the
    site's configuration (``[site] tolerance``) is the one being qualified. The labels go to
    ``label_printer``: the run's own, never the pharmacy's printer.
    """
    station = StationSection(id=STATION_ID, check_weight=CHECK_WEIGHT)
    return services_on(record, replace(site, station=station), clock=clock,
                       label_printer=label_printer)


def qualify(services: StationServices, rig: Rig, formulary_text: str,
            orders: Sequence[DoseOrder], plan: Sequence[PlannedPreparation], *, seed: int,
            progress: Progress | None = None,
            readability: Decimal | None = None) -> QualificationResult:
    """Run ``plan`` at the simulated hood ``rig``, recording through ``services``.

    ``formulary_text`` is imported only into a record without a formulary; a record that
    has one is qualified with its latest version. ``readability`` is the station's configured
    one (for a balance that does not report its own; see :class:`HeadlessStation`).
    """
    began = time.monotonic()
    clock = services.clock
    # A record in use keeps its own formulary: the run qualifies that one, and never
    # publishes another version to the stations sharing the record.
    version = services.versions.latest() or services.versions.import_text(
        formulary_text, "qualification formulary", imported_by="qualify", utc=clock())
    formulary_text = version.text
    formulary = version.formulary()
    run_id = secrets.token_hex(3)
    directory = services.users
    tech, rph = f"qualify.tech-{run_id}", f"qualify.rph-{run_id}"
    password = secrets.token_urlsafe(18)
    directory.add(tech, "Qualification technician", Role.TECHNICIAN, password, by="qualify")
    directory.add(rph, "Qualification pharmacist", Role.PHARMACIST, password, by="qualify")
    sessions = services.sessions
    recalls = services.recalls()
    recalled = [(p.ndc, recalled_lot(p, seed)) for p in formulary]
    for ndc, lot in recalled:
        recalls.add(ndc, lot, "recalled for a qualification run", by="qualify")
    camera = SimulatedCamera(Scene(), seed=seed)
    today = clock().date()
    hands = DemoHood(rig.pan, SimulatorPlug(rig.simulator), camera,
                     Formulary.from_mapping(tomllib.loads(formulary_text)), today=today,
                     seed=seed,
                     check_weight=CHECK_WEIGHT)
    technician = Technician(hands, hands.formulary, services.site_tolerance, seed=seed)
    session = services.hood_session(formulary)
    vials = services.opened_vials()
    station = HeadlessStation(session, camera, rig.open_balance,
                              repeatability=Decimal(0), check_weight=CHECK_WEIGHT,
                              readability=readability)
    try:
        readings = _repeatability(station, hands)
        spread = Decimal(str(statistics.stdev(readings)))
        station.repeatability = spread.quantize(Decimal("0.0001"))
        station.close()
        if not station.connect():
            raise RuntimeError(f"the balance went away after its repeatability test: "
                               f"{station.balance_state}")
        spec = session.balance_spec
        assert spec is not None and session.balance is not None
        pool, excluded = _verifiable(orders, technician, spec)
        if not pool:
            raise RuntimeError("no sample order can be verified by weight on this balance")
        result = QualificationResult(
            seed=seed, count=len(plan), errors={k: KindScore() for k in ErrorKind}, clean=0,
            false_holds=[], excluded_orders=excluded,
            balance=f"{session.balance.model} {session.balance.serial_number}, "
                    f"{spec.readability} g",
            repeatability=station.repeatability, readings=readings, seconds=0.0,
            preparation_seconds=[], started=clock())
        hood = _Hood(technician, station, session, version, sessions, tech, rph, password,
                     run_id, clock, vials)
        rng = random.Random(f"orders/{seed}")
        pullback_rng = random.Random(f"pullback/{seed}")
        for done, planned in enumerate(plan, 1):
            t0 = time.monotonic()
            _one(planned, pool, rng, pullback_rng, hood, result)
            result.preparation_seconds.append(time.monotonic() - t0)
            if progress is not None:
                progress(done, len(plan), result)
        result.seconds = time.monotonic() - began
        return result
    finally:
        station.close()
        _clean_up(services, vials, recalled, tech, rph)


def _clean_up(services: StationServices, vials: OpenedVials, recalled: list[tuple[Any, str]],
              tech: str, rph: str) -> None:
    """Discard the run's vials, withdraw its recalls and disable its accounts."""
    for vial in vials.in_use():
        if vial.punctured_by == tech:
            vials.discard(vial.key, VIALS_DISCARDED, at=services.clock(), by=tech)
    recalls = services.recalls()
    for ndc, lot in recalled:
        recalls.withdraw(ndc, lot, "qualification run ended", by="qualify")
    for user in (tech, rph):
        services.users.disable(user, by="qualify", reason="qualification run ended")


def _repeatability(station: HeadlessStation, hands: DemoHood) -> list[Decimal]:
    """Weigh the check weight ``REPEATABILITY_WEIGHINGS`` times, lifting it in between."""
    readings = []
    for _ in range(REPEATABILITY_WEIGHINGS):
        hands.empty_pan()
        station.read_stable()
        hands.place(CHECK_WEIGHT, "the check weight")
        readings.append(station.read_stable().value)
    hands.empty_pan()
    return readings


def _verifiable(orders: Sequence[DoseOrder], technician: Technician,
                spec: BalanceSpec) -> tuple[list[tuple[DoseOrder, Recipe]],
                                            list[tuple[str, str]]]:
    pool, excluded = [], []
    for order in orders:
        try:
            recipe = technician.recipe_for(order)
        except StationError as error:
            excluded.append((order.order_id, f"cannot be made from this formulary: {error}"))
            continue
        short = [s for s in recipe.steps
                 if s.kind is StepKind.WEIGH_NET and s.expected_mass is not None
                 and s.product is not None and not is_verifiable(
                     s.expected_mass, s.product.specific_gravity,
                     s.tolerance or recipe.tolerance, spec)]
        if short:
            excluded.append((order.order_id, "not verifiable by weight on this balance: "
                             + "; ".join(f"step {s.number} ({s.expected_mass} g)"
                                         for s in short)))
        else:
            pool.append((order, recipe))
    return pool, excluded


@dataclass
class _Hood:
    """What one run shares between its preparations."""

    technician: Technician
    station: HeadlessStation
    session: HoodSession
    version: FormularyVersion
    sessions: SessionManager
    tech: str
    rph: str
    password: str
    run_id: str
    clock: Callable[[], dt.datetime]
    vials: OpenedVials

    def stale_vial(self, product: Product) -> Package:
        """A vial of ``product`` opened at an earlier shift, past its beyond-use time now.

        Recorded as the station records a kept vial (by the run's technician, at this
        station, in ISO Class 5 air); the package carries the station's sticker with its id.
        """
        now = self.clock()
        package = self.technician.hands.package(product)
        vial = self.vials.open(
            product, package.lot, None, now - stale_vial_age(product),
            product.container_volume_ml, expiry=package.expiry, by=self.tech,
            station_id=STATION_ID, iso5=True)
        if not vial.expired(now):
            raise RuntimeError(f"the vial opened at an earlier shift, {vial.label}, is still "
                               f"usable until {vial.beyond_use.isoformat()}")
        sticker = Sticker(vial_code(vial.key), (f"OPENED VIAL {vial.key}",
                                                f"BUD {vial.beyond_use:%Y-%m-%d %H:%M}"))
        return replace(package, sticker=sticker)

    def make(self, order: DoseOrder, number: int,
             injection: Injection | None) -> tuple[str, list[tuple[int | None, str]]]:
        """Make one preparation of ``order``; its id and every stop, by step."""
        session = self.session
        order = replace(order, order_id=f"Q{self.run_id}-{number:04d}-{order.order_id}")
        view = session.start(order, self.version, self.tech)
        preparation_id = view.preparation_id
        assert preparation_id is not None
        self.technician.begin(order, preparation_id, injection)
        stops: list[tuple[int | None, str]] = []
        outcome = Outcome(view, self.station.balance_connected, self.station.balance_state)
        for _ in range(MAX_TURNS):
            view = session.view
            if view.next_action in (NextAction.VERIFY, NextAction.DONE):
                break
            if view.next_action is NextAction.PHARMACIST_CHECK:
                session.in_process_check(self._sign(Meaning.IN_PROCESS_CHECKED), approved=True)
                continue
            move = self.technician.act(Screen(view, outcome.balance_connected))
            weights = _weights(session)
            outcome = self.station.handle(move)
            stop = _stop(view, outcome)
            if stop is not None:
                stops.append((view.step_number, stop))
                if [n for n, _ in stops[-REPEATED_STOPS:]] == [view.step_number] * REPEATED_STOPS:
                    break
            if self.technician.balance_unplugged and _weights(session) > weights:
                stops.append((view.step_number, WEIGHED_UNPLUGGED))
        else:
            stops.append((session.view.step_number, "did not finish"))
        self._close(preparation_id)
        return preparation_id, stops

    def _sign(self, meaning: Meaning) -> dict[str, Any]:
        signature = self.sessions.countersign(self.rph, self.password, meaning, now=self.clock())
        return signature.as_payload()

    def _close(self, preparation_id: str) -> None:
        """Take a finished preparation out of every queue: rejected, or cancelled."""
        phase = self.session.view.phase
        if phase is Phase.AWAITING_VERIFICATION:
            self.session.service.record_event(
                preparation_id, Rejected(self.rph, self.clock(), REJECT_REASON),
                signature=self._sign(Meaning.REJECTED))
        elif phase not in (Phase.CANCELLED, Phase.REJECTED):
            self.session.cancel("qualification: the preparation could not be finished")


def _one(planned: PlannedPreparation, pool: list[tuple[DoseOrder, Recipe]],
         rng: random.Random, pullback_rng: random.Random, hood: _Hood,
         result: QualificationResult) -> None:
    kind = planned.error
    hands = hood.technician.hands
    candidates = pool if kind is None else [
        (o, r) for o, r in pool if eligible_steps(kind, r, hands)]
    if not candidates:
        raise RuntimeError(f"no verifiable sample order allows {kind}")
    order, recipe = candidates[rng.randrange(len(candidates))]
    injection = None
    if kind is not None:
        steps = eligible_steps(kind, recipe, hands)
        injection = Injection(kind, steps[rng.randrange(len(steps))])
        if kind is ErrorKind.OPENED_VIAL_PAST_BUD:
            product = recipe.step(injection.step).product
            assert product is not None
            injection.vial = hood.stale_vial(product)
    preparation_id, stops = hood.make(order, planned.number, injection)
    if injection is None:
        result.clean += 1
        if stops:
            result.false_holds.append((preparation_id, "; ".join(s for _, s in stops)))
        return
    score = result.errors[injection.kind]
    score.injected += 1
    at_step = [s for n, s in stops if n == injection.step]
    if injection.made and at_step and WEIGHED_UNPLUGGED not in at_step:
        score.caught += 1
        score.how[at_step[0]] = score.how.get(at_step[0], 0) + 1
    else:
        score.missed.append(preparation_id)
    if (injection.true_volume_ml is not None and injection.expected_volume_ml is not None
            and injection.syringe_ml is not None):
        tolerance = (recipe.step(injection.step).tolerance or recipe.tolerance).fraction
        if pullback_catches(injection.true_volume_ml, injection.expected_volume_ml,
                            injection.syringe_ml, tolerance, pullback_rng):
            score.pullback_caught += 1


def _weights(session: HoodSession) -> int:
    """How many weights the open preparation has recorded, every attempt counted."""
    prep = session.preparation
    return 0 if prep is None else sum(len(r.attempts) for r in prep.records)


def _stop(before: HoodView, outcome: Outcome) -> str | None:
    """What stopped the preparation in this turn, in the station's words, if anything."""
    view = outcome.view
    if view.phase is Phase.HARD_STOP and before.phase is not Phase.HARD_STOP:
        return f"hard stop: {outcome.stop_reason or view.stop_message}"
    if view.decision is Status.REFUSED:
        return f"scan refused: {view.message.split(':')[0]}"
    if not outcome.balance_connected and before.next_action is NextAction.WEIGH:
        return f"balance {outcome.balance_state.split(':')[0]}"
    return None
