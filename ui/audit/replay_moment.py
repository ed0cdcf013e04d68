"""What the record showed at one moment of a preparation's replay, and that moment in words.

:func:`moment_at` says what the record showed after one timeline entry: the latest photo, the
latest balance reading and every reading so far, the latest scan, the phase and step, and the
signatures given so far. :func:`gauge_state`, :func:`weight_lines`, :func:`scan_lines`,
:func:`entry_text` and :func:`signature_text` put it the way the replay shows it,
:func:`bud_lines` the beyond-use date the label printed, and :func:`broken_event` finds the
event a record check's problem names. The words for a beyond-use date, a lot's source, an
opened vial and a syringe's delivered dose are the review's
(:mod:`station.services.review.wording`), so the replay says what the pharmacist's review and
the PDF say. All of it is pure: the tests check it without painting.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from station.services.review.model import (
    BudView,
    ScanView,
    SignatureView,
    TimelineEntry,
    WeightView,
)
from station.services.review.wording import bud_rows, source_text, vial_text
from ui.widgets.weight_gauge import WeightGaugeState

_EVENT_NUMBER = re.compile(r"\bevent (\d+)\b")


@dataclass(frozen=True)
class Moment:
    """What the record showed right after timeline entry ``index``."""

    index: int
    entry: TimelineEntry
    photo: TimelineEntry | None  # the latest photo_taken entry so far
    weight: WeightView | None  # the latest balance reading so far
    trace: tuple[WeightView, ...]  # every reading so far, oldest first
    scan: ScanView | None  # the latest scan so far
    step: int | None  # the step the latest step event was about
    signatures: tuple[SignatureView, ...]  # given so far, oldest first

    @property
    def phase(self) -> str:
        """The preparation's phase after this entry."""
        return self.entry.phase


def moment_at(timeline: Sequence[TimelineEntry], index: int) -> Moment:
    """The moment after ``timeline[index]`` (``index`` clamped to the timeline)."""
    if not timeline:
        raise ValueError("a preparation's timeline has at least its creation")
    index = min(max(index, 0), len(timeline) - 1)
    so_far = timeline[:index + 1]
    photo = next((e for e in reversed(so_far) if e.photo), None)
    trace = tuple(e.weight for e in so_far if e.weight is not None)
    scan = next((e.scan for e in reversed(so_far) if e.scan is not None), None)
    step = next((e.step for e in reversed(so_far) if e.step is not None), None)
    signatures = tuple(e.signature for e in so_far if e.signature is not None)
    return Moment(index, timeline[index], photo, trace[-1] if trace else None, trace, scan,
                  step, signatures)


def broken_event(problem: str | None) -> int | None:
    """The event number a record check's problem names (``chain broken at event 12: …``)."""
    found = _EVENT_NUMBER.search(problem or "")
    return int(found.group(1)) if found else None


def gauge_state(weight: WeightView | None) -> WeightGaugeState:
    """The gauge as the station showed this reading: the band is the step's tolerance."""
    if weight is None:
        return WeightGaugeState(message="no balance reading yet")
    if (weight.net is None or weight.expected_net is None or weight.before is None
            or weight.tolerance_percent is None):
        return WeightGaugeState(value=weight.reading, stable=True,
                                message="reference weighing (tare)")
    # An emptied syringe weighs its dose less than the filled one.
    target = weight.before + (-weight.expected_net if weight.delivered else weight.expected_net)
    spread = abs(weight.expected_net) * weight.tolerance_percent / 100
    return WeightGaugeState(value=weight.reading, stable=True, target=target,
                            low=target - spread, high=target + spread)


