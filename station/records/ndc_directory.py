"""The FDA NDC Directory, imported: which real NDC a barcode's 10 digits are.

A barcode carries an NDC's 10 digits without hyphens, so its shape (4-4-2, 5-3-2 or 5-4-1)
is lost; only a product directory says which one is real. The formulary is that directory
for the products the pharmacy stocks. For the others, the FDA NDC Directory names the
package, so that a scan of an unstocked product reads "not in formulary: Vancomycin
Hydrochloride 1 g/1 0409-6533-01 (from the FDA NDC Directory)" instead of a list of three
candidates. The directory only *names* a package; it never makes it acceptable.

The FDA publishes the directory as tab-separated text files (``package.txt`` and
``product.txt``, in ``ndctext.zip``). The package file has the columns ``PRODUCTID``,
``PRODUCTNDC``, ``NDCPACKAGECODE`` (the package NDC with hyphens, e.g. ``0409-4888-02``),
``PACKAGEDESCRIPTION``, ``STARTMARKETINGDATE``, ``ENDMARKETINGDATE``,
``NDC_EXCLUDE_FLAG`` and ``SAMPLE_PACKAGE``; product names and labelers are in the product
file (``PRODUCTID``, ``PROPRIETARYNAME``, ``NONPROPRIETARYNAME``, ``LABELERNAME``,
``ACTIVE_NUMERATOR_STRENGTH``, ``ACTIVE_INGRED_UNIT`` …), joined by ``PRODUCTID``. Importing
the product file is optional: without it a package is named by its description.

Each import is a new batch in the append-only ``ndc_directory`` table; lookups use the
newest batch.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.sql.elements import ColumnElement

from station.core.errors import ParseError, StationError
from station.core.identifiers import Ndc
from station.core.scan import ScanIdentity

Clock = Callable[[], dt.datetime]

PACKAGE_COLUMNS = ("PRODUCTID", "PRODUCTNDC", "NDCPACKAGECODE", "PACKAGEDESCRIPTION")
PRODUCT_COLUMNS = ("PRODUCTID", "LABELERNAME")
SOURCE = "from the FDA NDC Directory"
_DIRECTORY_LOCK = 0x4E44_4344
_CHUNK = 5_000

_metadata = MetaData()
ndc_directory = Table(
    "ndc_directory",
    _metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("import_batch", Integer, nullable=False),
    Column("ndc_key", String(12), nullable=False),
    Column("ndc", String(16), nullable=False),
    Column("ndc10", String(10), nullable=True),
    Column("product_id", String(128), nullable=False),
    Column("product_name", Text, nullable=False),
    Column("labeler", Text, nullable=False),
    Column("package_description", Text, nullable=False),
    Column("source_name", String(255), nullable=False),
    Column("imported_by", String(64), nullable=False),
    Column("imported_at", String(40), nullable=False),
)


class DirectoryError(StationError):
    """A directory file that cannot be imported, or a lookup that cannot be made."""


@dataclass(frozen=True)
class DirectoryEntry:
    """One package of the FDA NDC Directory."""

    ndc: Ndc
    product_id: str
    product_name: str
    labeler: str
    package_description: str

    @property
    def name(self) -> str:
        """The product's name, or the package description when no product file was imported."""
        return self.product_name or self.package_description

    def as_json(self) -> dict[str, str | None]:
        """The entry as plain JSON values."""
        return {"ndc": str(self.ndc), "ndc_11": self.ndc.hipaa, "ndc10": self.ndc.ndc10,
                "product_name": self.product_name, "labeler": self.labeler,
                "package_description": self.package_description,
                "product_id": self.product_id}


@dataclass(frozen=True)
class DirectoryImport:
    """What an import did."""

    batch: int
    packages: int
    named: int

    def summary(self) -> str:
        """One line for the command line."""
        return (f"imported {self.packages} package(s) of the FDA NDC Directory as batch "
                f"{self.batch} ({self.named} with a product name)")


# ------------------------------------------------------------------------------ reading files


def read_text(path_or_text: str | Path) -> tuple[str, str]:
    """The text of a file and its name; a string with a tab or newline is taken as the text.

    The FDA files are UTF-8; older ones are Windows-1252, read as such when not UTF-8.
    """
    if isinstance(path_or_text, str) and ("\t" in path_or_text or "\n" in path_or_text):
        return path_or_text, "package file"
    path = Path(path_or_text)
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig"), path.name
    except UnicodeDecodeError:
        return data.decode("cp1252"), path.name


def _rows(source: str, required: Iterable[str], name: str,
          ) -> list[tuple[int, dict[str, str]]]:
    lines = source.lstrip("\ufeff").splitlines()
    if not lines or not lines[0].strip():
        raise DirectoryError(f"{name} is empty: expected a tab-separated header line")
    reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = [cell.strip().upper() for cell in next(reader)]
    missing = [column for column in required if column not in header]
    if missing:
        raise DirectoryError(
            f"{name} line 1: missing column(s) {', '.join(missing)}; is this the FDA NDC "
            "Directory's tab-separated text file?")
    rows = []
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) < len(header):
            raise DirectoryError(
                f"{name} line {number}: expected {len(header)} tab-separated fields, "
                f"got {len(cells)}")
        rows.append((number, {key: cells[i].strip() for i, key in enumerate(header)}))
    return rows


