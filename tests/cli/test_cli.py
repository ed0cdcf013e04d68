"""The `station` command, run as a real process: output, exit status, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

STATION = Path(sys.executable).with_name("station")

FORMULARY = """
[[product]]
ndc = "0409-4888-02"
name = "Sodium Bicarbonate"
manufacturer = "Hospira"
strength = "8.4% (1 mEq/mL), 50 mL"
dosage_form = "injection, solution"
concentration = "1 mEq/mL"
specific_gravity = "1.06"
container_volume_ml = "50"

[[product]]
ndc = "04094-888-02"
name = "Made-up Twin A"
manufacturer = "Example Labs"
strength = "1 mg/mL"
dosage_form = "injection, solution"
concentration = "1 mg/mL"
specific_gravity = "1.00"
container_volume_ml = "10"

[[product]]
ndc = "63323-540-11"
name = "Cefazolin"
manufacturer = "Fresenius Kabi"
strength = "1 g"
dosage_form = "powder for solution"
concentration = "330 mg/mL"
specific_gravity = "1.08"
container_volume_ml = "3.03"
"""


def station(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(STATION), *args], capture_output=True, text=True, check=False,
                          env=env, timeout=60)


@pytest.fixture
def formulary_file(tmp_path: Path) -> Path:
    path = tmp_path / "formulary.toml"
    path.write_text(FORMULARY)
    return path


def test_help_lists_every_command_with_a_description():
    result = station("--help")
    assert result.returncode == 0
    for command in ("parse", "formulary", "orders", "recipe"):
        assert command in result.stdout
    assert "parse one barcode scan" in result.stdout


def test_parse_json_has_every_key_even_when_absent():
    result = station("parse", "--json", "0363323540111")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["gtin"] == "00363323540111"
    assert document["ndc10"] == "6332354011"
    assert document["ndc_candidates"] == ["06332-3540-11", "63323-0540-11", "63323-5401-01"]
    for key in ("lot", "expiry", "serial"):
        assert document[key] is None
    assert result.stderr == ""


def test_parse_gs1_with_separator_and_aim_prefix():
    result = station("parse", "--json", "]d2010036332354011117270600" + "10K24\x1d21S1")
    document = json.loads(result.stdout)
    assert (document["lot"], document["expiry"], document["serial"]) == ("K24", "2027-06-30", "S1")
    assert document["symbology"] == "]d2"


def test_parse_resolves_a_product_through_the_formulary(formulary_file):
    result = station("parse", "--json", "--formulary", str(formulary_file), "363323540111")
    assert json.loads(result.stdout)["product"] == {"ndc": "63323-540-11", "name": "Cefazolin"}


def test_ambiguous_ndc_names_the_candidates(formulary_file):
    result = station("parse", "--formulary", str(formulary_file), "304094888026")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "station parse: ambiguous NDC: 0409488802 could be 0409-4888-02 Sodium Bicarbonate, "
        "04094-888-02 Made-up Twin A\n"
    )


def test_unknown_product_names_what_was_looked_for(formulary_file):
    result = station("parse", "--formulary", str(formulary_file), "300338004931")
    assert result.returncode == 1
    assert result.stderr == (
        "station parse: unknown product: no formulary product has NDC 00033-8004-93, "
        "00338-0004-93, 00338-0049-03\n"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("303409488801", "invalid check digit in UPC-A 303409488801: expected 7, got 1"),
        ("12345", "GTIN '12345': expected 8, 12, 13 or 14 digits, got 5"),
        ("hello", "unrecognised scan 'hello': expected a UPC-A, EAN-13, GTIN-14, GS1 element "
                  "string, (01)… form or hyphenated NDC"),
        ("(17)280300(10)AB1", "scan '(17)280300(10)AB1' carries no product identifier: "
                              "expected AI (01) GTIN or AI (715) NDC"),
    ],
)
def test_bad_scans_end_in_one_line_on_stderr_and_nothing_on_stdout(text, message):
    result = station("parse", "--json", text)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"station parse: {message}\n"
    assert "Traceback" not in result.stderr


def test_a_broken_formulary_file_is_reported_by_path(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text('[[product]]\nndc = "0409488802"\n')
    result = station("formulary", "--formulary", str(broken))
    assert result.returncode == 1
    assert result.stderr == (
        f"station formulary: {broken}: product 1 (NDC 0409488802): NDC '0409488802' must be "
        "written with hyphens in its real shape\n"
    )
    missing = station("formulary", "--formulary", str(tmp_path / "nope.toml"))
    assert missing.stderr == f"station formulary: {tmp_path / 'nope.toml'}: no such file\n"


def test_formulary_lists_products(formulary_file):
    result = station("formulary", "--formulary", str(formulary_file), "--json")
    names = [p["name"] for p in json.loads(result.stdout)]
    assert names == ["Sodium Bicarbonate", "Made-up Twin A", "Cefazolin"]


def test_orders_list_names_drugs_from_the_sample_formulary():
    result = station("orders", "list", "--json")
    assert result.returncode == 0, result.stderr
    orders = json.loads(result.stdout)
    assert len(orders) >= 12
    assert orders[0]["priority"] == "stat"
    for order in orders:
        assert set(order) >= {"order_id", "patient_id", "drug", "dose", "dose_unit", "status"}
        assert "not in formulary" not in order["drug"]


def test_recipe_marks_a_dose_the_balance_cannot_verify():
    coarse = station("recipe", "RX-260117", "--readability", "0.01")
    assert "NOT VERIFIABLE on a 0.01 g balance" in coarse.stdout
    fine = station("recipe", "RX-260117", "--readability", "0.001", "--json")
    draws = [s for s in json.loads(fine.stdout)["steps"] if s["kind"] == "weigh net"]
    assert [s["verifiable"] for s in draws] == [True]


def test_an_unknown_order_is_one_line():
    result = station("recipe", "RX-NOPE")
    assert result.returncode == 1
    assert result.stderr == "station recipe: unknown order 'RX-NOPE'\n"


def test_a_closed_pipe_is_not_a_traceback():
    listing = subprocess.run(f"'{STATION}' orders list | head -c 10", shell=True,
                             capture_output=True, text=True, check=False, timeout=60)
    assert "Traceback" not in listing.stderr
