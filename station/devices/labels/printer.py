"""The station's label printer: ZPL to the configured destination, a PNG preview back.

:class:`ZplPrinter` is what the hood's label and opened-vial desks print through
(:class:`station.services.labelling.LabelPrinter`): it lays the label out once, renders its
ZPL (:mod:`~station.devices.labels.zpl`) and its PNG preview
(:mod:`~station.devices.labels.preview`) from that layout, sends the ZPL
(:func:`~station.devices.labels.printing.send`) and returns the preview for the screen. A
layout that does not fit, or a printer that cannot be reached, raises before anything is
returned, so a label is never reported printed when it was not.
"""

from __future__ import annotations

from station.core.label import LabelContent, VialLabelContent
from station.devices.labels import LabelSize
from station.devices.labels.preview import render_png
from station.devices.labels.printing import DEFAULT_TIMEOUT, Destination, parse_destination, send
from station.devices.labels.zpl import render_zpl

__all__ = ["ZplPrinter"]


class ZplPrinter:
    """A ZPL printer at ``destination`` (``tcp://HOST[:PORT]``, ``cups://QUEUE``, ``file://PATH``).

    ``size`` is the preparation label stock, ``vial_size`` the opened-vial label stock.
    """

    def __init__(self, destination: str, *, size: LabelSize, vial_size: LabelSize,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.destination: Destination = parse_destination(destination)
        self.name = str(self.destination)
        self.size = size
        self.vial_size = vial_size
        self.timeout = timeout

    def print_label(self, content: LabelContent) -> bytes:
        """Print a preparation's label; its PNG preview."""
        return self._print(content, self.size)

    def print_vial_label(self, content: VialLabelContent) -> bytes:
        """Print an opened vial's label; its PNG preview."""
        return self._print(content, self.vial_size)

    def _print(self, content: LabelContent | VialLabelContent, size: LabelSize) -> bytes:
        zpl = render_zpl(content, size)
        preview = render_png(content, size)
        send(zpl, self.destination, timeout=self.timeout)
        return preview