def parse_products(source: str, name: str = "product file") -> dict[str, tuple[str, str]]:
    """PRODUCTID → (product name with strength, labeler) from the FDA product file."""
    products = {}
    for _, row in _rows(source, PRODUCT_COLUMNS, name):
        generic = row.get("NONPROPRIETARYNAME", "")
        brand = " ".join(p for p in (row.get("PROPRIETARYNAME", ""),
                                     row.get("PROPRIETARYNAMESUFFIX", "")) if p)
        title = (generic or brand).title() if (generic or brand).isupper() else generic or brand
        strength = " ".join(p for p in (row.get("ACTIVE_NUMERATOR_STRENGTH", ""),
                                        row.get("ACTIVE_INGRED_UNIT", "")) if p)
        # Several ingredients are listed separated by "; " in both strength columns.
        label = f"{title} {strength}" if strength and ";" not in strength else title
        products[row["PRODUCTID"]] = (label.strip(), row["LABELERNAME"])
    return products


def parse_packages(source: str, products: Mapping[str, tuple[str, str]] | None = None,
                   name: str = "package file") -> list[DirectoryEntry]:
    """The packages of an FDA package file; errors name the file and the line."""
    entries = []
    for number, row in _rows(source, PACKAGE_COLUMNS, name):
        code = row["NDCPACKAGECODE"]
        if "-" not in code:
            raise DirectoryError(
                f"{name} line {number}: NDCPACKAGECODE {code!r} must have hyphens "
                "(e.g. 0409-4888-02)")
        try:
            ndc = Ndc.parse(code)
        except ParseError as error:
            raise DirectoryError(f"{name} line {number}: {error}") from None
        product_name, labeler = (products or {}).get(row["PRODUCTID"], ("", ""))
        entries.append(DirectoryEntry(ndc, row["PRODUCTID"], product_name, labeler,
                                      row["PACKAGEDESCRIPTION"]))
    if not entries:
        raise DirectoryError(f"{name} has a header and no packages")
    return entries


# ------------------------------------------------------------------------------ the directory


class NdcDirectory:
    """The imported FDA NDC Directory of one record database."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self._clock = clock

    def import_package_file(self, package: str | Path, products: str | Path | None = None,
                            *, by: str) -> DirectoryImport:
        """Import a package file (path or text), optionally with its product file, as a batch."""
        package_text, package_name = read_text(package)
        named: dict[str, tuple[str, str]] = {}
        if products is not None:
            product_text, product_name = read_text(products)
            named = parse_products(product_text, product_name)
        entries = parse_packages(package_text, named, package_name)
        now = self._clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("the clock must return a timezone-aware time")
        imported_at = now.astimezone(dt.UTC).isoformat()
        with self.engine.begin() as connection:
            if self.engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": _DIRECTORY_LOCK})
            latest = connection.execute(select(func.max(ndc_directory.c.import_batch))).scalar()
            batch = int(latest or 0) + 1
            rows = [{"import_batch": batch, "ndc_key": e.ndc.key, "ndc": str(e.ndc),
                     "ndc10": e.ndc.ndc10, "product_id": e.product_id,
                     "product_name": e.product_name, "labeler": e.labeler,
                     "package_description": e.package_description,
                     "source_name": package_name[:255], "imported_by": by,
                     "imported_at": imported_at} for e in entries]
            for start in range(0, len(rows), _CHUNK):
                connection.execute(insert(ndc_directory), rows[start:start + _CHUNK])
        return DirectoryImport(batch, len(entries), sum(1 for e in entries if e.product_name))

    def lookup(self, ndc10: str) -> list[DirectoryEntry]:
        """The packages whose 10 digits (without hyphens) are ``ndc10``: none, one, or more."""
        digits = ndc10.strip()
        if len(digits) != 10 or not digits.isdigit() or not digits.isascii():
            raise DirectoryError(f"a 10-digit NDC was expected, got {ndc10!r}")
        return self._entries(ndc_directory.c.ndc10 == digits)

    def get(self, ndc: Ndc) -> list[DirectoryEntry]:
        """The packages with this NDC (in any shape)."""
        return self._entries(ndc_directory.c.ndc_key == ndc.key)

    def lookup_scan(self, identity: ScanIdentity) -> list[DirectoryEntry]:
        """The packages a scan may name: by its explicit NDC, else by its 10 digits."""
        if identity.ndc is not None:
            return self.get(identity.ndc)
        ndc10 = identity.ndc10
        return self.lookup(ndc10) if ndc10 is not None else []

    def batch(self) -> int | None:
        """The newest import batch, or None before the first import."""
        with self.engine.connect() as connection:
            latest = connection.execute(select(func.max(ndc_directory.c.import_batch))).scalar()
        return int(latest) if latest is not None else None

    def _entries(self, condition: ColumnElement[bool]) -> list[DirectoryEntry]:
        newest = select(func.max(ndc_directory.c.import_batch)).scalar_subquery()
        query = (select(ndc_directory)
                 .where(condition, ndc_directory.c.import_batch == newest)
                 .order_by(ndc_directory.c.id))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        found: dict[str, DirectoryEntry] = {}
        for row in rows:
            found.setdefault(row.ndc, DirectoryEntry(Ndc.parse(row.ndc), row.product_id,
                                                     row.product_name, row.labeler,
                                                     row.package_description))
        return list(found.values())


def not_in_formulary_message(identity: ScanIdentity, directory: NdcDirectory) -> str | None:
    """What to show for a scan the formulary does not know, when the directory names it.

    ``"not in formulary: <name> <NDC in its real shape> (from the FDA NDC Directory)"``;
    when the 10 digits name several directory packages, all of them (never a guess); None
    when the directory does not know the scan either. The message is shown, never accepted.
    """
    found = directory.lookup_scan(identity)
    if not found:
        return None
    if len(found) == 1:
        entry = found[0]
        return f"not in formulary: {entry.name} {entry.ndc} ({SOURCE})"
    listed = "; ".join(f"{e.name} {e.ndc}" for e in found)
    return (f"not in formulary: NDC digits {identity.ndc10} could be {listed} ({SOURCE}); "
            "none of them is stocked")
