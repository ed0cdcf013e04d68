"""Read the formulary and the worklist from their TOML files (the core takes mappings).

Where no path is given, ``STATION_FORMULARY`` / ``STATION_WORKLIST`` name the files, and
failing those the sample data shipped in the checkout's ``fixtures/`` is used.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from station.core.errors import StationError
from station.core.formulary import Formulary
from station.core.orders import Worklist

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "fixtures"


class CatalogFileError(StationError):
    """A formulary or worklist file that cannot be read."""


def formulary_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The formulary file to use."""
    return _choose(explicit, "STATION_FORMULARY", "formulary.toml")


def worklist_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The worklist file to use."""
    return _choose(explicit, "STATION_WORKLIST", "worklist.toml")


def load_formulary(path: str | os.PathLike[str] | None = None) -> Formulary:
    """Read and validate a formulary file."""
    chosen = formulary_path(path)
    try:
        return Formulary.from_mapping(_read_toml(chosen))
    except CatalogFileError:
        raise
    except StationError as error:
        raise CatalogFileError(f"{chosen}: {error}") from None


def load_worklist(path: str | os.PathLike[str] | None = None) -> Worklist:
    """Read and validate a worklist file."""
    chosen = worklist_path(path)
    try:
        return Worklist.from_mapping(_read_toml(chosen))
    except CatalogFileError:
        raise
    except StationError as error:
        raise CatalogFileError(f"{chosen}: {error}") from None


def _choose(explicit: str | os.PathLike[str] | None, variable: str, sample: str) -> Path:
    if explicit is not None:
        return Path(explicit)
    from_environment = os.environ.get(variable)
    if from_environment:
        return Path(from_environment)
    return SAMPLE_DIR / sample


def _read_toml(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise CatalogFileError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as error:
        raise CatalogFileError(f"{path}: not valid TOML: {error}") from None
    except OSError as error:
        raise CatalogFileError(f"{path}: cannot read: {error.strerror}") from None
