"""What a fresh demo record holds: the sample formulary, the sample worklist, demo accounts.

:func:`ensure_demo_content` fills an empty record so a new user can prepare a dose at once,
and is safe to run on every start: the formulary is imported only when none is, each sample
order is received once (the order book is idempotent on the message id) and each demo
account is added only when missing. The sample orders fall due from half an hour after the
first start, keeping their spacing and priorities, so the worklist looks like a shift.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

from station.config.catalog_files import formulary_path, load_worklist
from station.core.accounts import Role
from station.core.order_messages import OrderAction, OrderMessage
from station.core.orders import DoseOrder, Worklist
from station.records.formulary_versions import FormularyVersions
from station.records.order_book import OrderBook
from station.records.record import Record
from station.records.users import UserDirectory

Clock = Callable[[], dt.datetime]

#: The first sample order falls due this long after the demo's first start.
FIRST_DUE = dt.timedelta(minutes=30)
DEMO_ADMIN = "demo.setup"


@dataclass(frozen=True)
class DemoAccount:
    """A demo account; its password is shown on the sign-in screen in demo mode only."""

    user_id: str
    password: str
    role: Role
    printed_name: str


DEMO_ACCOUNTS = (
    DemoAccount("tech.demo", "hood-demo-2026", Role.TECHNICIAN, "Terry Demo"),
    DemoAccount("rph.demo", "verify-demo-2026", Role.PHARMACIST, "Robin Demo, PharmD"),
    DemoAccount("audit.demo", "replay-demo-2026", Role.AUDITOR, "Alex Demo"),
)


@dataclass(frozen=True)
class DemoContent:
    """What :func:`ensure_demo_content` added this time."""

    formulary_version: int | None
    orders: int
    accounts: tuple[str, ...]


DEMO_SOURCE = "demo"
"""The order book's source name for the sample orders."""


def ensure_demo_content(record: Record, clock: Clock, *,
                        worklist: Worklist | None = None) -> DemoContent:
    """Add whatever of the demo content ``record`` lacks; see the module's description."""
    now = clock()
    versions = FormularyVersions(record.engine)
    imported = None
    if versions.latest() is None:
        path = formulary_path()
        version = versions.import_text(path.read_text(encoding="utf-8"), path.name,
                                       imported_by=DEMO_ADMIN, utc=now.astimezone(dt.UTC))
        imported = version.version
    book = OrderBook(record.engine, clock)
    received = 0
    # Only into a book that holds nothing but demo orders: a first start killed part-way
    # through loading them finishes the load at the next start (each message id once).
    if all(event.source == DEMO_SOURCE for event in book.events()):
        for order in _due_from(worklist if worklist is not None else load_worklist(), now):
            message = OrderMessage(f"demo-{order.order_id}", OrderAction.NEW, order.order_id,
                                   order, text=f"sample order {order.order_id}")
            outcome = book.receive(message, DEMO_SOURCE)
            if outcome.accepted and not outcome.duplicate:
                received += 1
    directory = UserDirectory(record.engine, clock)
    added = []
    for account in DEMO_ACCOUNTS:
        if directory.get(account.user_id) is None:
            directory.add(account.user_id, account.printed_name, account.role,
                          account.password, by=DEMO_ADMIN)
            added.append(account.user_id)
    return DemoContent(imported, received, tuple(added))


def _due_from(worklist: Worklist, now: dt.datetime) -> list[DoseOrder]:
    orders = list(worklist)
    if not orders:
        return []
    first = min(o.due for o in orders)
    start = now + FIRST_DUE
    return [replace(o, due=(start + (o.due - first)).astimezone(o.due.tzinfo)) for o in orders]
