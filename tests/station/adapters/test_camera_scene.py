"""The simulated scene: labels that real decoders read, and knobs that really degrade them."""

from __future__ import annotations

import datetime as dt
import re
import statistics
import time
from dataclasses import replace

import numpy as np
import pytest
import zxingcpp

from station.core.identifiers import Gtin
from station.core.scan import ScanIdentity, parse_scan
from station.demo.camera_scene import Label, Scene, render

SIZE = (1280, 720)
LIDOCAINE = Label(
    ndc10="0409-4888-02", name="Lidocaine HCl", strength="2% 100 mg/5 mL",
    manufacturer="Hospira, Inc.", lot="AB1234", expiry=dt.date(2028, 2, 29),
    serial="100000234567",
)
SALINE_BAG = Label(
    ndc10="0338-0049-48", name="Sodium Chloride 0.9%", strength="100 mL",
    manufacturer="Baxter", lot="P123456", expiry=dt.date(2027, 6, 30), serial="SN88",
    container="bag",
)
# Blur, rotation, curvature, noise and glare together, as a hand-held vial under the hood.
MODERATE = {"blur": 0.8, "rotation": 5.0, "curvature": 0.4, "noise": 4.0, "glare": 0.2}


def frame(scene: Scene, seed: int = 0, size: tuple[int, int] = SIZE) -> np.ndarray:
    return render(scene, size, np.random.default_rng(seed))


def decode(image: np.ndarray) -> list[ScanIdentity]:
    """What zxing-cpp reads, parsed as the station parses a scan (symbology prefix included)."""
    found = zxingcpp.read_barcodes(image, text_mode=zxingcpp.TextMode.Plain)
    return [parse_scan(b.symbology_identifier + b.text, reference_year=2026) for b in found]


def by_symbology(identities: list[ScanIdentity]) -> dict[str | None, list[ScanIdentity]]:
    grouped: dict[str | None, list[ScanIdentity]] = {}
    for identity in identities:
        grouped.setdefault(identity.symbology, []).append(identity)
    return grouped


# ---------------------------------------------------------------- labels


def test_a_label_derives_its_barcode_contents_from_the_ndc():
    assert LIDOCAINE.gtin == Gtin("00304094888026")
    assert LIDOCAINE.upc_a == "304094888026"
    assert LIDOCAINE.gs1_hri == "(01)00304094888026(17)280229(10)AB1234(21)100000234567"
    assert LIDOCAINE.gs1_data == "01003040948880261728022910AB1234\x1d21100000234567"
    assert LIDOCAINE.ndc_text == "NDC 0409-4888-02"


def test_a_label_may_carry_only_a_gtin_and_print_its_ndc_digits():
    label = Label(gtin14="00304094888026", lot="L1")
    assert label.ndc_text == "NDC 0409488802"
    assert label.gs1_data == "0100304094888026" "10L1"
    assert Label(gtin14="04012345678901", linear=False).ndc_text == "GTIN 04012345678901"


