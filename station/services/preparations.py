"""Preparations on the record: the workflow's events appended, and replayed from the record.

:class:`PreparationService` is the thin shell around the pure workflow. ``create`` records
the order and the formulary version it is made under (for a remake, also the rejected
preparation it replaces); ``record`` replays the preparation, applies one workflow event
(an illegal one raises and nothing is written), and appends the event together with what it
caused (a hard stop, a change of state) in one transaction, with optimistic concurrency on
the preparation's version. ``load`` is a pure fold over the recorded events, rebuilding the
recipe from the stored order and formulary version.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from station.core.accounts import Meaning, Signature
from station.core.components import LotSource
from station.core.errors import StationError
from station.core.formulary import CompoundingCategory, Formulary, Storage
from station.core.gravimetry import BalanceSpec
from station.core.identifiers import Expiry, Lot
from station.core.opened_vials import VialInUse
from station.core.orders import DoseOrder, Worklist, order_to_mapping
from station.core.quantities import Mass, Tolerance
from station.core.recipe import build_recipe
from station.core.scan import parse_scan
from station.core.workflow import (
    ActionConfirmed,
    Cancelled,
    Event,
    InProcessChecked,
    LabelPrinted,
    LabelScanned,
    Overridden,
    Phase,
    PhotoTaken,
    Preparation,
    ProductScanned,
    Rejected,
    Retried,
    Started,
    Verified,
    WeightRead,
    apply,
)
from station.records.formulary_versions import FormularyVersion, FormularyVersions
from station.records.record import Record
from station.records.store import NewEvent, StoredEvent

CREATED = "created"
#: Facts the record keeps for auditors and search; replay recomputes them.
DERIVED_KINDS = frozenset({"hard_stop", "state_changed"})

_KINDS: dict[type[Event], str] = {
    Started: "started",
    ProductScanned: "product_scanned",
    WeightRead: "weight_read",
    PhotoTaken: "photo_taken",
    ActionConfirmed: "action_confirmed",
    LabelPrinted: "label_printed",
    LabelScanned: "label_scanned",
    Retried: "retried",
    Overridden: "overridden",
    InProcessChecked: "in_process_checked",
    Verified: "verified",
    Rejected: "rejected",
    Cancelled: "cancelled",
}
_TYPES = {kind: event_type for event_type, kind in _KINDS.items()}


class RecordError(StationError):
    """The record of a preparation cannot be read back."""


class SignatureRequired(StationError):
    """A decision that must be signed came without the right signature; nothing written."""


#: Decisions that are electronic signatures (21 CFR Part 11), and the meaning each carries.
SIGNED: dict[type[Event], Meaning] = {
    Verified: Meaning.VERIFIED,
    Rejected: Meaning.REJECTED,
    Overridden: Meaning.OVERRIDE_APPROVED,
    InProcessChecked: Meaning.IN_PROCESS_CHECKED,
}


def check_signature(event: Event, signature: Mapping[str, Any] | None) -> None:
    """Refuse a decision whose signature is missing, someone else's, or of another meaning."""
    meaning = SIGNED.get(type(event))
    if meaning is None:
        return
    if signature is None:
        raise SignatureRequired(
            f"{meaning.value} needs {event.user}'s electronic signature (password again)")
    try:
        signed = Signature.from_payload(signature)
    except (KeyError, ValueError) as error:
        raise SignatureRequired(f"the signature is incomplete: {error}") from None
    if signed.user_id != event.user:
        raise SignatureRequired(
            f"the signature is {signed.user_id}'s, but the {meaning.value} is {event.user}'s")
    if signed.meaning is not meaning:
        raise SignatureRequired(
            f"the signature means {signed.meaning.value}, not {meaning.value}")


