"""The opened vials' storage: first punctures, draws and discards. Storage only.

Every vial kept after its first puncture gets its own id from the record, ``OV-`` and the
next number (``OV-1``, ``OV-2`` ...), given inside the transaction that records the puncture
under the vials' lock (``BEGIN IMMEDIATE`` on SQLite, an advisory transaction lock on
PostgreSQL), so two hoods sharing one database never give the same id. The id is printed on
the vial's label (:func:`station.core.opened_vials.vial_code`), which finds the vial again even
when its maker's barcode has no serial; a vial whose barcode has a serial is also found by
NDC, lot and serial (:meth:`OpenedVials.find`). Whether an opened vial may still be used, and
the :class:`~station.core.opened_vials.OpenedVial` itself, are in
:mod:`station.core.opened_vials`; the beyond-use arithmetic of USP <797> is
:meth:`station.core.bud.BudTable.opened_container_until`.

Its history is a list of events in the append-only ``opened_vial_events`` table: *opened*
(who, when, at which station, in ISO Class 5 air or not, the lot, expiry and container, the
beyond-use time computed then and the volume in the vial), *drawn* (a volume taken out) and
*discarded*. Nothing is ever updated or deleted. The beyond-use time is stored when the vial
is opened, so a later change of the BUD table or the formulary never changes what the label
on the vial says.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    text,
)

from station.core.bud import BeyondUse, BudError, BudTable
from station.core.formulary import Container, Product
from station.core.identifiers import Gtin, Lot, Ndc, Serial
from station.core.opened_vials import (
    VIAL_ID_PREFIX,
    OpenedVial,
    OpenedVialError,
    aware,
    check,
    is_vial_id,
    site_minute,
)

Clock = Callable[[], dt.datetime]

OPENED, DRAWN, DISCARDED = "opened", "drawn", "discarded"
_VIALS_LOCK = 0x5649_414C

_metadata = MetaData()
opened_vial_events = Table(
    "opened_vial_events",
    _metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("vial_key", String(80), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("payload", Text, nullable=False),
    Column("recorded_at", String(40), nullable=False),
)

Events = list[tuple[str, dict[str, Any]]]


class OpenedVials:
    """The opened vials of one record database (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine, clock: Clock, bud_table: BudTable) -> None:
        self.engine = engine
        self._clock = clock
        self.bud_table = bud_table

    def open(
        self, product: Product, lot: str | Lot, serial: str | Serial | None,
        punctured_at: dt.datetime, remaining_ml: Decimal | int | str, *,
        manufacturer_limit: timedelta | None = None, expiry: dt.date | None = None,
        by: str = "", station_id: str = "", iso5: bool = True, reconstituted: bool = False,
        gtin: Gtin | None = None, drawn_ml: Decimal | int | str | None = None,
        drawn_at: dt.datetime | None = None, preparation_id: str = "",
        draw_step: int | None = None,
    ) -> OpenedVial:
        """Record the first puncture of a vial and give it its id; the vial, with its BUD.

        The beyond-use time follows the formulary product's container kind and in-use time
        (``manufacturer_limit`` replaces the latter when given) and, for a reconstituted
        powder, its reconstituted solution's in-use time; ``iso5`` says whether the vial was
        entered in ISO Class 5 air, and ``expiry`` (its labeled expiry date) caps the result.
        ``remaining_ml`` is what the vial held when punctured; ``drawn_ml`` is the first draw,
        recorded with it at ``drawn_at``, by the draw step ``draw_step`` of the preparation
        ``preparation_id`` (a draw keeps at most one vial). A vial whose maker's barcode
        carries a serial cannot be opened twice. Raises :class:`OpenedVialError` when the vial
        may not be kept at all (a pharmacy bulk package entered outside ISO Class 5 air).
        """
        lot_text = str(Lot(str(lot).strip()))
        serial_text = str(Serial(str(serial).strip())) if serial and str(serial).strip() else ""
        volume = _volume(remaining_ml, "the volume in the vial")
        aware(punctured_at, "punctured_at")
        beyond = self._beyond_use(product, punctured_at, manufacturer_limit=manufacturer_limit,
                                  iso5=iso5, reconstituted=reconstituted, expiry=expiry)
        gtin = gtin or product.ndc.gtin()
        payload = {
            "ndc": str(product.ndc), "product_name": product.name, "lot": lot_text,
            "serial": serial_text, "multi_dose": product.multi_dose,
            "container": product.container.value, "gtin": str(gtin) if gtin else "",
            "reconstituted": reconstituted,
            "expiry": expiry.isoformat() if expiry is not None else None,
            "punctured_at": punctured_at.isoformat(), "beyond_use": beyond.until.isoformat(),
            "rule": beyond.rule, "volume_ml": str(volume), "by": by,
            "station_id": station_id, "iso5": iso5,
            "preparation_id": preparation_id, "draw_step": draw_step,
        }
        draw: dict[str, Any] | None = None
        if drawn_ml is not None:
            drawn = _volume(drawn_ml, "the volume drawn")
            if drawn > volume:
                raise OpenedVialError(f"cannot draw {drawn} mL from a vial holding {volume} mL")
            moment = aware(drawn_at, "drawn_at") if drawn_at is not None else punctured_at
            draw = {"volume_ml": str(drawn), "at": moment.isoformat(), "by": by}
        with self.engine.begin() as connection:
            self._lock(connection)
            if preparation_id and draw_step is not None:
                kept = self._kept_from(connection, preparation_id, draw_step)
                if kept is not None:
                    raise OpenedVialError(f"the vial of step {draw_step} of {preparation_id} "
                                          f"is already kept as {kept}")
            if serial_text:
                existing = _find(self._all(connection).values(), product.ndc, lot_text,
                                 serial_text)
                if existing is not None:
                    raise OpenedVialError(
                        f"vial {existing.label} was already opened at "
                        f"{site_minute(existing.punctured_at, existing.punctured_at)}")
            key = self._next_key(connection)
            self._insert(connection, key, OPENED, payload)
            if draw is not None and Decimal(draw["volume_ml"]) > 0:
                self._insert(connection, key, DRAWN, draw)
        events: Events = [(OPENED, payload)]
        if draw is not None and Decimal(draw["volume_ml"]) > 0:
            events.append((DRAWN, draw))
        vial = _fold(key, events)
        assert vial is not None
        return vial

    def draw(self, key: str, volume_ml: Decimal | int | str, *,
             at: dt.datetime | None = None, by: str = "",
             checked_at: dt.datetime | None = None) -> OpenedVial:
        """Take ``volume_ml`` out of an opened vial; refused if expired, discarded or too little.

        ``checked_at`` is the moment the vial was accepted for this draw (its scan), when that
        is not ``at``: the vial must have been usable then.
        """
        volume = _volume(volume_ml, "the volume drawn")
        if volume <= 0:
            raise OpenedVialError(f"the volume drawn must be greater than zero, got {volume} mL")
        moment = aware(at, "at") if at is not None else self._clock()
        with self.engine.begin() as connection:
            self._lock(connection)
            vial = _fold(key, self._events(connection, key))
            if vial is None:
                raise OpenedVialError(f"no opened vial {key!r}: open it first")
            refusal = check(vial, aware(checked_at, "checked_at") if checked_at else moment)
            if refusal is not None:
                raise OpenedVialError(refusal)
            if volume > vial.remaining_ml:
                raise OpenedVialError(
                    f"vial {vial.label} has {vial.remaining_ml} mL left; cannot draw {volume} mL")
            payload = {"volume_ml": str(volume), "at": moment.isoformat(), "by": by}
            self._insert(connection, key, DRAWN, payload)
        return replace(vial, remaining_ml=vial.remaining_ml - volume)

    def discard(self, key: str, reason: str, *, at: dt.datetime | None = None,
                by: str = "") -> OpenedVial:
        """Record that the vial was thrown away, and why."""
        if not reason.strip():
            raise OpenedVialError(f"discarding vial {key} needs a reason")
        moment = aware(at, "at") if at is not None else self._clock()
        with self.engine.begin() as connection:
            self._lock(connection)
            vial = _fold(key, self._events(connection, key))
            if vial is None:
                raise OpenedVialError(f"no opened vial {key!r}")
            if vial.discarded_at is not None:
                raise OpenedVialError(f"vial {vial.label} was already discarded")
            payload = {"reason": reason.strip(), "at": moment.isoformat(), "by": by}
            self._insert(connection, key, DISCARDED, payload)
        return replace(vial, discarded_at=moment, discard_reason=reason.strip())

    def find(self, ndc: Ndc, lot: str | Lot, serial: str | Serial) -> OpenedVial | None:
        """The vial with this NDC (any shape), lot and serial, if it was opened."""
        lot_text, serial_text = str(lot).strip(), str(serial).strip()
        if not serial_text:
            return None
        with self.engine.connect() as connection:
            return _find(self._all(connection).values(), ndc, lot_text, serial_text)

    def kept_from(self, preparation_id: str, draw_step: int) -> OpenedVial | None:
        """The vial kept after draw step ``draw_step`` of ``preparation_id``, if one was."""
        with self.engine.connect() as connection:
            key = self._kept_from(connection, preparation_id, draw_step)
            return None if key is None else _fold(key, self._events(connection, key))

    def get(self, key: str) -> OpenedVial | None:
        """The vial with this id, if it was opened."""
        with self.engine.connect() as connection:
            return _fold(key, self._events(connection, key))

    def in_use(self) -> list[OpenedVial]:
        """Opened vials not yet discarded (those past their beyond-use time included)."""
        with self.engine.connect() as connection:
            vials = self._all(connection).values()
        return [v for v in vials if v.discarded_at is None]

    # -------------------------------------------------------------- internals

    def _beyond_use(self, product: Product, punctured_at: dt.datetime, *,
                    manufacturer_limit: timedelta | None, iso5: bool, reconstituted: bool,
                    expiry: dt.date | None) -> BeyondUse:
        if manufacturer_limit is None and product.in_use_hours is not None:
            manufacturer_limit = timedelta(hours=product.in_use_hours)
        reconstituted_limit = None
        if reconstituted:
            spec = product.reconstitution
            if spec is None:
                raise OpenedVialError(f"{product.label} is not a powder that is reconstituted")
            if spec.in_use_hours is not None:
                reconstituted_limit = timedelta(hours=spec.in_use_hours)
        try:
            return self.bud_table.opened_container_until(
                punctured_at, container=product.container, iso5=iso5,
                manufacturer_limit=manufacturer_limit, reconstituted_limit=reconstituted_limit,
                expiry=expiry)
        except BudError as error:
            raise OpenedVialError(f"{product.label}: {error}") from None

    def _lock(self, connection: Connection) -> None:
        if self.engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _VIALS_LOCK})

    def _next_key(self, connection: Connection) -> str:
        """``OV-`` and one more than the highest number given so far (under the lock)."""
        keys = connection.execute(
            select(opened_vial_events.c.vial_key)
            .where(opened_vial_events.c.kind == OPENED)
            .where(opened_vial_events.c.vial_key.like(f"{VIAL_ID_PREFIX}%"))).scalars()
        numbers = [int(k[len(VIAL_ID_PREFIX):]) for k in keys if is_vial_id(k)]
        return f"{VIAL_ID_PREFIX}{max(numbers, default=0) + 1}"

    def _kept_from(self, connection: Connection, preparation_id: str,
                   draw_step: int) -> str | None:
        rows = connection.execute(select(opened_vial_events.c.vial_key,
                                         opened_vial_events.c.payload)
                                  .where(opened_vial_events.c.kind == OPENED)).all()
        for row in rows:
            payload = json.loads(row.payload)
            if (payload.get("preparation_id") == preparation_id
                    and payload.get("draw_step") == draw_step):
                return str(row.vial_key)
        return None

    def _events(self, connection: Connection, key: str) -> Events:
        rows = connection.execute(select(opened_vial_events)
                                  .where(opened_vial_events.c.vial_key == key)
                                  .order_by(opened_vial_events.c.id)).all()
        return [(row.kind, json.loads(row.payload)) for row in rows]

    def _all(self, connection: Connection) -> dict[str, OpenedVial]:
        rows = connection.execute(
            select(opened_vial_events).order_by(opened_vial_events.c.id)).all()
        grouped: dict[str, Events] = {}
        for row in rows:
            grouped.setdefault(row.vial_key, []).append((row.kind, json.loads(row.payload)))
        folded = {key: _fold(key, events) for key, events in grouped.items()}
        return {key: vial for key, vial in folded.items() if vial is not None}

    def _insert(self, connection: Connection, key: str, kind: str,
                payload: dict[str, Any]) -> None:
        now = aware(self._clock(), "the clock's time")
        connection.execute(insert(opened_vial_events).values(
            vial_key=key, kind=kind, recorded_at=now.astimezone(dt.UTC).isoformat(),
            payload=json.dumps(payload, sort_keys=True, ensure_ascii=False)))


