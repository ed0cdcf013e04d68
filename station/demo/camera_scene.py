"""What the simulated camera over the hood sees: containers, their labels, and the optics.

A :class:`Scene` is a frozen description — up to two labelled containers in view and the
distortions a real camera adds (defocus, motion, glare on glass, rotation, the curve of a vial,
exposure, sensor noise). :func:`render` draws it: a hood background, each vial or bag with a
label carrying human-readable text (manufacturer, drug, strength, NDC, LOT, EXP, SN) and real
barcodes — the UPC-A of the NDC and a GS1 DataMatrix with (01)(17)(10)(21) — at a realistic
module size (3 px per bar module, 4 px per DataMatrix module at 1280×720 before distortion),
so decoders read them exactly as they would a photograph. A vial may also carry the station's
own "opened" :class:`Sticker`: a plain (non-GS1) DataMatrix and two or three short lines.

The text is set in DejaVu Sans (Debian package ``fonts-dejavu-core``), the lot, expiry and
serial in its monospaced bold as a label's overprinter sets them, so printed-text readers see
real glyphs. Without that package the label falls back to OpenCV's Hershey stroke font and a
warning says which package to install (:data:`FONT_PACKAGE`).

>>> import datetime as dt
>>> label = Label(ndc10="0409-4888-02", name="Lidocaine HCl", strength="2% 100 mg/5 mL",
...               manufacturer="Hospira", lot="AB1234", expiry=dt.date(2028, 2, 29),
...               serial="10000023")
>>> str(label.gtin), label.upc_a, label.gs1_hri
('00304094888026', '304094888026', '(01)00304094888026(17)280229(10)AB1234(21)10000023')
>>> image = render(Scene(labels=(label,)), (640, 360), np.random.default_rng(0))
>>> image.shape, image.dtype.name
((360, 640, 3), 'uint8')
>>> replace(label, expiry_style="mon yyyy").expiry_text
'EXP FEB 2028'

Rendering is fast because everything but the sensor noise is cached: the flat label (with its
barcode bitmaps) per label, the container per label and distortion, and the noise-free frame per
scene. A new scene costs a few tens of milliseconds once; each further frame a few milliseconds.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import math
import zlib
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp
from PIL import Image as PilImage
from PIL import ImageDraw, ImageFont

from station.core.formulary import Product, ProductRole
from station.core.identifiers import TEN_DIGIT_SHAPES, Gtin, Lot, Serial

Image = npt.NDArray[np.uint8]
_Floats = npt.NDArray[np.float32]
Container = Literal["vial", "bag"]
# How a label prints its expiry; month-only styles mean the last day of that month.
ExpiryStyle = Literal["iso", "iso month", "mm/yyyy", "mon yyyy", "ddmonyyyy", "yyyymon"]
EXPIRY_STYLES: tuple[ExpiryStyle, ...] = (
    "iso", "iso month", "mm/yyyy", "mon yyyy", "ddmonyyyy", "yyyymon",
)
_MONTH_ONLY_STYLES = frozenset({"iso month", "mm/yyyy", "mon yyyy", "yyyymon"})
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

# The label's typefaces: DejaVu, from the Debian package named here.
FONT_PACKAGE = "fonts-dejavu-core"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
_FONT_FILES = {"regular": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf",
               "mono": "DejaVuSansMono-Bold.ttf"}
FontName = Literal["regular", "bold", "mono"]
_log = logging.getLogger(__name__)

# The frame size the geometry below is drawn for; other sizes scale every object with them.
REFERENCE_SIZE = (1280, 720)
# Pixels per barcode module at the reference size, before any distortion (barcodes.md asks
# for at least 2.5–3 px per module at the vial).
LINEAR_MODULE_PX = 3
MATRIX_MODULE_PX = 4
MAX_LABELS = 2

_LABEL_W, _LABEL_H = 460, 330
_UPC_MODULES = 95
_UPC_BAR_H = 78
_UPC_GUARD_EXTRA = 8
_UPC_GUARDS = (*range(3), *range(45, 50), *range(92, 95))
_PAPER = (236.0, 240.0, 243.0)
_INK = (28.0, 26.0, 24.0)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_BOLD_FONT = cv2.FONT_HERSHEY_DUPLEX
_GS = "\x1d"
# The opened-vial sticker: its size on the vial below the label, and what fits on it.
_STICKER_W, _STICKER_H = 330, 104
_STICKER_GAP = 14  # between the label's lower edge and the sticker
_STICKER_MAX_PAYLOAD = 40
_STICKER_MAX_LINES = 3


@dataclass(frozen=True)
class Sticker:
    """The station's own sticker on an opened vial: a plain DataMatrix and a few short lines.

    ``payload`` is what the DataMatrix carries (plain text, not GS1); ``lines`` are printed
    beside it, e.g. ``("OPENED 2026-12-07 09:14", "BUD 2026-12-07 21:14", "vial OV-1234")``.
    """

    payload: str
    lines: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        if not self.payload or not self.payload.isascii() or not self.payload.isprintable():
            raise ValueError(f"sticker payload {self.payload!r}: expected printable ASCII text")
        if len(self.payload) > _STICKER_MAX_PAYLOAD:
            raise ValueError(
                f"sticker payload has {len(self.payload)} characters: at most "
                f"{_STICKER_MAX_PAYLOAD} fit the sticker's DataMatrix"
            )
        if len(self.lines) > _STICKER_MAX_LINES:
            raise ValueError(
                f"a sticker prints at most {_STICKER_MAX_LINES} lines, got {len(self.lines)}"
            )


@dataclass(frozen=True)
class Label:
    """A container's label: the identifiers its barcodes carry and the text printed beside them.

    ``ndc10`` is the 10-digit NDC, best written with hyphens in its real shape
    (``0409-4888-02``) because the label prints it as given; ``gtin14`` may be given instead
    (or as well, to print a GTIN that differs from the NDC's unit-level carrier). ``linear``
    prints the UPC-A of the GTIN; ``datamatrix`` prints a GS1 DataMatrix with (01) GTIN,
    (17) expiry, (10) lot and (21) serial, encoded with FNC1 so decoders return raw GS1 data.
    ``linear_gtin_override`` prints a *different* GTIN in the UPC-A than in the DataMatrix: a
    package whose two barcodes disagree.

    ``lot_caption`` and ``expiry_style`` choose how the lot and expiry are printed (``LOT``,
    ``Lot:``, ``LOT/BATCH``; ``2028-02-29``, ``2028-02``, ``02/2028``, ``FEB 2028``,
    ``29FEB2028``, ``2028FEB``). A month-only style needs an expiry on the month's last day,
    which is what it means. ``sticker`` sticks the station's opened-vial sticker on a vial.
    """

    ndc10: str | None = None
    gtin14: str | None = None
    name: str = ""
    strength: str = ""
    manufacturer: str = ""
    lot: str | None = None
    expiry: dt.date | None = None
    serial: str | None = None
    linear: bool = True
    datamatrix: bool = True
    linear_gtin_override: str | None = None
    container: Container = "vial"
    lot_caption: str = "LOT"
    expiry_style: ExpiryStyle = "iso"
    sticker: Sticker | None = None

    def __post_init__(self) -> None:
        if self.ndc10 is None and self.gtin14 is None:
            raise ValueError("a label needs an ndc10 or a gtin14")
        if self.ndc10 is not None:
            digits = self.ndc10.replace("-", "")
            if len(digits) != 10 or not digits.isdigit() or not digits.isascii():
                raise ValueError(f"label NDC {self.ndc10!r}: expected 10 digits")
            shape = tuple(len(part) for part in self.ndc10.split("-"))
            if "-" in self.ndc10 and shape not in TEN_DIGIT_SHAPES:
                raise ValueError(f"label NDC {self.ndc10!r}: expected 4-4-2, 5-3-2 or 5-4-1")
        if self.lot is not None:
            Lot(self.lot)
        if self.serial is not None:
            Serial(self.serial)
        if self.container not in ("vial", "bag"):
            raise ValueError(f"container {self.container!r}: expected 'vial' or 'bag'")
        if self.expiry_style not in EXPIRY_STYLES:
            raise ValueError(
                f"expiry style {self.expiry_style!r}: expected one of {', '.join(EXPIRY_STYLES)}"
            )
        if (self.expiry is not None and self.expiry_style in _MONTH_ONLY_STYLES
                and self.expiry.day != calendar.monthrange(self.expiry.year,
                                                           self.expiry.month)[1]):
            raise ValueError(
                f"expiry {self.expiry} printed as {self.expiry_style!r} would read as the last "
                "day of its month; give that day or a style that prints the day"
            )
        if self.sticker is not None and self.container != "vial":
            raise ValueError("an opened-vial sticker goes on a vial, not a bag")
        gtin = self.gtin  # parses gtin14
        if self.linear:
            linear = self.linear_gtin
            if linear is None or linear.upc_a is None:
                raise ValueError(
                    f"GTIN {linear or gtin} has no UPC-A form; set linear=False for a "
                    "higher packaging level"
                )

    @classmethod
    def for_product(
        cls,
        product: Product,
        *,
        lot: str | None = None,
        expiry: dt.date | None = None,
        serial: str | None = None,
        linear: bool = True,
        datamatrix: bool = True,
    ) -> Label:
        """The label of a formulary product's package, with the given lot, expiry and serial.

        A base solution becomes a bag, anything else a vial.
        """
        ndc = product.ndc
        ndc10 = str(ndc) if ndc.shape in TEN_DIGIT_SHAPES else ndc.ndc10
        gtin = product.gtin if product.gtin is not None else ndc.gtin()
        return cls(
            ndc10=ndc10,
            gtin14=str(gtin) if gtin is not None else None,
            name=product.name,
            strength=product.strength,
            manufacturer=product.manufacturer,
            lot=lot,
            expiry=expiry,
            serial=serial,
            linear=linear,
            datamatrix=datamatrix,
            container="bag" if product.role is ProductRole.BASE else "vial",
        )

    @property
    def gtin(self) -> Gtin:
        """The GTIN-14 the DataMatrix carries (and the UPC-A, unless overridden)."""
        if self.gtin14 is not None:
            return Gtin.parse(self.gtin14)
        assert self.ndc10 is not None
        return Gtin.from_ndc10(self.ndc10.replace("-", ""))

    @property
    def linear_gtin(self) -> Gtin | None:
        """The GTIN the UPC-A carries, or None without a linear barcode."""
        if not self.linear:
            return None
        if self.linear_gtin_override is not None:
            return Gtin.parse(self.linear_gtin_override)
        return self.gtin

    @property
    def upc_a(self) -> str | None:
        """The 12 digits of the printed UPC-A, if any."""
        linear = self.linear_gtin
        return linear.upc_a if linear is not None else None

    @property
    def gs1_hri(self) -> str | None:
        """The DataMatrix content in human-readable form, ``(01)…(17)…(10)…(21)…``."""
        if not self.datamatrix:
            return None
        return "".join(f"({ai}){value}" for ai, value in self._elements())

    @property
    def gs1_data(self) -> str | None:
        """The DataMatrix content as a decoder in plain-text mode returns it (GS separators)."""
        if not self.datamatrix:
            return None
        elements = self._elements()
        text = ""
        for number, (ai, value) in enumerate(elements):
            text += ai + value
            if ai in ("10", "21") and number < len(elements) - 1:
                text += _GS
        return text

    def _elements(self) -> list[tuple[str, str]]:
        elements = [("01", str(self.gtin))]
        if self.expiry is not None:
            elements.append(("17", self.expiry.strftime("%y%m%d")))
        if self.lot is not None:
            elements.append(("10", self.lot))
        if self.serial is not None:
            elements.append(("21", self.serial))
        return elements

    @property
    def lot_text(self) -> str | None:
        """The lot line as printed, e.g. ``LOT AB1234``."""
        return None if self.lot is None else f"{self.lot_caption} {self.lot}"

    @property
    def expiry_text(self) -> str | None:
        """The expiry line as printed in :attr:`expiry_style`, e.g. ``EXP 2028-02-29``."""
        if self.expiry is None:
            return None
        day, month, year = self.expiry.day, self.expiry.month, self.expiry.year
        printed = {
            "iso": self.expiry.isoformat(),
            "iso month": f"{year:04d}-{month:02d}",
            "mm/yyyy": f"{month:02d}/{year:04d}",
            "mon yyyy": f"{_MONTHS[month - 1]} {year:04d}",
            "ddmonyyyy": f"{day:02d}{_MONTHS[month - 1]}{year:04d}",
            "yyyymon": f"{year:04d}{_MONTHS[month - 1]}",
        }[self.expiry_style]
        return f"EXP {printed}"

    @property
    def ndc_text(self) -> str:
        """The NDC as printed on the label (its GTIN when it carries no NDC)."""
        if self.ndc10 is not None:
            return f"NDC {self.ndc10}"
        ndc10 = self.gtin.ndc10
        return f"NDC {ndc10}" if ndc10 is not None else f"GTIN {self.gtin}"


@dataclass(frozen=True)
class Scene:
    """What is in front of the camera, and how well the camera sees it.

    ``blur`` is the Gaussian sigma of defocus in pixels; ``motion`` the length in pixels of a
    horizontal motion smear; ``glare`` (0–1) the strength of a specular highlight on the glass
    or plastic; ``rotation`` the containers' tilt in degrees; ``curvature`` (0–1) how far the
    label wraps around the vial (0 flat, 1 the label's edges at the cylinder's silhouette,
    compressing the print horizontally towards them; bags are flat); ``exposure`` the sensor
    gain (1 is right); ``noise`` the standard deviation of sensor noise in grey levels.
    """

    labels: tuple[Label, ...] = ()
    blur: float = 0.0
    glare: float = 0.0
    rotation: float = 0.0
    noise: float = 2.0
    curvature: float = 0.0
    exposure: float = 1.0
    motion: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(self.labels))
        if len(self.labels) > MAX_LABELS:
            raise ValueError(f"at most {MAX_LABELS} labels fit in view, got {len(self.labels)}")
        for name in ("blur", "noise", "motion"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        for name in ("glare", "curvature"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be within 0–1, got {getattr(self, name)}")
        if self.exposure <= 0:
            raise ValueError(f"exposure must be greater than zero, got {self.exposure}")


def render(scene: Scene, size: tuple[int, int], rng: np.random.Generator) -> Image:
    """Draw ``scene`` as a BGR uint8 frame of ``size`` (width, height).

    The sensor noise of each frame is a window, at an offset drawn from ``rng``, of one fixed
    field of Gaussian noise: cheap, repeatable for a seed, and different from frame to frame.
    """
    width, height = size
    if width < 16 or height < 16:
        raise ValueError(f"frame size {width}×{height} is too small")
    clean = _clean_frame(replace(scene, noise=0.0), (width, height))
    if scene.noise <= 0:
        return clean.copy()
    pool = _noise_pool((width, height))
    dy = int(rng.integers(0, _NOISE_MARGIN))
    dx = int(rng.integers(0, _NOISE_MARGIN))
    noise = pool[dy : dy + height, dx : dx + width] * np.float32(scene.noise)
    return np.asarray(cv2.add(clean, noise, dtype=cv2.CV_8U), dtype=np.uint8)


# ---------------------------------------------------------------- the frame


def _f32(array: object) -> _Floats:
    """An OpenCV or NumPy result as float32 (no copy when it already is)."""
    return np.asarray(array, dtype=np.float32)


_NOISE_MARGIN = 64


@lru_cache(maxsize=2)
def _noise_pool(size: tuple[int, int]) -> _Floats:
    """A field of unit Gaussian noise a little larger than the frame; each frame takes a window."""
    width, height = size
    pool = np.random.default_rng(0x5EED).standard_normal(
        (height + _NOISE_MARGIN, width + _NOISE_MARGIN, 3), dtype=np.float32
    )
    pool.flags.writeable = False
    return pool


@lru_cache(maxsize=6)
def _clean_frame(scene: Scene, size: tuple[int, int]) -> Image:
    """Everything but the sensor noise: background, containers, glare, optics, exposure."""
    width, height = size
    scale = min(width / REFERENCE_SIZE[0], height / REFERENCE_SIZE[1])
    frame = _background(size).astype(np.float32)
    count = len(scene.labels)
    for number, label in enumerate(scene.labels):
        centre_x = width * (0.5 if count == 1 else (0.29, 0.71)[number])
        centre = (centre_x, height * 0.52)
        color, alpha = _container(label, scene.curvature, scene.glare, round(scale, 4))
        _paste(frame, color, alpha, centre, scene.rotation)
    if scene.motion > 0:
        length = max(1, round(scene.motion))
        kernel = np.full((1, length), 1.0 / length, dtype=np.float32)
        frame = _f32(cv2.filter2D(frame, -1, kernel, borderType=cv2.BORDER_REFLECT))
    if scene.blur > 0:
        frame = _f32(cv2.GaussianBlur(frame, (0, 0), scene.blur))
    if scene.exposure != 1:
        frame *= scene.exposure
    image = np.clip(frame, 0, 255).astype(np.uint8)
    image.flags.writeable = False
    return image


def _paste(
    frame: _Floats, color: _Floats, alpha: _Floats, centre: tuple[float, float], angle: float
) -> None:
    """Blend a premultiplied sprite into the frame, rotated by ``angle`` about its centre."""
    sprite_h, sprite_w = alpha.shape
    matrix = cv2.getRotationMatrix2D((sprite_w / 2, sprite_h / 2), angle, 1.0)
    matrix[0, 2] += centre[0] - sprite_w / 2
    matrix[1, 2] += centre[1] - sprite_h / 2
    corners = np.array([[0, 0, 1], [sprite_w, 0, 1], [0, sprite_h, 1], [sprite_w, sprite_h, 1]])
    placed = corners @ matrix.T
    frame_h, frame_w = frame.shape[:2]
    x0 = max(0, math.floor(placed[:, 0].min()))
    y0 = max(0, math.floor(placed[:, 1].min()))
    x1 = min(frame_w, math.ceil(placed[:, 0].max()) + 1)
    y1 = min(frame_h, math.ceil(placed[:, 1].max()) + 1)
    if x1 <= x0 or y1 <= y0:
        return
    matrix[0, 2] -= x0
    matrix[1, 2] -= y0
    box = (x1 - x0, y1 - y0)
    warped_color = cv2.warpAffine(color, matrix, box, flags=cv2.INTER_LINEAR)
    warped_alpha = cv2.warpAffine(alpha, matrix, box, flags=cv2.INTER_LINEAR)
    region = frame[y0:y1, x0:x1]
    behind = cv2.merge([1.0 - warped_alpha] * 3)
    region[...] = cv2.add(cv2.multiply(region, behind), warped_color)


@lru_cache(maxsize=4)
def _background(size: tuple[int, int]) -> Image:
    """The inside of a laminar-flow hood: perforated back wall, brushed steel, a prep mat."""
    width, height = size
    rng = np.random.default_rng(1)
    ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    xs = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :]
    wall_h = round(height * 0.2)
    # brushed stainless: horizontal streaks, lighter towards the front, vignetted at the sides
    streaks = rng.normal(0.0, 7.0, (height, 1)).astype(np.float32)
    streaks = _f32(cv2.GaussianBlur(streaks, (0, 0), sigmaX=0.1, sigmaY=1.2))
    grain = rng.normal(0.0, 3.0, (height, width)).astype(np.float32)
    grain = _f32(cv2.GaussianBlur(grain, (0, 0), sigmaX=6.0, sigmaY=0.6))
    steel = 150.0 + 30.0 * ys - 25.0 * xs**2 + streaks + grain
    image = np.repeat(steel[:, :, None], 3, axis=2)
    image[:, :, 0] += 6.0  # a cool cast
    # perforated back wall (the HEPA return grille)
    wall = image[:wall_h]
    wall[:] = 196.0 - 20.0 * xs[:, :, None] ** 2
    pitch = max(6, round(height / 36))
    hole = max(1, pitch // 4)
    for y in range(pitch // 2, wall_h - hole, pitch):
        for x in range(pitch // 2 + (y // pitch % 2) * pitch // 2, width, pitch):
            cv2.circle(wall, (x, y), hole, (70.0, 70.0, 72.0), -1, cv2.LINE_AA)
    cv2.line(image, (0, wall_h), (width, wall_h), (95.0, 95.0, 98.0), max(2, pitch // 3))
    # a blue absorbent prep mat under the work
    mat = (round(width * 0.08), round(height * 0.74), round(width * 0.92), round(height * 0.98))
    cv2.rectangle(image, mat[:2], mat[2:], (178.0, 128.0, 72.0), -1, cv2.LINE_AA)
    cv2.rectangle(image, mat[:2], mat[2:], (150.0, 104.0, 56.0), max(1, pitch // 4), cv2.LINE_AA)
    return np.clip(image, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- containers


@lru_cache(maxsize=8)
def _container(
    label: Label, curvature: float, glare: float, scale: float
) -> tuple[_Floats, _Floats]:
    """A vial or bag with its label, as premultiplied BGR and alpha, scaled for the frame."""
    if label.container == "bag":
        color, alpha = _bag(label, glare)
    else:
        color, alpha = _vial(label, curvature, glare)
    if scale != 1.0:
        new_size = (max(1, round(alpha.shape[1] * scale)), max(1, round(alpha.shape[0] * scale)))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        color = _f32(cv2.resize(color, new_size, interpolation=interpolation))
        alpha = _f32(cv2.resize(alpha, new_size, interpolation=interpolation))
    color.flags.writeable = False
    alpha.flags.writeable = False
    return color, alpha


def _accent(label: Label) -> tuple[float, float, float]:
    """A colour for the cap and the label band, fixed per drug name."""
    palette = ((40.0, 40.0, 200.0), (200.0, 120.0, 30.0), (40.0, 150.0, 40.0),
               (30.0, 170.0, 220.0), (150.0, 60.0, 150.0), (60.0, 60.0, 60.0))
    return palette[zlib.crc32(label.name.encode()) % len(palette)]


def _vial(label: Label, curvature: float, glare: float) -> tuple[_Floats, _Floats]:
    margin, above, below, neck_h, cap_h = 14, 44, 150, 44, 76
    width = _LABEL_W + 2 * margin
    body_top = neck_h + cap_h
    height = body_top + above + _LABEL_H + below
    color = np.zeros((height, width, 3), np.float32)
    alpha = np.zeros((height, width), np.float32)
    # the cylinder: column angle theta and the label's horizontal remapping
    u = np.linspace(-1.0, 1.0, width, dtype=np.float32)
    phi = max(curvature, 0.02) * math.pi / 2
    theta = np.arcsin(np.clip(u * math.sin(phi), -1.0, 1.0))
    light = _f32(1.0 - 0.55 * (1.0 - np.cos(theta)) / max(1.0 - math.cos(phi), 1e-6) * curvature)
    # glass body: faint, more opaque and darker at the edges, liquid in the lower part
    edge = np.abs(u) ** 6
    body = slice(body_top, height)
    alpha[body] = (0.28 + 0.55 * edge)[None, :]
    color[body] = np.array([214.0, 222.0, 214.0], np.float32) * (1.0 - 0.35 * edge[:, None])
    liquid = slice(body_top + above + _LABEL_H // 2, height)
    alpha[liquid] += 0.12
    color[liquid] *= np.array([0.86, 0.97, 1.0], np.float32)
    meniscus = body_top + above + _LABEL_H // 2
    cv2.line(alpha, (0, meniscus), (width - 1, meniscus), 0.6, 2)
    cv2.rectangle(alpha, (0, height - 10), (width - 1, height - 1), 0.85, -1)
    _neck_and_cap(color, alpha, label, cap_h, body_top)
    # the label, wrapped around the cylinder
    source_x = (theta / phi + 1.0) / 2.0 * (width - 1)
    source_x = (source_x - margin) * (_LABEL_W - 1) / (width - 1 - 2 * margin)
    columns = (source_x >= 0) & (source_x <= _LABEL_W - 1)
    wrapped = _wrapped_label(label, _f32(source_x))
    label_rows = slice(body_top + above, body_top + above + _LABEL_H)
    color[label_rows][:, columns] = wrapped[:, columns]
    alpha[label_rows][:, columns] = 1.0
    if label.sticker is not None:
        # the sticker, centred below the label, wraps around the same cylinder
        left = (_LABEL_W - _STICKER_W) // 2
        sticker_x = source_x - left
        on_sticker = (sticker_x >= 0) & (sticker_x <= _STICKER_W - 1)
        top = body_top + above + _LABEL_H + _STICKER_GAP
        flat = _flat_sticker(label.sticker).astype(np.float32)
        wrapped_sticker = _wrap(flat, _f32(sticker_x))
        rows = slice(top, top + _STICKER_H)
        color[rows][:, on_sticker] = wrapped_sticker[:, on_sticker]
        alpha[rows][:, on_sticker] = 1.0
    color *= light[None, :, None]
    # a specular streak down the glass, left of centre
    if glare > 0:
        streak = _streak(width, centre=0.32 * width, glare=glare)
        color[body] += streak[None, :, None] * (255.0 * 1.35 * glare)
        alpha[body] = np.maximum(alpha[body], streak[None, :] * glare)
    color *= alpha[:, :, None]
    return color, alpha


def _neck_and_cap(
    color: _Floats, alpha: _Floats, label: Label, cap_h: int, body_top: int
) -> None:
    """Draw a vial's neck, aluminium crimp and coloured flip-off top."""
    width = alpha.shape[1]
    neck_w = round(width * 0.52)
    neck_x = (width - neck_w) // 2
    alpha[cap_h:body_top, neck_x : neck_x + neck_w] = 0.45
    color[cap_h:body_top, neck_x : neck_x + neck_w] = (205.0, 212.0, 205.0)
    cap_w = round(width * 0.62)
    cap_x = (width - cap_w) // 2
    cap_u = np.linspace(-1.0, 1.0, cap_w, dtype=np.float32)
    metal = _f32(175.0 + 60.0 * np.cos(cap_u * 1.4))
    alpha[22:cap_h, cap_x : cap_x + cap_w] = 1.0
    color[22:cap_h, cap_x : cap_x + cap_w] = metal[None, :, None]
    top_w = round(width * 0.58)
    top_x = (width - top_w) // 2
    alpha[0:24, top_x : top_x + top_w] = 1.0
    color[0:24, top_x : top_x + top_w] = _accent(label)


def _wrapped_label(label: Label, source_x: _Floats) -> _Floats:
    """The flat label resampled column by column: output column i shows label x source_x[i]."""
    return _wrap(_flat_label(label).astype(np.float32), source_x)


def _wrap(flat: _Floats, source_x: _Floats) -> _Floats:
    """A flat print resampled column by column: output column i shows its x source_x[i]."""
    height = flat.shape[0]
    map_x = np.repeat(source_x[None, :], height, axis=0)
    map_y = np.repeat(np.arange(height, dtype=np.float32)[:, None], source_x.shape[0], axis=1)
    return _f32(
        cv2.remap(flat, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    )


def _bag(label: Label, glare: float) -> tuple[_Floats, _Floats]:
    width, height = _LABEL_W + 60, 650
    color = np.zeros((height, width, 3), np.float32)
    alpha = np.zeros((height, width), np.float32)
    film = (232.0, 226.0, 220.0)
    seal = 26
    cv2.rectangle(alpha, (0, 0), (width - 1, height - 70), 0.3, -1)
    cv2.rectangle(color, (0, 0), (width - 1, height - 70), film, -1)
    for y in (0, height - 70 - seal):  # heat seals, top and bottom
        cv2.rectangle(alpha, (0, y), (width - 1, y + seal), 0.55, -1)
    cv2.circle(alpha, (width // 2, seal // 2 + 2), 9, 0.0, -1)  # hanger hole
    for x in (width // 2 - 70, width // 2 + 40):  # administration and injection ports
        cv2.rectangle(alpha, (x, height - 72), (x + 30, height - 1), 0.9, -1)
        cv2.rectangle(color, (x, height - 72), (x + 30, height - 1), (200.0, 205.0, 210.0), -1)
        cv2.rectangle(color, (x, height - 20), (x + 30, height - 1), _accent(label), -1)
    top = 80
    left = (width - _LABEL_W) // 2
    color[top : top + _LABEL_H, left : left + _LABEL_W] = _flat_label(label)
    alpha[top : top + _LABEL_H, left : left + _LABEL_W] = 1.0
    # volume graduations below the label
    for number, y in enumerate(range(top + _LABEL_H + 25, height - 110, 28)):
        cv2.line(color, (left, y), (left + (60 if number % 2 else 30), y), _INK, 2)
        cv2.line(alpha, (left, y), (left + (60 if number % 2 else 30), y), 1.0, 2)
    if glare > 0:  # a broad sheen across the film
        streak = _streak(width, centre=0.3 * width, glare=glare)
        shear = np.linspace(-40, 40, height).astype(np.intp)
        sheen = streak[(np.arange(width)[None, :] - shear[:, None]) % width]
        sheen[height - 70 :] = 0.0  # the film ends above the ports
        color += sheen[:, :, None] * (255.0 * 1.35 * glare)
        np.maximum(alpha, sheen * glare, out=alpha)
    color *= alpha[:, :, None]
    return color, alpha


def _streak(width: int, centre: float, glare: float) -> _Floats:
    half_width = 10.0 + 32.0 * glare
    xs = np.arange(width, dtype=np.float32)
    return _f32(np.exp(-(((xs - centre) / half_width) ** 2)))


# ---------------------------------------------------------------- the label


@lru_cache(maxsize=32)
def _flat_label(label: Label) -> Image:
    """The label as printed, flat, with its barcode bitmaps at the reference module size."""
    image = np.empty((_LABEL_H, _LABEL_W, 3), np.uint8)
    image[:] = _PAPER
    cv2.rectangle(image, (0, 0), (_LABEL_W - 1, 9), _accent(label), -1)
    text_right = _LABEL_W - 14
    if label.datamatrix:
        matrix = _datamatrix_bitmap(label)
        size = matrix.shape[0]
        x, y = _LABEL_W - 14 - size, 22
        image[y : y + size, x : x + size] = matrix[:, :, None]
        text_right = x - 2 * MATRIX_MODULE_PX - 6
    lines: list[tuple[str | None, FontName, int, int]] = [
        (label.manufacturer, "regular", 17, 40),
        (label.name, "bold", 30, 78),
        (label.strength, "bold", 22, 108),
        (label.ndc_text, "bold", 18, 136),
        (label.lot_text, "mono", 18, 162),
        (label.expiry_text, "mono", 18, 186),
        (None if label.serial is None else f"SN {label.serial}", "mono", 16, 208),
    ]
    texts = [(text, font, size, (16, baseline), text_right)
             for text, font, size, baseline in lines if text]
    if label.datamatrix:
        texts.append(("Rx only", "bold", 17, (_LABEL_W - 110, 162), _LABEL_W - 14))
    _print_lines(image, texts)
    upc = label.upc_a
    if upc is not None:
        bars = _upc_bitmap(upc)
        x = (_LABEL_W - bars.shape[1]) // 2
        y = 218
        image[y : y + bars.shape[0], x : x + bars.shape[1]] = bars[:, :, None]
        digits = f"{upc[0]}  {upc[1:6]}  {upc[6:11]}  {upc[11]}"
        width = _text_width(digits, "regular", 16)
        _print_lines(image, [(digits, "regular", 16, ((_LABEL_W - width) // 2,
                                                      y + bars.shape[0] + 16), _LABEL_W)])
    image.flags.writeable = False
    return image


TextLine = tuple[str, FontName, int, tuple[int, int], int]


def _print_lines(image: Image, lines: list[TextLine]) -> None:
    """Print lines of text (text, face, pixel size, left baseline, right limit) onto ``image``.

    Each line is shrunk if needed so it ends before its right limit. DejaVu when installed,
    else OpenCV's Hershey font (with a warning, once, naming the package to install).
    """
    if not _fonts_installed():
        for text, font, size, origin, right in lines:
            _put_hershey(image, text, font, size, origin, right)
        return
    canvas = PilImage.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    for text, font, size, origin, right in lines:
        room = right - origin[0]
        width = _text_width(text, font, size)
        fitted = max(6, math.floor(size * room / width)) if width > room else size
        draw.text(origin, text, fill=tuple(round(c) for c in _INK), font=_font(font, fitted),
                  anchor="ls")
    image[...] = np.asarray(canvas)


def _text_width(text: str, font: FontName, size: int) -> int:
    """The width in pixels of ``text`` printed in ``font`` at ``size``."""
    if not _fonts_installed():
        scale, thickness = _hershey_scale(font, size)
        return cv2.getTextSize(text, _hershey_face(font), scale, thickness)[0][0]
    return math.ceil(_font(font, size).getlength(text))


@lru_cache(maxsize=1)
def _fonts_installed() -> bool:
    """True when the DejaVu faces are installed; else warn once which package to install."""
    missing = [name for name in _FONT_FILES.values() if not (FONT_DIR / name).is_file()]
    if missing:
        _log.warning(
            "simulated labels print in OpenCV's Hershey font: %s not found in %s; "
            "install the Debian package %s for real typefaces",
            ", ".join(missing), FONT_DIR, FONT_PACKAGE,
        )
    return not missing


@lru_cache(maxsize=32)
def _font(font: FontName, size: int) -> ImageFont.FreeTypeFont:
    """A DejaVu face at a pixel size."""
    return ImageFont.truetype(str(FONT_DIR / _FONT_FILES[font]), size)


def _hershey_face(font: FontName) -> int:
    return _BOLD_FONT if font == "bold" else _FONT


def _hershey_scale(font: FontName, size: int) -> tuple[float, int]:
    """The Hershey scale and stroke giving about the cap height of DejaVu at ``size``."""
    return size / 31.0, 2 if font != "regular" and size >= 18 else 1


def _put_hershey(
    image: Image, text: str, font: FontName, size: int, origin: tuple[int, int], right: int,
) -> None:
    """Print a line in a Hershey font, shrunk if needed so it ends before ``right``."""
    scale, thickness = _hershey_scale(font, size)
    face = _hershey_face(font)
    (text_w, _), _ = cv2.getTextSize(text, face, scale, thickness)
    room = right - origin[0]
    if text_w > room:
        scale *= room / text_w
    cv2.putText(image, text, origin, face, scale, _INK, thickness, cv2.LINE_AA)


@lru_cache(maxsize=8)
def _flat_sticker(sticker: Sticker) -> Image:
    """The opened-vial sticker, flat: a white sticker, a plain DataMatrix and its lines."""
    image = np.empty((_STICKER_H, _STICKER_W, 3), np.uint8)
    image[:] = (250, 250, 250)
    cv2.rectangle(image, (0, 0), (_STICKER_W - 1, _STICKER_H - 1), _INK, 2)
    barcode = zxingcpp.create_barcode(
        sticker.payload, zxingcpp.BarcodeFormat.DataMatrix, force_square=True
    )
    modules = _ink_bitmap(barcode)
    matrix = np.repeat(np.repeat(modules, MATRIX_MODULE_PX, axis=0), MATRIX_MODULE_PX, axis=1)
    size = matrix.shape[0]
    quiet = 2 * MATRIX_MODULE_PX
    if size + 2 * quiet > _STICKER_H:
        raise ValueError(f"sticker payload {sticker.payload!r} is too long for the sticker")
    top = (_STICKER_H - size) // 2
    image[top : top + size, quiet + 4 : quiet + 4 + size] = matrix[:, :, None]
    left = quiet + 4 + size + quiet + 4
    pitch = (_STICKER_H - 12) // max(1, len(sticker.lines))
    texts: list[TextLine] = [
        (line, "bold" if number == 0 else "regular", 16,
         (left, 6 + pitch * number + (pitch + 12) // 2), _STICKER_W - 8)
        for number, line in enumerate(sticker.lines)
    ]
    _print_lines(image, texts)
    image.flags.writeable = False
    return image


def _ink_bitmap(barcode: zxingcpp.Barcode) -> Image:
    """A barcode's modules, one pixel each, as ink (dark) on paper levels."""
    modules = np.asarray(barcode.to_image(scale=1, add_quiet_zones=False), dtype=np.uint8)
    return np.where(modules < 128, np.uint8(_INK[0]), np.uint8(_PAPER[1])).astype(np.uint8)


def _upc_bitmap(upc_a: str) -> Image:
    """The UPC-A bars at LINEAR_MODULE_PX per module, guard bars extended below."""
    barcode = zxingcpp.create_barcode(upc_a[:11], zxingcpp.BarcodeFormat.UPCA)
    row = _ink_bitmap(barcode)[0]
    if row.shape[0] != _UPC_MODULES:
        raise RuntimeError(f"UPC-A rendered {row.shape[0]} modules, expected {_UPC_MODULES}")
    bars = np.repeat(row[None, :], _UPC_BAR_H + _UPC_GUARD_EXTRA, axis=0)
    short = [m for m in range(_UPC_MODULES) if m not in _UPC_GUARDS]
    bars[_UPC_BAR_H:, short] = np.uint8(_PAPER[1])
    return np.repeat(bars, LINEAR_MODULE_PX, axis=1)


def _datamatrix_bitmap(label: Label) -> Image:
    """The GS1 DataMatrix (FNC1 first) at MATRIX_MODULE_PX per module."""
    content = label.gs1_hri
    assert content is not None
    barcode = zxingcpp.create_barcode(
        content, zxingcpp.BarcodeFormat.DataMatrix, gs1=True, force_square=True
    )
    modules = _ink_bitmap(barcode)
    if modules.shape[0] != modules.shape[1]:
        raise RuntimeError(f"DataMatrix rendered {modules.shape}, expected a square symbol")
    return np.repeat(np.repeat(modules, MATRIX_MODULE_PX, axis=0), MATRIX_MODULE_PX, axis=1)
