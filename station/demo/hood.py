r"""The simulated physical world at a hood: a balance pan, a camera, a shelf of packages.

In demo mode and in end-to-end tests nobody stands at a real hood. :class:`DemoHood` does
with its hands what a technician would: puts an empty syringe, a powder vial or a bag on the
pan, holds a package under the camera, scans the printed label with the handheld — the right
thing for what the station asks next (:meth:`DemoHood.perform`), or a deliberate
:class:`Mistake`. It touches the simulated devices only where a person touches real ones (the
load on the pan, what is in front of the camera, the balance's cable), so the station reads
them through its real driver, decoder and photo check.

Runtime code never imports a simulator, so the balance comes in as two small protocols: a
:class:`Pan` (``set_load``) and a :class:`BalancePlug` (``unplug``/``replug``); a simulator
server that speaks ``inject("unplug")``/``replug()`` becomes a plug with
:class:`SimulatorPlug`.

Every package on the shelf is deterministic from ``seed``: per product a lot, an expiry one
to two years after ``today`` and a run of serial numbers (each package scanned at a step is a
new one); an empty syringe weighs 5–20 g by its size, a powder vial 15–40 g by its size, a
bag its volume × specific gravity plus about 20 g of plastic.

>>> from station.demo.camera import SimulatedCamera
>>> from station.demo.camera_scene import Scene
>>> from station.config.catalog_files import load_formulary
>>> class Pan:
...     def set_load(self, grams): self.grams = grams
>>> class Plug:
...     def unplug(self): pass
...     def replug(self): pass
>>> formulary = load_formulary()
>>> hood = DemoHood(Pan(), Plug(), SimulatedCamera(Scene(), size=(320, 180)), formulary,
...                 today=dt.date(2026, 11, 26), seed=1)
>>> water = formulary.by_ndc_text("63323-185-10")
>>> hood.handheld_text(water, lot="L1", expiry=dt.date(2028, 1, 31), serial="7")
']d201003633231851071728013110L1\x1d217'
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum
from typing import Protocol

from station.core.errors import StationError
from station.core.formulary import Formulary, Product, ProductRole
from station.core.recipe import MassCheck, Recipe, Step, StepKind
from station.core.scan import parse_scan
from station.core.workflow import Preparation
from station.demo.camera_scene import Label, Scene
from station.services.hood import HoodView, NextAction

#: How blurred the camera is for :attr:`Mistake.BLURRY` (Gaussian sigma in pixels; the
#: photo check refuses from about 2 px, see :mod:`station.devices.photos`).
HEAVY_BLUR = 12.0
#: How far a wrong draw is off: this many tolerance half-bands from the expected reading.
DOSE_ERROR_BANDS = 3
#: The nominal mass of the default check weight (an OIML class F1 100 g weight).
DEFAULT_CHECK_WEIGHT = Decimal("100.000")
#: How long before ``today`` the expired lot of :attr:`Mistake.EXPIRED_LOT` expired.
EXPIRED_AGO = dt.timedelta(days=45)
#: Syringe sizes (mL) and the mass of an empty one with cap and needle (g).
SYRINGES: tuple[tuple[Decimal, Decimal], ...] = (
    (Decimal(1), Decimal("5.0")), (Decimal(3), Decimal("6.0")), (Decimal(5), Decimal("7.0")),
    (Decimal(10), Decimal("9.5")), (Decimal(20), Decimal("13.0")),
    (Decimal(30), Decimal("16.0")), (Decimal(60), Decimal("20.0")),
)
_GRAMS = Decimal("0.0001")  # masses are kept finer than any balance shows
_AIM_DATAMATRIX = "]d2"


class Pan(Protocol):
    """A balance pan: what is on it, in grams."""

    def set_load(self, grams: Decimal) -> None:
        """Make the load on the pan this mass."""
        ...


class BalancePlug(Protocol):
    """The balance's cable."""

    def unplug(self) -> None:
        """Pull it out."""
        ...

    def replug(self) -> None:
        """Plug it back in."""
        ...


class FaultInjector(Protocol):
    """A simulator that starts faults by name and can be plugged back in."""

    def inject(self, fault: str) -> None:
        """Start a fault now."""
        ...

    def replug(self) -> None:
        """Plug back in."""
        ...


