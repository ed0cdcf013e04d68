"""The balance's weight, readable at arm's length: readout, stability, tolerance gauge, trace.

The widget renders a frozen :class:`WeightGaugeState` and a short trace of recent readings.
Every state is said in words as well as colour ("STABLE"/"MOVING", "IN BAND"/"LOW"/"HIGH"),
so it reads the same in grey scale or to someone who cannot tell red from green. The texts
come from small pure functions (:func:`readout_text`, :func:`stability_text`,
:func:`band_text`) that the tests check without painting.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from decimal import ROUND_UP, Decimal
from enum import Enum

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

#: How many readings the trace keeps by default (about 12 s at 10 readings a second).
DEFAULT_TRACE_LENGTH = 120
#: The readout's digits are never smaller than this (points).
MIN_READOUT_POINTS = 48.0


class BandPosition(Enum):
    """Where the current value sits against the tolerance band."""

    NONE = "none"  # no value or no band to compare with
    IN_BAND = "in band"
    LOW = "low"
    HIGH = "high"


@dataclass(frozen=True)
class WeightGaugeState:
    """What the gauge shows; ``low``/``high`` bound the tolerance band around ``target``."""

    value: Decimal | None = None
    unit: str = "g"
    stable: bool = False
    target: Decimal | None = None
    low: Decimal | None = None
    high: Decimal | None = None
    message: str = ""

    @property
    def position(self) -> BandPosition:
        """In band, low or high (NONE without a value or a band)."""
        if self.value is None or self.low is None or self.high is None:
            return BandPosition.NONE
        if self.value < self.low:
            return BandPosition.LOW
        if self.value > self.high:
            return BandPosition.HIGH
        return BandPosition.IN_BAND


def readout_text(state: WeightGaugeState) -> str:
    """The value with the balance's own decimals and the unit, or a dash without a value."""
    if state.value is None:
        return f"— {state.unit}"
    return f"{state.value:f} {state.unit}"


def stability_text(state: WeightGaugeState) -> str:
    """A symbol and the word: "✔ STABLE" or "≈ MOVING" (none without a value)."""
    if state.value is None:
        return "NO READING"
    return "✔ STABLE" if state.stable else "≈ MOVING"


def band_text(state: WeightGaugeState) -> str:
    """"IN BAND", or "LOW — add 0.12 g" / "HIGH — remove 0.05 g"; empty without a band."""
    position = state.position
    value, low, high = state.value, state.low, state.high
    if position is BandPosition.LOW and value is not None and low is not None:
        return f"▼ LOW — add {_at_least(low - value, value):f} {state.unit}"
    if position is BandPosition.HIGH and value is not None and high is not None:
        return f"▲ HIGH — remove {_at_least(value - high, value):f} {state.unit}"
    if position is BandPosition.IN_BAND:
        return "✔ IN BAND"
    return ""


def _at_least(amount: Decimal, reading: Decimal) -> Decimal:
    """``amount`` to the reading's own decimals, rounded up so it is enough to reach the band.

    >>> _at_least(Decimal("4.83550"), Decimal("7.047"))
    Decimal('4.836')
    """
    exponent = reading.as_tuple().exponent
    step = Decimal(1).scaleb(exponent) if isinstance(exponent, int) else Decimal("0.001")
    return amount.quantize(step, rounding=ROUND_UP)


@dataclass(frozen=True)
class _Look:
    background: QColor
    foreground: QColor


_LOOKS = {
    BandPosition.IN_BAND: _Look(QColor("#1b5e20"), QColor("#ffffff")),
    BandPosition.LOW: _Look(QColor("#ffc107"), QColor("#000000")),
    BandPosition.HIGH: _Look(QColor("#b71c1c"), QColor("#ffffff")),
    BandPosition.NONE: _Look(QColor("#e0e0e0"), QColor("#000000")),
}
BACKGROUND = QColor("#ffffff")
INK = QColor("#000000")
#: The tolerance band on the gauge and the trace.
BAND_FILL = QColor("#a5d6a7")
#: Outside the band on the gauge.
SCALE_FILL = QColor("#eeeeee")
NEEDLE = QColor("#0d47a1")


