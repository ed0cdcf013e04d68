"""The review of one preparation, laid out for a pharmacist who must decide from the record.

Top to bottom: what was made and for whom, who made it where and since when it waits; the
beyond-use date as the label printed it, with its rule, storage and USP <797> category (or
"no label printed yet" and the date it would get); the flags (alerts in red, notes in amber),
each naming its step; then the steps down the left, and for the chosen step its photograph
(zoom and pan, full resolution) beside the facts: the scan against what the order expected,
with where its lot and expiry came from (a lot and expiry no barcode carried is marked for
checking against the photo) and the opened vial it was, each weight with its expected,
measured, deviation and tolerance, each syringe's drawn and delivered dose, every hard stop,
retry, override and in-process check with its reason and who signed it. At the bottom the
decision: release or reject (or pass or fail the in-process check), or, when the workflow
would refuse this pharmacist, its words instead.

Keys (the view has the focus): Up/Down or PgUp/PgDn through the steps, Left/Right through a
step's photographs, + and - zoom, 0 fits, Shift+arrows pan, Space and Shift+Space scroll the
step's facts. Clicking a flag goes to its step.
The view holds no record logic: it renders a
:class:`~station.services.review.model.PreparationReview` and asks for photographs with
``photo_wanted(sha256)``.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from decimal import Decimal

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from station.core.recipe import StepKind
from station.core.workflow import Phase
from station.services.review.model import (
    ALERT,
    BudView,
    Flag,
    PreparationReview,
    ScanView,
    StepView,
    SyringeView,
    WeightView,
)
from station.services.review.wording import bud_rows, source_text, syringe_text, vial_text
from ui.pharmacist.queue import waited_text
from ui.widgets.look import font, text_label
from ui.widgets.photo_viewer import PhotoViewer

TITLE_PT = 20
DETAIL_PT = 15
FLAG_PT = 15
STEP_PT = 15
FACTS_PT = 15
BUTTON_PT = 18
BUTTON_HEIGHT = 72
STEP_LIST_WIDTH = 300
FLAGS_MAX_HEIGHT = 170
PHOTO_SHARE, FACTS_SHARE = 1, 1  # of the height beside the step list

APPROVE_KEY, REJECT_KEY = "F6", "F9"
RELEASE = f"✔ Release (approve) — {APPROVE_KEY}"
REJECT = f"✖ Reject — {REJECT_KEY}"
CHECK_PASSED = f"✔ Check passed — {APPROVE_KEY}"
CHECK_FAILED = f"✖ Check failed — {REJECT_KEY}"
NO_PHOTO = "No photograph at this step"
NO_FLAGS = "✔ No flags: no hard stop, override, unverified weight or lot problem on the record"
MISSING_PHOTO = "⚠ No photograph recorded, but this step needs one"
LOADING_PHOTO = "Loading the photograph…"

_ALERT_LOOK = ("#b71c1c", "#ffffff")
_NOTE_LOOK = ("#ffe082", "#000000")
_STEP_LOOKS = {  # mark, foreground, background
    "stopped": ("✖", "#7f0000", "#ffebee"),
    "done": ("✔", "#1b5e20", "#ffffff"),
    "todo": ("○", "#424242", "#eeeeee"),
    "awaited": ("▶", "#0d47a1", "#e3f2fd"),  # the in-process check waited for now
}
_PRIMARY = (
    "QPushButton { background: #1b5e20; color: #ffffff; border: 3px solid #0b3d0f;"
    " border-radius: 8px; padding: 6px 24px; }"
    " QPushButton:disabled { background: #bdbdbd; color: #424242; border-color: #9e9e9e; }")
_CAUTION = (
    "QPushButton { background: #b71c1c; color: #ffffff; border: 3px solid #7f0000;"
    " border-radius: 8px; padding: 6px 24px; }"
    " QPushButton:disabled { background: #bdbdbd; color: #424242; border-color: #9e9e9e; }")
_REFUSAL = "QLabel { background: #b71c1c; color: #ffffff; padding: 10px 14px; }"
_OUTCOME = "QLabel { background: #e3f2fd; color: #0d47a1; padding: 10px 14px; }"
_FACTS_CSS = (
    "table { border-collapse: collapse; margin-bottom: 10px; }"
    " td, th { border: 1px solid #9e9e9e; padding: 4px 8px; vertical-align: top; }"
    " th { background: #eceff1; text-align: left; }"
    " .bad { color: #b71c1c; font-weight: bold; }"
    " .good { color: #1b5e20; font-weight: bold; }"
    " .head { font-weight: bold; font-size: large; }"
)


# ------------------------------------------------------------------------------ words


def held_since(review: PreparationReview) -> dt.datetime | None:
    """When the preparation began waiting in its present phase (UTC), if it waits."""
    if review.phase not in (Phase.AWAITING_VERIFICATION, Phase.AWAITING_CHECK):
        return None
    for entry in reversed(review.timeline):
        if entry.kind == "state_changed" and entry.phase == review.phase.value:
            return entry.utc
    return review.held_utc


def title_text(review: PreparationReview) -> str:
    """``P-… · Heparin Sodium 25,000 units in Sodium Chloride 0.9% 100 mL``."""
    return f"{review.preparation_id} · {review.description or review.order.order_id}"


def detail_text(review: PreparationReview, now: dt.datetime) -> str:
    """Order, patient, urgency, who prepared it where, and how long it has waited."""
    order, patient = review.order, review.order.patient
    due = order.due.astimezone(now.tzinfo)
    started = next((e.station_id for e in review.timeline if e.kind == "started"), None)
    parts = [f"Order {order.order_id}", f"{patient.name} ({patient.patient_id}), "
             f"{patient.location}", f"{order.priority.value.upper()} due {due:%H:%M %d %b}",
             f"prepared by {review.preparer or '(not started)'} at {started or '?'}"]
    held = held_since(review)
    if held is not None:
        parts.append(f"{review.phase.value} since {held.astimezone(now.tzinfo):%H:%M} "
                     f"({waited_text(now - held)})")
    else:
        parts.append(review.phase.value.upper())
    return " · ".join(parts)


def flag_text(flag: Flag) -> str:
    """``⚠ ALERT — Step 5: …`` or ``● NOTE — Step 9: …``: the level in words, not colour."""
    return f"{'⚠ ALERT' if flag.level == ALERT else '● NOTE'} — {flag.text}"


def step_status(step: StepView) -> str:
    """``stopped`` (a stop, retry or override happened), ``done``, ``awaited`` or ``todo``.

    ``awaited``: a pharmacist's check step not yet done (the preparation waits for it).
    """
    if step.stops or step.retries or step.override is not None:
        return "stopped"
    if step.done:
        return "done"
    return "awaited" if step.kind is StepKind.PHARMACIST_CHECK and step.check is None \
        else "todo"


def step_text(step: StepView) -> str:
    """``✔ 3. Weigh the empty syringe`` and, on a second line, what happened there."""
    mark = _STEP_LOOKS[step_status(step)][0]
    marks = []
    if step.stops:
        marks.append(f"✖ {len(step.stops)} hard stop{'s' if len(step.stops) > 1 else ''}")
    if step.retries:
        marks.append(f"↻ {step.retries} retr{'ies' if step.retries > 1 else 'y'}")
    if step.override is not None:
        marks.append("⚑ override")
    if step.check is not None:
        marks.append("✔ check passed" if step.check[1] else "✖ check failed")
    if step.photos:
        marks.append(f"▣ {len(step.photos)} photo{'s' if len(step.photos) > 1 else ''}")
    first = f"{mark} {step.number}. {step.title}"
    return f"{first}\n     {' · '.join(marks)}" if marks else first


def _e(text: object) -> str:
    return html.escape(str(text))


def _grams(value: Decimal | None) -> str:
    return "—" if value is None else f"{value.quantize(Decimal('0.001'))}&nbsp;g"


def _percent(value: Decimal | None, *, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.2f} %" if signed else f"±{value.normalize():f} %"


def _verdict(accepted: bool, problem: str | None, overridden: bool,
             resolution: str | None, *, short: bool = False) -> str:
    """✔ accepted, ⚑ accepted by override, or ✖ and why (``short``: the stop's name only)."""
    said = problem or "refused"
    if short:
        said = said.split(":", 1)[0]
    if overridden:
        return f"<span class='bad'>⚑ accepted by override</span> — {_e(said)}"
    if accepted:
        return "<span class='good'>✔ accepted</span>"
    ended = f" — {_e(resolution)}" if resolution else ""
    return f"<span class='bad'>✖ {_e(said)}</span>{ended}"


def scan_html(scan: ScanView, number: int, tz: dt.tzinfo | None = None) -> str:
    """One scan beside what the order expected: product, lot, expiry, serial, verdict."""
    expected = "<br>".join(_e(e) for e in scan.expected) or "—"
    scanned = _e(scan.scanned) if scan.scanned else (
        f"<span class='bad'>not in the formulary</span> ({_e(scan.lookup_problem or scan.raw)})")
    expiry = _e(scan.expiry) if scan.expiry else "—"
    if scan.expired:
        expiry = f"<span class='bad'>{expiry} — EXPIRED</span>"
    lot = _e(scan.lot or "—")
    if scan.recall_notice:
        lot = f"<span class='bad'>{lot} — RECALLED: {_e(scan.recall_notice)}</span>"
    source = _e(source_text(scan) or "—")
    if scan.flagged:
        source = f"<span class='bad'>⚑ {source}</span>"
    rows = [("Product", expected, scanned),
            ("NDC", "as in the product", _e(scan.ndc or "—")),
            ("Lot", "not recalled", lot),
            ("Expiry", "in date", expiry),
            ("Serial", "—", _e(scan.serial or "—")),
            ("Lot/expiry from", "the package", source)]
    vial = vial_text(scan)
    if vial:
        rows.append(("Opened vial", "within its time", _e(vial)))
    if scan.opened_vial_problem:
        rows.append(("Opened vial", "within its time",
                     f"<span class='bad'>{_e(scan.opened_vial_problem)}</span>"))
    body = "".join(f"<tr><th>{label}</th><td>{want}</td><td>{got}</td></tr>"
                   for label, want, got in rows)
    verdict = _verdict(scan.accepted, scan.problem, scan.overridden, scan.resolution)
    return (f"<p class='head'>Scan {number} at {scan.at.astimezone(tz):%H:%M:%S}: {verdict}</p>"
            "<table width='100%'><tr><th></th><th>The order expects</th><th>Scanned</th></tr>"
            f"{body}</table>")


def weights_html(weights: Sequence[WeightView]) -> str:
    """Every reading: expected, measured, deviation and tolerance, verdict and balance."""
    if not weights:
        return ""
    rows = []
    for number, weight in enumerate(weights, start=1):
        verdict = _verdict(weight.accepted, weight.problem, weight.overridden,
                           weight.resolution, short=True)
        if weight.net is None:
            rows.append(
                f"<tr><td>{number}</td><td>reference (tare)</td><td>—</td>"
                f"<td>{_grams(weight.reading)}</td><td>—</td><td>—</td><td>{verdict}</td></tr>")
            continue
        if weight.delivered:
            measured = (f"{_grams(weight.net)} delivered<br><small>{_grams(weight.before)} "
                        f"filled − {_grams(weight.reading)} emptied</small>")
        else:
            measured = (f"{_grams(weight.net)}<br><small>{_grams(weight.reading)} − "
                        f"{_grams(weight.before)}</small>")
        if weight.measured_dose:
            measured += f"<br><small>= {_e(weight.measured_dose)}</small>"
        expected = _grams(weight.expected_net)
        if weight.expected_dose:
            expected += f"<br><small>= {_e(weight.expected_dose)}</small>"
        deviation = _percent(weight.deviation_percent, signed=True)
        if not weight.accepted or weight.overridden:
            deviation = f"<span class='bad'>{deviation}</span>"
        rows.append(
            f"<tr><td>{number}</td><td>net</td><td>{expected}</td><td>{measured}</td>"
            f"<td>{deviation}</td><td>{_percent(weight.tolerance_percent)}</td>"
            f"<td>{verdict}</td></tr>")
    balances = ", ".join(dict.fromkeys(w.balance_id for w in weights))
    raws = "; ".join(f"{n}: “{_e(w.raw)}”" for n, w in enumerate(weights, start=1) if w.raw)
    return ("<p class='head'>Weights</p><table width='100%'><tr><th>#</th><th>Reading</th>"
            "<th>Expected</th><th>Measured</th><th>Deviation</th><th>Tolerance</th>"
            f"<th>Verdict</th></tr>{''.join(rows)}</table>"
            f"<p><small>Balance {_e(balances)}. As read: {raws or '—'}</small></p>")


def bud_html(bud: BudView) -> str:
    """The beyond-use date's rows (:func:`~station.services.review.wording.bud_rows`)."""
    rows = "".join(f"<tr><th>{_e(what)}</th><td>{_e(said)}</td></tr>"
                   for what, said in bud_rows(bud))
    mark = "" if bud.printed else " class='bad'"
    return f"<p{mark}><b>Beyond-use date</b></p><table width='100%'>{rows}</table>"


def bud_line(bud: BudView) -> str:
    """The beyond-use date, rule, storage and category for the header, on one line."""
    return " · ".join(f"{what}: {said}" for what, said in bud_rows(bud)
                      if what not in ("Label", "Reprint"))


def syringes_html(syringes: Sequence[SyringeView]) -> str:
    """Each syringe's drawn and delivered dose, one line each."""
    if not syringes:
        return ""
    lines = "".join(f"<li>{_e(syringe_text(s))}</li>" for s in syringes)
    return f"<p class='head'>Drawn and delivered</p><ul>{lines}</ul>"


def facts_html(step: StepView, tz: dt.tzinfo | None = None, *,
               syringes: Sequence[SyringeView] = (), bud: BudView | None = None) -> str:
    """Everything recorded at ``step``, as rich text for the facts pane.

    ``syringes``: those this step drew, weighed back or sums (drawn and delivered);
    ``bud``: shown at the label step.
    """
    parts = [f"<p class='head'>Step {step.number}: {_e(step.title)}</p>"]
    if not step.done:
        parts.append("<p class='bad'>○ Not done yet.</p>")
    for number, scan in enumerate(step.scans, start=1):
        parts.append(scan_html(scan, number, tz))
    parts.append(weights_html(step.weights))
    parts.append(syringes_html(syringes))
    if step.kind is StepKind.LABEL and bud is not None:
        parts.append(bud_html(bud))
    for stop in step.stops:
        parts.append(f"<p class='bad'>✖ Hard stop: {_e(stop)}</p>")
    if step.retries:
        parts.append(f"<p>↻ Retried {step.retries} time{'s' if step.retries > 1 else ''} "
                     "by the technician.</p>")
    if step.override is not None:
        signed = step.override
        parts.append(f"<p class='bad'>⚑ Override: {_e(signed.reason)}</p>"
                     f"<p>Approved by {_e(signed.manifestation)}</p>")
    if step.check is not None:
        signed, approved = step.check
        verdict = ("<span class='good'>✔ passed</span>" if approved
                   else f"<span class='bad'>✖ failed: {_e(signed.reason)}</span>")
        parts.append(f"<p>In-process check {verdict}<br>{_e(signed.manifestation)}</p>")
    if step.kind is StepKind.PHARMACIST_CHECK and step.check is None:
        parts.append("<p class='bad'>Awaiting the in-process check.</p>")
    if not (step.scans or step.weights or step.stops or step.override or step.check
            or (step.kind is StepKind.LABEL and bud is not None)):
        parts.append(f"<p>{'Done' if step.done else 'Nothing recorded'} — "
                     f"{_e(step.kind.value)} step.</p>")
    return "".join(parts)


def step_syringes(review: PreparationReview, step: StepView) -> tuple[SyringeView, ...]:
    """The syringes ``step`` drew or weighed back; every syringe at the final container."""
    return tuple(s for s in review.syringes
                 if step.number in (s.draw_step, s.delivered_step, s.final_step))


def outcome_text(review: PreparationReview) -> str:
    """What became of a preparation that no longer waits for a decision."""
    if review.decision is not None:
        reason = f": {review.decision.reason}" if review.decision.reason else ""
        return f"{review.phase.value.upper()} — {review.decision.manifestation}{reason}"
    if review.cancellation is not None:
        user, reason = review.cancellation
        return f"CANCELLED by {user}: {reason}"
    return f"{review.phase.value.upper()}: nothing to decide now"


# ------------------------------------------------------------------------------ the view


class FlagPanel(QTextBrowser):
    """The flags, alerts first, one coloured line of words each; a click goes to its step.

    As tall as its lines up to :data:`FLAGS_MAX_HEIGHT`, then it scrolls.
    """

    step_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("flag_panel")
        self.setFont(font(FLAG_PT))
        self.setOpenLinks(False)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.document().setDocumentMargin(0)
        self.document().setDefaultStyleSheet("a { text-decoration: none; }")
        self.setStyleSheet("QTextBrowser { background: transparent; }")
        self.anchorClicked.connect(self._on_anchor)
        self._texts: list[str] = []

    def show_flags(self, flags: Sequence[Flag]) -> None:
        """Show ``flags`` (or one line saying there are none)."""
        self._texts = [flag_text(flag) for flag in flags] or [NO_FLAGS]
        rows = []
        for flag, text in zip(flags, self._texts, strict=False):
            background, foreground = _ALERT_LOOK if flag.level == ALERT else _NOTE_LOOK
            words = html.escape(text)
            if flag.step is not None:
                words = (f"<a href='step:{flag.step}' style='color: {foreground};'>"
                         f"{words}</a>")
            weight = "bold" if flag.level == ALERT else "normal"
            rows.append(f"<tr><td bgcolor='{background}' style='color: {foreground};"
                        f" font-weight: {weight};'>{words}</td></tr>")
        if not flags:
            rows.append(f"<tr><td bgcolor='#e8f5e9' style='color: #1b5e20;'>"
                        f"{html.escape(NO_FLAGS)}</td></tr>")
        self.setHtml("<table width='100%' cellspacing='2' cellpadding='5'>"
                     f"{''.join(rows)}</table>")
        self._fit()

    def texts(self) -> list[str]:
        """The lines shown, in order."""
        return list(self._texts)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        """Wrapped lines change height with the width."""
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        document = self.document()
        document.setTextWidth(max(self.viewport().width(), 200))
        height = int(document.size().height()) + 4
        if height != self.height():
            self.setFixedHeight(min(height, FLAGS_MAX_HEIGHT))

    def _on_anchor(self, url: QUrl) -> None:
        target = url.toString()
        if target.startswith("step:"):
            self.step_chosen.emit(int(target.removeprefix("step:")))


class ReviewView(QWidget):
    """Renders a review; see the module's description for the keys."""

    photo_wanted = Signal(str)  # sha256
    approve_requested = Signal()
    reject_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("review_view")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.review: PreparationReview | None = None
        self.refusal = ""
        self._tz: dt.tzinfo | None = None  # the site's, from the clock
        self._step = 0  # index into review.steps
        self._photo = 0  # index into the step's photos
        self._build()
        self.clear()

    # ------------------------------------------------------------ building

    def _build(self) -> None:
        self.title_label = self._label("review_title", TITLE_PT, bold=True)
        self.detail_label = self._label("review_detail", DETAIL_PT)
        self.bud_label = self._label("review_bud", DETAIL_PT)
        self.warning_label = self._label("review_warnings", DETAIL_PT, bold=True)
        self.warning_label.setStyleSheet(
            "QLabel { background: #4a148c; color: #ffffff; padding: 6px 10px; }")
        self.flags = FlagPanel(self)
        self.flags.step_chosen.connect(self.select_step)
        self.step_list = self._list("step_list", STEP_PT)
        self.step_list.setFixedWidth(STEP_LIST_WIDTH)
        self.step_list.currentRowChanged.connect(self._on_step_row)
        self.photo = PhotoViewer(self)
        self.photo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.photo_caption = self._label("photo_caption", DETAIL_PT - 1)
        self.facts = QTextBrowser(self)
        self.facts.setObjectName("step_facts")
        self.facts.setFont(font(FACTS_PT))
        self.facts.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.facts.setOpenLinks(False)
        self.facts.document().setDefaultStyleSheet(_FACTS_CSS)
        self.facts.setStyleSheet("QTextBrowser { background: #ffffff; color: #000000; }")
        self.refusal_label = self._label("refusal_banner", DETAIL_PT + 1, bold=True)
        self.refusal_label.setStyleSheet(_REFUSAL)
        self.outcome_label = self._label("outcome_banner", DETAIL_PT + 1, bold=True)
        self.outcome_label.setStyleSheet(_OUTCOME)
        self.approve_button = self._button("approve_button", RELEASE, _PRIMARY)
        self.reject_button = self._button("reject_button", REJECT, _CAUTION)
        self.approve_button.clicked.connect(self.approve_requested)
        self.reject_button.clicked.connect(self.reject_requested)
        self._lay_out()

    def _lay_out(self) -> None:
        step_column = QVBoxLayout()
        step_column.setSpacing(4)
        step_column.addWidget(self.photo, PHOTO_SHARE)
        step_column.addWidget(self.photo_caption)
        step_column.addWidget(self.facts, FACTS_SHARE)
        body = QHBoxLayout()
        body.setSpacing(10)
        body.addWidget(self.step_list)
        body.addLayout(step_column, 1)
        buttons = QHBoxLayout()
        buttons.setSpacing(16)
        buttons.addWidget(self.refusal_label, 1)
        buttons.addWidget(self.outcome_label, 1)
        buttons.addWidget(self.approve_button)
        buttons.addWidget(self.reject_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.title_label)
        layout.addWidget(self.detail_label)
        layout.addWidget(self.bud_label)
        layout.addWidget(self.warning_label)
        layout.addWidget(self.flags)
        layout.addLayout(body, 1)
        layout.addLayout(buttons)

    def _label(self, name: str, points: int, *, bold: bool = False) -> QLabel:
        return text_label(self, name, points, bold=bold)

    def _list(self, name: str, points: int) -> QListWidget:
        widget = QListWidget(self)
        widget.setObjectName(name)
        widget.setFont(font(points))
        widget.setWordWrap(True)
        widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        widget.setSpacing(1)
        return widget

    def _button(self, name: str, text: str, style: str) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setFont(font(BUTTON_PT, bold=True))
        button.setMinimumHeight(BUTTON_HEIGHT)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.setAutoDefault(False)
        button.setStyleSheet(style)
        return button

    # ------------------------------------------------------------ rendering

    def clear(self, message: str = "Choose a preparation in the queue") -> None:
        """No review on show (nobody signed in, or nothing chosen)."""
        self.review, self.refusal = None, ""
        self.title_label.setText(message)
        for widget in (self.detail_label, self.bud_label, self.warning_label, self.flags,
                       self.refusal_label, self.outcome_label, self.approve_button,
                       self.reject_button, self.photo_caption):
            widget.hide()
        self.step_list.clear()
        self.facts.clear()
        self.photo.show_message("")

    def show_loading(self, preparation_id: str) -> None:
        """Say the review of ``preparation_id`` is on its way."""
        if self.review is None or self.review.preparation_id != preparation_id:
            self.clear(f"Reading {preparation_id} from the record…")

    def show_failure(self, preparation_id: str, why: str) -> None:
        """The review could not be read."""
        self.clear(f"✖ {preparation_id} could not be read: {why}")

    def show_review(self, review: PreparationReview, refusal: str, now: dt.datetime, *,
                    remake_of: str | None = None) -> None:
        """Render ``review``; ``refusal`` is why this pharmacist may not decide ("" if may).

        ``remake_of`` is the rejected preparation this one remakes, if it is a remake.
        """
        same = self.review is not None and self.review.preparation_id == review.preparation_id
        self.review, self.refusal, self._tz = review, refusal, now.tzinfo
        self.title_label.setText(title_text(review))
        self.detail_label.setText(detail_text(review, now))
        self.detail_label.show()
        self.bud_label.setText(bud_line(review.bud))
        self.bud_label.setStyleSheet("QLabel { color: #212121; }" if review.bud.printed
                                     else "QLabel { color: #b71c1c; font-weight: bold; }")
        self.bud_label.show()
        warnings = list(review.warnings)
        if remake_of:
            warnings.append(f"↻ REMAKE of {remake_of}")
        self.warning_label.setText("   ·   ".join(warnings))
        self.warning_label.setVisible(bool(warnings))
        self.flags.show_flags(review.flags)
        self.flags.show()
        self._show_decision(review, refusal)
        self._fill_steps(review.steps)
        if not same:
            self._step = self._first_step(review)
            self._photo = -1
        self.select_step(min(self._step, len(review.steps) - 1) + 1, keep_photo=same)

    def now_is(self, now: dt.datetime) -> None:
        """Move the waiting time on."""
        if self.review is not None:
            self.detail_label.setText(detail_text(self.review, now))

    def _show_decision(self, review: PreparationReview, refusal: str) -> None:
        awaiting = review.phase in (Phase.AWAITING_VERIFICATION, Phase.AWAITING_CHECK)
        check = review.phase is Phase.AWAITING_CHECK
        self.approve_button.setText(CHECK_PASSED if check else RELEASE)
        self.reject_button.setText(CHECK_FAILED if check else REJECT)
        for button in (self.approve_button, self.reject_button):
            button.setVisible(awaiting)
            button.setEnabled(awaiting and not refusal)
        self.refusal_label.setText(f"✖ {refusal}" if awaiting and refusal else "")
        self.refusal_label.setVisible(awaiting and bool(refusal))
        self.outcome_label.setText("" if awaiting else outcome_text(review))
        self.outcome_label.setVisible(not awaiting)

    def _fill_steps(self, steps: Sequence[StepView]) -> None:
        self.step_list.blockSignals(True)
        self.step_list.clear()
        for step in steps:
            item = QListWidgetItem(step_text(step))
            _mark, foreground, background = _STEP_LOOKS[step_status(step)]
            item.setForeground(QColor(foreground))
            item.setBackground(QColor(background))
            if step_status(step) in ("stopped", "awaited"):
                item.setFont(font(STEP_PT, bold=True))
            self.step_list.addItem(item)
        self.step_list.blockSignals(False)

    @staticmethod
    def _first_step(review: PreparationReview) -> int:
        """The index of the step to open on.

        The first with an alert; else, for an in-process check, the last step done before
        it (the dose drawn); else the first step.
        """
        flagged = [f.step for f in review.alerts if f.step is not None]
        if flagged:
            return min(flagged) - 1
        if review.phase is Phase.AWAITING_CHECK:
            done = [s.number for s in review.steps if s.done]
            return done[-1] - 1 if done else 0
        return 0

    # ------------------------------------------------------------ steps and photos

    @property
    def step(self) -> StepView | None:
        """The step on show."""
        if self.review is None or not self.review.steps:
            return None
        return self.review.steps[self._step]

    @property
    def photo_hash(self) -> str | None:
        """The sha256 of the photograph on show (or asked for)."""
        step = self.step
        if step is None or not step.photos or not 0 <= self._photo < len(step.photos):
            return None
        return step.photos[self._photo].photo

    def select_step(self, number: int, *, keep_photo: bool = False) -> None:
        """Show step ``number`` (1-based), its last usable photograph first."""
        if self.review is None or not self.review.steps:
            return
        index = max(0, min(number - 1, len(self.review.steps) - 1))
        if index != self._step or not keep_photo:
            self._photo = -1
        self._step = index
        self.step_list.blockSignals(True)
        self.step_list.setCurrentRow(index)
        self.step_list.blockSignals(False)
        step = self.review.steps[index]
        self.facts.setHtml(facts_html(step, self._tz, syringes=step_syringes(self.review, step),
                                      bud=self.review.bud))
        if self._photo < 0 or self._photo >= len(step.photos):
            good = [i for i, p in enumerate(step.photos) if p.problem is None]
            self._photo = good[-1] if good else len(step.photos) - 1
        self._show_photo_slot(step)

    def next_step(self) -> None:
        """The next step (stays on the last)."""
        self.select_step(self._step + 2)

    def previous_step(self) -> None:
        """The previous step (stays on the first)."""
        self.select_step(self._step)

    def next_photo(self) -> None:
        """The step's next photograph, if it has several."""
        self._turn_photo(+1)

    def previous_photo(self) -> None:
        """The step's previous photograph, if it has several."""
        self._turn_photo(-1)

    def _turn_photo(self, delta: int) -> None:
        step = self.step
        if step is None or len(step.photos) < 2:
            return
        self._photo = (self._photo + delta) % len(step.photos)
        self._show_photo_slot(step)

    def _show_photo_slot(self, step: StepView) -> None:
        if not step.photos:
            self.photo.show_message(MISSING_PHOTO if step.photo_required and step.done
                                    else NO_PHOTO)
            self.photo_caption.setText("")
            self.photo_caption.hide()
            return
        shown = step.photos[self._photo]
        problem = f" · ✖ REFUSED: {shown.problem}" if shown.problem else " · ✔ usable"
        others = " · ←/→ for the others" if len(step.photos) > 1 else ""
        self.photo_caption.setText(
            f"Photo {self._photo + 1} of {len(step.photos)} · taken "
            f"{shown.at.astimezone(self._tz):%H:%M:%S}"
            f"{problem} · sha256 {shown.photo[:16]}…{others} · + / − zoom, 0 fit, drag to pan")
        self.photo_caption.setStyleSheet(
            "QLabel { color: #b71c1c; }" if shown.problem else "QLabel { color: #212121; }")
        self.photo_caption.show()
        self.photo.show_message(LOADING_PHOTO)
        self.photo_wanted.emit(shown.photo)

    def show_photo(self, sha256: str, image: QImage) -> None:
        """The photograph ``sha256`` arrived; shown if it is the one wanted."""
        if sha256 == self.photo_hash:
            self.photo.show_image(image)

    def photo_failed(self, sha256: str, why: str) -> None:
        """The photograph ``sha256`` could not be shown."""
        if sha256 == self.photo_hash:
            self.photo.show_message(f"✖ {why}")

    # ------------------------------------------------------------ keys and clicks

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        """Steps, photographs, zoom and pan; see the module's description."""
        key = Qt.Key(event.key())
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if shift and key in (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down):
            self.photo.keyPressEvent(event)
            return
        if key == Qt.Key.Key_Space:
            bar = self.facts.verticalScrollBar()
            bar.setValue(bar.value() + (-1 if shift else 1) * bar.pageStep())
            event.accept()
            return
        actions = {
            Qt.Key.Key_Down: self.next_step, Qt.Key.Key_PageDown: self.next_step,
            Qt.Key.Key_Up: self.previous_step, Qt.Key.Key_PageUp: self.previous_step,
            Qt.Key.Key_Right: self.next_photo, Qt.Key.Key_Left: self.previous_photo,
            Qt.Key.Key_Plus: self.photo.zoom_in, Qt.Key.Key_Equal: self.photo.zoom_in,
            Qt.Key.Key_Minus: self.photo.zoom_out, Qt.Key.Key_Underscore: self.photo.zoom_out,
            Qt.Key.Key_0: self.photo.fit,
        }
        action = actions.get(key)
        if action is None:
            super().keyPressEvent(event)
            return
        event.accept()
        action()

    def _on_step_row(self, row: int) -> None:
        if row >= 0:
            self.select_step(row + 1)
