r"""ZPL II for Zebra label printers.

One label is one ``^XA … ^XZ`` format. Text fields use the scalable font 0 (``^A0``) with
UTF-8 (``^CI28``); every field is sent through ``^FH`` so that ``^``, ``~``, ``_``, control
characters and anything outside ASCII travel as ``_XX`` hex bytes and can never end a field or
start a command. The preparation id is a Code 128 barcode (``^BC``, automatic subsets); an
opened vial's code a square DataMatrix (``^BX``, ECC 200, its size fixed to the preview's).

>>> escape("50% ^ ~ _ é")
'50% _5E _7E _5F _C3_A9'
"""

from __future__ import annotations

from station.core.label import LabelContent, VialLabelContent
from station.devices.labels import (
    PREPARATION_SIZE,
    VIAL_SIZE,
    Barcode,
    Box,
    LabelSize,
    Matrix,
    Text,
    layout,
)

__all__ = ["escape", "render_zpl"]

_SAFE = frozenset(chr(c) for c in range(0x20, 0x7F)) - {"^", "~", "_"}


def escape(text: str) -> str:
    """Text for a ``^FH^FD`` field: unsafe characters as ``_XX`` hex bytes of their UTF-8."""
    return "".join(
        char if char in _SAFE else "".join(f"_{byte:02X}" for byte in char.encode("utf-8"))
        for char in text
    )


def render_zpl(
    content: LabelContent | VialLabelContent, size: LabelSize | None = None
) -> str:
    """The ZPL II of one label; ``size`` defaults to 4x3 in (a vial: 2.25x1.25 in)."""
    if size is None:
        size = PREPARATION_SIZE if isinstance(content, LabelContent) else VIAL_SIZE
    commands = [
        "^XA",
        "^CI28",
        f"^PW{size.dots(size.width)}",
        f"^LL{size.dots(size.height)}",
        "^LH0,0",
    ]
    for element in layout(content, size):
        commands.append(_element(element, size))
    commands.append("^XZ")
    return "\n".join(commands) + "\n"


def _element(element: Text | Box | Barcode | Matrix, size: LabelSize) -> str:
    origin = f"^FO{size.dots(element.x)},{size.dots(element.y)}"
    if isinstance(element, Text):
        height = max(size.dots(element.size), 10)
        reverse = "^FR" if element.reverse else ""
        return f"{origin}^A0N,{height},{height}{reverse}^FH^FD{escape(element.text)}^FS"
    if isinstance(element, Box):
        thickness = max(size.dots(element.thickness), 1)
        width = max(size.dots(element.width), thickness)
        height = max(size.dots(element.height), thickness)
        if element.filled:
            thickness = min(width, height)
        return f"{origin}^GB{width},{height},{thickness}^FS"
    if isinstance(element, Matrix):
        return (f"{origin}^BXN,{element.module_dots},200,{element.modules},{element.modules}"
                f"^FH^FD{escape(element.data)}^FS")
    height = size.dots(element.height)
    return (
        f"{origin}^BY{element.module_dots},3,{height}"
        f"^BCN,{height},N,N,N,A^FH^FD{escape(element.data)}^FS"
    )
