"""Preparations through the real service, on both backends: record, replay, refuse."""

from __future__ import annotations

import pytest

from station.core.errors import WorkflowError
from station.core.workflow import Phase, ProductScanned, Started, Verified
from station.records.audit import verify_record
from station.services.preparations import SignatureRequired
from tests.records.builders import SIGNED_BY_BEN, RecordingTechnician
from tests.station.builders import NOW, order, scan_of


def test_a_whole_preparation_is_recorded_and_replays_to_the_same_state(service, version):
    tech = RecordingTechnician(service)
    created = service.create(order("RX1", ("0409-2720-01", "25000 units")), version, tech.user,
                             preparation_id="P-TEST1")
    prep = tech.do(created, Started(tech.user, tech.at))
    prep = tech.run_until(prep, {Phase.AWAITING_VERIFICATION})
    prep = service.record_event("P-TEST1", Verified("rph.ben", NOW), signature=SIGNED_BY_BEN)
    assert prep.phase is Phase.VERIFIED
    loaded = service.load("P-TEST1")
    assert loaded.phase is Phase.VERIFIED
    assert loaded.records == prep.records
    kinds = [e.kind for e in service.record.events.events_of("P-TEST1")]
    assert kinds[:3] == ["created", "started", "state_changed"]
    assert kinds[-2:] == ["verified", "state_changed"]
    verified = service.record.events.events_of("P-TEST1")[-2]
    assert verified.payload["signature"] == SIGNED_BY_BEN
    assert len(verified.payload["signed_head"]) == 64


def test_a_hard_stop_is_recorded_as_its_own_event(service, version):
    tech = RecordingTechnician(service)
    created = service.create(order("RX2", ("0409-2720-01", "25000 units")), version, tech.user,
                             preparation_id="P-TEST2")
    prep = tech.do(created, Started(tech.user, tech.at))
    wrong = version.formulary().by_ndc_text("0409-1888-10")
    prep = service.record_event("P-TEST2", ProductScanned(tech.user, NOW, scan_of(wrong), wrong))
    assert prep.phase is Phase.HARD_STOP
    stops = [e for e in service.record.events.events_of("P-TEST2") if e.kind == "hard_stop"]
    assert [s.payload["reason"] for s in stops] == ["wrong product"]
    assert service.load("P-TEST2").stop == prep.stop


def test_an_illegal_event_writes_nothing(service, version):
    created = service.create(order("RX3", ("0409-2720-01", "25000 units")), version, "tech.ana",
                             preparation_id="P-TEST3")
    with pytest.raises(WorkflowError):
        service.record_event(created.preparation_id, Verified("rph.ben", NOW),
                             signature=SIGNED_BY_BEN)
    assert [e.kind for e in service.record.events.events_of("P-TEST3")] == ["created"]


def test_the_record_of_a_preparation_passes_the_audit(service, version):
    tech = RecordingTechnician(service)
    created = service.create(order("RX4", ("0143-9924-90", "1 g")), version, tech.user,
                             preparation_id="P-TEST4")
    tech.run_until(tech.do(created, Started(tech.user, tech.at)), {Phase.AWAITING_VERIFICATION})
    report = verify_record(service.record.events, service.record.photos)
    assert report.intact, report.summary()
    assert report.events == len(service.record.events.events_of("P-TEST4"))
    assert report.photos >= 5


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        (None, r"^verified needs rph.ben's electronic signature \(password again\)$"),
        ({**SIGNED_BY_BEN, "user_id": "rph.eve"},
         r"^the signature is rph.eve's, but the verified is rph.ben's$"),
        ({**SIGNED_BY_BEN, "meaning": "rejected"},
         r"^the signature means rejected, not verified$"),
    ],
)
def test_a_decision_without_its_signature_writes_nothing(service, version, signature,
                                                          message):
    tech = RecordingTechnician(service)
    created = service.create(order("RX5", ("0409-2720-01", "25000 units")), version, tech.user,
                             preparation_id="P-TEST5")
    tech.run_until(tech.do(created, Started(tech.user, tech.at)), {Phase.AWAITING_VERIFICATION})
    written = len(service.record.events.events_of("P-TEST5"))
    with pytest.raises(SignatureRequired, match=message):
        service.record_event("P-TEST5", Verified("rph.ben", NOW), signature=signature)
    assert len(service.record.events.events_of("P-TEST5")) == written
