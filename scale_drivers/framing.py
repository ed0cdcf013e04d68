r"""Split a byte stream into lines, whatever the line ending (CR LF, CR or LF).

Pure and incremental: feed bytes as they arrive, get back the complete lines. A line that
grows past ``max_line`` bytes without an ending is garbage, not a reading: it is dropped
and reported, so a babbling device cannot grow the buffer without bound.

>>> framer = LineFramer()
>>> framer.feed(b"S S     100.00 g\r")
['S S     100.00 g']
>>> framer.feed(b"\nS D")
[]
>>> framer.feed(b"     99.99 g\n")
['S D     99.99 g']
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_LINE = 256


class FramingOverflow(ValueError):
    """More than ``max_line`` bytes arrived without a line ending."""


@dataclass
class LineFramer:
    """Incremental line splitter; text is decoded as ASCII with undecodable bytes escaped."""

    max_line: int = MAX_LINE
    _buffer: bytearray = field(default_factory=bytearray)
    _after_cr: bool = False

    def feed(self, data: bytes) -> list[str]:
        """Add bytes; return the lines they complete (without their endings)."""
        lines: list[str] = []
        for byte in data:
            if byte == 0x0A and self._after_cr:  # the LF of a CR LF pair
                self._after_cr = False
                continue
            self._after_cr = byte == 0x0D
            if byte in (0x0A, 0x0D):
                lines.append(self._buffer.decode("ascii", errors="backslashreplace"))
                self._buffer.clear()
                continue
            self._buffer.append(byte)
            if len(self._buffer) > self.max_line:
                self._buffer.clear()
                raise FramingOverflow(f"more than {self.max_line} bytes without a line ending")
        return lines

    def reset(self) -> None:
        """Forget any partial line (after a resynchronisation)."""
        self._buffer.clear()
        self._after_cr = False

    @property
    def pending(self) -> bytes:
        """Bytes of an incomplete line, for diagnostics."""
        return bytes(self._buffer)
