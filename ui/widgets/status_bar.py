"""The devices' state, always in view: one large label per device, colour *and* words.

Each label names the device, a symbol and its state in capitals, then the detail the
worker gave (who the balance is, the camera's frame rate, why something is missing), so it
reads the same to someone who cannot tell red from green or on a grey-scale monitor.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QLabel, QSizePolicy, QStatusBar, QWidget


class Level(Enum):
    """How worried the operator should be."""

    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class _Look:
    symbol: str
    background: str
    foreground: str


# High contrast pairs (WCAG AA or better for large bold text).
LOOKS = {
    Level.OK: _Look("✔", "#1b5e20", "#ffffff"),
    Level.WARNING: _Look("⚠", "#ffc107", "#000000"),
    Level.ERROR: _Look("✖", "#b71c1c", "#ffffff"),
}

#: Device state values (LinkState, CameraState, scanner states) and how each reads.
STATES: dict[str, tuple[Level, str]] = {
    "connected": (Level.OK, "CONNECTED"),
    "offline": (Level.WARNING, "NOT ANSWERING"),
    "garbled": (Level.WARNING, "GARBLED REPLIES"),
    "disconnected": (Level.ERROR, "DISCONNECTED"),
    "open": (Level.OK, "ON"),
    "lost": (Level.ERROR, "LOST"),
    "closed": (Level.WARNING, "OFF"),
    "ready": (Level.OK, "READY"),
    "absent": (Level.ERROR, "NOT FOUND"),
}


def state_words(state: str) -> str:
    """How a device state value reads ("offline" is "NOT ANSWERING"), here and elsewhere."""
    return STATES.get(state, (Level.WARNING, state.upper()))[1]


class DeviceStatusBar(QStatusBar):
    """Balance, camera and scanner state, updated from the workers' ``state_changed``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.balance_label = self._add("balance", "Balance")
        self.camera_label = self._add("camera", "Camera")
        self.scanner_label = self._add("scanner", "Scanner")
        self.set_balance_state("disconnected", "starting")
        self.set_camera_state("closed", "starting")
        self.set_scanner_state("ready", "keyboard wedge")

    def _add(self, name: str, title: str) -> QLabel:
        label = QLabel(self)
        label.setObjectName(f"{name}_status")
        label.setProperty("title", title)
        label.setMinimumHeight(40)
        label.setWordWrap(True)  # a long reason wraps; it never widens the window
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        label.setAccessibleName(f"{title} status")
        self.addPermanentWidget(label, 1)
        return label

    @staticmethod
    def _show(label: QLabel, state: str, detail: str) -> None:
        level, words = STATES.get(state, (Level.WARNING, state.upper()))
        look = LOOKS[level]
        text = f"{look.symbol} {label.property('title')}: {words}"
        if detail:
            text += f" — {detail}"
        label.setText(text)
        label.setToolTip(text)
        label.setProperty("level", level.value)
        label.setStyleSheet(
            f"QLabel {{ background: {look.background}; color: {look.foreground};"
            " font-size: 16pt; font-weight: bold; padding: 4px 10px; border-radius: 4px; }"
        )

    @Slot(str, str)
    def set_balance_state(self, state: str, detail: str) -> None:
        """A LinkState value and who the balance is, or what is wrong."""
        self._show(self.balance_label, state, detail)

    @Slot(str, str)
    def set_camera_state(self, state: str, detail: str) -> None:
        """A CameraState value and the frame rate, or why it stopped."""
        self._show(self.camera_label, state, detail)

    @Slot(str, str)
    def set_scanner_state(self, state: str, detail: str) -> None:
        """``ready`` or ``absent`` (or another word), and which scanner."""
        self._show(self.scanner_label, state, detail)
