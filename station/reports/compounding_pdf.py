"""The compounding record a pharmacy files, as a PDF built from :func:`review_preparation`.

What USP <797> asks a compounding record to hold, and Part 11 asks of its signatures: what
was made and for whom, every component's name, manufacturer, NDC, lot and expiry, every
step with its photographs, each weight with what was expected, what was measured, the
deviation and tolerance, the balance's raw line and identity, every hard stop, retry and
override with its reason, each signature's printed name, user id, meaning and UTC time, the
flags, and the record's last hash with the chain's status. Every page carries the
preparation id and "page N of M"; the audit trail (every stored event) closes the record.

It also gives the beyond-use date as the label printed it, with the rule that set it, the
storage and the USP <797> category (with a Category 3 preparation's prerequisites) and every
copy printed, reprints with their reasons; before the label is printed, "no label printed yet"
and the date it would get, marked as not printed. Each component says how its lot and expiry
were obtained, one that no barcode carried is marked for checking against the photo, and an
opened vial gives its id, first puncture and beyond-use time; each syringe gives what was
drawn and what it delivered. The words are the review's
(:mod:`station.services.review.wording`), as on the pharmacist's and the auditor's screens.
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
from station.records.photostore import PhotoStore
from station.reports.pdf_layout import (
    ALERT_BG,
    ALERT_INK,
    BANNER,
    CELL_HEAD,
    FRAME_PADDING,
    GRID,
    H2,
    HASH,
    HEADED,
    ID,
    INK,
    LINE,
    MARGIN,
    MONO,
    MUTED,
    NOTE_BG,
    NOTE_INK,
    OK_INK,
    PAGE,
    RULE,
    SHADE,
    SMALL,
    STEP,
    TINY,
    TITLE,
    WIDTH,
    NumberedCanvas,
)
from station.services.preparations import PreparationService
from station.services.review.build import review_preparation
from station.services.review.model import (
    ALERT,
    BudView,
    PhotoView,
    PreparationReview,
    ScanView,
    SignatureView,
    StepView,
    SyringeView,
    TimelineEntry,
    WeightView,
)
from station.services.review.wording import (
    bud_rows,
    near_tolerance,
    source_text,
    syringe_text,
    vial_text,
)

__all__ = ["write_compounding_record"]

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
    when the preparation is unknown (:class:`~station.services.review.build.UnknownPreparation`).
    """
    review = review_preparation(service, preparation_id)
    printed = service.clock().astimezone(dt.UTC)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=PAGE, leftMargin=MARGIN - FRAME_PADDING,
        rightMargin=MARGIN - FRAME_PADDING,
        topMargin=MARGIN + 8 * mm, bottomMargin=MARGIN + 6 * mm,
        title=f"Compounding record {review.preparation_id}",
        author="station", subject=review.description, invariant=True,
    )
    decorate = _decorator(review, printed)

    def canvas(*args: Any, **kwargs: Any) -> NumberedCanvas:
        return NumberedCanvas(*args, decorate=decorate, **kwargs)

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


def _decorator(review: PreparationReview,
               printed: dt.datetime) -> Callable[[Canvas, int, int], None]:
    def decorate(canvas: Canvas, number: int, total: int) -> None:
        width, height = PAGE
        top = height - MARGIN
        canvas.saveState()
        canvas.setFillColor(MUTED)
        canvas.setFont("Helvetica", 7.5)
        canvas.drawString(MARGIN, top, f"Compounding record · {_clip(review.description, 95)}")
        canvas.setFont("Helvetica-Bold", 9)
        canvas.setFillColor(INK)
        canvas.drawRightString(width - MARGIN, top, review.preparation_id)
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.6)
        canvas.line(MARGIN, top - 2.5 * mm, width - MARGIN, top - 2.5 * mm)
        bottom = MARGIN
        canvas.line(MARGIN, bottom + 4 * mm, width - MARGIN, bottom + 4 * mm)
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(MUTED)
        canvas.drawString(MARGIN, bottom, f"Preparation {review.preparation_id} · order "
                          f"{review.order.order_id} · printed {_utc(printed)}")
        canvas.setFont("Helvetica-Bold", 8)
        canvas.setFillColor(INK)
        canvas.drawRightString(width - MARGIN, bottom, f"page {number} of {total}")
        canvas.restoreState()

    return decorate


