"""Handheld barcode scanners: keyboard-wedge bursts and serial (USB CDC / RS-232) scanners.

A keyboard-wedge scanner types its data as keystrokes and presses Enter. It types far
faster than a person: :class:`WedgeBurstDetector` collects keys that arrive within a few
milliseconds of each other and ending in Enter, and lets slower typing through untouched.
Wedges often cannot type the GS (0x1D) that separates GS1 fields: some send a substitute
(configured in the scanner, e.g. ``<GS>`` or ``^]``), which is turned back into GS here; a
scanner that drops it altogether yields data the parser refuses with an explanation.

A serial scanner sends raw bytes, GS included, ended by CR and/or LF: :class:`SerialScanner`
reads them through the same transport the balances use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from scale_drivers.api import SerialSettings
from scale_drivers.framing import FramingOverflow, LineFramer
from scale_drivers.transport import SerialTransport

GS = "\x1d"
#: Most wedge scanners type 50-200 characters a second; people rarely beat 15.
MAX_KEY_INTERVAL = 0.035
MIN_SCAN_LENGTH = 6
#: What scanners are commonly configured to send in place of the GS they cannot type.
GS_SUBSTITUTES = ("<GS>", "^]", "{GS}", "\\x1d", "\\u001d")


def restore_separators(text: str, substitutes: tuple[str, ...] = GS_SUBSTITUTES) -> str:
    """Turn a wedge's stand-ins for GS back into the GS byte."""
    for substitute in substitutes:
        text = text.replace(substitute, GS)
    return text


@dataclass
class WedgeBurstDetector:
    """Tells a scanner's keystroke burst from a person's typing, by timing alone.

    Feed every printable key and Enter with its time; :meth:`key` returns the scanned text
    when Enter ends a burst of at least ``min_length`` keys, each within ``max_interval``
    seconds of the one before. Keys that do not belong to a burst are passed back through
    :meth:`typed` so the focused field still receives them.
    """

    max_interval: float = MAX_KEY_INTERVAL
    min_length: int = MIN_SCAN_LENGTH
    substitutes: tuple[str, ...] = GS_SUBSTITUTES
    _buffer: list[str] = field(default_factory=list)
    _last: float | None = None
    _typed: list[str] = field(default_factory=list)

    def key(self, char: str, at: float) -> str | None:
        """One keystroke (CR or LF for Enter); the scan it completes, if any."""
        slow = self._last is not None and at - self._last > self.max_interval
        self._last = at
        if char in ("\r", "\n"):
            burst = "".join(self._buffer)
            self._buffer.clear()
            if not slow and len(burst) >= self.min_length:
                return restore_separators(burst, self.substitutes)
            self._typed.extend(burst)
            self._typed.append(char)
            return None
        if slow and self._buffer:
            # The pause shows the keys so far were typed by a person.
            self._typed.extend(self._buffer)
            self._buffer.clear()
        self._buffer.append(char)
        return None

    def typed(self) -> str:
        """Keys judged to be typing since the last call (to hand on to the focused field)."""
        text = "".join(self._typed)
        self._typed.clear()
        return text

    def flush(self, now: float) -> str:
        """After a pause, keys still buffered were typing: return them."""
        if self._last is not None and now - self._last > self.max_interval and self._buffer:
            self._typed.extend(self._buffer)
            self._buffer.clear()
        return self.typed()


class SerialScanner:
    """A scanner on a serial port (USB CDC or RS-232): one scan per line, raw bytes."""

    def __init__(self, url: str, settings: SerialSettings | None = None) -> None:
        self.transport = SerialTransport(url, settings or SerialSettings())
        self._framer = LineFramer()
        self._pending: list[str] = []

    def read_scan(self, timeout: float) -> str | None:
        """The next scan, or None if none arrives within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not self._pending:
            data = self.transport.read(deadline)
            if not data:
                return None
            try:
                lines = self._framer.feed(data)
            except FramingOverflow:
                self._framer.reset()
                continue
            self._pending.extend(line for line in lines if line.strip())
        return restore_separators(self._pending.pop(0))

    def close(self) -> None:
        """Release the port."""
        self.transport.close()
