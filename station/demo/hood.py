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
bag its volume × specific gravity plus about 20 g of plastic. A seeded share of the products
(:data:`LINEAR_ONLY_SHARE`) comes in packages whose only barcode is the UPC-A of the NDC: the
lot and expiry are printed on the label, and when the station asks for them
(:attr:`~station.services.hood.NextAction.IDENTIFY_LOT`) the hands read the label in hand as a
person does — Enter when the lot and expiry the station read from the print are the package's,
else both typed twice.

A syringe keeps its dead space when emptied (:data:`SYRINGES`): the emptied syringe weighs its
empty mass plus that residual, and the bag receives what was drawn less it. A multiple-dose
vial is kept after its first draw when the station offers it; later draws of the product come
from that vial, scanned by the station's sticker on it, while it holds enough.

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
>>> hood.linear_only(water)
True
>>> hood.handheld_text(water, lot="L1", expiry=dt.date(2028, 1, 31), serial="7")
']E0363323185107'
>>> replace(hood.package(water), datamatrix=True, lot="L1", expiry=dt.date(2028, 1, 31),
...         serial="7").handheld_text
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
from station.core.formulary import Container, Formulary, Product, ProductRole
from station.core.opened_vials import vial_code
from station.core.recipe import MassCheck, Recipe, Step, StepKind
from station.core.scan import parse_scan
from station.core.workflow import Preparation
from station.demo.camera_scene import Label, Scene, Sticker
from station.services.hood import HoodView, NextAction, PendingLot

#: How blurred the camera is for :attr:`Mistake.BLURRY` (Gaussian sigma in pixels; the
#: photo check refuses from about 2 px, see :mod:`station.devices.photos`).
HEAVY_BLUR = 12.0
#: How far a wrong draw is off: this many tolerance half-bands from the expected reading.
DOSE_ERROR_BANDS = 3
#: The nominal mass of the default check weight (an OIML class F1 100 g weight).
DEFAULT_CHECK_WEIGHT = Decimal("100.000")
#: How long before ``today`` the expired lot of :attr:`Mistake.EXPIRED_LOT` expired.
EXPIRED_AGO = dt.timedelta(days=45)
#: Syringe sizes (mL), the mass of an empty one with cap and needle (g), and its dead space:
#: what stays in the hub and needle once the plunger is pushed home (mL). The dead spaces are
#: assumed simulation values: a low-dead-space 1 mL syringe, then standard Luer syringes with
#: a 21 G needle. They sit inside what was measured on common brands ("Variation in syringes
#: and needles dead space compared to ISO 7886-1:2018": 1 and 2.5 mL syringes under 0.07 mL,
#: 5 and 10 mL near the ISO limits of 0.075 and 0.1 mL, 20–60 mL under 0.2 mL; a 21–23 G
#: needle about 0.05 mL more), at the low end, as a pharmacy chooses its syringes.
SYRINGES: tuple[tuple[Decimal, Decimal, Decimal], ...] = (
    (Decimal(1), Decimal("5.0"), Decimal("0.015")),
    (Decimal(3), Decimal("6.0"), Decimal("0.070")),
    (Decimal(5), Decimal("7.0"), Decimal("0.075")),
    (Decimal(10), Decimal("9.5"), Decimal("0.090")),
    (Decimal(20), Decimal("13.0"), Decimal("0.120")),
    (Decimal(30), Decimal("16.0"), Decimal("0.140")),
    (Decimal(60), Decimal("20.0"), Decimal("0.160")),
)
#: The share of products (seeded, among those whose NDC has a UPC-A form) whose packages carry
#: only the linear UPC-A: no DataMatrix, the lot and expiry printed only as text.
LINEAR_ONLY_SHARE = 0.3
#: A load this close to what is on the pan (g) is put on only after the pan was emptied.
LIFT_BELOW = Decimal("0.5")
#: How long a kept multiple-dose vial is used, at most (USP <797>: 28 days after first
#: puncture unless its labeling says less; the station's sticker gives the exact time).
KEPT_VIAL_DAYS = 28
_GRAMS = Decimal("0.0001")  # masses are kept finer than any balance shows
_AIM_DATAMATRIX = "]d2"
_AIM_PLAIN_DATAMATRIX = "]d1"
_AIM_UPC_A = "]E0"


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
    """One package on the shelf: a product with its lot, expiry and serial.

    ``datamatrix`` False is a package whose only barcode is the UPC-A of its NDC (the lot
    and expiry are printed as text only); ``sticker`` is the station's opened-vial sticker on
    a vial kept after its first puncture.
    """

    product: Product
    lot: str
    expiry: dt.date
    serial: str
    linear_gtin: str | None = None
    """A misprint: the UPC-A carries this GTIN instead of the DataMatrix's."""
    datamatrix: bool = True
    sticker: Sticker | None = None

    @property
    def label(self) -> Label:
        """The package's printed label, barcodes included."""
        product = self.product
        label = Label.for_product(product, lot=self.lot, expiry=self.expiry,
                                  serial=self.serial, linear=_upc(product) or not self.datamatrix,
                                  datamatrix=self.datamatrix)
        if self.sticker is not None:
            label = replace(label, sticker=self.sticker)
        return label if self.linear_gtin is None else replace(
            label, linear_gtin_override=self.linear_gtin)

    @property
    def handheld_text(self) -> str:
        """What a handheld scanner sends when it reads the package.

        The station's sticker on an opened vial (AIM ``]d1``), else the GS1 DataMatrix (AIM
        ``]d2``), else the UPC-A (AIM ``]E0``).
        """
        if self.sticker is not None:
            return _AIM_PLAIN_DATAMATRIX + self.sticker.payload
        label = self.label
        if self.datamatrix:
            data = label.gs1_data
            assert data is not None
            return _AIM_DATAMATRIX + data
        upc = label.upc_a
        assert upc is not None
        return _AIM_UPC_A + upc

    @property
    def words(self) -> str:
        """'Ceftriaxone 1 g, lot L123456, exp 2028-03-31'."""
        words = (f"{self.product.name} {self.product.strength}, lot {self.lot}, "
                 f"exp {self.expiry.isoformat()}")
        if self.sticker is not None:
            return f"{words} (opened vial {self.sticker.payload})"
        return words if self.datamatrix else f"{words} (UPC-A only)"


