"""Read the lot and expiry printed on a vial or bag label from a camera frame, offline.

For a product whose barcode is a linear UPC-A of its NDC only, the lot and expiry exist only
as print. :func:`read_printed_lot` finds them in the frame the barcode was read from:

1. Grayscale; frames wider than :data:`_MAX_SIDE` are scaled down first.
2. Find text lines: a black-hat filter brings out dark print on a light ground, a short
   horizontal closing joins the letters of a line, and each joined blob that is line-shaped
   (at least :data:`_MIN_ASPECT` times as long as tall, :data:`_MIN_LINE_PX`–
   :data:`_MAX_LINE_PX` tall, not spanning the frame) becomes a line. Barcodes and the
   DataMatrix are too tall or too square to pass, so they never reach the OCR engine (they
   would cost it most of its time and add noise).
3. Each line is cut out along its own tilt (so a rotated vial reads level), scaled so its
   letters are about :data:`_LINE_HEIGHT` px tall — what Tesseract reads best — and all are
   stacked into one image with white gaps, so the engine starts once per frame.
4. Tesseract (through pytesseract, LSTM engine, page-segmentation mode 6: one uniform block)
   returns words with confidences, grouped into lines;
   :func:`station.core.printed_lot.parse_printed_lot` takes the lot and expiry, or refuses.

Nothing read here is used unseen: the station shows the lot, the expiry and the confidence
(:class:`OcrResult`) to the technician, who confirms them against the label with Enter, and
the parser refuses what is ambiguous or unsure (see :mod:`station.core.printed_lot`).

Needs the ``tesseract`` program with its English data (Debian package ``tesseract-ocr``);
without it :func:`read_printed_lot` raises :class:`TesseractMissing`.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import time
from dataclasses import dataclass
from typing import Any, Final

import cv2
import numpy as np
import pytesseract
from numpy.typing import NDArray

from station.core.printed_lot import PrintedLot, Refusal, Word, parse_printed_lot

__all__ = ["OcrResult", "OcrWord", "TesseractMissing", "read_printed_lot", "tesseract_version"]

TESSERACT_PACKAGE: Final = "tesseract-ocr"
Gray = NDArray[np.uint8]

_MAX_SIDE: Final = 1600  # larger frames are scaled down to this longer side first
_BLACKHAT_PX: Final = 25  # wider than a stroke, narrower than a label: print stands out
_CLOSE_PX: Final = (5, 3)  # joins the letters of a word, not lines to each other
_WORD_GAP: Final = 1.6  # a line's words are joined across gaps up to this many letter heights
_MIN_LINE_PX: Final = 7
_MAX_LINE_PX: Final = 70
_MIN_ASPECT: Final = 1.8
_MAX_SPAN: Final = 0.7  # of the frame's width: the perforated back wall, not print
_MIN_FILL: Final = 0.35  # of a blob's rectangle covered by it: print is dense
_MAX_INK: Final = 0.8  # of a line's area inked before joining words: a solid bar
_PATTERN_BLOBS: Final = 8  # this many blobs all alike in a line: a pattern (holes), not print
_PATTERN_SPREAD: Final = 0.35  # "alike": their widths and heights vary less than this (CV)
_MAX_LINES: Final = 40
_LINE_HEIGHT: Final = 36  # px of a line's blob after scaling, a little above Tesseract's best
_PAD: Final = 0.35  # of a line's height, around it, so no letter is clipped
_GAP: Final = 14  # white rows between stacked lines
_CONFIG: Final = "--oem 1 --psm 6"

# Tesseract's OpenMP threads spin while waiting; on a two-core station busy with the camera
# and the window that made one read 3× slower (1.0 s against 0.32 s measured), so the
# tesseract processes started from here use one thread.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")


class TesseractMissing(RuntimeError):
    """The tesseract program (or its English data) is not installed."""


@dataclass(frozen=True)
class OcrWord:
    """A word Tesseract saw: its text, confidence (0–100) and line number in the stack."""

    text: str
    confidence: float
    line: int


@dataclass(frozen=True)
class OcrResult:
    """What was read from a frame: the lot and expiry, or why none; the words; the time.

    ``outcome`` is a :class:`~station.core.printed_lot.PrintedLot` (lot, expiry, the text
    it came from, confidence) to show the technician for confirmation, or a
    :class:`~station.core.printed_lot.Refusal` with the reason to show instead.
    """

    outcome: PrintedLot | Refusal
    words: tuple[OcrWord, ...]
    lines_found: int
    seconds: float

    @property
    def printed_lot(self) -> PrintedLot | None:
        """The lot and expiry read, or None when refused."""
        return self.outcome if isinstance(self.outcome, PrintedLot) else None

    @property
    def reason(self) -> str | None:
        """Why nothing was taken, or None when a lot and expiry were read."""
        return self.outcome.reason if isinstance(self.outcome, Refusal) else None


@functools.lru_cache(maxsize=1)
def tesseract_version() -> str:
    """The installed Tesseract's version; raises :class:`TesseractMissing` without one."""
    command = pytesseract.pytesseract.tesseract_cmd
    if shutil.which(command) is None:
        raise TesseractMissing(
            f"the OCR program {command!r} is not installed: install the Debian package "
            f"{TESSERACT_PACKAGE} (apt-get install {TESSERACT_PACKAGE})"
        )
    try:
        languages = pytesseract.get_languages(config="")
    except pytesseract.TesseractError as error:
        raise TesseractMissing(f"tesseract does not run: {error}") from None
    if "eng" not in languages:
        raise TesseractMissing(
            f"tesseract has no English data: install the Debian package {TESSERACT_PACKAGE}"
        )
    return str(pytesseract.get_tesseract_version())


