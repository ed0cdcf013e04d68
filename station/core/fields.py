"""Strict reading of hand-edited tables: unknown keys, missing keys and flags are errors.

A misspelt key in a formulary or an order must never be silently ignored: ``priorty = "stat"``
would otherwise make a STAT order routine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any, TypeVar

from station.core.errors import InvalidFormat

E = TypeVar("E", bound=Enum)


def table(value: object, where: str) -> Mapping[str, Any]:
    """``value`` as a table (mapping), or an error naming where it was expected."""
    if not isinstance(value, Mapping):
        raise InvalidFormat(f"{where} must be a table, not {type(value).__name__}")
    return value


def only_known(entry: Mapping[str, Any], allowed: Iterable[str], where: str = "") -> None:
    """Refuse keys that are not in ``allowed``."""
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        prefix = f"{where}." if where else ""
        names = ", ".join(prefix + name for name in unknown)
        raise InvalidFormat(f"unknown field(s) {names}")


def required(entry: Mapping[str, Any], name: str, where: str = "") -> Any:
    """The value of a key that must be present."""
    if name not in entry:
        raise InvalidFormat(f"missing field {where + '.' if where else ''}{name}")
    return entry[name]


def flag(entry: Mapping[str, Any], name: str) -> bool:
    """A true/false field; absent means false; text such as "false" is refused."""
    value = entry.get(name, False)
    if not isinstance(value, bool):
        raise InvalidFormat(f"{name} must be true or false, not {value!r}")
    return value


def choice(kind: type[E], value: object, name: str) -> E:
    """The member of ``kind`` whose value is ``value``, or a message listing the choices."""
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(str(member.value) for member in kind)
        raise InvalidFormat(f"{name} {value!r} is not one of {choices}") from None
