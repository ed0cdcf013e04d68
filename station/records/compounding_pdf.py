"""The compounding record a pharmacy files, as a PDF built from :func:`review_preparation`.

What USP <797> asks a compounding record to hold, and Part 11 asks of its signatures: what
was made and for whom, every component's name, manufacturer, NDC, lot and expiry, every
step with its photographs, each weight with what was expected, what was measured, the
deviation and tolerance, the balance's raw line and identity, every hard stop, retry and
override with its reason, each signature's printed name, user id, meaning and UTC time, the
flags, and the record's last hash with the chain's status. Every page carries the
preparation id and "page N of M"; the audit trail (every stored event) closes the record.

The beyond-use date is not part of a preparation's record (the USP <797> category and the
storage are chosen when the label is printed), so the PDF says so instead of guessing.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
)

from station.core.errors import StationError
from station.core.label import format_ml, format_quantity
from station.preparations import PreparationService
from station.records.photostore import PhotoStore
from station.review import (
    ALERT,
    PhotoView,
    PreparationReview,
    ScanView,
    SignatureView,
    StepView,
    TimelineEntry,
    WeightView,
    near_tolerance,
    review_preparation,
)

__all__ = ["BUD_NOT_RECORDED", "write_compounding_record"]

BUD_NOT_RECORDED = ("not derivable from this record: the USP <797> category and storage are "
                    "chosen when the label is printed; see the label")

_PAGE = letter
_MARGIN = 15 * mm
_FRAME_PADDING = 6  # points reportlab's frame keeps inside the page margins
_WIDTH = _PAGE[0] - 2 * _MARGIN
_INK = colors.HexColor("#1a1a1a")
_MUTED = colors.HexColor("#5a5a5a")
_RULE = colors.HexColor("#b8b8b8")
_SHADE = colors.HexColor("#eef1f4")
_ALERT_BG = colors.HexColor("#fbe3e1")
_ALERT_INK = colors.HexColor("#a1150c")
_NOTE_BG = colors.HexColor("#fff4d6")
_NOTE_INK = colors.HexColor("#7a5600")
_OK_INK = colors.HexColor("#1d6b2f")

_BODY = ParagraphStyle("body", fontName="Helvetica", fontSize=8.5, leading=10.5,
                       textColor=_INK)
_SMALL = ParagraphStyle("small", parent=_BODY, fontSize=7.5, leading=9)
_LINE = ParagraphStyle("line", parent=_SMALL, leftIndent=3, spaceBefore=1)
_TINY = ParagraphStyle("tiny", parent=_BODY, fontSize=6.8, leading=8.2)
_CELL_HEAD = ParagraphStyle("cellhead", parent=_SMALL, fontName="Helvetica-Bold",
                            textColor=_MUTED)
_MONO = ParagraphStyle("mono", parent=_SMALL, fontName="Courier", fontSize=7.5, leading=9)
_HASH = ParagraphStyle("hash", parent=_MONO, fontSize=6.4, leading=8)
_TITLE = ParagraphStyle("title", parent=_BODY, fontName="Helvetica-Bold", fontSize=17,
                        leading=21)
_ID = ParagraphStyle("id", parent=_BODY, fontName="Helvetica-Bold", fontSize=17, leading=21,
                     alignment=TA_RIGHT)
_H2 = ParagraphStyle("h2", parent=_BODY, fontName="Helvetica-Bold", fontSize=11.5,
                     leading=14, spaceBefore=9, spaceAfter=4)
_STEP = ParagraphStyle("step", parent=_BODY, fontName="Helvetica-Bold", fontSize=9.5,
                       leading=12)
_BANNER = ParagraphStyle("banner", parent=_BODY, fontName="Helvetica-Bold", fontSize=10,
                         leading=13, textColor=colors.white)

_GRID = [
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("LINEBELOW", (0, 0), (-1, -1), 0.4, _RULE),
    ("TOPPADDING", (0, 0), (-1, -1), 2.2),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2),
    ("LEFTPADDING", (0, 0), (-1, -1), 3),
    ("RIGHTPADDING", (0, 0), (-1, -1), 3),
]
_HEADED = [*_GRID, ("BACKGROUND", (0, 0), (-1, 0), _SHADE), ("LINEBELOW", (0, 0), (-1, 0), 0.8,
                                                             _MUTED)]


def write_compounding_record(
    service: PreparationService,
    preparation_id: str,
    path_or_file: str | os.PathLike[str] | IO[bytes],
    *,
    chain_ok: bool | None = None,
) -> int:
    """Write the compounding record of one preparation as a PDF; returns the page count.

    ``chain_ok`` is what a chain check found (``station audit verify``): True (intact), False
    (broken) or None (not checked), printed beside the record's last hash. Nothing is written
    when the preparation is unknown (:class:`~station.review.UnknownPreparation`).
    """
    review = review_preparation(service, preparation_id)
    printed = service.clock().astimezone(dt.UTC)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=_PAGE, leftMargin=_MARGIN - _FRAME_PADDING,
        rightMargin=_MARGIN - _FRAME_PADDING,
        topMargin=_MARGIN + 8 * mm, bottomMargin=_MARGIN + 6 * mm,
        title=f"Compounding record {review.preparation_id}",
        author="station", subject=review.description, invariant=True,
    )
    decorate = _decorator(review, printed)

    def canvas(*args: Any, **kwargs: Any) -> _NumberedCanvas:
        return _NumberedCanvas(*args, decorate=decorate, **kwargs)

    document.build(_story(review, service.record.photos, chain_ok, printed),
                   canvasmaker=canvas)
    data = buffer.getvalue()
    if isinstance(path_or_file, str | os.PathLike):
        Path(path_or_file).write_bytes(data)
    else:
        path_or_file.write(data)
    pages: int = document.page
    return pages


# ------------------------------------------------------------------------------ pages


class _NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab ships no type information
    """Holds every page until the end, so each can say "page N of M"."""

    def __init__(self, *args: Any, decorate: Callable[[Canvas, int, int], None],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._decorate = decorate
        self._held: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        self._held.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._held)
        for number, state in enumerate(self._held, start=1):
            self.__dict__.update(state)
            self._decorate(self, number, total)
            super().showPage()
        super().save()


def _decorator(review: PreparationReview,
               printed: dt.datetime) -> Callable[[Canvas, int, int], None]:
    def decorate(canvas: Canvas, number: int, total: int) -> None:
        width, height = _PAGE
        top = height - _MARGIN
        canvas.saveState()
        canvas.setFillColor(_MUTED)
        canvas.setFont("Helvetica", 7.5)
        canvas.drawString(_MARGIN, top, f"Compounding record · {_clip(review.description, 95)}")
        canvas.setFont("Helvetica-Bold", 9)
        canvas.setFillColor(_INK)
        canvas.drawRightString(width - _MARGIN, top, review.preparation_id)
        canvas.setStrokeColor(_RULE)
        canvas.setLineWidth(0.6)
        canvas.line(_MARGIN, top - 2.5 * mm, width - _MARGIN, top - 2.5 * mm)
        bottom = _MARGIN
        canvas.line(_MARGIN, bottom + 4 * mm, width - _MARGIN, bottom + 4 * mm)
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(_MUTED)
        canvas.drawString(_MARGIN, bottom, f"Preparation {review.preparation_id} · order "
                          f"{review.order.order_id} · printed {_utc(printed)}")
        canvas.setFont("Helvetica-Bold", 8)
        canvas.setFillColor(_INK)
        canvas.drawRightString(width - _MARGIN, bottom, f"page {number} of {total}")
        canvas.restoreState()

    return decorate


# ------------------------------------------------------------------------------ the story


def _story(review: PreparationReview, photos: PhotoStore, chain_ok: bool | None,
           printed: dt.datetime) -> list[Flowable]:
    story: list[Flowable] = [
        Table([[Paragraph("Compounding record", _TITLE),
                Paragraph(_x(review.preparation_id), _ID)]],
              colWidths=[_WIDTH * 0.55, _WIDTH * 0.45],
              style=[("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                     ("VALIGN", (0, 0), (-1, -1), "BOTTOM")]),
        Spacer(1, 2 * mm),
        _status_banner(review),
    ]
    story += [_warning_banner(w) for w in review.warnings]
    story += [Paragraph("What was made, and for whom", _H2), _header(review, chain_ok)]
    story += _flags(review)
    story += [Paragraph("Components (what went into the preparation)", _H2),
              _components(review.components)]
    story.append(Paragraph("Steps", _H2))
    for step in review.steps:
        story += _step(step, review, photos)
    story += [CondPageBreak(40 * mm), Paragraph("Signatures", _H2),
              _signatures(review.signatures)]
    story += [Paragraph("Record integrity", _H2), _integrity(review, chain_ok, printed)]
    story += [CondPageBreak(40 * mm),
              Paragraph(f"Audit trail: every recorded event ({len(review.timeline)})", _H2),
              _audit_trail(review.timeline)]
    return story


def _status_banner(review: PreparationReview) -> Flowable:
    phase = review.phase.value
    text = f"Status: {phase.upper()}"
    if review.decision is not None:
        text += f" — {review.decision.manifestation}"
        if review.decision.reason:
            text += f" — {review.decision.reason}"
    elif review.cancellation is not None:
        text += f" by {review.cancellation[0]} — {review.cancellation[1]}"
    colour = {"verified": _OK_INK, "rejected": _ALERT_INK, "cancelled": _MUTED}.get(
        phase, colors.HexColor("#27507a"))
    return _band(Paragraph(_x(text), _BANNER), colour)


def _warning_banner(text: str) -> Flowable:
    return _band(Paragraph(_x(text), _BANNER), _ALERT_INK)


def _band(content: Flowable, colour: Any) -> Flowable:
    return Table([[content]], colWidths=[_WIDTH], style=[
        ("BACKGROUND", (0, 0), (-1, -1), colour), ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4), ("LEFTPADDING", (0, 0), (-1, -1), 5)])


def _header(review: PreparationReview, chain_ok: bool | None) -> Flowable:
    order, patient = review.order, review.order.patient
    born = f", born {patient.date_of_birth}" if patient.date_of_birth else ""
    weight = f", {patient.weight_kg} kg" if patient.weight_kg is not None else ""
    ordered = "; ".join(f"{line}" for line in _ordered(review))
    rows: list[tuple[str, str, str, str]] = [
        ("Preparation", review.preparation_id, "Order", order.order_id),
        ("Patient", f"{patient.name} ({patient.patient_id}), {patient.location}{born}{weight}",
         "Prescriber", order.prescriber),
        ("Preparation made", review.description, "Ordered", ordered),
        ("Route", order.route + (f", rate {order.rate}" if order.rate else ""),
         "Final volume", format_ml(order.final_volume_ml)),
        ("Priority, due", f"{order.priority.value}, due {_local(order.due)}",
         "Tolerance", _tolerance(review)),
        ("Beyond-use date", BUD_NOT_RECORDED, "Formulary", f"version {review.formulary_version}"),
        ("Prepared by", review.preparer or "(not started)",
         "Checked by", _checked_by(review)),
        ("Created (UTC)", _utc(review.created_utc), "Held for verification (UTC)",
         _utc(review.held_utc) if review.held_utc else "not yet"),
        ("Stations", ", ".join(review.stations), "Balances", ", ".join(review.balances) or "none"),
    ]
    data = [[_p(a, _CELL_HEAD), _p(b, _SMALL), _p(c, _CELL_HEAD), _p(d, _SMALL)]
            for a, b, c, d in rows]
    data.append([_p("Last hash", _CELL_HEAD), _p(review.last_hash, _HASH),
                 _p("Chain", _CELL_HEAD), _p(_chain(chain_ok), _SMALL)])
    widths = [_WIDTH * 0.14, _WIDTH * 0.38, _WIDTH * 0.14, _WIDTH * 0.34]
    return Table(data, colWidths=widths, style=[*_GRID, ("BACKGROUND", (0, 0), (0, -1), _SHADE),
                                                 ("BACKGROUND", (2, 0), (2, -1), _SHADE)])


def _ordered(review: PreparationReview) -> list[str]:
    names = {c.ndc: c.name for c in review.components if c.ndc and c.name}
    return [f"{names.get(str(i.ndc), 'NDC ' + str(i.ndc))} {format_quantity(i.dose)} "
            f"(NDC {i.ndc})" for i in review.order.ingredients]


def _tolerance(review: PreparationReview) -> str:
    bands = sorted({w.tolerance_percent for s in review.steps for w in s.weights
                    if w.tolerance_percent is not None})
    used = ", ".join(f"±{b:f} %" for b in bands)
    return f"site {review.site_tolerance}" + (f"; weighings checked to {used}" if used else "")


def _checked_by(review: PreparationReview) -> str:
    checks = [s.check[0] for s in review.steps if s.check is not None]
    people = [*(c.manifestation for c in checks)]
    if review.decision is not None:
        people.append(review.decision.manifestation)
    return "; ".join(people) or "not yet checked"


def _flags(review: PreparationReview) -> list[Flowable]:
    alerts = len(review.alerts)
    notes = len(review.flags) - alerts
    heading = Paragraph(f"Flags ({_counted(alerts, 'alert')}, {_counted(notes, 'note')})", _H2)
    if not review.flags:
        return [heading, Paragraph("Nothing to flag: no hard stop, override, identity problem "
                                   "or weighing near its tolerance.", _SMALL)]
    data = []
    style = list(_GRID)
    for row, flag in enumerate(review.flags):
        alert = flag.level == ALERT
        ink = _ALERT_INK if alert else _NOTE_INK
        data.append([Paragraph(f'<font color="{_hex(ink)}"><b>{flag.level.upper()}</b></font>',
                               _SMALL),
                     Paragraph(_x(flag.text), _SMALL)])
        style.append(("BACKGROUND", (0, row), (-1, row), _ALERT_BG if alert else _NOTE_BG))
    return [heading, Table(data, colWidths=[_WIDTH * 0.08, _WIDTH * 0.92], style=style)]


def _components(components: Sequence[ScanView]) -> Flowable:
    head = ["Product", "NDC", "Manufacturer", "Lot", "Expiry", "Serial", "Scanned (UTC)"]
    rows = [[c.name or c.scanned or "?", c.ndc or "?", c.manufacturer or "?", c.lot or "none",
             str(c.expiry) if c.expiry else "none", c.serial or "none",
             _utc(c.at) + (" (override)" if c.overridden else "")] for c in components]
    if not rows:
        rows = [["No component scanned yet", "", "", "", "", "", ""]]
    strengths = [c.strength for c in components]
    cells = [[_p(head_text, _CELL_HEAD) for head_text in head]]
    for index, row in enumerate(rows):
        first = f"<b>{_x(row[0])}</b>"
        if index < len(strengths) and strengths[index]:
            first += f"<br/>{_x(strengths[index] or '')}"
        cells.append([Paragraph(first, _SMALL), *(_p(v, _SMALL) for v in row[1:])])
    widths = [0.27, 0.11, 0.16, 0.1, 0.09, 0.1, 0.17]
    return Table(cells, colWidths=[_WIDTH * w for w in widths], repeatRows=1, style=_HEADED)


# ------------------------------------------------------------------------------ steps


def _step(step: StepView, review: PreparationReview, photos: PhotoStore) -> list[Flowable]:
    state = "done" if step.done else "not done"
    head = Table([[Paragraph(f"Step {step.number} · {_x(step.title)}", _STEP),
                   Paragraph(f"{_x(step.kind.value)} · {state}", _right(_SMALL))]],
                 colWidths=[_WIDTH * 0.78, _WIDTH * 0.22],
                 style=[("BACKGROUND", (0, 0), (-1, -1), _SHADE),
                        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                        ("TOPPADDING", (0, 0), (-1, -1), 3),
                        ("BOTTOMPADDING", (0, 0), (-1, -1), 3)])
    body: list[Flowable] = []
    if step.scans:
        body.append(_scans(step.scans))
    if step.weights:
        body.append(_weights(step.weights))
    events = [e for e in review.timeline if e.step == step.number
              and e.kind in ("action_confirmed", "label_scanned", "hard_stop", "retried")]
    lines = [f"{_utc(e.utc)} — {e.summary}" for e in events]
    if step.override is not None:
        lines.append(f"<b>Override</b>: {step.override.manifestation} — reason: "
                     f"{step.override.reason}")
    if step.check is not None:
        signed, approved = step.check
        verdict = "approved" if approved else f"NOT approved: {signed.reason}"
        lines.append(f"<b>In-process check</b> {verdict}: {signed.manifestation}")
    if step.retries:
        lines.append(f"Retries at this step: {step.retries}")
    body += [Paragraph(line if line.startswith("<b>") else _x(line), _LINE) for line in lines]
    pictures = _photos(step.number, step.photos, photos)
    first = [head, Spacer(1, 1.5 * mm), *body[:1]]
    return [KeepTogether(first), *body[1:], *pictures, Spacer(1, 3 * mm)]


def _scans(scans: Sequence[ScanView]) -> Flowable:
    head = ["Scanned (UTC)", "Expected", "Scanned", "Lot / expiry / serial", "Result"]
    cells = [[_p(h, _CELL_HEAD) for h in head]]
    for scan in scans:
        identity = " / ".join((scan.lot or "no lot", str(scan.expiry) if scan.expiry else
                               "no expiry", scan.serial or "no serial"))
        cells.append([
            _p(_utc(scan.at), _SMALL),
            _p("; ".join(scan.expected), _SMALL),
            _p(scan.scanned or f"not in formulary: {scan.lookup_problem or scan.raw}", _SMALL),
            _p(identity, _SMALL),
            _verdict(scan.accepted, scan.problem, scan.overridden, scan.resolution),
        ])
    widths = [0.13, 0.25, 0.25, 0.17, 0.2]
    return Table(cells, colWidths=[_WIDTH * w for w in widths], repeatRows=1, style=_HEADED)


def _weights(weights: Sequence[WeightView]) -> Flowable:
    head = ["Read (UTC)", "Balance reading", "Net = reading − before", "Expected",
            "Deviation / tolerance", "Result"]
    cells = [[_p(h, _CELL_HEAD) for h in head]]
    for weight in weights:
        raw = _x(repr(weight.raw)[1:-1]).replace(" ", "&nbsp;") or "(none)"
        reading = (f"<b>{weight.reading} g</b><br/>on {_x(weight.balance_id)}<br/>"
                   f'raw <font face="Courier">{raw}</font>')
        if weight.net is None:
            cells.append([_p(_utc(weight.at), _SMALL), Paragraph(reading, _SMALL),
                          _p("reference (tare) reading", _SMALL), _p("", _SMALL),
                          _p("", _SMALL), _verdict(weight.accepted, weight.problem, False,
                                                   weight.resolution)])
            continue
        net = (f"<b>{weight.net} g</b> = {weight.reading} − {weight.before} g"
               f" (step {weight.reference_step})")
        expected = f"{_grams(weight.expected_net)} g"
        if weight.expected_dose:
            expected += f"<br/>dose {_x(weight.expected_dose)}; measured " \
                        f"{_x(weight.measured_dose or '?')}"
        deviation = (f"<b>{weight.deviation_percent:+} %</b> of ±{weight.tolerance_percent:f} %"
                     f"<br/>U = ±{weight.uncertainty} g"
                     + ("" if weight.verifiable else "<br/><b>not verifiable by weight</b>"))
        cells.append([_p(_utc(weight.at), _SMALL), Paragraph(reading, _SMALL),
                      Paragraph(net, _SMALL), Paragraph(expected, _SMALL),
                      Paragraph(deviation, _SMALL),
                      _verdict(weight.accepted, weight.problem, weight.overridden,
                               weight.resolution, near_tolerance(weight))])
    widths = [0.12, 0.22, 0.18, 0.16, 0.14, 0.18]
    return Table(cells, colWidths=[_WIDTH * w for w in widths], repeatRows=1, style=_HEADED)


def _verdict(accepted: bool, problem: str | None, overridden: bool,
             resolution: str | None, note: str | None = None) -> Flowable:
    if accepted and problem is None:
        text = f'<font color="{_hex(_OK_INK)}"><b>accepted</b></font>'
        if note:
            text += f'<br/><font color="{_hex(_NOTE_INK)}">{_x(note)}</font>'
        return Paragraph(text, _SMALL)
    word = "ACCEPTED ON OVERRIDE" if overridden else ("accepted" if accepted else "STOPPED")
    text = f'<font color="{_hex(_ALERT_INK)}"><b>{word}</b></font>'
    if problem:
        text += f"<br/>{_x(problem)}"
    if resolution and not overridden:
        text += f"<br/><i>{_x(resolution)}</i>"
    return Paragraph(text, _SMALL)


def _photos(step: int, views: Sequence[PhotoView], store: PhotoStore) -> list[Flowable]:
    """The step's photos, two to a row, each scaled to fit its half of the page."""
    if not views:
        return []
    cell_width = (_WIDTH - 6 * mm) / 2
    rows: list[Flowable] = []
    for start in range(0, len(views), 2):
        pair = list(views[start:start + 2])
        cells = [_photo_cell(step, view, store, cell_width) for view in pair]
        if len(cells) == 1:
            cells.append([Spacer(1, 1)])
        rows.append(Table([cells], colWidths=[cell_width + 3 * mm] * 2, style=[
            ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3 * mm), ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))
    return rows