def read_printed_lot(image: NDArray[Any]) -> OcrResult:
    """Read the printed lot and expiry in a BGR (or grey) frame; see the module docstring."""
    tesseract_version()
    started = time.perf_counter()
    gray = _gray(image)
    lines = find_text_lines(gray)
    if not lines:
        outcome = parse_printed_lot([])
        return OcrResult(outcome, (), 0, time.perf_counter() - started)
    stack = _stack([_cut(gray, rect) for rect in lines])
    words = _recognise(stack)
    grouped: dict[int, list[Word]] = {}
    for word in words:
        grouped.setdefault(word.line, []).append(Word(word.text, word.confidence))
    outcome = parse_printed_lot(grouped[number] for number in sorted(grouped))
    return OcrResult(outcome, tuple(words), len(lines), time.perf_counter() - started)


def read_raw(image: NDArray[Any], config: str = _CONFIG) -> OcrResult:
    """One Tesseract pass over the whole frame, no preprocessing: the baseline to compare."""
    tesseract_version()
    started = time.perf_counter()
    words = _recognise(_gray(image), config)
    grouped: dict[int, list[Word]] = {}
    for word in words:
        grouped.setdefault(word.line, []).append(Word(word.text, word.confidence))
    outcome = parse_printed_lot(grouped[number] for number in sorted(grouped))
    return OcrResult(outcome, tuple(words), 0, time.perf_counter() - started)


Rect = tuple[tuple[float, float], tuple[float, float], float]  # cv2.minAreaRect's


def find_text_lines(gray: Gray) -> list[Rect]:
    """The line-shaped blobs of dark print, as rotated rectangles, top to bottom."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (_BLACKHAT_PX, _BLACKHAT_PX))
    hat = cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT, kernel)
    _, ink = cv2.threshold(hat, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    words = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, np.ones(_CLOSE_PX[::-1], np.uint8))
    # the print's letter height, from the word-sized blobs, sets how far apart words may be
    _, _, stats, centres = cv2.connectedComponentsWithStats(words)
    stats, centres = stats[1:], centres[1:]
    heights = stats[:, cv2.CC_STAT_HEIGHT]
    heights = heights[(heights >= _MIN_LINE_PX) & (heights <= _MAX_LINE_PX)]
    lines = words
    if heights.size:
        reach = max(_CLOSE_PX[0], round(_WORD_GAP * float(np.median(heights))))
        lines = cv2.morphologyEx(words, cv2.MORPH_CLOSE, np.ones((1, reach), np.uint8))
    contours, _ = cv2.findContours(lines, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    width = gray.shape[1]
    found: list[tuple[float, Rect]] = []
    for contour in contours:
        rect = cv2.minAreaRect(contour)
        (cx, cy), (w, h), angle = rect
        if w < h:  # make the long side the width, the angle that of the line
            w, h, angle = h, w, angle - 90.0
        angle = (angle + 90.0) % 180.0 - 90.0
        if not _MIN_LINE_PX <= h <= _MAX_LINE_PX or w < _MIN_ASPECT * h:
            continue
        if w > _MAX_SPAN * width or abs(angle) > 45:
            continue
        area = cv2.contourArea(contour)
        if area < _MIN_FILL * w * h:
            continue
        x, y, bw, bh = cv2.boundingRect(contour)
        mask = np.zeros((bh, bw), np.uint8)
        cv2.drawContours(mask, [contour], -1, 255, -1, offset=(-x, -y))
        inked = cv2.countNonZero(cv2.bitwise_and(ink[y : y + bh, x : x + bw], mask))
        if inked > _MAX_INK * cv2.countNonZero(mask):
            continue
        inside = ((centres[:, 0] >= x) & (centres[:, 0] < x + bw)
                  & (centres[:, 1] >= y) & (centres[:, 1] < y + bh))
        if _is_pattern(stats[inside]):
            continue
        found.append((cy, ((cx, cy), (w, h), angle)))
    found.sort(key=lambda item: item[0])
    if len(found) > _MAX_LINES:  # keep the largest, in reading order
        keep = sorted(found, key=lambda item: -item[1][1][0] * item[1][1][1])[:_MAX_LINES]
        found = sorted(keep, key=lambda item: item[0])
    return [rect for _, rect in found]


def _is_pattern(blobs: NDArray[Any]) -> bool:
    """True when a line's blobs are many and all alike: perforations or dots, not words."""
    if len(blobs) < _PATTERN_BLOBS:
        return False
    sizes = blobs[:, [cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT]].astype(np.float64)
    spread = sizes.std(axis=0) / np.maximum(sizes.mean(axis=0), 1.0)
    return bool((spread < _PATTERN_SPREAD).all())


