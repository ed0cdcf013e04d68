"""The opened vials' storage: first punctures, draws and discards. Storage only.

A vial is known by its NDC (any shape), lot and serial — what its GS1 DataMatrix carries —
so scanning it again finds it. Whether an opened vial may still be used, and the
:class:`~station.core.opened_vials.OpenedVial` itself, are in :mod:`station.core.opened_vials`;
the beyond-use arithmetic of USP <797> is
:meth:`station.core.bud.BudTable.opened_container_until`.

Its history is a list of events in the append-only ``opened_vial_events`` table: *opened*
(with the beyond-use time computed then, and the volume in the vial), *drawn* (a volume
taken out) and *discarded*. The beyond-use time is stored when the vial is opened, so a
later change of the BUD table never changes what the label on the vial says.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
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

from station.core.bud import BudTable
from station.core.formulary import Product
from station.core.identifiers import Lot, Ndc, Serial
from station.core.opened_vials import OpenedVial, OpenedVialError, aware, check, site_minute

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


def vial_key(ndc: Ndc, lot: str | Lot, serial: str | Serial) -> str:
    """The identity of one vial: the NDC's 12-digit key, lot and serial."""
    return f"{ndc.key}|{lot}|{serial}"


class OpenedVials:
    """The opened vials of one record database (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine, clock: Clock, bud_table: BudTable) -> None:
        self.engine = engine
        self._clock = clock
        self.bud_table = bud_table

    def open(self, product: Product, lot: str | Lot, serial: str | Serial,
             punctured_at: dt.datetime, remaining_ml: Decimal | int | str, *,
             manufacturer_limit: timedelta | None = None, expiry: dt.date | None = None,
             by: str = "") -> OpenedVial:
        """Record the first puncture of a vial; the vial, with its beyond-use time.

        Single-dose or multiple-dose follows the formulary product (``multi_dose``);
        ``manufacturer_limit`` is the in-use time its labeling gives, if any, and ``expiry``
        its labeled expiry date, which caps the beyond-use time.
        """
        lot_text, serial_text = str(Lot(str(lot).strip())), str(Serial(str(serial).strip()))
        volume = _volume(remaining_ml, "the volume in the vial")
        aware(punctured_at, "punctured_at")
        beyond = self.bud_table.opened_container_until(
            punctured_at, multi_dose=product.multi_dose, manufacturer_limit=manufacturer_limit,
            expiry=expiry)
        key = vial_key(product.ndc, lot_text, serial_text)
        payload = {
            "ndc": str(product.ndc), "product_name": product.name, "lot": lot_text,
            "serial": serial_text, "multi_dose": product.multi_dose,
            "punctured_at": punctured_at.isoformat(), "beyond_use": beyond.until.isoformat(),
            "rule": beyond.rule, "volume_ml": str(volume), "by": by,
        }
        with self.engine.begin() as connection:
            self._lock(connection)
            existing = _fold(self._events(connection, key))
            if existing is not None:
                raise OpenedVialError(
                    f"vial {existing.label} was already opened at "
                    f"{site_minute(existing.punctured_at, existing.punctured_at)}")
            self._insert(connection, key, OPENED, payload)
        vial = _fold([(OPENED, payload)])
        assert vial is not None
        return vial

    def draw(self, key: str, volume_ml: Decimal | int | str, *,
             at: dt.datetime | None = None, by: str = "") -> OpenedVial:
        """Take ``volume_ml`` out of an opened vial; refused if expired, discarded or too little."""
        volume = _volume(volume_ml, "the volume drawn")
        if volume <= 0:
            raise OpenedVialError(f"the volume drawn must be greater than zero, got {volume} mL")
        moment = aware(at, "at") if at is not None else self._clock()
        with self.engine.begin() as connection:
            self._lock(connection)
            history = self._events(connection, key)
            vial = _fold(history)
            if vial is None:
                raise OpenedVialError(f"no opened vial {key!r}: open it first")
            refusal = check(vial, moment)
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
        """Record that the vial was thrown away."""
        moment = aware(at, "at") if at is not None else self._clock()
        with self.engine.begin() as connection:
            self._lock(connection)
            vial = _fold(self._events(connection, key))
            if vial is None:
                raise OpenedVialError(f"no opened vial {key!r}")
            if vial.discarded_at is not None:
                raise OpenedVialError(f"vial {vial.label} was already discarded")
            payload = {"reason": reason, "at": moment.isoformat(), "by": by}
            self._insert(connection, key, DISCARDED, payload)
        return replace(vial, discarded_at=moment, discard_reason=reason)

    def find(self, ndc: Ndc, lot: str | Lot, serial: str | Serial) -> OpenedVial | None:
        """The vial with this NDC (any shape), lot and serial, if it was opened."""
        return self.get(vial_key(ndc, str(lot).strip(), str(serial).strip()))

    def get(self, key: str) -> OpenedVial | None:
        """The vial with this key, if it was opened."""
        with self.engine.connect() as connection:
            return _fold(self._events(connection, key))

    def in_use(self) -> list[OpenedVial]:
        """Opened vials not yet discarded (those past their beyond-use time included)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(opened_vial_events).order_by(opened_vial_events.c.id)).all()
        grouped: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for row in rows:
            grouped.setdefault(row.vial_key, []).append((row.kind, json.loads(row.payload)))
        vials = (_fold(events) for events in grouped.values())
        return [v for v in vials if v is not None and v.discarded_at is None]

    # -------------------------------------------------------------- internals

    def _lock(self, connection: Connection) -> None:
        if self.engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _VIALS_LOCK})

    def _events(self, connection: Connection, key: str) -> list[tuple[str, dict[str, Any]]]:
        rows = connection.execute(select(opened_vial_events)
                                  .where(opened_vial_events.c.vial_key == key)
                                  .order_by(opened_vial_events.c.id)).all()
        return [(row.kind, json.loads(row.payload)) for row in rows]

    def _insert(self, connection: Connection, key: str, kind: str,
                payload: dict[str, Any]) -> None:
        now = aware(self._clock(), "the clock's time")
        connection.execute(insert(opened_vial_events).values(
            vial_key=key, kind=kind, recorded_at=now.astimezone(dt.UTC).isoformat(),
            payload=json.dumps(payload, sort_keys=True, ensure_ascii=False)))


def _fold(events: Sequence[tuple[str, dict[str, Any]]]) -> OpenedVial | None:
    vial: OpenedVial | None = None
    for kind, payload in events:
        if kind == OPENED:
            volume = Decimal(payload["volume_ml"])
            vial = OpenedVial(
                key=vial_key(Ndc.parse(payload["ndc"]), payload["lot"], payload["serial"]),
                ndc=Ndc.parse(payload["ndc"]), product_name=payload["product_name"],
                lot=payload["lot"], serial=payload["serial"],
                multi_dose=bool(payload["multi_dose"]),
                punctured_at=dt.datetime.fromisoformat(payload["punctured_at"]),
                beyond_use=dt.datetime.fromisoformat(payload["beyond_use"]),
                rule=payload["rule"], opened_ml=volume, remaining_ml=volume)
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
