"""Builders for the pure-core tests: a small formulary, orders, scans, and a technician."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal

from station.core.formulary import CompoundingCategory, Product, Storage
from station.core.gravimetry import BalanceSpec
from station.core.identifiers import Gtin
from station.core.orders import DoseOrder, Worklist
from station.core.quantities import Mass, Tolerance
from station.core.recipe import MassCheck, Recipe, StepKind
from station.core.scan import parse_scan
from station.core.workflow import (
    ActionConfirmed,
    Event,
    InProcessChecked,
    LabelPrinted,
    LabelScanned,
    Phase,
    PhotoTaken,
    Preparation,
    ProductScanned,
    Started,
    WeightRead,
    apply,
)

SITE = dt.timezone(dt.timedelta(hours=-6))
NOW = dt.datetime(2026, 11, 26, 9, 30, tzinfo=SITE)
TOLERANCE = Tolerance(Decimal("0.05"))
FINE = BalanceSpec(Decimal("0.001"), Decimal("0.0008"))
COARSE = BalanceSpec(Decimal("0.01"), Decimal("0.005"))

FORMULARY = {
    "product": [
        {"ndc": "0338-0049-48", "name": "Sodium Chloride 0.9%", "manufacturer": "Baxter",
         "strength": "100 mL", "dosage_form": "injection, solution", "role": "base",
         "specific_gravity": "1.005", "specific_gravity_source": "USP monograph density",
         "container_volume_ml": "100"},
        {"ndc": "63323-185-10", "name": "Sterile Water for Injection", "manufacturer":
         "Fresenius Kabi", "strength": "10 mL", "dosage_form": "injection, solution",
         "role": "diluent", "specific_gravity": "1.000", "specific_gravity_source": "water",
         "container_volume_ml": "10"},
        {"ndc": "0143-9924-90", "name": "Cefazolin", "manufacturer": "Hikma",
         "strength": "1 g", "dosage_form": "powder for solution", "concentration": "330 mg/mL",
         "specific_gravity": "1.08", "container_volume_ml": "3.03",
         "reconstitute": {"diluents": ["63323-185-10"], "volume_ml": "2.5"}},
        {"ndc": "0409-2720-01", "name": "Heparin Sodium", "manufacturer": "Hospira",
         "strength": "5,000 units/mL", "dosage_form": "injection, solution",
         "concentration": "5000 units/mL", "specific_gravity": "1.010",
         "container_volume_ml": "10", "high_alert": True, "multi_dose": True},
        {"ndc": "55150-1234-1", "name": "Potassium Chloride", "manufacturer": "AuroMedics",
         "strength": "2 mEq/mL", "dosage_form": "injection, concentrate",
         "concentration": "2 mEq/mL", "specific_gravity": "1.085",
         "container_volume_ml": "20", "high_alert": True, "in_process_check": True},
        {"ndc": "0409-1888-10", "name": "Heparin Sodium", "manufacturer": "Hospira",
         "strength": "1,000 units/mL", "dosage_form": "injection, solution",
         "concentration": "1000 units/mL", "specific_gravity": "1.005",
         "container_volume_ml": "10", "high_alert": True},
    ]
}


def formulary_toml(data: dict[str, list[dict[str, object]]] = FORMULARY) -> str:
    """The test formulary as a TOML file's text (flat tables and one nested table)."""
    lines = []
    for product in data["product"]:
        lines.append("[[product]]")
        nested = {}
        for key, value in product.items():
            if isinstance(value, dict):
                nested[key] = value
            else:
                lines.append(f"{key} = {_value(value)}")
        for name, table in nested.items():
            lines.append(f"[product.{name}]")
            lines.extend(f"{key} = {_value(value)}" for key, value in table.items())
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)
    return text


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return '"' + str(value) + '"'


def order(order_id: str, *ingredients: tuple[str, str], base: str | None = "0338-0049-48",
          **extra: object) -> DoseOrder:
    """One order built through the real loader."""
    entry: dict[str, object] = {
        "order_id": order_id,
        "patient": {"id": "MRN100", "name": "Doe, Jane", "location": "4W-12-A"},
        "ingredient": [{"ndc": n, "dose": d} for n, d in ingredients],
        "final_volume_ml": "100", "route": "IV", "priority": "routine",
        "due": "2026-11-26T12:00:00-06:00", "prescriber": "Dr. Lee",
        **extra,
    }
    if base is not None:
        entry["base"] = base
    return next(iter(Worklist.from_mapping({"order": [entry]})))


