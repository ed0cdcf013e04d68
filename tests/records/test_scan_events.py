"""Every scan is checked against recalls and opened vials on its way into the workflow."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from station.core.acceptance import AcceptanceTracker
from station.core.bud import BudTable
from station.core.components import LotSource
from station.core.formulary import Formulary
from station.core.identifiers import Expiry, Gtin, Lot
from station.core.recipe import build_recipe
from station.core.workflow import Phase, Preparation, Started, StopReason, apply
from station.records.opened_vials import OpenedVials
from station.records.recalls import RecallList
from station.services.scan_events import ScanEvents
from tests.clock import FakeClock
from tests.station.builders import FORMULARY, NOW, TOLERANCE, Technician, order

GS = "\x1d"
HEPARIN = "0409272001"


#: The record's clock: it stands still.
clock = FakeClock(NOW)


def heparin_scan(lot: str, serial: str = "SN1") -> str:
    return f"]d201{Gtin.from_ndc10(HEPARIN)}17281231" + f"10{lot}{GS}21{serial}"


@pytest.fixture
def at_heparin_scan() -> Preparation:
    formulary = Formulary.from_mapping(FORMULARY)
    recipe = build_recipe(order("RX1", ("0409-2720-01", "25000 units")), formulary, TOLERANCE)
    tech = Technician()
    prep = apply(Preparation.new("P-1", recipe), Started(tech.user, NOW))
    return tech.advance_to(prep, 3)


@pytest.fixture
def tracker() -> AcceptanceTracker:
    return AcceptanceTracker(Formulary.from_mapping(FORMULARY), reference_year=2026)


def test_a_recalled_lot_stops_the_scan(backend, tracker, at_heparin_scan):
    recalls = RecallList(backend.engine, clock)
    recalls.add("0409-2720-01", "K77", "FDA class II recall: particulates", by="rph.ben")
    events = ScanEvents(recalls)
    clean = events.event_for(tracker.observe_handheld(heparin_scan("K78")), user="tech.ana",
                             at=NOW)
    assert clean.recall_notice is None
    assert apply(at_heparin_scan, clean).phase is Phase.IN_PROGRESS
    recalled = events.event_for(tracker.observe_handheld(heparin_scan("K77")),
                                user="tech.ana", at=NOW)
    stopped = apply(at_heparin_scan, recalled)
    assert stopped.stop.reason is StopReason.RECALLED
    assert "particulates" in stopped.stop.message


def test_an_opened_vial_past_its_beyond_use_time_stops_the_scan(backend, tracker,
                                                                 at_heparin_scan):
    formulary = Formulary.from_mapping(FORMULARY)
    vials = OpenedVials(backend.engine, clock, BudTable.load())
    heparin = formulary.by_ndc_text("0409-2720-01")
    opened = vials.open(heparin, "K80", "SN9", NOW - dt.timedelta(days=40), Decimal("4"),
                        expiry=dt.date(2028, 12, 31))
    events = ScanEvents(RecallList(backend.engine, clock), vials)
    event = events.event_for(tracker.observe_handheld(heparin_scan("K80", "SN9")),
                             user="tech.ana", at=NOW)
    assert event.opened_vial == opened.in_use
    stopped = apply(at_heparin_scan, event)
    assert stopped.stop.reason is StopReason.OPENED_VIAL_PAST_BUD
    assert stopped.stop.message.startswith(f"opened vial {opened.label}, first punctured ")
    assert "is past its beyond-use time" in stopped.stop.message


def test_a_lot_typed_for_a_linear_barcode_is_checked_against_the_recalls(backend, tracker,
                                                                          at_heparin_scan):
    recalls = RecallList(backend.engine, clock)
    recalls.add("0409-2720-01", "K77", "FDA class II recall: particulates", by="rph.ben")
    decision = tracker.observe_handheld("]E00304092720014")  # UPC-A: no lot, no expiry
    assert decision.accepted and decision.identity.lot is None
    typed = replace(decision, identity=replace(decision.identity, lot=Lot("K77"),
                                               expiry=Expiry(dt.date(2028, 12, 31))))
    event = ScanEvents(recalls).event_for(typed, user="tech.ana", at=NOW,
                                          lot_source=LotSource.TYPED)
    assert event.lot_source is LotSource.TYPED and event.source is LotSource.TYPED
    stopped = apply(at_heparin_scan, event)
    assert stopped.stop.reason is StopReason.RECALLED
