"""The qualification's technician: makes each preparation with its hands, mistakes included.

It reads the station's screen as a person would (what the station asks for, the step
number, the preparation id it prints on the label, the balance's state) and otherwise works
from its own copy of the recipe, worked out from the order with its own copy of the
formulary. It knows what it physically did — the empty syringe it put down, how much it
really drew, whether it injected it — and puts that on the pan; the station learns it only
through the balance driver. Scans, photos and the label go through
:class:`~station.demo.hood.DemoHood`; the injected errors are made here.

A clean draw is what a technician accepts on the live gauge: the true amount is uniformly
within the inner half of the band (±½ tolerance), a modelling choice that keeps every false
hold the balance's doing. A dose error is ``expected × (1 ± k × tolerance)``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from station.core.formulary import Formulary, Product, ProductRole
from station.core.orders import DoseOrder
from station.core.quantities import Tolerance
from station.core.recipe import MassCheck, Recipe, Step, StepKind, build_recipe
from station.demo.hood import DemoHood, Mistake
from station.qualification.plan import ErrorKind
from station.services.hood import HoodView, NextAction

_GRAMS = Decimal("0.0001")
_NAMED_DILUENT_ROLES = (ProductRole.DILUENT, ProductRole.BASE)


@dataclass(frozen=True)
class Screen:
    """What the technician sees: the station's view and the balance's state line."""

    view: HoodView
    balance_connected: bool


@dataclass(frozen=True)
class Move:
    """What the technician then does at the keys: a handheld scan, Enter, or nothing."""

    scan: str | None = None
    enter: bool = False
    retry: bool = False


@dataclass
class Injection:
    """An error the technician will make (or has made) at one step of a preparation."""

    kind: ErrorKind
    step: int
    made: bool = False
    true_volume_ml: Decimal | None = None  # a dose error: what is really in the syringe
    expected_volume_ml: Decimal | None = None
    syringe_ml: Decimal | None = None


@dataclass
class _Sheet:
    """The technician's own worksheet: a :class:`~station.demo.hood.Worksheet`."""

    preparation_id: str
    recipe: Recipe
    number: int = 1
    placed: dict[int, Decimal] = field(default_factory=dict)  # tare step -> mass put down
    net: dict[int, Decimal] = field(default_factory=dict)  # net step -> mass really added
    skipped: set[int] = field(default_factory=set)  # draws never injected

    @property
    def step(self) -> Step | None:
        if 1 <= self.number <= len(self.recipe.steps):
            return self.recipe.step(self.number)
        return None


def eligible_steps(kind: ErrorKind, recipe: Recipe, hands: DemoHood) -> list[int]:
    """The steps of ``recipe`` where ``kind`` can be made physically (maybe none)."""
    test = _eligibility(kind, hands)
    return [s.number for s in recipe.steps if test(s)]


def _eligibility(kind: ErrorKind, hands: DemoHood) -> Callable[[Step], bool]:
    def scanned(step: Step, roles: tuple[ProductRole, ...] = tuple(ProductRole)) -> bool:
        return (step.kind is StepKind.SCAN and step.product is not None
                and step.product.role in roles)

    def has(step: Step, find: Callable[[Product], object]) -> bool:
        return step.product is not None and find(step.product) is not None

    def dose(step: Step) -> bool:
        return step.kind is StepKind.WEIGH_NET and step.check is MassCheck.DOSE

    drug = (ProductRole.DRUG,)
    tests: dict[ErrorKind, Callable[[Step], bool]] = {
        ErrorKind.WRONG_DRUG: lambda s: scanned(s, drug) and has(s, hands.other_drug),
        ErrorKind.WRONG_STRENGTH: lambda s: scanned(s, drug) and has(s, hands.other_strength),
        ErrorKind.WRONG_DILUENT: lambda s: scanned(s, _NAMED_DILUENT_ROLES) and has(
            s, hands.other_drug),
        ErrorKind.EXPIRED_LOT: scanned,
        ErrorKind.RECALLED_LOT: scanned,
        ErrorKind.DISAGREEING_BARCODE: lambda s: scanned(s) and s.product is not None and _upc(
            s.product) and _misprint_for(s.product, hands.formulary) is not None,
        ErrorKind.SKIPPED_STEP: lambda s: (s.kind is StepKind.WEIGH_NET
                                           and s.check is MassCheck.FINAL and bool(s.sums)),
        ErrorKind.BLURRY_PHOTO: lambda s: s.photo_required or s.kind is StepKind.PHOTO,
        ErrorKind.UNPLUGGED_BALANCE: dose,
    }
    return tests.get(kind, dose)  # the four dose errors