def scan_of(product: Product, lot: str = "L2405A", expiry: str = "281231"):
    """A GS1 DataMatrix scan of a real package of ``product``."""
    gtin = product.ndc.gtin()
    assert isinstance(gtin, Gtin)
    return parse_scan(f"]d201{gtin}17{expiry}10{lot}\x1d21SN{lot}", reference_year=2026)


@dataclass
class Technician:
    """Does the right thing at every step, so tests can change one thing at a time."""

    user: str = "tech.ana"
    pharmacist: str = "rph.ben"
    balance: BalanceSpec = FINE
    balance_id: str = "MT-B123456789"
    tare_mass: Decimal = Decimal("12.000")
    at: dt.datetime = NOW
    # Multiplier on the expected net mass: 1 is perfect, 1.2 is a 20 % overdose.
    draw_factor: Decimal = Decimal(1)
    log: list[Event] = field(default_factory=list)

    def do(self, prep: Preparation, event: Event) -> Preparation:
        self.log.append(event)
        return apply(prep, event)

    def weight(self, grams: Decimal) -> WeightRead:
        return WeightRead(self.user, self.at, Mass(grams), self.balance_id, self.balance,
                          raw=f"S S {grams:>10} g")

    def right_event(self, prep: Preparation) -> Event:
        step = prep.step
        assert step is not None
        if prep.phase is Phase.AWAITING_CHECK:
            return InProcessChecked(self.pharmacist, self.at, approved=True)
        record = prep.record(step.number)
        if record.accepted is not None and step.photo_required:
            return PhotoTaken(self.user, self.at, f"sha256:{step.number:064x}")
        if step.kind is StepKind.SCAN:
            assert step.product is not None
            return ProductScanned(self.user, self.at, scan_of(step.product), step.product)
        if step.kind is StepKind.WEIGH_TARE:
            return self.weight(self.tare_mass)
        if step.kind is StepKind.WEIGH_NET and step.check is MassCheck.DELIVERED:
            # Emptied: the syringe weighs what it did before the draw, and what its hub and
            # needle keep (the dead space the draw was aimed to make up for).
            assert step.reference is not None
            draw = prep.recipe.step(step.reference)
            assert draw.reference is not None
            empty = prep.record(draw.reference).accepted
            assert empty is not None and isinstance(empty.event, WeightRead)
            kept = (draw.expected_mass or Decimal(0)) - (step.expected_mass or Decimal(0))
            return self.weight((empty.event.mass.grams + kept).quantize(self.balance.readability))
        if step.kind is StepKind.WEIGH_NET:
            if step.sums:
                expected = sum((prep.net_mass(n).grams for n in step.sums), Decimal(0))
            else:
                assert step.expected_mass is not None
                expected = step.expected_mass
            net = (expected * self.draw_factor).quantize(self.balance.readability)
            return self.weight(self.tare_mass + net)
        if step.kind is StepKind.ACTION:
            return ActionConfirmed(self.user, self.at)
        if step.kind is StepKind.LABEL and not record.labels:
            return self.label(prep)
        if step.kind is StepKind.LABEL:
            return LabelScanned(self.user, self.at, prep.preparation_id)
        return PhotoTaken(self.user, self.at, f"sha256:{step.number:064x}")

    def label(self, prep: Preparation, copy: int = 1, reason: str = "") -> LabelPrinted:
        """The label printed at the label step (the BUD here is a plain figure)."""
        return LabelPrinted(self.user, self.at, self.at + dt.timedelta(hours=12),
                            "USP <797> Table 12, Category 1, controlled room temperature: "
                            "12 hours", CompoundingCategory.CATEGORY_1, Storage.ROOM,
                            "file:///dev/null", copy, reason)

    def start(self, recipe: Recipe, preparation_id: str = "P-0001") -> Preparation:
        return self.do(Preparation.new(preparation_id, recipe), Started(self.user, self.at))

    def advance(self, prep: Preparation, count: int) -> Preparation:
        """Do the right thing ``count`` times."""
        for _ in range(count):
            prep = self.do(prep, self.right_event(prep))
        return prep

    def advance_to(self, prep: Preparation, number: int) -> Preparation:
        """Do the right thing until step ``number`` is the current one."""
        while prep.step is not None and prep.step.number < number:
            prep = self.do(prep, self.right_event(prep))
        assert prep.step is not None and prep.step.number == number
        return prep

    def run_until(self, prep: Preparation, phases: set[Phase], limit: int = 200) -> Preparation:
        for _ in range(limit):
            if prep.phase in phases:
                return prep
            prep = self.do(prep, self.right_event(prep))
        raise AssertionError(f"did not reach {phases} in {limit} events: at {prep.phase}")

