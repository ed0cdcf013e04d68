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
6. every refused photo (note) and how it ended.

:func:`summary_of` says in one line what a stored event was, for the auditor's timeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from station.core.gravimetry import Verdict
from station.core.orders import DoseOrder
from station.core.workflow import StopReason
from station.services.preparations import CREATED
from station.services.review.model import ALERT, NOTE, Flag, ScanView, StepView, WeightView
from station.services.review.replay import Moment, Replay

__all__ = ["NEAR_TOLERANCE_SHARE", "flags_of", "near_tolerance", "summary_of"]

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
    verdict = "accepted" if scan.problem is None else scan.problem
    return f"Scanned {what}{f' — {details}' if details else ''}: {verdict}"


def _weight_summary(weight: WeightView) -> str:
    read = f"Read {weight.reading} g on balance {weight.balance_id}"
    if weight.net is None:
        return f"{read} (reference weighing)"
    verdict = ("within tolerance" if weight.problem is None else weight.problem)
    return (f"{read}: net {weight.net} g, expected {_grams(weight.expected_net)} g "
            f"({weight.deviation_percent:+} % of ±{weight.tolerance_percent} %): {verdict}")


def _grams(value: Decimal | None) -> str:
    return str(value.quantize(Decimal("0.001"), ROUND_HALF_UP)) if value is not None else "?"
