"""The formulary: the products this pharmacy stocks, and how a scan resolves to one.

Products are read from a plain mapping (a decoded TOML file); reading the file itself is
the caller's job. The file format is documented in ``fixtures/formulary.toml``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

from station.core.errors import AmbiguousNdc, InvalidFormat, StationError, UnknownProduct
from station.core.fields import choice, flag, only_known, required, table
from station.core.identifiers import Gtin, Ndc
from station.core.quantities import (
    Concentration,
    Quantity,
    SpecificGravity,
    Tolerance,
    parse_decimal,
)
from station.core.scan import ScanIdentity

# Standard uncertainty (g/mL) assumed for a specific gravity: measured or published, or estimated.
SOURCED_SG_UNCERTAINTY = Decimal("0.002")
ESTIMATED_SG_UNCERTAINTY = Decimal("0.005")


class ProductRole(Enum):
    """What a product is for in a preparation."""

    DRUG = "drug"
    BASE = "base"  # the bag or container the dose goes into
    DILUENT = "diluent"  # what reconstitutes a powder


class Storage(Enum):
    """How a product or preparation is kept."""

    ROOM = "room"
    REFRIGERATED = "refrigerated"
    FROZEN = "frozen"


class CompoundingCategory(Enum):
    """The USP <797> category a preparation is compounded under."""

    IMMEDIATE_USE = "immediate_use"
    CATEGORY_1 = "category_1"
    CATEGORY_2 = "category_2"
    CATEGORY_3 = "category_3"


class Sterilization(Enum):
    """How a preparation was made sterile, and from what."""

    ASEPTIC_STERILE_COMPONENTS = "aseptic_sterile_components"
    ASEPTIC_NONSTERILE_COMPONENTS = "aseptic_nonsterile_components"
    TERMINALLY_STERILIZED = "terminally_sterilized"


class Container(Enum):
    """What kind of container a package is, which decides how long it keeps once entered."""

    SINGLE_DOSE = "single_dose"
    MULTI_DOSE = "multi_dose"
    PHARMACY_BULK_PACKAGE = "pharmacy_bulk_package"
    AMPULE = "ampule"


@dataclass(frozen=True)
class CompoundedAs:
    """How a preparation made with a drug is compounded and kept: its USP <797> terms.

    A drug that names none is compounded as Category 1 at controlled room temperature, the
    shortest beyond-use date USP <797> gives outside immediate use; a pharmacy that works
    under Category 2 or 3 says so per product. Category 3 needs the records that allow it
    (sterility and endotoxin testing, a stability study) named in ``prerequisites``.
    """

    category: CompoundingCategory = CompoundingCategory.CATEGORY_1
    storage: Storage = Storage.ROOM
    sterilization: Sterilization = Sterilization.ASEPTIC_STERILE_COMPONENTS
    sterility_tested: bool = False
    prerequisites: str = ""


@dataclass(frozen=True)
class Reconstitution:
    """How a powder vial becomes a liquid: which diluents, how much, how long it keeps."""

    diluents: tuple[Ndc, ...]
    volume_ml: Decimal
    in_use_hours: int | None = None  # the labeled time the reconstituted solution keeps


@dataclass(frozen=True)
class Product:
    """One stocked package: a vial, a bag, a diluent."""

    ndc: Ndc
    gtin: Gtin | None
    name: str
    manufacturer: str
    strength: str
    dosage_form: str
    role: ProductRole
    concentration: Concentration | None
    specific_gravity: SpecificGravity
    container_volume_ml: Decimal
    reconstitution: Reconstitution | None
    hazardous: bool
    high_alert: bool
    in_process_check: bool
    multi_dose: bool
    storage: Storage
    tolerance: Tolerance | None
    compounded: CompoundedAs = field(default_factory=CompoundedAs)
    container: Container = Container.SINGLE_DOSE
    in_use_hours: int | None = None  # the labeled in-use time after first entry, if any

    @property
    def gtins(self) -> frozenset[Gtin]:
        """GTINs that name this product: the explicit one and the unit-level NDC carrier."""
        found = {g for g in (self.gtin, self.ndc.gtin()) if g is not None}
        return frozenset(found)

    @property
    def content(self) -> Quantity | None:
        """Total drug in one container (after reconstitution), when it has a concentration."""
        if self.concentration is None:
            return None
        return self.concentration.amount_in(self.container_volume_ml)

    @property
    def label(self) -> str:
        """Name, strength and NDC as a technician reads them."""
        return f"{self.name} {self.strength} (NDC {self.ndc})"


class FormularyError(StationError):
    """The formulary file has an entry that is not a valid product."""


class Formulary:
    """The set of products, indexed by NDC and GTIN."""

    def __init__(self, products: Iterable[Product]) -> None:
        self._products: tuple[Product, ...] = tuple(products)
        self._by_key: dict[str, Product] = {}
        self._by_gtin: dict[Gtin, Product] = {}
        for product in self._products:
            if product.ndc.key in self._by_key:
                first = self._by_key[product.ndc.key].ndc
                also = f" (also as {first})" if str(first) != str(product.ndc) else ""
                raise FormularyError(f"NDC {product.ndc} appears twice in the formulary{also}")
            self._by_key[product.ndc.key] = product
            # Only explicit GTINs are indexed: a GTIN derived from an NDC's 10 digits is
            # shared by every NDC with those digits, and resolve() treats that as ambiguous.
            if product.gtin is not None:
                if product.gtin in self._by_gtin:
                    raise FormularyError(
                        f"GTIN {product.gtin} names both {self._by_gtin[product.gtin].ndc} and "
                        f"{product.ndc}"
                    )
                self._by_gtin[product.gtin] = product
        for product in self._products:
            self._check_diluents(product)

    def _check_diluents(self, product: Product) -> None:
        if product.reconstitution is None:
            return
        for ndc in product.reconstitution.diluents:
            diluent = self.get(ndc)
            if diluent is None:
                raise FormularyError(f"{product.label}: diluent NDC {ndc} is not in the formulary")
            if diluent.role is not ProductRole.DILUENT:
                raise FormularyError(
                    f"{product.label}: {diluent.label} is a {diluent.role.value}, not a diluent"
                )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Formulary:
        """Build from a decoded TOML document with a ``[[product]]`` array."""
        entries = data.get("product")
        if not isinstance(entries, list) or not entries:
            raise FormularyError("the formulary has no [[product]] entries")
        products = []
        for number, entry in enumerate(entries, start=1):
            try:
                products.append(_product_from_mapping(entry))
            except (StationError, TypeError) as error:
                ndc = entry.get("ndc", "?") if isinstance(entry, Mapping) else "?"
                raise FormularyError(f"product {number} (NDC {ndc}): {error}") from None
        return cls(products)

    def __iter__(self) -> Iterator[Product]:
        return iter(self._products)

    def __len__(self) -> int:
        return len(self._products)

    def knows_gtin(self, gtin: Gtin) -> bool:
        """True when a product lists this GTIN explicitly (e.g. a code without an NDC)."""
        return gtin in self._by_gtin

    def get(self, ndc: Ndc) -> Product | None:
        """The product with this NDC (in any shape), if stocked."""
        return self._by_key.get(ndc.key)

    def by_ndc(self, ndc: Ndc) -> Product:
        """The product with this NDC, or :class:`UnknownProduct`."""
        product = self.get(ndc)
        if product is None:
            raise UnknownProduct(f"unknown product: NDC {ndc} is not in the formulary")
        return product

    def by_ndc_text(self, text: str) -> Product:
        """The product whose NDC is written ``text`` (any shape with hyphens)."""
        return self.by_ndc(Ndc.parse(text))

    def resolve(self, identity: ScanIdentity) -> Product:
        """The one product a scan names, or an error naming what was looked for.

        An exact GTIN match wins; otherwise the NDC candidates are looked up, and more than
        one match is ambiguous — never a guess.
        """
        if identity.gtin is not None and identity.gtin in self._by_gtin:
            return self._by_gtin[identity.gtin]
        candidates = identity.ndc_candidates
        matches = [p for p in (self.get(c) for c in candidates) if p is not None]
        if len(matches) == 1:
            return matches[0]
        shown = ", ".join(str(c) for c in candidates)
        if not matches:
            if not candidates:
                raise UnknownProduct(
                    f"unknown product: GTIN {identity.gtin} carries no NDC and is not in "
                    "the formulary"
                )
            raise UnknownProduct(f"unknown product: no formulary product has NDC {shown}")
        found = ", ".join(f"{p.ndc} {p.name}" for p in matches)
        raise AmbiguousNdc(f"ambiguous NDC: {identity.ndc10} could be {found}")


_PRODUCT_FIELDS = frozenset(
    {
        "ndc",
        "gtin",
        "name",
        "manufacturer",
        "strength",
        "dosage_form",
        "role",
        "concentration",
        "specific_gravity",
        "specific_gravity_source",
        "specific_gravity_uncertainty",
        "container_volume_ml",
        "reconstitute",
        "hazardous",
        "high_alert",
        "in_process_check",
        "multi_dose",
        "storage",
        "tolerance",
        "container",
        "in_use_hours",
        "compounded",
    }
)
_COMPOUNDED_FIELDS = ("category", "storage", "sterilization", "sterility_tested",
                      "prerequisites")


def _compounded(entry: Mapping[str, Any]) -> CompoundedAs:
    if "compounded" not in entry:
        return CompoundedAs()
    spec = table(entry["compounded"], "compounded")
    only_known(spec, _COMPOUNDED_FIELDS, "compounded")
    compounded = CompoundedAs(
        category=choice(CompoundingCategory, spec.get("category", "category_1"),
                        "compounded.category"),
        storage=choice(Storage, spec.get("storage", "room"), "compounded.storage"),
        sterilization=choice(Sterilization,
                             spec.get("sterilization", "aseptic_sterile_components"),
                             "compounded.sterilization"),
        sterility_tested=flag(spec, "sterility_tested"),
        prerequisites=str(spec.get("prerequisites", "")).strip(),
    )
    if compounded.category is CompoundingCategory.CATEGORY_3 and not compounded.prerequisites:
        raise InvalidFormat("compounded.category category_3 needs compounded.prerequisites: "
                            "the sterility, endotoxin and stability records that allow it")
    return compounded


def _container(entry: Mapping[str, Any]) -> Container:
    multi = flag(entry, "multi_dose")
    if "container" not in entry:
        return Container.MULTI_DOSE if multi else Container.SINGLE_DOSE
    container = choice(Container, entry["container"], "container")
    if multi and container is not Container.MULTI_DOSE:
        raise InvalidFormat(f"multi_dose = true contradicts container {container.value!r}")
    return container


def _hours(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidFormat(f"{name} must be a whole number of hours, not {value!r}")
    return value


def _product_from_mapping(entry: Mapping[str, Any]) -> Product:
    only_known(entry, _PRODUCT_FIELDS)
    ndc_text = str(required(entry, "ndc"))
    if "-" not in ndc_text:
        raise InvalidFormat(f"NDC {ndc_text!r} must be written with hyphens in its real shape")
    ndc = Ndc.parse(ndc_text)
    role = choice(ProductRole, entry.get("role", "drug"), "role")
    concentration = (
        Concentration.parse(entry["concentration"]) if "concentration" in entry else None
    )
    if role is ProductRole.DRUG and concentration is None:
        raise InvalidFormat("a drug needs a concentration per mL (after reconstitution)")
    sg_source = entry.get("specific_gravity_source")
    default_uncertainty = (
        SOURCED_SG_UNCERTAINTY if sg_source is not None else ESTIMATED_SG_UNCERTAINTY
    )
    specific_gravity = SpecificGravity(
        parse_decimal(required(entry, "specific_gravity"), "specific gravity"),
        parse_decimal(
            entry.get("specific_gravity_uncertainty", default_uncertainty),
            "specific gravity uncertainty",
        ),
        sg_source,
    )
    reconstitution = None
    if "reconstitute" in entry:
        spec = table(entry["reconstitute"], "reconstitute")
        only_known(spec, ("diluents", "volume_ml", "in_use_hours"), "reconstitute")
        diluents = tuple(Ndc.parse(str(d)) for d in required(spec, "diluents", "reconstitute"))
        if not diluents:
            raise InvalidFormat("reconstitute.diluents lists no diluent")
        reconstitution = Reconstitution(
            diluents, parse_decimal(required(spec, "volume_ml", "reconstitute"), "volume"),
            _hours(spec["in_use_hours"], "reconstitute.in_use_hours")
            if "in_use_hours" in spec else None,
        )
    volume = parse_decimal(required(entry, "container_volume_ml"), "container volume")
    if volume <= 0:
        raise InvalidFormat("container_volume_ml must be greater than zero")
    return Product(
        ndc=ndc,
        gtin=Gtin.parse(str(entry["gtin"])) if "gtin" in entry else None,
        name=str(required(entry, "name")),
        manufacturer=str(required(entry, "manufacturer")),
        strength=str(required(entry, "strength")),
        dosage_form=str(required(entry, "dosage_form")),
        role=role,
        concentration=concentration,
        specific_gravity=specific_gravity,
        container_volume_ml=volume,
        reconstitution=reconstitution,
        hazardous=flag(entry, "hazardous"),
        high_alert=flag(entry, "high_alert"),
        in_process_check=flag(entry, "in_process_check"),
        multi_dose=_container(entry) is Container.MULTI_DOSE,
        storage=choice(Storage, entry.get("storage", "room"), "storage"),
        tolerance=Tolerance.parse(entry["tolerance"]) if "tolerance" in entry else None,
        compounded=_compounded(entry),
        container=_container(entry),
        in_use_hours=_hours(entry["in_use_hours"], "in_use_hours")
        if "in_use_hours" in entry else None,
    )
