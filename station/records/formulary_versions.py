"""The formulary in use, as versioned snapshots in the record.

Specific gravity, concentration and tolerance decide pass or fail, so each preparation
names the formulary version it was made under, and replay rebuilds its recipe from exactly
that text. A file is validated before it becomes a version; importing the same text again
adds nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.engine import Row

from station.core.errors import StationError
from station.core.formulary import Formulary
from station.records.schema import formulary_versions

_IMPORT_LOCK = 0x464F_524D


class FormularyImportError(StationError):
    """A formulary file that cannot become a version."""


@dataclass(frozen=True)
class FormularyVersion:
    """One imported formulary."""

    version: int
    sha256: str
    source_name: str
    text: str
    imported_by: str
    imported_at: str

    def formulary(self) -> Formulary:
        """The products of this version."""
        return Formulary.from_mapping(tomllib.loads(self.text))


class FormularyVersions:
    """The formulary versions of one record database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._parsed: dict[int, tuple[FormularyVersion, Formulary]] = {}

    def formulary_of(self, version: int) -> tuple[FormularyVersion, Formulary]:
        """A version and its products, read and parsed once: versions never change."""
        if version not in self._parsed:
            stored = self.get(version)
            self._parsed[version] = (stored, stored.formulary())
        return self._parsed[version]

    def import_text(self, source: str, source_name: str, *, imported_by: str,
                    utc: dt.datetime) -> FormularyVersion:
        """Validate and store ``source`` as the next version (or return the same text's)."""
        try:
            Formulary.from_mapping(tomllib.loads(source))
        except (StationError, tomllib.TOMLDecodeError) as error:
            raise FormularyImportError(f"{source_name}: {error}") from None
        sha256 = hashlib.sha256(source.encode("utf-8")).hexdigest()
        with self.engine.begin() as connection:
            if self.engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": _IMPORT_LOCK})
            latest = connection.execute(
                select(formulary_versions).order_by(formulary_versions.c.version.desc()).limit(1)
            ).first()
            if latest is not None and latest.sha256 == sha256:
                return _version(latest)
            number = int(connection.execute(
                select(func.coalesce(func.max(formulary_versions.c.version), 0))
            ).scalar_one()) + 1
            made = FormularyVersion(number, sha256, source_name, source, imported_by,
                                    utc.astimezone(dt.UTC).isoformat())
            connection.execute(insert(formulary_versions).values(
                version=made.version, sha256=made.sha256, source_name=made.source_name,
                text=made.text, imported_by=made.imported_by, imported_at=made.imported_at,
            ))
        return made

    def latest(self) -> FormularyVersion | None:
        """The newest version, if any."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(formulary_versions).order_by(formulary_versions.c.version.desc()).limit(1)
            ).first()
        return _version(row) if row is not None else None

    def get(self, version: int) -> FormularyVersion:
        """A given version."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(formulary_versions).where(formulary_versions.c.version == version)
            ).first()
        if row is None:
            raise FormularyImportError(f"formulary version {version} does not exist")
        return _version(row)


def _version(row: Row[Any]) -> FormularyVersion:
    return FormularyVersion(int(row.version), row.sha256, row.source_name, row.text,
                            row.imported_by, row.imported_at)
