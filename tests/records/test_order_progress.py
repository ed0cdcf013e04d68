"""Which orders a preparation stands for, folded from the record as it grows (both backends)."""

# ruff: noqa: F811 (the service and version fixtures are imported from test_preparations)

from __future__ import annotations

from station.core.workflow import Cancelled, Phase, Started
from station.order_progress import OrderProgress
from tests.records.test_preparations import service, version  # noqa: F401
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
