"""Fonts and text fields sized for a gloved hand at arm's length, shared by every screen."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QLineEdit, QWidget

#: How a hazardous drug is marked in every list: in words, not by colour alone.
HAZARDOUS = "⚠ HAZARDOUS"


def font(points: int, *, bold: bool = False) -> QFont:
    """The application font at ``points``, bold or not."""
    made = QFont()
    made.setPointSize(points)
    made.setBold(bold)
    return made


def line_edit(parent: QWidget, name: str, accessible: str, *, points: int, height: int,
              width: int) -> QLineEdit:
    """A text field with an object name (for tests) and an accessible name (for readers)."""
    field = QLineEdit(parent)
    field.setObjectName(name)
    field.setAccessibleName(accessible)
    field.setFont(font(points))
    field.setMinimumHeight(height)
    field.setMinimumWidth(width)
    return field


def text_label(parent: QWidget, name: str, points: int, text: str = "", *,
               bold: bool = False) -> QLabel:
    """A wrapped label of plain text (never read as rich text), named for tests."""
    label = QLabel(text, parent)
    label.setObjectName(name)
    label.setFont(font(points, bold=bold))
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
    return label
