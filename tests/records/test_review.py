"""The review model of a preparation's record, on both backends: hand-made and seeded."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from station.core.accounts import Signature
from station.core.recipe import StepKind
from station.core.workflow import (
    Cancelled,
    InProcessChecked,
    Phase,
    ProductScanned,
    Started,
)
from station.records.search import summaries
from station.records.store import NewEvent
from station.services.review.build import UnknownPreparation, review_preparation
from station.services.review.model import ALERT, NOTE
from tests.records.builders import (
    HEPARIN,
    OVERRIDE_REASON,
    PREPARATION,
    RECALL,
    SIGNED_BY_BEN,
    SYRINGE_TARE,
    WRONG_HEPARIN,
    PhotographingTechnician,
    make_preparation,
)
from tests.station.builders import NOW, order, scan_of


@pytest.fixture
def reviewed(service, version):
    return review_preparation(service, make_preparation(service, version))


def test_the_review_holds_the_order_the_steps_and_the_outcome(reviewed, service):
    review = reviewed
    assert review.preparation_id == PREPARATION and review.phase is Phase.VERIFIED
    assert review.order.order_id == "RX-REVIEW" and review.order.patient.name == "Doe, Jane"
    assert review.description == "Heparin Sodium 25,000 units in Sodium Chloride 0.9% 100 mL"
    assert review.preparer == "tech.ana" and review.stations == ("hood-1",)
    assert review.balances == ("MT-B123456789",)
    assert review.formulary_version == 1
    assert [s.number for s in review.steps] == list(range(1, 11))
    assert all(s.done for s in review.steps)
    stored = service.record.events.events_of(PREPARATION)
    assert review.last_hash == stored[-1].hash
    assert review.created_utc == stored[0].utc
    held = next(e for e in stored if e.kind == "state_changed"
                and e.payload["to"] == "awaiting verification")
    assert review.held_utc == held.utc
    assert review.warnings == ("HIGH-ALERT MEDICATION",)
    assert [(c.name, c.lot) for c in review.components] == [
        ("Sodium Chloride 0.9%", "L2405A"), ("Heparin Sodium", "L2405A")]
    assert review.components[1].manufacturer == "Hospira"
    assert review.components[1].expiry == dt.date(2028, 12, 31)


def test_a_step_keeps_every_attempt_stop_retry_and_photo(reviewed):
    base_scan = reviewed.step(1)
    assert [s.accepted for s in base_scan.scans] == [False, True]
    assert base_scan.scans[0].recall_notice == RECALL
    assert base_scan.scans[0].resolution == "retried by tech.ana"
    assert base_scan.retries == 1 and base_scan.stops[0].startswith("recalled: lot R0420")
    vial = reviewed.step(3)
    assert vial.kind is StepKind.SCAN
    assert vial.scans[0].expected == ("Heparin Sodium 5,000 units/mL (NDC 0409-2720-01)",)
    assert vial.scans[0].scanned == "Heparin Sodium 1,000 units/mL (NDC 0409-1888-10)"
    assert vial.scans[0].problem.startswith("wrong product: scanned Heparin Sodium 1,000")
    assert (vial.scans[1].ndc, vial.scans[1].lot, vial.scans[1].serial) == (
        HEPARIN, "L2405A", "SNL2405A")
    assert vial.retries == 2 and len(vial.stops) == 2
    assert [p.problem for p in vial.photos] == ["too blurred to read the lot", None]
    assert vial.override is None and vial.check is None


def test_weighings_carry_the_check_the_raw_line_and_the_override(reviewed):
    tare = reviewed.step(4).weights[0]
    assert (tare.reading, tare.net, tare.verifiable, tare.accepted) == (
        SYRINGE_TARE, None, None, True)
    assert tare.raw == "S S     12.000 g"
    draw = reviewed.step(5)
    (weight,) = draw.weights
    assert weight.accepted and weight.overridden
    assert weight.before == SYRINGE_TARE and weight.reference_step == 4
    assert weight.expected_net == Decimal("5.1409")  # 5.09 mL (the aim) × SG 1.010
    assert weight.net == Decimal("5.758")
    assert weight.deviation_percent == Decimal("12.00")
    assert weight.tolerance_percent == Decimal("5") and weight.verifiable
    assert weight.problem.startswith("out of tolerance: 5.758 g weighed, 5.141 g expected")
    assert weight.expected_dose == ("25,450 units (the 25,000 units dose and what a 10 mL "
                                    "syringe keeps)")
    assert draw.override is not None
    assert draw.override.reason == OVERRIDE_REASON
    assert draw.override.manifestation == (
        "Lee Nakamura, PharmD (rph.lee) — override-approved — 2026-11-26 15:20:00 UTC")
    emptied = reviewed.step(7).weights[0]
    assert emptied.delivered and emptied.reference_step == 5
    assert emptied.before == SYRINGE_TARE + Decimal("5.758")  # the filled syringe's reading
    assert emptied.net == Decimal("5.667")  # the accepted overdraw, less what the hub kept
    final = reviewed.step(8).weights[0]
    assert final.expected_net == Decimal("5.667") and final.net == Decimal("5.911")
    assert final.deviation_percent == Decimal("4.31")
    (syringe,) = reviewed.syringes
    assert (syringe.drawn, syringe.delivered, syringe.left) == (
        Decimal("5.758"), Decimal("5.667"), Decimal("0.091"))


def test_flags_put_overrides_and_stops_first_then_the_notes(reviewed):
    flags = [(f.level, f.step, f.text) for f in reviewed.flags]
    stop = "out of tolerance: 5.758 g weighed, 5.141 g expected: +12.0% is outside ±5.0%"
    assert flags == [
        (ALERT, 5, f"Step 5: override by Lee Nakamura, PharmD (rph.lee): {OVERRIDE_REASON} — "
                   f"it cleared: {stop}"),
        (ALERT, 3, "Step 3: hard stop — wrong product: scanned Heparin Sodium 1,000 units/mL "
                   "(NDC 0409-1888-10); this step needs Heparin Sodium 5,000 units/mL "
                   "(NDC 0409-2720-01); retried by tech.ana"),
        (ALERT, 5, f"Step 5: hard stop — {stop}; overridden by Lee Nakamura, PharmD (rph.lee)"),
        (ALERT, 1, f"Step 1: recalled lot R0420 of Sodium Chloride 0.9%: {RECALL}; refused, "
                   "retried by tech.ana"),
        (NOTE, 8, "Step 8: near tolerance: +4.3 % of ±5 % — Weigh the final container"),
        (NOTE, 3, "Step 3: photo refused — too blurred to read the lot; retried by tech.ana"),
    ]
    assert len(reviewed.alerts) == 4


def test_the_timeline_is_every_stored_event_in_order_with_its_phase(reviewed, service):
    stored = service.record.events.events_of(PREPARATION)
    timeline = reviewed.timeline
    assert len(timeline) == len(stored) == reviewed.events
    assert [(t.sequence, t.kind, t.hash) for t in timeline] == [
        (e.sequence, e.kind, e.hash) for e in stored]
    assert timeline[0].phase == "ready" and timeline[-1].phase == "verified"
    for entry, event in zip(timeline, stored, strict=True):
        if event.kind == "state_changed":
            assert entry.phase == event.payload["to"]
            assert entry.summary == f"Now {event.payload['to']} (was {event.payload['from']})"
        if event.kind == "photo_taken":
            assert entry.photo == event.payload["photo"] and entry.step is not None
        assert (entry.weight is not None) == (event.kind == "weight_read")
        assert (entry.scan is not None) == (event.kind == "product_scanned")
        assert entry.summary
    stop = next(t for t in timeline if t.kind == "hard_stop" and t.step == 5)
    assert stop.phase == "hard stop"
    assert stop.summary.startswith("Hard stop at step 5: out of tolerance")
    read = next(t for t in timeline if t.weight is not None and t.step == 5)
    assert read.weight is reviewed.step(5).weights[0]
    assert read.summary == (
        "Read 17.758 g on balance MT-B123456789: net 5.758 g, expected 5.141 g (+12.00 % of "
        "±5 %): out of tolerance: 5.758 g weighed, 5.141 g expected: +12.0% is outside ±5.0%")
    assert timeline[0].summary == (
        "Order RX-REVIEW for Doe, Jane (MRN100) recorded: 10 steps, formulary version 1")
    override = next(t for t in timeline if t.kind == "overridden")
    assert override.step == 5 and override.user_id == "rph.lee"
    assert override.signature == reviewed.step(5).override


def test_signatures_show_the_manifestation_of_the_record(reviewed, service):
    signed = [e.payload["signature"] for e in service.record.events.events_of(PREPARATION)
              if "signature" in e.payload]
    assert [s.manifestation for s in reviewed.signatures] == [
        Signature.from_payload(p).manifestation() for p in signed]
    assert [s.meaning for s in reviewed.signatures] == ["override-approved", "verified"]
    assert reviewed.decision == reviewed.signatures[-1]
    assert reviewed.decision.manifestation == (
        "Ben Ruiz (rph.ben) — verified — 2026-11-26 15:30:00 UTC")


def test_an_unknown_preparation_is_a_clear_error(service, version):
    with pytest.raises(UnknownPreparation, match="no preparation 'P-NOPE' in the record"):
        review_preparation(service, "P-NOPE")


def test_a_preparation_in_progress_has_open_steps_and_an_open_stop(service, version):
    tech = PhotographingTechnician(service)
    formulary = version.formulary()
    created = service.create(order("RX-OPEN", (HEPARIN, "25000 units")), version, tech.user,
                             preparation_id="P-OPEN")
    prep = tech.do(created, Started(tech.user, tech.at))
    wrong = formulary.by_ndc_text(WRONG_HEPARIN)
    tech.do(prep, ProductScanned(tech.user, NOW, scan_of(wrong), wrong))
    review = review_preparation(service, "P-OPEN")
    assert review.phase is Phase.HARD_STOP and review.held_utc is None
    assert not any(s.done for s in review.steps)
    assert review.components == () and review.decision is None and review.signatures == ()
    assert [f.text.rsplit("; ", 1)[1] for f in review.flags] == ["not cleared yet"]


def test_a_failed_in_process_check_is_the_decision_and_a_cancel_ends_a_stop(service, version):
    tech = PhotographingTechnician(service)
    created = service.create(order("RX-KCL", ("55150-1234-1", "20 mEq")), version, tech.user,
                             preparation_id="P-KCL")
    prep = tech.run_until(tech.do(created, Started(tech.user, tech.at)),
                          {Phase.AWAITING_CHECK})
    check_step = prep.current
    signed = {**SIGNED_BY_BEN, "meaning": "in-process-checked"}
    service.record_event("P-KCL", InProcessChecked("rph.ben", NOW, approved=False,
                                                   reason="syringe drawn from the wrong vial"),
                         signature=signed)
    review = review_preparation(service, "P-KCL")
    assert review.phase is Phase.REJECTED
    assert review.decision is not None and review.decision.meaning == "in-process-checked"
    assert review.decision.reason == "syringe drawn from the wrong vial"
    assert review.step(check_step).check == (review.decision, False)
    assert not review.step(check_step).done

    created = service.create(order("RX-CANCEL", (HEPARIN, "25000 units")), version, tech.user,
                             preparation_id="P-CANCEL")
    prep = tech.do(created, Started(tech.user, tech.at))
    wrong = version.formulary().by_ndc_text(WRONG_HEPARIN)
    prep = tech.do(prep, ProductScanned(tech.user, NOW, scan_of(wrong), wrong))
    tech.do(prep, Cancelled(tech.user, NOW, "order discontinued"))
    review = review_preparation(service, "P-CANCEL")
    assert review.cancellation == ("tech.ana", "order discontinued")
    assert review.flags[0].text.endswith("; the preparation was cancelled by tech.ana")
    assert review.timeline[-2].summary == "Cancelled by tech.ana: order discontinued"


def test_a_decision_without_a_signature_is_flagged(service, version):
    # A record written before signatures were required: shown, and flagged, not hidden.
    make_preparation(service, version)
    stored = service.record.events.events_of(PREPARATION)
    verified = next(e for e in stored if e.kind == "verified")
    payload = {k: v for k, v in verified.payload.items() if k not in ("signature",
                                                                       "signed_head")}
    service.record.events.append(NewEvent("P-LEGACY", "created", stored[0].payload,
                                          "tech.ana", "hood-1", NOW), 0)
    for version_number, event in enumerate(stored[1:], start=1):
        body = payload if event.sequence == verified.sequence else event.payload
        if event.kind == "label_scanned":
            body = {**body, "text": "P-LEGACY"}
        service.record.events.append(NewEvent("P-LEGACY", event.kind, body, event.user_id,
                                              event.station_id, NOW), version_number)
    review = review_preparation(service, "P-LEGACY")
    assert review.decision is not None
    assert review.decision.printed_name == "(no signature recorded)"
    assert "verified recorded without an electronic signature" in [
        f.text for f in review.alerts]


# ------------------------------------------------------------------------------ seeded


def test_every_seeded_preparation_reads_back_as_search_and_the_store_say(seeded):
    service = seeded.service()
    found = {s.preparation_id: s for s in summaries(
        seeded.record.events, service.versions)}
    kinds = set()
    for preparation_id in seeded.report.preparation_ids:
        review = review_preparation(service, preparation_id)
        stored = seeded.record.events.events_of(preparation_id)
        summary = found[preparation_id]
        assert len(review.timeline) == len(stored)
        assert review.phase.value == summary.state
        assert review.preparer == summary.prepared_by
        assert review.stations == summary.stations
        assert list(dict.fromkeys(c.lot for c in review.components)) == list(summary.lots)
        assert sum(len(s.stops) for s in review.steps) == summary.hard_stops
        assert len(review.alerts) == summary.hard_stops  # seeded stops are all retried
        assert review.last_hash == stored[-1].hash
        assert {w.balance_id for s in review.steps for w in s.weights} == set(review.balances)
        assert all(w.raw.startswith("S S ") for s in review.steps for w in s.weights)
        for signature in review.signatures:
            assert signature.printed_name.endswith("PharmD")
            assert signature.manifestation.startswith(signature.printed_name)
        kinds |= {s.meaning for s in review.signatures}
        if summary.verified_by is not None:
            assert review.decision is not None and review.decision.user_id == summary.verified_by
    assert {"verified", "rejected", "in-process-checked"} <= kinds


def test_event_times_keep_the_site_offset_and_the_timeline_is_utc(reviewed):
    assert reviewed.step(1).scans[0].at == NOW
    assert reviewed.step(1).scans[0].at.utcoffset() == dt.timedelta(hours=-6)
    assert all(t.utc.utcoffset() == dt.timedelta(0) for t in reviewed.timeline)
