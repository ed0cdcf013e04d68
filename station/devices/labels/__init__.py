"""Label layout shared by the printers' ZPL and the PDF preview.

:func:`layout` turns a :class:`~station.core.label.LabelContent` (or a vial's
:class:`~station.core.label.VialLabelContent`) into positioned elements in millimetres, origin at
the top left. ``zpl.render_zpl``, ``pdf.render_pdf`` and ``preview.render_png`` only translate
those elements, so the printed label and its previews agree line for line. An opened vial's
label carries a DataMatrix of its code (:class:`Matrix`) beside its lines. Text is wrapped
with Helvetica's metrics (the Zebra font 0 is narrower, so a line that fits the preview fits
the printer). When the
content does not fit the label even with smaller text, :class:`LabelError` is raised: a label
must never silently lose a line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import numpy as np
import zxingcpp
from numpy.typing import NDArray
from reportlab.graphics.barcode.code128 import Code128
from reportlab.pdfbase.pdfmetrics import stringWidth

from station.core.label import (
    LabelContent,
    LabelError,
    VialLabelContent,
    format_time,
)

__all__ = [
    "PREPARATION_SIZE",
    "VIAL_SIZE",
    "Barcode",
    "Box",
    "Element",
    "LabelError",
    "LabelSize",
    "Matrix",
    "Text",
    "layout",
    "matrix_modules",
]

MM_PER_INCH = Decimal("25.4")
_LINE = 1.22  # line pitch as a multiple of the text size
_SCALES = (1.0, 0.92, 0.85, 0.78, 0.72)  # text sizes tried, largest first, until it fits
_QUIET_MODULES = 10  # Code 128 quiet zone each side
_SIZE_RE = re.compile(r"^\s*([0-9.]+)\s*[x×X]\s*([0-9.]+)\s*(?:mm)?\s*$")


@dataclass(frozen=True)
class LabelSize:
    """A label stock: width and height in millimetres, and the printer's resolution."""

    width_mm: Decimal
    height_mm: Decimal
    dpi: int = 203

    def __post_init__(self) -> None:
        if self.width_mm <= 0 or self.height_mm <= 0:
            raise LabelError(f"label size {self} must be greater than zero")
        if self.dpi not in (152, 203, 300, 600):
            raise LabelError(f"printer resolution {self.dpi} dpi is not 152, 203, 300 or 600")

    @classmethod
    def parse(cls, text: str, dpi: int = 203) -> LabelSize:
        """Read 'WxH' in millimetres, e.g. '101.6x76.2' or '57x32 mm'."""
        match = _SIZE_RE.match(text)
        if match is None:
            raise LabelError(f"label size {text!r} is not WIDTHxHEIGHT in mm, e.g. '101.6x76.2'")
        try:
            width, height = Decimal(match[1]), Decimal(match[2])
        except InvalidOperation:
            raise LabelError(f"label size {text!r} is not WIDTHxHEIGHT in mm") from None
        return cls(width, height, dpi)

    def dots(self, mm: float) -> int:
        """Millimetres in printer dots."""
        return round(mm * self.dpi / float(MM_PER_INCH))

    @property
    def width(self) -> float:
        """Width in mm as a float, for layout arithmetic."""
        return float(self.width_mm)

    @property
    def height(self) -> float:
        """Height in mm as a float."""
        return float(self.height_mm)

    def __str__(self) -> str:
        return f"{self.width_mm.normalize():f}x{self.height_mm.normalize():f} mm"


PREPARATION_SIZE = LabelSize(Decimal("101.6"), Decimal("76.2"))  # 4 x 3 inches
VIAL_SIZE = LabelSize(Decimal("57.15"), Decimal("31.75"))  # 2.25 x 1.25 inches


@dataclass(frozen=True)
class Text:
    """A line of text; ``y`` is the top of the line, ``size`` the font size, both in mm."""

    x: float
    y: float
    size: float
    text: str
    bold: bool = False
    reverse: bool = False  # white on a black bar


@dataclass(frozen=True)
class Box:
    """A rectangle (outline, or filled black)."""

    x: float
    y: float
    width: float
    height: float
    thickness: float = 0.3
    filled: bool = False


@dataclass(frozen=True)
class Barcode:
    """A Code 128 symbol of ``data``; ``module`` is the narrow bar width in mm."""

    x: float
    y: float
    height: float
    module: float
    data: str
    module_dots: int


@dataclass(frozen=True)
class Matrix:
    """A square DataMatrix (ECC 200) of ``data``: ``modules`` a side, each ``module`` mm."""

    x: float
    y: float
    module: float
    data: str
    module_dots: int
    modules: int

    @property
    def side(self) -> float:
        """The symbol's side in mm, without its quiet zone."""
        return self.modules * self.module


