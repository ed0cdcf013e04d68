"""What a preparation's review says in plain words: its flags and one line per stored event.

:func:`flags_of` lists what a reviewer must see, alerts before notes, and within a level in
this order:

1. every override (alert): who, why, and the stop it cleared;
2. every hard stop (alert) and how it ended (retried, overridden, cancelled or still open),
   except those about a lot (4.) or a photo (6.); then every decision recorded without an
   electronic signature (alert);
3. every weighing accepted without a weight check (alert): the balance could not verify it;
4. every scan of an expired or recalled lot or an opened vial past its time (alert);
5. every accepted weighing in the top 20 % of its tolerance band (note), e.g.
   ``near tolerance: +4.3 % of ±5 %`` (:func:`near_tolerance`);
6. every refused photo (note) and how it ended;
7. every accepted component whose lot and expiry no barcode carried (note): the pharmacist
   checks them against the photo (:data:`CHECK_LOT`).

:func:`summary_of` says in one line what a stored event was, for the auditor's timeline.

The pharmacist's review, the auditor's replay and the compounding-record PDF say the same
things in the same words, all from here: the beyond-use date with its rule, storage and USP
<797> category and every printed copy (:func:`bud_rows`, :func:`bud_text`), where a
component's lot and expiry came from (:func:`source_text`), the opened vial it was
(:func:`vial_text`), and each syringe's drawn and delivered dose (:func:`syringe_text`).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from station.core.formulary import CompoundingCategory
from station.core.gravimetry import Verdict
from station.core.label import format_time, storage_instruction
from station.core.orders import DoseOrder
from station.core.workflow import LabelPrinted, StopReason
from station.services.preparations import CREATED
from station.services.review.model import (
    ALERT,
    NOTE,
    BudView,
    Flag,
    LabelCopyView,
    ScanView,
    StepView,
    SyringeView,
    WeightView,
)
from station.services.review.replay import Moment, Replay

__all__ = [
    "CHECK_LOT",
    "NEAR_TOLERANCE_SHARE",
    "NOT_YET_PRINTED",
    "NO_LABEL_YET",
    "bud_rows",
    "bud_text",
    "category_text",
    "copy_text",
    "flags_of",
    "near_tolerance",
    "source_text",
    "summary_of",
    "syringe_text",
    "vial_text",
]

#: Said of a preparation whose label has not been printed.
NO_LABEL_YET = "no label printed yet"
#: Said of the beyond-use date such a preparation would get.
NOT_YET_PRINTED = "not yet printed"
#: The marker on a component whose lot and expiry no barcode carried.
CHECK_LOT = "CHECK lot/expiry against the photo"
_CATEGORIES = {
    CompoundingCategory.IMMEDIATE_USE: "immediate use",
    CompoundingCategory.CATEGORY_1: "Category 1",
    CompoundingCategory.CATEGORY_2: "Category 2",
    CompoundingCategory.CATEGORY_3: "Category 3",
}

#: An accepted weighing this far out in its tolerance band (or further) is noted.
NEAR_TOLERANCE_SHARE = Decimal("0.8")
_TENTH = Decimal("0.1")
_IDENTITY_STOPS = frozenset({StopReason.EXPIRED, StopReason.RECALLED})


def flags_of(steps: Sequence[StepView], replay: Replay) -> tuple[Flag, ...]:
    """The flags of a replayed preparation, in the order the module docstring gives."""
    flags = [*_override_flags(replay), *_stop_flags(replay),
             *(Flag(ALERT, step, f"{_where(step)}{kind.replace('_', ' ')} recorded without an "
                    "electronic signature") for step, kind in replay.unsigned)]
    for step in steps:
        flags.extend(Flag(ALERT, step.number, f"Step {step.number}: {w.net} g accepted without "
                          f"a weight check: {w.problem}")
                     for w in step.weights if w.accepted and w.verifiable is False)
    for step in steps:
        for scan in step.scans:
            issue = _identity_issue(scan)
            if issue is not None:
                ended = "accepted" if scan.accepted else f"refused, {scan.resolution}"
                flags.append(Flag(ALERT, step.number, f"Step {step.number}: {issue}; {ended}"))
    for step in steps:
        flags.extend(Flag(NOTE, step.number, f"Step {step.number}: {near} — {step.title}")
                     for near in map(near_tolerance, step.weights) if near is not None)
    flags.extend(_photo_flags(replay))
    for step in steps:
        flags.extend(Flag(NOTE, step.number, f"Step {step.number}: {scan.name or scan.scanned}"
                          f" lot {scan.lot}, expiry {scan.expiry}: {source_text(scan)}")
                     for scan in step.scans if scan.accepted and scan.flagged)
    return tuple(flags)


def _override_flags(replay: Replay) -> list[Flag]:
    return [Flag(ALERT, s.stop.step, f"Step {s.stop.step}: override by {s.override.printed_name} "
                 f"({s.override.user_id}): {s.override.reason} — it cleared: {s.stop.message}")
            for s in replay.stops if s.override is not None]


def _stop_flags(replay: Replay) -> list[Flag]:
    return [Flag(ALERT, s.stop.step, f"Step {s.stop.step}: hard stop — {s.stop.message}; "
                 f"{s.ended}")
            for s in replay.stops
            if s.stop.reason is not StopReason.BAD_PHOTO and s.stop.reason not in _IDENTITY_STOPS]


def _photo_flags(replay: Replay) -> list[Flag]:
    flags = []
    for stop in replay.stops:
        if stop.stop.reason is StopReason.BAD_PHOTO:
            problem = stop.stop.message.removeprefix("photo unusable: ").removesuffix(
                "; retake it")
            flags.append(Flag(NOTE, stop.stop.step,
                              f"Step {stop.stop.step}: photo refused — {problem}; {stop.ended}"))
    return flags


def _where(step: int | None) -> str:
    return f"Step {step}: " if step is not None else ""


def _identity_issue(scan: ScanView) -> str | None:
    what = scan.name or scan.scanned or "the product"
    lot = scan.lot or "(unknown)"
    if scan.recall_notice:
        return f"recalled lot {lot} of {what}: {scan.recall_notice}"
    if scan.expired:
        return f"expired lot {lot} of {what} (expired {scan.expiry})"
    if scan.opened_vial_problem:
        return f"opened vial past its time: {scan.opened_vial_problem}"
    return None


def near_tolerance(weight: WeightView) -> str | None:
    """'near tolerance: +4.3 % of ±5 %' for an accepted weighing in the top of its band."""
    if (not weight.accepted or weight.verdict != Verdict.PASS.value
            or weight.net is None or weight.expected_net is None
            or weight.tolerance_percent is None):
        return None
    deviation = (weight.net - weight.expected_net) / weight.expected_net * 100
    if abs(deviation) < NEAR_TOLERANCE_SHARE * weight.tolerance_percent:
        return None
    shown = deviation.quantize(_TENTH, ROUND_HALF_UP)
    return f"near tolerance: {shown:+} % of ±{weight.tolerance_percent:f} %"


def summary_of(moment: Moment, order: DoseOrder, steps: int, weight: WeightView | None,
             scan: ScanView | None) -> str:
    """One line in plain words for a stored event."""
    if scan is not None:
        return _scan_summary(scan)
    if weight is not None:
        return _weight_summary(weight)
    if isinstance(moment.event, LabelPrinted):
        return _label_summary(moment.event)
    stored, payload = moment.stored, moment.stored.payload
    user, signed = stored.user_id, moment.signature
    by = f"{signed.printed_name} ({signed.user_id})" if signed is not None else user
    reason = payload.get("reason", "")
    photo = f"Photo {str(payload.get('photo', ''))[:12]}…"
    said = {
        CREATED: f"Order {order.order_id} for {order.patient.name} "
                 f"({order.patient.patient_id}) recorded: {steps} steps, formulary version "
                 f"{payload.get('formulary_version')}",
        "state_changed": f"Now {payload.get('to')} (was {payload.get('from')})",
        "hard_stop": f"Hard stop at step {payload.get('step')}: {payload.get('message')}",
        "started": f"{user} started the preparation",
        "action_confirmed": f"{user} confirmed step {moment.step}",
        "label_scanned": f"Label scanned: {payload.get('text', '')}",
        "photo_taken": (f"{photo} refused: {payload['problem']}" if payload.get("problem")
                        else f"{photo} taken"),
        "retried": f"{user} cleared the hard stop to redo step {moment.step}",
        "overridden": f"Override by {by}: {reason}",
        "in_process_checked": (f"In-process check passed by {by}" if payload.get("approved")
                               else f"In-process check failed by {by}: {reason}"),
        "verified": f"Verified and released by {by}",
        "rejected": f"Rejected by {by}: {reason}",
        "cancelled": f"Cancelled by {user}: {reason}",
    }
    return said.get(stored.kind, stored.kind.replace("_", " "))


def _scan_summary(scan: ScanView) -> str:
    what = scan.scanned or f"an unknown product ({scan.lookup_problem or scan.raw})"
    details = ", ".join(part for part in (
        f"lot {scan.lot}" if scan.lot else "",
        f"exp {scan.expiry}" if scan.expiry else "",
        f"serial {scan.serial}" if scan.serial else "") if part)
    source = source_text(scan)
    if source:
        details += f" ({source})"
    vial = vial_text(scan)
    if vial:
        details += f"; {vial}"
    verdict = "accepted" if scan.problem is None else scan.problem
    return f"Scanned {what}{f' — {details}' if details else ''}: {verdict}"


def _label_summary(event: LabelPrinted) -> str:
    printed = "printed" if event.copy == 1 else "reprinted"
    reason = f" — reason: {event.reason}" if event.reason else ""
    return (f"Label {printed} (copy {event.copy}) by {event.user} on {event.printer}{reason}: "
            f"beyond use {format_time(event.beyond_use)} ({event.bud_rule}); "
            f"{storage_instruction(event.storage)}; USP <797> {_CATEGORIES[event.category]}")


def category_text(category: CompoundingCategory, prerequisites: str = "") -> str:
    """'Category 1', or 'Category 3 — prerequisites: …' with the records that allow it."""
    text = _CATEGORIES[category]
    if category is CompoundingCategory.CATEGORY_3:
        text += f" — prerequisites: {prerequisites or '(none named in the formulary)'}"
    return text


def copy_text(copy: LabelCopyView) -> str:
    """'copy 2 printed 2026-11-26 10:05 UTC-06:00 by tech.ana on tcp://…; reason: smudged'."""
    text = (f"copy {copy.copy} printed {format_time(copy.at)} by {copy.user_id} on "
            f"{copy.printer}")
    return text + (f"; reason: {copy.reason}" if copy.reason else "")


def bud_rows(bud: BudView) -> tuple[tuple[str, str], ...]:
    """The beyond-use date as (what, said) rows: date, rule, storage, category, copies.

    Printed: the last copy's date, rule, storage and category, then every copy. Not printed:
    :data:`NO_LABEL_YET`, and the date the label would get, marked :data:`NOT_YET_PRINTED`.
    """
    if bud.until is None:
        return (("Beyond-use date", f"{NO_LABEL_YET}; no date yet: {bud.problem}"),)
    if bud.printed:
        last = bud.copies[-1]
        date = f"{format_time(bud.until)} (as printed, copy {last.copy})"
    else:
        date = (f"{format_time(bud.until)} — {NOT_YET_PRINTED} ({NO_LABEL_YET}; the date "
                "the label would get)")
    rows = [("Beyond-use date", date), ("BUD rule", bud.rule)]
    if bud.storage is not None:
        rows.append(("Storage", storage_instruction(bud.storage)))
    if bud.category is not None:
        rows.append(("USP <797> category", category_text(bud.category, bud.prerequisites)))
    rows += [("Label" if c.copy == 1 else "Reprint", copy_text(c)) for c in bud.copies]
    return tuple(rows)


def bud_text(bud: BudView) -> str:
    """:func:`bud_rows` on one line: 'Beyond-use date: …; BUD rule: …; Storage: …; …'."""
    return "; ".join(f"{what}: {said}" for what, said in bud_rows(bud))


def source_text(scan: ScanView) -> str:
    """Where the lot and expiry came from, with :data:`CHECK_LOT` when no barcode had them."""
    if scan.lot_source is None:
        return ""
    text = f"lot and expiry {scan.lot_source.words}"
    return f"{text} — {CHECK_LOT}" if scan.flagged else text


def vial_text(scan: ScanView) -> str | None:
    """'opened vial V-…, first punctured …, beyond use … (rule)', when the package was one."""
    vial = scan.opened_vial
    if vial is None:
        return None
    return (f"opened vial {vial.key}, first punctured {format_time(vial.punctured_at)}, "
            f"beyond use {format_time(vial.beyond_use)} ({vial.rule})")


def syringe_text(syringe: SyringeView) -> str:
    """'Syringe 1 of 2 (Heparin Sodium): drawn 5.050 g = 25,000 units (step 5); delivered …'."""
    def amount(grams: Decimal | None, dose: str | None, step: int) -> str:
        if grams is None:
            return f"not weighed yet (step {step})"
        return f"{_grams(grams)} g{f' = {dose}' if dose else ''} (step {step})"

    text = (f"Syringe {syringe.number} of {syringe.of} ({syringe.product}): drawn "
            f"{amount(syringe.drawn, syringe.drawn_dose, syringe.draw_step)}; delivered "
            f"{amount(syringe.delivered, syringe.delivered_dose, syringe.delivered_step)}")
    if syringe.left is not None:
        text += f"; {_grams(syringe.left)} g left in the syringe"
    return text


def _weight_summary(weight: WeightView) -> str:
    read = f"Read {weight.reading} g on balance {weight.balance_id}"
    if weight.net is None:
        return f"{read} (reference weighing)"
    verdict = ("within tolerance" if weight.problem is None else weight.problem)
    if weight.delivered:
        return (f"{read} (emptied syringe): delivered {weight.net} g = {weight.before} g filled "
                f"(step {weight.reference_step}) − {weight.reading} g, expected "
                f"{_grams(weight.expected_net)} g ({weight.deviation_percent:+} % of "
                f"±{weight.tolerance_percent} %): {verdict}")
    return (f"{read}: net {weight.net} g, expected {_grams(weight.expected_net)} g "
            f"({weight.deviation_percent:+} % of ±{weight.tolerance_percent} %): {verdict}")


def _grams(value: Decimal | None) -> str:
    return str(value.quantize(Decimal("0.001"), ROUND_HALF_UP)) if value is not None else "?"