def _find(vials: Iterable[OpenedVial], ndc: Ndc, lot: str, serial: str) -> OpenedVial | None:
    for vial in vials:
        if vial.ndc == ndc and vial.lot == lot and vial.serial == serial:
            return vial
    return None


def _fold(key: str, events: Sequence[tuple[str, dict[str, Any]]]) -> OpenedVial | None:
    vial: OpenedVial | None = None
    for kind, payload in events:
        if kind == OPENED:
            volume = Decimal(payload["volume_ml"])
            expiry = payload.get("expiry")
            container = payload.get("container")
            vial = OpenedVial(
                key=key, ndc=Ndc.parse(payload["ndc"]), product_name=payload["product_name"],
                lot=payload["lot"], serial=payload["serial"],
                multi_dose=bool(payload["multi_dose"]),
                punctured_at=dt.datetime.fromisoformat(payload["punctured_at"]),
                beyond_use=dt.datetime.fromisoformat(payload["beyond_use"]),
                rule=payload["rule"], opened_ml=volume, remaining_ml=volume,
                expiry=dt.date.fromisoformat(expiry) if expiry else None,
                punctured_by=payload.get("by", ""), station_id=payload.get("station_id", ""),
                iso5=bool(payload.get("iso5", True)),
                container=Container(container) if container else None,
                gtin=payload.get("gtin", ""), reconstituted=bool(payload.get("reconstituted")))
        elif vial is not None and kind == DRAWN:
            vial = replace(vial, remaining_ml=vial.remaining_ml - Decimal(payload["volume_ml"]))
        elif vial is not None and kind == DISCARDED:
            vial = replace(vial, discarded_at=dt.datetime.fromisoformat(payload["at"]),
                           discard_reason=payload["reason"])
    return vial


def _volume(value: Decimal | int | str, what: str) -> Decimal:
    if isinstance(value, float):
        raise OpenedVialError(f"{what} must be a Decimal, not a float")
    try:
        volume = Decimal(str(value).strip())
    except InvalidOperation:
        raise OpenedVialError(f"{what} {value!r} is not a number of mL") from None
    if not volume.is_finite() or volume < 0:
        raise OpenedVialError(f"{what} must be a non-negative number of mL, got {value}")
    return volume
