"""A heparin preparation recorded event by event through the service, for the review, replay
and PDF tests of what a label and a component's lot say: how each component's lot and expiry
were obtained, an opened vial drawn from, each syringe weighed back once emptied, the label
printed (and printed again) with its beyond-use date, then verified."""

from __future__ import annotations

import copy
import datetime as dt
import io
from dataclasses import dataclass, replace
from decimal import Decimal

from PIL import Image

from station.core.beyond_use import preparation_bud
from station.core.bud import BudTable
from station.core.components import LotSource
from station.core.formulary import Product
from station.core.gravimetry import BalanceSpec
from station.core.identifiers import Expiry, Gtin, Lot
from station.core.opened_vials import VialInUse
from station.core.quantities import Mass
from station.core.scan import ScanIdentity, parse_scan
from station.core.workflow import (
    ActionConfirmed,
    Event,
    LabelPrinted,
    LabelScanned,
    Phase,
    PhotoTaken,
    Preparation,
    ProductScanned,
    Started,
    Verified,
    WeightRead,
)
from station.records.formulary_versions import FormularyVersion
from station.services.preparations import PreparationService
from tests.station.builders import FORMULARY, NOW, formulary_toml, order, scan_of

HEPARIN = "0409-2720-01"
SALINE = "0338-0049-48"
PRINTER = "file:///var/spool/station/labels.zpl"
REPRINT_REASON = "first copy smudged by the hood's wipe-down"
BALANCE = "MT-B123456789"
FINE = BalanceSpec(Decimal("0.001"), Decimal("0.0008"))
BAG_TARE = Decimal("118.400")
SYRINGE_TARE = Decimal("12.000")
DRAWN = Decimal("5.050")  # 5 mL × SG 1.010: the heparin dose exactly
DELIVERED = Decimal("5.010")  # 0.040 g stays in the syringe's hub and needle
TYPED_LOT, TYPED_EXPIRY = "TY7781", dt.date(2028, 6, 30)
VIAL = VialInUse("V-20261126-0007", NOW - dt.timedelta(hours=2),
                 NOW + dt.timedelta(days=26), "USP <797> multiple-dose container: 28 days")
SIGNED_BY_BEN = {"user_id": "rph.ben", "printed_name": "Ben Ruiz", "meaning": "verified",
                 "utc": "2026-11-26T15:30:00+00:00"}
TECH = "tech.ana"
CATEGORY_3_RECORDS = ("sterility test ST-2026-114, endotoxin test ET-2026-114, "
                      "stability study SS-31")


def category_3_formulary() -> str:
    """The test formulary with heparin compounded as a refrigerated Category 3 preparation."""
    data = copy.deepcopy(FORMULARY)
    heparin = next(p for p in data["product"] if p["ndc"] == HEPARIN)
    heparin["compounded"] = {"category": "category_3", "storage": "refrigerated",
                             "sterility_tested": True, "prerequisites": CATEGORY_3_RECORDS}
    return formulary_toml(data)


def upc_scan(product: Product) -> ScanIdentity:
    """A linear UPC-A scan of ``product``: its NDC, no lot, no expiry."""
    gtin = product.ndc.gtin()
    assert isinstance(gtin, Gtin)
    return parse_scan(f"]E0{str(gtin)[2:]}", reference_year=2026)


def identified(product: Product, source: LotSource, at: dt.datetime) -> ProductScanned:
    """The accepted scan of ``product`` with its lot and expiry from ``source``."""
    if source is LotSource.BARCODE:
        return ProductScanned(TECH, at, scan_of(product), product)
    if source is LotSource.OPENED_VIAL:
        return ProductScanned(TECH, at, scan_of(product, lot="MV2207"), product,
                              lot_source=source, opened_vial=VIAL)
    identity = replace(upc_scan(product), lot=Lot(TYPED_LOT),
                       expiry=Expiry(TYPED_EXPIRY, raw=TYPED_EXPIRY.isoformat()))
    return ProductScanned(TECH, at, identity, product, lot_source=source)


def jpeg(shade: int) -> bytes:
    """A small real photograph-like JPEG (a flat grey), so the PDF can embed it."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (shade, shade, shade)).save(buffer, format="JPEG")
    return buffer.getvalue()


@dataclass
class Recorder:
    """Records one preparation's events through the service, a minute apart."""

    service: PreparationService
    preparation_id: str
    at: dt.datetime = NOW

    def do(self, event_of: type[Event] | Event, *args: object) -> Preparation:
        event = event_of if isinstance(event_of, Event) else event_of(TECH, self.tick(), *args)
        return self.service.record_event(self.preparation_id, event)

    def tick(self) -> dt.datetime:
        self.at += dt.timedelta(minutes=1)
        return self.at

    def weigh(self, grams: Decimal) -> Preparation:
        return self.do(WeightRead(TECH, self.tick(), Mass(grams), BALANCE, FINE,
                                  raw=f"S S {grams:>10} g"))

    def photo(self, shade: int) -> Preparation:
        return self.do(PhotoTaken, self.service.record.photos.put(jpeg(shade)))

    def label(self, prep: Preparation, copy: int, reason: str = "") -> Preparation:
        bud = preparation_bud(prep, BudTable.load())
        return self.do(LabelPrinted(TECH, self.tick(), bud.until, bud.rule,
                                    bud.compounded.category, bud.compounded.storage, PRINTER,
                                    copy, reason))


def record_heparin(service: PreparationService, version: FormularyVersion, *,
                   preparation_id: str = "P-LABEL1",
                   heparin_from: LotSource = LotSource.BARCODE,
                   until: str = "verified", reprint: bool = False) -> Preparation:
    """Heparin 25,000 units in saline 100 mL, recorded until ``until``.

    ``until``: ``"weighed"`` (the final weight passed, no label printed), ``"labelled"`` (the
    label printed, applied, scanned and photographed) or ``"verified"``. ``reprint`` prints a
    second copy with :data:`REPRINT_REASON`.
    """
    formulary = version.formulary()
    service.create(order("RX-LABEL", (HEPARIN, "25000 units")), version, TECH,
                   preparation_id=preparation_id)
    tech = Recorder(service, preparation_id)
    tech.do(Started(TECH, NOW))
    tech.do(identified(formulary.by_ndc_text(SALINE), LotSource.BARCODE, tech.tick()))
    tech.photo(90)
    tech.weigh(BAG_TARE)
    tech.do(identified(formulary.by_ndc_text(HEPARIN), heparin_from, tech.tick()))
    tech.photo(120)
    tech.weigh(SYRINGE_TARE)
    tech.weigh(SYRINGE_TARE + DRAWN)
    tech.photo(150)
    tech.do(ActionConfirmed)
    tech.weigh(SYRINGE_TARE + DRAWN - DELIVERED)  # the emptied syringe
    prep = tech.weigh(BAG_TARE + DELIVERED)
    prep = tech.photo(180)
    if until == "weighed":
        return prep
    prep = tech.label(prep, 1)
    if reprint:
        prep = tech.label(prep, 2, REPRINT_REASON)
    tech.do(LabelScanned, preparation_id)
    prep = tech.photo(210)
    assert prep.phase is Phase.AWAITING_VERIFICATION, prep.phase
    if until == "labelled":
        return prep
    prep = service.record_event(preparation_id, Verified("rph.ben", tech.tick()),
                                signature=SIGNED_BY_BEN)
    assert prep.phase is Phase.VERIFIED
    return prep
