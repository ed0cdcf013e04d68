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
hold the balance's doing. A dose error is ``expected × (1 ± k × tolerance)``; ``expected`` is
the station's target on the gauge (the dose at the concentration really made, when a powder
was reconstituted). Once injected, the syringe keeps its dead space
(:data:`~station.demo.hood.SYRINGES`, ±15 % per syringe), so the emptied syringe weighs its
empty mass plus that residual and the bag receives the rest.

A package with only a UPC-A is identified as the station asks: the lot and expiry it read
from the print are confirmed when they are what the package says, else typed twice from the
package — truthfully, also for an expired or recalled one, so the station's checks decide.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from station.core.formulary import Container, Formulary, Product, ProductRole
from station.core.orders import DoseOrder
from station.core.quantities import Tolerance
from station.core.recipe import MassCheck, Recipe, Step, StepKind, build_recipe
from station.demo.hood import DemoHood, Mistake, Package
from station.qualification.plan import ErrorKind
from station.services.hood import HoodView, NextAction

_GRAMS = Decimal("0.0001")
#: How much one syringe's dead space differs from its size's nominal one (± share).
DEAD_SPACE_SPREAD = 0.15
#: A load this close to what is on the pan (g) goes on only after the pan was seen empty.
LIFT_BELOW = Decimal("0.5")
_NAMED_DILUENT_ROLES = (ProductRole.DILUENT, ProductRole.BASE)


@dataclass(frozen=True)
class Screen:
    """What the technician sees: the station's view and the balance's state line."""

    view: HoodView
    balance_connected: bool


@dataclass(frozen=True)
class Move:
    """What the technician then does at the keys: a handheld scan, Enter, typing, or nothing.

    ``typed`` is a lot and expiry typed twice; ``keep_vial`` keeps the vial just drawn from.
    """

    scan: str | None = None
    enter: bool = False
    retry: bool = False
    typed: tuple[str, str, str, str] | None = None
    keep_vial: bool = False


@dataclass
class Injection:
    """An error the technician will make (or has made) at one step of a preparation."""

    kind: ErrorKind
    step: int
    made: bool = False
    true_volume_ml: Decimal | None = None  # a dose error: what is really in the syringe
    expected_volume_ml: Decimal | None = None
    syringe_ml: Decimal | None = None
    vial: Package | None = None  # an opened vial past its beyond-use time, sticker on


@dataclass
class _Sheet:
    """The technician's own worksheet: a :class:`~station.demo.hood.Worksheet`."""

    preparation_id: str
    recipe: Recipe
    number: int = 1
    placed: dict[int, Decimal] = field(default_factory=dict)  # tare step -> mass put down
    net: dict[int, Decimal] = field(default_factory=dict)  # net step -> mass really added
    skipped: set[int] = field(default_factory=set)  # syringes never injected

    @property
    def step(self) -> Step | None:
        if 1 <= self.number <= len(self.recipe.steps):
            return self.recipe.step(self.number)
        return None


def eligible_steps(kind: ErrorKind, recipe: Recipe, hands: DemoHood) -> list[int]:
    """The steps of ``recipe`` where ``kind`` can be made physically (maybe none)."""
    test = _eligibility(kind, recipe, hands)
    return [s.number for s in recipe.steps if test(s)]


