"""The weight gauge says the weight, its stability and its band in words, and paints them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from ui.widgets.weight_gauge import (
    BAND_FILL,
    NEEDLE,
    BandPosition,
    WeightGaugeState,
    WeightGaugeWidget,
    band_text,
    readout_text,
    stability_text,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
D = Decimal


def state(value: str | None, stable: bool = True) -> WeightGaugeState:
    return WeightGaugeState(value=None if value is None else D(value), unit="g", stable=stable,
                            target=D("10.00"), low=D("9.50"), high=D("10.50"))


@pytest.mark.parametrize(
    ("value", "stable", "readout", "stability", "band", "position"),
    [
        ("10.02", True, "10.02 g", "✔ STABLE", "✔ IN BAND", BandPosition.IN_BAND),
        ("9.50", True, "9.50 g", "✔ STABLE", "✔ IN BAND", BandPosition.IN_BAND),
        ("9.38", True, "9.38 g", "✔ STABLE", "▼ LOW — add 0.12 g", BandPosition.LOW),
        ("10.55", True, "10.55 g", "✔ STABLE", "▲ HIGH — remove 0.05 g", BandPosition.HIGH),
        ("10.100", False, "10.100 g", "≈ MOVING", "✔ IN BAND", BandPosition.IN_BAND),
        (None, False, "— g", "NO READING", "", BandPosition.NONE),
    ],
)
def test_state_reads_in_words(value, stable, readout, stability, band, position):
    st = state(value, stable)
    assert readout_text(st) == readout
    assert stability_text(st) == stability
    assert band_text(st) == band
    assert st.position is position


def test_readout_keeps_the_balance_decimals():
    assert readout_text(WeightGaugeState(value=D("0.0100"), unit="g")) == "0.0100 g"
    assert readout_text(WeightGaugeState(value=D("1.2E+1"), unit="g")) == "12 g"


def _grab(widget: WeightGaugeWidget) -> QImage:
    return widget.grab().toImage()


def _needle_x(widget: WeightGaugeWidget) -> float:
    image = _grab(widget)
    ratio = image.devicePixelRatio()
    rect = widget.gauge_rect()
    y = int((rect.top() + rect.height() * 0.25) * ratio)
    xs = [x for x in range(image.width()) if image.pixelColor(x, y) == NEEDLE]
    assert xs, "no needle painted"
    return sum(xs) / len(xs) / ratio


def test_painting_shows_the_band_and_the_needle_moves_with_the_value(qtbot):
    gauge = WeightGaugeWidget()
    qtbot.addWidget(gauge)
    gauge.resize(900, 300)
    gauge.set_state(state("9.80"))

    image = _grab(gauge)
    ratio = image.devicePixelRatio()
    rect = gauge.gauge_rect()
    x_low, x_high = gauge.value_to_x(D("9.50")), gauge.value_to_x(D("10.50"))
    assert x_low is not None and x_high is not None and x_low < x_high
    # Inside the band, near its bottom edge (clear of the "IN BAND" text): the band colour.
    probe = (int((x_low + 6) * ratio), int((rect.bottom() - 4) * ratio))
    assert image.pixelColor(*probe) == BAND_FILL
    # Outside the band: not the band colour.
    outside = (int((rect.left() + 6) * ratio), int((rect.bottom() - 4) * ratio))
    assert image.pixelColor(*outside) != BAND_FILL

    at_980 = _needle_x(gauge)
    assert at_980 == pytest.approx(gauge.value_to_x(D("9.80")), abs=2)
    gauge.set_state(state("10.30"))
    at_1030 = _needle_x(gauge)
    assert at_1030 > at_980 + 50  # heavier → further right
    gauge.set_state(state("9.20"))
    at_920 = _needle_x(gauge)
    assert at_920 < at_980
    assert at_920 < x_low  # below the band: left of its low edge
    gauge.set_state(state("99.0"))  # far off scale: pinned to the right end
    assert _needle_x(gauge) == pytest.approx(rect.right(), abs=4)


def test_set_state_repaints_only_on_change(qtbot, monkeypatch):
    gauge = WeightGaugeWidget()
    qtbot.addWidget(gauge)
    updates: list[None] = []
    monkeypatch.setattr(gauge, "update", lambda *args: updates.append(None))
    gauge.set_state(state("10.00"))
    gauge.set_state(state("10.00"))
    assert len(updates) == 1
    gauge.set_state(state("10.01"))
    assert len(updates) == 2


def test_trace_keeps_the_last_n_readings_and_add_reading_updates_the_readout(qtbot):
    gauge = WeightGaugeWidget(trace_length=5)
    qtbot.addWidget(gauge)
    gauge.set_state(state(None))
    for i in range(8):
        gauge.add_reading(D("9.90") + D(i) / 100, stable=i == 7, t=i * 0.1)
    assert [value for value, _, _ in gauge.trace] == [D(f"9.9{i}") for i in range(3, 8)]
    assert gauge.state.value == D("9.97") and gauge.state.stable
    assert gauge.state.target == D("10.00")  # the rest of the state is kept
    gauge.clear_trace()
    assert gauge.trace == []


def test_a_long_message_is_cut_at_its_end_so_its_start_still_names_the_problem(qtbot):
    gauge = WeightGaugeWidget()
    qtbot.addWidget(gauge)
    gauge.resize(900, 300)  # about its size in the station window
    short = "BALANCE NOT ANSWERING"
    gauge.set_state(WeightGaugeState(message=short))
    gauge.grab()  # paints it
    assert gauge.status_words == short, "a message that fits is painted whole"
    long = "protocol error: garbled reply '" + "\\x93" * 60 + "'"
    gauge.set_state(WeightGaugeState(message=long))
    gauge.grab()  # paints it
    painted = gauge.status_words
    assert painted.endswith("…") and len(painted) < len(long)
    assert painted.startswith("protocol error: garbled")
    assert long.startswith(painted.removesuffix("…"))


def test_screenshot_at_hood_size(qtbot):
    gauge = WeightGaugeWidget(trace_length=80)
    qtbot.addWidget(gauge)
    gauge.resize(900, 300)
    gauge.set_state(state(None))
    for i in range(60):  # a fill that overshoots a little, then settles low of the band
        value = D("9.38") * (1 - D("0.93") ** (i + 1)) + (D("0.04") if i % 3 == 0 else 0)
        gauge.add_reading(value.quantize(D("0.01")), stable=i > 50, t=i * 0.1)
    ARTIFACTS.mkdir(exist_ok=True)
    assert gauge.grab().save(str(ARTIFACTS / "weight_gauge.png"))
    assert gauge.state.position is BandPosition.LOW
