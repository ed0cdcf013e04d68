r"""Find and decode the barcodes in a camera frame: zxing-cpp first, ZBar as a second opinion.

An adapter: it turns pixels into :class:`Symbol` values (format, raw text with GS as
``\x1d``, AIM symbology identifier, corners, which decoder read it). What a symbol *means*
is decided by :func:`station.core.scan.parse_scan`, which takes :attr:`Symbol.scan_text`.

The pipeline (:class:`DecodePipeline`), measured on the real photographs in
``fixtures/barcodes/`` and on synthetic 1280×720 frames (``python -m benchmarks decoding``):

1. zxing-cpp on the whole frame, for the symbologies drug packages carry: EAN/UPC,
   Code 128 (GS1-128), every GS1 DataBar, Data Matrix.
2. When it found a UPC-A/EAN-13: ZBar (through pyzbar's ctypes binding) re-reads just that
   place, a dozen scan lines across the bars (≈0.1 ms). zxing-cpp makes check-digit-valid
   misreads there, and ZBar's different reading is then listed beside it.
3. When it found no linear code: a cheap bar detector (:func:`_linear_regions`, ≈0.1 ms on
   a photo, ≈1.6 ms on a 1280×720 frame) looks for parallel alternating edges away from any
   Data Matrix read. Only where it finds some does ZBar read (the whole of a small image,
   else around those regions) and, if still no linear code, zxing-cpp once more, linear
   formats only, on the largest region upscaled 2×. A frame with nothing bar-like in view
   therefore costs one zxing-cpp pass. Upscaling recovered seven photographs neither
   decoder reads; a second binarizer recovered none, so the retry is the upscaling.

>>> import numpy, zxingcpp
>>> upc = zxingcpp.create_barcode("304094888026", zxingcpp.BarcodeFormat.UPCA)
>>> label = numpy.asarray(zxingcpp.write_barcode_to_image(upc, scale=3))
>>> [(s.format, s.scan_text, s.decoder) for s in DecodePipeline().decode(label)]
[('UPC-A', ']E00304094888026', 'zxing-cpp')]

Everything here is safe to call from several threads at once: no state is shared between
calls, zxing-cpp and OpenCV release the GIL, and ZBar (called through ctypes, which releases
the GIL too) gets a scanner of its own for every call.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import cv2
import numpy as np
import zxingcpp
from numpy.typing import NDArray

__all__ = [
    "DecodePipeline",
    "ImageError",
    "Symbol",
    "decode_with_pyzbar",
    "decode_with_zxing",
    "deduplicate",
    "read_image",
]

ZXING, PYZBAR = "zxing-cpp", "pyzbar"

GS = "\x1d"
Point = tuple[int, int]
Box = tuple[int, int, int, int]  # left, top, right, bottom (exclusive)
Gray = NDArray[np.uint8]

# Our names for the symbologies (zxing-cpp's, without spaces).
EAN_13, UPC_A, UPC_E, EAN_8 = "EAN-13", "UPC-A", "UPC-E", "EAN-8"
CODE_128, GS1_128 = "Code128", "GS1-128"
DATABAR, DATABAR_LIMITED, DATABAR_EXPANDED = "DataBar", "DataBarLimited", "DataBarExpanded"
DATA_MATRIX, GS1_DATA_MATRIX = "DataMatrix", "GS1 DataMatrix"

EAN_UPC_FORMATS: Final = frozenset({EAN_13, UPC_A, UPC_E, EAN_8})
MATRIX_FORMATS: Final = frozenset({DATA_MATRIX, GS1_DATA_MATRIX})

_ZXING_NAMES: Final = {
    "EAN-13": EAN_13,
    "EAN-8": EAN_8,
    "UPC-A": UPC_A,
    "UPC-E": UPC_E,
    "Code 128": CODE_128,
    "DataBar": DATABAR,
    "DataBar Omni": DATABAR,
    "DataBar Stacked": DATABAR,
    "DataBar Stacked Omni": DATABAR,
    "DataBar Limited": DATABAR_LIMITED,
    "DataBar Expanded": DATABAR_EXPANDED,
    "DataBar Expanded Stacked": DATABAR_EXPANDED,
    "Data Matrix": DATA_MATRIX,
}

_LINEAR_ZXING_FORMATS: Final = (
    zxingcpp.BarcodeFormat.EANUPC,
    zxingcpp.BarcodeFormat.Code128,
    zxingcpp.BarcodeFormat.DataBar,
)
_ZXING_FORMATS: Final = zxingcpp.BarcodeFormats(
    [*_LINEAR_ZXING_FORMATS, zxingcpp.BarcodeFormat.DataMatrix]
)
_ZXING_LINEAR_ONLY: Final = zxingcpp.BarcodeFormats(list(_LINEAR_ZXING_FORMATS))

# Images up to this many pixels are searched whole by ZBar and the retry; larger frames only
# where they look like bars, and the retry in a region at most this big before upscaling,
# so it costs at most about a third of a 1280×720 zxing-cpp pass.
_SMALL_IMAGE_PIXELS: Final = 640 * 480
_RETRY_REGION: Final = (480, 270)
_RETRY_SCALE: Final = 2.0
_REGION_PAD: Final = 0.5  # of a region's longer side, for quiet zones and bars cut off
# The bar detector (see _linear_regions): working size, and its thresholds.
_DETECT_SIDE: Final = 640
_DETECT_HALVE_FROM: Final = 64
_DETECT_MIN_SIDE: Final = 12
_DETECT_CELLS: Final = 24  # grid cells across the shorter side
_DETECT_MIN_CELLS: Final = 4
_COHERENCE: Final = 0.75  # 0 = no preferred direction, 1 = all edges parallel
_EDGE_CONTRAST: Final = 18.0  # grey levels, as an average over the window
_NET_GRADIENT: Final = 0.5  # net/total gradient: 1 for a lone edge, near 0 for bars
_MATRIX_MARGIN: Final = 0.15  # around a Data Matrix read: its own edges are no bars
# ZBar re-reads an EAN/UPC zxing-cpp found in its box widened by this share of its width,
# at least this tall, along the bars' direction only and on every few rows.
_CHECK_MARGIN: Final = 0.25
_CHECK_MIN_HEIGHT: Final = 24
_CHECK_LINES: Final = 12


class ImageError(Exception):
    """An image file that cannot be read, with the reason in words."""


@dataclass(frozen=True)
class Symbol:
    r"""One barcode read from an image.

    ``text`` is the content exactly as decoded: GS1 data raw, with GS (``\x1d``) between
    fields; EAN/UPC with its check digit (UPC-A and UPC-E as 13 digits, the EAN-13 form).
    ``position`` holds four corners in image pixels (top-left, top-right, bottom-right,
    bottom-left of the symbol as read).
    """

    format: str
    text: str
    symbology_identifier: str | None
    position: tuple[Point, ...]
    decoder: str

    @property
    def scan_text(self) -> str:
        """What a scanner configured to send AIM identifiers would send: ``]E0…``, ``]d2…``."""
        return (self.symbology_identifier or "") + self.text

    @property
    def is_matrix(self) -> bool:
        """A two-dimensional symbol (Data Matrix)."""
        return self.format in MATRIX_FORMATS

    @property
    def is_linear(self) -> bool:
        """A linear symbol (EAN/UPC, Code 128, DataBar, stacked or not)."""
        return not self.is_matrix

    @property
    def content_key(self) -> str:
        """The content compared across decoders: EAN/UPC digits as a GTIN-14, else the text."""
        if self.format in EAN_UPC_FORMATS and self.text.isdigit():
            return self.text.zfill(14)
        return self.text

    @property
    def box(self) -> Box:
        """The axis-aligned box around the corners (right and bottom exclusive)."""
        xs = [x for x, _ in self.position]
        ys = [y for _, y in self.position]
        return min(xs), min(ys), max(xs) + 1, max(ys) + 1


@dataclass(frozen=True)
class DecodePipeline:
    """zxing-cpp, then ZBar, then an upscaled retry; see the module's description.

    Holds no state, so one pipeline can serve several threads.
    """

    def decode(self, image: NDArray[Any]) -> list[Symbol]:
        """The symbols in a BGR, BGRA or grayscale 8-bit image, zxing-cpp's first."""
        gray = _gray(image)
        if gray.size == 0:
            return []
        symbols = _read_zxing(gray, _ZXING_FORMATS)
        if any(s.is_linear for s in symbols):
            for found in [s for s in symbols if s.format in (UPC_A, EAN_13)]:
                symbols += _check_with_zbar(gray, found)
            return deduplicate(symbols)
        regions = _linear_regions(gray, exclude=[s.box for s in symbols])
        if not regions:
            return symbols
        symbols += _read_zbar(gray, _around(regions, gray.shape))
        if not any(s.is_linear for s in symbols):
            symbols += _read_zxing_upscaled(gray, _retry_region(regions, gray.shape))
        return deduplicate(symbols)