def test_a_label_without_a_datamatrix_has_no_gs1_data_and_one_without_bars_no_upc():
    assert replace(LIDOCAINE, datamatrix=False).gs1_data is None
    assert replace(LIDOCAINE, datamatrix=False).gs1_hri is None
    assert replace(LIDOCAINE, linear=False).upc_a is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "a label needs an ndc10 or a gtin14"),
        ({"ndc10": "0409-4888"}, "label NDC '0409-4888': expected 10 digits"),
        ({"ndc10": "0409-48880-2"}, "label NDC '0409-48880-2': expected 4-4-2, 5-3-2 or 5-4-1"),
        ({"gtin14": "10304094888023"},
         "GTIN 10304094888023 has no UPC-A form; set linear=False for a higher packaging level"),
        ({"ndc10": "0409488802", "container": "syringe"},
         "container 'syringe': expected 'vial' or 'bag'"),
        ({"ndc10": "0409488802", "lot": "AB 12"},
         "lot 'AB 12' contains ' ', which GS1 does not allow"),
    ],
)
def test_a_label_refuses_what_no_package_could_carry(fields, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        Label(**fields)


def test_a_label_is_made_from_a_formulary_product(formulary):
    heparin = next(p for p in formulary if str(p.ndc) == "0409-2720-01")
    label = Label.for_product(heparin, lot="H77", expiry=dt.date(2027, 1, 31), serial="9")
    assert label.ndc10 == "0409-2720-01"
    assert label.gtin == heparin.ndc.gtin()
    assert (label.name, label.strength, label.manufacturer) == (
        "Heparin Sodium", "5,000 units/mL", "Hospira")
    assert label.container == "vial"
    saline = next(p for p in formulary if str(p.ndc) == "0338-0049-48")
    assert Label.for_product(saline).container == "bag"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"labels": (LIDOCAINE,) * 3}, "at most 2 labels fit in view, got 3"),
        ({"blur": -1.0}, "blur must not be negative, got -1.0"),
        ({"glare": 1.5}, "glare must be within 0–1, got 1.5"),
        ({"curvature": -0.1}, "curvature must be within 0–1, got -0.1"),
        ({"exposure": 0.0}, "exposure must be greater than zero, got 0.0"),
    ],
)
def test_a_scene_refuses_impossible_settings(fields, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        Scene(**fields)


# ---------------------------------------------------------------- rendering and decoding


def test_a_clean_vial_decodes_to_the_exact_gtin_lot_expiry_and_serial():
    found = by_symbology(decode(frame(Scene(labels=(LIDOCAINE,)))))
    assert set(found) == {"]d2", "]E0"}
    (matrix,) = found["]d2"]
    assert matrix.raw == "]d2" + LIDOCAINE.gs1_data
    assert matrix.gtin == LIDOCAINE.gtin
    assert str(matrix.lot) == "AB1234"
    assert matrix.expiry is not None and matrix.expiry.date == dt.date(2028, 2, 29)
    assert str(matrix.serial) == "100000234567"
    (linear,) = found["]E0"]
    assert linear.gtin == LIDOCAINE.gtin
    assert linear.ndc10 == "0409488802"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_both_barcodes_still_decode_at_moderate_distortion(seed):
    found = by_symbology(decode(frame(Scene(labels=(LIDOCAINE,), **MODERATE), seed)))
    assert [m.raw for m in found["]d2"]] == ["]d2" + LIDOCAINE.gs1_data]
    assert [u.gtin for u in found["]E0"]] == [LIDOCAINE.gtin]


def test_a_bag_and_a_vial_in_view_decode_as_four_barcodes():
    identities = decode(frame(Scene(labels=(LIDOCAINE, SALINE_BAG))))
    assert sorted((i.symbology or "", str(i.gtin)) for i in identities) == [
        ("]E0", "00303380049486"), ("]E0", "00304094888026"),
        ("]d2", "00303380049486"), ("]d2", "00304094888026"),
    ]
    lots = {str(i.lot) for i in identities if i.lot is not None}
    assert lots == {"AB1234", "P123456"}


def test_a_label_whose_barcodes_disagree_yields_two_different_gtins():
    other = str(Gtin.from_ndc10("0409488810"))
    label = replace(LIDOCAINE, linear_gtin_override=other)
    found = by_symbology(decode(frame(Scene(labels=(label,)))))
    assert [m.gtin for m in found["]d2"]] == [LIDOCAINE.gtin]
    assert [str(u.gtin) for u in found["]E0"]] == [other]


@pytest.mark.parametrize(
    "knob", [{"blur": 3.0}, {"blur": 5.0}, {"motion": 14.0}], ids=["blur3", "blur5", "motion14"]
)
def test_heavy_blur_or_motion_leaves_nothing_to_decode(knob):
    assert decode(frame(Scene(labels=(LIDOCAINE,), **knob))) == []


def test_strong_glare_wipes_out_the_upc_before_the_datamatrix():
    found = by_symbology(decode(frame(Scene(labels=(LIDOCAINE,), glare=1.0))))
    assert set(found) == {"]d2"}


def test_an_empty_hood_has_no_barcodes():
    assert decode(frame(Scene())) == []


def test_a_larger_frame_scales_the_containers_and_still_decodes():
    image = frame(Scene(labels=(LIDOCAINE,)), size=(1920, 1080))
    assert image.shape == (1080, 1920, 3)
    assert {i.symbology for i in decode(image)} == {"]d2", "]E0"}


def test_render_returns_a_bgr_uint8_frame_of_the_asked_size():
    image = frame(Scene(labels=(LIDOCAINE,)), size=(640, 360))
    assert image.shape == (360, 640, 3)
    assert image.dtype == np.uint8
    assert image.flags.writeable


def test_the_same_seed_gives_the_same_frame_and_noise_differs_between_frames():
    scene = Scene(labels=(LIDOCAINE,), noise=6.0)
    assert np.array_equal(frame(scene, seed=3), frame(scene, seed=3))
    rng = np.random.default_rng(3)
    first, second = render(scene, SIZE, rng), render(scene, SIZE, rng)
    assert not np.array_equal(first, second)
    spread = np.abs(first.astype(np.int16) - second.astype(np.int16)).mean()
    assert 2.0 < spread < 12.0


def test_without_noise_every_frame_is_identical():
    scene = Scene(labels=(LIDOCAINE,), noise=0.0)
    rng = np.random.default_rng(0)
    assert np.array_equal(render(scene, SIZE, rng), render(scene, SIZE, rng))


def test_drawing_on_a_rendered_frame_does_not_change_the_next_one():
    scene = Scene(labels=(LIDOCAINE,), noise=0.0)
    first = frame(scene)
    first[:] = 0
    assert frame(scene).mean() > 100


def test_exposure_scales_brightness_and_rotation_moves_the_label():
    base = frame(Scene(labels=(LIDOCAINE,), noise=0.0)).astype(np.float32)
    dim = frame(Scene(labels=(LIDOCAINE,), noise=0.0, exposure=0.5)).astype(np.float32)
    assert dim.mean() == pytest.approx(base.mean() * 0.5, rel=0.02)
    tilted = frame(Scene(labels=(LIDOCAINE,), noise=0.0, rotation=20.0)).astype(np.float32)
    assert np.abs(tilted - base).mean() > 10


def test_render_time_stays_in_a_loose_budget():
    scene = Scene(labels=(LIDOCAINE, SALINE_BAG), **MODERATE)
    rng = np.random.default_rng(0)
    render(scene, SIZE, rng)
    times = []
    for _ in range(20):
        start = time.perf_counter()
        render(scene, SIZE, rng)
        times.append(time.perf_counter() - start)
    # A loose sanity bound (the design target is well under 30 ms at 1280×720).
    assert statistics.median(times) < 0.1
