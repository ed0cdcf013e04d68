"""Fill a record with realistic preparations, made through the real preparation service.

For demonstrations, manual QA and the tests of search and audit: :func:`seed` runs ``count``
complete preparations through :class:`~station.services.preparations.PreparationService`, the same
code path a station uses, so every event is checked by the workflow and chained by the
store. The inputs are what a hood would produce:

- orders from the sample worklist (``fixtures/worklist.toml``), each with a fresh order id
  derived from its template and a due time on the simulated shift;
- scans of GS1 DataMatrix codes built from each product's real GTIN, with a lot, an expiry
  and a serial per package; the station resolves them against the formulary as it would.
  Some products come in packages whose only barcode is the UPC-A of the NDC: their lot and
  expiry are read from the printed label and confirmed, or typed twice, and recorded so
  (:class:`~station.core.components.LotSource`). Every accepted component has a lot and an
  expiry;
- multiple-dose vials kept after their first draw (an opened vial on the record, with its
  beyond-use time) and drawn from again by later preparations, scanned by their sticker;
- the emptied syringe weighed back after each injection: it keeps its dead space
  (:data:`station.demo.hood.SYRINGES`), so the bag receives what was drawn less that;
- the label printed (with its beyond-use date from the record) before it is scanned back;
- weights from a simulated balance (readability 0.001 g, noise, hood airflow, drift and
  settling; the reading is taken when the balance says it is stable), of masses a person
  would put on the pan: empty syringes, powder vials, overfilled bags, and draws that are
  off by a little, as real draws are;
- photographs rendered by :mod:`station.demo.camera_scene` (the scanned package's label, with its
  barcodes, lot and expiry) and captured by :func:`station.devices.photos.capture`, which judges and
  encodes them as at a real station; stored in the record's photo store;
- now and then a hard stop that happens at hoods: a look-alike product picked from the
  wrong bin (refused; the right one is scanned next), or a draw outside tolerance (retried
  and redrawn);
- a mix of outcomes: verified or rejected (with a reason) by a pharmacist other than the
  technician, left awaiting verification, and sometimes cancelled.

The same ``seed`` on a record in the same state gives the same record (same ids, events,
times and photos). Seeded work is marked by its station ids (``sim-hood-1``,
``sim-hood-2``, ``sim-rph-remote``). A record is append-only: seeded preparations can never
be deleted, so seed only a record made for it.

The simulated balance comes from the caller (``pan``), because runtime code does not
import the simulators; the command line assembles one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Protocol

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from scale_drivers.sim.physics import Balance, BalanceModel
from station.config.catalog_files import SAMPLE_DIR, load_worklist
from station.core.beyond_use import preparation_bud
from station.core.bud import BudTable
from station.core.components import LotSource
from station.core.errors import StationError
from station.core.formulary import Container, Formulary, Product, ProductRole
from station.core.gravimetry import BalanceSpec, expected_volume
from station.core.identifiers import Expiry, Lot
from station.core.opened_vials import OpenedVial, check, vial_code
from station.core.orders import DoseOrder
from station.core.quantities import Mass, Tolerance
from station.core.recipe import MassCheck, Step, StepKind, build_recipe
from station.core.scan import parse_scan
from station.core.workflow import (
    TERMINAL_PHASES,
    ActionConfirmed,
    Cancelled,
    Event,
    InProcessChecked,
    LabelPrinted,
    LabelScanned,
    Overridden,
    Phase,
    PhotoTaken,
    Preparation,
    ProductScanned,
    Rejected,
    Retried,
    Started,
    StopReason,
    Verified,
    WeightRead,
    drawn_concentration,
)
from station.demo.camera_scene import Label, Scene, Sticker, render
from station.demo.hood import SYRINGES
from station.devices.camera import Frame
from station.devices.photos import capture
from station.records.formulary_versions import FormularyVersion, FormularyVersions
from station.records.opened_vials import OpenedVials
from station.records.record import Record
from station.records.schema import events as events_table
from station.records.search import (
    AWAITING_VERIFICATION,
    CANCELLED,
    IN_PROGRESS,
    OUTCOMES,
    REJECTED,
    VERIFIED,
)
from station.services.preparations import PreparationService

Clock = Callable[[], dt.datetime]

HOODS = (("sim-hood-1", "MS1003TS-B936102145"), ("sim-hood-2", "MS1003TS-B936102871"))
"""The seeded stations and their balances (a 1,220 g × 1 mg precision balance each)."""
LABEL_PRINTERS = {"sim-hood-1": "tcp://sim-label-1.pharmacy.invalid:9100",
                  "sim-hood-2": "tcp://sim-label-2.pharmacy.invalid:9100"}
"""The label printer at each seeded hood, as its label events name it."""
LINEAR_ONLY_SHARE = 0.3
"""The share of products (with a UPC-A form) whose packages carry only the UPC-A."""
PRINTED_READ_SHARE = 0.7
"""Of the lots of UPC-A-only packages, the share read from the print and confirmed (the rest
are typed twice)."""
REMOTE_STATION = "sim-rph-remote"
"""Where the seeded pharmacists check and verify from."""
TECHNICIANS = ("tech.ana", "tech.raj", "tech.mia")
PHARMACISTS: Mapping[str, str] = {"rph.ben": "Ben Adeyemi, PharmD",
                                  "rph.lee": "Lee Nakamura, PharmD"}
BALANCE_CAPACITY = Decimal("1220")
BALANCE_READABILITY = Decimal("0.001")
BALANCE_SPEC = BalanceSpec(BALANCE_READABILITY, Decimal("0.0008"))
PHOTO_SIZE = (640, 360)
SLOT = dt.timedelta(minutes=30)
"""Simulated time per preparation: the seeded shift ends at ``clock()``."""

_OUTCOME_WEIGHTS = {VERIFIED: 0.6, AWAITING_VERIFICATION: 0.18, REJECTED: 0.12, CANCELLED: 0.1}
_WRONG_PRODUCT, _BAD_DRAW, _NO_INCIDENT = "wrong product", "bad draw", "none"
_INCIDENT_WEIGHTS = {_NO_INCIDENT: 0.7, _WRONG_PRODUCT: 0.15, _BAD_DRAW: 0.15}
_REJECTIONS = (
    "final photo does not show the lot and expiry of the vial; remake",
    "air bubble in the syringe photo: the dose drawn is in doubt; remake",
    "the label covers the bag's lot and expiry; remake with the label clear of them",
    "particles visible in the final container photo; discard and remake",
    "order changed by the prescriber while compounding; remake to the new order",
)
_CANCELLATIONS = (
    "order discontinued by the prescriber",
    "patient discharged before the dose was due",
    "dose changed by the prescriber; a new order follows",
)
_OVERRIDE = ("checked by the pharmacist another way (syringe graduations and photo): the "
             "balance could not confirm this step")
_SYRINGES = ((Decimal(1), Decimal("2.2")), (Decimal(3), Decimal("4.3")),
             (Decimal(5), Decimal("5.9")), (Decimal(10), Decimal("9.4")),
             (Decimal(20), Decimal("14.8")), (Decimal(30), Decimal("19.6")),
             (Decimal(60), Decimal("33.9")))
"""Syringe size (mL) and empty mass (g, with cap and needle); dead spaces as the demo hood's."""
_DEAD_SPACE = {size: dead for size, _, dead in SYRINGES}
_MAX_EVENTS = 500
_OUTCOME_OF_PHASE = {Phase.VERIFIED: VERIFIED, Phase.REJECTED: REJECTED,
                     Phase.CANCELLED: CANCELLED,
                     Phase.AWAITING_VERIFICATION: AWAITING_VERIFICATION}


