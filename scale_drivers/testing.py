r"""Transcript tests for balance drivers: a port that replays (sent, received) byte pairs.

A driver test is a protocol transcript: the bytes the driver must send, in order, each with
the bytes the balance answers. :class:`ScriptedPort` stands in for the serial port
(:class:`scale_drivers.transport.Port`); it raises :class:`TranscriptMismatch` as soon as
the driver sends anything else, and :meth:`ScriptedPort.assert_done` raises it if the
driver stopped early or left a reply unread. No serial port, thread or sleep is involved,
so a transcript test runs in milliseconds and fails the same way every time.

Each answer in a transcript is one of:

* ``bytes``: the balance's reply, delivered by the next read;
* a sequence of ``bytes``: the reply in pieces, one per read (a line split across reads);
* ``None``: silence. The next read comes back empty at once, which the driver takes for a
  timeout (no time passes: a timeout test is as fast as any other);
* an exception: raised by the next read, e.g. ``BalanceDisconnected`` for an unplug.

Writing a transcript test for a new protocol
--------------------------------------------

Take the protocol's manual, write the codec and the driver (see ``docs/balance-drivers.md``),
then write down what crosses the wire for each behaviour, command by command. A toy
protocol, "Acme", asks ``W`` and hears ``<value> <unit>``:

>>> from decimal import Decimal
>>> from scale_drivers.driver import LineDriver, Weight
>>> class AcmeCodec:
...     def encode(self, command):
...         return command.encode("ascii") + b"\r\n"
...     def parse(self, line):
...         return line.strip() or None
>>> class AcmeBalance(LineDriver[str]):
...     def command_for_now(self):
...         return "W"
...     def read_weight_now(self):
...         line = self.exchange("W", lambda reply: True)[0]
...         value, unit = line.split()
...         return Weight(Decimal(value), unit, True, line)

Its immediate reading, with a :class:`FixedClock` so the reading's times are known:

>>> port = ScriptedPort.of([(b"W\r\n", b"12.34 g\r\n")])
>>> reading = AcmeBalance(port, AcmeCodec(), clock=FixedClock()).read_immediate()
>>> reading.value, reading.unit, reading.raw, reading.command
(Decimal('12.34'), 'g', '12.34 g', 'W')
>>> port.assert_done()

A silent balance is a timeout that names the command:

>>> port = ScriptedPort.of([(b"W\r\n", None)])
>>> AcmeBalance(port, AcmeCodec()).read_immediate()
Traceback (most recent call last):
  ...
scale_drivers.api.BalanceTimeout: no response to 'W' from transcript://

A driver that sends other bytes, or stops before the transcript ends, fails the test:

>>> port = ScriptedPort.of([(b"W\r\n", b"12.34 g\r\n")])
>>> port.write(b"Q\r\n")
Traceback (most recent call last):
  ...
scale_drivers.testing.TranscriptMismatch: exchange 1: the driver sent b'Q\r\n', not b'W\r\n'
>>> port = ScriptedPort.of([(b"W\r\n", b"12.34 g\r\n"), (b"W\r\n", b"12.35 g\r\n")])
>>> AcmeBalance(port, AcmeCodec()).read_immediate().value
Decimal('12.34')
>>> port.assert_done()
Traceback (most recent call last):
  ...
scale_drivers.testing.TranscriptMismatch: exchange 2 of 2 was never sent: b'W\r\n'

Then add the protocol to the behavioural contract every driver passes
(``tests/scale_drivers/test_driver_contract.py``: one ``Dialect`` entry holding its
transcript fragments), and keep its own quirks in its own test module. Codecs also get a
property test: :func:`decode_in_chunks` decodes a byte stream cut anywhere.

The checks raise :class:`TranscriptMismatch` rather than using ``assert``, so they hold
under ``python -O`` too; it is an ``AssertionError``, so pytest reports it as a failure.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from scale_drivers.driver import Codec
from scale_drivers.framing import LineFramer

R = TypeVar("R")

#: What the balance answers to one command: a reply, a reply in pieces (one per read),
#: silence (``None``), or an error the next read raises (an unplug).
Reply = bytes | Sequence[bytes] | BaseException | None
#: One command the driver must send and the balance's answer to it.
Exchange = tuple[bytes, Reply]

#: The time a :class:`FixedClock` reports unless told otherwise.
FIXED_UTC = dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC)


class TranscriptMismatch(AssertionError):
    """The driver did not follow the transcript: other bytes, extra bytes, or too few."""


@dataclass
class ScriptedPort:
    """A :class:`scale_drivers.transport.Port` that follows a transcript of exchanges.

    Build one with :meth:`of`. ``closed`` tells whether the driver released the port and
    ``flushed`` how often it discarded input (before each command, and on resynchronising).
    """

    script: deque[Exchange]
    url: str = "transcript://"
    closed: bool = False
    flushed: int = 0
    _pending: deque[bytes | BaseException] = field(default_factory=deque, init=False)
    _length: int = field(default=0, init=False)
    _sent: int = field(default=0, init=False)
    _mismatch: TranscriptMismatch | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._length = len(self.script)

    @classmethod
    def of(cls, exchanges: Iterable[Exchange]) -> ScriptedPort:
        """A port that expects ``exchanges`` in this order."""
        return cls(deque(exchanges))

    def write(self, data: bytes) -> None:
        """Check ``data`` against the next exchange and queue its answer for reading.

        Raises :class:`TranscriptMismatch` if the driver sends other bytes than the
        transcript expects, or anything after its end. The first mismatch is kept and
        raised again by :meth:`assert_done`, should a driver swallow it.
        """
        self._sent += 1
        if not self.script:
            raise self._fail(
                f"exchange {self._sent}: the driver sent {data!r} after the transcript ended")
        expected, reply = self.script.popleft()
        if data != expected:
            raise self._fail(f"exchange {self._sent}: the driver sent {data!r}, not {expected!r}")
        if reply is None:
            return
        if isinstance(reply, bytes | BaseException):
            self._pending.append(reply)
        else:
            self._pending.extend(reply)

    def read(self, deadline: float) -> bytes:
        """The next piece of the answer; empty (silence) at once when none is waiting.

        Silence never waits for ``deadline``: a driver sees its timeout without any time
        passing. A queued exception is raised here, as a real port raises on an unplug.
        """
        del deadline
        if not self._pending:
            return b""
        item = self._pending.popleft()
        if isinstance(item, BaseException):
            raise item
        return item

    def flush_input(self) -> bytes:
        """Count the flush; answers already queued stay queued (they arrive after it)."""
        self.flushed += 1
        return b""

    def close(self) -> None:
        """Mark the port released."""
        self.closed = True

    def assert_done(self) -> None:
        """Raise :class:`TranscriptMismatch` unless every exchange was sent and its answer read."""
        if self._mismatch is not None:
            raise TranscriptMismatch(str(self._mismatch))
        if self.script:
            number = self._length - len(self.script) + 1
            raise TranscriptMismatch(f"exchange {number} of {self._length} was never sent: "
                                     f"{self.script[0][0]!r}")
        if self._pending:
            raise TranscriptMismatch(f"replies never read: {list(self._pending)!r}")

    def _fail(self, message: str) -> TranscriptMismatch:
        mismatch = TranscriptMismatch(message)
        if self._mismatch is None:
            self._mismatch = mismatch
        return mismatch


@dataclass(frozen=True)
class FixedClock:
    """A :class:`scale_drivers.driver.Clock` that always reports the same times."""

    now: dt.datetime = FIXED_UTC
    seconds: float = 1000.0

    def utc(self) -> dt.datetime:
        """:attr:`now`."""
        return self.now

    def monotonic(self) -> float:
        """:attr:`seconds`."""
        return self.seconds


def decode_in_chunks(codec: Codec[R], stream: bytes, cuts: Iterable[int]) -> list[R]:
    r"""The replies ``codec`` decodes from ``stream`` fed in pieces split at ``cuts``.

    For a property test: however the stream is cut (``cuts`` wrap around its length), the
    replies must be those of the whole lines.

    >>> from scale_drivers.mt_sics import MtSicsCodec
    >>> [reply.params for reply in decode_in_chunks(MtSicsCodec(), b"S S  1.00 g\r\nZ A\r\n", [5])]
    [('1.00', 'g'), ()]
    """
    framer = LineFramer()
    decoded: list[R] = []
    previous = 0
    for cut in [*sorted({c % (len(stream) + 1) for c in cuts}), len(stream)]:
        for line in framer.feed(stream[previous:cut]):
            reply = codec.parse(line)
            if reply is not None:
                decoded.append(reply)
        previous = cut
    return decoded