def _photo_cell(step: int, view: PhotoView, store: PhotoStore,
                width: float) -> list[Flowable]:
    caption = f"Step {step}: photo {view.photo[:16]}… taken {_utc(view.at)}"
    if view.problem:
        caption += f" — REFUSED: {view.problem}"
    try:
        data = store.get(view.photo)
        pixels_wide, pixels_high = ImageReader(io.BytesIO(data)).getSize()
    except (StationError, OSError, ValueError) as error:
        return [Paragraph(_x(f"{caption}: cannot be shown ({error})"), _SMALL)]
    height = min(width * pixels_high / pixels_wide, 75 * mm)
    image = Image(io.BytesIO(data), width=height * pixels_wide / pixels_high, height=height)
    image.hAlign = "LEFT"
    return [image, Paragraph(_x(caption), _TINY)]


# ------------------------------------------------------------------------------ the end


def _signatures(signatures: Sequence[SignatureView]) -> Flowable:
    head = ["Meaning", "Signed by (printed name, user id) — meaning — UTC date and time",
            "Reason"]
    cells = [[_p(h, _CELL_HEAD) for h in head]]
    cells += [[_p(s.meaning, _SMALL), _p(s.manifestation, _SMALL), _p(s.reason or "—", _SMALL)]
              for s in signatures]
    if not signatures:
        cells.append([_p("none", _SMALL), _p("no decision has been signed yet", _SMALL),
                      _p("", _SMALL)])
    return Table(cells, colWidths=[_WIDTH * 0.16, _WIDTH * 0.5, _WIDTH * 0.34], repeatRows=1,
                 style=_HEADED)


