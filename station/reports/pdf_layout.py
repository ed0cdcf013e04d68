"""The look every PDF the station prints shares: page, margins, colours, text styles.

:class:`NumberedCanvas` holds the pages until the end so that each can carry "page N of M".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

PAGE = letter
MARGIN = 15 * mm
FRAME_PADDING = 6  # points reportlab's frame keeps inside the page margins
WIDTH = PAGE[0] - 2 * MARGIN
INK = colors.HexColor("#1a1a1a")
MUTED = colors.HexColor("#5a5a5a")
RULE = colors.HexColor("#b8b8b8")
SHADE = colors.HexColor("#eef1f4")
ALERT_BG = colors.HexColor("#fbe3e1")
ALERT_INK = colors.HexColor("#a1150c")
NOTE_BG = colors.HexColor("#fff4d6")
NOTE_INK = colors.HexColor("#7a5600")
OK_INK = colors.HexColor("#1d6b2f")

BODY = ParagraphStyle("body", fontName="Helvetica", fontSize=8.5, leading=10.5,
                       textColor=INK)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=7.5, leading=9)
LINE = ParagraphStyle("line", parent=SMALL, leftIndent=3, spaceBefore=1)
TINY = ParagraphStyle("tiny", parent=BODY, fontSize=6.8, leading=8.2)
CELL_HEAD = ParagraphStyle("cellhead", parent=SMALL, fontName="Helvetica-Bold",
                            textColor=MUTED)
MONO = ParagraphStyle("mono", parent=SMALL, fontName="Courier", fontSize=7.5, leading=9)
HASH = ParagraphStyle("hash", parent=MONO, fontSize=6.4, leading=8)
TITLE = ParagraphStyle("title", parent=BODY, fontName="Helvetica-Bold", fontSize=17,
                        leading=21)
ID = ParagraphStyle("id", parent=BODY, fontName="Helvetica-Bold", fontSize=17, leading=21,
                     alignment=TA_RIGHT)
H2 = ParagraphStyle("h2", parent=BODY, fontName="Helvetica-Bold", fontSize=11.5,
                     leading=14, spaceBefore=9, spaceAfter=4)
STEP = ParagraphStyle("step", parent=BODY, fontName="Helvetica-Bold", fontSize=9.5,
                       leading=12)
BANNER = ParagraphStyle("banner", parent=BODY, fontName="Helvetica-Bold", fontSize=10,
                         leading=13, textColor=colors.white)

GRID = [
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
    ("TOPPADDING", (0, 0), (-1, -1), 2.2),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2),
    ("LEFTPADDING", (0, 0), (-1, -1), 3),
    ("RIGHTPADDING", (0, 0), (-1, -1), 3),
]
HEADED = [*GRID, ("BACKGROUND", (0, 0), (-1, 0), SHADE), ("LINEBELOW", (0, 0), (-1, 0), 0.8,
                                                             MUTED)]


class NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab ships no type information
    """Holds every page until the end, so each can say "page N of M"."""

    def __init__(self, *args: Any, decorate: Callable[[Canvas, int, int], None],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._decorate = decorate
        self._held: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        """Hold the page just drawn."""
        self._held.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        """Decorate every held page with its number and the total, then write them."""
        total = len(self._held)
        for number, state in enumerate(self._held, start=1):
            self.__dict__.update(state)
            self._decorate(self, number, total)
            super().showPage()
        super().save()
