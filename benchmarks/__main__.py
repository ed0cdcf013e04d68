"""Run every benchmark: ``python -m benchmarks [NAME ...]`` (default: all)."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "balance": "benchmarks.bench_balance",
    "decoding": "benchmarks.bench_decoding",
    "gui": "benchmarks.bench_gui",
    "records": "benchmarks.bench_records",
}


def main(names: list[str]) -> int:
    """Run the named benchmarks (all when none are named), one table each."""
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}: expected {', '.join(BENCHMARKS)}",
              file=sys.stderr)
        return 2
    for name in names or list(BENCHMARKS):
        importlib.import_module(BENCHMARKS[name]).main()
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
