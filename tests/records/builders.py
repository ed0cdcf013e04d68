"""Builders for the tests over a real record: technicians that record through the service,
and one preparation with every kind of event a review has to show."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import cv2
import numpy as np

from station.core.recipe import StepKind
from station.core.workflow import (
    Overridden,
    Phase,
    PhotoTaken,
    Preparation,
    ProductScanned,
    Retried,
    Started,
    Verified,
)
from station.demo.camera_scene import Label, Scene, render
from station.services.preparations import PreparationService
from tests.station.builders import NOW, Technician, order, scan_of

SIGNED_BY_BEN = {"user_id": "rph.ben", "printed_name": "Ben Ruiz", "meaning": "verified",
                 "utc": "2026-11-26T15:30:00+00:00"}

PREPARATION = "P-REVIEW1"
HEPARIN = "0409-2720-01"
WRONG_HEPARIN = "0409-1888-10"
OVERRIDE_REASON = "drawn volume checked against the syringe graduations: 5 mL as ordered"
RECALL = "FDA recall Z-0420-2026: particulate matter"
SIGNED_BY_LEE = {"user_id": "rph.lee", "printed_name": "Lee Nakamura, PharmD",
                 "meaning": "override-approved", "utc": "2026-11-26T15:20:00+00:00"}
BAG_TARE = Decimal("118.400")
SYRINGE_TARE = Decimal("12.000")
DRAW_FACTOR = Decimal("1.12")  # a 12 % overdraw: out of tolerance, overridden
FINAL_FACTOR = Decimal("1.043")  # the bag gains 4.3 % more than drawn: near the ±5 % edge


class RecordingTechnician(Technician):
    """The test technician, recording through the service instead of applying in memory."""

    def __init__(self, service: PreparationService) -> None:
        super().__init__()
        self.service = service

    def do(self, prep, event):
        self.log.append(event)
        return self.service.record_event(prep.preparation_id, event)

    def right_event(self, prep):
        event = super().right_event(prep)
        if isinstance(event, PhotoTaken):
            photo = f"photo of {prep.preparation_id} step {prep.step.number}".encode()
            event = replace(event, photo=self.service.record.photos.put(photo))
        return event


class PhotographingTechnician(RecordingTechnician):
    """Records through the service and photographs what is in hand, as a camera would."""

    def __init__(self, service: PreparationService) -> None:
        super().__init__(service)
        self.rng = np.random.default_rng(11)

    def photo(self, prep: Preparation, problem: str | None = None) -> PhotoTaken:
        step = prep.step
        assert step is not None
        products = [s.product for s in prep.recipe.steps
                    if s.kind is StepKind.SCAN and s.number <= step.number and s.product]
        shown = products[-1:] if step.kind is StepKind.SCAN else products[:2]
        labels = tuple(Label.for_product(p, lot="L2405A", expiry=dt.date(2028, 12, 31),
                                         serial="SNL2405A") for p in shown)
        image = render(Scene(labels=labels, blur=4.0 if problem else 0.0), (640, 360), self.rng)
        encoded, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        assert encoded
        return PhotoTaken(self.user, self.at, self.service.record.photos.put(jpeg.tobytes()),
                          problem)

    def right_event(self, prep):
        event = super().right_event(prep)
        if isinstance(event, PhotoTaken):
            return self.photo(prep)
        return event

    def weigh(self, prep: Preparation, grams: Decimal) -> Preparation:
        return self.do(prep, self.weight(grams.quantize(Decimal("0.001"))))


def make_preparation(service: PreparationService, version) -> str:
    """A heparin preparation with a recalled lot, a wrong vial, a blurred photo (each retried),
    an overdraw a pharmacist overrides, a final weight near tolerance, then verified."""
    tech = PhotographingTechnician(service)
    formulary = version.formulary()
    created = service.create(order("RX-REVIEW", (HEPARIN, "25000 units")), version, tech.user,
                             preparation_id=PREPARATION)
    prep = tech.do(created, Started(tech.user, tech.at))
    base = formulary.by_ndc_text("0338-0049-48")
    prep = tech.do(prep, ProductScanned(tech.user, NOW, scan_of(base, lot="R0420"), base,
                                        recall_notice=RECALL))
    assert prep.phase is Phase.HARD_STOP
    prep = tech.do(prep, Retried(tech.user, NOW))
    prep = tech.advance(prep, 2)  # scan the base, its photo
    prep = tech.weigh(prep, BAG_TARE)
    wrong = formulary.by_ndc_text(WRONG_HEPARIN)
    prep = tech.do(prep, ProductScanned(tech.user, NOW, scan_of(wrong), wrong))
    prep = tech.do(prep, Retried(tech.user, NOW))
    prep = tech.advance(prep, 1)  # the right vial
    prep = tech.do(prep, tech.photo(prep, problem="too blurred to read the lot"))
    assert prep.phase is Phase.HARD_STOP
    prep = tech.do(prep, Retried(tech.user, NOW))
    prep = tech.advance(prep, 1)  # a sharp photo
    prep = tech.weigh(prep, SYRINGE_TARE)
    expected = prep.step.expected_mass
    prep = tech.weigh(prep, SYRINGE_TARE + expected * DRAW_FACTOR)
    assert prep.phase is Phase.HARD_STOP
    prep = service.record_event(PREPARATION, Overridden("rph.lee", NOW, OVERRIDE_REASON),
                                signature=SIGNED_BY_LEE)
    prep = tech.advance(prep, 3)  # the syringe's photo, the injection, the emptied syringe
    drawn = prep.net_mass(7).grams  # what left the syringe: all of the accepted overdraw
    prep = tech.weigh(prep, BAG_TARE + (drawn * FINAL_FACTOR).quantize(Decimal("0.001")))
    prep = tech.run_until(prep, {Phase.AWAITING_VERIFICATION})
    prep = service.record_event(PREPARATION, Verified("rph.ben", NOW), signature=SIGNED_BY_BEN)
    assert prep.phase is Phase.VERIFIED
    return PREPARATION