@dataclass(frozen=True)
class KeptVial:
    """A vial the hands kept after its first draw: its id, the vial, what is left in it."""

    key: str
    package: Package
    remaining_ml: Decimal
    kept_on: dt.date


@dataclass(frozen=True)
class OperatorMove:
    """What the technician does at the keys: scan a text, press Enter, type, keep, or wait.

    ``typed`` is a lot and expiry typed twice (first lot, first expiry, second lot, second
    expiry); ``keep_vial`` presses the station's "keep the vial" key.
    """

    scan: str | None = None
    enter: bool = False
    typed: tuple[str, str, str, str] | None = None
    keep_vial: bool = False


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

    ``check_weight`` is the nominal mass (g) of the balance's daily check weight;
    ``linear_only_share`` the share of products whose packages carry only a UPC-A.
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
        linear_only_share: float = LINEAR_ONLY_SHARE,
    ) -> None:
        if check_weight <= 0:
            raise ValueError(f"a check weight must be above 0 g, got {check_weight}")
        if not 0.0 <= linear_only_share <= 1.0:
            raise ValueError(f"the share of UPC-A-only products is between 0 and 1, got "
                             f"{linear_only_share}")
        self._pan = pan
        self._plug = plug
        self._camera = camera
        self.formulary = formulary
        self.today = today
        self.seed = seed
        self.check_weight = check_weight
        self._lock = threading.RLock()
        self._shelf = _Shelf(formulary, today, seed, linear_only_share)
        self._in_hand: dict[str, Package] = {}  # per NDC key: the package scanned last
        self._shown: tuple[Package, ...] = ()  # what is under the camera now
        self._loads: dict[tuple[str, int], Decimal] = {}  # (preparation, step) -> load put down
        #: True when the last move only lifted the last item off the pan: the load the step
        #: wants goes on with the next move, once the balance has seen the pan empty.
        self.lifted = False
        self._kept: dict[str, KeptVial] = {}  # per NDC key: the opened vial in use
        self._keeping: tuple[str, int] | None = None  # (preparation, draw step) being kept
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

    def linear_only(self, product: Product) -> bool:
        """Whether the shelf's packages of ``product`` carry only a UPC-A."""
        with self._lock:
            return self._shelf.linear_only(product)

    def kept_vial(self, product: Product) -> KeptVial | None:
        """The opened vial of ``product`` the hands kept and still use, if any."""
        with self._lock:
            return self._kept.get(product.ndc.key)

    def syringe(self, volume_ml: Decimal) -> tuple[Decimal, Decimal]:
        """The syringe a draw of ``volume_ml`` is made with: its size (mL), empty mass (g)."""
        with self._lock:
            return self._shelf.syringe(volume_ml)

    def dead_space(self, volume_ml: Decimal) -> Decimal:
        """What stays in the syringe a draw of ``volume_ml`` is made with, once emptied (mL)."""
        size, _ = self.syringe(volume_ml)
        return next(dead for s, _, dead in SYRINGES if s == size)

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
             blur: float = 0.0, linear_gtin: str | None = None,
             datamatrix: bool | None = None) -> None:
        """Hold a package of ``product`` under the camera (None: an empty hood).

        Lot, expiry and serial default to those of the package in hand; ``linear_gtin``
        misprints the label's UPC-A with another GTIN; ``datamatrix`` False shows a package
        with only the UPC-A (None: as the shelf has it).
        """
        if product is None:
            self.show_nothing()
            return
        with self._lock:
            package = _replace_package(self.package(product), lot, expiry, serial)
            if datamatrix is not None:
                package = replace(package, datamatrix=datamatrix)
            self._show((replace(package, linear_gtin=linear_gtin, sticker=None),), blur)

    def show_package(self, package: Package, *, blur: float = 0.0) -> None:
        """Hold exactly ``package`` under the camera (an opened vial with its sticker, say)."""
        with self._lock:
            self._show((package,), blur)

    def other_drug(self, product: Product) -> Product | None:
        """A package from the bin next door: another drug, in the same role if any."""
        with self._lock:
            return self._shelf.other_drug(product)

    def other_strength(self, product: Product) -> Product | None:
        """The same drug in another strength, if the formulary has one the scanner resolves."""
        with self._lock:
            return self._shelf.other_strength(product)

    def expired_package(self, product: Product, *, linear_only: bool | None = None) -> Package:
        """A package of ``product`` from an older lot that expired ``EXPIRED_AGO`` ago.

        ``linear_only`` True gives one with only a UPC-A (None: as the shelf has them).
        """
        with self._lock:
            return self._shelf.expired(product, linear_only)

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

    # ------------------------------------------------------------------ reading and typing

    def held_package(self, pending: PendingLot) -> Package:
        """The package in hand that the station waits for the lot and expiry of."""
        with self._lock:
            ndc = pending.product.ndc
            held = [p for p in self._shown if p.product.ndc == ndc]
            return held[0] if held else self.package(pending.product)

    def identify_lot(self, view: HoodView) -> OperatorMove:
        """Answer the station's question about a package's lot and expiry, reading the label.

        Enter when the lot and expiry the station read from the print are what the package in
        hand says; both typed twice when they differ or nothing could be read; nothing yet
        while the read is still to come.
        """
        pending = view.pending_lot
        if pending is None:
            return OperatorMove()
        package = self.held_package(pending)
        read = pending.read
        if read is not None and (str(read.lot), read.expiry.date) == (package.lot,
                                                                      package.expiry):
            return OperatorMove(enter=True)
        if read is None and pending.problem is None:
            return OperatorMove()  # the station is still reading the print
        return OperatorMove(typed=typed_from(package))

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
                view.band_high is not None) and step.check is not MassCheck.DELIVERED:
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
        package waiting for its lot and expiry is read (:meth:`identify_lot`); a multiple-dose
        vial just drawn from is kept when the station offers it; Enter prints the label, which
        is then applied and scanned with the handheld; a manual step or the last photograph is
        Enter.
        """
        if view.next_action in {NextAction.RETRY, NextAction.RETRY_OR_OVERRIDE}:
            self.show_nothing()
            return OperatorMove(enter=True)
        if view.next_action is NextAction.IDENTIFY_LOT:
            return self.identify_lot(view)
        if self.wants_to_keep(view, prep):
            return OperatorMove(keep_vial=True)
        self.note_kept(view, prep)
        text = self.perform(view, prep, mistake)
        if text is not None:
            return OperatorMove(scan=text)
        step = prep.step if prep is not None else None
        enter = view.next_action in {NextAction.CONFIRM, NextAction.PRINT_LABEL} or (
            view.next_action is NextAction.PHOTO and step is not None
            and step.kind is StepKind.PHOTO)
        return OperatorMove(enter=enter)

    def wants_to_keep(self, view: HoodView, prep: Worksheet | None) -> bool:
        """Whether the hands keep the vial the station offers: a multiple-dose one, once."""
        if not view.vial_keepable or prep is None or view.preparation_id is None:
            return False
        with self._lock:
            draw = _last_draw(prep)
            if draw is None or draw.product is None:
                return False
            if draw.product.container is not Container.MULTI_DOSE:
                return False
            if self._keeping == (view.preparation_id, draw.number):
                return False  # asked once already
            self._keeping = (view.preparation_id, draw.number)
            return True

    def note_kept(self, view: HoodView, prep: Worksheet | None) -> None:
        """Put the station's sticker on the vial it just kept, and use that vial from now on."""
        key = view.vial_kept
        if key is None or prep is None:
            return
        with self._lock:
            if any(k.key == key for k in self._kept.values()):
                return
            draw = _last_draw(prep)
            if draw is None or draw.product is None:
                return
            product = draw.product
            package = replace(self.package(product), sticker=None)
            sticker = Sticker(vial_code(key), (f"OPENED VIAL {key}", f"LOT {package.lot}"))
            drawn = (draw.expected_mass or Decimal(0)) / product.specific_gravity.value
            self._kept[product.ndc.key] = KeptVial(
                key, replace(package, sticker=sticker),
                product.container_volume_ml - drawn, self.today)

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
            step = prep.step if prep is not None else None
            key = (prep.preparation_id, step.number) if prep is not None and step else None
            if act.load is not None and key is not None and key not in self._loads and (
                    view.next_action is NextAction.WEIGH and self._state.pan_grams != 0
                    and abs(act.load - self._state.pan_grams) < LIFT_BELOW):
                # the last item comes off first: a balance that sees no change takes no new
                # weight (two emptied syringes of a size weigh alike)
                self.empty_pan()
                self.lifted = True
                return None
            self.lifted = False
            if act.load is not None:
                self.place(act.load, act.on_pan)
                if key is not None and view.next_action is NextAction.WEIGH:
                    self._loads[key] = self._state.pan_grams
            if act.packages is not None:
                for package in act.packages:
                    if package.expiry < self.today or mistake is Mistake.WRONG_PRODUCT:
                        continue
                    self._in_hand[package.product.ndc.key] = package
                    if package.sticker is None:
                        self._shelf.take(package)
                    elif view.next_action is NextAction.SCAN and step is not None \
                            and prep is not None:
                        self._used_kept_vial(prep, step, package)
                self._show(act.packages, act.blur)
            return act.handheld

    def usable_kept_vial(self, product: Product, volume_ml: Decimal) -> KeptVial | None:
        """The kept vial of ``product`` if it is in date and holds ``volume_ml`` and a margin."""
        with self._lock:
            kept = self._kept.get(product.ndc.key)
            if kept is None:
                return None
            fresh = self.today < kept.kept_on + dt.timedelta(days=KEPT_VIAL_DAYS)
            enough = kept.remaining_ml >= volume_ml * Decimal("1.1") + Decimal("0.5")
            return kept if fresh and enough else None

    def _used_kept_vial(self, prep: Worksheet, step: Step, package: Package) -> None:
        """A kept vial was scanned for a draw: what the draw takes is no longer in it."""
        product = package.product
        kept = self._kept.get(product.ndc.key)
        volume = _draw_volume(prep, step)
        if kept is not None and volume is not None and kept.package == package:
            self._kept[product.ndc.key] = replace(kept, remaining_ml=kept.remaining_ml - volume)

    def _show(self, packages: tuple[Package, ...], blur: float) -> None:
        self._camera.show(Scene(labels=tuple(p.label for p in packages), blur=blur))
        self._shown = packages
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
            return self._plan_scan(prep, step, mistake)
        if action is NextAction.PHOTO:
            return self._plan_photo(prep, step, mistake)
        return {
            NextAction.PRINT_LABEL: _Act("print the label"),
            NextAction.SCAN_LABEL: _Act("apply the printed label and scan it with the handheld",
                                        handheld=prep.preparation_id),
        }.get(action, _Act(""))

    def _plan_pan(self, view: HoodView, prep: Worksheet | None,
                  mistake: Mistake | None) -> _Act:
        if view.next_action is NextAction.BALANCE_CHECK:
            weight = self.check_weight
            return _Act(f"put the {weight.normalize():f} g check weight on the pan", weight,
                        f"the {weight.normalize():f} g check weight")
        step = prep.step if prep is not None else None
        if prep is None or step is None:
            return _Act("")
        if step.check is MassCheck.DELIVERED:
            act = self._plan_emptied(view, prep, step)
        elif view.expected_reading is not None:
            act = _plan_net(view, step, mistake)
        else:
            act = self._plan_tare(prep, step)
        return replace(act, packages=self._subject(prep, step))  # what the hands hold

    def _plan_emptied(self, view: HoodView, prep: Worksheet, step: Step) -> _Act:
        """The emptied syringe: its empty mass plus what stays in its hub and needle."""
        assert step.reference is not None and step.product is not None
        draw = prep.recipe.step(step.reference)
        gravity = step.product.specific_gravity.value
        volume = (draw.expected_mass or Decimal(0)) / gravity
        residual = self.dead_space(volume) * gravity
        tare = self._loads.get((prep.preparation_id, draw.reference or 0))
        if tare is None:  # the filled syringe was weighed by someone else: from the screen
            assert view.expected_reading is not None
            mass = view.expected_reading + residual
        else:
            mass = tare + residual
        return _Act(f"put the emptied syringe ({mass.quantize(Decimal('0.001'))} g, "
                    f"{residual.quantize(Decimal('0.001'))} g left in its hub) on the pan",
                    mass, "the emptied syringe")

    def _plan_scan(self, prep: Worksheet, step: Step, mistake: Mistake | None) -> _Act:
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
            package = self._shelf.expired(product, None)
            return _Act(f"show the camera an expired package: {package.words}",
                        packages=(package,))
        volume = _draw_volume(prep, step)
        kept = self.usable_kept_vial(product, volume) if volume is not None else None
        if kept is not None and (mistake is None or mistake is Mistake.BLURRY):
            package = kept.package
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

    def __init__(self, formulary: Formulary, today: dt.date, seed: int,
                 linear_only_share: float = LINEAR_ONLY_SHARE) -> None:
        self._formulary = formulary
        self._today = today
        self._seed = seed
        self._linear_only_share = linear_only_share
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
        return Package(product, lot, expiry, f"SN{self._next_serial[key]}",
                       datamatrix=not self.linear_only(product))

    def linear_only(self, product: Product) -> bool:
        """Whether the packages of ``product`` carry only a UPC-A (seeded, per product)."""
        if not _upc(product):
            return False
        return self._rng("linear-only", product.ndc.key).random() < self._linear_only_share

    def take(self, package: Package) -> None:
        """Take ``package`` off the shelf: the next one has the following serial."""
        key = package.product.ndc.key
        if package.serial == f"SN{self._next_serial.get(key)}":
            self._next_serial[key] += 1

    def expired(self, product: Product, linear_only: bool | None) -> Package:
        """A package of ``product`` from an older lot that expired ``EXPIRED_AGO`` ago.

        ``linear_only`` True: one with only a UPC-A (None: as the shelf has the product).
        """
        rng = self._rng("expired", product.ndc.key)
        only = self.linear_only(product) if linear_only is None else linear_only
        return Package(product, f"L{rng.randrange(100_000, 1_000_000)}",
                       self._today - EXPIRED_AGO, f"SN{rng.randrange(1_000, 10_000)}",
                       datamatrix=not only)

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
        size, mass, _ = next((row for row in SYRINGES if row[0] >= volume_ml), SYRINGES[-1])
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
    return replace(package, lot=lot if lot is not None else package.lot,
                   expiry=expiry if expiry is not None else package.expiry,
                   serial=serial if serial is not None else package.serial)


