"""`station formulary import`: a new formulary version only with a pharmacist's signature."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from station.records.formulary_versions import FormularyVersions
from station.records.record import open_record

STATION = Path(sys.executable).with_name("station")
SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "formulary.toml"
PASSWORD = "long enough pw 1"


def station(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(STATION), *args], input=stdin, capture_output=True, text=True,
                          check=False, timeout=60)


@pytest.mark.slow
def test_only_a_pharmacists_signature_imports_a_version(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    for user, role in (("rph.ben", "pharmacist"), ("tech.ana", "technician")):
        added = station("users", "add", user, "--role", role, "--printed-name", user.title(),
                        "--password-stdin", "--db", url, stdin=f"{PASSWORD}\n{PASSWORD}\n")
        assert added.returncode == 0, added.stderr
    wrong = station("formulary", "import", str(SAMPLE), "--by", "rph.ben", "--password-stdin",
                    "--db", url, stdin="not the password\n")
    assert (wrong.returncode, wrong.stderr) == (
        1, "station formulary import: user id or password is wrong\n")
    technician = station("formulary", "import", str(SAMPLE), "--by", "tech.ana",
                         "--password-stdin", "--db", url, stdin=f"{PASSWORD}\n")
    assert technician.returncode == 1
    assert "formulary-imported" in technician.stderr
    signed = station("formulary", "import", str(SAMPLE), "--by", "rph.ben", "--password-stdin",
                     "--db", url, stdin=f"{PASSWORD}\n")
    assert signed.returncode == 0, signed.stderr
    assert signed.stdout.startswith("formulary version 1 (formulary.toml, sha256 ")
    record = open_record(url)
    try:
        version = FormularyVersions(record.engine).latest()
    finally:
        record.close()
    assert version is not None and version.version == 1
    assert version.imported_by.startswith("Rph.Ben (rph.ben) — formulary-imported — ")
    assert version.text == SAMPLE.read_text(encoding="utf-8")
