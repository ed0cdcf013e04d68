"""The qualification report as a PDF, for the pharmacy's quality file.

One or two pages: the verdict; what was run (seed, count, balance, measured repeatability,
the noise model with the file its sources are in); per error kind what was done, how many
were injected, how many the station caught and how, and what a syringe pull-back check
would have caught; the clean preparations and their false holds; the orders left out and
why; lines for the signatures of whoever ran it and the pharmacist in charge.
"""

from __future__ import annotations

import io
import os
import statistics
import tomllib
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from station.qualification.plan import ErrorKind
from station.qualification.pullback import SCALE_ACCURACY
from station.qualification.run import QualificationResult
from station.reports.pdf_layout import (
    ALERT_BG,
    ALERT_INK,
    BANNER,
    BODY,
    CELL_HEAD,
    FRAME_PADDING,
    GRID,
    H2,
    HEADED,
    MARGIN,
    MUTED,
    OK_INK,
    PAGE,
    SHADE,
    SMALL,
    TITLE,
    WIDTH,
    NumberedCanvas,
)

_NUMBER = ParagraphStyle("number", parent=SMALL, alignment=TA_RIGHT)
_PHYSICS = (
    ("readability", "model", "readability d", "g"),
    ("capacity", "model", "capacity", "g"),
    ("noise_sd", "physics", "repeatability (white noise, s.d.)", "g"),
    ("airflow_sd", "physics", "hood airflow (s.d.)", "g"),
    ("airflow_time_constant", "physics", "airflow correlation time", "s"),
    ("drift_per_hour", "physics", "zero drift", "g/h"),
    ("settle_time_constant", "physics", "settling time constant", "s"),
    ("stability_window", "physics", "stability window (±1 d)", "s"),
)


