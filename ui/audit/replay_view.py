"""The auditor's replay of one preparation as it happened: the page that shows it.

:class:`ReplayView` shows the timeline beside the moment (:mod:`ui.audit.replay_moment`): the
event in words, the state, the photo, the scan, the balance's reading on the station's own
weight gauge with the trace of readings so far, and each signature's manifestation (printed
name, date and time, meaning). Its transport steps the playhead (Left/Right, Home/End) or plays
it at 1×, 10× or 60× real speed (:class:`~ui.audit.replay_player.ReplayPlayer`).
An event the record check names (an edited event, a changed photo) is marked in red on the
timeline and above it. Under the order: the beyond-use date as the label printed it, with its
rule, storage, USP <797> category and every copy printed (or "no label printed yet").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from station.services.review.model import PreparationReview, TimelineEntry
from ui.audit.replay_moment import (
    Moment,
    broken_event,
    bud_lines,
    entry_text,
    gauge_state,
    scan_lines,
    signature_text,
    utc_clock,
    weight_lines,
)
from ui.audit.replay_player import SPEEDS, TICK_MS, ReplayPlayer
from ui.widgets.look import font
from ui.widgets.photo_pane import PhotoPane
from ui.widgets.weight_gauge import WeightGaugeWidget

TEXT_PT = 13
TITLE_PT = 18
LIST_WIDTH = 470
BROKEN = "#b71c1c"

_PHASE_COLOURS = {
    "ready": ("#e0e0e0", "#000000"),
    "in progress": ("#0d47a1", "#ffffff"),
    "hard stop": (BROKEN, "#ffffff"),
    "awaiting in-process check": ("#ffc107", "#000000"),
    "awaiting verification": ("#ffc107", "#000000"),
    "verified": ("#1b5e20", "#ffffff"),
    "rejected": (BROKEN, "#ffffff"),
    "cancelled": ("#616161", "#ffffff"),
}


def _label(parent: QWidget, name: str, points: int = TEXT_PT, *, bold: bool = False,
           wrap: bool = True) -> QLabel:
    label = QLabel(parent)
    label.setObjectName(name)
    label.setFont(font(points, bold=bold))
    label.setWordWrap(wrap)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _box(parent: QWidget, title: str, *widgets: QWidget,
         stretch: QWidget | None = None) -> QFrame:
    """A titled panel; ``stretch`` takes the height to spare, else the space is left below."""
    frame = QFrame(parent)
    frame.setFrameShape(QFrame.Shape.StyledPanel)
    frame.setStyleSheet("QFrame { background: #fafafa; }")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(10, 6, 10, 8)
    layout.setSpacing(4)
    heading = QLabel(title, frame)
    heading.setFont(font(TEXT_PT - 1, bold=True))
    heading.setStyleSheet("QLabel { color: #37474f; }")
    layout.addWidget(heading)
    for widget in widgets:
        layout.addWidget(widget, 1 if widget is stretch else 0)
    if stretch is None:
        layout.addStretch(1)
    return frame


class ReplayView(QWidget):
    """The timeline, the transport and the moment; see the module's description."""

    def __init__(self, parent: QWidget | None = None, *, tick_ms: int = TICK_MS) -> None:
        super().__init__(parent)
        self.setObjectName("replay_view")
        self.player = ReplayPlayer(self, tick_ms=tick_ms)
        self.review: PreparationReview | None = None
        self._photos: dict[str, QImage] = {}
        self._photo_problems: dict[str, str] = {}
        self._broken: int | None = None
        self._problem: str | None = None
        self._shown_photo: str | None = None
        self._build()
        self._bind_keys()
        self.player.moment_changed.connect(self._show_moment)
        self.player.clock_changed.connect(self._show_clock)
        self.player.playing_changed.connect(self._show_playing)
        self.timeline.currentRowChanged.connect(self._on_row_chosen)
        self.clear("Choose a preparation in the search results to replay it.")

    # ------------------------------------------------------------ building

    def _build(self) -> None:
        self.title_label = _label(self, "replay_title", TITLE_PT, bold=True)
        self.order_label = _label(self, "replay_order")
        self.bud_label = _label(self, "replay_bud")
        self.chain_label = _label(self, "replay_chain", TEXT_PT + 1, bold=True)
        self.chain_label.setStyleSheet(
            f"QLabel {{ background: {BROKEN}; color: #ffffff; padding: 8px 12px; }}")
        self.chain_label.hide()

        self.timeline = QListWidget(self)
        self.timeline.setObjectName("replay_timeline")
        self.timeline.setFont(font(TEXT_PT - 1))
        self.timeline.setWordWrap(True)
        self.timeline.setFixedWidth(LIST_WIDTH)
        self.timeline.setSpacing(2)
        self.timeline.setStyleSheet(
            "QListWidget::item:selected { background: #0d47a1; color: #ffffff; }")

        self.clock_label = _label(self, "replay_clock", TEXT_PT, bold=True)
        self.buttons: dict[str, QPushButton] = {}
        transport = QHBoxLayout()
        speeds = QHBoxLayout()
        speed_caption = QLabel("Play at", self)
        speed_caption.setFont(font(TEXT_PT, bold=True))
        speeds.addWidget(speed_caption)
        for name, text, action in (("home", "|◀", self.player.first),
                                   ("back", "◀", lambda: self.player.step(-1)),
                                   ("play", "▶ Play", self.player.toggle),
                                   ("forward", "▶", lambda: self.player.step(1)),
                                   ("end", "▶|", self.player.last)):
            transport.addWidget(self._button(name, text, action))
        self.buttons["play"].setMinimumWidth(120)
        for name, hint in (("home", "First event (Home)"), ("back", "Previous event (Left)"),
                           ("play", "Play or pause (Space)"), ("forward", "Next event (Right)"),
                           ("end", "Last event (End)")):
            self.buttons[name].setToolTip(hint)
            self.buttons[name].setAccessibleName(hint)
        self.speeds = QButtonGroup(self)
        self.speeds.setExclusive(True)
        for speed in SPEEDS:
            button = self._button(f"speed_{speed}", f"{speed}×", None)
            button.setCheckable(True)
            button.setChecked(speed == self.player.speed)
            self.speeds.addButton(button, speed)
            speeds.addWidget(button)
        self.speeds.idClicked.connect(self.set_speed)
        transport.addStretch(1)
        speeds.addStretch(1)

        self.event_label = _label(self, "replay_event", TEXT_PT + 1, bold=True)
        self.event_label.setMinimumHeight(64)
        self.event_label.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.phase_label = _label(self, "replay_phase", TEXT_PT + 1, bold=True, wrap=False)
        self.step_label = _label(self, "replay_step")
        self.photo = PhotoPane(self)
        self.photo.setObjectName("replay_photo")
        self.photo_caption = _label(self, "replay_photo_caption")
        self.scan_label = _label(self, "replay_scan")
        self.gauge = WeightGaugeWidget(self, trace_length=500)
        self.gauge.setObjectName("replay_gauge")
        self.gauge.setMinimumSize(600, 220)
        self.weight_label = _label(self, "replay_weight")
        self.signatures_label = _label(self, "replay_signatures", TEXT_PT)
        self.signatures_label.setAlignment(Qt.AlignmentFlag.AlignTop)
        self._lay_out(transport, speeds)

    def _button(self, name: str, text: str,
                action: Callable[[], None] | None) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(f"replay_{name}")
        button.setFont(font(TEXT_PT + 1, bold=True))
        button.setMinimumSize(64, 44)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the timeline
        if action is not None:
            button.clicked.connect(action)
        self.buttons[name] = button
        return button

    def _lay_out(self, transport: QHBoxLayout, speeds: QHBoxLayout) -> None:
        left = QVBoxLayout()
        left.addWidget(self.timeline, 1)
        left.addLayout(transport)
        left.addLayout(speeds)
        left.addWidget(self.clock_label)

        state_row = QHBoxLayout()
        state_row.addWidget(self.phase_label)
        state_row.addWidget(self.step_label, 1)
        middle = QVBoxLayout()
        middle.addWidget(_box(self, "At this moment", self.event_label))
        middle.addLayout(state_row)
        middle.addWidget(_box(self, "Photo (the latest at this moment)", self.photo,
                              self.photo_caption, stretch=self.photo), 1)

        right = QVBoxLayout()
        right.addWidget(_box(self, "Balance: the reading and the readings so far", self.gauge,
                             self.weight_label))
        right.addWidget(_box(self, "Scan (the latest at this moment)", self.scan_label))
        right.addWidget(_box(self, "Signatures so far", self.signatures_label), 1)

        columns = QHBoxLayout()
        columns.setSpacing(14)
        columns.addLayout(left)
        columns.addLayout(middle, 1)
        columns.addLayout(right, 1)

        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        layout.addWidget(self.title_label)
        layout.addWidget(self.order_label)
        layout.addWidget(self.bud_label)
        layout.addWidget(self.chain_label)
        layout.addLayout(columns, 1)
        self.setFocusProxy(self.timeline)

    def _bind_keys(self) -> None:
        keys = ((Qt.Key.Key_Left, lambda: self.player.step(-1)),
                (Qt.Key.Key_Right, lambda: self.player.step(1)),
                (Qt.Key.Key_Home, self.player.first),
                (Qt.Key.Key_End, self.player.last),
                (Qt.Key.Key_Space, self.player.toggle))
        for key, action in keys:
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(action)

    # ------------------------------------------------------------ content

    def set_speed(self, speed: int) -> None:
        """Play at ``speed`` times real speed (one of :data:`SPEEDS` on the buttons)."""
        self.player.set_speed(speed)
        button = self.speeds.button(speed)
        if button is not None:
            button.setChecked(True)
        if self.player.playhead is not None:
            self._show_clock(self.player.playhead)

    def clear(self, message: str) -> None:
        """Show no preparation, and ``message`` where the title goes."""
        self.player.clear()
        self.review = None
        self._photos, self._photo_problems = {}, {}
        self.title_label.setText(message)
        self.order_label.clear()
        self.bud_label.clear()
        self.chain_label.hide()
        self.timeline.clear()
        for label in (self.event_label, self.phase_label, self.step_label, self.scan_label,
                      self.weight_label, self.signatures_label, self.photo_caption,
                      self.clock_label):
            label.clear()
        self.phase_label.setStyleSheet("")
        self._show_photo(None)
        self.gauge.clear_trace()
        self.gauge.set_state(gauge_state(None))

    def load(self, review: PreparationReview, photos: Mapping[str, QImage],
             photo_problems: Mapping[str, str]) -> None:
        """Replay ``review`` from its first entry; ``photos`` by sha256, decoded."""
        self.player.pause()
        self.review = review
        self._photos, self._photo_problems = dict(photos), dict(photo_problems)
        patient = review.order.patient
        self.title_label.setText(f"Replay of {review.preparation_id}: {review.phase.value}")
        self.order_label.setText(
            f"{review.description} — order {review.order.order_id} for {patient.name} "
            f"({patient.patient_id}, {patient.location}) — prepared by "
            f"{review.preparer or '—'} at {', '.join(review.stations)} — "
            f"{len(review.timeline)} events from {review.created_utc:%Y-%m-%d %H:%M:%S} UTC")
        self.bud_label.setText(bud_lines(review.bud))
        self.bud_label.setStyleSheet("" if review.bud.printed
                                     else f"QLabel {{ color: {BROKEN}; font-weight: bold; }}")
        self.timeline.blockSignals(True)
        self.timeline.clear()
        for entry in review.timeline:
            self.timeline.addItem(self._item(entry))
        self.timeline.blockSignals(False)
        self._show_chain()
        self.player.load(review.timeline)

    def set_broken_event(self, problem: str | None) -> None:
        """The record check's problem (None: intact); its event is marked if it is here."""
        self._problem = problem
        self._broken = broken_event(problem)
        if self.review is not None:
            for row, entry in enumerate(self.review.timeline):
                self._style_item(self.timeline.item(row), entry)
            self._show_chain()

    @property
    def photo_shown(self) -> str | None:
        """The sha256 of the photo on show."""
        return self._shown_photo

    def _item(self, entry: TimelineEntry) -> QListWidgetItem:
        item = QListWidgetItem(entry_text(entry))
        self._style_item(item, entry)
        return item

    def _style_item(self, item: QListWidgetItem, entry: TimelineEntry) -> None:
        text = entry_text(entry)
        if entry.sequence == self._broken:
            item.setText(f"✖ FAILS THE RECORD CHECK — event {entry.sequence}\n{text}")
            item.setBackground(QBrush(QColor(BROKEN)))
            item.setForeground(QBrush(QColor("#ffffff")))
            item.setFont(font(TEXT_PT - 1, bold=True))
            return
        item.setText(text)
        if entry.kind == "hard_stop" or entry.phase == "hard stop":
            item.setBackground(QBrush(QColor("#ffcdd2")))
        elif entry.signature is not None:
            item.setBackground(QBrush(QColor("#e3f2fd")))
        else:
            item.setBackground(QBrush())
        item.setForeground(QBrush(QColor("#000000")))
        item.setFont(font(TEXT_PT - 1, bold=entry.signature is not None))

    def _show_chain(self) -> None:
        review = self.review
        here = review is not None and any(e.sequence == self._broken for e in review.timeline)
        if here and review is not None:
            self.chain_label.setText(
                f"✖ THIS PREPARATION FAILS THE RECORD CHECK — {self._problem}. What the record "
                f"says at event {self._broken} was changed after it was recorded: do not rely "
                "on it.")
        self.chain_label.setVisible(here)

    # ------------------------------------------------------------ moments

    def _on_row_chosen(self, row: int) -> None:
        if row >= 0 and row != self.player.index:
            self.player.go_to(row)

    def _show_moment(self, moment: Moment) -> None:
        entry = moment.entry
        if self.timeline.currentRow() != moment.index:
            self.timeline.setCurrentRow(moment.index)
        self.timeline.scrollToItem(self.timeline.item(moment.index))
        broken = "  ✖ FAILS THE RECORD CHECK" if entry.sequence == self._broken else ""
        self.event_label.setText(
            f"{moment.index + 1}/{len(self.player.timeline)} · event {entry.sequence} · "
            f"{utc_clock(entry.utc)} UTC · {entry.user_id} at {entry.station_id}{broken}\n"
            f"{entry.summary}")
        background, ink = _PHASE_COLOURS.get(moment.phase, ("#e0e0e0", "#000000"))
        self.phase_label.setText(f" {moment.phase.upper()} ")
        self.phase_label.setStyleSheet(
            f"QLabel {{ background: {background}; color: {ink}; padding: 6px 10px; }}")
        self.step_label.setText(self._step_text(moment.step))
        self._show_photo(moment.photo)
        self.scan_label.setText(scan_lines(moment.scan))
        self._show_weights(moment)
        self.signatures_label.setText("\n\n".join(
            signature_text(s) for s in moment.signatures) or "No signature yet.")

    def _step_text(self, step: int | None) -> str:
        review = self.review
        if step is None or review is None or not 0 < step <= len(review.steps):
            return "No step begun yet."
        return f"Step {step} of {len(review.steps)}: {review.step(step).title}"

    def _show_photo(self, entry: TimelineEntry | None) -> None:
        sha256 = entry.photo if entry is not None else None
        self._shown_photo = sha256
        self.photo_caption.setStyleSheet("")
        if entry is None or sha256 is None:
            self.photo.show_image(None, "No photo yet at this moment")
            self.photo_caption.setText("")
            return
        self.photo.show_image(self._photos.get(sha256), "✖ PHOTO NOT AVAILABLE")
        step = f" at step {entry.step}" if entry.step is not None else ""
        caption = (f"Taken {utc_clock(entry.utc)} UTC{step} by {entry.user_id} · "
                   f"sha256 {sha256[:16]}…")
        problem = self._photo_problems.get(sha256)
        if problem is not None:
            caption += f"\n✖ {problem}"
            self.photo_caption.setStyleSheet(f"QLabel {{ color: {BROKEN}; font-weight: bold; }}")
        self.photo_caption.setText(caption)

    def _show_weights(self, moment: Moment) -> None:
        start = self.player.timeline[0].utc if self.player.timeline else None
        self.gauge.clear_trace()
        for weight in moment.trace:
            seconds = (weight.at - start).total_seconds() if start is not None else 0.0
            self.gauge.add_reading(weight.reading, True, seconds)
        self.gauge.set_state(gauge_state(moment.weight))
        self.weight_label.setText(weight_lines(moment.weight))

    def _show_clock(self, when: dt.datetime) -> None:
        timeline = self.player.timeline
        if not timeline:
            self.clock_label.clear()
            return
        start, end = timeline[0].utc, timeline[-1].utc
        self.clock_label.setText(
            f"{when.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC · "
            f"{_span((when - start).total_seconds())} of {_span((end - start).total_seconds())}"
            f" · {self.player.speed}×")

    def _show_playing(self, playing: bool) -> None:
        self.buttons["play"].setText("⏸ Pause" if playing else "▶ Play")
        if self.player.playhead is not None:
            self._show_clock(self.player.playhead)



def _span(seconds: float) -> str:
    minutes, secs = divmod(round(max(seconds, 0.0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