class Camera(Protocol):
    """What the camera looks at."""

    def show(self, scene: Scene) -> None:
        """Put this scene in front of the camera."""
        ...


class Worksheet(Protocol):
    """What the hands need to know of a preparation: its id, its recipe, the step now.

    A :class:`~station.core.workflow.Preparation` is one; so is a technician's own copy
    worked out from the order.
    """

    @property
    def preparation_id(self) -> str:
        """The preparation's id, printed on its label."""
        ...

    @property
    def recipe(self) -> Recipe:
        """The steps that make the order."""
        ...

    @property
    def step(self) -> Step | None:
        """The step to do now, if any."""
        ...


class SimulatorPlug:
    """A :class:`BalancePlug` over a simulator server: unplug is its ``unplug`` fault."""

    def __init__(self, simulator: FaultInjector) -> None:
        self._simulator = simulator

    def unplug(self) -> None:
        """Pull the cable: the driver's next read or write fails."""
        self._simulator.inject("unplug")

    def replug(self) -> None:
        """Plug back in."""
        self._simulator.replug()


class Mistake(Enum):
    """A wrong thing to do on purpose, to see the station stop it."""

    WRONG_PRODUCT = "show a package of another drug"
    EXPIRED_LOT = "show the right product from an expired lot"
    DOSE_HIGH = "draw too much"
    DOSE_LOW = "draw too little"
    BLURRY = "defocus the camera"


@dataclass(frozen=True)
class Package:
    """One package on the shelf: a product with its lot, expiry and serial number."""

    product: Product
    lot: str
    expiry: dt.date
    serial: str
    linear_gtin: str | None = None
    """A misprint: the UPC-A carries this GTIN instead of the DataMatrix's."""

    @property
    def label(self) -> Label:
        """The package's printed label, barcodes included."""
        product = self.product
        gtin = product.gtin if product.gtin is not None else product.ndc.gtin()
        label = Label.for_product(product, lot=self.lot, expiry=self.expiry,
                                  serial=self.serial,
                                  linear=gtin is not None and gtin.upc_a is not None)
        return label if self.linear_gtin is None else replace(
            label, linear_gtin_override=self.linear_gtin)

    @property
    def handheld_text(self) -> str:
        """What a handheld scanner sends for the label's GS1 DataMatrix (AIM ``]d2``)."""
        data = self.label.gs1_data
        assert data is not None
        return _AIM_DATAMATRIX + data

    @property
    def words(self) -> str:
        """'Ceftriaxone 1 g, lot L123456, exp 2028-03-31'."""
        return (f"{self.product.name} {self.product.strength}, lot {self.lot}, "
                f"exp {self.expiry.isoformat()}")


@dataclass(frozen=True)
class OperatorMove:
    """What the technician does at the keys for a step: scan a text, press Enter, or wait."""

    scan: str | None = None
    enter: bool = False


def progress_marker(view: HoodView | None, prep: Preparation | None) -> tuple[object, ...]:
    """What changes whenever the preparation moves on (a step, an attempt or a photo)."""
    if view is None or prep is None:
        return (None,)
    attempts = sum(len(r.attempts) + len(r.photos) for r in prep.records)
    return (view.phase, view.step_number, view.next_action, attempts)


@dataclass(frozen=True)
class DemoState:
    """What is on the pan and in front of the camera now, in grams and in words."""

    pan_grams: Decimal
    on_pan: str
    in_view: str
    blur: float
    balance_plugged: bool


@dataclass(frozen=True)
class _Act:
    """One physical act: what goes on the pan, in front of the camera, or to the handheld."""

    words: str
    load: Decimal | None = None
    on_pan: str = ""
    packages: tuple[Package, ...] | None = None
    blur: float = 0.0
    handheld: str | None = None