def to_payload(event: Event) -> dict[str, Any]:
    """What the record keeps of a workflow event (its user and time go in the envelope)."""
    payload: dict[str, Any] = {"at": event.at.isoformat()}
    if isinstance(event, ProductScanned):
        scan = event.scan
        payload.update(
            scan=scan.raw,
            product=str(event.product.ndc) if event.product is not None else None,
            lookup_problem=event.lookup_problem,
            recall_notice=event.recall_notice,
            opened_vial_problem=event.opened_vial_problem,
            gtin=str(scan.gtin) if scan.gtin else None,
            lot=str(scan.lot) if scan.lot else None,
            expiry=str(scan.expiry) if scan.expiry else None,
            serial=str(scan.serial) if scan.serial else None,
        )
        if event.lot_source is not None:
            payload["lot_source"] = event.lot_source.value
        vial = event.opened_vial
        if vial is not None:
            payload["opened_vial"] = {
                "key": vial.key, "punctured_at": vial.punctured_at.isoformat(),
                "beyond_use": vial.beyond_use.isoformat(), "rule": vial.rule}
    elif isinstance(event, LabelPrinted):
        payload.update(beyond_use=event.beyond_use.isoformat(), bud_rule=event.bud_rule,
                       category=event.category.value, storage=event.storage.value,
                       printer=event.printer, copy=event.copy, reason=event.reason)
    elif isinstance(event, WeightRead):
        payload.update(mass=str(event.mass.grams), balance_id=event.balance_id, raw=event.raw,
                       readability=str(event.balance.readability),
                       repeatability=str(event.balance.repeatability))
    elif isinstance(event, PhotoTaken):
        payload.update(photo=event.photo, problem=event.problem)
    elif isinstance(event, LabelScanned):
        payload.update(text=event.text)
    elif isinstance(event, InProcessChecked):
        payload.update(approved=event.approved, reason=event.reason)
    elif isinstance(event, Overridden | Rejected | Cancelled):
        payload.update(reason=event.reason)
    return payload


def _scanned(user: str, at: dt.datetime, payload: Mapping[str, Any],
             formulary: Formulary) -> Event:
    product = formulary.by_ndc_text(payload["product"]) if payload["product"] else None
    identity = parse_scan(payload["scan"], at.year)
    source = LotSource(payload["lot_source"]) if payload.get("lot_source") else None
    if source is not None and source is not LotSource.BARCODE:
        # Not carried by the barcode: the lot and expiry the technician confirmed or typed.
        identity = replace(identity, lot=Lot(payload["lot"]),
                           expiry=Expiry.parse_iso(payload["expiry"]))
    vial = payload.get("opened_vial")
    in_use = None
    if vial is not None:
        in_use = VialInUse(vial["key"], dt.datetime.fromisoformat(vial["punctured_at"]),
                           dt.datetime.fromisoformat(vial["beyond_use"]), vial["rule"])
    return ProductScanned(user, at, identity, product,
                          payload.get("lookup_problem"), payload.get("recall_notice"),
                          payload.get("opened_vial_problem"), source, in_use)


def _label_printed(user: str, at: dt.datetime, payload: Mapping[str, Any],
                   formulary: Formulary) -> Event:
    del formulary
    return LabelPrinted(user, at, dt.datetime.fromisoformat(payload["beyond_use"]),
                        payload["bud_rule"], CompoundingCategory(payload["category"]),
                        Storage(payload["storage"]), payload["printer"], int(payload["copy"]),
                        payload.get("reason", ""))


def _weighed(user: str, at: dt.datetime, payload: Mapping[str, Any],
             formulary: Formulary) -> Event:
    del formulary
    spec = BalanceSpec(Decimal(payload["readability"]), Decimal(payload["repeatability"]))
    return WeightRead(user, at, Mass(Decimal(payload["mass"])), payload["balance_id"], spec,
                      payload.get("raw", ""))


_Builder = Callable[[str, dt.datetime, Mapping[str, Any], Formulary], Event]
_BUILDERS: dict[type[Event], _Builder] = {
    ProductScanned: _scanned,
    WeightRead: _weighed,
    PhotoTaken: lambda u, a, p, f: PhotoTaken(u, a, p["photo"], p.get("problem")),
    LabelPrinted: _label_printed,
    LabelScanned: lambda u, a, p, f: LabelScanned(u, a, p["text"]),
    InProcessChecked: lambda u, a, p, f: InProcessChecked(u, a, p["approved"],
                                                          p.get("reason", "")),
    Overridden: lambda u, a, p, f: Overridden(u, a, p["reason"]),
    Rejected: lambda u, a, p, f: Rejected(u, a, p["reason"]),
    Cancelled: lambda u, a, p, f: Cancelled(u, a, p["reason"]),
}


def from_payload(kind: str, user: str, payload: Mapping[str, Any],
                 formulary: Formulary) -> Event:
    """The workflow event a record entry holds."""
    event_type = _TYPES.get(kind)
    if event_type is None:
        raise RecordError(f"unknown event kind {kind!r}")
    at = dt.datetime.fromisoformat(payload["at"])
    builder = _BUILDERS.get(event_type)
    if builder is None:  # events with nothing but who and when
        return event_type(user, at)
    return builder(user, at, payload, formulary)


