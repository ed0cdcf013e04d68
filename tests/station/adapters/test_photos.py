"""Step photos: assessment separates good frames from blurred, dark, bright and glaring ones."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import cv2
import numpy as np
import pytest

from station.demo.camera import SimulatedCamera
from station.demo.camera_scene import Label, Scene, render
from station.devices.camera import Frame
from station.devices.photos import (
    MAX_BRIGHTNESS,
    MAX_CLIPPED,
    MIN_BRIGHTNESS,
    MIN_SHARPNESS,
    Photo,
    PhotoQuality,
    PhotoRejected,
    assess,
    capture,
)

VIAL = Label(ndc10="0409-4888-02", name="Lidocaine HCl", strength="2% 100 mg/5 mL",
             manufacturer="Hospira, Inc.", lot="AB1234", expiry=dt.date(2028, 2, 29),
             serial="100000234567")
BAG = Label(ndc10="0338-0049-48", name="Sodium Chloride 0.9%", strength="100 mL",
            manufacturer="Baxter", lot="P123456", expiry=dt.date(2027, 6, 30), serial="SN88",
            container="bag")
UTC_NOW = dt.datetime(2026, 11, 26, 15, 30, 5, 250000, tzinfo=dt.UTC)


def image_of(labels: tuple[Label, ...] = (VIAL,), **knobs: float) -> np.ndarray:
    return render(Scene(labels=labels, **knobs), (1280, 720), np.random.default_rng(0))


def frame_of(image: np.ndarray, index: int = 7) -> Frame:
    return Frame(image, index, 1234.5, "simulated camera")


# ---------------------------------------------------------------- assess


@pytest.mark.parametrize("labels", [(VIAL,), (BAG,), (VIAL, BAG)], ids=["vial", "bag", "both"])
@pytest.mark.parametrize("knobs", [{}, {"blur": 1.0}, {"blur": 1.5}, {"motion": 5.0},
                                   {"noise": 8.0}, {"exposure": 0.5}, {"glare": 0.2},
                                   {"curvature": 0.8, "rotation": 10.0}],
                         ids=["clean", "blur1", "blur1.5", "motion5", "noisy", "dim",
                              "slight-glare", "curved"])
def test_good_frames_pass(labels, knobs):
    quality = assess(image_of(labels, **knobs))
    assert (quality.ok, quality.problem) == (True, None)
    assert quality.sharpness >= MIN_SHARPNESS
    assert MIN_BRIGHTNESS <= quality.brightness <= MAX_BRIGHTNESS
    assert quality.clipped <= MAX_CLIPPED


def test_a_sharp_frame_measures_far_from_every_threshold():
    quality = assess(image_of())
    assert quality.sharpness > 5 * MIN_SHARPNESS
    assert 140 < quality.brightness < 180
    assert quality.clipped == 0.0


@pytest.mark.parametrize("labels", [(VIAL,), (BAG,), (VIAL, BAG)], ids=["vial", "bag", "both"])
@pytest.mark.parametrize("knobs", [{"blur": 2.0}, {"blur": 4.0}, {"motion": 12.0},
                                   {"motion": 30.0}, {"blur": 3.0, "noise": 15.0}],
                         ids=["blur2", "blur4", "motion12", "motion30", "blur3-noisy"])
def test_blurred_frames_are_refused_as_too_blurry(labels, knobs):
    quality = assess(image_of(labels, **knobs))
    assert not quality.ok
    assert quality.problem == (
        "too blurry: hold the vial still and refocus "
        f"(sharpness {quality.sharpness:.0f} < 300)")


def test_the_blurry_text_carries_the_measured_figure():
    quality = assess(image_of(blur=4.0))
    assert re.fullmatch(r"too blurry: hold the vial still and refocus \(sharpness (\d+) < 300\)",
                        quality.problem or "")
    assert 10 < quality.sharpness < 60


@pytest.mark.parametrize("smear", [(1, 15), (15, 1)], ids=["horizontal", "vertical"])
def test_a_smear_is_refused_although_the_plain_laplacian_stays_high(smear):
    image = image_of(noise=0.0)
    smeared = cv2.filter2D(image, -1, np.full(smear, 1 / 15, np.float32))
    grey = cv2.resize(cv2.cvtColor(smeared, cv2.COLOR_BGR2GRAY), (640, 360),
                      interpolation=cv2.INTER_AREA)
    assert cv2.Laplacian(grey, cv2.CV_64F).var() > MIN_SHARPNESS
    assert (assess(smeared).problem or "").startswith("too blurry: ")


@pytest.mark.parametrize("exposure", [0.1, 0.2, 0.3])
def test_dark_frames_are_refused_as_too_dark(exposure):
    quality = assess(image_of(exposure=exposure))
    assert quality.problem == (
        "too dark: turn on the hood light or raise the camera's exposure "
        f"(brightness {quality.brightness:.0f} < 55)")


def test_darkness_is_reported_before_the_blur_it_also_causes():
    quality = assess(image_of(exposure=0.25, blur=3.0))
    assert quality.sharpness < MIN_SHARPNESS
    assert (quality.problem or "").startswith("too dark: ")


@pytest.mark.parametrize("exposure", [1.6, 2.5])
def test_overexposed_frames_are_refused_as_too_bright(exposure):
    quality = assess(image_of(exposure=exposure))
    assert quality.problem == (
        "too bright: lower the camera's exposure or dim the light "
        f"(brightness {quality.brightness:.0f} > 215)")


@pytest.mark.parametrize(("labels", "glare"), [((VIAL,), 0.8), ((VIAL,), 1.0), ((BAG,), 1.0),
                                               ((VIAL, BAG), 0.6)])
def test_glaring_frames_are_refused_with_what_to_do(labels, glare):
    quality = assess(image_of(labels, glare=glare))
    assert quality.problem == (
        "glare: tilt the container or move the light until no white shine covers the label "
        f"({quality.clipped:.1%} of pixels clipped > 1%)")
    assert quality.sharpness >= MIN_SHARPNESS  # glare, not blur, is what is wrong


def test_a_vial_with_strong_glare_reports_the_exact_figures():
    quality = assess(image_of(glare=1.0))
    assert quality.problem == (
        "glare: tilt the container or move the light until no white shine covers the label "
        "(2.2% of pixels clipped > 1%)")


def test_crushed_shadows_are_told_apart_from_glare():
    image = image_of()
    image[:60, :] = 0  # a black band across the top: shadows clipped, no highlights
    quality = assess(image)
    assert quality.problem == (
        "shadows clipped to black: add diffuse light or raise the exposure "
        f"({quality.clipped:.1%} of pixels clipped > 1%)")


def test_a_grey_image_is_assessed_like_its_colour_original():
    image = image_of()
    colour = assess(image)
    grey = assess(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    assert grey == colour


def test_sharpness_does_not_depend_on_the_camera_resolution():
    small = assess(render(Scene(labels=(VIAL,)), (1280, 720), np.random.default_rng(0)))
    large = assess(render(Scene(labels=(VIAL,)), (1920, 1080), np.random.default_rng(0)))
    assert large.sharpness == pytest.approx(small.sharpness, rel=0.25)


def test_assess_refuses_what_is_not_an_image():
    with pytest.raises(ValueError, match=r"^expected a uint8 grey or BGR image, got float64"):
        assess(np.zeros((10, 10, 3)))


def test_quality_is_a_frozen_value():
    quality = assess(image_of())
    assert isinstance(quality, PhotoQuality)
    with pytest.raises(AttributeError):
        quality.ok = False  # type: ignore[misc]


# ---------------------------------------------------------------- capture


def test_capture_encodes_a_good_frame_with_its_metadata_and_digest():
    image = image_of()
    photo = capture(frame_of(image), step="vial-scan:1", station_id="hood-2", utc=UTC_NOW)
    assert isinstance(photo, Photo)
    assert photo.jpeg.startswith(b"\xff\xd8\xff")
    assert photo.sha256 == hashlib.sha256(photo.jpeg).hexdigest()
    assert (photo.width, photo.height) == (1280, 720)
    decoded = cv2.imdecode(np.frombuffer(photo.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == image.shape
    assert np.abs(decoded.astype(np.int16) - image.astype(np.int16)).mean() < 3
    quality = assess(image)
    assert photo.metadata == {
        "utc": "2026-11-26T15:30:05.250000+00:00",
        "source": "simulated camera",
        "frame_index": 7,
        "frame_monotonic": 1234.5,
        "step": "vial-scan:1",
        "station_id": "hood-2",
        "width": 1280,
        "height": 720,
        "jpeg_quality": 90,
        "sharpness": round(quality.sharpness, 1),
        "brightness": round(quality.brightness, 1),
        "clipped": round(quality.clipped, 5),
    }


def test_the_same_frame_gives_the_same_bytes_and_digest():
    image = image_of()
    first = capture(frame_of(image), step="s", station_id="h", utc=UTC_NOW)
    second = capture(frame_of(image), step="s", station_id="h", utc=UTC_NOW)
    assert (first.jpeg, first.sha256) == (second.jpeg, second.sha256)
    other = capture(frame_of(image_of(noise=5.0)), step="s", station_id="h", utc=UTC_NOW)
    assert other.sha256 != first.sha256


def test_capture_works_on_frames_from_the_simulated_camera():
    camera = SimulatedCamera(Scene(labels=(VIAL, BAG)), seed=3)
    frame = camera.read()
    assert frame is not None
    photo = capture(frame, step="final-bag", station_id="hood-1", utc=UTC_NOW)
    assert photo.metadata["frame_index"] == 0
    assert photo.metadata["source"] == "simulated camera"


@pytest.mark.parametrize("knobs", [{"blur": 3.0}, {"exposure": 0.2}, {"glare": 1.0},
                                   {"exposure": 2.0}], ids=["blurry", "dark", "glare", "bright"])
def test_capture_refuses_a_bad_frame_with_the_assessment_problem(knobs):
    image = image_of(**knobs)
    quality = assess(image)
    with pytest.raises(PhotoRejected) as refused:
        capture(frame_of(image), step="s", station_id="h", utc=UTC_NOW)
    assert str(refused.value) == refused.value.problem == quality.problem
    assert refused.value.quality == quality


@pytest.mark.parametrize(
    ("utc", "message"),
    [
        (dt.datetime(2026, 11, 26, 15, 30),  # noqa: DTZ001 - a naive time is the point
         "utc must be a timezone-aware time in UTC, got 2026-11-26T15:30:00"),
        (dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=-6))),
         "utc must be a timezone-aware time in UTC, got 2026-11-26T09:30:00-06:00"),
    ],
    ids=["naive", "local"],
)
def test_capture_wants_an_aware_utc_time(utc, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        capture(frame_of(image_of()), step="s", station_id="h", utc=utc)


@pytest.mark.parametrize(("step", "station_id", "message"),
                         [(" ", "h", "a photo needs the step it documents"),
                          ("s", "", "a photo needs the station id")])
def test_capture_wants_a_step_and_a_station(step, station_id, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        capture(frame_of(image_of()), step=step, station_id=station_id, utc=UTC_NOW)