# ------------------------------------------------------------------------------ the story


def _story(review: PreparationReview, photos: PhotoStore, chain_ok: bool | None,
           printed: dt.datetime) -> list[Flowable]:
    story: list[Flowable] = [
        Table([[Paragraph("Compounding record", TITLE),
                Paragraph(_x(review.preparation_id), ID)]],
              colWidths=[WIDTH * 0.55, WIDTH * 0.45],
              style=[("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                     ("VALIGN", (0, 0), (-1, -1), "BOTTOM")]),
        Spacer(1, 2 * mm),
        _status_banner(review),
    ]
    story += [_warning_banner(w) for w in review.warnings]
    story += [Paragraph("What was made, and for whom", H2), _header(review, chain_ok)]
    story += [Paragraph("Beyond-use date and label", H2), _bud(review.bud)]
    story += _flags(review)
    story += [Paragraph("Components (what went into the preparation)", H2),
              _components(review.components)]
    if review.syringes:
        story += [Paragraph("Doses drawn and delivered (each syringe weighed filled and "
                            "emptied)", H2), _syringes(review.syringes)]
    story.append(Paragraph("Steps", H2))
    for step in review.steps:
        story += _step(step, review, photos)
    story += [CondPageBreak(40 * mm), Paragraph("Signatures", H2),
              _signatures(review.signatures)]
    story += [Paragraph("Record integrity", H2), _integrity(review, chain_ok, printed)]
    story += [CondPageBreak(40 * mm),
              Paragraph(f"Audit trail: every recorded event ({len(review.timeline)})", H2),
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
    colour = {"verified": OK_INK, "rejected": ALERT_INK, "cancelled": MUTED}.get(
        phase, colors.HexColor("#27507a"))
    return _band(Paragraph(_x(text), BANNER), colour)


def _warning_banner(text: str) -> Flowable:
    return _band(Paragraph(_x(text), BANNER), ALERT_INK)


def _band(content: Flowable, colour: Any) -> Flowable:
    return Table([[content]], colWidths=[WIDTH], style=[
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
        ("Beyond-use date", bud_rows(review.bud)[0][1], "Formulary",
         f"version {review.formulary_version}"),
        ("Prepared by", review.preparer or "(not started)",
         "Checked by", _checked_by(review)),
        ("Created (UTC)", _utc(review.created_utc), "Held for verification (UTC)",
         _utc(review.held_utc) if review.held_utc else "not yet"),
        ("Stations", ", ".join(review.stations), "Balances", ", ".join(review.balances) or "none"),
    ]
    data = [[_p(a, CELL_HEAD), _p(b, SMALL), _p(c, CELL_HEAD), _p(d, SMALL)]
            for a, b, c, d in rows]
    data.append([_p("Last hash", CELL_HEAD), _p(review.last_hash, HASH),
                 _p("Chain", CELL_HEAD), _p(_chain(chain_ok), SMALL)])
    widths = [WIDTH * 0.14, WIDTH * 0.38, WIDTH * 0.14, WIDTH * 0.34]
    return Table(data, colWidths=widths, style=[*GRID, ("BACKGROUND", (0, 0), (0, -1), SHADE),
                                                 ("BACKGROUND", (2, 0), (2, -1), SHADE)])


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
    heading = Paragraph(f"Flags ({_counted(alerts, 'alert')}, {_counted(notes, 'note')})", H2)
    if not review.flags:
        return [heading, Paragraph("Nothing to flag: no hard stop, override, identity problem "
                                   "or weighing near its tolerance.", SMALL)]
    data = []
    style = list(GRID)
    for row, flag in enumerate(review.flags):
        alert = flag.level == ALERT
        ink = ALERT_INK if alert else NOTE_INK
        data.append([Paragraph(f'<font color="{_hex(ink)}"><b>{flag.level.upper()}</b></font>',
                               SMALL),
                     Paragraph(_x(flag.text), SMALL)])
        style.append(("BACKGROUND", (0, row), (-1, row), ALERT_BG if alert else NOTE_BG))
    return [heading, Table(data, colWidths=[WIDTH * 0.08, WIDTH * 0.92], style=style)]


def _bud(bud: BudView) -> Flowable:
    """The beyond-use date's rows: date, rule, storage, category, every copy printed."""
    cells = [[_p(what, CELL_HEAD), _p(said, SMALL)] for what, said in bud_rows(bud)]
    style = [*GRID, ("BACKGROUND", (0, 0), (0, -1), SHADE)]
    if not bud.printed:
        style.append(("BACKGROUND", (1, 0), (1, 0), ALERT_BG))
    return Table(cells, colWidths=[WIDTH * 0.2, WIDTH * 0.8], style=style)


def _components(components: Sequence[ScanView]) -> Flowable:
    head = ["Product", "NDC", "Manufacturer", "Lot", "Expiry", "Serial", "Lot and expiry",
            "Scanned (UTC)"]
    cells = [[_p(head_text, CELL_HEAD) for head_text in head]]
    for component in components:
        first = f"<b>{_x(component.name or component.scanned or '?')}</b>"
        if component.strength:
            first += f"<br/>{_x(component.strength)}"
        cells.append([
            Paragraph(first, SMALL),
            *(_p(v, SMALL) for v in (
                component.ndc or "?", component.manufacturer or "?", component.lot or "none",
                str(component.expiry) if component.expiry else "none",
                component.serial or "none")),
            _source(component),
            _p(_utc(component.at) + (" (override)" if component.overridden else ""), SMALL),
        ])
    if not components:
        cells.append([_p("No component scanned yet", SMALL), *(_p("", SMALL) for _ in head[1:])])
    widths = [0.19, 0.1, 0.11, 0.09, 0.09, 0.09, 0.2, 0.13]
    return Table(cells, colWidths=[WIDTH * w for w in widths], repeatRows=1, style=HEADED)


def _source(scan: ScanView) -> Flowable:
    """How the lot and expiry were obtained (in red when flagged), and the opened vial."""
    text = _x(source_text(scan) or "no lot or expiry recorded")
    if scan.flagged:
        text = f'<font color="{_hex(ALERT_INK)}"><b>{text}</b></font>'
    vial = vial_text(scan)
    if vial:
        text += f"<br/>{_x(vial)}"
    return Paragraph(text, SMALL)


def _syringes(syringes: Sequence[SyringeView]) -> Flowable:
    head = ["Syringe", "Drawn", "Delivered", "Left in the syringe", "Ordered"]
    cells = [[_p(h, CELL_HEAD) for h in head]]
    for syringe in syringes:
        cells.append([
            _p(f"{syringe.number} of {syringe.of}: {syringe.product}", SMALL),
            _p(_amount(syringe.drawn, syringe.drawn_dose, syringe.draw_step), SMALL),
            _p(_amount(syringe.delivered, syringe.delivered_dose, syringe.delivered_step),
               SMALL),
            _p(f"{_grams(syringe.left)} g" if syringe.left is not None else "—", SMALL),
            _p(syringe.ordered_dose or "—", SMALL),
        ])
    cells.append([Paragraph(_x("; ".join(syringe_text(s) for s in syringes)), TINY), "", "",
                  "", ""])
    widths = [0.26, 0.21, 0.21, 0.14, 0.18]
    return Table(cells, colWidths=[WIDTH * w for w in widths], repeatRows=1,
                 style=[*HEADED, ("SPAN", (0, -1), (-1, -1))])


def _amount(grams: Decimal | None, dose: str | None, step: int) -> str:
    if grams is None:
        return f"not weighed yet (step {step})"
    return f"{_grams(grams)} g" + (f" = {dose}" if dose else "") + f" (step {step})"


# ------------------------------------------------------------------------------ steps


def _step(step: StepView, review: PreparationReview, photos: PhotoStore) -> list[Flowable]:
    state = "done" if step.done else "not done"
    head = Table([[Paragraph(f"Step {step.number} · {_x(step.title)}", STEP),
                   Paragraph(f"{_x(step.kind.value)} · {state}", _right(SMALL))]],
                 colWidths=[WIDTH * 0.78, WIDTH * 0.22],
                 style=[("BACKGROUND", (0, 0), (-1, -1), SHADE),
                        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                        ("TOPPADDING", (0, 0), (-1, -1), 3),
                        ("BOTTOMPADDING", (0, 0), (-1, -1), 3)])
    body: list[Flowable] = []
    if step.scans:
        body.append(_scans(step.scans))
    if step.weights:
        body.append(_weights(step.weights))
    events = [e for e in review.timeline if e.step == step.number
              and e.kind in ("action_confirmed", "label_printed", "label_scanned", "hard_stop",
                             "retried")]
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
    body += [Paragraph(line if line.startswith("<b>") else _x(line), LINE) for line in lines]
    pictures = _photos(step.number, step.photos, photos)
    first = [head, Spacer(1, 1.5 * mm), *body[:1]]
    return [KeepTogether(first), *body[1:], *pictures, Spacer(1, 3 * mm)]


def _scans(scans: Sequence[ScanView]) -> Flowable:
    head = ["Scanned (UTC)", "Expected", "Scanned", "Lot / expiry / serial", "Result"]
    cells = [[_p(h, CELL_HEAD) for h in head]]
    for scan in scans:
        identity = " / ".join((scan.lot or "no lot", str(scan.expiry) if scan.expiry else
                               "no expiry", scan.serial or "no serial"))
        source = source_text(scan)
        said = _x(identity) + (f"<br/>{_x(source)}" if source else "")
        if scan.flagged:
            said = f'{_x(identity)}<br/><font color="{_hex(ALERT_INK)}"><b>{_x(source)}</b></font>'
        vial = vial_text(scan)
        if vial:
            said += f"<br/>{_x(vial)}"
        cells.append([
            _p(_utc(scan.at), SMALL),
            _p("; ".join(scan.expected), SMALL),
            _p(scan.scanned or f"not in formulary: {scan.lookup_problem or scan.raw}", SMALL),
            Paragraph(said, SMALL),
            _verdict(scan.accepted, scan.problem, scan.overridden, scan.resolution),
        ])
    widths = [0.13, 0.22, 0.22, 0.23, 0.2]
    return Table(cells, colWidths=[WIDTH * w for w in widths], repeatRows=1, style=HEADED)


def _weights(weights: Sequence[WeightView]) -> Flowable:
    head = ["Read (UTC)", "Balance reading", "Net = reading − before", "Expected",
            "Deviation / tolerance", "Result"]
    cells = [[_p(h, CELL_HEAD) for h in head]]
    for weight in weights:
        raw = _x(repr(weight.raw)[1:-1]).replace(" ", "&nbsp;") or "(none)"
        reading = (f"<b>{weight.reading} g</b><br/>on {_x(weight.balance_id)}<br/>"
                   f'raw <font face="Courier">{raw}</font>')
        if weight.net is None:
            cells.append([_p(_utc(weight.at), SMALL), Paragraph(reading, SMALL),
                          _p("reference (tare) reading", SMALL), _p("", SMALL),
                          _p("", SMALL), _verdict(weight.accepted, weight.problem, False,
                                                   weight.resolution)])
            continue
        net = (f"<b>{weight.net} g</b> = {weight.reading} − {weight.before} g"
               f" (step {weight.reference_step})")
        if weight.delivered:
            net = (f"<b>{weight.net} g delivered</b> = {weight.before} g filled (step "
                   f"{weight.reference_step}) − {weight.reading} g emptied")
        expected = f"{_grams(weight.expected_net)} g"
        if weight.expected_dose:
            expected += f"<br/>dose {_x(weight.expected_dose)}; measured " \
                        f"{_x(weight.measured_dose or '?')}"
        deviation = (f"<b>{weight.deviation_percent:+} %</b> of ±{weight.tolerance_percent:f} %"
                     f"<br/>U = ±{weight.uncertainty} g"
                     + ("" if weight.verifiable else "<br/><b>not verifiable by weight</b>"))
        cells.append([_p(_utc(weight.at), SMALL), Paragraph(reading, SMALL),
                      Paragraph(net, SMALL), Paragraph(expected, SMALL),
                      Paragraph(deviation, SMALL),
                      _verdict(weight.accepted, weight.problem, weight.overridden,
                               weight.resolution, near_tolerance(weight))])
    widths = [0.12, 0.22, 0.18, 0.16, 0.14, 0.18]
    return Table(cells, colWidths=[WIDTH * w for w in widths], repeatRows=1, style=HEADED)


def _verdict(accepted: bool, problem: str | None, overridden: bool,
             resolution: str | None, note: str | None = None) -> Flowable:
    if accepted and problem is None:
        text = f'<font color="{_hex(OK_INK)}"><b>accepted</b></font>'
        if note:
            text += f'<br/><font color="{_hex(NOTE_INK)}">{_x(note)}</font>'
        return Paragraph(text, SMALL)
    word = "ACCEPTED ON OVERRIDE" if overridden else ("accepted" if accepted else "STOPPED")
    text = f'<font color="{_hex(ALERT_INK)}"><b>{word}</b></font>'
    if problem:
        text += f"<br/>{_x(problem)}"
    if resolution and not overridden:
        text += f"<br/><i>{_x(resolution)}</i>"
    return Paragraph(text, SMALL)


def _photos(step: int, views: Sequence[PhotoView], store: PhotoStore) -> list[Flowable]:
    """The step's photos, two to a row, each scaled to fit its half of the page."""
    if not views:
        return []
    cell_width = (WIDTH - 6 * mm) / 2
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
        return [Paragraph(_x(f"{caption}: cannot be shown ({error})"), SMALL)]
    height = min(width * pixels_high / pixels_wide, 75 * mm)
    image = Image(io.BytesIO(data), width=height * pixels_wide / pixels_high, height=height)
    image.hAlign = "LEFT"
    return [image, Paragraph(_x(caption), TINY)]


# ------------------------------------------------------------------------------ the end


def _signatures(signatures: Sequence[SignatureView]) -> Flowable:
    head = ["Meaning", "Signed by (printed name, user id) — meaning — UTC date and time",
            "Reason"]
    cells = [[_p(h, CELL_HEAD) for h in head]]
    cells += [[_p(s.meaning, SMALL), _p(s.manifestation, SMALL), _p(s.reason or "—", SMALL)]
              for s in signatures]
    if not signatures:
        cells.append([_p("none", SMALL), _p("no decision has been signed yet", SMALL),
                      _p("", SMALL)])
    return Table(cells, colWidths=[WIDTH * 0.16, WIDTH * 0.5, WIDTH * 0.34], repeatRows=1,
                 style=HEADED)


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
    cells = [[_p(a, CELL_HEAD), _p(b, MONO if a == "Last hash" else SMALL)] for a, b in rows]
    return Table(cells, colWidths=[WIDTH * 0.14, WIDTH * 0.86],
                 style=[*GRID, ("BACKGROUND", (0, 0), (0, -1), SHADE)])


def _audit_trail(timeline: Sequence[TimelineEntry]) -> Flowable:
    head = ["#", "Recorded (UTC)", "User", "Station", "Step", "What happened", "Then"]
    cells = [[_p(h, CELL_HEAD) for h in head]]
    for entry in timeline:
        cells.append([_p(str(entry.sequence), TINY), _p(_utc(entry.utc), TINY),
                      _p(entry.user_id, TINY), _p(entry.station_id, TINY),
                      _p(str(entry.step) if entry.step is not None else "", TINY),
                      _p(entry.summary, TINY), _p(entry.phase, TINY)])
    widths = [0.05, 0.15, 0.08, 0.11, 0.05, 0.43, 0.13]
    return Table(cells, colWidths=[WIDTH * w for w in widths], repeatRows=1, style=HEADED)


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