def weight_lines(weight: WeightView | None) -> str:
    """The reading's check in words: net against expected, deviation, verdict."""
    if weight is None:
        return "No balance reading yet."
    lines = [f"Balance {weight.balance_id}: “{weight.raw.strip()}” at {utc_clock(weight.at)}"]
    if weight.net is None:
        lines.append(f"Reference weighing {weight.reading} g (the next net weight subtracts it)")
    elif weight.delivered:
        lines.append(f"Emptied syringe: delivered {weight.net} g = {weight.before} g filled "
                     f"(step {weight.reference_step}) − {weight.reading} g, expected "
                     f"{_grams(weight.expected_net)} g: {_signed(weight.deviation_percent)} % of "
                     f"±{weight.tolerance_percent} %")
    else:
        lines.append(f"Net {weight.net} g, expected {_grams(weight.expected_net)} g: "
                     f"{_signed(weight.deviation_percent)} % of ±{weight.tolerance_percent} %")
    if weight.net is not None and (weight.expected_dose or weight.measured_dose):
        measured = "delivered" if weight.delivered else "measured"
        lines.append(f"Dose {weight.measured_dose or '?'} {measured}, "
                     f"{weight.expected_dose or '?'} ordered")
    if weight.problem is not None:
        mark = "overridden" if weight.overridden else "refused"
        lines.append(f"✖ {mark}: {weight.problem}")
    elif weight.verifiable is False:
        lines.append("⚠ accepted WITHOUT a weight check (not verifiable)")
    else:
        lines.append("✔ accepted")
    if weight.resolution:
        lines.append(f"then {weight.resolution}")
    return "\n".join(lines)


def scan_lines(scan: ScanView | None) -> str:
    """The scan in words: what was read, what the step expected, the verdict."""
    if scan is None:
        return "No scan yet."
    lines = [f"Scanned {scan.scanned or 'an unknown product'} at {utc_clock(scan.at)}",
             "  ".join(part for part in (
                 f"NDC {scan.ndc}" if scan.ndc else "", f"lot {scan.lot}" if scan.lot else "",
                 f"exp {scan.expiry}" if scan.expiry else "",
                 f"serial {scan.serial}" if scan.serial else "") if part) or "no GS1 data",
             f"Expected: {' or '.join(scan.expected) or '—'}",
             f"Raw: {scan.raw.replace(chr(29), '<GS>')}"]
    source = source_text(scan)
    if source:
        lines.insert(2, f"{'⚑ ' if scan.flagged else ''}{source[0].upper()}{source[1:]}")
    vial = vial_text(scan)
    if vial:
        lines.insert(3 if source else 2, f"{vial[0].upper()}{vial[1:]}")
    if scan.problem is not None:
        mark = "overridden" if scan.overridden else "refused"
        lines.append(f"✖ {mark}: {scan.problem}")
    else:
        lines.append("✔ accepted")
    if scan.resolution:
        lines.append(f"then {scan.resolution}")
    return "\n".join(lines)


def bud_lines(bud: BudView) -> str:
    """The beyond-use date the label printed (or would print), one 'what: said' a line."""
    return "\n".join(f"{what}: {said}" for what, said in bud_rows(bud))


def entry_text(entry: TimelineEntry) -> str:
    """``21:33:36  step 1  product scanned`` over the event's summary."""
    step = f"  step {entry.step}" if entry.step is not None else ""
    sign = "  ✍ signed" if entry.signature is not None else ""
    return (f"{utc_clock(entry.utc)}{step}  {entry.kind.replace('_', ' ')}{sign}\n"
            f"{entry.summary}")


def signature_text(signature: SignatureView) -> str:
    """``✍`` and the signature's manifestation, over its reason if it has one."""
    text = f"✍ {signature.manifestation}"
    return f"{text}\n    reason: {signature.reason}" if signature.reason else text


def utc_clock(when: dt.datetime) -> str:
    """``21:33:36``: the time of day in UTC."""
    return f"{when.astimezone(dt.UTC):%H:%M:%S}"


def _grams(value: Decimal | None) -> str:
    return f"{value:.3f}" if value is not None else "?"


def _signed(value: Decimal | None) -> str:
    return f"{value:+}" if value is not None else "?"
