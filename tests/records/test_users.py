"""Accounts, logins, sessions and signatures, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from station.core.accounts import (
    SIGNING_RIGHTS,
    AccountDisabled,
    AccountError,
    AccountLocked,
    AuthenticationFailed,
    InvalidUserId,
    Meaning,
    Role,
    Signature,
    SignatureRefused,
    WeakPassword,
)
from station.records.database import make_engine
from station.records.users import (
    UNKNOWN_USER,
    DuplicateUser,
    UnknownUser,
    User,
    UserDirectory,
    UserEvent,
    UserEventKind,
    fold,
)
from station.services.sessions import SessionLocked, SessionManager
from tests.clock import FakeClock

T0 = dt.datetime(2026, 11, 26, 15, 4, 5, tzinfo=dt.UTC)
JANE_PW = "correct horse battery"
ANA_PW = "staple-gun-42-blue"
ADMIN = "os:alice"
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def directory(backend, clock):
    return UserDirectory(backend.engine, clock, hasher=FAST)


@pytest.fixture
def jane(directory):
    return directory.add("rph.jane", "Jane Doe", Role.PHARMACIST, JANE_PW, by=ADMIN)


@pytest.fixture
def ana(directory):
    return directory.add("tech.ana", "Ana Lima", Role.TECHNICIAN, ANA_PW, by=ADMIN)


def kinds(directory, user_id):
    return [e.kind.value for e in directory.history(user_id)]


def fail(directory, user_id, times):
    for _ in range(times):
        with pytest.raises(AuthenticationFailed):
            directory.authenticate(user_id, "not the password")


def refused_as_locked(directory, password):
    with pytest.raises(AccountLocked):
        directory.authenticate("rph.jane", password)


# ------------------------------------------------------------------------------ accounts


def test_an_added_account_is_one_created_event_folded_into_a_user(directory, jane, clock):
    assert jane == directory.get("rph.jane")
    assert (jane.user_id, jane.printed_name, jane.role) == ("rph.jane", "Jane Doe",
                                                            Role.PHARMACIST)
    assert (jane.active, jane.locked, jane.failed_logins) == (True, False, 0)
    assert jane.created_at == jane.password_set_at == clock.now.isoformat()
    [created] = directory.history("rph.jane")
    assert created.kind is UserEventKind.CREATED
    assert created.payload["by"] == ADMIN
    assert created.payload["password_hash"].startswith("$argon2id$")
    assert JANE_PW not in json.dumps(created.payload)
    assert "password_hash" not in repr(jane)
    assert directory.get("rph.nobody") is None


def test_the_history_folds_every_change_in_order(directory, jane, ana, clock):
    clock.advance(hours=1)
    directory.disable("rph.jane", by=ADMIN, reason="left the hospital")
    assert directory.get("rph.jane").status == "disabled"
    clock.advance(hours=1)
    directory.enable("rph.jane", by=ADMIN)
    clock.advance(hours=1)
    after = directory.set_password("rph.jane", "a brand new passphrase", by="rph.jane")
    assert kinds(directory, "rph.jane") == ["created", "disabled", "enabled", "password_set"]
    assert after == directory.get("rph.jane") == fold(directory.history("rph.jane"))
    assert after.active and after.password_set_at == clock.now.isoformat()
    assert directory.history("rph.jane")[1].payload == {"by": ADMIN,
                                                       "reason": "left the hospital"}
    assert [u.user_id for u in directory.list()] == ["rph.jane", "tech.ana"]
    directory.authenticate("rph.jane", "a brand new passphrase")
    with pytest.raises(AuthenticationFailed):
        directory.authenticate("rph.jane", JANE_PW)


def test_a_duplicate_user_id_is_refused_even_when_disabled(directory, jane):
    directory.disable("rph.jane", by=ADMIN, reason="on leave")
    with pytest.raises(DuplicateUser, match=r"^user rph\.jane exists already \(disabled\)$"):
        directory.add("rph.jane", "Jane Other", Role.TECHNICIAN, "another long one", by=ADMIN)
    assert kinds(directory, "rph.jane") == ["created", "disabled"]


@pytest.mark.parametrize(
    ("user_id", "password", "error", "message"),
    [
        ("tech.bo", "short", WeakPassword,
         "password is too short: at least 10 characters, got 5"),
        ("tech.bo", "my-TECH.BO-password", WeakPassword,
         "password must not contain the user id"),
        ("Tech Bo", "long enough password", InvalidUserId,
         "user id 'Tech Bo' is not valid: expected 2 to 64 lowercase letters, digits, "
         "'.', '_' or '-', starting with a letter"),
        ("os:bo", "long enough password", InvalidUserId, None),
    ],
)
def test_weak_passwords_and_bad_user_ids_are_refused(directory, user_id, password, error,
                                                      message):
    with pytest.raises(error) as caught:
        directory.add(user_id, "Bo Berg", Role.TECHNICIAN, password, by=ADMIN)
    if message is not None:
        assert str(caught.value) == message
    assert directory.list() == []


def test_changes_need_an_existing_user_a_reason_and_a_real_change(directory, jane):
    with pytest.raises(UnknownUser, match=r"^no user rph\.nobody$"):
        directory.disable("rph.nobody", by=ADMIN, reason="typo")
    with pytest.raises(AccountError, match=r"^disabling an account needs a reason$"):
        directory.disable("rph.jane", by=ADMIN, reason="  ")
    with pytest.raises(AccountError, match=r"^user rph\.jane is enabled already$"):
        directory.enable("rph.jane", by=ADMIN)
    with pytest.raises(WeakPassword, match=r"^the new password is the same as the current one$"):
        directory.set_password("rph.jane", JANE_PW, by=ADMIN)
    with pytest.raises(AccountError, match=r"^the printed name is empty$"):
        directory.add("rph.max", "   ", Role.PHARMACIST, "long enough password", by=ADMIN)
    assert kinds(directory, "rph.jane") == ["created"]


# ------------------------------------------------------------------------------ logins


def test_a_successful_login_is_recorded(directory, jane):
    user = directory.authenticate("rph.jane", JANE_PW)
    assert user == directory.get("rph.jane")
    last = directory.history("rph.jane")[-1]
    assert (last.kind, last.payload) == (UserEventKind.LOGIN_SUCCEEDED, {"purpose": "login"})


def test_a_wrong_password_and_an_unknown_user_fail_alike_and_are_recorded(directory, jane):
    with pytest.raises(AuthenticationFailed) as wrong:
        directory.authenticate("rph.jane", "not the password")
    with pytest.raises(AuthenticationFailed) as unknown:
        directory.authenticate("rph.nobody", JANE_PW)
    with pytest.raises(AuthenticationFailed):
        directory.authenticate("Not An Id At All", JANE_PW)
    assert str(wrong.value) == str(unknown.value) == "user id or password is wrong"
    failed = directory.history("rph.jane")[-1]
    assert (failed.kind, failed.payload) == (UserEventKind.LOGIN_FAILED,
                                            {"purpose": "login", "reason": "wrong password"})
    assert directory.get("rph.jane").failed_logins == 1
    # Unknown ids are recorded without the text typed (it may be a password).
    strangers = directory.history(UNKNOWN_USER)
    assert [e.payload for e in strangers] == [{"purpose": "login",
                                              "reason": "unknown user id"}] * 2
    assert directory.history("rph.nobody") == []
    assert [u.user_id for u in directory.list()] == ["rph.jane"]


def test_a_success_resets_the_failure_count(directory, jane):
    fail(directory, "rph.jane", 4)
    assert directory.authenticate("rph.jane", JANE_PW).failed_logins == 0
    fail(directory, "rph.jane", 4)
    assert directory.get("rph.jane").failed_logins == 4
    assert not directory.get("rph.jane").locked


def test_five_consecutive_failures_lock_the_account_until_an_admin_enables_it(directory, jane):
    fail(directory, "rph.jane", 4)
    with pytest.raises(AccountLocked) as locked:
        directory.authenticate("rph.jane", "not the password")
    assert str(locked.value) == ("account rph.jane is locked after 5 failed logins: "
                                 "an administrator must enable it")
    assert kinds(directory, "rph.jane")[-2:] == ["login_failed", "locked_out"]
    # The right password does not help now, and is not even tried.
    with pytest.raises(AccountLocked):
        directory.authenticate("rph.jane", JANE_PW)
    assert directory.history("rph.jane")[-1].payload["reason"] == "account locked"
    # A new password does not unlock it either; enabling does.
    directory.set_password("rph.jane", "reset by the admin 1", by=ADMIN)
    assert directory.get("rph.jane").status == "locked"
    enabled = directory.enable("rph.jane", by=ADMIN)
    assert (enabled.status, enabled.failed_logins) == ("active", 0)
    directory.authenticate("rph.jane", "reset by the admin 1")
    assert kinds(directory, "rph.jane") == (
        ["created"] + ["login_failed"] * 5 + ["locked_out", "login_failed", "password_set",
                                              "enabled", "login_succeeded"]
    )


def test_concurrent_failures_are_counted_exactly(backend, clock, jane):
    # Each thread has its own directory, as each station would.
    errors: list[Exception] = []

    def attempt() -> None:
        try:
            UserDirectory(backend.engine, clock, hasher=FAST).authenticate(
                "rph.jane", "not the password")
        except (AuthenticationFailed, AccountLocked) as error:
            errors.append(error)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(type(e).__name__ for e in errors) == (
        ["AccountLocked"] * 4 + ["AuthenticationFailed"] * 4)
    history = UserDirectory(backend.engine, clock, hasher=FAST).history("rph.jane")
    assert [e.kind.value for e in history].count("locked_out") == 1
    assert [e.payload.get("reason") for e in history].count("wrong password") == 5


def test_the_current_state_read_agrees_with_folding_the_whole_history(directory, jane, ana):
    # get() and list() read only the events that can still matter; the fold of the full
    # history must give the same accounts after every kind of step.
    steps = [
        lambda: fail(directory, "rph.jane", 2),
        lambda: directory.authenticate("rph.jane", JANE_PW),
        lambda: fail(directory, "rph.jane", 3),
        lambda: directory.disable("rph.jane", by=ADMIN, reason="audit"),
        lambda: fail(directory, "rph.jane", 1),
        lambda: directory.enable("rph.jane", by=ADMIN),
        lambda: fail(directory, "rph.jane", 4),
        lambda: refused_as_locked(directory, "wrong password!"),
        lambda: refused_as_locked(directory, JANE_PW),
        lambda: directory.enable("rph.jane", by=ADMIN),
        lambda: fail(directory, "rph.jane", 1),
        lambda: fail(directory, "rph.nobody", 1),
    ]
    for step in steps:
        step()
        for user in ("rph.jane", "tech.ana"):
            assert directory.get(user) == fold(directory.history(user))
        assert directory.list() == [fold(directory.history(u)) for u in ("rph.jane",
                                                                          "tech.ana")]
    assert directory.get("rph.jane").failed_logins == 1


def test_a_disabled_account_is_named_only_to_whoever_knows_its_password(directory, jane):
    directory.disable("rph.jane", by=ADMIN, reason="left")
    with pytest.raises(AuthenticationFailed):
        directory.authenticate("rph.jane", "not the password")
    with pytest.raises(AccountDisabled, match=r"^account rph\.jane is disabled$"):
        directory.authenticate("rph.jane", JANE_PW)
    reasons = [e.payload.get("reason") for e in directory.history("rph.jane")]
    assert reasons[-2:] == ["wrong password", "account disabled"]


def test_the_app_role_can_run_the_directory_but_not_rewrite_it(backend, clock):
    if backend.app_url is None:
        pytest.skip("only PostgreSQL has a separate application role")
    engine = make_engine(backend.app_url)
    try:
        directory = UserDirectory(engine, clock, hasher=FAST)
        directory.add("rph.jane", "Jane Doe", Role.PHARMACIST, JANE_PW, by=ADMIN)
        fail(directory, "rph.jane", 1)
        assert directory.authenticate("rph.jane", JANE_PW).failed_logins == 0
        with pytest.raises(DBAPIError, match="permission denied"), engine.begin() as connection:
            connection.execute(text("UPDATE user_events SET kind = 'enabled'"))
    finally:
        engine.dispose()


def test_the_database_refuses_to_rewrite_the_history(backend, directory, jane):
    for statement in ("UPDATE user_events SET payload = '{}'", "DELETE FROM user_events"):
        with pytest.raises(DBAPIError, match="append-only"), backend.engine.begin() as c:
            c.execute(text(statement))
    assert kinds(directory, "rph.jane") == ["created"]


# ------------------------------------------------------------------------------ sessions


def test_a_session_locks_after_ten_idle_minutes_and_only_the_password_unlocks_it(
        directory, jane, clock):
    sessions = SessionManager(directory)
    session = sessions.start("rph.jane", JANE_PW, now=clock.now)
    assert (session.user.user_id, session.started, session.signed_once) == (
        "rph.jane", T0, False)
    session.touch(clock.advance(minutes=9, seconds=59))
    assert not session.is_locked(clock.advance(minutes=9, seconds=59))
    assert session.is_locked(clock.advance(seconds=1))
    with pytest.raises(SessionLocked, match=r"^the session of rph\.jane is locked"):
        session.touch(clock.now)
    with pytest.raises(AuthenticationFailed):
        sessions.unlock(session, "not the password", now=clock.now)
    assert session.is_locked(clock.now)
    sessions.unlock(session, JANE_PW, now=clock.now)
    assert not session.is_locked(clock.now)
    assert [e.payload.get("purpose") for e in directory.history("rph.jane")][-3:] == [
        "login", "unlock", "unlock"]


def test_the_idle_limit_is_configurable_and_a_session_can_be_locked_at_once(directory, jane,
                                                                           clock):
    sessions = SessionManager(directory, idle_limit=dt.timedelta(minutes=2))
    session = sessions.start("rph.jane", JANE_PW, now=clock.now)
    assert session.is_locked(clock.advance(minutes=2))
    sessions.unlock(session, JANE_PW, now=clock.now)
    session.lock()
    assert session.is_locked(clock.now)
    with pytest.raises(AuthenticationFailed):
        sessions.start("rph.jane", "not the password", now=clock.now)


# ------------------------------------------------------------------------------ signatures


def test_a_signature_re_authenticates_and_shows_name_meaning_and_time(directory, jane, clock):
    sessions = SessionManager(directory)
    session = sessions.start("rph.jane", JANE_PW, now=clock.now)
    with pytest.raises(AuthenticationFailed):
        sessions.sign(session, "not the password", Meaning.VERIFIED, now=clock.now)
    assert not session.signed_once
    signature = sessions.sign(session, JANE_PW, "verified", now=T0)
    assert signature == Signature("rph.jane", "Jane Doe", Meaning.VERIFIED, T0.isoformat())
    assert signature.manifestation() == "Jane Doe (rph.jane) — verified — 2026-11-26 15:04:05 UTC"
    assert signature.as_payload() == {"user_id": "rph.jane", "printed_name": "Jane Doe",
                                      "meaning": "verified", "utc": "2026-11-26T15:04:05+00:00"}
    assert Signature.from_payload(signature.as_payload()) == signature
    assert session.signed_once
    # The second signing of the session asks for the password again, too.
    with pytest.raises(AuthenticationFailed):
        sessions.sign(session, "", Meaning.REJECTED, now=clock.now)
    recorded = [e.payload for e in directory.history("rph.jane")][-3:]
    assert recorded == [
        {"purpose": "signature", "meaning": "verified", "reason": "wrong password"},
        {"purpose": "signature", "meaning": "verified"},
        {"purpose": "signature", "meaning": "rejected", "reason": "wrong password"},
    ]


def test_the_manifestation_shows_utc_whatever_the_signing_time_zone(directory, jane):
    eastern = dt.timezone(dt.timedelta(hours=-5))
    local = dt.datetime(2026, 11, 26, 10, 4, 5, 999_000, tzinfo=eastern)
    sessions = SessionManager(directory)
    session = sessions.start("rph.jane", JANE_PW, now=local)
    signature = sessions.sign(session, JANE_PW, Meaning.FORMULARY_IMPORTED, now=local)
    assert signature.utc == "2026-11-26T15:04:05.999000+00:00"
    assert signature.manifestation() == (
        "Jane Doe (rph.jane) — formulary-imported — 2026-11-26 15:04:05 UTC")


def test_wrong_passwords_while_signing_count_towards_the_lockout(directory, jane, clock):
    sessions = SessionManager(directory)
    session = sessions.start("rph.jane", JANE_PW, now=clock.now)
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            sessions.sign(session, "not the password", Meaning.VERIFIED, now=clock.now)
    with pytest.raises(AccountLocked):
        sessions.sign(session, "not the password", Meaning.VERIFIED, now=clock.now)
    with pytest.raises(AccountLocked):
        sessions.sign(session, JANE_PW, Meaning.VERIFIED, now=clock.now)


def test_a_user_disabled_during_the_session_cannot_sign(directory, jane, clock):
    sessions = SessionManager(directory)
    session = sessions.start("rph.jane", JANE_PW, now=clock.now)
    directory.disable("rph.jane", by=ADMIN, reason="suspended pending review")
    with pytest.raises(AccountDisabled):
        sessions.sign(session, JANE_PW, Meaning.VERIFIED, now=clock.now)


def test_a_locked_session_cannot_sign(directory, jane, clock):
    sessions = SessionManager(directory)
    session = sessions.start("rph.jane", JANE_PW, now=clock.now)
    with pytest.raises(SessionLocked):
        sessions.sign(session, JANE_PW, Meaning.VERIFIED, now=clock.advance(minutes=10))
    assert kinds(directory, "rph.jane")[-1] == "login_succeeded"  # no attempt was made


def test_roles_sign_only_their_meanings(directory, jane, ana, clock):
    admin = directory.add("it.sam", "Sam Admin", Role.ADMIN, "admin passphrase", by=ADMIN)
    sessions = SessionManager(directory)
    technician = sessions.start("tech.ana", ANA_PW, now=clock.now)
    assert sessions.sign(technician, ANA_PW, Meaning.PREPARED, now=clock.now).meaning is (
        Meaning.PREPARED)
    with pytest.raises(SignatureRefused) as refused:
        sessions.sign(technician, ANA_PW, Meaning.VERIFIED, now=clock.now)
    assert str(refused.value) == "a technician may not sign as verified (allowed: prepared)"
    administrator = sessions.start(admin.user_id, "admin passphrase", now=clock.now)
    with pytest.raises(SignatureRefused, match=r"^an admin may not sign as formulary-imported "
                                               r"\(this role signs nothing\)$"):
        sessions.sign(administrator, "admin passphrase", "formulary-imported", now=clock.now)
    with pytest.raises(SignatureRefused, match=r"^unknown signature meaning 'approved': "
                                               r"expected one of prepared, verified"):
        sessions.sign(technician, ANA_PW, "approved", now=clock.now)
    pharmacist = sessions.start("rph.jane", JANE_PW, now=clock.now)
    for meaning in Meaning:
        assert sessions.sign(pharmacist, JANE_PW, meaning, now=clock.now).meaning is meaning


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("meaning", list(Meaning))
def test_the_signing_rights_table(role, meaning):
    expected = {
        Role.TECHNICIAN: {"prepared"},
        Role.PHARMACIST: {"prepared", "verified", "rejected", "override-approved",
                          "in-process-checked", "formulary-imported"},
        Role.AUDITOR: set(),
        Role.ADMIN: set(),
    }[role]
    user = User("u1", "U One", role, active=True, locked=False, failed_logins=0,
                password_hash="", created_at="", password_set_at="")
    assert user.may_sign(meaning) is (meaning.value in expected)
    assert (meaning in SIGNING_RIGHTS[role]) is (meaning.value in expected)


# ------------------------------------------------------------------------------ the fold


def _event(number, kind, **payload):
    return UserEvent(number, "tech.ana", UserEventKind(kind), f"2026-11-26T15:00:{number:02}",
                     payload)


def test_the_fold_ignores_attempts_before_creation_and_counts_only_wrong_passwords():
    events = [
        _event(1, "login_failed", reason="unknown user id"),
        _event(2, "created", printed_name="Ana Lima", role="technician", password_hash="h1"),
        _event(3, "login_failed", reason="wrong password"),
        _event(4, "login_failed", reason="account disabled"),
        _event(5, "login_failed", reason="wrong password"),
    ]
    user = fold(events)
    assert user is not None and user.failed_logins == 2 and user.created_at.endswith(":02")
    assert fold(events[:1]) is None
    with pytest.raises(ValueError, match=r"^user tech\.ana is created twice \(event 6\)$"):
        fold([*events, _event(6, "created", printed_name="X", role="admin", password_hash="")])


def test_a_pharmacist_countersigns_at_another_users_station(directory, jane, ana, clock):
    sessions = SessionManager(directory)
    signature = sessions.countersign("rph.jane", JANE_PW, Meaning.OVERRIDE_APPROVED,
                                     now=clock.now)
    assert (signature.user_id, signature.meaning) == ("rph.jane", Meaning.OVERRIDE_APPROVED)
    assert directory.history("rph.jane")[-1].payload == {
        "purpose": "countersignature", "meaning": "override-approved"}
    with pytest.raises(AuthenticationFailed):
        sessions.countersign("rph.jane", "not her password", Meaning.OVERRIDE_APPROVED,
                             now=clock.now)
    with pytest.raises(AuthenticationFailed):
        sessions.countersign("rph.nobody", JANE_PW, Meaning.OVERRIDE_APPROVED, now=clock.now)
    with pytest.raises(SignatureRefused, match=r"^a technician may not sign as "
                                               r"override-approved \(allowed: prepared\)$"):
        sessions.countersign("tech.ana", ANA_PW, Meaning.OVERRIDE_APPROVED, now=clock.now)
