"""Searching the record, on both backends: every key, and the recall question answered exactly."""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import pytest

from station.core.identifiers import Ndc
from station.core.workflow import ProductScanned
from station.records.search import (
    OUTCOMES,
    SearchError,
    parse_ndc_query,
    search,
    summarize,
)
from station.records.store import StoredEvent
from tests.records.seeding import STATION, Seeded, station_command


def ids(found) -> list[str]:
    return [s.preparation_id for s in found]


def used_lots(seeded: Seeded) -> dict[str, set[str]]:
    """The oracle: each preparation's lots, from the scans its replay accepted."""
    service = seeded.service()
    lots: dict[str, set[str]] = {}
    for summary in seeded.found:
        prep = service.load(summary.preparation_id)
        lots[summary.preparation_id] = {
            str(attempt.event.scan.lot)
            for record in prep.records
            for attempt in record.attempts
            if attempt.accepted and isinstance(attempt.event, ProductScanned)
        }
    return lots


def every_scanned_lot(seeded: Seeded) -> set[str]:
    return {e.payload["lot"] for e in seeded.record.events.events()
            if e.kind == "product_scanned" and e.payload["lot"]}


# ------------------------------------------------------------------------------ lots


def test_no_key_lists_every_preparation(seeded):
    assert ids(search(seeded.found)) == list(seeded.report.preparation_ids)


def test_which_preparations_used_lot_x_is_answered_exactly(seeded):
    oracle = used_lots(seeded)
    lots = every_scanned_lot(seeded)
    assert len(lots) >= 6
    for lot in lots:
        expected = [p for p in seeded.report.preparation_ids if lot in oracle[p]]
        assert ids(search(seeded.found, lot=lot)) == expected, lot
        assert ids(search(seeded.found, lot=f"  {lot.lower()} ")) == expected
        if len(lot) > 1 and lot[:-1] not in lots:
            assert search(seeded.found, lot=lot[:-1]) == []  # whole lots only
    assert search(seeded.found, lot="NO-SUCH-LOT") == []


def test_a_lot_scanned_but_refused_did_not_go_into_the_preparation(seeded):
    refused = [s for s in seeded.found if s.refused_lots]
    assert refused, "the seed has a wrong product scanned and refused"
    for summary in refused:
        for lot in summary.refused_lots:
            assert lot not in summary.lots
            assert summary.preparation_id not in ids(search(seeded.found, lot=lot))


def test_summary_lots_are_the_replayed_ones(seeded):
    oracle = used_lots(seeded)
    for summary in seeded.found:
        assert set(summary.lots) == oracle[summary.preparation_id]


# ------------------------------------------------------------------------------ NDCs


def _shapes(ndc: Ndc) -> list[str]:
    hipaa = ndc.to_hipaa()
    shapes = [str(ndc), str(hipaa), hipaa.digits, str(ndc.to_twelve())]
    gtin = ndc.gtin()
    if gtin is not None:
        shapes.append(str(gtin))
    return shapes


def test_an_ndc_matches_in_any_shape_what_was_ordered_or_scanned(seeded):
    everything = {n for s in seeded.found for n in (*s.ordered_ndcs, *s.scanned_ndcs)}
    assert len(everything) >= 4
    for ndc in everything:
        expected = [s.preparation_id for s in seeded.found
                    if ndc in s.ordered_ndcs or ndc in s.scanned_ndcs]
        for shape in _shapes(ndc):
            assert ids(search(seeded.found, ndc=shape)) == expected, shape
        assert ids(search(seeded.found, ndc=ndc)) == expected


def test_scanned_ndcs_are_the_products_used(seeded):
    for summary in seeded.found:
        drugs_and_base = set(summary.ordered_ndcs)
        if summary.outcome != "cancelled":
            assert drugs_and_base <= set(summary.scanned_ndcs)


def test_ten_bare_digits_match_every_shape_they_could_be():
    assert parse_ndc_query("0409488802") == frozenset(
        {Ndc.parse("0409-4888-02"), Ndc.parse("04094-888-02"), Ndc.parse("04094-8880-2")})


def test_a_bad_ndc_is_refused_with_the_parsers_words(seeded):
    with pytest.raises(SearchError, match=r"^NDC '12345': expected 10, 11 or 12 digits, got 5$"):
        search(seeded.found, ndc="12345")


# ------------------------------------------------------------------------------ people, dates


def test_patient_by_id_or_part_of_the_name(seeded):
    summary = seeded.found[0]
    assert summary.patient_id is not None and summary.patient_name is not None
    by_id = [s.preparation_id for s in seeded.found if s.patient_id == summary.patient_id]
    assert ids(search(seeded.found, patient=summary.patient_id.lower())) == by_id
    family = summary.patient_name.split(",")[0]
    by_name = [s.preparation_id for s in seeded.found
               if family.lower() in (s.patient_name or "").lower()]
    assert ids(search(seeded.found, patient=family.upper())) == by_name
    assert search(seeded.found, patient=summary.patient_id[:-1]) == []  # whole ids only


