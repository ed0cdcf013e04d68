"""The replay's playhead: a time on a preparation's own clock, stepped or played.

:class:`ReplayPlayer` keeps the playhead. Stepping (Left/Right, Home/End) jumps it to an entry;
playing moves it with a GUI-thread QTimer at 1×, 10× or 60× real speed (:data:`SPEEDS`), and the
entry shown is the last one recorded at or before it.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence

from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Signal

from station.services.review.model import TimelineEntry
from ui.audit.replay_moment import Moment, moment_at

SPEEDS = (1, 10, 60)
#: How often the playhead moves while playing (ms).
TICK_MS = 100


class ReplayPlayer(QObject):
    """The playhead over one timeline: step to an entry, or play at a speed.

    ``moment_changed(Moment)`` when the entry shown changes; ``clock_changed(datetime)`` as
    the playhead moves; ``playing_changed(bool)``.
    """

    moment_changed = Signal(object)  # Moment
    clock_changed = Signal(object)  # dt.datetime, the playhead (UTC)
    playing_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, *, tick_ms: int = TICK_MS) -> None:
        super().__init__(parent)
        self._timeline: tuple[TimelineEntry, ...] = ()
        self._times: list[dt.datetime] = []
        self._index = 0
        self._playhead: dt.datetime | None = None
        self._speed = SPEEDS[0]
        self._timer = QTimer(self)
        self._timer.setInterval(tick_ms)
        self._timer.timeout.connect(self._tick)
        self._elapsed = QElapsedTimer()

    @property
    def timeline(self) -> tuple[TimelineEntry, ...]:
        """The entries played."""
        return self._timeline

    @property
    def index(self) -> int:
        """The entry shown."""
        return self._index

    @property
    def playhead(self) -> dt.datetime | None:
        """The time on the preparation's clock now shown."""
        return self._playhead

    @property
    def speed(self) -> int:
        """How many times real speed playing goes."""
        return self._speed

    @property
    def playing(self) -> bool:
        """Whether the playhead is moving."""
        return self._timer.isActive()

    def moment(self) -> Moment | None:
        """The moment shown, if there is a timeline."""
        return moment_at(self._timeline, self._index) if self._timeline else None

    def load(self, timeline: Sequence[TimelineEntry]) -> None:
        """Replay ``timeline`` from its first entry, paused."""
        self.pause()
        self._timeline = tuple(timeline)
        self._times = [e.utc for e in self._timeline]
        self._index = -1
        self._playhead = None
        if self._timeline:
            self.go_to(0)

    def clear(self) -> None:
        """Replay nothing."""
        self.pause()
        self._timeline, self._times, self._index, self._playhead = (), [], 0, None

    def go_to(self, index: int) -> None:
        """Show entry ``index`` (clamped); the playhead jumps to its time."""
        if not self._timeline:
            return
        index = min(max(index, 0), len(self._timeline) - 1)
        self._set_playhead(self._times[index])
        self._show(index)

    def step(self, delta: int) -> None:
        """Show the entry ``delta`` entries on (negative: back)."""
        self.go_to(self._index + delta)

    def first(self) -> None:
        """Show the first entry."""
        self.go_to(0)

    def last(self) -> None:
        """Show the last entry."""
        self.go_to(len(self._timeline) - 1)

    def set_speed(self, speed: int) -> None:
        """Play at ``speed`` times real speed from now on."""
        if speed <= 0:
            raise ValueError(f"the speed must be positive, got {speed}")
        self._speed = speed

    def play(self) -> None:
        """Move the playhead at the chosen speed; from the start if at the end."""
        if not self._timeline or self.playing:
            return
        if self._index >= len(self._timeline) - 1:
            self.first()
        self._elapsed.start()
        self._timer.start()
        self.playing_changed.emit(True)

    def pause(self) -> None:
        """Stop the playhead where it is."""
        if self._timer.isActive():
            self._timer.stop()
            self.playing_changed.emit(False)

    def toggle(self) -> None:
        """Play if paused, pause if playing."""
        if self.playing:
            self.pause()
        else:
            self.play()

    def _tick(self) -> None:
        if self._playhead is None:
            self.pause()
            return
        real_ms = self._elapsed.restart()
        playhead = self._playhead + dt.timedelta(milliseconds=real_ms * self._speed)
        end = self._times[-1]
        if playhead >= end:
            self.last()
            self.pause()
            return
        self._set_playhead(playhead)
        self._show(bisect.bisect_right(self._times, playhead) - 1)

    def _set_playhead(self, when: dt.datetime) -> None:
        if when != self._playhead:
            self._playhead = when
            self.clock_changed.emit(when)

    def _show(self, index: int) -> None:
        if index != self._index:
            self._index = index
            self.moment_changed.emit(moment_at(self._timeline, index))
