"""`station` imports only the command group it runs, and still lists every group."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from station.cli import main as cli
from station.cli.main import GROUPS

ROOT = Path(__file__).resolve().parents[2]

#: What `station parse` must never load: the record, the camera, Qt, the demo, the reports…
NOT_FOR_PARSE = ("sqlalchemy", "alembic", "cv2", "PySide6", "reportlab", "scale_drivers",
                 "station.records", "station.demo", "station.bootstrap", "station.services",
                 "station.devices", "station.intake", "station.qualification", "station.reports")

#: Runs `station ARGS…` as the console script does (`ui.launcher.main`), then writes the
#: names of the modules it imported as JSON into the file named first.
CHILD = """
import json, sys
from ui.launcher import main
try:
    status = main(sys.argv[2:])
except SystemExit as done:
    status = done.code
sys.stdout.flush()
with open(sys.argv[1], "w") as names:
    json.dump(sorted(sys.modules), names)
sys.exit(status)
"""


def station_in_child(tmp_path: Path, *argv: str) -> tuple[subprocess.CompletedProcess[str],
                                                            set[str]]:
    listing = tmp_path / "modules.json"
    env = dict(os.environ, COLUMNS="200")
    done = subprocess.run([sys.executable, "-c", CHILD, str(listing), *argv], cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=60, env=env)
    return done, set(json.loads(listing.read_text()))


def loaded(modules: set[str], package: str) -> list[str]:
    return sorted(m for m in modules if m == package or m.startswith(package + "."))


def test_parse_imports_neither_the_record_nor_the_camera_nor_another_command(tmp_path):
    done, modules = station_in_child(tmp_path, "parse", "0304094888026")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("kind            EAN-13\n")
    assert "station.cli.parse" in modules
    for package in NOT_FOR_PARSE:
        assert loaded(modules, package) == [], f"station parse imported {package}"
    others = {g.module for g in GROUPS} - {"station.cli.parse"}
    assert sorted(others & modules) == []


def test_help_lists_every_group_in_order_without_importing_one(tmp_path):
    done, modules = station_in_child(tmp_path, "--help")
    assert (done.returncode, done.stderr) == (0, "")
    listed = re.findall(r"^ {4}(\S+)", done.stdout, re.MULTILINE)
    assert listed == [*(g.name for g in GROUPS), "app"]
    for group in GROUPS:
        assert group.help in done.stdout
    assert sorted({g.module for g in GROUPS} & modules) == []
    for package in ("sqlalchemy", "cv2", "PySide6", "station.records", "station.demo"):
        assert loaded(modules, package) == []


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.name)
def test_each_group_is_in_its_module_with_the_help_the_table_gives(group):
    """With the group's own module loaded, `station --help` reads as from the table alone."""
    module = importlib.import_module(group.module)
    assert callable(module.add_commands)
    from_table = cli._parser(None, ()).format_help()
    with_module = cli._parser(group.name, ()).format_help()
    assert with_module == from_table


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.name)
def test_each_group_answers_its_own_help(group, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main([group.name, "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: station {group.name} ")


def test_an_unknown_command_is_told_every_group():
    done = subprocess.run([sys.executable, "-m", "station.cli.main", "bogus"], cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=60)
    choices = ", ".join(f"'{g.name}'" for g in GROUPS)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.endswith(
        f"station: error: argument COMMAND: invalid choice: 'bogus' (choose from {choices})\n")
