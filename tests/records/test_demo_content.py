"""A fresh demo record gets the sample formulary, worklist and accounts, once."""

from __future__ import annotations

import datetime as dt

from station.config.catalog_files import load_worklist
from station.demo.content import DEMO_ACCOUNTS, DEMO_SOURCE, FIRST_DUE, ensure_demo_content
from station.records.formulary_versions import FormularyVersions
from station.records.order_book import OrderAction, OrderBook, OrderMessage
from station.records.record import open_record
from station.records.users import UserDirectory
from station.services.sessions import SessionManager
from tests.clock import FakeClock

NOW = dt.datetime(2027, 3, 1, 7, 0, tzinfo=dt.timezone(dt.timedelta(hours=-6)))


def test_the_demo_content_is_added_once_and_falls_due_from_now(tmp_path):
    record = open_record(f"sqlite:///{tmp_path / 'demo.db'}")
    try:
        first = ensure_demo_content(record, FakeClock(NOW))
        sample = load_worklist()
        assert first.formulary_version == 1
        assert first.orders == len(sample)
        assert first.accounts == tuple(a.user_id for a in DEMO_ACCOUNTS)
        book = OrderBook(record.engine, FakeClock(NOW))
        due = sorted(o.due for o in book.worklist())
        assert due[0] == NOW + FIRST_DUE
        spacing = sorted(o.due for o in sample)
        assert [d - due[0] for d in due] == [d - spacing[0] for d in spacing]
        again = ensure_demo_content(record, FakeClock(NOW + dt.timedelta(days=1)))
        assert (again.formulary_version, again.orders, again.accounts) == (None, 0, ())
        assert FormularyVersions(record.engine).latest().version == 1
        sessions = SessionManager(UserDirectory(record.engine, FakeClock(NOW)))
        for account in DEMO_ACCOUNTS:
            session = sessions.start(account.user_id, account.password, now=NOW)
            assert session.user.role is account.role
    finally:
        record.close()


def test_a_load_cut_short_is_finished_and_a_book_with_real_orders_left_alone(tmp_path):
    sample = list(load_worklist())
    record = open_record(f"sqlite:///{tmp_path / 'demo.db'}")
    try:
        book = OrderBook(record.engine, FakeClock(NOW))
        # the first start was killed after three of the sample orders
        for order in sample[:3]:
            book.receive(OrderMessage(f"demo-{order.order_id}", OrderAction.NEW,
                                      order.order_id, order), DEMO_SOURCE)
        assert ensure_demo_content(record, FakeClock(NOW)).orders == len(sample) - 3
        assert len(book.worklist()) == len(sample)
    finally:
        record.close()
    record = open_record(f"sqlite:///{tmp_path / 'real.db'}")
    try:
        book = OrderBook(record.engine, FakeClock(NOW))
        book.receive(OrderMessage("HL7-1", OrderAction.NEW, sample[0].order_id, sample[0]),
                     "hl7")
        assert ensure_demo_content(record, FakeClock(NOW)).orders == 0
        assert len(book.worklist()) == 1
    finally:
        record.close()