class DemoHood:
    """A technician's hands at a simulated hood; every method is thread-safe.

    ``check_weight`` is the nominal mass (g) of the balance's daily check weight.
    """

    def __init__(
        self,
        pan: Pan,
        plug: BalancePlug,
        camera: Camera,
        formulary: Formulary,
        *,
        today: dt.date,
        seed: int = 0,
        check_weight: Decimal = DEFAULT_CHECK_WEIGHT,
    ) -> None:
        if check_weight <= 0:
            raise ValueError(f"a check weight must be above 0 g, got {check_weight}")
        self._pan = pan
        self._plug = plug
        self._camera = camera
        self.formulary = formulary
        self.today = today
        self.seed = seed
        self.check_weight = check_weight
        self._lock = threading.RLock()
        self._shelf = _Shelf(formulary, today, seed)
        self._in_hand: dict[str, Package] = {}  # per NDC key: the package scanned last
        self._state = DemoState(Decimal(0), "nothing", "nothing", 0.0, True)

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> DemoState:
        """What this hood last put on the pan and in front of the camera."""
        with self._lock:
            return self._state

    def package(self, product: Product) -> Package:
        """The package of ``product`` in hand: the one scanned last, else a fresh one."""
        with self._lock:
            return self._in_hand.get(product.ndc.key) or self._shelf.peek(product)

    def syringe(self, volume_ml: Decimal) -> tuple[Decimal, Decimal]:
        """The syringe a draw of ``volume_ml`` is made with: its size (mL), empty mass (g)."""
        with self._lock:
            return self._shelf.syringe(volume_ml)

    def vial_mass(self, product: Product) -> Decimal:
        """A vial of ``product`` before its diluent (g): glass, stopper, crimp and powder."""
        with self._lock:
            return self._shelf.vial_mass(product)

    def bag_mass(self, product: Product) -> Decimal:
        """A full bag of ``product`` (g): its volume × specific gravity plus its plastic."""
        with self._lock:
            return self._shelf.bag_mass(product)

    # ------------------------------------------------------------------ physical acts

    def show(self, product: Product | None, *, lot: str | None = None,
             expiry: dt.date | None = None, serial: str | None = None,
             blur: float = 0.0, linear_gtin: str | None = None) -> None:
        """Hold a package of ``product`` under the camera (None: an empty hood).

        Lot, expiry and serial default to those of the package in hand; ``linear_gtin``
        misprints the label's UPC-A with another GTIN.
        """
        if product is None:
            self.show_nothing()
            return
        with self._lock:
            package = _replace_package(self.package(product), lot, expiry, serial)
            self._show((replace(package, linear_gtin=linear_gtin),), blur)

    def other_drug(self, product: Product) -> Product | None:
        """A package from the bin next door: another drug, in the same role if any."""
        with self._lock:
            return self._shelf.other_drug(product)

    def other_strength(self, product: Product) -> Product | None:
        """The same drug in another strength, if the formulary has one the scanner resolves."""
        with self._lock:
            return self._shelf.other_strength(product)

    def expired_package(self, product: Product) -> Package:
        """A package of ``product`` from an older lot that expired ``EXPIRED_AGO`` ago."""
        with self._lock:
            return self._shelf.expired(product)

    def show_nothing(self) -> None:
        """Take everything out of the camera's view."""
        with self._lock:
            self._show((), 0.0)

    def place(self, grams: Decimal, what: str = "") -> None:
        """Make the load on the pan ``grams`` (whatever was on it is taken off)."""
        if grams < 0:
            raise ValueError(f"nothing weighs less than nothing: {grams} g")
        with self._lock:
            load = grams.quantize(_GRAMS)
            self._pan.set_load(load)
            self._state = replace(self._state, pan_grams=load,
                                  on_pan=what or f"{load.normalize():f} g")

    def empty_pan(self) -> None:
        """Take everything off the pan."""
        with self._lock:
            self._pan.set_load(Decimal(0))
            self._state = replace(self._state, pan_grams=Decimal(0), on_pan="nothing")

    def unplug_balance(self) -> None:
        """Pull the balance's cable."""
        with self._lock:
            self._plug.unplug()
            self._state = replace(self._state, balance_plugged=False)

    def replug_balance(self) -> None:
        """Plug the balance back in."""
        with self._lock:
            self._plug.replug()
            self._state = replace(self._state, balance_plugged=True)

    def handheld_text(self, product: Product, *, lot: str | None = None,
                      expiry: dt.date | None = None, serial: str | None = None) -> str:
        """What the handheld sends for a package of ``product``: the camera label's DataMatrix.

        Lot, expiry and serial default to those of the package in hand.
        """
        with self._lock:
            return _replace_package(self.package(product), lot, expiry, serial).handheld_text

    # ------------------------------------------------------------------ acting out a step

    def mistakes_for(self, view: HoodView, prep: Worksheet | None) -> frozenset[Mistake]:
        """The mistakes that can be made at what ``view`` asks next."""
        step = prep.step if prep is not None else None
        action = view.next_action
        if step is None:
            return frozenset()
        if action is NextAction.SCAN and step.product is not None:
            with self._lock:
                other = self._shelf.other_drug(step.product)
            found = {Mistake.EXPIRED_LOT, Mistake.BLURRY}
            return frozenset(found | ({Mistake.WRONG_PRODUCT} if other is not None else set()))
        if action is NextAction.PHOTO:
            return frozenset({Mistake.BLURRY})
        if action is NextAction.WEIGH and view.expected_reading is not None and (
                view.band_high is not None):
            return frozenset({Mistake.DOSE_HIGH, Mistake.DOSE_LOW})
        return frozenset()

    def describe(self, view: HoodView, prep: Worksheet | None,
                 mistake: Mistake | None = None) -> str:
        """What :meth:`perform` would do, in words ("" when nothing is physical)."""
        with self._lock:
            return self._plan(view, prep, mistake).words

    def next_move(self, view: HoodView, prep: Worksheet | None,
                  mistake: Mistake | None = None) -> OperatorMove:
        """Do the physical part of the next step and say what the technician then does.

        After a hard stop the wrong package goes back first and Enter redoes the step; a
        label step is a handheld scan; a manual step or the last photograph is Enter.
        """
        if view.next_action in {NextAction.RETRY, NextAction.RETRY_OR_OVERRIDE}:
            self.show_nothing()
            return OperatorMove(enter=True)
        text = self.perform(view, prep, mistake)
        if text is not None:
            return OperatorMove(scan=text)
        step = prep.step if prep is not None else None
        enter = view.next_action is NextAction.CONFIRM or (
            view.next_action is NextAction.PHOTO and step is not None
            and step.kind is StepKind.PHOTO)
        return OperatorMove(enter=enter)

    def perform(self, view: HoodView, prep: Worksheet | None,
                mistake: Mistake | None = None) -> str | None:
        """Act out, physically, what ``view`` asks next, right or with ``mistake``.

        Returns what the handheld scanner sends when the technician scans with it (the
        printed label's barcode: the preparation id), else None. A scan step shows the
        package to the camera, which reads it. Raises ValueError for a mistake that cannot
        be made at this step (see :meth:`mistakes_for`).
        """
        with self._lock:
            act = self._plan(view, prep, mistake)
            if act.load is not None:
                self.place(act.load, act.on_pan)
            if act.packages is not None:
                for package in act.packages:
                    if package.expiry >= self.today and mistake is not Mistake.WRONG_PRODUCT:
                        self._in_hand[package.product.ndc.key] = package
                        self._shelf.take(package)
                self._show(act.packages, act.blur)
            return act.handheld

    def _show(self, packages: tuple[Package, ...], blur: float) -> None:
        self._camera.show(Scene(labels=tuple(p.label for p in packages), blur=blur))
        in_view = "; ".join(p.words for p in packages) or "nothing"
        self._state = replace(self._state, in_view=in_view, blur=blur)

    # ------------------------------------------------------------------ planning

    def _plan(self, view: HoodView, prep: Worksheet | None,
              mistake: Mistake | None) -> _Act:
        if mistake is not None and mistake not in self.mistakes_for(view, prep):
            raise ValueError(f"cannot {mistake.value} when the station asks to "
                             f"{view.next_action.value}")
        action = view.next_action
        if action in (NextAction.WEIGH, NextAction.BALANCE_CHECK):
            return self._plan_pan(view, prep, mistake)
        step = prep.step if prep is not None else None
        if prep is None or step is None:
            return _Act("")
        if action is NextAction.SCAN:
            return self._plan_scan(step, mistake)
        if action is NextAction.PHOTO:
            return self._plan_photo(prep, step, mistake)
        if action is NextAction.SCAN_LABEL:
            return _Act("scan the printed label with the handheld",
                        handheld=prep.preparation_id)
        return _Act("")

    def _plan_pan(self, view: HoodView, prep: Worksheet | None,
                  mistake: Mistake | None) -> _Act:
        if view.next_action is NextAction.BALANCE_CHECK:
            weight = self.check_weight
            return _Act(f"put the {weight.normalize():f} g check weight on the pan", weight,
                        f"the {weight.normalize():f} g check weight")
        step = prep.step if prep is not None else None
        if prep is None or step is None:
            return _Act("")
        act = (_plan_net(view, step, mistake) if view.expected_reading is not None
               else self._plan_tare(prep, step))
        return replace(act, packages=self._subject(prep, step))  # what the hands hold

    def _plan_scan(self, step: Step, mistake: Mistake | None) -> _Act:
        product = step.product
        assert product is not None
        if mistake is Mistake.WRONG_PRODUCT:
            other = self._shelf.other_drug(product)
            assert other is not None
            package = self._shelf.peek(other)
            return _Act(f"show the camera the wrong package: {package.words}",
                        packages=(package,))
        package = self._shelf.peek(product)
        if mistake is Mistake.EXPIRED_LOT:
            package = self._shelf.expired(product)
            return _Act(f"show the camera an expired package: {package.words}",
                        packages=(package,))
        if mistake is Mistake.BLURRY:
            return _Act(f"show the camera {package.words}, out of focus",
                        packages=(package,), blur=HEAVY_BLUR)
        return _Act(f"show the camera {package.words}", packages=(package,))

    def _plan_photo(self, prep: Worksheet, step: Step, mistake: Mistake | None) -> _Act:
        packages = self._subject(prep, step)
        blur = HEAVY_BLUR if mistake is Mistake.BLURRY else 0.0
        what = " and ".join(f"{p.product.name} {p.product.strength}" for p in packages)
        words = (f"hold {what} under the camera" if packages
                 else "clear the camera's view")
        return _Act(words + (", out of focus" if blur else ", sharp"), packages=packages,
                    blur=blur)

    def _subject(self, prep: Worksheet, step: Step) -> tuple[Package, ...]:
        """What the camera sees at ``step``: the package in hand, or the finished bag."""
        product = step.product
        if step.check is MassCheck.DILUENT and step.reference is not None:
            product = prep.recipe.step(step.reference).product  # the vial being mixed
        if product is not None and step.check is not MassCheck.FINAL:
            return (self.package(product),)
        scanned = [s.product for s in prep.recipe.steps
                   if s.kind is StepKind.SCAN and s.product is not None]
        bags = [p for p in scanned if p.role is ProductRole.BASE]
        drugs = [p for p in scanned if p.role is ProductRole.DRUG]
        chosen = [*bags[:1], *drugs[:1]] if bags else drugs[:1]
        return tuple(self.package(p) for p in chosen)

    def _plan_tare(self, prep: Worksheet, step: Step) -> _Act:
        net = next((s for s in prep.recipe.steps
                    if s.kind is StepKind.WEIGH_NET and s.reference == step.number), None)
        product = step.product
        assert product is not None
        if (net is not None and net.check is MassCheck.FINAL) or (
                product.role is ProductRole.BASE):
            mass = self._shelf.bag_mass(product)
            what = f"the {product.name} {product.strength} bag"
        elif net is not None and net.check is MassCheck.DILUENT:
            mass = self._shelf.vial_mass(product)
            what = f"the {product.name} {product.strength} vial"
        else:
            volume = Decimal(10)
            if net is not None and net.expected_mass is not None and net.product is not None:
                volume = net.expected_mass / net.product.specific_gravity.value
            size, mass = self._shelf.syringe(volume)
            what = f"an empty {size} mL syringe"
        return _Act(f"put {what} ({mass.quantize(Decimal('0.001'))} g) on the pan", mass, what)


