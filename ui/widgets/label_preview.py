"""The label just printed, as the printer drew it, at the largest size the space allows.

:class:`LabelPreview` shows a PNG (the printer's preview of a preparation's or an opened
vial's label) scaled to fit its box without distortion, never above its own resolution's
double, with a caption line above it ("Label printed: apply it and scan it"). Without a
picture it shows only the caption. The picture never asks for room: the box is the layout's.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from ui.widgets.look import text_label

CAPTION_PT = 16
#: The most a preview is enlarged: beyond this, a label's pixels show.
MAX_ZOOM = 2.0


class LabelPreview(QWidget):
    """See the module's description."""

    def __init__(self, parent: QWidget | None = None, *, name: str = "label_preview") -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.caption_label = text_label(self, f"{name}_caption", CAPTION_PT, bold=True)
        self.picture = QLabel(self)
        self.picture.setObjectName(f"{name}_picture")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.picture.setMinimumSize(1, 1)
        # The picture is refitted when its own box changes: the layout sizes it after this
        # widget's resize, and a page of a stack is sized before it is first shown.
        self.picture.installEventFilter(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.caption_label)
        layout.addWidget(self.picture, 1)
        self._png: bytes | None = None
        self._pixmap = QPixmap()

    @property
    def png(self) -> bytes | None:
        """The picture shown (PNG bytes), if any."""
        return self._png

    @property
    def shown_size(self) -> QSize:
        """The size the picture is drawn at now (empty without one)."""
        pixmap = self.picture.pixmap()
        return pixmap.size() if not pixmap.isNull() else QSize()

    def show_label(self, png: bytes | None, caption: str) -> None:
        """Show ``png`` (None: none) under ``caption``; a PNG that does not load says so."""
        self.caption_label.setText(caption)
        if png == self._png:
            return
        self._png = png
        self._pixmap = QPixmap()
        if png is not None and not self._pixmap.loadFromData(png, "PNG"):
            self._pixmap = QPixmap()
            self.caption_label.setText(f"{caption} (the preview could not be shown)")
        self._fit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        """Refit the picture when its box is resized."""
        if watched is self.picture and event.type() is QEvent.Type.Resize:
            self._fit()
        return super().eventFilter(watched, event)

    def _fit(self) -> None:
        if self._pixmap.isNull():
            self.picture.clear()
            return
        box = self.picture.contentsRect().size()
        limit = self._pixmap.size() * MAX_ZOOM
        box = box.boundedTo(limit)
        if box.width() < 1 or box.height() < 1:
            return
        self.picture.setPixmap(self._pixmap.scaled(
            box, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))