def _eligibility(kind: ErrorKind, recipe: Recipe,
                 hands: DemoHood) -> Callable[[Step], bool]:
    def scanned(step: Step, roles: tuple[ProductRole, ...] = tuple(ProductRole)) -> bool:
        return (step.kind is StepKind.SCAN and step.product is not None
                and step.product.role in roles)

    def has(step: Step, find: Callable[[Product], object]) -> bool:
        return step.product is not None and find(step.product) is not None

    def dose(step: Step) -> bool:
        return step.kind is StepKind.WEIGH_NET and step.check is MassCheck.DOSE

    def linear(step: Step) -> bool:
        return scanned(step, (ProductRole.DRUG, ProductRole.DILUENT)) and (
            step.product is not None and _upc(step.product))

    def opened(step: Step) -> bool:
        product = step.product
        return (scanned(step, (ProductRole.DRUG,)) and product is not None
                and product.reconstitution is None and product.container is not Container.AMPULE
                and any(s.check is MassCheck.DOSE and s.product == product
                        and s.number > step.number for s in recipe.steps))

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
                                           and s.check is MassCheck.DELIVERED),
        ErrorKind.BLURRY_PHOTO: lambda s: s.photo_required or s.kind is StepKind.PHOTO,
        ErrorKind.UNPLUGGED_BALANCE: dose,
        ErrorKind.EXPIRED_LINEAR_ONLY: linear,
        ErrorKind.RECALLED_LINEAR_ONLY: linear,
        ErrorKind.OPENED_VIAL_PAST_BUD: opened,
        ErrorKind.WRONG_LABEL_APPLIED: lambda s: s.kind is StepKind.LABEL,
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
        self._made: list[str] = []  # the preparations begun, in order (their labels)

    def recipe_for(self, order: DoseOrder) -> Recipe:
        """The technician's own recipe for ``order``."""
        return build_recipe(order, self.formulary, self.site_tolerance)

    def begin(self, order: DoseOrder, preparation_id: str,
              injection: Injection | None) -> None:
        """Start on ``order`` (the station printed ``preparation_id``), with an error or not."""
        self._sheet = _Sheet(preparation_id, self.recipe_for(order))
        self.injection = injection
        self._made.append(preparation_id)

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
        if self.hands.wants_to_keep(view, sheet):
            return Move(keep_vial=True)
        self.hands.note_kept(view, sheet)
        if action is NextAction.WEIGH:
            return self._weigh(sheet, view, injection)
        made = self._make_error(sheet, view, injection)
        if made is not None:
            return made
        move = self.hands.next_move(view, sheet)
        # every photograph is taken on Enter here
        return Move(scan=move.scan, enter=move.enter or action is NextAction.PHOTO,
                    typed=move.typed, keep_vial=move.keep_vial)

    def other_label(self, preparation_id: str) -> str:
        """The label of another preparation: the one made before, else one from elsewhere."""
        others = [p for p in self._made if p != preparation_id]
        if others:
            return others[-1]
        return "P-" + "".join(self._rng.choice("0123456789ABCDEF") for _ in range(12))

    def _redo(self, sheet: _Sheet, view: HoodView) -> Move:
        """After a stop: put the wrong thing back; at a weighing, draw (or inject) again."""
        self.hands.show_nothing()
        step = sheet.step
        if step is not None and step.kind is StepKind.WEIGH_NET:
            sheet.skipped.discard(step.number)  # the forgotten dose goes into the bag now
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

    def _make_error(self, sheet: _Sheet, view: HoodView,
                    injection: Injection | None) -> Move | None:
        """Make the error due at a scan, a photo or the label; the keys pressed, if made."""
        if injection is None:
            return None
        if self._made_at_camera(sheet, view, injection):
            return Move(enter=view.next_action is NextAction.PHOTO)
        return self._wrong_label(sheet, view, injection)

    def _wrong_label(self, sheet: _Sheet, view: HoodView, injection: Injection) -> Move | None:
        """Apply and scan another preparation's label here if that error is due."""
        if (view.next_action is not NextAction.SCAN_LABEL
                or injection.kind is not ErrorKind.WRONG_LABEL_APPLIED):
            return None
        injection.made = True
        return Move(scan=self.other_label(sheet.preparation_id))

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
            ErrorKind.EXPIRED_LOT, ErrorKind.RECALLED_LOT, ErrorKind.DISAGREEING_BARCODE,
            ErrorKind.EXPIRED_LINEAR_ONLY, ErrorKind.RECALLED_LINEAR_ONLY,
            ErrorKind.OPENED_VIAL_PAST_BUD)

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
        elif kind in (ErrorKind.EXPIRED_LOT, ErrorKind.EXPIRED_LINEAR_ONLY):
            only = kind is ErrorKind.EXPIRED_LINEAR_ONLY
            self.hands.show_package(self.hands.expired_package(product, linear_only=only))
        elif kind in (ErrorKind.RECALLED_LOT, ErrorKind.RECALLED_LINEAR_ONLY):
            self.hands.show(product, lot=recalled_lot(product, self.seed),
                            datamatrix=kind is ErrorKind.RECALLED_LOT)
        elif kind is ErrorKind.OPENED_VIAL_PAST_BUD:
            assert injection.vial is not None, "the run gives the vial opened at an earlier shift"
            self.hands.show_package(injection.vial)
        else:  # a disagreeing second barcode: the DataMatrix names the product, the UPC-A not
            self.hands.show(product, linear_gtin=_misprint_for(product, self.formulary),
                            datamatrix=True)

    # ------------------------------------------------------------------ the pan

    def _weigh(self, sheet: _Sheet, view: HoodView, injection: Injection | None) -> Move:
        step = sheet.step
        assert step is not None
        if injection is not None and injection.kind is ErrorKind.UNPLUGGED_BALANCE:
            injection.made = True
            self.hands.unplug_balance()
            self._unplugged = True
        if (injection is not None and injection.kind is ErrorKind.SKIPPED_STEP
                and self.hands.state.pan_grams != 0):
            # the syringe comes off the pan as if to be injected; it goes back on still full
            self.hands.empty_pan()
            return Move()
        if step.kind is StepKind.WEIGH_TARE:
            # the empty syringe, vial or bag the step asks for, as the demo hood puts it down
            self.hands.perform(view, sheet)
            sheet.placed[step.number] = self.hands.state.pan_grams
        else:
            on_pan, aim = self.hands.state.pan_grams, view.expected_reading
            if on_pan != 0 and aim is not None and abs(aim - on_pan) < LIFT_BELOW:
                # the last item comes off before this one goes on: a balance that saw no
                # change would not take a new weight (two emptied syringes weigh alike)
                self.hands.empty_pan()
                return Move()
            self.hands.place(*self._net(sheet, step, injection, view.expected_net))
        return Move()

    def _net(self, sheet: _Sheet, step: Step, injection: Injection | None,
             target: Decimal | None) -> tuple[Decimal, str]:
        """What goes on the pan for a net weighing; ``target`` is the net the gauge aims at."""
        assert step.reference is not None
        if step.check is MassCheck.DELIVERED:
            return self._emptied(sheet, step, injection)
        tare = sheet.placed[step.reference]
        if step.check is MassCheck.FINAL:
            added = sum((sheet.net.get(n, Decimal(0)) for n in step.sums
                         if n not in sheet.skipped), Decimal(0))
            return tare + added, "the filled bag"
        expected = target if target is not None else step.expected_mass
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

    def _emptied(self, sheet: _Sheet, step: Step,
                 injection: Injection | None) -> tuple[Decimal, str]:
        """The syringe weighed back: its empty mass plus its dead space, or still full."""
        assert step.reference is not None and step.product is not None
        draw = sheet.recipe.step(step.reference)
        assert draw.reference is not None
        tare, drawn = sheet.placed[draw.reference], sheet.net[draw.number]
        if injection is not None and injection.kind is ErrorKind.SKIPPED_STEP:
            injection.made = True
            sheet.skipped.add(step.number)
            sheet.net[step.number] = Decimal(0)
            return tare + drawn, "the syringe, never injected"
        gravity = step.product.specific_gravity.value
        dead = self.hands.dead_space(drawn / gravity) * _dead_space_share(self._rng)
        residual = min(drawn, (dead * gravity).quantize(_GRAMS))
        sheet.net[step.number] = drawn - residual
        return tare + residual, "the emptied syringe"


def _dead_space_share(rng: random.Random) -> Decimal:
    return Decimal(str(round(rng.uniform(1 - DEAD_SPACE_SPREAD, 1 + DEAD_SPACE_SPREAD), 4)))


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
