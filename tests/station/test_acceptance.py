from __future__ import annotations

import pytest

from station.core.acceptance import AcceptanceTracker, Status, SymbolRead
from station.core.formulary import Formulary
from station.core.identifiers import Gtin

from .builders import FORMULARY

GS = "\x1d"


def upc(ndc10: str) -> str:
    return "]E0" + Gtin.from_ndc10(ndc10).value[1:]


def datamatrix(ndc10: str, lot: str = "L1", expiry: str = "281231", serial: str = "S1") -> str:
    return f"]d201{Gtin.from_ndc10(ndc10)}17{expiry}10{lot}{GS}21{serial}"


HEPARIN = "0409272001"
CEFAZOLIN = "0143992490"


@pytest.fixture
def tracker() -> AcceptanceTracker:
    return AcceptanceTracker(Formulary.from_mapping(FORMULARY), reference_year=2026)


def test_one_frame_is_not_enough_two_are(tracker):
    first = tracker.observe_frame(1, [SymbolRead(upc(HEPARIN))])
    assert (first.status, first.reason) == (Status.PENDING, "read once — hold steady")
    assert first.product is None
    second = tracker.observe_frame(2, [SymbolRead(upc(HEPARIN))])
    assert second.status is Status.ACCEPTED
    assert str(second.product.ndc) == "0409-2720-01"


def test_the_same_frame_twice_counts_once(tracker):
    tracker.observe_frame(5, [SymbolRead(upc(HEPARIN))])
    again = tracker.observe_frame(5, [SymbolRead(upc(HEPARIN))])
    assert again.status is Status.PENDING


def test_reads_far_apart_do_not_add_up(tracker):
    tracker.observe_frame(1, [SymbolRead(upc(HEPARIN))])
    late = tracker.observe_frame(40, [SymbolRead(upc(HEPARIN))])
    assert late.status is Status.PENDING


def test_a_linear_code_and_a_datamatrix_that_disagree_are_refused(tracker):
    decision = tracker.observe_frame(1, [SymbolRead(upc(HEPARIN)),
                                         SymbolRead(datamatrix(CEFAZOLIN), matrix=True)])
    assert decision.status is Status.REFUSED
    assert decision.reason == (
        "barcodes on this vial disagree: linear code 00304092720014, DataMatrix "
        "00301439924906; set it aside"
    )


def test_two_packages_in_view_are_refused(tracker):
    decision = tracker.observe_frame(1, [SymbolRead(upc(HEPARIN)), SymbolRead(upc(CEFAZOLIN))])
    assert decision.reason == "more than one product in view — show one package at a time"


def test_linear_and_datamatrix_of_one_package_merge_lot_and_expiry(tracker):
    reads = [SymbolRead(upc(HEPARIN)), SymbolRead(datamatrix(HEPARIN, lot="K7"), matrix=True)]
    tracker.observe_frame(1, reads)
    decision = tracker.observe_frame(2, reads)
    assert decision.accepted
    assert (str(decision.identity.lot), str(decision.identity.expiry)) == ("K7", "2028-12-31")


def test_a_check_digit_valid_code_without_an_ndc_never_becomes_a_product(tracker):
    # A valid EAN-13 of a retail product, as decoders misread UPC-A labels into.
    for frame in range(1, 5):
        decision = tracker.observe_frame(frame, [SymbolRead("]E04006381333931")])
        assert decision.status is Status.REFUSED
    assert decision.reason == (
        "not a drug product code: GTIN 04006381333931 carries no NDC and is not in the formulary"
    )


def test_an_explicit_gtin_the_formulary_lists_is_a_product_code():
    data = {"product": [dict(FORMULARY["product"][0], gtin="04006381333931")]}
    tracker = AcceptanceTracker(Formulary.from_mapping(data), reference_year=2026)
    tracker.observe_frame(1, [SymbolRead("]E04006381333931")])
    assert tracker.observe_frame(2, [SymbolRead("]E04006381333931")]).accepted


def test_an_ndc_shaped_code_not_in_the_formulary_is_refused_after_confirmation(tracker):
    tracker.observe_frame(1, [SymbolRead(upc("0409488802"))])
    decision = tracker.observe_frame(2, [SymbolRead(upc("0409488802"))])
    assert decision.status is Status.REFUSED
    assert decision.reason.startswith("not in formulary: unknown product: no formulary "
                                      "product has NDC 00409-4888-02")


def test_an_unreadable_camera_read_keeps_looking(tracker):
    decision = tracker.observe_frame(1, [SymbolRead("]E00304092720011")])
    assert decision.status is Status.PENDING
    assert decision.reason == (
        "unreadable barcode: invalid check digit in EAN-13 0304092720011: expected 4, got 1"
    )
    assert tracker.observe_frame(2, []).reason == "no barcode in view"


def test_one_handheld_read_is_enough(tracker):
    decision = tracker.observe_handheld(upc(HEPARIN))
    assert decision.accepted


def test_a_handheld_scan_that_lost_its_separators_is_explained(tracker):
    merged = f"]d201{Gtin.from_ndc10(HEPARIN)}17281231" + "10LOT7" + "21SN1"
    decision = tracker.observe_handheld(merged)
    assert decision.status is Status.REFUSED
    assert decision.reason.startswith("GS1 data needs a separator after variable-length AI (10)")
