"""The replay: a preparation's stored events folded one at a time through the workflow.

:class:`Replay` applies each stored event to the preparation and keeps what it was about (which
step, which attempt, which signature) as a :class:`Moment` with the phase after it, every hard
stop met and what ended it (:class:`ReplayedStop`), the retries, overrides and in-process checks
per step, and the decisions recorded without an electronic signature.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from station.core.accounts import Meaning
from station.core.formulary import Formulary
from station.core.workflow import (
    ActionConfirmed,
    Event,
    HardStop,
    InProcessChecked,
    LabelPrinted,
    LabelScanned,
    Overridden,
    Phase,
    PhotoTaken,
    Preparation,
    ProductScanned,
    Retried,
    WeightRead,
    apply,
)
from station.records.store import StoredEvent
from station.services.preparations import DERIVED_KINDS, from_payload
from station.services.review.model import SignatureView

__all__ = ["Moment", "Replay", "ReplayedStop"]


@dataclass
class ReplayedStop:
    """A hard stop met during the replay, and what ended it."""

    stop: HardStop
    attempt: int | None  # index of the attempt that caused it, None for a photo
    ended: str = "not cleared yet"
    override: SignatureView | None = None


@dataclass
class Moment:
    """One stored event with what the replay learnt about it."""

    stored: StoredEvent
    phase: Phase
    step: int | None = None
    attempt: int | None = None
    signature: SignatureView | None = None
    event: Event | None = None  # the workflow event it holds (None for a derived one)


@dataclass
class Replay:
    """The replay's running state: the preparation and what each event was about."""

    preparation: Preparation
    formulary: Formulary
    moments: list[Moment] = field(default_factory=list)
    stops: list[ReplayedStop] = field(default_factory=list)
    open_stop: ReplayedStop | None = None
    retries: dict[int, int] = field(default_factory=dict)
    overrides: dict[int, SignatureView] = field(default_factory=dict)
    checks: dict[int, SignatureView] = field(default_factory=dict)
    unsigned: list[tuple[int | None, str]] = field(default_factory=list)
    held_utc: dt.datetime | None = None
    cancellation: tuple[str, str] | None = None

    def add(self, stored: StoredEvent) -> None:
        """Apply the next stored event; a derived one (hard stop, phase change) is only noted."""
        if stored.kind in DERIVED_KINDS:
            step = stored.payload.get("step") if stored.kind == "hard_stop" else None
            if (stored.kind == "state_changed" and self.held_utc is None
                    and stored.payload.get("to") == Phase.AWAITING_VERIFICATION.value):
                self.held_utc = stored.utc
            self.moments.append(Moment(stored, self.preparation.phase,
                                        step if isinstance(step, int) else None))
            return
        event = from_payload(stored.kind, stored.user_id, stored.payload, self.formulary)
        before = self.preparation
        moment = Moment(stored, before.phase, *_place(before, event), event=event)
        moment.signature = self._signature(stored, moment.step)
        self.preparation = after = apply(before, event)
        moment.phase = after.phase
        self.moments.append(moment)
        self._settle(event, moment)
        if after.stop is not None and after.stop != before.stop:
            self.open_stop = ReplayedStop(after.stop, moment.attempt)
            self.stops.append(self.open_stop)

    def _signature(self, stored: StoredEvent, step: int | None) -> SignatureView | None:
        payload = stored.payload
        meaning = _MEANINGS.get(stored.kind)
        if meaning is None:
            return None
        reason = str(payload.get("reason") or "")
        signed = payload.get("signature")
        if isinstance(signed, Mapping):
            return SignatureView(str(signed.get("user_id", stored.user_id)),
                                 str(signed.get("printed_name", "")),
                                 str(signed.get("meaning", meaning.value)),
                                 _utc(signed.get("utc"), stored.utc), reason)
        self.unsigned.append((step, stored.kind))
        return SignatureView(stored.user_id, "(no signature recorded)", meaning.value,
                             stored.utc, reason)

    def _settle(self, event: Event, moment: Moment) -> None:
        step = moment.step
        if isinstance(event, Retried) and step is not None:
            self.retries[step] = self.retries.get(step, 0) + 1
        if isinstance(event, Overridden) and step is not None and moment.signature:
            self.overrides[step] = moment.signature
        if isinstance(event, InProcessChecked) and step is not None and moment.signature:
            self.checks[step] = moment.signature
        if moment.stored.kind == "cancelled":
            self.cancellation = (event.user, str(moment.stored.payload.get("reason", "")))
        if self.open_stop is None:
            return
        stop, self.open_stop = self.open_stop, None
        if isinstance(event, Retried):
            stop.ended = f"retried by {event.user}"
        elif isinstance(event, Overridden) and moment.signature is not None:
            stop.override = moment.signature
            stop.ended = (f"overridden by {moment.signature.printed_name} "
                          f"({moment.signature.user_id})")
        else:
            stop.ended = f"the preparation was {moment.stored.kind} by {event.user}"


_MEANINGS: dict[str, Meaning] = {
    "overridden": Meaning.OVERRIDE_APPROVED,
    "in_process_checked": Meaning.IN_PROCESS_CHECKED,
    "verified": Meaning.VERIFIED,
    "rejected": Meaning.REJECTED,
}
_STEP_EVENTS = (ProductScanned, WeightRead, ActionConfirmed, LabelScanned)


def _place(before: Preparation, event: Event) -> tuple[int | None, int | None]:
    """(step, index of the attempt it adds) an event applied to ``before`` is about."""
    if isinstance(event, _STEP_EVENTS):
        return before.current, len(before.record(before.current).attempts)
    if isinstance(event, PhotoTaken | InProcessChecked | LabelPrinted):
        return before.current, None
    if isinstance(event, Retried | Overridden) and before.stop is not None:
        return before.stop.step, None
    return None, None


def _utc(value: object, fallback: dt.datetime) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return fallback
