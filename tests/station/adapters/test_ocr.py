"""Printed lot and expiry read from simulated hood frames; refusals; the opened-vial sticker."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

import cv2
import numpy as np
import pytesseract
import pytest

from station.core.printed_lot import PrintedLot, RefusalKind
from station.demo import camera_scene
from station.demo.camera_scene import Label, Scene, Sticker, render
from station.devices import ocr
from station.devices.decoding import DecodePipeline
from station.devices.ocr import TesseractMissing, read_printed_lot

SIZE = (1280, 720)
VIAL = Label(
    ndc10="0409-4888-02", name="Lidocaine HCl", strength="2% 100 mg/5 mL",
    manufacturer="Hospira", lot="AB1234", expiry=dt.date(2028, 2, 29), datamatrix=False,
)
BAG = Label(
    ndc10="0338-0049-48", name="Sodium Chloride 0.9%", strength="100 mL",
    manufacturer="Baxter", lot="P123456", expiry=dt.date(2027, 6, 30), container="bag",
    datamatrix=False, expiry_style="mon yyyy", lot_caption="Lot:",
)


def frame(scene: Scene, seed: int = 0) -> np.ndarray:
    return render(scene, SIZE, np.random.default_rng(seed))


@pytest.mark.parametrize(
    ("scene", "lot", "expiry"),
    [
        (Scene(labels=(VIAL,)), "AB1234", dt.date(2028, 2, 29)),
        (Scene(labels=(VIAL,), blur=0.8, rotation=5.0, curvature=0.4, noise=4.0),
         "AB1234", dt.date(2028, 2, 29)),
        (Scene(labels=(BAG,), rotation=-8.0, noise=3.0), "P123456", dt.date(2027, 6, 30)),
        (Scene(labels=(replace(VIAL, expiry_style="ddmonyyyy", lot_caption="LOT/BATCH"),),
               exposure=0.7, noise=5.0), "AB1234", dt.date(2028, 2, 29)),
        (Scene(labels=(replace(VIAL, expiry_style="mm/yyyy"),), blur=1.2),
         "AB1234", dt.date(2028, 2, 29)),
        (Scene(labels=(replace(VIAL, datamatrix=True, serial="1000023"),), rotation=3.0),
         "AB1234", dt.date(2028, 2, 29)),
    ],
    ids=["clean", "moderate", "bag-rotated", "dim-ddmonyyyy", "blur-mm/yyyy", "with-datamatrix"],
)
def test_the_printed_lot_and_expiry_are_read_exactly(scene, lot, expiry):
    result = read_printed_lot(frame(scene, seed=1))
    read = result.printed_lot
    assert read is not None, result.reason
    assert (str(read.lot), read.expiry.date) == (lot, expiry)
    assert read.confidence >= 80
    assert lot in read.text
    assert result.seconds < 3.0


def test_two_containers_with_different_lots_are_refused():
    result = read_printed_lot(frame(Scene(labels=(VIAL, BAG))))
    assert result.printed_lot is None
    assert result.outcome.kind is RefusalKind.AMBIGUOUS  # type: ignore[union-attr]
    assert result.reason == "two different lots in view: AB1234, P123456"


@pytest.mark.parametrize(
    "damage",
    [
        lambda image: cv2.rectangle(image, (489, 364), (509, 371), (240, 240, 236), -1),
        lambda image: cv2.circle(image, (500, 372), 6, (30, 30, 30), -1),
        lambda image: cv2.rectangle(image, (480, 370), (525, 380), (240, 240, 236), -1),
    ],
    ids=["scratched", "blotted", "half-erased"],
)
def test_a_damaged_lot_is_refused_not_guessed(damage):
    image = frame(Scene(labels=(VIAL,)))
    damage(image)
    result = read_printed_lot(image)
    assert result.printed_lot is None, result.printed_lot
    assert result.outcome.kind is not RefusalKind.AMBIGUOUS  # type: ignore[union-attr]


def test_an_empty_hood_has_nothing_to_read():
    result = read_printed_lot(frame(Scene()))
    assert result.reason == "no printed lot or expiry found"


def test_the_opened_vial_sticker_decodes_with_the_station_decoders():
    sticker = Sticker("OV-1234", ("OPENED 2026-12-07 09:14", "BUD 2026-12-07 21:14",
                                  "vial OV-1234"))
    scene = Scene(labels=(replace(VIAL, sticker=sticker, datamatrix=True, serial="9"),),
                  curvature=0.3, noise=3.0)
    symbols = DecodePipeline().decode(frame(scene))
    matrices = sorted(s.text for s in symbols if s.is_matrix)
    assert "OV-1234" in matrices
    assert len(matrices) == 2  # the sticker's and the label's GS1 DataMatrix


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"payload": ""}, "sticker payload '': expected printable ASCII text"),
        ({"payload": "x" * 41},
         "sticker payload has 41 characters: at most 40 fit the sticker's DataMatrix"),
        ({"payload": "OV-1", "lines": ("a", "b", "c", "d")},
         "a sticker prints at most 3 lines, got 4"),
    ],
)
def test_a_sticker_refuses_what_it_cannot_carry(fields, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        Sticker(**fields)


def test_a_sticker_goes_on_a_vial_and_month_only_expiry_needs_the_last_day():
    with pytest.raises(ValueError, match=r"^an opened-vial sticker goes on a vial, not a bag$"):
        replace(BAG, sticker=Sticker("OV-1"))
    with pytest.raises(ValueError, match="would read as the last day of its month"):
        replace(VIAL, expiry=dt.date(2028, 2, 15), expiry_style="mon yyyy")


def test_a_missing_tesseract_names_the_package_to_install(monkeypatch):
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    ocr.tesseract_version.cache_clear()
    try:
        with pytest.raises(TesseractMissing, match="install the Debian package tesseract-ocr"):
            read_printed_lot(frame(Scene()))
    finally:
        ocr.tesseract_version.cache_clear()


def test_a_printed_lot_carries_what_the_technician_is_shown():
    read = read_printed_lot(frame(Scene(labels=(VIAL,)))).printed_lot
    assert isinstance(read, PrintedLot)
    assert (str(read.lot), str(read.expiry), read.text) == (
        "AB1234", "2028-02-29", "LOT AB1234 / EXP 2028-02-29")
    assert 0 <= read.confidence <= 100


def test_without_the_dejavu_fonts_labels_fall_back_and_say_which_package(monkeypatch, caplog):
    monkeypatch.setattr(camera_scene, "FONT_DIR", camera_scene.Path("/nonexistent/fonts"))
    camera_scene._fonts_installed.cache_clear()
    try:
        label = replace(VIAL, lot="FALLBACK1")
        image = frame(Scene(labels=(label,)))
        assert image.shape == (720, 1280, 3)
        assert "install the Debian package fonts-dejavu-core" in caplog.text
    finally:
        camera_scene._fonts_installed.cache_clear()
        camera_scene._flat_label.cache_clear()
        camera_scene._container.cache_clear()
        camera_scene._clean_frame.cache_clear()