def recalled_lot(product: Product, seed: int) -> str:
    """The lot of ``product`` on the pharmacy's recall list for a run seeded ``seed``."""
    rng = random.Random(f"recalled/{seed}/{product.ndc.key}")
    return f"RQ{rng.randrange(100_000, 1_000_000)}"


class Technician:
    """Acts out one preparation at a time; :meth:`act` is one look at the screen and one act."""

    def __init__(self, hands: DemoHood, formulary: Formulary, site_tolerance: Tolerance,
                 *, seed: int) -> None:
        self.hands = hands
        self.formulary = formulary
        self.site_tolerance = site_tolerance
        self.seed = seed
        self._rng = random.Random(f"technician/{seed}")
        self._sheet: _Sheet | None = None
        self.injection: Injection | None = None
        self._unplugged = False

    def recipe_for(self, order: DoseOrder) -> Recipe:
        """The technician's own recipe for ``order``."""
        return build_recipe(order, self.formulary, self.site_tolerance)

    def begin(self, order: DoseOrder, preparation_id: str,
              injection: Injection | None) -> None:
        """Start on ``order`` (the station printed ``preparation_id``), with an error or not."""
        self._sheet = _Sheet(preparation_id, self.recipe_for(order))
        self.injection = injection

    @property
    def balance_unplugged(self) -> bool:
        """Whether the technician has the balance cable out now."""
        return self._unplugged

    def act(self, screen: Screen) -> Move:
        """Look at the screen, do the physical part of what it asks, say what to press."""
        sheet = self._sheet
        assert sheet is not None, "begin() a preparation first"
        view = screen.view
        if view.step_number is not None:
            sheet.number = view.step_number
        if self._unplugged:
            if not screen.balance_connected:  # the station has noticed: plug back in
                self.hands.replug_balance()
                self._unplugged = False
            return Move()
        action = view.next_action
        injection = self._due(sheet)
        if action in (NextAction.RETRY, NextAction.RETRY_OR_OVERRIDE):
            return self._redo(sheet, view)
        if action is NextAction.WEIGH:
            return self._weigh(sheet, view, injection)
        if injection is not None and self._made_at_camera(sheet, view, injection):
            return Move(enter=action is NextAction.PHOTO)
        move = self.hands.next_move(view, sheet)
        # every photograph is taken on Enter here
        return Move(scan=move.scan, enter=move.enter or action is NextAction.PHOTO)

    def _redo(self, sheet: _Sheet, view: HoodView) -> Move:
        """After a stop: put the wrong thing back; at a weighing, draw (or inject) again."""
        self.hands.show_nothing()
        step = sheet.step
        if step is not None and step.kind is StepKind.WEIGH_NET:
            sheet.skipped.clear()  # the forgotten dose goes into the bag now
            self._weigh(sheet, view, None)
        return Move(retry=True)

    def _made_at_camera(self, sheet: _Sheet, view: HoodView, injection: Injection) -> bool:
        """Make a scan or photo error here if it is due; whether one was made."""
        if view.next_action is NextAction.SCAN and self._is_scan_error(injection):
            self._show_wrong(sheet, injection)
            return True
        if view.next_action is NextAction.PHOTO and injection.kind is ErrorKind.BLURRY_PHOTO:
            injection.made = True
            self.hands.perform(view, sheet, Mistake.BLURRY)
            return True
        return False

    # ------------------------------------------------------------------ errors at a scan

    def _due(self, sheet: _Sheet) -> Injection | None:
        injection = self.injection
        if injection is None or injection.made or injection.step != sheet.number:
            return None
        return injection

    @staticmethod
    def _is_scan_error(injection: Injection) -> bool:
        return injection.kind in (
            ErrorKind.WRONG_DRUG, ErrorKind.WRONG_STRENGTH, ErrorKind.WRONG_DILUENT,
            ErrorKind.EXPIRED_LOT, ErrorKind.RECALLED_LOT, ErrorKind.DISAGREEING_BARCODE)

    def _show_wrong(self, sheet: _Sheet, injection: Injection) -> None:
        step = sheet.recipe.step(injection.step)
        product = step.product
        assert product is not None
        kind = injection.kind
        injection.made = True
        if kind in (ErrorKind.WRONG_DRUG, ErrorKind.WRONG_DILUENT):
            other = self.hands.other_drug(product)
            assert other is not None
            self.hands.show(other)
        elif kind is ErrorKind.WRONG_STRENGTH:
            other = self.hands.other_strength(product)
            assert other is not None
            self.hands.show(other)
        elif kind is ErrorKind.EXPIRED_LOT:
            package = self.hands.expired_package(product)
            self.hands.show(product, lot=package.lot, expiry=package.expiry,
                            serial=package.serial)
        elif kind is ErrorKind.RECALLED_LOT:
            self.hands.show(product, lot=recalled_lot(product, self.seed))
        else:  # a disagreeing second barcode
            self.hands.show(product, linear_gtin=_misprint_for(product, self.formulary))

    # ------------------------------------------------------------------ the pan

    def _weigh(self, sheet: _Sheet, view: HoodView, injection: Injection | None) -> Move:
        step = sheet.step
        assert step is not None
        if injection is not None and injection.kind is ErrorKind.UNPLUGGED_BALANCE:
            injection.made = True
            self.hands.unplug_balance()
            self._unplugged = True
        if step.kind is StepKind.WEIGH_TARE:
            # the empty syringe, vial or bag the step asks for, as the demo hood puts it down
            self.hands.perform(view, sheet)
            sheet.placed[step.number] = self.hands.state.pan_grams
        else:
            self.hands.place(*self._net(sheet, step, injection))
        return Move()

    def _net(self, sheet: _Sheet, step: Step, injection: Injection | None) -> tuple[Decimal, str]:
        assert step.reference is not None
        tare = sheet.placed[step.reference]
        if step.check is MassCheck.FINAL:
            if injection is not None and injection.kind is ErrorKind.SKIPPED_STEP:
                injection.made = True
                sheet.skipped.add(step.sums[0])
            added = sum((sheet.net.get(n, Decimal(0)) for n in step.sums
                         if n not in sheet.skipped), Decimal(0))
            return tare + added, "the filled bag"
        expected = step.expected_mass
        assert expected is not None
        tolerance = (step.tolerance or sheet.recipe.tolerance).fraction
        factor = injection.kind.dose_factor if injection is not None else None
        if factor is not None and injection is not None:
            injection.made = True
            drawn = expected * (1 + Decimal(str(factor)) * tolerance)
            injection.expected_volume_ml = _volume(step, expected)
            injection.true_volume_ml = _volume(step, drawn)
            injection.syringe_ml = self.hands.syringe(injection.expected_volume_ml)[0]
        else:
            share = Decimal(str(self._rng.uniform(-0.5, 0.5)))
            drawn = expected * (1 + share * tolerance)
        drawn = drawn.quantize(_GRAMS)
        sheet.net[step.number] = drawn
        return tare + drawn, "the vial with its diluent" if (
            step.check is MassCheck.DILUENT) else "the filled syringe"


def _volume(step: Step, mass: Decimal) -> Decimal:
    product = step.product
    assert product is not None
    return mass / product.specific_gravity.value


def _upc(product: Product) -> bool:
    gtin = product.gtin if product.gtin is not None else product.ndc.gtin()
    return gtin is not None and gtin.upc_a is not None


def _misprint_for(product: Product, formulary: Formulary) -> str | None:
    """Another product's GTIN with a UPC-A form, to misprint ``product``'s linear code with."""
    for other in sorted(formulary, key=lambda p: p.ndc.key):
        gtin = other.gtin if other.gtin is not None else other.ndc.gtin()
        if other.ndc != product.ndc and gtin is not None and gtin.upc_a is not None:
            return str(gtin)
    return None
