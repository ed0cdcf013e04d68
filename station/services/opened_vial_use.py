"""The opened-vial desk: keeping a vial after a draw, finding it again, drawing it down.

After an accepted draw, the vial it came from may be kept when volume is left in it: the
desk records its first puncture (who, when — the vial's scan —, at which station, in ISO
Class 5 air or not, lot, expiry, container, the beyond-use time USP <797> gives it from the
formulary's container kind and in-use times) with that first draw, and prints its label: the
puncture time, the beyond-use time and its rule, the volume left, the lot, and a DataMatrix of
the vial's code. Scanning that code at a later scan step finds the vial
(:meth:`VialDesk.identify`), with the lot and expiry recorded at its puncture and whether it may
still be used; each draw from it is then taken off its volume (:meth:`VialDesk.record_draw`).

Volumes are by weight: a draw's volume is the accepted net mass of its draw step divided by
the product's specific gravity (for a reconstituted powder that is its solution's, as the
formulary gives it), and a reconstituted vial holds the solution mass actually weighed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from station.core.bud import BeyondUse
from station.core.formulary import Container, Formulary, Product
from station.core.identifiers import Expiry, Gtin, Lot, Serial
from station.core.label import vial_label_for
from station.core.opened_vials import (
    OpenedVial,
    OpenedVialError,
    VialInUse,
    check,
    key_from_vial_code,
)
from station.core.recipe import MassCheck, Step, StepKind
from station.core.scan import GS, ScanIdentity, parse_scan
from station.core.workflow import Preparation, ProductScanned
from station.records.opened_vials import OpenedVials
from station.services.labelling import LabelPrinter

__all__ = ["KeptVial", "VialDesk", "VialScan"]

_ML = Decimal("0.01")


@dataclass(frozen=True)
class VialScan:
    """An opened vial found by the code on its label.

    ``identity`` is the package as its puncture recorded it (NDC or GTIN, lot, expiry,
    serial); its ``raw`` is that identity as a GS1 element string (or the NDC), which is what
    the preparation's record keeps of the scan, so the record reads back without the vial
    record. ``problem`` is why the vial must not be used now, or None.
    """

    identity: ScanIdentity
    product: Product
    in_use: VialInUse
    problem: str | None
    vial: OpenedVial


@dataclass(frozen=True)
class KeptVial:
    """A vial kept after a draw: as recorded, and the picture of its printed label."""

    vial: OpenedVial
    preview_png: bytes


class VialDesk:
    """Opened vials at one hood: ``station_id``, an ISO Class 5 hood or not (``iso5``)."""

    def __init__(self, vials: OpenedVials, formulary: Formulary, printer: LabelPrinter, *,
                 station_id: str, iso5: bool,
                 initials: Callable[[str], str] | None = None) -> None:
        self.vials = vials
        self.initials = initials or (lambda user_id: user_id)
        self.formulary = formulary
        self.printer = printer
        self.station_id = station_id
        self.iso5 = iso5

    def identify(self, text: str, *, at: dt.datetime) -> VialScan | None:
        """The opened vial whose label code is ``text``; None when ``text`` is not such a code.

        Raises :class:`OpenedVialError` for a code the record does not know, or a vial whose
        product the formulary no longer has.
        """
        key = key_from_vial_code(text)
        if key is None:
            return None
        vial = self.vials.get(key)
        if vial is None:
            raise OpenedVialError(f"no opened vial {key} on the record: take another vial")
        product = self.formulary.get(vial.ndc)
        if product is None:
            raise OpenedVialError(f"opened vial {vial.label}: its product is no longer in the "
                                  "formulary")
        return VialScan(_identity(vial, at.year), product, vial.in_use, check(vial, at), vial)

    def keep_problem(self, prep: Preparation, draw_step: int) -> str | None:  # noqa: PLR0911
        """Why the vial of ``draw_step`` cannot be kept, or None when it can."""
        step = prep.recipe.step(draw_step)
        if step.kind is not StepKind.WEIGH_NET or step.check is not MassCheck.DOSE:
            return f"step {draw_step} is not a draw from a vial"
        product = step.product
        assert product is not None
        attempt = prep.record(draw_step).accepted
        if attempt is None or attempt.result is None:
            return f"the draw of step {draw_step} has not been accepted"
        scan = _vial_scan(prep, step)
        if scan is None:
            return f"the vial of step {draw_step} was not scanned"
        if scan.opened_vial is not None:
            return f"this vial is already kept as {scan.opened_vial.key}"
        if product.container is Container.AMPULE:
            return f"{product.label} is an ampule: an opened ampule must not be kept"
        if product.container is Container.PHARMACY_BULK_PACKAGE and not self.iso5:
            return (f"{product.label} is a pharmacy bulk package: it may be entered only in "
                    "ISO Class 5 air, and this hood is not one")
        if _left(prep, step) <= 0:
            return f"nothing is left in the vial of step {draw_step}"
        kept = self.vials.kept_from(prep.preparation_id, draw_step)
        if kept is not None:
            return f"the vial of step {draw_step} is already kept as {kept.key}"
        return None

    def can_keep(self, prep: Preparation, draw_step: int) -> bool:
        """True when the vial of an accepted draw came from its maker's code and has some left."""
        return self.keep_problem(prep, draw_step) is None

    def keep(self, prep: Preparation, draw_step: int, *, user: str,
             at: dt.datetime) -> KeptVial:
        """Record the vial's first puncture and first draw, and print its label.

        The puncture is the vial's scan and the first draw the draw step's weighing; ``at``,
        when the technician keeps it, must be before the vial's beyond-use time. The vial is
        recorded before its label prints: when the printer fails, the vial is kept and
        :meth:`relabel` prints its label again.
        """
        problem = self.keep_problem(prep, draw_step)
        if problem is not None:
            raise OpenedVialError(f"cannot keep the vial: {problem}")
        step = prep.recipe.step(draw_step)
        product = step.product
        scan = _vial_scan(prep, step)
        assert product is not None and scan is not None
        identity = scan.scan
        if identity.lot is None or identity.expiry is None:
            raise OpenedVialError(f"the vial of step {draw_step} has no lot or expiry recorded")
        drawn_at = prep.record(draw_step).accepted
        assert drawn_at is not None
        if at < scan.at:
            raise OpenedVialError("a vial cannot be kept before it was scanned")
        vial = self.vials.open(
            product, identity.lot, identity.serial, scan.at, _opened_ml(prep, step),
            expiry=identity.expiry.date, by=user, station_id=self.station_id, iso5=self.iso5,
            reconstituted=step.reconstituted_by is not None, gtin=identity.gtin,
            drawn_ml=min(_drawn_ml(prep, step), _opened_ml(prep, step)),
            drawn_at=drawn_at.event.at, preparation_id=prep.preparation_id,
            draw_step=draw_step)
        refusal = check(vial, at)
        if refusal is not None:
            vial = self.vials.discard(vial.key, f"not kept: {refusal}", at=at, by=user)
            raise OpenedVialError(f"cannot keep the vial: {refusal}")
        return KeptVial(vial, self._print(vial, product, user))

    def relabel(self, key: str, *, user: str) -> bytes:
        """Print the label of an opened vial again, with the volume now left; its preview."""
        vial = self.vials.get(key)
        if vial is None:
            raise OpenedVialError(f"no opened vial {key} on the record")
        product = self.formulary.get(vial.ndc)
        if product is None:
            raise OpenedVialError(f"opened vial {vial.label}: its product is no longer in the "
                                  "formulary")
        return self._print(vial, product, user)

    def record_draw(self, prep: Preparation, draw_step: int, *, user: str,
                    at: dt.datetime) -> OpenedVial | None:
        """Take the draw of ``draw_step`` off its opened vial; None when it came from a new vial.

        The volume is the draw's net mass over the specific gravity; a vial that gives more
        than its record says it held (overfill) is taken down to nothing, not below.
        """
        step = prep.recipe.step(draw_step)
        scan = _vial_scan(prep, step)
        if scan is None or scan.opened_vial is None:
            return None
        key = scan.opened_vial.key
        vial = self.vials.get(key)
        if vial is None:
            raise OpenedVialError(f"no opened vial {key} on the record")
        volume = min(_drawn_ml(prep, step), vial.remaining_ml)
        if volume <= 0:
            return vial
        return self.vials.draw(key, volume, at=at, by=user, checked_at=scan.at)

    def discard(self, key: str, reason: str, *, user: str, at: dt.datetime) -> OpenedVial:
        """Record that the vial was thrown away; it is refused from then on."""
        return self.vials.discard(key, reason, at=at, by=user)

    def in_use(self) -> list[OpenedVial]:
        """The opened vials not yet discarded."""
        return self.vials.in_use()

    def _print(self, vial: OpenedVial, product: Product, user: str) -> bytes:
        content = vial_label_for(
            product, vial.lot, vial.punctured_at,
            min(vial.remaining_ml, product.container_volume_ml),
            BeyondUse(vial.beyond_use, vial.rule),
            initials=self.initials(vial.punctured_by or user), vial_id=vial.key, code=vial.code)
        return self.printer.print_vial_label(content)


