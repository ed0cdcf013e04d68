"""``station orders listen`` and ``station orders import``: orders from the EHR into the book.

:class:`OrderIntake` is the thin shell both use: read a message (HL7 v2 or FHIR JSON), put
what it says into the :class:`~station.records.order_book.OrderBook` (or record why not) and,
for HL7, build the ACK: AA accepted, AE rejected with the reason, AR unreadable.
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

from station.config.catalog_files import load_formulary
from station.core.formulary import Formulary
from station.core.order_messages import IntakeError, MalformedMessage
from station.intake.fhir import Resolver, folder_resolver, parse_json
from station.intake.hl7v2 import AckCode, build_ack, message_id_of, parse_order
from station.intake.mllp import MllpServer
from station.intake.watch import FolderWatch
from station.records.order_book import InPreparation, OrderBook, Outcome
from station.records.record import open_record
from station.records.schema import events

EXIT_OK, EXIT_FAILED = 0, 1
DEFAULT_PORT = 2575

Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class OrderIntake:
    """Messages in, outcomes (and ACKs) out, every one recorded in the book."""

    def __init__(self, book: OrderBook, formulary: Formulary, clock: Clock = _utc_now,
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


def add_commands(orders_actions: Any) -> None:
    """Register ``listen`` and ``import`` under ``station orders``."""
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


def _run_listen(args: argparse.Namespace, out: TextIO) -> int:
    formulary = load_formulary(args.formulary)
    record = open_record(args.db)
    book = OrderBook(record.engine, _utc_now, preparation_started(record.engine))
    intake = OrderIntake(book, formulary)
    printing = threading.Lock()

    def handle(text: str) -> str:
        outcome, ack = intake.hl7(text, f"mllp:{args.host}:{server.port}")
        with printing:
            out.write(f"{_utc_now():%Y-%m-%d %H:%M:%S}Z {outcome.describe()}\n")
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
    book = OrderBook(record.engine, _utc_now, preparation_started(record.engine))
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
    book = OrderBook(record.engine, _utc_now, preparation_started(record.engine))
    intake = OrderIntake(book, formulary)
    watcher = FolderWatch(Path(args.folder))
    try:
        out.write(f"watching {args.folder} for order files (Ctrl-C stops)\n")
        out.flush()
        while True:
            for path in watcher.pending():
                line, _ = _import_one(intake, path)
                out.write(f"{_utc_now():%Y-%m-%d %H:%M:%S}Z {path.name}: {line}\n")
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
