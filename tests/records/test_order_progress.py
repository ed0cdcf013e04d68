"""Which orders a preparation stands for, folded from the record as it grows (both backends)."""

from __future__ import annotations

import pytest

from station.core.errors import StationError
from station.core.workflow import Cancelled, Phase, Rejected, Started
from station.services.order_progress import OrderProgress
from station.services.preparations import RecordError
from tests.records.builders import RecordingTechnician
from tests.station.builders import NOW, order

HEPARIN = ("0409-2720-01", "25000 units")


def test_an_order_leaves_the_worklist_when_started_and_comes_back_when_cancelled(service,
                                                                                 version):
    progress = OrderProgress(service.record.events)
    orders = [order("RX1", HEPARIN), order("RX2", HEPARIN)]
    progress.refresh()
    assert [o.order_id for o in progress.to_make(orders)] == ["RX1", "RX2"]
    created = service.create(orders[0], version, "tech.ana")
    service.record_event(created.preparation_id, Started("tech.ana", NOW))
    progress.refresh()
    assert [o.order_id for o in progress.to_make(orders)] == ["RX2"]
    taken = progress.taken("RX1")
    assert taken is not None
    assert (taken.phase, taken.station_id, taken.user_id) == (Phase.IN_PROGRESS, "hood-1",
                                                              "tech.ana")
    assert progress.open_at("hood-1", "tech.ana") == [taken]
    assert progress.open_at("hood-2", "tech.ana") == []
    service.record_event(created.preparation_id, Cancelled("tech.ana", NOW, "order changed"))
    progress.refresh()
    assert [o.order_id for o in progress.to_make(orders)] == ["RX1", "RX2"]
    assert [p.phase for p in progress.preparations_of("RX1")] == [Phase.CANCELLED]


def test_a_refresh_reads_only_what_was_appended_since(service, version):
    progress = OrderProgress(service.record.events)
    service.create(order("RX1", HEPARIN), version, "tech.ana")
    progress.refresh()
    assert progress.taken("RX1").phase is Phase.READY
    progress.refresh()  # nothing new: the same answer
    assert len(progress.preparations_of("RX1")) == 1


SIGNED_REJECTED = {"user_id": "rph.ben", "printed_name": "Ben Ruiz", "meaning": "rejected",
                   "utc": "2026-11-26T15:30:00+00:00"}


def _rejected(service, version, order_id: str) -> str:
    tech = RecordingTechnician(service)
    created = service.create(order(order_id, HEPARIN), version, tech.user)
    tech.run_until(tech.do(created, Started(tech.user, tech.at)), {Phase.AWAITING_VERIFICATION})
    service.record_event(created.preparation_id, Rejected("rph.ben", NOW, "particles seen"),
                         signature=SIGNED_REJECTED)
    return created.preparation_id


def test_a_rejected_preparation_returns_its_order_as_a_remake_linked_to_it(service, version):
    progress = OrderProgress(service.record.events)
    orders = [order("RX1", HEPARIN), order("RX2", HEPARIN)]
    rejected = _rejected(service, version, "RX1")
    progress.refresh()
    assert [o.order_id for o in progress.to_make(orders)] == ["RX1", "RX2"]
    assert progress.remake_of("RX1") == rejected
    assert progress.remake_of("RX2") is None
    assert progress.remakes(orders) == {"RX1": rejected}

    remake = service.create(orders[0], version, "tech.raj", remake_of=rejected)
    assert service.record.events.events_of(remake.preparation_id)[0].payload["remake_of"] \
        == rejected
    progress.refresh()
    assert progress.remake_of("RX1") is None  # the remake stands for the order now
    assert progress.taken("RX1").remake_of == rejected
    assert progress.remakes(orders) == {}

    service.record_event(remake.preparation_id, Cancelled("tech.raj", NOW, "started by mistake"))
    progress.refresh()
    assert progress.remake_of("RX1") == rejected  # still to remake the same rejected one


def test_a_cancelled_preparation_is_no_remake(service, version):
    progress = OrderProgress(service.record.events)
    created = service.create(order("RX1", HEPARIN), version, "tech.ana")
    service.record_event(created.preparation_id, Cancelled("tech.ana", NOW, "order changed"))
    progress.refresh()
    assert progress.remake_of("RX1") is None


def test_a_remake_must_name_a_rejected_preparation_of_the_same_order(service, version):
    rejected = _rejected(service, version, "RX1")
    open_one = service.create(order("RX2", HEPARIN), version, "tech.ana")
    with pytest.raises(StationError, match=r"^P-\w+ is ready: only a rejected preparation "
                                           r"is remade$"):
        service.create(order("RX2", HEPARIN), version, "tech.ana",
                       remake_of=open_one.preparation_id)
    with pytest.raises(StationError, match=f"^{rejected} was made for order RX1, not RX2$"):
        service.create(order("RX2", HEPARIN), version, "tech.ana", remake_of=rejected)
    with pytest.raises(RecordError):
        service.create(order("RX1", HEPARIN), version, "tech.ana", remake_of="P-NOSUCH")
