"""A PNG picture of the label, as the printer will print it, for the screen.

Draws the elements of :func:`station.devices.labels.layout` at the printer's resolution, one
pixel a dot: boxes and bars with OpenCV, the barcode and the DataMatrix from zxing-cpp's
bitmaps (so the picture scans like the label), the text in Bitstream Vera (shipped with
ReportLab), squeezed where needed to the Helvetica width the layout measured, so no line runs
past where the printed one ends.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import reportlab
import zxingcpp
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from station.core.label import LabelContent, VialLabelContent
from station.devices.labels import (
    PREPARATION_SIZE,
    VIAL_SIZE,
    Barcode,
    Box,
    LabelError,
    LabelSize,
    Matrix,
    Text,
    layout,
    matrix_modules,
    text_width,
)

__all__ = ["render_image", "render_png"]

_FONTS = Path(reportlab.__file__).parent / "fonts"
_PAPER, _INK = 255, 0

Bitmap = NDArray[np.uint8]


def render_png(content: LabelContent | VialLabelContent, size: LabelSize | None = None) -> bytes:
    """The PNG of one label; ``size`` defaults to 4x3 in (a vial: 2.25x1.25 in)."""
    ok, encoded = cv2.imencode(".png", render_image(content, size))
    if not ok:
        raise LabelError("the label preview could not be encoded as PNG")
    return bytes(encoded.tobytes())


def render_image(content: LabelContent | VialLabelContent,
                 size: LabelSize | None = None) -> Bitmap:
    """The label as a grey image, one pixel a printer dot (white paper, black ink)."""
    if size is None:
        size = PREPARATION_SIZE if isinstance(content, LabelContent) else VIAL_SIZE
    image = np.full((size.dots(size.height), size.dots(size.width)), _PAPER, np.uint8)
    for element in layout(content, size):
        if isinstance(element, Box):
            _box(image, element, size)
        elif isinstance(element, Barcode):
            _barcode(image, element, size)
        elif isinstance(element, Matrix):
            _matrix(image, element, size)
    for element in layout(content, size):
        if isinstance(element, Text):
            _text(image, element, size)
    return image


def _box(image: Bitmap, box: Box, size: LabelSize) -> None:
    x, y = size.dots(box.x), size.dots(box.y)
    thickness = max(size.dots(box.thickness), 1)
    right = x + max(size.dots(box.width), thickness) - 1
    bottom = y + max(size.dots(box.height), thickness) - 1
    if box.filled or box.height == 0:
        cv2.rectangle(image, (x, y), (right, bottom), _INK, cv2.FILLED)
    else:
        cv2.rectangle(image, (x, y), (right, bottom), _INK, thickness)


def _barcode(image: Bitmap, barcode: Barcode, size: LabelSize) -> None:
    symbol = zxingcpp.create_barcode(barcode.data, zxingcpp.BarcodeFormat.Code128)
    row = np.asarray(symbol.to_image(scale=1, add_quiet_zones=False), dtype=np.uint8)[0]
    bars = np.repeat(np.where(row < 128, _INK, _PAPER).astype(np.uint8), barcode.module_dots)
    _paste(image, np.repeat(bars[None, :], size.dots(barcode.height), axis=0),
           size.dots(barcode.x), size.dots(barcode.y))


def _matrix(image: Bitmap, matrix: Matrix, size: LabelSize) -> None:
    cells = np.where(matrix_modules(matrix.data), _INK, _PAPER).astype(np.uint8)
    dots = matrix.module_dots
    _paste(image, np.repeat(np.repeat(cells, dots, axis=0), dots, axis=1),
           size.dots(matrix.x), size.dots(matrix.y))


def _text(image: Bitmap, text: Text, size: LabelSize) -> None:
    pixels = max(size.dots(text.size), 6)
    font = _font(text.bold, pixels)
    left, _, right, bottom = (int(v) for v in font.getbbox(text.text))
    if right <= left:
        return
    canvas = Image.new("L", (right, pixels * 2), _PAPER)
    ImageDraw.Draw(canvas).text((0, 0), text.text, font=font, fill=_INK)
    glyphs: Bitmap = np.asarray(canvas, dtype=np.uint8)[: max(bottom, pixels)]
    room = max(size.dots(text_width(text.text, text.size, bold=text.bold)), 1)
    if glyphs.shape[1] > room:
        glyphs = np.asarray(cv2.resize(glyphs, (room, glyphs.shape[0]),
                                       interpolation=cv2.INTER_AREA), dtype=np.uint8)
    x, y = size.dots(text.x), size.dots(text.y)
    height = min(glyphs.shape[0], image.shape[0] - y)
    width = min(glyphs.shape[1], image.shape[1] - x)
    if height <= 0 or width <= 0:
        return
    ink = glyphs[:height, :width] < 128
    area = image[y: y + height, x: x + width]
    area[ink] = _PAPER if text.reverse else _INK


def _paste(image: Bitmap, patch: Bitmap, x: int, y: int) -> None:
    height = min(patch.shape[0], image.shape[0] - y)
    width = min(patch.shape[1], image.shape[1] - x)
    if height > 0 and width > 0:
        image[y: y + height, x: x + width] = patch[:height, :width]


@lru_cache(maxsize=32)
def _font(bold: bool, pixels: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(_FONTS / ("VeraBd.ttf" if bold else "Vera.ttf")), pixels)