def _plan_net(view: HoodView, step: Step, mistake: Mistake | None) -> _Act:
    expected = view.expected_reading
    assert expected is not None
    what = {MassCheck.DOSE: "the filled syringe", MassCheck.DILUENT: "the vial with its diluent",
            MassCheck.FINAL: "the filled bag"}.get(step.check or MassCheck.DOSE, "it")
    if mistake in (Mistake.DOSE_HIGH, Mistake.DOSE_LOW):
        assert view.band_high is not None
        off = DOSE_ERROR_BANDS * (view.band_high - expected)
        sign = 1 if mistake is Mistake.DOSE_HIGH else -1
        load = expected + sign * off
        words = "too much" if sign > 0 else "too little"
        return _Act(f"put {what} with {words} in it ({load.quantize(Decimal('0.001'))} g) "
                    "on the pan", load, f"{what} ({words})")
    return _Act(f"put {what} ({expected.quantize(Decimal('0.001'))} g) on the pan",
                expected, what)


class _Shelf:
    """The stock: deterministic lots, expiries, serials and container masses per product."""

    def __init__(self, formulary: Formulary, today: dt.date, seed: int) -> None:
        self._formulary = formulary
        self._today = today
        self._seed = seed
        self._next_serial: dict[str, int] = {}
        self._other: dict[str, Product | None] = {}

    def _rng(self, *parts: object) -> random.Random:
        return random.Random("/".join(str(p) for p in (self._seed, *parts)))

    def _lot(self, product: Product) -> tuple[str, dt.date]:
        rng = self._rng("lot", product.ndc.key)
        lot = f"L{rng.randrange(100_000, 1_000_000)}"
        return lot, self._today + dt.timedelta(days=rng.randrange(365, 731))

    def peek(self, product: Product) -> Package:
        """The next new package of ``product`` (not yet taken off the shelf)."""
        key = product.ndc.key
        if key not in self._next_serial:
            self._next_serial[key] = self._rng("serial", key).randrange(10_000, 90_000) * 100
        lot, expiry = self._lot(product)
        return Package(product, lot, expiry, f"SN{self._next_serial[key]}")

    def take(self, package: Package) -> None:
        """Take ``package`` off the shelf: the next one has the following serial."""
        key = package.product.ndc.key
        if package.serial == f"SN{self._next_serial.get(key)}":
            self._next_serial[key] += 1

    def expired(self, product: Product) -> Package:
        """A package of ``product`` from an older lot that expired ``EXPIRED_AGO`` ago."""
        rng = self._rng("expired", product.ndc.key)
        return Package(product, f"L{rng.randrange(100_000, 1_000_000)}",
                       self._today - EXPIRED_AGO, f"SN{rng.randrange(1_000, 10_000)}")

    def other_drug(self, product: Product) -> Product | None:
        """A package from the bin next door: another drug (by name), same role if any."""
        key = product.ndc.key
        if key not in self._other:
            first = product.name.split()[0].casefold()
            others = [p for p in self._formulary
                      if p.name.split()[0].casefold() != first and self._resolves(p)]
            pool = [p for p in others if p.role is product.role] or others
            self._other[key] = pool[self._rng("other", key).randrange(len(pool))] if pool else None
        return self._other[key]

    def other_strength(self, product: Product) -> Product | None:
        """The same drug (by name) in another strength, the first by NDC."""
        name = product.name.casefold()
        return next((p for p in sorted(self._formulary, key=lambda p: p.ndc.key)
                     if p.name.casefold() == name and p.strength != product.strength
                     and self._resolves(p)), None)

    def _resolves(self, product: Product) -> bool:
        text = self.peek(product).handheld_text
        try:
            return self._formulary.resolve(parse_scan(text, self._today.year)) == product
        except StationError:
            return False

    def syringe(self, volume_ml: Decimal) -> tuple[Decimal, Decimal]:
        """The smallest syringe that holds ``volume_ml``: its size (mL) and empty mass (g)."""
        size, mass = next(((s, m) for s, m in SYRINGES if s >= volume_ml), SYRINGES[-1])
        jitter = Decimal(self._rng("syringe", size).uniform(-0.25, 0.25))
        return size, (mass + jitter).quantize(_GRAMS)

    def vial_mass(self, product: Product) -> Decimal:
        """A vial of ``product`` before diluent: glass, stopper, crimp and powder, 15–40 g."""
        glass = min(Decimal(40), max(Decimal(15), 12 + product.container_volume_ml))
        jitter = Decimal(self._rng("vial", product.ndc.key).uniform(-0.5, 0.5))
        return min(Decimal(40), max(Decimal(15), glass + jitter)).quantize(_GRAMS)

    def bag_mass(self, product: Product) -> Decimal:
        """A full bag of ``product``: its volume × specific gravity plus about 20 g of plastic."""
        fill = product.container_volume_ml * product.specific_gravity.value
        plastic = Decimal(20) + Decimal(self._rng("bag", product.ndc.key).uniform(-2, 2))
        return (fill + plastic).quantize(_GRAMS)


def _replace_package(package: Package, lot: str | None, expiry: dt.date | None,
                     serial: str | None) -> Package:
    return Package(package.product, lot if lot is not None else package.lot,
                   expiry if expiry is not None else package.expiry,
                   serial if serial is not None else package.serial)