def decode_with_zxing(image: NDArray[Any]) -> list[Symbol]:
    """zxing-cpp alone on the whole image, with its default effort (the baseline)."""
    gray = _gray(image)
    return _read_zxing(gray, _ZXING_FORMATS) if gray.size else []


def decode_with_pyzbar(image: NDArray[Any]) -> list[Symbol]:
    """ZBar alone on the whole image (the baseline; it reads no Data Matrix)."""
    gray = _gray(image)
    return _read_zbar(gray) if gray.size else []


def deduplicate(symbols: Iterable[Symbol]) -> list[Symbol]:
    """Drop a symbol whose content an earlier one has at an overlapping place."""
    kept: list[Symbol] = []
    for symbol in symbols:
        if not any(
            symbol.content_key == other.content_key and _overlap(symbol.box, other.box)
            for other in kept
        ):
            kept.append(symbol)
    return kept


def read_image(path: str) -> NDArray[np.uint8]:
    """An image file as a BGR array; :class:`ImageError` says why one cannot be read."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        raise ImageError("no such file") from None
    except IsADirectoryError:
        raise ImageError("is a directory, not an image file") from None
    except OSError as error:
        raise ImageError(f"cannot open: {error.strerror or error}") from None
    if not data:
        raise ImageError("the file is empty")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        image = None
    if image is None or image.size == 0:
        raise ImageError("not an image OpenCV can decode (PNG, JPEG, WebP, BMP, TIFF …)")
    return np.asarray(image, dtype=np.uint8)


# ------------------------------------------------------------------------------ images


def _gray(image: NDArray[Any]) -> Gray:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"expected an 8-bit image (uint8), got {image.dtype}")
    channels = 1 if image.ndim == 2 else image.shape[2] if image.ndim == 3 else 0
    if channels not in (1, 3, 4):
        raise ValueError(
            f"expected a grayscale, BGR or BGRA image, got an array of shape {image.shape}"
        )
    if image.size == 0:
        return np.zeros((0, 0), np.uint8)
    if channels == 1:
        return np.ascontiguousarray(image.reshape(image.shape[:2]))
    code = cv2.COLOR_BGR2GRAY if channels == 3 else cv2.COLOR_BGRA2GRAY
    return np.ascontiguousarray(cv2.cvtColor(image, code))


def _overlap(a: Box, b: Box) -> bool:
    """Whether two boxes touch, each widened a little (ZBar's box of a linear code can be thin)."""
    def widen(box: Box) -> Box:
        grow = max(4, (max(box[2] - box[0], box[3] - box[1])) // 10)
        return box[0] - grow, box[1] - grow, box[2] + grow, box[3] + grow

    a, b = widen(a), widen(b)
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _clip(box: tuple[float, float, float, float], shape: Sequence[int]) -> Box:
    height, width = shape[:2]
    left, top, right, bottom = box
    return (max(0, int(left)), max(0, int(top)),
            min(width, int(right + 0.5)), min(height, int(bottom + 0.5)))


def _pad(box: tuple[float, float, float, float], by: float,
         shape: Sequence[int]) -> Box:
    left, top, right, bottom = box
    grow = by * max(right - left, bottom - top)
    return _clip((left - grow, top - grow, right + grow, bottom + grow), shape)


def _around(regions: Sequence[Box], shape: Sequence[int]) -> Box | None:
    """One box around all regions with room for quiet zones; the whole of a small image."""
    height, width = shape[:2]
    if height * width <= _SMALL_IMAGE_PIXELS:
        return None
    left, top = min(r[0] for r in regions), min(r[1] for r in regions)
    right, bottom = max(r[2] for r in regions), max(r[3] for r in regions)
    return _pad((left, top, right, bottom), _REGION_PAD, shape)


def _retry_region(regions: Sequence[Box], shape: Sequence[int]) -> Box:
    """Where the retry looks: the whole of a small image, else the largest bar region.

    The region is padded, and at most ``_RETRY_REGION`` in size (its centre when larger).
    """
    height, width = shape[:2]
    if height * width <= _SMALL_IMAGE_PIXELS:
        return 0, 0, width, height
    largest = max(regions, key=lambda r: (r[2] - r[0]) * (r[3] - r[1]))
    left, top, right, bottom = _pad(largest, _REGION_PAD, shape)
    most_width, most_height = _RETRY_REGION
    if right - left > most_width:
        left = (left + right - most_width) // 2
        right = left + most_width
    if bottom - top > most_height:
        top = (top + bottom - most_height) // 2
        bottom = top + most_height
    return left, top, right, bottom


def _linear_regions(gray: Gray, exclude: Sequence[Box] = ()) -> list[Box]:
    """Where the image looks like bars: strong, parallel, alternating edges.

    Per neighbourhood of a half-size copy (at most 640 pixels across), from the structure
    tensor: the gradient is strong, points one way (coherence) and flips sign from edge to
    edge (a lone edge or a box outline does not). Text fails coherence; a Data Matrix
    already read is masked out. It decides whether the costlier decoders run at all.
    """
    height, width = gray.shape
    scale = min(0.5 if min(height, width) >= _DETECT_HALVE_FROM else 1.0,
                _DETECT_SIDE / max(height, width))
    small = (cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
             if scale < 1.0 else gray)
    if min(small.shape) < _DETECT_MIN_SIDE:
        return []
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    # Neighbourhood sums on a coarse grid: block means, then a 3×3 box over the blocks.
    cell = max(2, min(small.shape) // _DETECT_CELLS)
    grid = (small.shape[1] // cell, small.shape[0] // cell)

    def mean(values: NDArray[Any]) -> NDArray[np.float32]:
        blocks = cv2.resize(values, grid, interpolation=cv2.INTER_AREA)
        return np.asarray(cv2.blur(blocks, (3, 3)), dtype=np.float32)

    jxx, jyy, jxy = mean(gx * gx), mean(gy * gy), mean(gx * gy)
    energy = jxx + jyy
    coherent = (jxx - jyy) ** 2 + 4 * jxy**2 > _COHERENCE**2 * energy**2
    strong = energy > (4 * _EDGE_CONTRAST) ** 2
    net = cv2.magnitude(mean(gx), mean(gy))
    alternating = net < _NET_GRADIENT * mean(cv2.magnitude(gx, gy))
    mask = (coherent & strong & alternating).astype(np.uint8)
    size = cell / scale  # one grid cell in image pixels
    for left, top, right, bottom in exclude:
        grow = _MATRIX_MARGIN * (right - left)
        mask[max(0, int((top - grow) / size)):max(0, int((bottom + grow) / size) + 1),
             max(0, int((left - grow) / size)):max(0, int((right + grow) / size) + 1)] = 0
    if not mask.any():
        return []
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes = [cv2.boundingRect(contour) for contour in contours]
    return [
        _clip(((x - 1) * size, (y - 1) * size, (x + w + 1) * size, (y + h + 1) * size),
              gray.shape)
        for x, y, w, h in boxes
        if w * h >= _DETECT_MIN_CELLS
    ]


# ------------------------------------------------------------------------------ zxing-cpp


def _read_zxing(gray: Gray, formats: zxingcpp.BarcodeFormats) -> list[Symbol]:
    barcodes = zxingcpp.read_barcodes(gray, formats=formats, text_mode=zxingcpp.TextMode.Plain)
    return [_from_zxing(barcode) for barcode in barcodes]


def _read_zxing_upscaled(gray: Gray, region: Box) -> list[Symbol]:
    left, top, right, bottom = region
    if right - left < 2 or bottom - top < 2:
        return []
    crop = gray[top:bottom, left:right]
    big = cv2.resize(crop, None, fx=_RETRY_SCALE, fy=_RETRY_SCALE,
                     interpolation=cv2.INTER_CUBIC)
    barcodes = zxingcpp.read_barcodes(big, formats=_ZXING_LINEAR_ONLY,
                                      text_mode=zxingcpp.TextMode.Plain)
    return [_from_zxing(b, scale=_RETRY_SCALE, offset=(left, top)) for b in barcodes]


def _from_zxing(barcode: zxingcpp.Barcode, scale: float = 1.0,
                offset: Point = (0, 0)) -> Symbol:
    corners = barcode.position
    points = tuple(
        (round(p.x / scale) + offset[0], round(p.y / scale) + offset[1])
        for p in (corners.top_left, corners.top_right, corners.bottom_right,
                  corners.bottom_left)
    )
    identifier = barcode.symbology_identifier or None
    name = _ZXING_NAMES.get(str(barcode.format), str(barcode.format))
    return Symbol(_our_format(name, barcode.text, identifier), barcode.text, identifier,
                  points, ZXING)


def _our_format(name: str, text: str, identifier: str | None) -> str:
    """Name what the data says: an EAN-13 starting with 0 is a UPC-A; FNC1 first is GS1."""
    if name == EAN_13 and len(text) == 13 and text.startswith("0"):
        return UPC_A
    if name == CODE_128 and identifier == "]C1":
        return GS1_128
    # ]d2 (]d8 for a rectangular-extension symbol): Data Matrix with FNC1 first, i.e. GS1.
    if name == DATA_MATRIX and identifier in ("]d2", "]d5", "]d8"):
        return GS1_DATA_MATRIX
    return name


# ------------------------------------------------------------------------------ ZBar


@dataclass(frozen=True)
class _ZBarApi:
    """The libzbar functions pyzbar's binding exposes, plus the two it lacks."""

    wrapper: Any
    get_type: Any
    get_modifiers: Any
    y800: int  # the fourcc of 8-bit grey pixels


@functools.cache
def _zbar() -> _ZBarApi:
    """Load libzbar on first use (pyzbar needs the system library libzbar0)."""
    try:
        from pyzbar import wrapper  # noqa: PLC0415 - loading libzbar is I/O: not at import
    except ImportError as error:
        raise ImportError(f"pyzbar cannot load ZBar (install libzbar0): {error}") from error

    symbol = ctypes.POINTER(wrapper.zbar_symbol)
    return _ZBarApi(
        wrapper=wrapper,
        get_type=wrapper.zbar_function("zbar_symbol_get_type", ctypes.c_int, symbol),
        get_modifiers=wrapper.zbar_function("zbar_symbol_get_modifiers", ctypes.c_uint,
                                            symbol),
        y800=int.from_bytes(b"Y800", "little"),
    )


# ZBar type -> (our format, AIM identifier). EAN-13 covers UPC-A and UPC-E, which ZBar
# reports in their 13-digit form while its UPC-A/UPC-E decoders stay disabled.
_ZBAR_TYPES: Final = {13: (EAN_13, "]E0"), 8: (EAN_8, "]E4"), 128: (CODE_128, "]C0"),
                      34: (DATABAR, "]e0"), 35: (DATABAR_EXPANDED, "]e0")}
_ZBAR_MOD_GS1, _ZBAR_MOD_AIM = 1 << 0, 1 << 1
_ZBAR_CFG_ENABLE = 0
# ZBar's scan densities: X_DENSITY steps across columns (vertical scan lines), Y_DENSITY
# across rows (horizontal scan lines).
_ZBAR_CFG_COLUMN_STEP, _ZBAR_CFG_ROW_STEP = 0x100, 0x101


def _check_with_zbar(gray: Gray, found: Symbol) -> list[Symbol]:
    """ZBar's reading of the place where zxing-cpp found an EAN/UPC.

    Scan lines across the bars only, a dozen of them: a fraction of a full ZBar pass.
    """
    (x0, y0), (x1, y1) = found.position[0], found.position[1]
    across = abs(x1 - x0) >= abs(y1 - y0)  # the symbol reads left-right (or right-left)
    left, top, right, bottom = found.box
    length = (right - left) if across else (bottom - top)
    thickness = (bottom - top) if across else (right - left)
    margin = length * _CHECK_MARGIN
    grow = max(0.0, (_CHECK_MIN_HEIGHT - thickness) / 2) + margin / 2
    if across:
        region = _clip((left - margin, top - grow, right + margin, bottom + grow), gray.shape)
        step = max(1, (region[3] - region[1]) // _CHECK_LINES)
        return _read_zbar(gray, region, rows=step, columns=0)
    region = _clip((left - grow, top - margin, right + grow, bottom + margin), gray.shape)
    step = max(1, (region[2] - region[0]) // _CHECK_LINES)
    return _read_zbar(gray, region, rows=0, columns=step)


def _read_zbar(gray: Gray, region: Box | None = None, rows: int = 1,
               columns: int = 1) -> list[Symbol]:
    """ZBar on the image or a region of it.

    It scans every ``rows``-th row and every ``columns``-th column (0: none).
    """
    left, top = (region[0], region[1]) if region is not None else (0, 0)
    if region is not None:
        gray = np.ascontiguousarray(gray[region[1]:region[3], region[0]:region[2]])
    height, width = gray.shape
    if height < 1 or width < 1:
        return []
    api = _zbar()
    w = api.wrapper
    scanner = w.zbar_image_scanner_create()
    if not scanner:
        raise MemoryError("ZBar could not create an image scanner")
    zimage = w.zbar_image_create()
    try:
        if not zimage:
            raise MemoryError("ZBar could not create an image")
        w.zbar_image_scanner_set_config(scanner, 0, _ZBAR_CFG_ENABLE, 0)  # all off, then:
        for zbar_type in _ZBAR_TYPES:
            w.zbar_image_scanner_set_config(scanner, zbar_type, _ZBAR_CFG_ENABLE, 1)
        w.zbar_image_scanner_set_config(scanner, 0, _ZBAR_CFG_ROW_STEP, rows)
        w.zbar_image_scanner_set_config(scanner, 0, _ZBAR_CFG_COLUMN_STEP, columns)
        w.zbar_image_set_format(zimage, api.y800)
        w.zbar_image_set_size(zimage, width, height)
        # ZBar reads the pixels in place (no copy, no cleanup): ``gray`` outlives the scan.
        w.zbar_image_set_data(zimage, ctypes.c_void_p(gray.ctypes.data), gray.nbytes, None)
        if w.zbar_scan_image(scanner, zimage) < 0:
            raise RuntimeError("ZBar refused the image format")
        symbols = []
        found = w.zbar_image_first_symbol(zimage)
        while found:
            symbol = _from_zbar(api, found, (left, top))
            if symbol is not None:
                symbols.append(symbol)
            found = w.zbar_symbol_next(found)
        return symbols
    finally:
        if zimage:
            w.zbar_image_destroy(zimage)
        w.zbar_image_scanner_destroy(scanner)


def _from_zbar(api: _ZBarApi, found: Any, offset: Point) -> Symbol | None:
    w = api.wrapper
    known = _ZBAR_TYPES.get(int(api.get_type(found)))
    if known is None:
        return None
    name, identifier = known
    data = ctypes.string_at(w.zbar_symbol_get_data(found), w.zbar_symbol_get_data_length(found))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if name == CODE_128:
        modifiers = int(api.get_modifiers(found))
        if modifiers & _ZBAR_MOD_GS1:
            identifier = "]C1"
        elif modifiers & _ZBAR_MOD_AIM:
            identifier = "]C2"
    count = int(w.zbar_symbol_get_loc_size(found))
    xs = [int(w.zbar_symbol_get_loc_x(found, i)) + offset[0] for i in range(count)]
    ys = [int(w.zbar_symbol_get_loc_y(found, i)) + offset[1] for i in range(count)]
    if not xs:
        return None
    left, top, right, bottom = min(xs), min(ys), max(xs), max(ys)
    corners = ((left, top), (right, top), (right, bottom), (left, bottom))
    return Symbol(_our_format(name, text, identifier), text, identifier, corners, PYZBAR)