def _gray(image: NDArray[Any]) -> Gray:
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 4:
        array = cv2.cvtColor(array, cv2.COLOR_BGRA2GRAY)
    elif array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_BGR2GRAY)
    if array.dtype != np.uint8:
        raise ValueError(f"expected an 8-bit image, got {array.dtype}")
    longest = max(array.shape[:2])
    if longest > _MAX_SIDE:
        scale = _MAX_SIDE / longest
        array = cv2.resize(array, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(array, dtype=np.uint8)


def _cut(gray: Gray, rect: Rect) -> Gray:
    """The line cut out level, padded, scaled to :data:`_LINE_HEIGHT`."""
    (cx, cy), (w, h), angle = rect
    scale = _LINE_HEIGHT / h
    pad = _PAD * h
    out_w = math.ceil((w + 2 * pad) * scale)
    out_h = math.ceil((h + 2 * pad) * scale)
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    matrix[0, 2] += out_w / 2 - cx
    matrix[1, 2] += out_h / 2 - cy
    line = cv2.warpAffine(gray, matrix, (out_w, out_h), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REPLICATE)
    # flatten the ground (glare, shading: divide by the local paper brightness), then stretch
    # the line's contrast so its print is black and its ground white
    paper = cv2.dilate(line, np.ones((_LINE_HEIGHT, _LINE_HEIGHT), np.uint8))
    flat = line.astype(np.float32) / np.maximum(paper.astype(np.float32), 1.0)
    low, high = np.percentile(flat, (2, 90))
    if high - low < 0.03:
        return np.asarray(line, dtype=np.uint8)
    stretched = (flat - low) * (255.0 / (high - low))
    return np.asarray(np.clip(stretched, 0, 255), dtype=np.uint8)


def _stack(lines: list[Gray]) -> Gray:
    """The lines one under another on white, with gaps, so Tesseract reads them in one pass."""
    width = max(line.shape[1] for line in lines) + 2 * _GAP
    height = sum(line.shape[0] + _GAP for line in lines) + _GAP
    canvas = np.full((height, width), 255, np.uint8)
    y = _GAP
    for line in lines:
        canvas[y : y + line.shape[0], _GAP : _GAP + line.shape[1]] = line
        y += line.shape[0] + _GAP
    return canvas


def _recognise(gray: Gray, config: str = _CONFIG) -> list[OcrWord]:
    """Tesseract's words with confidences, numbered by the line it put them on."""
    data = pytesseract.image_to_data(gray, lang="eng", config=config,
                                     output_type=pytesseract.Output.DICT)
    words: list[OcrWord] = []
    line_numbers: dict[tuple[int, int, int], int] = {}
    for index, text in enumerate(data["text"]):
        confidence = float(data["conf"][index])
        if not str(text).strip() or confidence < 0:
            continue
        key = (int(data["block_num"][index]), int(data["par_num"][index]),
               int(data["line_num"][index]))
        number = line_numbers.setdefault(key, len(line_numbers))
        words.append(OcrWord(str(text).strip(), confidence, number))
    return words