class SeedError(StationError):
    """The record cannot be seeded as asked."""


class ShownReading(Protocol):
    """What a balance display shows: the value in grams and whether it is stable."""

    @property
    def value(self) -> Decimal:
        """The value shown, in grams."""
        ...

    @property
    def stable(self) -> bool:
        """Whether the balance calls the value stable."""
        ...


class SimulatedPan(Protocol):
    """A simulated balance: put a load on it, read its display."""

    def set_load(self, grams: Decimal) -> None:
        """Make what is on the pan weigh ``grams``."""
        ...

    def reading(self) -> ShownReading:
        """What the display shows now."""
        ...


PanFactory = Callable[[Callable[[], float], random.Random], SimulatedPan]
"""Builds one simulated balance (readability :data:`BALANCE_READABILITY`, capacity
:data:`BALANCE_CAPACITY`) on a clock in seconds, with its own random source."""


@dataclass(frozen=True)
class SeedReport:
    """What :func:`seed` added."""

    url: str
    preparation_ids: tuple[str, ...]
    outcomes: Mapping[str, int]
    hard_stops: int
    photos: int
    events: int
    formulary_version: int
    formulary_imported: bool
    first_utc: dt.datetime
    last_utc: dt.datetime

    def summary(self) -> str:
        """One line for the command line."""
        mix = ", ".join(f"{self.outcomes[o]} {o}" for o in OUTCOMES if self.outcomes.get(o))
        version = (f"formulary version {self.formulary_version}"
                   + (", imported" if self.formulary_imported else ""))
        return (f"seeded {_counted(len(self.preparation_ids), 'preparation')} into {self.url}: "
                f"{mix}; {_counted(self.hard_stops, 'hard stop')}, "
                f"{_counted(self.photos, 'photo')}, {_counted(self.events, 'event')} ({version})")


