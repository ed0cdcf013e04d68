"""The camera's latest frame with boxes over the barcodes read and the decision in words.

Frames arrive from the camera worker, decoded symbols a frame or two later from the decoder;
the symbols are drawn over the latest frame (a container moves little between frames). The
banner says the acceptance decision in words and a symbol (✔ accepted, ✖ refused, … still
looking), and a lost camera covers the picture with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from station.core.acceptance import Status
from station.devices.camera import Frame
from station.devices.decoding import Symbol

#: Symbols older than this many frames behind the latest frame are no longer drawn.
STALE_AFTER_FRAMES = 10

BACKGROUND = QColor("#202020")


@dataclass(frozen=True)
class _Look:
    symbol: str
    word: str
    background: QColor
    foreground: QColor


LOOKS = {
    Status.ACCEPTED: _Look("✔", "ACCEPTED", QColor("#1b5e20"), QColor("#ffffff")),
    Status.PENDING: _Look("…", "LOOKING", QColor("#ffc107"), QColor("#000000")),
    Status.REFUSED: _Look("✖", "REFUSED", QColor("#b71c1c"), QColor("#ffffff")),
}


def frame_to_qimage(frame: Frame) -> QImage:
    """The frame as a QImage over the same BGR bytes (Qt converts when painting).

    The frame's array is read-only and immutable, so the QImage may share it; the caller
    keeps the frame alive as long as the image.
    """
    image = frame.image
    if not image.flags.c_contiguous:
        raise ValueError("frame image must be C-contiguous")
    return QImage(image.data, frame.width, frame.height, int(image.strides[0]),
                  QImage.Format.Format_BGR888)


def banner_text(status: Status, decision_text: str) -> str:
    """"✔ ACCEPTED — reason", "✖ REFUSED — reason" or "… LOOKING — reason"."""
    look = LOOKS[status]
    head = f"{look.symbol} {look.word}"
    return f"{head} — {decision_text}" if decision_text else head


def symbol_tag(symbol: Symbol) -> str:
    """The symbology and its human-readable content, e.g. "UPC-A 0304092720013"."""
    text = symbol.text.replace("\x1d", " ").strip()
    if len(text) > 40:
        text = text[:39] + "…"
    return f"{symbol.format} {text}"


@dataclass(frozen=True)
class _Reads:
    frame_index: int
    symbols: tuple[Symbol, ...]
    tags: tuple[str, ...]
    decision_text: str
    status: Status


class CameraPreviewWidget(QWidget):
    """Shows the latest :class:`Frame`, the symbols read and the acceptance decision."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._frame: Frame | None = None
        self._image: QImage | None = None
        self._reads: _Reads | None = None
        self._lost: str | None = None
        self.setMinimumSize(320, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # ------------------------------------------------------------ inputs

    def show_frame(self, frame: Frame) -> None:
        """Show ``frame``; a frame also ends a "camera lost" state."""
        self._frame = frame
        self._image = frame_to_qimage(frame)
        self._lost = None
        self.update()

    def show_symbols(self, frame_index: int, symbols: Sequence[Symbol], decision_text: str,
                     status: Status, tags: Sequence[str] | None = None) -> None:
        """Boxes for ``symbols`` read from frame ``frame_index``, and the decision banner.

        ``tags`` (one per symbol) replace the default "FORMAT content" tags, for instance
        with the reason a symbol is not accepted.
        """
        if tags is not None and len(tags) != len(symbols):
            raise ValueError(f"expected {len(symbols)} tags, got {len(tags)}")
        reads = _Reads(frame_index, tuple(symbols),
                       tuple(tags) if tags is not None else tuple(map(symbol_tag, symbols)),
                       decision_text, status)
        if reads != self._reads:
            self._reads = reads
            self.update()

    def show_lost(self, reason: str) -> None:
        """Cover the picture with "camera LOST: reason" until the next frame."""
        if reason != self._lost:
            self._lost = reason
            self.update()

    # ------------------------------------------------------------ what is shown

    @property
    def banner(self) -> str:
        """The decision banner's text (empty before any decision)."""
        if self._reads is None:
            return ""
        return banner_text(self._reads.status, self._reads.decision_text)

    @property
    def lost_text(self) -> str:
        """The lost-camera overlay's text, empty while the camera delivers."""
        return "" if self._lost is None else f"✖ camera LOST: {self._lost}"

    def visible_symbols(self) -> list[tuple[QPolygonF, str]]:
        """The boxes drawn (widget coordinates) with their tags; none if stale or lost."""
        reads, frame = self._reads, self._frame
        if reads is None or frame is None or self._lost is not None:
            return []
        if frame.index - reads.frame_index > STALE_AFTER_FRAMES:
            return []
        return [(self.symbol_polygon(s), tag) for s, tag in zip(reads.symbols, reads.tags,
                                                                 strict=True)]

    # ------------------------------------------------------------ geometry

    def image_rect(self) -> QRectF:
        """Where the frame is drawn: scaled to fit, aspect ratio kept, centred."""
        if self._frame is None:
            return QRectF(self.rect())
        w, h = self._frame.width, self._frame.height
        scale = min(self.width() / w, self.height() / h)
        dw, dh = w * scale, h * scale
        return QRectF((self.width() - dw) / 2, (self.height() - dh) / 2, dw, dh)

    def to_widget(self, x: float, y: float) -> QPointF:
        """A point in frame pixels, in widget coordinates."""
        rect = self.image_rect()
        if self._frame is None:
            return QPointF(x, y)
        scale = rect.width() / self._frame.width
        return QPointF(rect.left() + x * scale, rect.top() + y * scale)

    def symbol_polygon(self, symbol: Symbol) -> QPolygonF:
        """The symbol's four corners in widget coordinates."""
        return QPolygonF([self.to_widget(x, y) for x, y in symbol.position])

    # ------------------------------------------------------------ painting

    def _font(self, pixels: float) -> QFont:
        font = QFont(self.font())
        font.setPixelSize(max(12, round(pixels)))
        font.setBold(True)
        return font

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        """Frame, symbol boxes and tags, decision banner, lost overlay."""
        del event
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.fillRect(self.rect(), BACKGROUND)
            if self._image is not None:
                painter.drawImage(self.image_rect(), self._image)
            self._paint_symbols(painter)
            self._paint_banner(painter)
            self._paint_lost(painter)
        finally:
            painter.end()

    def _paint_symbols(self, painter: QPainter) -> None:
        symbols = self.visible_symbols()
        if not symbols or self._reads is None:
            return
        look = LOOKS[self._reads.status]
        font = self._font(max(16.0, self.height() * 0.035))
        painter.setFont(font)
        metrics = painter.fontMetrics()
        for polygon, full_tag in symbols:
            tag = metrics.elidedText(full_tag, Qt.TextElideMode.ElideRight,
                                     max(40, self.width() - 16))
            # A dark outline under the coloured one keeps the box visible on any label.
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(QColor("#000000"), 7))
            painter.drawPolygon(polygon)
            painter.setPen(QPen(look.background, 4))
            painter.drawPolygon(polygon)
            box = polygon.boundingRect()
            width = metrics.horizontalAdvance(tag) + 12
            height = metrics.height() + 6
            x = min(max(0.0, box.left()), max(0.0, self.width() - width))
            y = box.top() - height - 4
            if y < 0:
                y = min(box.bottom() + 4, self.height() - height)
            tag_rect = QRectF(x, y, width, height)
            painter.fillRect(tag_rect, QColor(0, 0, 0, 210))
            painter.setPen(QColor("#ffffff"))
            painter.drawText(tag_rect, Qt.AlignmentFlag.AlignCenter, tag)

    def _paint_banner(self, painter: QPainter) -> None:
        if self._reads is None or self._lost is not None:
            return
        look = LOOKS[self._reads.status]
        text = self.banner
        font = self._font(max(20.0, self.height() * 0.06))
        painter.setFont(font)
        while painter.fontMetrics().horizontalAdvance(text) + 24 > self.width() and (
            font.pixelSize() > 14
        ):
            font.setPixelSize(font.pixelSize() - 1)
            painter.setFont(font)
        height = painter.fontMetrics().height() + 16
        rect = QRectF(0, self.height() - height, self.width(), height)
        painter.fillRect(rect, look.background)
        painter.setPen(look.foreground)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_lost(self, painter: QPainter) -> None:
        if self._lost is None:
            return
        painter.fillRect(self.rect(), QColor(0, 0, 0, 190))
        band = QRectF(0, self.height() * 0.35, self.width(), self.height() * 0.3)
        painter.fillRect(band, LOOKS[Status.REFUSED].background)
        font = self._font(max(20.0, self.height() * 0.07))
        painter.setFont(font)
        text = self.lost_text
        while painter.fontMetrics().horizontalAdvance(text) + 24 > self.width() and (
            font.pixelSize() > 14
        ):
            font.setPixelSize(font.pixelSize() - 1)
            painter.setFont(font)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(band, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)
