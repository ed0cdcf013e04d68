"""Run every benchmark: ``python -m benchmarks [NAME ...]`` (default: all).

Each benchmark prints its own table, then returns its key figures; at the end one summary
table puts every figure beside the baseline it was measured against in the same run. A
benchmark that fails is reported (traceback, a line in the summary) and the rest still run;
the exit status is then 1.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback

from benchmarks.summary import SummaryRow, render

BENCHMARKS = {
    "balance": "benchmarks.bench_balance",
    "decoding": "benchmarks.bench_decoding",
    "ocr": "benchmarks.bench_ocr",
    "gui": "benchmarks.bench_gui",
    "qualify": "benchmarks.bench_qualify",
    "records": "benchmarks.bench_records",
    "startup": "benchmarks.bench_startup",
}


def main(names: list[str]) -> int:
    """Run the named benchmarks (all when none are named), one table each, then the summary."""
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}: expected {', '.join(BENCHMARKS)}",
              file=sys.stderr)
        return 2
    collected: list[tuple[str, SummaryRow]] = []
    failed: list[str] = []
    started = time.perf_counter()
    for name in names or list(BENCHMARKS):
        try:
            rows = importlib.import_module(BENCHMARKS[name]).main()
        except Exception:  # one broken benchmark must not hide the others
            traceback.print_exc()
            failed.append(name)
        else:
            collected += [(name, SummaryRow(*row)) for row in rows or []]
        print(flush=True)
    print(f"Summary: each figure beside its baseline, measured in the same run "
          f"({time.perf_counter() - started:.0f} s); ratio = figure ÷ baseline")
    for line in render(collected):
        print(line)
    for name in failed:
        print(f"{name}: FAILED (traceback above), no figures")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