def _counted(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def seed(record: Record, count: int, *, seed: int | str, clock: Clock,
         pan: PanFactory, site_tolerance: Tolerance) -> SeedReport:
    """Add ``count`` complete preparations to ``record``; the shift ends at ``clock()``.

    ``site_tolerance`` is the site's (``[site] tolerance``, from the bootstrap's services).
    """
    if count < 1:
        raise SeedError(f"the number of preparations must be at least 1, got {count}")
    now = clock()
    if now.tzinfo is None:
        raise ValueError("the clock must give times with a UTC offset")
    now = now.astimezone(dt.UTC).replace(microsecond=0)
    start = now - SLOT * count
    existing = _preparation_count(record)
    rng = random.Random(f"station-seed:{seed}:{existing}")
    version, imported = _formulary_version(record, start - dt.timedelta(hours=1))
    formulary = version.formulary()
    templates = _templates(formulary, site_tolerance)
    shift = _Shift(record, version, formulary, start, rng, pan, site_tolerance)
    outcomes = _deal(rng, count, _OUTCOME_WEIGHTS,
                     (VERIFIED, REJECTED, AWAITING_VERIFICATION) if count >= 3 else ())
    incidents = _deal(rng, count, _INCIDENT_WEIGHTS,
                      (_WRONG_PRODUCT, _BAD_DRAW) if count >= 3 else ())
    made: list[str] = []
    reached: list[str] = []
    for position in range(count):
        number = existing + position + 1
        shift.sim.until(start + SLOT * position
                        + dt.timedelta(milliseconds=rng.randrange(240_000)))
        template = rng.choice(templates)
        order = replace(template, order_id=f"{template.order_id}-{number:05d}",
                        due=(shift.sim.now + dt.timedelta(minutes=rng.randint(45, 180)))
                        .astimezone(template.due.tzinfo))
        preparation_id = "P-" + hashlib.sha256(
            f"station-seed:{seed}:{number}".encode()).hexdigest()[:12].upper()
        compounding = _Compounding(shift, order, preparation_id, outcomes[position],
                                   incidents[position])
        compounding.run()
        made.append(preparation_id)
        reached.append(_OUTCOME_OF_PHASE.get(compounding.current.phase, IN_PROGRESS))
    stored = sum(record.events.version_of(p) for p in made)
    return SeedReport(
        url=make_url(record.url).render_as_string(hide_password=True),
        preparation_ids=tuple(made),
        outcomes=dict(Counter(reached)),
        hard_stops=shift.hard_stops,
        photos=len(shift.camera.stored),
        events=stored,
        formulary_version=version.version,
        formulary_imported=imported,
        first_utc=start,
        last_utc=shift.sim.now,
    )


def _preparation_count(record: Record) -> int:
    with record.engine.connect() as connection:
        found = connection.execute(
            select(func.count(func.distinct(events_table.c.preparation_id)))).scalar()
    return int(found or 0)


def _formulary_version(record: Record, utc: dt.datetime) -> tuple[FormularyVersion, bool]:
    versions = FormularyVersions(record.engine)
    latest = versions.latest()
    if latest is not None:
        return latest, False
    path = SAMPLE_DIR / "formulary.toml"
    text = path.read_text(encoding="utf-8")
    imported = versions.import_text(text, "fixtures/formulary.toml",
                                    imported_by=next(iter(PHARMACISTS)), utc=utc)
    return imported, True


def _templates(formulary: Formulary, site_tolerance: Tolerance) -> list[DoseOrder]:
    """The sample orders that can be made under this formulary, on the seeded balance."""
    usable = []
    for order in load_worklist(SAMPLE_DIR / "worklist.toml"):
        try:
            recipe = build_recipe(order, formulary, site_tolerance)
        except StationError:
            continue
        # The final bag, overfilled, with what went in, must fit on the balance.
        if recipe.steps and order.final_volume_ml * Decimal("1.12") + 50 <= BALANCE_CAPACITY:
            usable.append(order)
    if not usable:
        raise SeedError("the record's formulary stocks none of the sample worklist's products: "
                        "seed a new record")
    return usable


def _deal(rng: random.Random, count: int, weights: Mapping[str, float],
          required: tuple[str, ...]) -> list[str]:
    """``count`` draws by weight, each kind in ``required`` at least once."""
    dealt = rng.choices(list(weights), weights=list(weights.values()), k=count)
    for kind in required:
        if kind in dealt:
            continue
        spare = [i for i, k in enumerate(dealt) if k not in required or dealt.count(k) > 1]
        dealt[rng.choice(spare)] = kind
    return dealt


def _grams(value: float) -> Decimal:
    return Decimal(str(round(value, 4)))


# ------------------------------------------------------------------------------ the shift


class _SimClock:
    """Simulated time: UTC, moved on by what happens."""

    def __init__(self, start: dt.datetime) -> None:
        self.origin = start
        self.now = start

    def utc(self) -> dt.datetime:
        return self.now

    def seconds(self) -> float:
        return (self.now - self.origin).total_seconds()

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(milliseconds=round(seconds * 1000))

    def until(self, moment: dt.datetime) -> None:
        self.now = max(self.now, moment)


@dataclass(frozen=True)
class _Package:
    """One container in hand: a product, its lot, expiry and serial; its barcodes, sticker."""

    product: Product
    lot: str
    expiry: dt.date
    serial: str
    datamatrix: bool = True
    sticker: Sticker | None = None

    def label(self) -> Label:
        label = Label.for_product(self.product, lot=self.lot, expiry=self.expiry,
                                  serial=self.serial, linear=_upc(self.product),
                                  datamatrix=self.datamatrix)
        return label if self.sticker is None else replace(label, sticker=self.sticker)

    def scan_text(self) -> str:
        label = self.label()
        if self.datamatrix:
            data = label.gs1_data
            assert data is not None
            return "]d2" + data
        assert label.upc_a is not None
        return "]E0" + label.upc_a


def _upc(product: Product) -> bool:
    gtin = product.gtin or product.ndc.gtin()
    return gtin is not None and gtin.upc_a is not None


@dataclass
class _KeptVial:
    """A vial kept after its first draw: the vial on the record and the package it is."""

    vial: OpenedVial
    package: _Package


@dataclass
class _Stock:
    """The IV room's shelves: one or two lots of every product, serials counting up."""

    rng: random.Random
    today: dt.date
    lots: dict[str, list[tuple[str, dt.date]]] = field(default_factory=dict)
    serials: dict[str, int] = field(default_factory=dict)
    linear_only: dict[str, bool] = field(default_factory=dict)

    def package(self, product: Product) -> _Package:
        key = product.ndc.key
        if key not in self.lots:
            self.lots[key] = [(self._lot(), self._expiry()) for _ in range(self.rng.choice((1, 2)))]
            self.serials[key] = self.rng.randrange(10_000_000, 90_000_000)
        lots = self.lots[key]
        lot, expiry = lots[0] if len(lots) == 1 or self.rng.random() < 0.75 else lots[1]
        self.serials[key] += self.rng.randint(1, 40)
        if key not in self.linear_only:
            self.linear_only[key] = _upc(product) and self.rng.random() < LINEAR_ONLY_SHARE
        return _Package(product, lot, expiry, str(self.serials[key]),
                        datamatrix=not self.linear_only[key])

    def _lot(self) -> str:
        letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
        pick = self.rng.choice

        def digits(n: int) -> str:
            return "".join(pick("0123456789") for _ in range(n))

        return pick((
            pick(letters) + pick(letters) + digits(4),
            digits(2) + pick(letters) + digits(3),
            digits(7),
            pick(letters) + digits(4) + pick(letters),
        ))

    def _expiry(self) -> dt.date:
        day = self.today + dt.timedelta(days=self.rng.randint(150, 900))
        following = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        return following - dt.timedelta(days=1)  # labels expire at a month's end


class _Camera:
    """The camera over the hood: renders what is in view and captures a step photo."""

    def __init__(self, record: Record, sim: _SimClock, seed: int) -> None:
        self.record = record
        self.sim = sim
        self.rng = np.random.default_rng(seed)
        self.frames = 0
        self.stored: set[str] = set()

    def photograph(self, packages: tuple[_Package, ...], step: Step, station_id: str) -> str:
        labels = tuple(p.label() for p in packages)
        vials = any(label.container == "vial" for label in labels)
        image = render(Scene(labels=labels, curvature=0.25 if vials else 0.0),
                       PHOTO_SIZE, self.rng)
        self.frames += 1
        frame = Frame(image, self.frames, self.sim.seconds(), "sim-camera")
        photo = capture(frame, step=f"{step.number}: {step.title}", station_id=station_id,
                        utc=self.sim.now)
        sha256 = self.record.photos.put(photo.jpeg)
        self.stored.add(sha256)
        return sha256


@dataclass
class _Hood:
    """A station at a hood with its balance."""

    service: PreparationService
    balance_id: str
    pan: SimulatedPan


class _Shift:
    """Everything the preparations of one seeding share."""

    def __init__(self, record: Record, version: FormularyVersion, formulary: Formulary,
                 start: dt.datetime, rng: random.Random, pan: PanFactory,
                 site_tolerance: Tolerance) -> None:
        self.record = record
        self.site_tolerance = site_tolerance
        self.version = version
        self.formulary = formulary
        self.rng = rng
        self.sim = _SimClock(start)
        self.camera = _Camera(record, self.sim, rng.getrandbits(64))
        self.stock = _Stock(random.Random(rng.getrandbits(64)), start.date())
        self.hoods = [
            _Hood(self._service(station), balance_id,
                  pan(self.sim.seconds, random.Random(rng.getrandbits(64))))
            for station, balance_id in HOODS
        ]
        self.remote = self._service(REMOTE_STATION)
        self.hard_stops = 0
        self.bud_table = BudTable.load()
        self.vials = OpenedVials(record.engine, self.sim.utc, self.bud_table)
        self.kept: dict[str, _KeptVial] = {}  # per NDC key: the opened vial in use

    def _service(self, station_id: str) -> PreparationService:
        return PreparationService(self.record, station_id=station_id,
                                  site_tolerance=self.site_tolerance, clock=self.sim.utc)


# ------------------------------------------------------------------------------ one preparation


class _Compounding:
    """A technician making one preparation, and a pharmacist checking it."""

    def __init__(self, shift: _Shift, order: DoseOrder, preparation_id: str, outcome: str,
                 incident: str) -> None:
        self.shift = shift
        self.sim = shift.sim
        self.rng = random.Random(shift.rng.getrandbits(64))
        self.order = order
        self.site = order.due.tzinfo
        self.preparation_id = preparation_id
        self.outcome = outcome
        self.incident = incident
        self.hood = self.rng.choice(shift.hoods)
        self.technician = self.rng.choice(TECHNICIANS)
        self.pharmacist = self.rng.choice(sorted(PHARMACISTS))
        self.prep: Preparation | None = None
        self.in_hand: dict[int, _Package] = {}  # scan step -> the package scanned there
        self.items: dict[int, Decimal] = {}  # weighing step -> true mass of the item weighed
        self.drawn: dict[int, Decimal] = {}  # draw step -> true mass of liquid in the syringe
        self.sizes: dict[int, Decimal] = {}  # draw step -> the syringe's size (mL)
        self.residual: dict[int, Decimal] = {}  # draw step -> mass left in the emptied syringe
        self.from_vial: dict[int, _KeptVial] = {}  # scan step -> the opened vial scanned there
        self.bag = Decimal(0)

    # -------------------------------------------------------------- driving

    def run(self) -> None:
        self.prep = self.hood.service.create(self.order, self.shift.version, self.technician,
                                             preparation_id=self.preparation_id)
        self.wait(30, 150)
        self.record(Started(self.technician, self.at()))
        for _ in range(_MAX_EVENTS):
            prep = self.current
            if prep.phase in TERMINAL_PHASES:
                return
            if prep.phase is Phase.AWAITING_VERIFICATION:
                self.decide()
                return
            step = prep.step
            if (self.outcome == CANCELLED and prep.phase is Phase.IN_PROGRESS
                    and step is not None and step.kind is StepKind.LABEL
                    and prep.record(step.number).labels):
                self.wait(60, 300)
                self.record(Cancelled(self.technician, self.at(),
                                      self.rng.choice(_CANCELLATIONS)))
                return
            if prep.phase is Phase.AWAITING_CHECK:
                self.check()
            elif prep.phase is Phase.HARD_STOP:
                self.clear_stop()
            else:
                assert step is not None
                self.record(self.next_event(step))
                self.after_draw(step)
        raise SeedError(f"{self.preparation_id}: not finished after {_MAX_EVENTS} events")

    @property
    def current(self) -> Preparation:
        assert self.prep is not None
        return self.prep

    def record(self, event: Event, signature: Mapping[str, str] | None = None,
               service: PreparationService | None = None) -> None:
        before = self.current
        after = (service or self.hood.service).record_event(self.preparation_id, event,
                                                            signature)
        if after.stop is not None and after.stop != before.stop:
            self.shift.hard_stops += 1
        self.prep = after

    def at(self) -> dt.datetime:
        return self.sim.now.astimezone(self.site)

    def wait(self, low: float, high: float) -> None:
        self.sim.advance(self.rng.uniform(low, high))

    def signature(self, meaning: str) -> dict[str, str]:
        return {"user_id": self.pharmacist, "printed_name": PHARMACISTS[self.pharmacist],
                "meaning": meaning, "utc": self.sim.now.isoformat()}

    # -------------------------------------------------------------- the pharmacist

    def check(self) -> None:
        self.wait(90, 420)
        self.record(InProcessChecked(self.pharmacist, self.at(), approved=True),
                    self.signature("in-process-checked"), self.shift.remote)

    def decide(self) -> None:
        if self.outcome == AWAITING_VERIFICATION:
            return
        self.wait(60, 480)
        if self.outcome == VERIFIED:
            self.record(Verified(self.pharmacist, self.at()), self.signature("verified"),
                        self.shift.remote)
        else:
            self.record(Rejected(self.pharmacist, self.at(), self.rng.choice(_REJECTIONS)),
                        self.signature("rejected"), self.shift.remote)

    def clear_stop(self) -> None:
        stop = self.current.stop
        assert stop is not None
        if stop.reason in (StopReason.WRONG_PRODUCT, StopReason.OUT_OF_TOLERANCE) and \
                self.incident != _NO_INCIDENT:
            self.incident = _NO_INCIDENT  # the planned slip happened; the rest goes right
            self.wait(15, 60)
            self.record(Retried(self.technician, self.at()))
        elif stop.reason.overridable:
            self.wait(120, 400)
            self.record(Overridden(self.pharmacist, self.at(), _OVERRIDE),
                        self.signature("override-approved"), self.shift.remote)
        else:
            raise SeedError(f"{self.preparation_id}: unexpected hard stop: {stop.message}")

    # -------------------------------------------------------------- the technician

    def next_event(self, step: Step) -> Event:
        """The right thing to do at ``step`` (a photo once its main action is accepted)."""
        if self.current.record(step.number).accepted is not None and step.photo_required:
            self.wait(3, 9)
            return self.photo(step)
        doing: dict[StepKind, Callable[[Step], Event]] = {
            StepKind.SCAN: self.scan,
            StepKind.WEIGH_TARE: self.weigh_tare,
            StepKind.WEIGH_NET: lambda s: self.weigh(self.net_load(s)),
            StepKind.ACTION: self.inject,
            StepKind.LABEL: self.label,
        }
        if step.kind in doing:
            return doing[step.kind](step)
        self.wait(10, 25)
        return self.photo(step)

    def weigh_tare(self, step: Step) -> Event:
        self.wait(6, 20)
        mass = self.tare_item(step)
        self.items[step.number] = mass
        if self.net_step(step.number).check is MassCheck.FINAL:
            self.bag = mass
        return self.weigh(mass)

    def inject(self, step: Step) -> Event:
        self.wait(20, 50)
        if step.reference is not None and step.reference in self.drawn:
            drawn = self.drawn[step.reference]
            draw = self.current.recipe.step(step.reference)
            assert draw.product is not None
            dead = _DEAD_SPACE[self.sizes.get(step.reference, Decimal(10))]
            left = dead * draw.product.specific_gravity.value * _grams(
                self.rng.uniform(0.85, 1.15))
            self.residual[step.reference] = min(drawn, left)
            self.bag += drawn - self.residual[step.reference]  # the hub keeps the rest
        return ActionConfirmed(self.technician, self.at())

    def label(self, step: Step) -> Event:
        prep = self.current
        if not prep.record(step.number).labels:
            self.wait(20, 60)
            bud = preparation_bud(prep, self.shift.bud_table)
            return LabelPrinted(self.technician, self.at(), bud.until, bud.rule,
                                bud.compounded.category, bud.compounded.storage,
                                LABEL_PRINTERS[self.hood.service.station_id])
        self.wait(40, 100)
        return LabelScanned(self.technician, self.at(), self.preparation_id)

    def after_draw(self, step: Step) -> None:
        """After an accepted draw: take it off its opened vial, or keep a multiple-dose vial."""
        prep = self.current
        if step.check is not MassCheck.DOSE or step.kind is not StepKind.WEIGH_NET:
            return
        attempt = prep.record(step.number).accepted
        if attempt is None or prep.stop is not None:
            return
        product = step.product
        assert product is not None
        scan = max((n for n in self.in_hand if n < step.number
                    and self.in_hand[n].product.ndc == product.ndc), default=None)
        if scan is None:
            return
        volume = (prep.net_mass(step.number).grams
                  / product.specific_gravity.value).quantize(Decimal("0.001"))
        kept = self.from_vial.get(scan)
        scanned = prep.record(scan).accepted
        assert scanned is not None
        if kept is not None:
            kept.vial = self.shift.vials.draw(kept.vial.key, min(volume, kept.vial.remaining_ml),
                                              at=self.sim.now, by=self.technician,
                                              checked_at=scanned.event.at)
            return
        if (product.container is not Container.MULTI_DOSE or step.reconstituted_by is not None
                or product.ndc.key in self.shift.kept
                or volume >= product.container_volume_ml):
            return
        package = self.in_hand[scan]
        vial = self.shift.vials.open(
            product, package.lot, package.serial, scanned.event.at,
            product.container_volume_ml, expiry=package.expiry, by=self.technician,
            station_id=self.hood.service.station_id, iso5=True, drawn_ml=volume,
            drawn_at=attempt.event.at, preparation_id=self.preparation_id,
            draw_step=step.number)
        sticker = Sticker(vial_code(vial.key), (f"OPENED VIAL {vial.key}", f"LOT {vial.lot}"))
        self.shift.kept[product.ndc.key] = _KeptVial(vial, replace(package, sticker=sticker))

    def kept_vial(self, step: Step) -> _KeptVial | None:
        """The opened vial of the step's product to draw from, if one is usable for the draw."""
        product = step.product
        assert product is not None
        kept = self.shift.kept.get(product.ndc.key)
        draw = next((s for s in self.current.recipe.steps if s.number > step.number
                     and s.check is MassCheck.DOSE and s.product == product), None)
        if kept is None or draw is None or draw.expected_mass is None:
            return None
        needed = draw.expected_mass / product.specific_gravity.value
        vial = self.shift.vials.get(kept.vial.key)
        if vial is None or check(vial, self.sim.now) is not None or (
                vial.remaining_ml < needed * Decimal("1.1") + 1):
            return None
        kept.vial = vial
        return kept

    def scan(self, step: Step) -> Event:
        assert step.product is not None
        self.wait(10, 35)
        product = step.product
        if self.incident == _WRONG_PRODUCT and product.role is ProductRole.DRUG:
            product = self.look_alike(product)
        kept = self.kept_vial(step) if product is step.product else None
        if kept is not None:
            self.in_hand[step.number] = kept.package
            self.from_vial[step.number] = kept
            identity = parse_scan(replace(kept.package, datamatrix=True).scan_text(),
                                  self.sim.now.year)
            return ProductScanned(self.technician, self.at(), identity, product,
                                  lot_source=LotSource.OPENED_VIAL,
                                  opened_vial=kept.vial.in_use)
        package = self.shift.stock.package(product)
        if product is step.product:
            self.in_hand[step.number] = package
        else:
            # The wrong bin's package is shown with its DataMatrix: the record then holds a
            # refused lot, which a search by lot must not count as used.
            package = replace(package, datamatrix=True)
        identity = parse_scan(package.scan_text(), self.sim.now.year)
        try:
            resolved: Product | None = self.shift.formulary.resolve(identity)
            problem = None
        except StationError as error:
            resolved, problem = None, str(error)
        source = None
        if resolved is not None and resolved.ndc in step.expects and identity.lot is None:
            # only the UPC-A: the lot and expiry read from the print, or typed twice
            self.wait(8, 30)
            identity = replace(identity, lot=Lot(package.lot),
                               expiry=Expiry(package.expiry, raw=package.expiry.isoformat()))
            source = (LotSource.PRINTED_TEXT if self.rng.random() < PRINTED_READ_SHARE
                      else LotSource.TYPED)
        return ProductScanned(self.technician, self.at(), identity, resolved, problem,
                              lot_source=source)

    def look_alike(self, product: Product) -> Product:
        """The product in the bin next to it: same drug name first, else the same role."""
        others = [p for p in self.shift.formulary
                  if p.role is product.role and p.ndc != product.ndc]
        first = product.name.split()[0].casefold()
        alike = [p for p in others if p.name.split()[0].casefold() == first]
        return self.rng.choice(alike or others)

    def net_step(self, tare: int) -> Step:
        return next(s for s in self.current.recipe.steps
                    if s.kind is StepKind.WEIGH_NET and s.reference == tare)

    def tare_item(self, step: Step) -> Decimal:
        """The true mass of what goes on the pan first: a bag, a powder vial or a syringe."""
        net = self.net_step(step.number)
        rng = self.rng
        if net.check is MassCheck.FINAL:
            assert net.product is not None
            fill = net.product.container_volume_ml * net.product.specific_gravity.value
            plastic = 7 + Decimal("0.035") * net.product.container_volume_ml
            return (fill * _grams(rng.uniform(1.03, 1.07)) + plastic
                    + _grams(rng.gauss(0, 0.4)))
        if net.check is MassCheck.DILUENT:
            product = step.product
            assert product is not None and net.expected_mass is not None
            solution = product.container_volume_ml * product.specific_gravity.value
            powder = max(Decimal("0.05"), solution - net.expected_mass)
            glass = Decimal("4.5") + Decimal("0.85") * product.container_volume_ml
            return glass + powder + _grams(rng.gauss(0, 0.15))
        assert net.product is not None and net.expected_mass is not None
        volume = net.expected_mass / net.product.specific_gravity.value
        size, empty = next(((size, mass) for size, mass in _SYRINGES if size >= volume),
                           _SYRINGES[-1])
        self.sizes[net.number] = size
        return empty + _grams(rng.gauss(0, 0.05))

    def net_load(self, step: Step) -> Decimal:
        """The true mass on the pan for a net weighing, and what was drawn or added."""
        assert step.reference is not None
        if step.check is MassCheck.FINAL:
            self.wait(8, 20)
            return self.bag
        if step.check is MassCheck.DELIVERED:
            self.wait(5, 15)
            draw = self.current.recipe.step(step.reference)
            assert draw.reference is not None
            return self.items[draw.reference] + self.residual.get(draw.number, Decimal(0))
        assert step.product is not None
        if step.check is MassCheck.DOSE:
            self.wait(40, 120)
            dose = step.checked_dose
            assert dose is not None
            volume = expected_volume(dose, drawn_concentration(self.current, step))
            expected = volume * step.product.specific_gravity.value
            if self.incident == _BAD_DRAW:
                off = self.rng.uniform(0.08, 0.14) * self.rng.choice((-1, 1))
            else:
                off = max(-0.02, min(0.02, self.rng.gauss(0, 0.006)))
            liquid = expected * (1 + _grams(off))
            self.drawn[step.number] = liquid
        else:
            self.wait(60, 150)  # add the diluent and swirl until dissolved
            assert step.expected_mass is not None
            liquid = step.expected_mass * (
                1 + _grams(max(-0.025, min(0.025, self.rng.gauss(0, 0.008)))))
        return self.items[step.reference] + liquid

    def weigh(self, load: Decimal) -> WeightRead:
        """Put ``load`` grams on the pan and take the first stable reading."""
        pan = self.hood.pan
        pan.set_load(load.quantize(Decimal("0.0001")))
        self.wait(1.0, 2.5)
        for _ in range(600):
            shown = pan.reading()
            if shown.stable:
                break
            self.sim.advance(0.2)
        else:
            raise SeedError(f"{self.preparation_id}: the simulated balance never settled")
        value = shown.value
        return WeightRead(self.technician, self.at(), Mass(value), self.hood.balance_id,
                          BALANCE_SPEC, raw=f"S S {value:>10} g")

    def photo(self, step: Step) -> PhotoTaken:
        packages = self.in_view(step)
        sha256 = self.shift.camera.photograph(packages, step,
                                              self.hood.service.station_id)
        return PhotoTaken(self.technician, self.at(), sha256)

    def in_view(self, step: Step) -> tuple[_Package, ...]:
        """What the camera sees at a step: the container the step is about."""
        if step.kind is StepKind.SCAN:
            return (self.in_hand[step.number],)
        earlier = [self.in_hand[n] for n in sorted(self.in_hand) if n <= step.number]
        drugs = [p for p in earlier if p.product.role is ProductRole.DRUG]
        bags = [p for p in earlier if p.product.role is ProductRole.BASE]
        if step.kind is StepKind.WEIGH_NET and step.check is not MassCheck.FINAL:
            same = [p for p in drugs if step.product is not None
                    and p.product.ndc == step.product.ndc]
            return (same[-1] if same else drugs[-1],)
        if step.kind is StepKind.WEIGH_NET or not drugs:
            return (bags[-1],) if bags else (drugs[-1],)
        return (bags[-1], drugs[0]) if bags else (drugs[0],)


def simulated_balance(clock: Callable[[], float], rng: random.Random) -> SimulatedPan:
    """The balance the seeder weighs on, on the seeder's clock (seconds).

    A 1,220 g × 1 mg precision balance in a laminar-flow hood: repeatability 0.4 mg, airflow
    0.3 mg, a little drift, stable after about a second of steady readings.
    """
    model = BalanceModel(
        capacity=BALANCE_CAPACITY,
        readability=BALANCE_READABILITY,
        settle_time_constant=0.6,
        stability_window=1.0,
        noise_sd=0.0004,
        drift_per_hour=0.002,
        airflow_sd=0.0003,
        airflow_time_constant=3.0,
    )
    return Balance(model, clock=clock, rng=rng)
