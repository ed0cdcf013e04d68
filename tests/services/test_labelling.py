"""The label desk: the label's BUD is the record's, every print is an event, it really prints."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import pytest

from station.core.beyond_use import preparation_bud, started_at
from station.core.bud import BudTable
from station.core.errors import WorkflowError
from station.core.formulary import CompoundingCategory, Storage
from station.core.label import format_time
from station.core.recipe import StepKind
from station.core.workflow import (
    Event,
    LabelScanned,
    Phase,
    Preparation,
    ProductScanned,
    apply,
)
from station.devices.labels import PREPARATION_SIZE, VIAL_SIZE
from station.devices.labels.printer import ZplPrinter
from station.devices.labels.printing import PrintError
from station.services.labelling import LabelDesk
from tests.services.desks import HEPARIN, KCL, decoded, file_printer, formulary, prepared
from tests.station.builders import NOW, Technician, scan_of

TABLE = BudTable.load()
AT = NOW + dt.timedelta(minutes=20)


def test_the_label_carries_the_records_bud_and_prints_to_a_file(tmp_path):
    catalogue = formulary()
    prep = prepared(catalogue, HEPARIN, "5000 units", until=StepKind.LABEL)
    desk = LabelDesk(catalogue, TABLE, file_printer(tmp_path))
    event, content = desk.label_event(prep, user="tech.ana", at=AT)
    bud = preparation_bud(prep, TABLE)
    assert (event.beyond_use, event.bud_rule) == (bud.until, bud.rule)
    assert (content.beyond_use, content.bud_rule) == (bud.until, bud.rule)
    assert content.compounded_at == started_at(prep) == NOW
    assert (event.category, event.storage) == (CompoundingCategory.CATEGORY_1, Storage.ROOM)
    assert (content.category, content.storage) == (event.category, event.storage)
    assert (event.copy, event.reason, event.user, event.at) == (1, "", "tech.ana", AT)
    assert event.printer == f"file://{tmp_path / 'label.zpl'}"
    assert content.barcode == prep.preparation_id
    assert format_time(bud.until) in content.texts() and bud.rule in content.texts()

    labelled = apply(prep, event)
    png = desk.print(content)
    assert decoded(png) == [prep.preparation_id]
    zpl = (tmp_path / "label.zpl").read_text(encoding="utf-8")
    assert zpl.startswith("^XA") and zpl.rstrip().endswith("^XZ")
    assert f"^FD{prep.preparation_id}^FS" in zpl
    assert f"^FDBUD {format_time(bud.until)}^FS" in zpl
    scanned = apply(labelled, LabelScanned("tech.ana", AT, decoded(png)[0]))
    assert scanned.record(prep.step.number).accepted is not None


def test_a_reprint_is_a_second_event_that_needs_a_reason(tmp_path):
    catalogue = formulary()
    prep = prepared(catalogue, HEPARIN, "5000 units", until=StepKind.LABEL)
    desk = LabelDesk(catalogue, TABLE, file_printer(tmp_path))
    first, _ = desk.label_event(prep, user="tech.ana", at=AT)
    prep = apply(prep, first)
    again, _ = desk.label_event(prep, user="tech.ana", at=AT)
    assert again.copy == 2
    with pytest.raises(WorkflowError, match="printing the label again needs a reason"):
        apply(prep, again)
    smudged, content = desk.label_event(prep, user="tech.ana", at=AT, reason=" label smudged ")
    assert (smudged.copy, smudged.reason) == (2, "label smudged")
    prep = apply(prep, smudged)
    assert [e.copy for e in prep.record(prep.step.number).labels] == [1, 2]
    assert decoded(desk.print(content)) == [prep.preparation_id]


def test_the_label_is_refused_before_the_final_check(tmp_path):
    catalogue = formulary()
    prep = prepared(catalogue, HEPARIN, "5000 units", until=StepKind.ACTION)
    desk = LabelDesk(catalogue, TABLE, file_printer(tmp_path))
    event, _ = desk.label_event(prep, user="tech.ana", at=AT)
    with pytest.raises(WorkflowError, match="the label prints at the label step"):
        apply(prep, event)
    assert not (tmp_path / "label.zpl").exists()


def test_category_3_shows_its_prerequisites_and_keeps_refrigerated(tmp_path):
    terms = {"category": "category_3", "storage": "refrigerated", "sterility_tested": True,
             "prerequisites": "sterility USP <71> and endotoxin USP <85> passed; stability "
                              "study SS-2026-04"}
    catalogue = formulary(**{HEPARIN: {"compounded": terms}})
    prep = prepared(catalogue, HEPARIN, "5000 units", until=StepKind.LABEL)
    desk = LabelDesk(catalogue, TABLE, file_printer(tmp_path))
    event, content = desk.label_event(prep, user="tech.ana", at=AT)
    assert (event.category, event.storage) == (CompoundingCategory.CATEGORY_3,
                                                Storage.REFRIGERATED)
    assert event.beyond_use == preparation_bud(prep, TABLE).until
    assert content.prerequisites == terms["prerequisites"]
    assert content.storage_instruction == "Refrigerate at 2-8 °C. Do not freeze"
    desk.print(content)
    zpl = (tmp_path / "label.zpl").read_text(encoding="utf-8")
    assert "Category 3 on: sterility USP <71>" in zpl
    assert "Refrigerate at 2-8 _C2_B0C" in zpl


@dataclass
class ShortDatedTechnician(Technician):
    """Scans packages that expire tomorrow."""

    def right_event(self, prep: Preparation) -> Event:
        event = super().right_event(prep)
        if isinstance(event, ProductScanned):
            assert event.product is not None
            return replace(event, scan=scan_of(event.product, expiry="261127"))
        return event


def test_an_expiring_component_caps_the_label_like_everywhere_else(tmp_path):
    terms = {"category": "category_2", "storage": "refrigerated"}
    catalogue = formulary(**{KCL: {"compounded": terms}})
    prep = prepared(catalogue, KCL, "10 mEq", until=StepKind.LABEL,
                    tech=ShortDatedTechnician())
    desk = LabelDesk(catalogue, TABLE, file_printer(tmp_path))
    event, content = desk.label_event(prep, user="tech.ana", at=AT)
    tomorrow_end = dt.datetime(2026, 11, 27, 23, 59, 59, 999999, tzinfo=NOW.tzinfo)
    assert content.beyond_use == preparation_bud(prep, TABLE).until == event.beyond_use
    assert event.beyond_use == tomorrow_end
    assert "expir" in event.bud_rule


def test_an_unreachable_printer_raises_and_prints_nothing(tmp_path):
    catalogue = formulary()
    prep = prepared(catalogue, HEPARIN, "5000 units", until=StepKind.LABEL)
    printer = ZplPrinter("tcp://127.0.0.1:9", size=PREPARATION_SIZE, vial_size=VIAL_SIZE,
                         timeout=2)
    desk = LabelDesk(catalogue, TABLE, printer)
    event, content = desk.label_event(prep, user="tech.ana", at=AT)
    assert event.printer == "tcp://127.0.0.1:9"
    with pytest.raises(PrintError, match=r"^cannot send the label to tcp://127.0.0.1:9: "):
        desk.print(content)
    assert prep.phase is Phase.IN_PROGRESS
