"""Hear a worker thread's signal on the main thread.

A plain callable connected to a worker's signal (a lambda, ``list.append``, or the slot
pytest-qt's ``waitSignal`` connects) runs on the worker's thread; pytest-qt then stops its
timer from the wrong thread and may wait forever. A :class:`Relay` is a QObject living on the
main thread, so Qt queues the signal to it; tests wait on :attr:`Relay.fired` instead.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance


class Relay(QObject):
    """Re-emits ``signal``'s arguments, as one tuple, on the main thread."""

    fired = Signal(tuple)

    def __init__(self, signal: SignalInstance) -> None:
        super().__init__()
        self.received: list[tuple[Any, ...]] = []
        signal.connect(self._on_fired)

    def _on_fired(self, *args: Any) -> None:
        self.received.append(args)
        self.fired.emit(args)

    @property
    def last(self) -> tuple[Any, ...] | None:
        """The arguments of the latest emission."""
        return self.received[-1] if self.received else None
