"""`station users …`: in process on SQLite and PostgreSQL, and once as a real process."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from station.cli import users as users_commands
from station.core.accounts import AuthenticationFailed
from station.records.database import make_engine
from station.records.users import UserDirectory

ANA_PW = "staple-gun-42-blue"


def clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture(autouse=True)
def os_user(monkeypatch):
    monkeypatch.setenv("LOGNAME", "alice")


@pytest.fixture
def station(monkeypatch, capsys):
    """Run `station ARGS…` in process: (exit status, stdout, stderr)."""

    def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        parser = argparse.ArgumentParser(prog="station")
        users_commands.add_commands(parser.add_subparsers(dest="command"))
        args = parser.parse_args(argv)
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        out = io.StringIO()
        status = args.run(args, out)
        return status, out.getvalue(), capsys.readouterr().err

    return run


@pytest.fixture
def db(backend):
    return backend.url


def directory(url: str) -> UserDirectory:
    return UserDirectory(make_engine(url), clock)


def add_ana(station, db):
    return station("users", "add", "tech.ana", "--role", "technician",
                   "--printed-name", "Ana  Lima", "--password-stdin", "--db", db,
                   stdin=ANA_PW + "\n")


def test_add_then_list_as_text_and_json(station, db):
    assert add_ana(station, db) == (0, "added tech.ana (technician): Ana Lima\n", "")
    status, out, _ = station("users", "add", "rph.jane", "--role", "pharmacist",
                             "--printed-name", "Jane Doe", "--password-stdin", "--db", db,
                             stdin="correct horse battery\n")
    assert status == 0
    status, out, err = station("users", "list", "--db", db)
    assert (status, err) == (0, "")
    assert out == ("rph.jane  pharmacist  active    Jane Doe\n"
                   "tech.ana  technician  active    Ana Lima\n"
                   "2 users\n")
    status, out, _ = station("users", "list", "--json", "--db", db)
    [jane, ana] = json.loads(out)
    assert ana["user_id"] == "tech.ana" and ana["printed_name"] == "Ana Lima"
    assert (ana["role"], ana["status"], ana["failed_logins"]) == ("technician", "active", 0)
    assert "password_hash" not in ana and jane["role"] == "pharmacist"
    users = directory(db)
    assert users.authenticate("tech.ana", ANA_PW).user_id == "tech.ana"
    assert users.history("tech.ana")[0].payload["by"] == "os:alice"


def test_disable_and_enable_are_recorded_with_the_os_user_and_reason(station, db):
    add_ana(station, db)
    assert station("users", "disable", "tech.ana", "--reason", "left", "--db", db) == (
        0, "disabled tech.ana\n", "")
    assert "tech.ana  technician  disabled  Ana Lima" in station("users", "list", "--db", db)[1]
    assert station("users", "enable", "tech.ana", "--db", db) == (0, "enabled tech.ana\n", "")
    events = directory(db).history("tech.ana")
    assert [(e.kind.value, e.payload) for e in events[1:]] == [
        ("disabled", {"by": "os:alice", "reason": "left"}),
        ("enabled", {"by": "os:alice"}),
    ]


def test_password_sets_a_new_password(station, db):
    add_ana(station, db)
    assert station("users", "password", "tech.ana", "--password-stdin", "--db", db,
                   stdin="a whole new passphrase\n") == (0, "new password set for tech.ana\n", "")
    users = directory(db)
    users.authenticate("tech.ana", "a whole new passphrase")
    with pytest.raises(AuthenticationFailed):
        users.authenticate("tech.ana", ANA_PW)


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["add", "tech.ana", "--role", "technician", "--printed-name", "Ana Other",
          "--password-stdin"], ANA_PW, "station users add: user tech.ana exists already (active)"),
        (["add", "tech.bo", "--role", "technician", "--printed-name", "Bo Berg",
          "--password-stdin"], "short\n",
         "station users add: password is too short: at least 10 characters, got 5"),
        (["add", "Tech Bo", "--role", "technician", "--printed-name", "Bo Berg",
          "--password-stdin"], "", "station users add: user id 'Tech Bo' is not valid: "
         "expected 2 to 64 lowercase letters, digits, '.', '_' or '-', starting with a letter"),
        (["add", "tech.bo", "--role", "technician", "--printed-name", "Bo Berg",
          "--password-stdin"], "", "station users add: cancelled: no password given"),
        (["disable", "tech.nobody", "--reason", "typo"], "",
         "station users disable: no user tech.nobody"),
        (["enable", "tech.ana"], "", "station users enable: user tech.ana is enabled already"),
        (["password", "tech.ana", "--password-stdin"], ANA_PW,
         "station users password: the new password is the same as the current one"),
    ],
    ids=["duplicate", "weak", "bad-id", "no-password", "unknown", "enabled", "same-password"],
)
def test_errors_are_one_line_and_change_nothing(station, db, argv, stdin, message):
    add_ana(station, db)
    before = directory(db).history("tech.ana")
    assert station("users", *argv, "--db", db, stdin=stdin) == (1, "", message + "\n")
    assert directory(db).history("tech.ana") == before
    assert [u.user_id for u in directory(db).list()] == ["tech.ana"]


def test_without_password_stdin_the_password_is_asked_for_twice(station, monkeypatch, tmp_path):
    db = f"sqlite:///{tmp_path / 'station.db'}"
    answers = iter([ANA_PW, ANA_PW, ANA_PW, "something else entirely"])
    prompts: list[str] = []

    def getpass(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr(users_commands.getpass, "getpass", getpass)
    assert add_ana(station, db)[0] == 0  # --password-stdin: no prompt
    assert station("users", "add", "tech.bo", "--role", "technician", "--printed-name",
                   "Bo Berg", "--db", db)[0] == 0
    assert prompts == ["Password for tech.bo: ", "Same password again: "]
    assert station("users", "add", "tech.cy", "--role", "technician", "--printed-name",
                   "Cy Dahl", "--db", db) == (
        1, "", "station users add: the two passwords differ; nothing was changed\n")
    assert [u.user_id for u in directory(db).list()] == ["tech.ana", "tech.bo"]


def test_station_db_names_the_database_and_a_fresh_one_is_created(station, monkeypatch,
                                                                    tmp_path):
    path = tmp_path / "fresh" / "station.db"
    monkeypatch.setenv("STATION_DB", f"sqlite:///{path}")
    assert station("users", "list") == (0, "0 users\n", "")
    assert path.exists()


def test_an_unreachable_database_is_one_line(station):
    status, out, err = station("users", "list", "--db",
                               "postgresql://nobody:wrong@127.0.0.1:1/station")
    assert (status, out) == (1, "")
    assert err.startswith("station users list: database error: ")
    assert err.count("\n") == 1


# ------------------------------------------------------------------------------ a real process

# The real command line, in a process of its own.
_MAIN = """
import sys
from station.cli import main as cli
sys.exit(cli.main(sys.argv[1:]))
"""


def station_process(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _MAIN, *argv], input=stdin,
                          capture_output=True, text=True, check=False, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "LOGNAME": "alice", "HOME": "/tmp"})


@pytest.mark.slow
def test_as_a_real_process(tmp_path: Path):
    db = f"sqlite:///{tmp_path / 'station.db'}"
    add = ["users", "add", "rph.jane", "--role", "pharmacist", "--printed-name", "Jane Doe",
           "--password-stdin", "--db", db]
    result = station_process(*add, stdin="correct horse battery\n")
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert result.stdout == "added rph.jane (pharmacist): Jane Doe\n"
    again = station_process(*add, stdin="correct horse battery\n")
    assert (again.returncode, again.stdout) == (1, "")
    assert again.stderr == "station users add: user rph.jane exists already (active)\n"
    listing = station_process("users", "list", "--json", "--db", db)
    assert [u["user_id"] for u in json.loads(listing.stdout)] == ["rph.jane"]
    usage = station_process("users", "add", "rph.max", "--role", "wizard",
                            "--printed-name", "Max", "--db", db)
    assert usage.returncode == 2 and "invalid choice: 'wizard'" in usage.stderr
