"""Sign-in: each outcome's exact words on the presenter and on the view."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from station.core.accounts import AuthenticationError, Role
from station.records.record import open_record
from station.records.users import MAX_FAILED_LOGINS, UserDirectory
from station.services.sessions import SessionManager
from tests.clock import FakeClock
from ui.shell.login import ENTER_PASSWORD, LoginPresenter, LoginView

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
NOW = dt.datetime(2026, 11, 26, 13, 0, tzinfo=dt.UTC)
PASSWORD = "correct-horse-7"
WRONG = "user id or password is wrong"
DEMO = [("tech.ana", "tech-demo-123", "technician"), ("rph.jane", "rph-demo-4567", "pharmacist")]


#: The record's clock: it stands still.
clock = FakeClock(NOW)


@pytest.fixture
def directory(tmp_path):
    record = open_record(f"sqlite:///{tmp_path}/s.db")
    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    users = UserDirectory(record.engine, clock, hasher=fast)
    users.add("tech.ana", "Ana Tech", Role.TECHNICIAN, PASSWORD, by="test")
    users.add("tech.bob", "Bob Tech", Role.TECHNICIAN, PASSWORD, by="test")
    users.add("tech.cy", "Cy Tech", Role.TECHNICIAN, PASSWORD, by="test")
    users.disable("tech.bob", by="test", reason="left")
    for _ in range(MAX_FAILED_LOGINS):
        with pytest.raises(AuthenticationError):
            users.authenticate("tech.cy", "not-the-password")
    yield users
    record.close()


@pytest.fixture
def presenter(directory):
    return LoginPresenter(SessionManager(directory), clock)


FAILURES = [
    ("tech.ana", "wrong-password-1", WRONG),
    ("nobody", PASSWORD, WRONG),
    ("tech.bob", PASSWORD, "account tech.bob is disabled"),
    ("tech.cy", PASSWORD,
     "account tech.cy is locked after 5 failed logins: an administrator must enable it"),
    ("tech.ana", "", ENTER_PASSWORD),
    ("  ", PASSWORD, "enter your user id"),
]


def test_the_right_password_starts_a_session(presenter, qtbot):
    with qtbot.waitSignal(presenter.signed_in) as blocker:
        assert presenter.submit(" tech.ana ", PASSWORD).checking  # answered off the GUI thread
    state = presenter.state
    assert state.error == ""
    assert state.session is blocker.args[0]
    assert state.session.user.user_id == "tech.ana"
    assert state.session.started == NOW


@pytest.mark.parametrize(("user_id", "password", "message"), FAILURES)
def test_each_failure_gives_its_own_words(presenter, qtbot, user_id, password, message):
    with qtbot.assertNotEmitted(presenter.signed_in):
        presenter.submit(user_id, password)
        qtbot.waitUntil(lambda: not presenter.state.checking, timeout=5000)
    state = presenter.state
    assert state.error == message
    assert state.session is None


def test_a_blank_password_is_not_counted_as_a_failed_login(presenter, directory):
    for _ in range(MAX_FAILED_LOGINS + 1):
        presenter.submit("tech.ana", "")
    assert directory.get("tech.ana").failed_logins == 0


def _view(presenter, qtbot, demo_users=None):
    view = LoginView(presenter, demo_users=demo_users)
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    qtbot.waitExposed(view)
    return view


def _type_and_enter(qtbot, view, user_id, password):
    view.user_id_field.setFocus()
    qtbot.keyClicks(view.user_id_field, user_id)
    qtbot.keyClick(view.user_id_field, Qt.Key.Key_Return)  # moves on to the empty password
    qtbot.keyClicks(view.password_field, password)
    qtbot.keyClick(view.password_field, Qt.Key.Key_Return)


def test_typing_and_enter_signs_in_on_the_view(presenter, qtbot):
    view = _view(presenter, qtbot)
    assert view.user_id_field.font().pointSize() >= 20
    assert view.sign_in_button.height() >= 64
    assert view.demo_label is None
    ARTIFACTS.mkdir(exist_ok=True)
    assert view.grab().save(str(ARTIFACTS / "login.png"))
    with qtbot.waitSignal(view.signed_in) as blocker:
        _type_and_enter(qtbot, view, "tech.ana", PASSWORD)
    assert blocker.args[0].user.user_id == "tech.ana"
    assert view.error_label.isHidden()
    assert view.user_id_field.text() == view.password_field.text() == ""


@pytest.mark.parametrize(("user_id", "password", "message"), FAILURES[:4])
def test_each_failure_is_shown_on_the_view(presenter, qtbot, user_id, password, message):
    view = _view(presenter, qtbot)
    with qtbot.assertNotEmitted(view.signed_in):
        _type_and_enter(qtbot, view, user_id, password)
        qtbot.waitUntil(lambda: not presenter.state.checking, timeout=5000)
    assert view.error_label.isVisible()
    assert view.error_label.text() == f"✖ {message}"
    assert view.password_field.text() == ""
    assert view.user_id_field.text() == user_id
    ARTIFACTS.mkdir(exist_ok=True)
    assert view.grab().save(str(ARTIFACTS / f"login_error_{user_id}.png"))


def test_demo_users_and_passwords_are_listed_only_in_demo_mode(presenter, qtbot):
    view = _view(presenter, qtbot, demo_users=DEMO)
    assert view.demo_label is not None and view.demo_label.isVisible()
    for user_id, password, role in DEMO:
        assert user_id in view.demo_label.text()
        assert password in view.demo_label.text()
        assert role in view.demo_label.text()
    ARTIFACTS.mkdir(exist_ok=True)
    assert view.grab().save(str(ARTIFACTS / "login_demo.png"))
    plain = _view(presenter, qtbot)
    assert plain.demo_label is None
    shown = " ".join(label.text() for label in plain.findChildren(QLabel))
    assert "tech-demo-123" not in shown


def test_a_second_enter_while_checking_starts_no_second_check(presenter, qtbot, directory):
    with qtbot.waitSignal(presenter.signed_in):
        first = presenter.submit("tech.ana", PASSWORD)
        second = presenter.submit("tech.ana", "a wrong password")
        assert first.checking and second is first
    assert directory.get("tech.ana").failed_logins == 0
