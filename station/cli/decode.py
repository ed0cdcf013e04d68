r"""``station decode IMAGE... [--json]``: read the barcodes in image files.

For checking a camera set-up or a label with the same pipeline the station uses. Each
image is decoded in the order given; one that cannot be read gets an error (in its JSON
entry, or on stderr) and the others are still decoded; the exit status is then 1.
GS (0x1D) is shown as ``<GS>`` in the listing and kept as the character in JSON.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

import cv2

from station.cli.common import EXIT_FAILED, EXIT_OK, print_json
from station.devices.decoding import DecodePipeline, ImageError, Symbol, read_image

GS = "\x1d"


def add_commands(commands: Any) -> None:
    """Register ``station decode`` on the top-level subparsers."""
    decode = commands.add_parser(
        "decode",
        help="read the barcodes in image files (EAN/UPC, GS1-128, DataBar, DataMatrix)",
        description="Decode the barcodes in each image with the station's pipeline "
        "(zxing-cpp, then ZBar, then an upscaled retry) and print what was read, with the "
        "AIM symbology identifier and the decoder that read it.",
    )
    decode.add_argument("images", nargs="+", metavar="IMAGE",
                        help="image file (PNG, JPEG, WebP, BMP, TIFF …)")
    decode.add_argument("--json", action="store_true",
                        help="print a JSON list, one object per image in the order given")
    decode.set_defaults(run=run_decode, command="decode")


def run_decode(args: argparse.Namespace, out: TextIO) -> int:
    """Decode every image named in ``args.images``; 1 if any could not be read."""
    _quiet_opencv()
    pipeline = DecodePipeline()
    entries = [decode_file(pipeline, path) for path in args.images]
    failed = any("error" in entry for entry in entries)
    if args.json:
        print_json(entries, out)
    else:
        for entry in entries:
            _print_entry(entry, out)
    return EXIT_FAILED if failed else EXIT_OK


def decode_file(pipeline: DecodePipeline, path: str) -> dict[str, Any]:
    """One image's JSON entry: its path, the decode time, and the symbols (or an error)."""
    try:
        image = read_image(path)
    except ImageError as error:
        return {"image": path, "error": f"cannot read {path}: {error}"}
    started = time.perf_counter()
    try:
        symbols = pipeline.decode(image)
    except (ImportError, MemoryError, RuntimeError, cv2.error) as error:
        # A decoder that cannot run (no libzbar0) or gave up: say so for this image.
        return {"image": path, "error": f"cannot decode {path}: {error}"}
    elapsed = (time.perf_counter() - started) * 1000
    return {
        "image": path,
        "ms": round(elapsed, 2),
        "symbols": [symbol_json(symbol) for symbol in symbols],
    }


def symbol_json(symbol: Symbol) -> dict[str, Any]:
    """A symbol as JSON: format, raw text, identifier, corners, decoder."""
    return {
        "format": symbol.format,
        "text": symbol.text,
        "symbology_identifier": symbol.symbology_identifier,
        "position": [[x, y] for x, y in symbol.position],
        "decoder": symbol.decoder,
    }


def _print_entry(entry: dict[str, Any], out: TextIO) -> None:
    if "error" in entry:
        out.flush()
        print(f"station decode: {entry['error']}", file=sys.stderr)
        return
    symbols = entry["symbols"]
    count = f"{len(symbols)} symbol{'' if len(symbols) == 1 else 's'}" if symbols else "none"
    out.write(f"{entry['image']}: {count} ({entry['ms']:.1f} ms)\n")
    for symbol in symbols:
        (left, top), *_ = symbol["position"]
        out.write(
            f"  {symbol['format']:<16} {symbol['symbology_identifier'] or '-':<4} "
            f"{_show(symbol['text'])}  [{symbol['decoder']} at {left},{top}]\n"
        )


def _show(text: str) -> str:
    """Text on one line: GS as <GS>, other control characters escaped."""
    shown = text.replace(GS, "<GS>")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in shown)


def _quiet_opencv() -> None:
    """OpenCV logs its own warning for a file it cannot decode; ours says it in one line.

    Process-wide, so only this command does it, and only when it runs.
    """
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
