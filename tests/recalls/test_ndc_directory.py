"""The FDA NDC Directory, imported on both backends: the real shape of a barcode's digits."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from station.core.acceptance import AcceptanceTracker
from station.core.formulary import Formulary
from station.core.identifiers import Gtin, Ndc
from station.core.scan import parse_scan
from station.records.ndc_directory import (
    DirectoryError,
    NdcDirectory,
    not_in_formulary_message,
    parse_packages,
)
from tests.clock import FakeClock
from tests.station.builders import FORMULARY

PACKAGE_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "ndc_directory" / "package.txt"
HEADER = ("PRODUCTID\tPRODUCTNDC\tNDCPACKAGECODE\tPACKAGEDESCRIPTION\tSTARTMARKETINGDATE\t"
          "ENDMARKETINGDATE\tNDC_EXCLUDE_FLAG\tSAMPLE_PACKAGE\n")
PRODUCT_HEADER = ("PRODUCTID\tPRODUCTNDC\tPRODUCTTYPENAME\tPROPRIETARYNAME\t"
                  "PROPRIETARYNAMESUFFIX\tNONPROPRIETARYNAME\tDOSAGEFORMNAME\tROUTENAME\t"
                  "STARTMARKETINGDATE\tENDMARKETINGDATE\tMARKETINGCATEGORYNAME\t"
                  "APPLICATIONNUMBER\tLABELERNAME\tSUBSTANCENAME\tACTIVE_NUMERATOR_STRENGTH\t"
                  "ACTIVE_INGRED_UNIT\tPHARM_CLASSES\tDEASCHEDULE\tNDC_EXCLUDE_FLAG\t"
                  "LISTING_RECORD_CERTIFIED_THROUGH\n")


def _product(product_id, product_ndc, name, form, labeler, substance, strength, unit):
    return "\t".join([product_id, product_ndc, "HUMAN PRESCRIPTION DRUG", name, "", name,
                      form, "INTRAVENOUS", "20050623", "", "NDA", "NDA018803", labeler,
                      substance, strength, unit, "", "", "N", "20271231"]) + "\n"


PRODUCTS = PRODUCT_HEADER + "".join([
    _product("0409-4888_3b5c6c1e-2f0a-4d6b-9a41-7c2e8d0f5a13", "0409-4888", "Sodium Chloride",
             "INJECTION, SOLUTION", "Hospira, Inc.", "SODIUM CHLORIDE", "9", "mg/mL"),
    _product("63323-540_8e1f0c52-6a3d-4b7e-b1c9-2d4f6a8e0b35", "63323-540", "Ondansetron",
             "INJECTION, SOLUTION", "Fresenius Kabi USA, LLC", "ONDANSETRON HYDROCHLORIDE",
             "2", "mg/mL"),
    _product("55150-1234_5a9e7b3c-0d2f-4e81-a6c4-1b8d3f5e7a90", "55150-1234",
             "POTASSIUM CHLORIDE", "INJECTION, SOLUTION, CONCENTRATE", "AuroMedics Pharma LLC",
             "POTASSIUM CHLORIDE", "2", "meq/mL"),
])


#: The record's clock: it stands still.
clock = FakeClock(dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC))


@pytest.fixture
def directory(backend):
    found = NdcDirectory(backend.engine, clock)
    found.import_package_file(PACKAGE_FILE, PRODUCTS, by="rph.ben")
    return found


@pytest.mark.parametrize(
    ("digits", "ndc", "name"),
    [
        ("0409488802", "0409-4888-02", "Sodium Chloride 9 mg/mL"),  # 4-4-2
        ("6332354011", "63323-540-11", "Ondansetron 2 mg/mL"),  # 5-3-2
        ("5515012341", "55150-1234-1", "Potassium Chloride 2 meq/mL"),  # 5-4-1
    ],
)
def test_ten_digits_resolve_to_their_real_shape(directory, digits, ndc, name):
    [entry] = directory.lookup(digits)
    assert str(entry.ndc) == ndc
    assert entry.ndc.shape == Ndc.parse(ndc).shape
    assert entry.name == name
    assert directory.get(Ndc.parse(ndc).to_hipaa()) == [entry]


def test_labeler_and_description_come_along(directory):
    [entry] = directory.lookup("6332354011")
    assert entry.labeler == "Fresenius Kabi USA, LLC"
    assert entry.package_description.startswith("10 VIAL, SINGLE-DOSE in 1 TRAY (63323-540-11)")
    assert entry.as_json()["ndc_11"] == "63323-0540-11"


def test_unknown_digits_find_nothing_and_bad_digits_are_refused(directory):
    assert directory.lookup("0409488803") == []
    with pytest.raises(DirectoryError, match=r"^a 10-digit NDC was expected, got '040948880'$"):
        directory.lookup("040948880")


def test_without_the_product_file_a_package_is_named_by_its_description(backend):
    directory = NdcDirectory(backend.engine, clock)
    report = directory.import_package_file(PACKAGE_FILE, by="rph.ben")
    assert report.summary() == ("imported 7 package(s) of the FDA NDC Directory as batch 1 "
                                "(0 with a product name)")
    [entry] = directory.lookup("0409488802")
    assert entry.product_name == ""
    assert entry.name.startswith("25 VIAL, SINGLE-DOSE in 1 TRAY (0409-4888-02)")


def test_the_newest_import_is_the_directory(directory):
    assert directory.batch() == 1
    directory.import_package_file(HEADER + "0409-9999_x\t0409-9999\t0409-9999-01\t1 VIAL in 1 "
                                  "CARTON (0409-9999-01)\t20200101\t\tN\tN\n", by="rph.ben")
    assert directory.batch() == 2
    assert directory.lookup("0409488802") == []
    assert [str(e.ndc) for e in directory.lookup("0409999901")] == ["0409-9999-01"]


def test_digits_that_two_shapes_share_are_all_listed_never_guessed(backend):
    directory = NdcDirectory(backend.engine, clock)
    directory.import_package_file(
        HEADER
        + "0409-4888_a\t0409-4888\t0409-4888-02\t25 VIAL in 1 TRAY (0409-4888-02)\t\t\tN\tN\n"
        + "04094-888_b\t04094-888\t04094-888-02\t10 VIAL in 1 CARTON (04094-888-02)\t\t\tN\tN\n",
        by="rph.ben")
    found = directory.lookup("0409488802")
    assert [str(e.ndc) for e in found] == ["0409-4888-02", "04094-888-02"]
    scan = parse_scan("]E0" + "304094888026", 2026)
    assert not_in_formulary_message(scan, directory) == (
        "not in formulary: NDC digits 0409488802 could be 25 VIAL in 1 TRAY (0409-4888-02) "
        "0409-4888-02; 10 VIAL in 1 CARTON (04094-888-02) 04094-888-02 (from the FDA NDC "
        "Directory); none of them is stocked")


def test_a_scan_the_formulary_does_not_know_is_named_and_still_refused(directory):
    formulary = Formulary.from_mapping(FORMULARY)
    gtin = Gtin.from_ndc10("6332354011")
    text_read = f"]d201{gtin}17281231" + "10L1\x1d21S1"
    decision = AcceptanceTracker(formulary, 2026).observe_handheld(text_read)
    assert not decision.accepted
    assert decision.reason.startswith("not in formulary: unknown product")
    assert decision.identity is not None
    assert not_in_formulary_message(decision.identity, directory) == (
        "not in formulary: Ondansetron 2 mg/mL 63323-540-11 (from the FDA NDC Directory)")
    typed = parse_scan("55150-1234-1", 2026)
    assert not_in_formulary_message(typed, directory) == (
        "not in formulary: Potassium Chloride 2 meq/mL 55150-1234-1 (from the FDA NDC "
        "Directory)")
    assert not_in_formulary_message(parse_scan("0338-0049-99", 2026), directory) is None


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("", "package file is empty: expected a tab-separated header line"),
        ("ndc,lot,reason\n0409-4888-02,A,B\n",
         "package file line 1: missing column(s) PRODUCTID, PRODUCTNDC, NDCPACKAGECODE, "
         "PACKAGEDESCRIPTION; is this the FDA NDC Directory's tab-separated text file?"),
        (HEADER, "package file has a header and no packages"),
        (HEADER + "a\t0409-4888\t0409-4888-02\n",
         "package file line 2: expected 8 tab-separated fields, got 3"),
        (HEADER + "a\t0409-4888\t0409488802\td\t\t\tN\tN\n",
         "package file line 2: NDCPACKAGECODE '0409488802' must have hyphens "
         "(e.g. 0409-4888-02)"),
        (HEADER + "\na\t0409-4888\t0409-4888-02\td\t\t\tN\tN\n"
         "b\t0409-488\t0409-488-8002\td\t\t\tN\tN\n",
         "package file line 4: NDC 0409-488-8002 has segments 4-3-4: expected 4-4-2, 5-3-2 "
         "or 5-4-1 (10 digits), 5-4-2 (11) or 6-4-2 (12)"),
    ],
)
def test_a_bad_package_file_names_its_line(source, message):
    with pytest.raises(DirectoryError) as raised:
        parse_packages(source)
    assert str(raised.value) == message


def test_the_directory_is_append_only(backend, directory):
    for statement in ("UPDATE ndc_directory SET ndc = 'x'", "DELETE FROM ndc_directory"):
        with pytest.raises(DBAPIError, match="append-only"), backend.engine.begin() as c:
            c.execute(text(statement))
    assert len(directory.lookup("0409488802")) == 1


def run_cli(*argv):
    import argparse  # noqa: PLC0415
    import io  # noqa: PLC0415

    from station.cli.recalls import add_commands  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="station")
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    out = io.StringIO()
    return args.run(args, out), out.getvalue()


def test_ndc_import_and_lookup_on_the_command_line(backend, tmp_path, capsys):
    status, out = run_cli("ndc", "lookup", "0409488802", "--db", backend.url)
    assert status == 1
    assert capsys.readouterr().err == ("station ndc lookup: no FDA NDC Directory imported yet: "
                                       "run station ndc import first\n")
    products = tmp_path / "product.txt"
    products.write_text(PRODUCTS, encoding="utf-8")
    status, out = run_cli("ndc", "import", str(PACKAGE_FILE), "--products", str(products),
                          "--by", "rph.ben", "--db", backend.url)
    assert (status, out) == (0, "imported 7 package(s) of the FDA NDC Directory as batch 1 "
                                "(4 with a product name)\n")
    status, out = run_cli("ndc", "lookup", "6332354011", "--db", backend.url)
    assert (status, out) == (0, "63323-540-11  (11-digit 63323-0540-11)  Ondansetron 2 mg/mL "
                                "(Fresenius Kabi USA, LLC)\n")
    status, out = run_cli("ndc", "lookup", "1234567890", "--db", backend.url)
    assert (status, out) == (1, "")
    assert capsys.readouterr().err == (
        "station ndc lookup: 1234567890 is no package of the imported FDA NDC Directory in any "
        "shape (4-4-2, 5-3-2, 5-4-1)\n")
