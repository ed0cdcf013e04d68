"""The tests' one fake wall clock: a time-zone-aware "now" that moves only as a test says.

Code under test takes its clock as a callable returning an aware :class:`datetime.datetime`
(``clock()``); a :class:`FakeClock` is such a callable. It stands still unless it was given a
``step`` (then every reading is that much later than the one before) or a test moves it with
:meth:`FakeClock.advance`. Tests that need the real time (a balance check compared with
today, a password hash's age) keep a real clock; the balance drivers' monotonic clock is
:class:`scale_drivers.testing.FixedClock`, not this.

>>> import datetime as dt
>>> start = dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC)
>>> clock = FakeClock(start, step=dt.timedelta(seconds=1))
>>> [t.second for t in (clock(), clock(), clock())]
[0, 1, 2]
>>> clock.advance(minutes=5).isoformat()
'2026-11-26T15:05:03+00:00'
>>> clock().isoformat()
'2026-11-26T15:05:03+00:00'
>>> FakeClock(dt.datetime(2026, 11, 26, 15, 0))
Traceback (most recent call last):
ValueError: a fake clock needs an aware start time, not 2026-11-26T15:00:00
"""

from __future__ import annotations

import datetime as dt


class FakeClock:
    """A wall clock under the test's control.

    Each call returns :attr:`now`, then moves :attr:`now` on by ``step`` (by default zero: a
    clock that stands still). A test may also set :attr:`now`, or move it by
    :meth:`advance`.
    """

    def __init__(self, start: dt.datetime, step: dt.timedelta = dt.timedelta(0)) -> None:
        if start.utcoffset() is None:
            raise ValueError(f"a fake clock needs an aware start time, not {start.isoformat()}")
        if step < dt.timedelta(0):
            raise ValueError(f"a fake clock cannot run backwards (step {step})")
        self.now = start
        self.step = step

    def __call__(self) -> dt.datetime:
        """The time now; the next reading is ``step`` later."""
        reading = self.now
        self.now = reading + self.step
        return reading

    def advance(self, delta: dt.timedelta = dt.timedelta(0), **parts: float) -> dt.datetime:
        """Move the clock on by ``delta`` plus ``parts`` (``timedelta`` keywords); the new now."""
        self.now += delta + dt.timedelta(**parts)
        return self.now