def _vial_scan(prep: Preparation, draw: Step) -> ProductScanned | None:
    """The accepted scan of the vial a draw step draws from (the nearest scan of its product)."""
    for number in range(draw.number - 1, 0, -1):
        step = prep.recipe.step(number)
        if step.kind is StepKind.SCAN and step.product == draw.product:
            attempt = prep.record(number).accepted
            if attempt is not None and isinstance(attempt.event, ProductScanned):
                return attempt.event
            return None
    return None


def _drawn_ml(prep: Preparation, draw: Step) -> Decimal:
    assert draw.product is not None
    grams = prep.net_mass(draw.number).grams
    return (grams / draw.product.specific_gravity.value).quantize(_ML)


def _opened_ml(prep: Preparation, draw: Step) -> Decimal:
    """What the vial held when first drawn from: its volume, or the solution weighed in it."""
    product = draw.product
    assert product is not None
    if draw.reconstituted_by is None:
        return product.container_volume_ml
    diluent_step = prep.recipe.step(draw.reconstituted_by)
    assert diluent_step.expected_mass is not None
    sg = product.specific_gravity.value
    solution = (product.container_volume_ml * sg - diluent_step.expected_mass
                + prep.net_mass(diluent_step.number).grams)
    return min((solution / sg).quantize(_ML), product.container_volume_ml)


def _left(prep: Preparation, draw: Step) -> Decimal:
    return _opened_ml(prep, draw) - _drawn_ml(prep, draw)


def _identity(vial: OpenedVial, reference_year: int) -> ScanIdentity:
    """The package as its puncture recorded it, as a scan of a GS1 element string (or NDC).

    Every variable-length field ends with a GS, so no lot is ever read as hiding a serial.
    """
    if vial.gtin and vial.expiry is not None:
        serial = f"21{vial.serial}{GS}" if vial.serial else ""
        raw = f"]d201{Gtin.parse(vial.gtin)}17{vial.expiry:%y%m%d}10{vial.lot}{GS}{serial}"
        identity = parse_scan(raw, reference_year)
    else:
        identity = parse_scan(str(vial.ndc), reference_year)
    return replace(identity, lot=Lot(vial.lot),
                   expiry=Expiry(vial.expiry) if vial.expiry is not None else None,
                   serial=Serial(vial.serial) if vial.serial else None)
