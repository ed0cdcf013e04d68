"""The key figures each benchmark's ``main()`` returns, and the one summary table of a run."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple


class SummaryRow(NamedTuple):
    """One key figure beside the baseline it is measured against in the same run."""

    name: str
    figure: float
    unit: str
    baseline_name: str
    baseline: float


def number(value: float) -> str:
    """A figure with as many digits as its size deserves."""
    if math.isnan(value):
        return "-"
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def ratio(row: SummaryRow) -> str:
    """figure ÷ baseline, or '-' when the baseline is zero or missing."""
    if not row.baseline or math.isnan(row.baseline) or math.isnan(row.figure):
        return "-"
    return f"{row.figure / row.baseline:.2f}×"


def render(rows: Iterable[tuple[str, SummaryRow]]) -> list[str]:
    """The summary table's lines, one row per (benchmark, figure)."""
    listed = list(rows)
    cells = [("benchmark", "measure", "figure", "unit", "baseline", "baseline fig.", "ratio")]
    cells += [(bench, row.name, number(row.figure), row.unit, row.baseline_name,
               number(row.baseline), ratio(row)) for bench, row in listed]
    widths = [max(len(cell[i]) for cell in cells) for i in range(len(cells[0]))]
    right = {2, 5, 6}
    lines = []
    for index, cell in enumerate(cells):
        lines.append("  ".join(text.rjust(widths[i]) if i in right else text.ljust(widths[i])
                               for i, text in enumerate(cell)).rstrip())
        if index == 0:
            lines.append("-" * len(lines[0]))
    return lines
