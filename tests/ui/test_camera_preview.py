"""The camera preview shows the frame the right way round, boxes the symbols, says the decision."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QColor

from station.core.acceptance import Status
from station.demo.camera_scene import Label, Scene, render
from station.devices.camera import Frame
from station.devices.decoding import DecodePipeline, Symbol
from ui.widgets.camera_preview import (
    STALE_AFTER_FRAMES,
    CameraPreviewWidget,
    banner_text,
    frame_to_qimage,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def frame(image: np.ndarray, index: int = 1) -> Frame:
    return Frame(image=image, index=index, monotonic=0.0, source="test")


def symbol(corners: tuple[tuple[int, int], ...], text: str = "0304092720013") -> Symbol:
    return Symbol(format="UPC-A", text=text, symbology_identifier="]E0", position=corners,
                  decoder="test")


def test_frame_converts_bgr_to_the_right_colours():
    image = np.zeros((4, 6, 3), np.uint8)
    image[0, 0] = (255, 0, 0)  # BGR blue
    image[1, 2] = (0, 0, 255)  # BGR red
    image[3, 5] = (10, 200, 30)
    qimage = frame_to_qimage(frame(image))
    assert (qimage.width(), qimage.height()) == (6, 4)
    assert qimage.pixelColor(0, 0) == QColor(0, 0, 255)
    assert qimage.pixelColor(2, 1) == QColor(255, 0, 0)
    assert qimage.pixelColor(5, 3) == QColor(30, 200, 10)


def test_painted_frame_keeps_its_colours_and_aspect_ratio(qtbot):
    preview = CameraPreviewWidget()
    qtbot.addWidget(preview)
    preview.resize(800, 800)
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, :] = (0, 0, 200)  # red in BGR
    preview.show_frame(frame(image))
    rect = preview.image_rect()
    assert (rect.x(), rect.y(), rect.width(), rect.height()) == (0, 200, 800, 400)
    grabbed = preview.grab().toImage()
    ratio = grabbed.devicePixelRatio()
    assert grabbed.pixelColor(int(400 * ratio), int(400 * ratio)) == QColor(200, 0, 0)
    assert grabbed.pixelColor(int(400 * ratio), int(100 * ratio)) != QColor(200, 0, 0)


def test_boxes_are_scaled_from_frame_to_widget(qtbot):
    preview = CameraPreviewWidget()
    qtbot.addWidget(preview)
    preview.resize(960, 600)  # a 1280×720 frame scales by 0.75 to 960×540, 30 px above and below
    preview.show_frame(frame(np.zeros((720, 1280, 3), np.uint8), index=7))
    corners = ((100, 200), (500, 200), (500, 300), (100, 300))
    preview.show_symbols(6, [symbol(corners)], "read once — hold steady", Status.PENDING)
    [(polygon, tag)] = preview.visible_symbols()
    expected = [(x * 0.75, 30 + y * 0.75) for x, y in corners]
    assert [(p.x(), p.y()) for p in polygon] == expected  # 0.75 is exact in binary
    assert tag == "UPC-A 0304092720013"
    assert preview.banner == "… LOOKING — read once — hold steady"


def test_tags_and_banner_say_the_decision(qtbot):
    preview = CameraPreviewWidget()
    qtbot.addWidget(preview)
    preview.resize(960, 540)
    preview.show_frame(frame(np.zeros((540, 960, 3), np.uint8)))
    corners = ((10, 10), (50, 10), (50, 50), (10, 50))
    preview.show_symbols(1, [symbol(corners), symbol(corners, "\x1d0100304092720013")],
                         "barcodes on this vial disagree", Status.REFUSED)
    assert [tag for _, tag in preview.visible_symbols()] == [
        "UPC-A 0304092720013", "UPC-A 0100304092720013"]
    assert preview.banner == "✖ REFUSED — barcodes on this vial disagree"
    preview.show_symbols(1, [symbol(corners)], "lidocaine 2 %", Status.ACCEPTED,
                         tags=["NDC 0409-4888-02"])
    assert [tag for _, tag in preview.visible_symbols()] == ["NDC 0409-4888-02"]
    assert banner_text(Status.ACCEPTED, "lidocaine 2 %") == "✔ ACCEPTED — lidocaine 2 %"
    with pytest.raises(ValueError, match="expected 1 tags, got 2"):
        preview.show_symbols(1, [symbol(corners)], "", Status.PENDING, tags=["a", "b"])


def test_lagging_symbols_are_drawn_on_the_latest_frame_until_stale(qtbot):
    preview = CameraPreviewWidget()
    qtbot.addWidget(preview)
    preview.show_frame(frame(np.zeros((90, 160, 3), np.uint8), index=10))
    preview.show_symbols(8, [symbol(((1, 1), (5, 1), (5, 5), (1, 5)))], "", Status.PENDING)
    assert len(preview.visible_symbols()) == 1
    preview.show_frame(frame(np.zeros((90, 160, 3), np.uint8), index=9 + STALE_AFTER_FRAMES))
    assert len(preview.visible_symbols()) == 0


def test_lost_overlay_until_the_next_frame(qtbot):
    preview = CameraPreviewWidget()
    qtbot.addWidget(preview)
    preview.resize(960, 540)
    preview.show_frame(frame(np.full((90, 160, 3), 255, np.uint8)))
    preview.show_lost("USB camera unplugged")
    assert preview.lost_text == "✖ camera LOST: USB camera unplugged"
    grabbed = preview.grab().toImage()
    ratio = grabbed.devicePixelRatio()
    # The picture is dimmed under the overlay: no longer white.
    assert grabbed.pixelColor(int(20 * ratio), int(20 * ratio)).lightness() < 100
    ARTIFACTS.mkdir(exist_ok=True)
    assert preview.grab().save(str(ARTIFACTS / "camera_preview_lost.png"))
    preview.show_frame(frame(np.full((90, 160, 3), 255, np.uint8), index=2))
    assert preview.lost_text == ""


def test_screenshot_of_a_rendered_scene(qtbot):
    label = Label(ndc10="0409-4888-02", name="Lidocaine HCl", strength="2% 100 mg/5 mL",
                  manufacturer="Hospira, Inc.", lot="AB1234", expiry=dt.date(2028, 2, 29),
                  serial="100000234567")
    image = render(Scene(labels=(label,)), (1280, 720), np.random.default_rng(0))
    symbols = DecodePipeline().decode(image)
    assert symbols
    preview = CameraPreviewWidget()
    qtbot.addWidget(preview)
    preview.resize(960, 540)
    preview.show_frame(frame(image, index=42))
    preview.show_symbols(41, symbols, "read once — hold steady", Status.PENDING)
    assert len(preview.visible_symbols()) == len(symbols)
    ARTIFACTS.mkdir(exist_ok=True)
    assert preview.grab().save(str(ARTIFACTS / "camera_preview.png"))