def write_qualification_report(result: QualificationResult, path: str | os.PathLike[str], *,
                               scenario_path: Path, scenario_text: str, protocol: str,
                               speed: float, database: str) -> int:
    """Write the report to ``path``; returns the page count."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=PAGE, leftMargin=MARGIN - FRAME_PADDING,
        rightMargin=MARGIN - FRAME_PADDING, topMargin=MARGIN, bottomMargin=MARGIN + 6 * 2.83,
        title=f"Operational qualification, seed {result.seed}", author="station",
        invariant=True)

    def decorate(canvas: Any, number: int, total: int) -> None:
        canvas.setFont("Helvetica", 7)
        canvas.setFillColor(MUTED)
        canvas.drawString(MARGIN, MARGIN - 4, f"Operational qualification · seed {result.seed}"
                          f" · {result.started:%Y-%m-%d %H:%M} UTC")
        canvas.drawRightString(PAGE[0] - MARGIN, MARGIN - 4, f"page {number} of {total}")

    def canvas(*args: Any, **kwargs: Any) -> NumberedCanvas:
        return NumberedCanvas(*args, decorate=decorate, **kwargs)

    physics = tomllib.loads(scenario_text)
    story = [
        Paragraph("Operational qualification: error detection", TITLE),
        Paragraph(escape(f"{result.count} preparations, seed {result.seed}, "
                         f"{result.started:%Y-%m-%d %H:%M} UTC"), SMALL),
        Spacer(1, 6), _verdict(result),
        Paragraph("What was run", H2),
        _pairs([
            ("method", "Each preparation is made at a simulated hood through the station's own "
             "parts: the balance driver on a pseudo-terminal served by the balance simulator "
             f"({protocol}), camera frames decoded by the decode pipeline, the acceptance "
             "rule, the workflow and the record. Errors are made physically: the label "
             "held under the camera, the mass put on the pan, the balance cable pulled, the "
             "label applied to the bag. Some products come in packages with only a UPC-A: "
             "their printed lot and expiry are read by the camera and confirmed against the "
             "package, or typed twice, truthfully for an expired or recalled one. Each "
             "emptied syringe is weighed back with its dead space left in it (assumed "
             "0.015 mL for a 1 mL low-dead-space syringe to 0.16 mL for 60 mL, ±15 %), so "
             "the bag receives less than was drawn. Multiple-dose vials are kept after a "
             "first draw and drawn from again by their sticker. The station sees only what "
             "its devices report."),
            ("balance", result.balance),
            ("repeatability", f"s = {result.repeatability} g from {len(result.readings)} "
             f"weighings of the check weight (range {min(result.readings)}–"
             f"{max(result.readings)} g); the station used max(s, 0.41 d)"),
            ("noise model", "; ".join(_physics(physics)) + f" — sources in {scenario_path.name}"),
            ("time", f"{result.seconds:.0f} s in all, median "
             f"{_median(result.preparation_seconds):.1f} s a preparation; the balance's "
             f"physics ran {speed:g}× faster than the wall clock"),
            ("database", database),
        ]),
        Paragraph("Injected errors", H2), _errors(result),
        Paragraph(escape(
            "Caught: the station stopped at the step the error was made in (a hard stop, "
            "a refused scan, a refused photograph, or a lost balance with no weight taken); "
            "a syringe never injected is caught where it is weighed back full. "
            "Pull-back: the same errors under a visual syringe check at its best — the volume "
            f"read to half a scale increment on a syringe accurate to ±{SCALE_ACCURACY:.0%} "
            "(ISO 7886-1), caught when outside the dose tolerance; it sees no label, lot, "
            "recall, photo, balance or injection. In practice pull-back did worse: doses "
            "from −65 % to +94 % of intended got through it (J Oncol Pharm Pract 2016)."),
            SMALL),
        Paragraph("Clean preparations", H2), _clean(result),
    ]
    if result.excluded_orders:
        story += [Paragraph("Orders left out", H2),
                  Paragraph("Not part of this qualification: orders the station holds as "
                            "not verifiable by weight on this balance whatever is drawn (they "
                            "need another verification), and orders its formulary cannot "
                            "make.", SMALL),
                  _pairs(result.excluded_orders)]
    story += [Paragraph("Signatures", H2), _signatures()]
    document.build(story, canvasmaker=canvas)
    Path(path).write_bytes(buffer.getvalue())
    pages: int = document.page
    return pages


def _verdict(result: QualificationResult) -> Flowable:
    if result.exit_status == 0:
        text, colour = ("PASSED: every injected error was caught; false holds "
                        f"{result.false_hold_rate:.2%} (target at most "
                        f"{result.false_hold_target:.1%})"), OK_INK
    elif result.exit_status == 1:
        text, colour = f"FAILED: {result.got_through} injected error(s) got through", ALERT_INK
    else:
        text, colour = (f"FAILED: false holds {result.false_hold_rate:.2%} above the target "
                        f"{result.false_hold_target:.1%}"), ALERT_INK
    table = Table([[Paragraph(escape(text), BANNER)]], colWidths=[WIDTH])
    table.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, -1), colour),
                               ("TOPPADDING", (0, 0), (-1, -1), 5),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 5)]))
    return table


def _physics(scenario: dict[str, Any]) -> list[str]:
    found = []
    for key, table, words, unit in _PHYSICS:
        value = scenario.get(table, {}).get(key)
        if value is not None:
            found.append(f"{words} {value} {unit}")
    return found


def _errors(result: QualificationResult) -> Flowable:
    head = ["error", "what the technician did", "injected", "caught", "how the station "
            "showed it", "pull-back"]
    rows: list[list[Any]] = [[Paragraph(h, CELL_HEAD) for h in head]]
    style = list(HEADED)
    for kind in ErrorKind:
        score = result.errors[kind]
        how = "; ".join(f"{text} ({n})" for text, n in sorted(score.how.items()))
        if score.missed:
            how += ("; " if how else "") + "GOT THROUGH: " + ", ".join(score.missed)
        rows.append([Paragraph(kind.value, SMALL), Paragraph(escape(kind.words), SMALL),
                     _n(score.injected), _n(score.caught), Paragraph(escape(how), SMALL),
                     _n(score.pullback_caught)])
        if score.injected != score.caught:
            style.append(("BACKGROUND", (0, len(rows) - 1), (-1, len(rows) - 1), ALERT_BG))
    injected = sum(s.injected for s in result.errors.values())
    caught = sum(s.caught for s in result.errors.values())
    pullback = sum(s.pullback_caught for s in result.errors.values())
    rows.append([Paragraph("<b>all errors</b>", SMALL), "", _n(injected), _n(caught),
                 Paragraph(f"{_share(caught, injected)} caught by the station", SMALL),
                 _n(pullback)])
    rows.append([Paragraph("<b>pull-back check</b>", SMALL),
                 Paragraph("visual volume only, no weighing, no scanning", SMALL),
                 _n(injected), _n(pullback),
                 Paragraph(f"{_share(pullback, injected)} would have been caught", SMALL), ""])
    style.append(("BACKGROUND", (0, len(rows) - 2), (-1, -1), SHADE))
    table = Table(rows, colWidths=[0.15 * WIDTH, 0.25 * WIDTH, 0.08 * WIDTH, 0.08 * WIDTH,
                                   0.34 * WIDTH, 0.10 * WIDTH], repeatRows=1)
    table.setStyle(TableStyle(style))
    return table


def _clean(result: QualificationResult) -> Flowable:
    lines = [f"{result.clean} clean preparations, {len(result.false_holds)} false hold(s): "
             f"{result.false_hold_rate:.2%} (target at most {result.false_hold_target:.1%})."]
    lines += [f"{preparation}: {why}" for preparation, why in result.false_holds]
    return Paragraph("<br/>".join(escape(line) for line in lines), BODY)


def _pairs(pairs: list[tuple[str, str]]) -> Flowable:
    table = Table([[Paragraph(escape(k), CELL_HEAD), Paragraph(escape(v), SMALL)]
                   for k, v in pairs], colWidths=[0.18 * WIDTH, 0.82 * WIDTH])
    table.setStyle(TableStyle(GRID))
    return table


def _signatures() -> Flowable:
    rows = [["Run by (name, signature)", "", "Date", ""],
            ["Pharmacist in charge (name, signature)", "", "Date", ""]]
    table = Table([[Paragraph(c, SMALL) for c in row] for row in rows],
                  colWidths=[0.3 * WIDTH, 0.4 * WIDTH, 0.08 * WIDTH, 0.22 * WIDTH],
                  rowHeights=[26, 26])
    table.setStyle(TableStyle([("LINEBELOW", (1, 0), (1, -1), 0.6, MUTED),
                               ("LINEBELOW", (3, 0), (3, -1), 0.6, MUTED),
                               ("VALIGN", (0, 0), (-1, -1), "BOTTOM")]))
    return table


def _n(count: int) -> Paragraph:
    return Paragraph(str(count), _NUMBER)


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "n/a"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
