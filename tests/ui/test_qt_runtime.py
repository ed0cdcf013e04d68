"""The Qt binding keeps Python's reference counts right (PySide6 6.12.0 did not)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(object, str)


class _Receiver(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def on_fired(self, _value: object, _text: str) -> None:
        self.count += 1


def test_emitting_a_signal_leaves_true_false_and_none_counted_right(qapp):
    emitter, receiver = _Emitter(), _Receiver()
    emitter.fired.connect(receiver.on_fired)
    before = [sys.getrefcount(x) for x in (True, False, None)]
    for _ in range(500):
        emitter.fired.emit(None, "x")
    after = [sys.getrefcount(x) for x in (True, False, None)]
    assert receiver.count == 500
    # Each emission losing a reference would show as -500; allow the odd cached object.
    assert all(abs(a - b) < 50 for a, b in zip(after, before, strict=True)), (before, after)