Element = Text | Box | Barcode | Matrix


def matrix_modules(data: str) -> NDArray[np.bool_]:
    """The dark modules of the square DataMatrix of ``data`` (True = dark), one per cell."""
    symbol = zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.DataMatrix,
                                     force_square=True)
    image = np.asarray(symbol.to_image(scale=1, add_quiet_zones=False), dtype=np.uint8)
    return image < 128


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """Width in mm of ``text`` at ``size`` mm in Helvetica (bold)."""
    return float(stringWidth(text, "Helvetica-Bold" if bold else "Helvetica", size))


def wrap(text: str, width: float, size: float, *, bold: bool = False) -> list[str]:
    """Split ``text`` into lines no wider than ``width`` mm (a too-long word is cut)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, size, bold=bold) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        rest = word
        while text_width(rest, size, bold=bold) > width:
            cut = len(rest)
            while cut > 1 and text_width(rest[:cut], size, bold=bold) > width:
                cut -= 1
            lines.append(rest[:cut])
            rest = rest[cut:]
        current = rest
    if current:
        lines.append(current)
    return lines or [""]


class _Flow:
    """Places wrapped lines from the top down within a column."""

    def __init__(self, x: float, y: float, width: float, bottom: float, scale: float) -> None:
        self.x, self.y, self.width, self.bottom, self.scale = x, y, width, bottom, scale
        self.elements: list[Element] = []

    def line(self, text: str, size: float, *, bold: bool = False, gap: float = 0.0) -> None:
        size *= self.scale
        self.y += gap * self.scale
        for part in wrap(text, self.width, size, bold=bold):
            self.elements.append(Text(self.x, self.y, size, part, bold))
            self.y += size * _LINE

    def banner(self, text: str, size: float) -> None:
        """White bold text on a black bar the full width of the column."""
        size *= self.scale
        pad = size * 0.25
        lines = wrap(text, self.width - 2 * pad, size, bold=True)
        height = len(lines) * size * _LINE + pad
        self.elements.append(Box(self.x, self.y, self.width, height, filled=True))
        y = self.y + pad
        for part in lines:
            self.elements.append(Text(self.x + pad, y, size, part, bold=True, reverse=True))
            y += size * _LINE
        self.y += height + size * 0.3

    def rule(self) -> None:
        self.y += 0.6 * self.scale
        self.elements.append(Box(self.x, self.y, self.width, 0.0, thickness=0.25))
        self.y += 0.9 * self.scale

    @property
    def fits(self) -> bool:
        return self.y <= self.bottom


def layout(content: LabelContent | VialLabelContent, size: LabelSize) -> tuple[Element, ...]:
    """Place every field of ``content`` on a label of ``size``; raise LabelError if it won't fit."""
    build: Callable[[float], tuple[list[Element], bool]]
    if isinstance(content, LabelContent):

        def build(scale: float) -> tuple[list[Element], bool]:
            return _preparation(content, size, scale)

    else:

        def build(scale: float) -> tuple[list[Element], bool]:
            return _vial(content, size, scale)

    for scale in _SCALES:
        elements, fits = build(scale)
        if fits:
            return tuple(elements)
    raise LabelError(
        f"the label content does not fit on {size}: use a larger label (--size WIDTHxHEIGHT)"
    )


def _margin(size: LabelSize) -> float:
    return max(1.5, min(size.width, size.height) * 0.03)


def _preparation(
    content: LabelContent, size: LabelSize, scale: float
) -> tuple[list[Element], bool]:
    margin = _margin(size)
    inner = size.width - 2 * margin
    foot, foot_fits = _footer(content, size, margin, scale)
    foot_top = min(e.y for e in foot) - 1.0
    flow = _Flow(margin, margin, inner, foot_top, scale)
    flow.line(content.patient_name, 4.4, bold=True)
    who = [content.patient_id]
    if content.date_of_birth is not None:
        who.append(f"DOB {content.date_of_birth.isoformat()}")
    who.append(f"Loc {content.location}")
    flow.line(" · ".join(who), 3.0)
    flow.y += 0.6 * scale
    for warning in content.warnings:
        flow.banner(warning, 3.0)
    for drug in content.drugs:
        flow.line(drug.text, 3.8, bold=True)
    if content.base is not None:
        flow.line(f"in {content.base}", 3.0)
    flow.line(
        f"Total volume {content.total_volume_text} · Final conc. {content.concentration_text}",
        3.0,
    )
    route = f"Route {content.route}"
    if content.rate is not None:
        route += f" · Rate {content.rate}"
    flow.line(route, 3.0)
    flow.rule()
    flow.line(f"BUD  {format_time(content.beyond_use)}", 3.8, bold=True)
    flow.line(content.bud_rule, 2.2)
    flow.line(content.storage_instruction, 3.0, bold=True, gap=0.4)
    flow.line(
        f"{content.category_text}. Compounded {format_time(content.compounded_at)} "
        f"by {content.preparer_initials}. Prescriber {content.prescriber}",
        2.4,
        gap=0.4,
    )
    if content.prerequisites:
        flow.line(f"{content.category_text} on: {content.prerequisites}", 2.2)
    return flow.elements + foot, flow.fits and foot_fits


