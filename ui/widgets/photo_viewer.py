"""A photograph from the record at full resolution: fit, zoom in and out, pan.

:class:`PhotoViewer` shows one image scaled to fit, then zoomed in steps of
:data:`ZOOM_STEP` (``+``/``-`` keys, the wheel, or :meth:`zoom_in`/:meth:`zoom_out`) up to
:data:`MAX_ZOOM` times the image's own pixels; ``0`` fits it again. Drag with the mouse or
press Shift+arrows to pan. The zoom, in per cent of the image's pixels, is painted in a corner
so a reader knows whether they look at the real pixels. Without an image it says why (the
photo is loading, the step has none, the photo cannot be read).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QPainter,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

from ui.widgets.look import font

ZOOM_STEP = 1.25
MAX_ZOOM = 8.0
PAN_STEP = 80  # px per Shift+arrow
BACKGROUND = QColor("#202020")
MESSAGE_PT = 20
BADGE_PT = 14


class PhotoViewer(QGraphicsView):
    """One photograph: fit, zoom and pan; a message instead when there is none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("photo_viewer")
        self.setAccessibleName("Photograph of the step")
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self._item: QGraphicsPixmapItem | None = None
        self._image: QImage | None = None
        self._message = ""
        self._fitted = True
        self.setBackgroundBrush(BACKGROUND)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setRenderHints(QPainter.RenderHint.SmoothPixmapTransform
                            | QPainter.RenderHint.Antialiasing)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the review's keys drive it
        self.setMinimumSize(320, 240)

    # ------------------------------------------------------------ content

    @property
    def image(self) -> QImage | None:
        """The image on show, if any."""
        return self._image

    @property
    def message(self) -> str:
        """What is said instead of an image ("" with an image)."""
        return self._message

    def show_image(self, image: QImage) -> None:
        """Show ``image`` at full resolution, fitted to the view."""
        self._scene.clear()
        self._image = image
        self._message = ""
        self._item = self._scene.addPixmap(QPixmap.fromImage(image))
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._scene.setSceneRect(QRectF(image.rect()))
        self.fit()

    def show_message(self, text: str) -> None:
        """No image: say ``text`` in the middle of the view."""
        self._scene.clear()
        self._item, self._image = None, None
        self._message = text
        self._scene.setSceneRect(QRectF())
        self.resetTransform()
        self.viewport().update()

    # ------------------------------------------------------------ zoom and pan

    @property
    def zoom(self) -> float:
        """How many screen pixels one image pixel takes (1.0 is the image's own size)."""
        return self.transform().m11()

    @property
    def fitted(self) -> bool:
        """Whether the whole image is fitted to the view."""
        return self._fitted

    def fit(self) -> None:
        """Show the whole image, as large as the view allows."""
        self._fitted = True
        if self._item is not None:
            self.fitInView(self._item, Qt.AspectRatioMode.KeepAspectRatio)
        self.viewport().update()

    def zoom_in(self) -> None:
        """One step closer (up to :data:`MAX_ZOOM`)."""
        self._zoom_by(ZOOM_STEP)

    def zoom_out(self) -> None:
        """One step back; back to fitted once the whole image shows."""
        self._zoom_by(1 / ZOOM_STEP)

    def pan(self, dx: int, dy: int) -> None:
        """Move the view over a zoomed image by (dx, dy) screen pixels."""
        horizontal, vertical = self.horizontalScrollBar(), self.verticalScrollBar()
        horizontal.setValue(horizontal.value() + dx)
        vertical.setValue(vertical.value() + dy)

    def _zoom_by(self, factor: float) -> None:
        if self._item is None:
            return
        fit_zoom = self._fit_zoom()
        target = min(max(self.zoom * factor, fit_zoom), MAX_ZOOM)
        if target <= fit_zoom * 1.0001:
            self.fit()
            return
        self._fitted = False
        self.scale(target / self.zoom, target / self.zoom)
        self.viewport().update()

    def _fit_zoom(self) -> float:
        assert self._item is not None
        rect = self._item.boundingRect()
        view = self.viewport().rect()
        if rect.isEmpty() or view.isEmpty():
            return 1.0
        return min(view.width() / rect.width(), view.height() / rect.height())

    # ------------------------------------------------------------ Qt events

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt's name)
        """The wheel zooms around the pointer."""
        if event.angleDelta().y() > 0:
            self.zoom_in()
        elif event.angleDelta().y() < 0:
            self.zoom_out()
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        """+ and - zoom, 0 fits, Shift+arrows pan (when it has the focus)."""
        key = event.key()
        pans = {Qt.Key.Key_Left: (-PAN_STEP, 0), Qt.Key.Key_Right: (PAN_STEP, 0),
                Qt.Key.Key_Up: (0, -PAN_STEP), Qt.Key.Key_Down: (0, PAN_STEP)}
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_in()
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.zoom_out()
        elif key == Qt.Key.Key_0:
            self.fit()
        elif key in pans and event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.pan(*pans[Qt.Key(key)])
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        """A fitted image stays fitted as the view changes size."""
        super().resizeEvent(event)
        if self._fitted:
            self.fit()

    def drawForeground(self, painter: QPainter, rect: QRectF | QRect) -> None:  # noqa: N802
        """The message without an image; the zoom in a corner with one."""
        painter.save()
        painter.resetTransform()
        area = QRectF(self.viewport().rect())
        if self._item is None:
            if self._message:
                painter.setPen(QColor("#ffffff"))
                painter.setFont(font(MESSAGE_PT, bold=True))
                painter.drawText(area.adjusted(24, 24, -24, -24),
                                 int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap),
                                 self._message)
        else:
            words = (f"fitted · {self.zoom:.0%}" if self._fitted else f"{self.zoom:.0%}")
            painter.setFont(font(BADGE_PT, bold=True))
            metrics = painter.fontMetrics()
            badge = QRectF(0, 0, metrics.horizontalAdvance(words) + 24, metrics.height() + 12)
            badge.moveBottomRight(area.bottomRight() - QPointF(10, 10))
            painter.fillRect(badge, QColor(0, 0, 0, 190))
            painter.setPen(QColor("#ffffff"))
            painter.drawText(badge, int(Qt.AlignmentFlag.AlignCenter), words)
        painter.restore()