@dataclass(frozen=True)
class _Reading:
    value: Decimal
    stable: bool
    t: float


class WeightGaugeWidget(QWidget):
    """Paints a :class:`WeightGaugeState`; ``set_state`` and ``add_reading`` never block.

    ``add_reading`` appends to the trace (the last ``trace_length`` readings) and updates the
    readout's value and stability; ``set_state`` replaces everything else. The widget asks
    for a repaint only when something it shows changed.
    """

    def __init__(self, parent: QWidget | None = None,
                 trace_length: int = DEFAULT_TRACE_LENGTH) -> None:
        super().__init__(parent)
        self._state = WeightGaugeState()
        self._trace: deque[_Reading] = deque(maxlen=trace_length)
        self._status_words = ""
        self.setMinimumSize(640, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setAutoFillBackground(False)

    # ------------------------------------------------------------ state

    @property
    def state(self) -> WeightGaugeState:
        """The state shown."""
        return self._state

    @property
    def status_words(self) -> str:
        """The band or message words as last painted beside the chip, cut to fit."""
        return self._status_words

    @property
    def trace(self) -> list[tuple[Decimal, bool, float]]:
        """The readings in the trace, oldest first, as (value, stable, t)."""
        return [(r.value, r.stable, r.t) for r in self._trace]

    def set_state(self, state: WeightGaugeState) -> None:
        """Show ``state``; repaints only if it differs from the one shown."""
        if state == self._state:
            return
        self._state = state
        self.update()

    def add_reading(self, value: Decimal, stable: bool, t: float) -> None:
        """Append a reading at time ``t`` (seconds, monotonic) and show it as the value."""
        self._trace.append(_Reading(value, stable, t))
        self._state = replace(self._state, value=value, stable=stable)
        self.update()

    def clear_trace(self) -> None:
        """Forget the trace (a new weighing starts)."""
        if self._trace:
            self._trace.clear()
            self.update()

    # ------------------------------------------------------------ geometry

    def _margin(self) -> float:
        return max(8.0, self.height() * 0.03)

    def readout_rect(self) -> QRectF:
        """Where the big digits are drawn."""
        m = self._margin()
        return QRectF(m, m, self.width() * 0.58 - 2 * m, self.height() * 0.45)

    def status_rect(self) -> QRectF:
        """The stability and band words under the readout."""
        r = self.readout_rect()
        return QRectF(r.left(), r.bottom(), r.width(), self.height() * 0.2)

    def gauge_rect(self) -> QRectF:
        """The horizontal tolerance gauge (the bar itself, without its labels)."""
        s = self.status_rect()
        top = s.bottom() + self._margin()
        height = max(24.0, (self.height() - self._margin() - top) * 0.5)
        return QRectF(s.left(), top, s.width(), height)

    def trace_rect(self) -> QRectF:
        """The trace of recent readings, on the right."""
        m = self._margin()
        left = self.width() * 0.58 + m
        return QRectF(left, m + 26, self.width() - left - m, self.height() - 2 * m - 26)

    def _scale(self) -> tuple[Decimal, Decimal] | None:
        """The gauge's range: the band in the middle third, or ±10 % of the target."""
        st = self._state
        if st.low is not None and st.high is not None and st.high > st.low:
            width = st.high - st.low
            return st.low - width, st.high + width
        if st.target is not None and st.target != 0:
            spread = abs(st.target) / 10
            return st.target - spread, st.target + spread
        return None

    def value_to_x(self, value: Decimal) -> float | None:
        """The gauge's x for ``value``, pinned to the ends; None without a scale."""
        scale = self._scale()
        if scale is None:
            return None
        lo, hi = scale
        rect = self.gauge_rect()
        fraction = float((value - lo) / (hi - lo))
        fraction = min(1.0, max(0.0, fraction))
        return rect.left() + fraction * rect.width()

    # ------------------------------------------------------------ painting

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        """Draw readout, status words, gauge and trace."""
        del event
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.fillRect(self.rect(), BACKGROUND)
            self._paint_readout(painter)
            self._paint_status(painter)
            self._paint_gauge(painter)
            self._paint_trace(painter)
        finally:
            painter.end()

    def _font(self, pixels: float, bold: bool = True) -> QFont:
        font = QFont(self.font())
        font.setPixelSize(max(1, round(pixels)))
        font.setBold(bold)
        return font

    def _paint_readout(self, painter: QPainter) -> None:
        rect = self.readout_rect()
        font = QFont(self.font())
        font.setBold(True)
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setFamilies(["DejaVu Sans Mono", "Noto Sans Mono", "monospace"])
        # As large as fits, never below MIN_READOUT_POINTS.
        points = max(MIN_READOUT_POINTS, rect.height() * 0.62 * 72 / max(self.logicalDpiY(), 1))
        font.setPointSizeF(points)
        painter.setFont(font)
        text = readout_text(self._state)
        while painter.fontMetrics().horizontalAdvance(text) > rect.width() and (
            font.pointSizeF() > MIN_READOUT_POINTS
        ):
            font.setPointSizeF(max(MIN_READOUT_POINTS, font.pointSizeF() - 2))
            painter.setFont(font)
        painter.setPen(INK)
        painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)

    def _paint_status(self, painter: QPainter) -> None:
        rect = self.status_rect()
        st = self._state
        painter.setFont(self._font(rect.height() * 0.5))
        # Stability: a framed chip, filled when stable, hollow when moving.
        stability = stability_text(st)
        chip_width = painter.fontMetrics().horizontalAdvance(stability) + 24
        chip = QRectF(rect.left(), rect.top() + 4, chip_width, rect.height() - 8)
        if st.value is not None and st.stable:
            painter.fillRect(chip, INK)
            painter.setPen(BACKGROUND)
        else:
            painter.setPen(QPen(INK, 3, Qt.PenStyle.DashLine))
            painter.drawRect(chip)
            painter.setPen(INK)
        painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, stability)
        # Band position, or the message when there is no band.
        words = band_text(st) or st.message
        self._status_words = words
        if not words:
            return
        look = _LOOKS[st.position]
        box = QRectF(chip.right() + 16, chip.top(), rect.right() - chip.right() - 16,
                     chip.height())
        font = self._font(rect.height() * 0.5)
        painter.setFont(font)
        while painter.fontMetrics().horizontalAdvance(words) + 16 > box.width() and (
            font.pixelSize() > 12
        ):
            font.setPixelSize(font.pixelSize() - 1)
            painter.setFont(font)
        # Too long even then (a driver's error): cut the end, never the start that names it.
        words = painter.fontMetrics().elidedText(words, Qt.TextElideMode.ElideRight,
                                                 max(0, round(box.width()) - 16))
        self._status_words = words
        painter.fillRect(box, look.background)
        painter.setPen(look.foreground)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, words)

    def _paint_gauge(self, painter: QPainter) -> None:
        rect = self.gauge_rect()
        st = self._state
        if self._scale() is None:
            painter.setFont(self._font(rect.height() * 0.6, bold=False))
            painter.setPen(INK)
            text = painter.fontMetrics().elidedText(st.message or "no target set",
                                                    Qt.TextElideMode.ElideRight,
                                                    round(rect.width()))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
            return
        painter.fillRect(rect, SCALE_FILL)
        label_font = self._font(max(14.0, rect.height() * 0.45))
        painter.setFont(label_font)
        if st.low is not None and st.high is not None:
            x_low = self.value_to_x(st.low)
            x_high = self.value_to_x(st.high)
            assert x_low is not None and x_high is not None
            band = QRectF(x_low, rect.top(), x_high - x_low, rect.height())
            painter.fillRect(band, BAND_FILL)
            painter.setPen(QPen(INK, 2))
            painter.drawLine(QPointF(x_low, rect.top()), QPointF(x_low, rect.bottom()))
            painter.drawLine(QPointF(x_high, rect.top()), QPointF(x_high, rect.bottom()))
            painter.setPen(INK)
            centred = Qt.AlignmentFlag.AlignCenter
            painter.drawText(QRectF(rect.left(), rect.top(), x_low - rect.left(),
                                    rect.height()), centred, "LOW")
            painter.drawText(band, centred, "IN BAND")
            painter.drawText(QRectF(x_high, rect.top(), rect.right() - x_high, rect.height()),
                             centred, "HIGH")
        if st.target is not None:
            x_target = self.value_to_x(st.target)
            assert x_target is not None
            painter.setPen(QPen(INK, 1, Qt.PenStyle.DotLine))
            painter.drawLine(QPointF(x_target, rect.top()), QPointF(x_target, rect.bottom()))
        painter.setPen(QPen(INK, 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(rect)
        if st.value is not None:
            x = self.value_to_x(st.value)
            assert x is not None
            painter.fillRect(QRectF(x - 3, rect.top() - 6, 6, rect.height() + 12), NEEDLE)
            tip = QPolygonF([QPointF(x - 10, rect.bottom() + 18), QPointF(x + 10,
                             rect.bottom() + 18), QPointF(x, rect.bottom() + 4)])
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(NEEDLE)
            painter.drawPolygon(tip)
            painter.setBrush(Qt.BrushStyle.NoBrush)

    def _trace_range(self) -> tuple[Decimal, Decimal] | None:
        values = [r.value for r in self._trace]
        st = self._state
        values += [v for v in (st.low, st.high, st.target) if v is not None]
        if not values:
            return None
        lo, hi = min(values), max(values)
        pad = (hi - lo) / 10 if hi > lo else max(abs(hi) / 100, Decimal("0.01"))
        return lo - pad, hi + pad

    def _paint_trace(self, painter: QPainter) -> None:
        rect = self.trace_rect()
        painter.setPen(INK)
        painter.setFont(self._font(18))
        title = QRectF(rect.left(), rect.top() - 26, rect.width(), 24)
        if self._trace:
            seconds = self._trace[-1].t - self._trace[0].t
            painter.drawText(title, Qt.AlignmentFlag.AlignLeft,
                             f"last {len(self._trace)} readings ({seconds:.0f} s)")
        else:
            painter.drawText(title, Qt.AlignmentFlag.AlignLeft, "no readings yet")
        painter.fillRect(rect, QColor("#fafafa"))
        span = self._trace_range()
        if span is not None:
            lo, hi = span

            def y_of(value: Decimal) -> float:
                return rect.bottom() - float((value - lo) / (hi - lo)) * rect.height()

            st = self._state
            if st.low is not None and st.high is not None:
                top, bottom = y_of(st.high), y_of(st.low)
                painter.fillRect(QRectF(rect.left(), top, rect.width(), bottom - top),
                                 BAND_FILL)
            if st.target is not None:
                painter.setPen(QPen(INK, 1, Qt.PenStyle.DotLine))
                y = y_of(st.target)
                painter.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
            if self._trace:
                t0, t1 = self._trace[0].t, self._trace[-1].t
                duration = t1 - t0 or 1.0
                points = [QPointF(rect.left() + (r.t - t0) / duration * rect.width(),
                                  y_of(r.value)) for r in self._trace]
                painter.setPen(QPen(NEEDLE, 3))
                painter.drawPolyline(QPolygonF(points))
                last = points[-1]
                painter.setBrush(NEEDLE)
                painter.drawEllipse(last, 6, 6)
                painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(INK, 2))
        painter.drawRect(rect)