def typed_from(package: Package) -> tuple[str, str, str, str]:
    """The lot and expiry of ``package`` as typed twice from its label: lot, expiry, again."""
    lot, expiry = package.lot, package.expiry.isoformat()
    return lot, expiry, lot, expiry


def _upc(product: Product) -> bool:
    """Whether ``product``'s GTIN (or NDC) has a UPC-A form."""
    gtin = product.gtin if product.gtin is not None else product.ndc.gtin()
    return gtin is not None and gtin.upc_a is not None


def _last_draw(prep: Worksheet) -> Step | None:
    """The last dose draw at or before the step now (the one whose vial may be kept)."""
    step = prep.step
    if step is None:
        return None
    draws = [s for s in prep.recipe.steps
             if s.check is MassCheck.DOSE and s.kind is StepKind.WEIGH_NET
             and s.number <= step.number]
    return draws[-1] if draws else None


def _draw_volume(prep: Worksheet, scan: Step) -> Decimal | None:
    """The volume the dose draw after scan step ``scan`` takes from its vial (mL), if any."""
    product = scan.product
    if product is None:
        return None
    for step in prep.recipe.steps:
        if step.number <= scan.number:
            continue
        if step.kind is StepKind.SCAN:
            return None  # another package is scanned before any draw from this one
        if (step.check is MassCheck.DOSE and step.product is not None
                and step.product.ndc == product.ndc and step.expected_mass is not None):
            return step.expected_mass / product.specific_gravity.value
    return None


