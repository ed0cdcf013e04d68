"""Protocol transcripts: a scripted port that replays (sent, received) byte pairs.

The driver's writes must match the script byte for byte, in order; replies are delivered in
the given chunks; silence (``None``) makes the next read come back empty at once, which the
driver sees as a timeout; an exception is raised by the next read (an unplug). A test
fails if anything is left unsent or unread.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scale_drivers.framing import LineFramer

Reply = bytes | Sequence[bytes] | BaseException | None


@dataclass
class ScriptedPort:
    """A :class:`scale_drivers.transport.Port` that follows a transcript."""

    script: deque[tuple[bytes, Reply]]
    url: str = "transcript://"
    _pending: deque[bytes | BaseException] = field(default_factory=deque)
    closed: bool = False
    flushed: int = 0

    @classmethod
    def of(cls, pairs: Iterable[tuple[bytes, Reply]]) -> ScriptedPort:
        return cls(deque(pairs))

    def write(self, data: bytes) -> None:
        assert self.script, f"driver sent {data!r} after the transcript ended"
        expected, reply = self.script.popleft()
        assert data == expected, f"driver sent {data!r}, transcript expects {expected!r}"
        if reply is None:
            return
        if isinstance(reply, bytes | BaseException):
            self._pending.append(reply)
        else:
            self._pending.extend(reply)

    def read(self, deadline: float) -> bytes:
        del deadline
        if not self._pending:
            return b""
        item = self._pending.popleft()
        if isinstance(item, BaseException):
            raise item
        return item

    def flush_input(self) -> bytes:
        self.flushed += 1
        return b""

    def close(self) -> None:
        self.closed = True

    def assert_done(self) -> None:
        assert not self.script, f"transcript not finished: next {self.script[0]!r}"
        assert not self._pending, f"replies never read: {list(self._pending)!r}"


def decode_in_chunks(codec: Any, stream: bytes, cuts: Iterable[int]) -> list[Any]:
    """The replies ``codec`` decodes from ``stream`` fed in pieces split at ``cuts``."""
    framer = LineFramer()
    decoded = []
    previous = 0
    for cut in [*sorted({c % (len(stream) + 1) for c in cuts}), len(stream)]:
        for line in framer.feed(stream[previous:cut]):
            reply = codec.parse(line)
            if reply is not None:
                decoded.append(reply)
        previous = cut
    return decoded
