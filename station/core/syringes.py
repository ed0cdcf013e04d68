"""Which syringe a draw is planned in, and how much more than the dose it is drawn to.

A syringe keeps fluid in its hub and needle once emptied (its dead space). The station
measures what each syringe delivered by weighing it back (:mod:`station.core.recipe`), and
checks the delivered dose against the order; so that a careful draw delivers the dose, the
draw is aimed at the dose plus the dead space of the pharmacy's syringe of that size
(``data/syringes.toml``). The sizes and dead spaces are data; this module reads them.

>>> plan = SyringeTable.load().for_volume(Decimal("2.0"))
>>> plan.size_ml, plan.residual_ml
(Decimal('3'), Decimal('0.070'))
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib.resources import files
from typing import Any

from station.core.errors import StationError


class SyringeError(StationError):
    """The syringe table is malformed, or no syringe holds a draw."""


@dataclass(frozen=True)
class SyringePlan:
    """The syringe a draw goes into, and the residual the draw is aimed to make up for."""

    size_ml: Decimal
    dead_space_ml: Decimal

    @property
    def residual_ml(self) -> Decimal:
        """What the draw adds to the dose: what the syringe keeps once emptied."""
        return self.dead_space_ml


@dataclass(frozen=True)
class SyringeTable:
    """The syringe sizes, smallest first, with their dead spaces."""

    sizes: tuple[SyringePlan, ...]

    @classmethod
    def load(cls) -> SyringeTable:
        """Read the table packaged with ``station.core`` (``data/syringes.toml``)."""
        resource = files("station.core") / "data" / "syringes.toml"
        return cls.from_mapping(tomllib.loads(resource.read_text(encoding="utf-8")))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SyringeTable:
        """Build from a decoded TOML document with a ``[[syringe]]`` array."""
        rows = data.get("syringe")
        if not isinstance(rows, list) or not rows:
            raise SyringeError("the syringe table has no [[syringe]] rows")
        sizes = []
        for number, row in enumerate(rows, start=1):
            if not isinstance(row, Mapping) or set(row) != {"ml", "dead_space_ml"}:
                raise SyringeError(f"[[syringe]] row {number}: give exactly ml and "
                                   "dead_space_ml")
            try:
                size, limit = Decimal(str(row["ml"])), Decimal(str(row["dead_space_ml"]))
            except InvalidOperation:
                raise SyringeError(f"[[syringe]] row {number}: not a number") from None
            if not (size > 0 and 0 <= limit < size):
                raise SyringeError(f"[[syringe]] row {number}: {size} mL with {limit} mL of "
                                   "dead space is not a syringe")
            sizes.append(SyringePlan(size, limit))
        if [s.size_ml for s in sizes] != sorted({s.size_ml for s in sizes}):
            raise SyringeError("the syringe sizes must be listed smallest first, each once")
        return cls(tuple(sizes))

    def for_volume(self, volume_ml: Decimal) -> SyringePlan:
        """The smallest syringe that holds ``volume_ml`` and the residual it is aimed for."""
        for plan in self.sizes:
            if volume_ml + plan.residual_ml <= plan.size_ml:
                return plan
        largest = self.sizes[-1].size_ml
        raise SyringeError(f"{volume_ml} mL does not fit the largest syringe ({largest} mL)")