class PreparationService:
    """Creates, advances and reads back preparations on one record.

    ``site_tolerance`` is the one a new preparation is made to (``[site] tolerance``). A
    service without one only reads: every preparation replays with the tolerance its own
    record names, and :meth:`create` is refused.
    """

    def __init__(
        self,
        record: Record,
        *,
        station_id: str,
        site_tolerance: Tolerance | None,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.record = record
        self.versions = FormularyVersions(record.engine)
        self.station_id = station_id
        self.site_tolerance = site_tolerance
        self.clock = clock

    def create(self, order: DoseOrder, version: FormularyVersion, user: str,
               preparation_id: str | None = None, *,
               remake_of: str | None = None) -> Preparation:
        """Record a new preparation of ``order`` under formulary ``version``.

        ``remake_of`` names the rejected preparation this one remakes; it is kept in the
        ``created`` payload so the record links the two.
        """
        if self.site_tolerance is None:
            raise StationError("this service only reads the record: it has no site tolerance "
                               "to make a preparation to")
        preparation_id = preparation_id or new_preparation_id()
        recipe = build_recipe(order, version.formulary(), self.site_tolerance)
        payload: dict[str, Any] = {
            "order": order_to_mapping(order),
            "formulary_version": version.version,
            "formulary_sha256": version.sha256,
            "site_tolerance": f"{self.site_tolerance.percent.normalize():f}%",
            "steps": len(recipe.steps),
        }
        if remake_of is not None:
            self._check_remake(order, remake_of)
            payload["remake_of"] = remake_of
        self.record.events.append(self._envelope(preparation_id, CREATED, payload, user), 0)
        return Preparation.new(preparation_id, recipe)

    def _check_remake(self, order: DoseOrder, remake_of: str) -> None:
        rejected = self.load(remake_of)
        if rejected.phase is not Phase.REJECTED:
            raise StationError(f"{remake_of} is {rejected.phase.value}: only a rejected "
                               "preparation is remade")
        if rejected.recipe.order.order_id != order.order_id:
            raise StationError(f"{remake_of} was made for order {rejected.recipe.order.order_id},"
                               f" not {order.order_id}")

    def record_event(self, preparation_id: str, event: Event,
                     signature: Mapping[str, Any] | None = None) -> Preparation:
        """Apply ``event`` and record it with its consequences; illegal events write nothing."""
        check_signature(event, signature)
        stored = self.record.events.events_of(preparation_id)
        before = self._fold(preparation_id, stored)
        after = apply(before, event)
        payload = to_payload(event)
        if signature is not None:
            payload["signature"] = dict(signature)
            payload["signed_head"] = self.record.events.head().hash
        batch = [self._envelope(preparation_id, _KINDS[type(event)], payload, event.user)]
        if after.stop is not None and after.stop != before.stop:
            batch.append(self._envelope(preparation_id, "hard_stop", {
                "reason": after.stop.reason.value, "message": after.stop.message,
                "step": after.stop.step}, event.user))
        if after.phase is not before.phase:
            batch.append(self._envelope(preparation_id, "state_changed", {
                "from": before.phase.value, "to": after.phase.value}, event.user))
        self.record.events.append_all(batch, expected_version=len(stored))
        return after

    def load(self, preparation_id: str) -> Preparation:
        """The preparation as its recorded events say (a pure fold)."""
        return self._fold(preparation_id, self.record.events.events_of(preparation_id))

    def starting_state(self, preparation_id: str,
                       stored: Sequence[StoredEvent]) -> tuple[Preparation, Formulary]:
        """The preparation as created (before its first event) and the formulary it uses.

        Raises :class:`RecordError` when the events do not begin with the creation, or when
        the formulary version they name no longer matches its recorded checksum.
        """
        if not stored or stored[0].kind != CREATED:
            raise RecordError(f"no preparation {preparation_id!r} in the record")
        created = stored[0].payload
        version, formulary = self.versions.formulary_of(int(created["formulary_version"]))
        if version.sha256 != created["formulary_sha256"]:
            raise RecordError(f"{preparation_id}: formulary version {version.version} changed")
        order = next(iter(Worklist.from_mapping({"order": [created["order"]]})))
        recipe = build_recipe(order, formulary, Tolerance.parse(created["site_tolerance"]))
        return Preparation.new(preparation_id, recipe), formulary

    def _fold(self, preparation_id: str, stored: list[StoredEvent]) -> Preparation:
        state, formulary = self.starting_state(preparation_id, stored)
        for entry in stored[1:]:
            if entry.kind in DERIVED_KINDS:
                continue
            state = apply(state, from_payload(entry.kind, entry.user_id, entry.payload,
                                              formulary))
        return state

    def _envelope(self, preparation_id: str, kind: str, payload: Mapping[str, Any],
                  user: str) -> NewEvent:
        return NewEvent(preparation_id, kind, payload, user, self.station_id, self.clock())


def new_preparation_id() -> str:
    """A preparation id: short, unique, safe in a barcode."""
    return "P-" + uuid.uuid4().hex[:12].upper()