def _integrity(review: PreparationReview, chain_ok: bool | None,
               printed: dt.datetime) -> Flowable:
    rows = [
        ("Events", f"{review.events} recorded events, the last at "
                   f"{_utc(review.timeline[-1].utc)}"),
        ("Last hash", review.last_hash),
        ("Chain", _chain(chain_ok)),
        ("Printed", f"{_utc(printed)} UTC. Each event's hash covers its content and the hash "
                    "before it; 'station audit verify' re-checks every link and photo."),
    ]
    cells = [[_p(a, _CELL_HEAD), _p(b, _MONO if a == "Last hash" else _SMALL)] for a, b in rows]
    return Table(cells, colWidths=[_WIDTH * 0.14, _WIDTH * 0.86],
                 style=[*_GRID, ("BACKGROUND", (0, 0), (0, -1), _SHADE)])


def _audit_trail(timeline: Sequence[TimelineEntry]) -> Flowable:
    head = ["#", "Recorded (UTC)", "User", "Station", "Step", "What happened", "Then"]
    cells = [[_p(h, _CELL_HEAD) for h in head]]
    for entry in timeline:
        cells.append([_p(str(entry.sequence), _TINY), _p(_utc(entry.utc), _TINY),
                      _p(entry.user_id, _TINY), _p(entry.station_id, _TINY),
                      _p(str(entry.step) if entry.step is not None else "", _TINY),
                      _p(entry.summary, _TINY), _p(entry.phase, _TINY)])
    widths = [0.05, 0.15, 0.08, 0.11, 0.05, 0.43, 0.13]
    return Table(cells, colWidths=[_WIDTH * w for w in widths], repeatRows=1, style=_HEADED)


# ------------------------------------------------------------------------------ text


def _hex(colour: Any) -> str:
    """'#a1150c' for a reportlab colour."""
    return "#" + str(colour.hexval())[2:]


def _x(text: str) -> str:
    """Text made safe for a Paragraph's mark-up."""
    return escape(text)


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(_x(text), style)


def _right(style: ParagraphStyle) -> ParagraphStyle:
    return ParagraphStyle(f"{style.name}-right", parent=style, alignment=TA_RIGHT)


def _utc(moment: dt.datetime) -> str:
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}"


def _local(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} (UTC{moment:%z})"


def _grams(value: Decimal | None) -> str:
    return str(value.quantize(Decimal("0.001"))) if value is not None else "?"


def _chain(chain_ok: bool | None) -> str:
    if chain_ok is None:
        return "not checked for this printout (run 'station audit verify')"
    return ("intact: every link and photo re-checked when printed" if chain_ok
            else "BROKEN: the record was altered after it was written; see 'station audit "
                 "verify'")


def _counted(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"