def _footer(
    content: LabelContent, size: LabelSize, margin: float, scale: float
) -> tuple[list[Element], bool]:
    """Barcode with its text at the bottom left, the pharmacist's box at the bottom right."""
    bottom = size.height - margin
    caption = 2.4 * scale
    box_w, box_h = 20.0 * scale, 12.0 * scale
    box_x = size.width - margin - box_w
    box_y = bottom - box_h
    ids = f"Prep {content.preparation_id} · Order {content.order_id}"
    elements: list[Element] = [
        Text(box_x, box_y - caption * _LINE, caption, "RPh check", bold=True),
        Box(box_x, box_y, box_w, box_h, thickness=0.4),
        Text(margin, bottom - caption, caption, ids),
    ]
    room = box_x - margin - 2.0
    barcode, fits = _barcode(content.barcode, size, margin, room, 9.0 * scale)
    barcode_y = bottom - caption * _LINE - barcode.height
    elements.append(
        Barcode(barcode.x, barcode_y, barcode.height, barcode.module, barcode.data,
                barcode.module_dots)
    )
    return elements, fits and text_width(ids, caption) <= room + 2.0


def _barcode(
    data: str, size: LabelSize, x: float, room: float, height: float
) -> tuple[Barcode, bool]:
    """The widest Code 128 (module 3, 2, then 1 dot, at least 0.19 mm) that fits ``room``."""
    chosen: Barcode | None = None
    for dots in (3, 2, 1):
        module = dots * float(MM_PER_INCH) / size.dpi
        if module < 0.19 and chosen is not None:
            break
        width = (symbol_modules(data) + 2 * _QUIET_MODULES) * module
        chosen = Barcode(x + _QUIET_MODULES * module, 0.0, height, module, data, dots)
        if width <= room:
            return chosen, True
    assert chosen is not None
    return chosen, False


def symbol_modules(data: str) -> int:
    """Modules in the Code 128 symbol of ``data``, without quiet zones."""
    return round(float(Code128(data, barWidth=1, quiet=False).width))


def _vial(content: VialLabelContent, size: LabelSize, scale: float) -> tuple[list[Element], bool]:
    margin = _margin(size)
    matrix: list[Element] = []
    width = size.width - 2 * margin
    if content.code:
        symbol = _matrix(content.code, size, margin)
        matrix = [symbol, Text(symbol.x, symbol.y + symbol.side + 0.8, 1.9 * scale,
                               content.vial_id or content.code, bold=True)]
        width = symbol.x - 2 * symbol.module - margin
    flow = _Flow(margin, margin, width, size.height - margin, scale)
    for warning in content.warnings:
        flow.banner(warning, 2.2)
    flow.line(f"{content.product_name} {content.strength}", 3.0, bold=True)
    flow.line(f"NDC {content.ndc} · Lot {content.lot}", 2.2)
    flow.line(f"Opened {format_time(content.punctured_at)}", 2.2)
    flow.line(f"Discard after {format_time(content.beyond_use)}", 2.8, bold=True)
    flow.line(f"Remaining {content.remaining_text}", 2.8, bold=True)
    flow.line(content.bud_rule, 1.6)
    flow.line(content.storage_instruction, 1.9)
    flow.line(f"Opened by {content.initials or '____'}", 1.9)
    return flow.elements + matrix, flow.fits


def _matrix(data: str, size: LabelSize, margin: float) -> Matrix:
    """The DataMatrix at the top right: modules of at least 0.375 mm (3 dots at 203 dpi)."""
    modules = matrix_modules(data).shape[0]
    dots = max(3, round(0.375 * size.dpi / float(MM_PER_INCH)))
    module = dots * float(MM_PER_INCH) / size.dpi
    x = size.width - margin - 1 * module - modules * module
    return Matrix(x, margin + module, module, data, dots, modules)
