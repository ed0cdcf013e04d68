"""A PDF of the label, one page the size of the label stock, for preview or a laser printer.

Draws the same elements as the ZPL (:func:`station.devices.labels.layout`): Helvetica text, the
hazardous banner, the Code 128 barcode of the preparation id and the pharmacist's empty box, and
an opened vial's DataMatrix.
The output is reproducible: the same content gives the same bytes.
"""

from __future__ import annotations

import io

from reportlab.graphics.barcode.code128 import Code128
from reportlab.pdfgen.canvas import Canvas

from station.core.label import LabelContent, VialLabelContent
from station.devices.labels import (
    MM_PER_INCH,
    PREPARATION_SIZE,
    VIAL_SIZE,
    Barcode,
    Box,
    LabelSize,
    Matrix,
    Text,
    layout,
    matrix_modules,
)

__all__ = ["render_pdf"]

_ASCENT = 0.76  # baseline below the top of a line, as a share of the font size
_PT_PER_MM = 72 / float(MM_PER_INCH)


def render_pdf(
    content: LabelContent | VialLabelContent, size: LabelSize | None = None
) -> bytes:
    """The PDF of one label; ``size`` defaults to 4x3 in (a vial: 2.25x1.25 in)."""
    if size is None:
        size = PREPARATION_SIZE if isinstance(content, LabelContent) else VIAL_SIZE
    buffer = io.BytesIO()
    page_height = size.height * _PT_PER_MM
    canvas = Canvas(
        buffer, pagesize=(size.width * _PT_PER_MM, page_height), invariant=True,
        pageCompression=0,
    )
    if isinstance(content, LabelContent):
        canvas.setTitle(f"Label {content.preparation_id} (order {content.order_id})")
    else:
        canvas.setTitle(f"Opened vial {content.ndc} lot {content.lot}")
    canvas.setAuthor("station")
    for element in layout(content, size):
        if isinstance(element, Text):
            _text(canvas, element, page_height)
        elif isinstance(element, Box):
            _box(canvas, element, page_height)
        elif isinstance(element, Matrix):
            _matrix(canvas, element, page_height)
        else:
            _barcode(canvas, element, page_height)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _text(canvas: Canvas, text: Text, page_height: float) -> None:
    size = text.size * _PT_PER_MM
    canvas.setFont("Helvetica-Bold" if text.bold else "Helvetica", size)
    canvas.setFillGray(1 if text.reverse else 0)
    baseline = page_height - (text.y + text.size * _ASCENT) * _PT_PER_MM
    canvas.drawString(text.x * _PT_PER_MM, baseline, text.text)


def _box(canvas: Canvas, box: Box, page_height: float) -> None:
    x, width = box.x * _PT_PER_MM, box.width * _PT_PER_MM
    top = page_height - box.y * _PT_PER_MM
    canvas.setLineWidth(box.thickness * _PT_PER_MM)
    canvas.setStrokeGray(0)
    if box.height == 0:
        canvas.line(x, top, x + width, top)
        return
    height = box.height * _PT_PER_MM
    canvas.setFillGray(0)
    canvas.rect(x, top - height, width, height, stroke=1, fill=1 if box.filled else 0)


def _barcode(canvas: Canvas, barcode: Barcode, page_height: float) -> None:
    symbol = Code128(
        barcode.data,
        barWidth=barcode.module * _PT_PER_MM,
        barHeight=barcode.height * _PT_PER_MM,
        quiet=False,
        humanReadable=False,
    )
    canvas.setFillGray(0)
    bottom = page_height - (barcode.y + barcode.height) * _PT_PER_MM
    symbol.drawOn(canvas, barcode.x * _PT_PER_MM, bottom)


def _matrix(canvas: Canvas, matrix: Matrix, page_height: float) -> None:
    module = matrix.module * _PT_PER_MM
    canvas.setFillGray(0)
    for row, column in zip(*matrix_modules(matrix.data).nonzero(), strict=True):
        top = page_height - (matrix.y + (int(row) + 1) * matrix.module) * _PT_PER_MM
        left = (matrix.x + int(column) * matrix.module) * _PT_PER_MM
        canvas.rect(left, top, module, module, stroke=0, fill=1)
