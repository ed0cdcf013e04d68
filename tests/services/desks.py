"""Builders shared by the label and opened-vial desk tests: formularies, preparations, printers."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from pathlib import Path

import cv2
import numpy as np
import zxingcpp

from station.core.formulary import Formulary
from station.core.recipe import MassCheck, StepKind, build_recipe
from station.core.workflow import Preparation
from station.devices.labels import PREPARATION_SIZE, VIAL_SIZE
from station.devices.labels.printer import ZplPrinter
from tests.station.builders import FORMULARY, TOLERANCE, Technician, order

HEPARIN, KCL, CEFAZOLIN = "0409-2720-01", "55150-1234-1", "0143-9924-90"


def formulary(**changes: dict[str, object]) -> Formulary:
    """The test formulary, with fields of some products changed (keyed by NDC)."""
    data = copy.deepcopy(FORMULARY)
    for product in data["product"]:
        product.update(changes.get(str(product["ndc"]), {}))
    return Formulary.from_mapping(data)


def file_printer(folder: Path) -> ZplPrinter:
    """A printer writing its ZPL to ``folder/label.zpl``."""
    return ZplPrinter(f"file://{folder / 'label.zpl'}", size=PREPARATION_SIZE,
                      vial_size=VIAL_SIZE)


def prepared(catalogue: Formulary, ndc: str, dose: str, *, until: StepKind | None = None,
             tech: Technician | None = None, preparation_id: str = "P-0001") -> Preparation:
    """A preparation of one drug, done by a careful technician up to the step ``until`` (or
    just past the first draw when ``until`` is None)."""
    recipe = build_recipe(order("RX1", (ndc, dose)), catalogue, TOLERANCE)
    tech = tech or Technician()
    prep = tech.start(recipe, preparation_id)
    if until is None:
        return tech.advance_to(prep, draw_step(prep) + 1)
    target = next(s.number for s in recipe.steps if s.kind is until)
    return tech.advance_to(prep, target)


def draw_step(prep: Preparation) -> int:
    """The first draw of the preparation."""
    return next(s.number for s in prep.recipe.steps
                if s.kind is StepKind.WEIGH_NET and s.check is MassCheck.DOSE)


def decoded(png: bytes) -> list[str]:
    """The texts of every barcode zxing-cpp finds in a PNG."""
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image is not None, "not a PNG"
    return [r.text for r in zxingcpp.read_barcodes(image)]


SITE = dt.timezone(dt.timedelta(hours=-6))
ML = Decimal("0.01")
