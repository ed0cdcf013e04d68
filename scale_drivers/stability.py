"""The application's stability window, on top of the balance's own flag.

A weight counts as stable only when the last ``count`` readings were all flagged stable by
the balance and differ from each other by at most one readability step. In a laminar-flow hood
the balance's flag alone can flicker on airflow; a fixed delay proves nothing.

>>> from decimal import Decimal as D
>>> window = StabilityWindow(count=3, readability=D("0.01"))
>>> [window.add(D(v), True) for v in ("10.00", "10.01", "10.00")]
[False, False, True]
>>> window.add(D("10.03"), True)
False
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass
class StabilityWindow:
    """N consecutive balance-stable readings spread over at most one readability step."""

    count: int
    readability: Decimal
    _recent: deque[tuple[Decimal, bool]] = field(default_factory=deque)

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"a stability window needs at least 1 reading, got {self.count}")
        self._recent = deque(maxlen=self.count)

    def add(self, value: Decimal, stable: bool) -> bool:
        """Record a reading; True when the window is now satisfied."""
        self._recent.append((value, stable))
        if len(self._recent) < self.count:
            return False
        values = [value for value, _ in self._recent]
        flags_stable = all(flag for _, flag in self._recent)
        return flags_stable and max(values) - min(values) <= self.readability

    def reset(self) -> None:
        """Start over (after a load change, a tare, an error)."""
        self._recent.clear()
