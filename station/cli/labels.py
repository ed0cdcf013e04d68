"""``station label preview|print ORDER_ID``: the label of a worklist order, as PDF or ZPL.

The label is built as if the order were compounded now (the local time zone), with the
preparation id given by ``--preparation-id`` or a new one. ``preview`` writes the PDF
(``--out``) and/or the ZPL (``--zpl``), or the ZPL on stdout when neither is given; ``print``
sends the ZPL to ``--printer tcp://HOST:9100 | cups://QUEUE | file://PATH``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import secrets
from pathlib import Path
from typing import Any, TextIO

from station.cli.common import EXIT_OK
from station.config.catalog_files import load_formulary, load_worklist
from station.core.bud import BudTable, CompoundingCategory, Sterilization
from station.core.errors import StationError
from station.core.formulary import Storage
from station.core.label import LabelContent, LabelError, label_for
from station.devices.labels import PREPARATION_SIZE, LabelSize
from station.devices.labels.pdf import render_pdf
from station.devices.labels.printing import parse_destination, send
from station.devices.labels.zpl import render_zpl

_CATEGORIES = {
    "immediate": CompoundingCategory.IMMEDIATE_USE,
    "immediate_use": CompoundingCategory.IMMEDIATE_USE,
    "1": CompoundingCategory.CATEGORY_1,
    "category_1": CompoundingCategory.CATEGORY_1,
    "2": CompoundingCategory.CATEGORY_2,
    "category_2": CompoundingCategory.CATEGORY_2,
    "3": CompoundingCategory.CATEGORY_3,
    "category_3": CompoundingCategory.CATEGORY_3,
}
_PREPARATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,39}$")


def add_commands(commands: Any) -> None:
    """Register ``station label preview`` and ``station label print``."""
    label = commands.add_parser(
        "label", help="make the label of an order: PDF preview, ZPL, or print it"
    )
    actions = label.add_subparsers(
        title="label commands", dest="label_command", metavar="ACTION", required=True
    )
    preview = actions.add_parser(
        "preview",
        help="write the label as PDF and/or ZPL",
        description="Build the label of ORDER_ID as if compounded now and write it as PDF "
        "(--out) and/or ZPL (--zpl); with neither, print the ZPL.",
    )
    _common(preview)
    preview.add_argument("--out", metavar="FILE.pdf", help="write the PDF preview here")
    preview.add_argument("--zpl", metavar="FILE", help="write the ZPL here")
    preview.set_defaults(run=run_preview, command="label preview")

    printing = actions.add_parser(
        "print",
        help="send the label's ZPL to a printer",
        description="Build the label of ORDER_ID as if compounded now and send its ZPL to "
        "the printer.",
    )
    _common(printing)
    printing.add_argument(
        "--printer",
        required=True,
        metavar="URL",
        help="tcp://HOST[:9100] (raw port), cups://QUEUE (lp -o raw) or file://PATH",
    )
    printing.add_argument("--out", metavar="FILE.pdf", help="also write the PDF here")
    printing.add_argument(
        "--timeout", type=float, default=10.0, metavar="SECONDS",
        help="give up on the printer after this long (default %(default)s)",
    )
    printing.set_defaults(run=run_print, command="label print")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("order_id", help="the order's id")
    parser.add_argument("--worklist", metavar="PATH", help="worklist file (TOML)")
    parser.add_argument("--formulary", metavar="PATH", help="formulary file (TOML)")
    parser.add_argument(
        "--category", default="1", metavar="CATEGORY",
        help="USP <797> category: immediate, 1, 2 or 3 (default %(default)s)",
    )
    parser.add_argument(
        "--storage", default="room", choices=[s.value for s in Storage],
        help="how the preparation is kept (default %(default)s)",
    )
    parser.add_argument(
        "--sterilization", default=Sterilization.ASEPTIC_STERILE_COMPONENTS.value,
        choices=[s.value for s in Sterilization], help="how it was made sterile",
    )
    parser.add_argument(
        "--sterility-tested", action="store_true", help="it passed a sterility test"
    )
    parser.add_argument(
        "--component-expiry", action="append", default=[], metavar="YYYY-MM-DD",
        help="expiry of a component (repeat); the BUD never goes past the earliest",
    )
    parser.add_argument("--preparation-id", metavar="ID", help="default: a new id")
    parser.add_argument("--initials", required=True, help="the preparer's initials")
    parser.add_argument(
        "--size", default=f"{PREPARATION_SIZE.width_mm}x{PREPARATION_SIZE.height_mm}",
        metavar="WxH", help="label size in mm (default %(default)s, 4x3 in)",
    )
    parser.add_argument(
        "--dpi", type=int, default=203, help="printer resolution (default %(default)s)"
    )


def build_label(args: argparse.Namespace, now: dt.datetime | None = None) -> LabelContent:
    """The label the arguments describe, compounded at ``now`` (default: the clock)."""
    moment = now or dt.datetime.now().astimezone()
    category = _CATEGORIES.get(str(args.category).strip().lower())
    if category is None:
        raise LabelError(f"category {args.category!r} is not immediate, 1, 2 or 3")
    preparation_id = args.preparation_id or new_preparation_id(moment)
    if not _PREPARATION_ID.match(preparation_id):
        raise LabelError(
            f"preparation id {preparation_id!r}: use up to 40 letters, digits and . _ : / -"
        )
    expiries = []
    for text in args.component_expiry:
        try:
            expiries.append(dt.date.fromisoformat(text))
        except ValueError:
            raise LabelError(f"component expiry {text!r} is not YYYY-MM-DD") from None
    order = load_worklist(args.worklist).get(args.order_id)
    return label_for(
        order,
        load_formulary(args.formulary),
        preparation_id=preparation_id,
        compounded_at=moment,
        category=category,
        storage=Storage(args.storage),
        preparer_initials=args.initials,
        bud_table=BudTable.load(),
        component_expiries=expiries,
        sterilization=Sterilization(args.sterilization),
        sterility_tested=args.sterility_tested,
    )


def new_preparation_id(moment: dt.datetime) -> str:
    """'P-20261126-140512-3FA9': the time it was made and four random hex digits."""
    return f"P-{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(2).upper()}"


def run_preview(args: argparse.Namespace, out: TextIO) -> int:
    """Write the label's PDF and/or ZPL."""
    size = LabelSize.parse(args.size, args.dpi)
    content = build_label(args)
    zpl = render_zpl(content, size)
    if args.out is None and args.zpl is None:
        out.write(zpl)
        return EXIT_OK
    if args.out is not None:
        _write(Path(args.out), render_pdf(content, size))
        print(f"PDF {args.out} ({content.preparation_id})", file=out)
    if args.zpl is not None:
        _write(Path(args.zpl), zpl.encode("utf-8"))
        print(f"ZPL {args.zpl} ({content.preparation_id})", file=out)
    return EXIT_OK


def run_print(args: argparse.Namespace, out: TextIO) -> int:
    """Send the label's ZPL to the printer (and write the PDF if asked)."""
    size = LabelSize.parse(args.size, args.dpi)
    destination = parse_destination(args.printer)
    content = build_label(args)
    zpl = render_zpl(content, size)
    if args.out is not None:
        _write(Path(args.out), render_pdf(content, size))
    send(zpl, destination, timeout=args.timeout)
    print(f"printed {content.preparation_id} (order {content.order_id}) to {destination}",
          file=out)
    return EXIT_OK


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as error:
        raise StationError(f"cannot write {path}: {error.strerror}") from None
