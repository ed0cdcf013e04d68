"""A photo scaled to fit on a dark ground, or a line of words where there is no photo.

:class:`PhotoPane` paints one image centred and scaled to its size (the aspect kept), with no
zoom or pan (:class:`~ui.widgets.photo_viewer.PhotoViewer` does those); without an image it
says why in white on the same ground.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from ui.widgets.look import font

#: The photos' own size (width, height), which the pane asks for; it shrinks to half.
PHOTO_SIZE = (640, 360)
TEXT_PT = 15


class PhotoPane(QWidget):
    """A photo scaled to fit (aspect kept) on a dark ground, or a line of text without one."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._text = ""
        self.setMinimumSize(PHOTO_SIZE[0] // 2, PHOTO_SIZE[1] // 2)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFont(font(TEXT_PT, bold=True))

    @property
    def image(self) -> QImage | None:
        """The photo shown, if any."""
        return self._image

    @property
    def text(self) -> str:
        """The words shown instead of a photo."""
        return self._text

    def show_image(self, image: QImage | None, text: str) -> None:
        """Show ``image``, or ``text`` when there is none."""
        self._image, self._text = image, ("" if image is not None else text)
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        """The photos' own size."""
        return QSize(*PHOTO_SIZE)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        """The photo centred and scaled to fit, or the words."""
        del event
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), QColor("#263238"))
            if self._image is None:
                painter.setPen(QColor("#ffffff"))
                painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._text)
                return
            size = self._image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(QPoint(0, 0), size)
            target.moveCenter(self.rect().center())
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(target, self._image)
        finally:
            painter.end()