def test_user_matches_the_preparer_or_the_pharmacist_who_decided(seeded):
    users = {u for s in seeded.found for u in (s.prepared_by, s.verified_by, s.rejected_by) if u}
    assert any(u.startswith("tech.") for u in users) and any(u.startswith("rph.") for u in users)
    for user in users:
        expected = [s.preparation_id for s in seeded.found
                    if user in (s.prepared_by, s.verified_by, s.rejected_by)]
        assert ids(search(seeded.found, user=user.upper())) == expected
    assert search(seeded.found, user="tech") == []  # whole user ids only


def test_dates_are_utc_days_with_both_ends_included(seeded):
    days = sorted({s.created_utc.date() for s in seeded.found})
    assert days == [dt.date(2026, 11, 26), dt.date(2026, 11, 27)]
    first = ids(search(seeded.found, date_to=days[0]))
    second = ids(search(seeded.found, date_from=days[1]))
    assert first and second and first + second == list(seeded.report.preparation_ids)
    assert ids(search(seeded.found, date_from=days[0], date_to=days[0])) == first
    assert ids(search(seeded.found, date_from=days[0], date_to=days[1])) == ids(seeded.found)
    assert search(seeded.found, date_from=dt.date(2026, 11, 28)) == []
    late = dt.datetime.combine(days[1], dt.time(20), tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert search(seeded.found, date_from=late) == []  # 20:00 at -05:00 is the next UTC day
    with pytest.raises(SearchError, match=r"^the start date 2026-11-27 is after the end date "
                                          r"2026-11-26$"):
        search(seeded.found, date_from=days[1], date_to=days[0])


# ------------------------------------------------------------------------------ outcome, drug


def test_outcome_filters_and_accepts_its_spellings(seeded):
    total = 0
    for outcome in OUTCOMES:
        found = search(seeded.found, outcome=outcome)
        assert all(s.outcome == outcome for s in found)
        total += len(found)
    assert total == len(seeded.found)
    waiting = ids(search(seeded.found, outcome="awaiting verification"))
    assert waiting
    assert ids(search(seeded.found, outcome="Awaiting-Verification")) == waiting
    assert ids(search(seeded.found, outcome="awaiting_verification")) == waiting
    with pytest.raises(SearchError, match=r"^unknown outcome 'done': expected one of verified, "
                                          r"rejected, cancelled, awaiting verification, "
                                          r"in progress$"):
        search(seeded.found, outcome="done")


def test_drug_is_part_of_a_drug_or_base_name_in_any_case(seeded):
    summary = seeded.found[0]
    word = summary.drugs[0].split()[0]
    expected = [s.preparation_id for s in seeded.found
                if any(word.lower() in n.lower() for n in (*s.drugs, s.base or ""))]
    assert summary.preparation_id in expected
    assert ids(search(seeded.found, drug=word.upper())) == expected
    with_base = [s.preparation_id for s in seeded.found if s.base is not None]
    assert ids(search(seeded.found, drug="0.9%")) == [
        s.preparation_id for s in seeded.found if s.base and "0.9%" in s.base]
    assert set(ids(search(seeded.found, drug="0.9%"))) <= set(with_base)


def test_keys_combine_with_and(seeded):
    summary = seeded.found[-1]
    assert summary.prepared_by is not None and summary.lots
    found = search(seeded.found, lot=summary.lots[0], user=summary.prepared_by,
                   outcome=summary.outcome, date_from=summary.created_utc.date(),
                   drug=summary.drugs[0])
    assert summary in found
    other = "verified" if summary.outcome != "verified" else "rejected"
    assert search(seeded.found, lot=summary.lots[0], outcome=other) == [
        s for s in search(seeded.found, lot=summary.lots[0]) if s.outcome == other]


@pytest.mark.parametrize("key", ["lot", "patient", "user", "drug"])
def test_an_empty_key_is_refused(seeded, key):
    with pytest.raises(SearchError, match=rf"^the {key} to search for is empty$"):
        search(seeded.found, **{key: "  "})


# ------------------------------------------------------------------------------ the fold


def _event(version: int, kind: str, payload: dict[str, object], user: str = "tech.ana"
           ) -> StoredEvent:
    return StoredEvent(version, "0" * 64, f"{version:064x}", "P-1", version, kind, "hood-1", user,
                       f"2026-11-26T15:00:{version:02d}+00:00", payload)


def _scan(version: int, lot: str, product: str | None) -> StoredEvent:
    return _event(version, "product_scanned", {"lot": lot, "product": product,
                                               "gtin": "00304094888026"})


def test_an_overridden_stop_puts_its_lot_into_the_preparation_a_retried_one_does_not():
    summary = summarize([
        _event(1, "created", {"order": {"order_id": "RX1", "patient": {"id": "MRN1"}},
                              "formulary_version": 1}),
        _event(2, "started", {}),
        _event(3, "state_changed", {"from": "ready", "to": "in progress"}),
        _scan(4, "L-WRONG", "0409-1888-10"),
        _event(5, "hard_stop", {"reason": "wrong product"}),
        _event(6, "state_changed", {"from": "in progress", "to": "hard stop"}),
        _event(7, "retried", {}),
        _event(8, "state_changed", {"from": "hard stop", "to": "in progress"}),
        _scan(9, "L-UNREADABLE", None),
        _event(10, "hard_stop", {"reason": "not in formulary"}),
        _event(11, "state_changed", {"from": "in progress", "to": "hard stop"}),
        _event(12, "overridden", {"reason": "checked the carton"}, "rph.ben"),
        _event(13, "state_changed", {"from": "hard stop", "to": "in progress"}),
        _scan(14, "L-OK", "0409-4888-02"),
        _scan(15, "L-STOPPED", "0409-4888-02"),
        _event(16, "hard_stop", {"reason": "expired lot"}),
        _event(17, "state_changed", {"from": "in progress", "to": "hard stop"}),
    ])
    assert summary.lots == ("L-UNREADABLE", "L-OK")
    assert summary.refused_lots == ("L-WRONG", "L-STOPPED")
    # The unresolved scan counts by what its GTIN's ten digits could be.
    assert Ndc.parse("0409-4888-02") in summary.scanned_ndcs
    assert Ndc.parse("0409-1888-10") not in summary.scanned_ndcs
    assert (summary.state, summary.outcome, summary.hard_stops) == ("hard stop", "in progress", 3)
    assert (summary.patient_id, summary.patient_name, summary.drugs) == ("MRN1", None, ())


# ------------------------------------------------------------------------------ the command


def test_search_command_json_lists_the_matching_preparations(seeded, capsys):
    status, out = station_command("audit", "search", "--db", seeded.url, "--json")
    assert status == 0, capsys.readouterr().err
    listed = json.loads(out)
    assert [d["id"] for d in listed] == ids(seeded.found)
    for document, summary in zip(listed, seeded.found, strict=True):
        assert {"id", "state", "drug", "patient", "prepared_by", "lots"} <= set(document)
        assert document == summary.as_json()
        assert document["patient"] == summary.patient_id
    lot = seeded.found[0].lots[0]
    status, out = station_command("audit", "search", "--db", seeded.url, "--lot", lot, "--json")
    assert [d["id"] for d in json.loads(out)] == ids(search(seeded.found, lot=lot))


def test_search_command_prints_a_table(seeded):
    status, out = station_command("audit", "search", "--db", seeded.url, "--outcome", "verified")
    verified = search(seeded.found, outcome="verified")
    lines = out.splitlines()
    assert status == 0
    assert lines[0].split()[:3] == ["PREPARATION", "OUTCOME", "CREATED"]
    assert lines[-1] == f"{len(verified)} preparation{'s' if len(verified) != 1 else ''}"
    for line, summary in zip(lines[1:-1], verified, strict=True):
        assert line.startswith(summary.preparation_id)
        assert summary.verified_by in line and summary.prepared_by in line
        assert summary.lots[0] in line
    status, out = station_command("audit", "search", "--db", seeded.url, "--lot", "NO-SUCH-LOT")
    assert (status, out) == (0, "0 preparations\n")


@pytest.mark.parametrize(("argv", "message"), [
    (("--outcome", "done"), "unknown outcome 'done': expected one of verified, rejected, "
                            "cancelled, awaiting verification, in progress"),
    (("--from", "2026-13-01"), "--from '2026-13-01' is not a date: expected YYYY-MM-DD"),
    (("--ndc", "12345"), "NDC '12345': expected 10, 11 or 12 digits, got 5"),
    (("--from", "2026-11-27", "--to", "2026-11-26"),
     "the start date 2026-11-27 is after the end date 2026-11-26"),
])
def test_search_command_errors_are_one_line(seeded, argv, message, capsys):
    status, out = station_command("audit", "search", "--db", seeded.url, *argv)
    assert (status, out) == (1, "")
    assert capsys.readouterr().err == f"station audit search: {message}\n"


@pytest.mark.slow  # a child process
def test_station_audit_search_runs_as_a_process_once_wired(seeded):
    wired = subprocess.run([str(STATION), "audit", "search", "--help"], capture_output=True,
                           text=True, check=False, timeout=60)
    if wired.returncode != 0:
        pytest.skip("`station audit search` is not wired into station.cli.main yet")
    lot = seeded.found[0].lots[0]
    result = subprocess.run([str(STATION), "audit", "search", "--db", seeded.url, "--lot", lot,
                             "--json"], capture_output=True, text=True, check=False, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
    assert [d["id"] for d in json.loads(result.stdout)] == ids(search(seeded.found, lot=lot))
