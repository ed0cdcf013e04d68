"""Keyboard-wedge scans, told apart from typing by an application-wide event filter.

:class:`ScannerEventFilter` sees every key press before any widget does. Printable keys and
Enter go to a :class:`WedgeBurstDetector` and are held back: a burst ending in Enter becomes
one ``scanned(text)`` and never reaches the focused field; anything else (a person typing)
is handed on to the widget it was meant for, a few tens of milliseconds late and in order.
Keys with Ctrl, Alt or Meta, and keys without text (arrows, Tab, Backspace), pass straight
through, after any keys still held back.

The filter also counts operator actions, key presses and mouse clicks, once each however
many widgets an event travels through.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QWindow
from PySide6.QtWidgets import QWidget

from station.devices.scanner_input import GS, MAX_KEY_INTERVAL, MIN_SCAN_LENGTH, WedgeBurstDetector

_ENTER_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
_COMMAND_MODIFIERS = (
    Qt.KeyboardModifier.ControlModifier
    | Qt.KeyboardModifier.AltModifier
    | Qt.KeyboardModifier.MetaModifier
)


@dataclass(frozen=True)
class _HeldKey:
    """A key press held back until the detector says whether it was typed or scanned."""

    receiver: QObject
    key: int
    modifiers: Qt.KeyboardModifier
    text: str


class ScannerEventFilter(QObject):
    """Install with ``QApplication.instance().installEventFilter(filter)``."""

    scanned = Signal(str)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_interval: float = MAX_KEY_INTERVAL,
        min_length: int = MIN_SCAN_LENGTH,
    ) -> None:
        super().__init__(parent)
        self._clock = clock
        self._detector = WedgeBurstDetector(max_interval=max_interval, min_length=min_length)
        self._held: list[_HeldKey] = []
        self._replaying = False
        self._last_seen: tuple[int, int, int, str, QObject] | None = None
        self.key_presses = 0
        self.mouse_clicks = 0
        self.scans = 0
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(round(max_interval * 1000) + 5)
        self._flush_timer.timeout.connect(self._on_pause)

    # ------------------------------------------------------------ the filter

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        """Hold back printable keys and Enter; count presses and clicks."""
        if self._replaying:
            return False
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress and isinstance(event, QMouseEvent):
            if self._first_sight(watched, event, int(event.button().value), ""):
                self.mouse_clicks += 1
            return False
        if kind != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        if not self._first_sight(watched, event, event.key(), event.text()):
            return False
        self.key_presses += 1
        char = self._character(event)
        if char is None:
            self._release_all()  # keys typed before this one arrive first
            return False
        self._held.append(_HeldKey(watched, event.key(), event.modifiers(), event.text()))
        scan = self._detector.key(char, self._clock())
        self._replay(self._detector.typed())
        if scan is not None:
            self._held.clear()
            self._flush_timer.stop()
            self.scans += 1
            self.scanned.emit(scan)
        elif self._held:
            self._flush_timer.start()
        return True

    @staticmethod
    def _character(event: QKeyEvent) -> str | None:
        """The character the detector is fed, or None for a key that passes through."""
        if event.isAutoRepeat() or (event.modifiers() & _COMMAND_MODIFIERS and event.text() != GS):
            return None
        if event.key() in _ENTER_KEYS:
            return "\r"
        text = event.text()
        if len(text) == 1 and (text.isprintable() or text == GS):
            return text
        return None

    def _first_sight(self, watched: QObject, event: QEvent, code: int, text: str) -> bool:
        """False when Qt hands the same event on (window to widget, child to parent)."""
        pointer = shiboken6.getCppPointer(event)[0]
        seen = (pointer, int(event.type().value), code, text, watched)
        previous, self._last_seen = self._last_seen, seen
        if previous is None or previous[:4] != seen[:4] or not shiboken6.isValid(previous[4]):
            return True
        before = previous[4]
        if isinstance(watched, QWidget):
            if isinstance(before, QWindow):
                return watched.window().windowHandle() is not before
            if isinstance(before, QWidget):
                return watched is before or not watched.isAncestorOf(before)
        return True

    # ------------------------------------------------------------ handing keys on

    def _on_pause(self) -> None:
        self._replay(self._detector.flush(self._clock()))
        if self._held:
            self._flush_timer.start()

    def _release_all(self) -> None:
        self._flush_timer.stop()
        self._replay(self._detector.flush(float("inf")))

    def _replay(self, typed: str) -> None:
        """Send the oldest held keys (as many as ``typed`` has characters) to their widgets."""
        count = len(typed)
        if not count:
            return
        keys, self._held = self._held[:count], self._held[count:]
        app = QCoreApplication.instance()
        if app is None:
            return
        self._replaying = True
        try:
            for held in keys:
                if not shiboken6.isValid(held.receiver):
                    continue
                # Only the press: the key's own release already went through.
                event = QKeyEvent(QEvent.Type.KeyPress, held.key, held.modifiers, held.text)
                QCoreApplication.sendEvent(held.receiver, event)
        finally:
            self._replaying = False
