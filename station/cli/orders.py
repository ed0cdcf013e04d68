"""``station orders …``: the worklist, and orders from the EHR into the book.

``orders list`` lists the worklist file's orders (or with ``--db`` those received into the
record), most urgent first. ``orders listen``, ``orders import`` and ``orders watch`` receive
orders over MLLP, from files, or from a folder. :class:`OrderIntake` is the thin shell they
use: read a message (HL7 v2 or FHIR JSON), put what it says into the
:class:`~station.records.order_book.OrderBook` (or record why not) and, for HL7, build the
ACK: AA accepted, AE rejected with the reason, AR unreadable.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine, select

from station.bootstrap import services_on
from station.cli.common import EXIT_FAILED, EXIT_OK, print_json, utc_now
from station.config.catalog_files import load_formulary, load_worklist
from station.core.formulary import Formulary
from station.core.identifiers import Ndc
from station.core.order_messages import IntakeError, MalformedMessage
from station.intake.fhir import Resolver, folder_resolver, parse_json
from station.intake.hl7v2 import AckCode, build_ack, message_id_of, parse_order
from station.intake.mllp import MllpServer
from station.intake.watch import FolderWatch
from station.records.order_book import InPreparation, OrderBook, Outcome
from station.records.record import open_record
from station.records.schema import events

DEFAULT_PORT = 2575

Clock = Callable[[], dt.datetime]


class OrderIntake:
    """Messages in, outcomes (and ACKs) out, every one recorded in the book."""

    def __init__(self, book: OrderBook, formulary: Formulary, clock: Clock = utc_now,
                 new_id: Callable[[], str] = lambda: uuid.uuid4().hex[:20]) -> None:
        self.book = book
        self.formulary = formulary
        self.clock = clock
        self.new_id = new_id

    def hl7(self, text: str, source: str) -> tuple[Outcome, str]:
        """Receive one HL7 v2 message; the outcome and the ACK to send back."""
        try:
            message = parse_order(text, self.formulary)
        except IntakeError as error:
            if not error.message_id:
                error.message_id = message_id_of(text)
            outcome = self.book.reject(error, source, text)
            code = AckCode.REJECTED if isinstance(error, MalformedMessage) else AckCode.ERROR
            return outcome, build_ack(text, code, control_id=self.new_id(), now=self.clock(),
                                      error=error)
        outcome = self.book.receive(message, source)
        if outcome.accepted:
            ack = build_ack(text, AckCode.ACCEPTED, control_id=self.new_id(), now=self.clock())
        else:
            refusal = IntakeError(outcome.reason, message_id=outcome.message_id,
                                  order_id=outcome.order_id, location="ORC^1^2", code=204)
            ack = build_ack(text, AckCode.ERROR, control_id=self.new_id(), now=self.clock(),
                            error=refusal)
        return outcome, ack

    def fhir(self, text: str, source: str, resolve: Resolver | None = None) -> Outcome:
        """Receive one FHIR JSON document."""
        try:
            message = parse_json(text, self.formulary, resolve)
        except IntakeError as error:
            return self.book.reject(error, source, text)
        return self.book.receive(message, source)


def preparation_started(engine: Engine) -> InPreparation:
    """Whether a preparation of an order has been recorded (its ``created`` event)."""

    def started(order_id: str) -> bool:
        with engine.connect() as connection:
            rows = connection.execute(select(events.c.payload).where(events.c.kind == "created"))
            for (payload,) in rows:
                order = json.loads(payload).get("order", {})
                if isinstance(order, dict) and order.get("order_id") == order_id:
                    return True
        return False

    return started


# ------------------------------------------------------------------------------ commands


def add_commands(commands: Any) -> None:
    """Register ``station orders`` and its actions on the top-level subparsers."""
    orders = commands.add_parser("orders", help="the worklist of dose orders")
    actions = orders.add_subparsers(
        title="orders commands", dest="orders_command", metavar="ACTION", required=True
    )
    add_actions(actions)


def add_actions(orders_actions: Any) -> None:
    """Register ``list``, ``listen``, ``import`` and ``watch`` under ``station orders``."""
    listing = orders_actions.add_parser("list", help="list orders, most urgent first")
    listing.add_argument("--worklist", metavar="PATH", help="worklist file (TOML)")
    listing.add_argument("--formulary", metavar="PATH", help="formulary file, for drug names")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.add_argument("--db", metavar="URL",
                         help="list the orders received into this record (HL7, FHIR)")
    listing.set_defaults(run=_run_list)

    listen = orders_actions.add_parser(
        "listen", help="receive HL7 v2 orders over MLLP until interrupted")
    listen.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help="TCP port (default %(default)s)")
    listen.add_argument("--host", default="127.0.0.1", help="address (default %(default)s)")
    _common(listen)
    listen.set_defaults(run=_run_listen, command="orders listen")

    imported = orders_actions.add_parser(
        "import", help="read order messages from files (HL7 v2 .hl7 or FHIR .json)")
    imported.add_argument("files", nargs="+", metavar="FILE", help="message files")
    _common(imported)
    imported.set_defaults(run=_run_import, command="orders import")

    watch = orders_actions.add_parser(
        "watch", help="import order files dropped into a folder, as they arrive")
    watch.add_argument("folder", help="the folder an interface engine writes orders into")
    watch.add_argument("--interval", type=float, default=1.0, metavar="SECONDS",
                       help="how often to look (default %(default)s)")
    _common(watch)
    watch.set_defaults(run=_run_watch, command="orders watch")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="URL",
                        help="record database URL (default: STATION_DB, else the local file)")
    parser.add_argument("--formulary", metavar="PATH", help="formulary file (TOML)")


def _run_list(args: argparse.Namespace, out: TextIO) -> int:
    if args.db:
        record = open_record(args.db)
        try:
            worklist = services_on(record, clock=utc_now).orders.worklist()
        finally:
            record.close()
    else:
        worklist = load_worklist(args.worklist)
    formulary = load_formulary(args.formulary)

    def drug(ndc: Ndc) -> str:
        product = formulary.get(ndc)
        return product.name if product is not None else f"NDC {ndc} (not in formulary)"

    if args.json:
        documents = []
        for order in worklist:
            first = order.ingredients[0]
            documents.append(
                {
                    "order_id": order.order_id,
                    "patient_id": order.patient.patient_id,
                    "patient_name": order.patient.name,
                    "location": order.patient.location,
                    "drug": drug(first.ndc),
                    "ndc": str(first.ndc),
                    "dose": str(first.dose.value.normalize()),
                    "dose_unit": first.dose.unit.value,
                    "ingredients": [
                        {"drug": drug(i.ndc), "ndc": str(i.ndc), "dose": str(i.dose)}
                        for i in order.ingredients
                    ],
                    "base": drug(order.base) if order.base else None,
                    "final_volume_ml": str(order.final_volume_ml.normalize()),
                    "priority": order.priority.value,
                    "due": order.due.isoformat(),
                    "status": "pending",
                }
            )
        print_json(documents, out)
        return EXIT_OK
    for order in worklist:
        drugs = " + ".join(f"{drug(i.ndc)} {i.dose}" for i in order.ingredients)
        base = (
            f" in {drug(order.base)} {order.final_volume_ml.normalize():f} mL" if order.base else ""
        )
        out.write(
            f"{order.order_id:<10} {order.priority.value.upper():<7} "
            f"due {order.due:%Y-%m-%d %H:%M}  {order.patient.name} ({order.patient.location})"
            f"  {drugs}{base}\n"
        )
    out.write(f"{len(worklist)} orders\n")
    return EXIT_OK


def _run_listen(args: argparse.Namespace, out: TextIO) -> int:
    formulary = load_formulary(args.formulary)
    record = open_record(args.db)
    book = OrderBook(record.engine, utc_now, preparation_started(record.engine))
    intake = OrderIntake(book, formulary)
    printing = threading.Lock()

    def handle(text: str) -> str:
        outcome, ack = intake.hl7(text, f"mllp:{args.host}:{server.port}")
        with printing:
            out.write(f"{utc_now():%Y-%m-%d %H:%M:%S}Z {outcome.describe()}\n")
            out.flush()
        return ack

    server = MllpServer(args.host, args.port, handle)
    try:
        server.start()
        out.write(f"listening for HL7 orders on {server.host}:{server.port} "
                  "(Ctrl-C stops)\n")
        out.flush()
        threading.Event().wait()
    except KeyboardInterrupt:
        out.write("stopped\n")
    finally:
        server.stop()
        record.close()
    return EXIT_OK


def _run_import(args: argparse.Namespace, out: TextIO) -> int:
    formulary = load_formulary(args.formulary)
    record = open_record(args.db)
    book = OrderBook(record.engine, utc_now, preparation_started(record.engine))
    intake = OrderIntake(book, formulary)
    failed = False
    try:
        for name in args.files:
            path = Path(name)
            line, ok = _import_one(intake, path)
            failed = failed or not ok
            out.write(f"{path}: {line}\n")
    finally:
        record.close()
    return EXIT_FAILED if failed else EXIT_OK


def _run_watch(args: argparse.Namespace, out: TextIO) -> int:
    formulary = load_formulary(args.formulary)
    record = open_record(args.db)
    book = OrderBook(record.engine, utc_now, preparation_started(record.engine))
    intake = OrderIntake(book, formulary)
    watcher = FolderWatch(Path(args.folder))
    try:
        out.write(f"watching {args.folder} for order files (Ctrl-C stops)\n")
        out.flush()
        while True:
            for path in watcher.pending():
                line, _ = _import_one(intake, path)
                out.write(f"{utc_now():%Y-%m-%d %H:%M:%S}Z {path.name}: {line}\n")
                out.flush()
            time.sleep(args.interval)
    except KeyboardInterrupt:
        out.write("stopped\n")
    finally:
        record.close()
    return EXIT_OK


def _import_one(intake: OrderIntake, path: Path) -> tuple[str, bool]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return f"rejected: cannot read the file: {error}", False
    source = f"file:{path.name}"
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{"):
        kind = _resource_type(stripped)
        if kind not in (None, "MedicationRequest", "Bundle"):
            return f"skipped: a {kind}, not an order (used to resolve references)", True
        outcome = intake.fhir(text, source, folder_resolver(path.parent))
    elif stripped.startswith("MSH"):
        outcome, _ = intake.hl7(text, source)
    else:
        failure = MalformedMessage("not an HL7 v2 message (MSH…) or FHIR JSON ({…})")
        outcome = intake.book.reject(failure, source, text)
    if outcome.accepted:
        return f"accepted: {outcome.describe()}", True
    return f"rejected: {outcome.reason}", False


def _resource_type(text: str) -> str | None:
    try:
        document = json.loads(text)
    except ValueError:
        return None
    kind = document.get("resourceType") if isinstance(document, dict) else None
    return str(kind) if kind is not None else None
