"""The accounts' storage: their append-only history, logins and lockouts. Storage only.

Accounts are an append-only history in ``user_events`` (created, password_set, disabled,
enabled, login_failed, login_succeeded, locked_out); the current state of an account is a
pure fold over its events (:func:`fold`). Nothing is ever updated: a new password or a
lockout is a new row, and the database refuses UPDATE and DELETE on the table. Passwords
are kept only as argon2 hashes, checked here.

The rules about roles, signature meanings, user ids and passwords, and the errors an
authentication raises, are in :mod:`station.core.accounts`; sessions and signing are in
:mod:`station.services.sessions`.

Authentication (:meth:`UserDirectory.authenticate`):

- a wrong password and an unknown user id give the same :class:`AuthenticationFailed`
  ("user id or password is wrong"), after the same amount of hashing work;
- the fifth consecutive wrong password locks the account (:class:`AccountLocked`) until an
  administrator enables it; a locked account is refused before its password is checked, so
  a locked account cannot be used to go on guessing;
- a disabled account is named (:class:`AccountDisabled`) only to someone who gave its right
  password; a wrong one counts as a failure like any other;
- every attempt is recorded. Attempts on an unknown user id are recorded under the user id
  ``(unknown)`` *without* the text typed, because people type passwords into the user-id
  field and this table is never purged.

Account changes carry ``by``: who made them. The directory records it and does not check
it; the command line passes the operating-system account (``os:<login>``).
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, Select, func, insert, or_, select, text
from sqlalchemy.engine import Connection, Row

from station.core.accounts import (
    SIGNING_RIGHTS,
    AccountDisabled,
    AccountError,
    AccountLocked,
    AuthenticationError,
    AuthenticationFailed,
    Meaning,
    Role,
    WeakPassword,
    check_password,
    is_user_id,
    parse_user_id,
)
from station.records.schema import user_events

MAX_FAILED_LOGINS = 5
"""Consecutive wrong passwords that lock an account until an administrator enables it."""

UNKNOWN_USER = "(unknown)"
"""The ``user_id`` under which attempts on a user id that does not exist are recorded."""

# Any constant will do: every change to user_events takes this advisory lock on PostgreSQL
# (the event store uses another), so failure counts stay exact under concurrent logins.
_USERS_LOCK = 0x5553_4552_535F_4C4B

Clock = Callable[[], dt.datetime]
Purpose = Literal["login", "unlock", "signature", "countersignature"]


# ------------------------------------------------------------------------------ errors


class DuplicateUser(AccountError):
    """An account with this user id exists already (possibly disabled)."""


class UnknownUser(AccountError, LookupError):
    """No account has this user id."""


# ------------------------------------------------------------------------------ values


class UserEventKind(Enum):
    """The kinds of rows in ``user_events``."""

    CREATED = "created"
    PASSWORD_SET = "password_set"
    DISABLED = "disabled"
    ENABLED = "enabled"
    LOGIN_FAILED = "login_failed"
    LOGIN_SUCCEEDED = "login_succeeded"
    LOCKED_OUT = "locked_out"


# Why a login failed, as recorded; only a wrong password counts towards the lockout.
WRONG_PASSWORD = "wrong password"
UNKNOWN_USER_ID = "unknown user id"
ACCOUNT_DISABLED = "account disabled"
ACCOUNT_LOCKED = "account locked"


@dataclass(frozen=True)
class UserEvent:
    """One recorded change or login attempt."""

    id: int
    user_id: str
    kind: UserEventKind
    recorded_at: str
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class User:
    """An account's current state: the fold of its events."""

    user_id: str
    printed_name: str
    role: Role
    active: bool
    locked: bool
    failed_logins: int
    password_hash: str = field(repr=False)
    created_at: str
    password_set_at: str

    @property
    def status(self) -> str:
        """``active``, ``disabled`` or ``locked`` (a disabled account may also be locked)."""
        if not self.active:
            return "disabled"
        return "locked" if self.locked else "active"

    def may_sign(self, meaning: Meaning) -> bool:
        """Whether the account's role allows a signature with this meaning."""
        return meaning in SIGNING_RIGHTS[self.role]


def fold(events: Iterable[UserEvent]) -> User | None:
    """An account's state after ``events`` (oldest first); None if it was never created."""
    user: User | None = None
    for event in events:
        kind, payload = event.kind, event.payload
        if kind is UserEventKind.CREATED:
            if user is not None:
                raise ValueError(f"user {event.user_id} is created twice (event {event.id})")
            user = User(event.user_id, payload["printed_name"], Role(payload["role"]),
                        active=True, locked=False, failed_logins=0,
                        password_hash=payload["password_hash"], created_at=event.recorded_at,
                        password_set_at=event.recorded_at)
            continue
        if user is None:
            continue
        user = _folded(user, event)
    return user


def _folded(user: User, event: UserEvent) -> User:
    kind, payload = event.kind, event.payload
    changes: dict[str, Any] = {}
    if kind is UserEventKind.PASSWORD_SET:
        changes = {"password_hash": payload["password_hash"], "password_set_at": event.recorded_at}
    elif kind is UserEventKind.DISABLED:
        changes = {"active": False}
    elif kind is UserEventKind.ENABLED:
        changes = {"active": True, "locked": False, "failed_logins": 0}
    elif kind is UserEventKind.LOGIN_FAILED and payload.get("reason") == WRONG_PASSWORD:
        changes = {"failed_logins": user.failed_logins + 1}
    elif kind is UserEventKind.LOGIN_SUCCEEDED:
        changes = {"failed_logins": 0}
    elif kind is UserEventKind.LOCKED_OUT:
        changes = {"locked": True}
    return replace(user, **changes) if changes else user


# ------------------------------------------------------------------------------ directory

_Change = tuple[UserEventKind, Mapping[str, Any]]


class UserDirectory:
    """The accounts on one database (SQLite or PostgreSQL).

    ``clock`` returns the current time, timezone-aware; ``hasher`` defaults to
    argon2-cffi's recommended parameters (tests pass a cheap one).
    """

    def __init__(self, engine: Engine, clock: Clock, *,
                 hasher: PasswordHasher | None = None) -> None:
        self.engine = engine
        self._clock = clock
        self._hasher = hasher if hasher is not None else PasswordHasher()
        self._postgres = engine.dialect.name == "postgresql"
        self._dummy_hash: str | None = None

    # -------------------------------------------------------------- reading

    def get(self, user_id: str) -> User | None:
        """The account with this user id, or None."""
        with self.engine.connect() as connection:
            return fold(self._state_events(connection, user_id))

    def list(self) -> builtins.list[User]:
        """Every account, disabled ones included, by user id."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                _STATE_EVENTS.where(user_events.c.user_id != UNKNOWN_USER)
                .order_by(user_events.c.id)
            ).all()
        by_user: dict[str, builtins.list[UserEvent]] = {}
        for row in rows:
            by_user.setdefault(row.user_id, []).append(_event(row))
        users = (fold(events) for events in by_user.values())
        return sorted((u for u in users if u is not None), key=lambda u: u.user_id)

    def history(self, user_id: str) -> builtins.list[UserEvent]:
        """Every recorded event of this user id, oldest first."""
        with self.engine.connect() as connection:
            return self._history(connection, user_id)

    # -------------------------------------------------------------- changing

    def add(self, user_id: str, printed_name: str, role: Role, password: str, *,
            by: str) -> User:
        """Create an account; refuses an existing user id and a weak password."""
        parse_user_id(user_id)
        name = " ".join(printed_name.split())
        if not name:
            raise AccountError("the printed name is empty")
        check_password(user_id, password)
        by = _actor(by)
        password_hash = self._hasher.hash(password)

        def decide(user: User | None) -> Sequence[_Change]:
            if user is not None:
                raise DuplicateUser(f"user {user_id} exists already ({user.status})")
            return [(UserEventKind.CREATED, {"printed_name": name, "role": role.value,
                                             "password_hash": password_hash, "by": by})]

        return self._change(user_id, decide)

    def set_password(self, user_id: str, password: str, *, by: str) -> User:
        """Give the account a new password (a locked account stays locked)."""
        check_password(user_id, password)
        by = _actor(by)
        password_hash = self._hasher.hash(password)

        def decide(user: User | None) -> Sequence[_Change]:
            user = _existing(user_id, user)
            if self._verify(user.password_hash, password):
                raise WeakPassword("the new password is the same as the current one")
            return [(UserEventKind.PASSWORD_SET, {"password_hash": password_hash, "by": by})]

        return self._change(user_id, decide)

    def disable(self, user_id: str, *, by: str, reason: str) -> User:
        """Disable the account: it can no longer log in or sign. Needs a reason."""
        by = _actor(by)
        if not reason.strip():
            raise AccountError("disabling an account needs a reason")

        def decide(user: User | None) -> Sequence[_Change]:
            user = _existing(user_id, user)
            if not user.active:
                raise AccountError(f"user {user_id} is disabled already")
            return [(UserEventKind.DISABLED, {"by": by, "reason": reason.strip()})]

        return self._change(user_id, decide)

    def enable(self, user_id: str, *, by: str) -> User:
        """Enable a disabled or locked account; this also clears its failed logins."""
        by = _actor(by)

        def decide(user: User | None) -> Sequence[_Change]:
            user = _existing(user_id, user)
            if user.active and not user.locked:
                raise AccountError(f"user {user_id} is enabled already")
            return [(UserEventKind.ENABLED, {"by": by})]

        return self._change(user_id, decide)

    # -------------------------------------------------------------- authenticating

    def authenticate(self, user_id: str, password: str, *, purpose: Purpose = "login",
                     meaning: Meaning | None = None) -> User:
        """The account, if ``password`` is its password and it may log in; always recorded.

        ``purpose`` (and, for a signature, its ``meaning``) is recorded with the attempt.
        """
        context: dict[str, str] = {"purpose": purpose}
        if meaning is not None:
            context["meaning"] = meaning.value
        seen = self.get(user_id) if is_user_id(user_id) else None
        if seen is None:
            self._verify(self._dummy(), password)  # the same work as for a real account
            self._record(UNKNOWN_USER, [(UserEventKind.LOGIN_FAILED,
                                         {**context, "reason": UNKNOWN_USER_ID})])
            raise AuthenticationFailed
        # Hash outside the write transaction: it is slow on purpose and must not hold the
        # lock that every other login and record append waits for.
        # A locked account is refused without trying the password: no more guesses.
        right = None if seen.locked else self._verify(seen.password_hash, password)
        outcome: builtins.list[AuthenticationError] = []

        def decide(user: User | None) -> Sequence[_Change]:
            user = _existing(user_id, user)
            if user.locked:
                outcome.append(_locked(user_id))
                return [(UserEventKind.LOGIN_FAILED, {**context, "reason": ACCOUNT_LOCKED})]
            ok = right
            if ok is None or user.password_hash != seen.password_hash:  # changed meanwhile
                ok = self._verify(user.password_hash, password)
            if not ok:
                failed = (UserEventKind.LOGIN_FAILED, {**context, "reason": WRONG_PASSWORD})
                if user.failed_logins + 1 >= MAX_FAILED_LOGINS:
                    outcome.append(_locked(user_id))
                    return [failed, (UserEventKind.LOCKED_OUT,
                                     {"failed_logins": user.failed_logins + 1})]
                outcome.append(AuthenticationFailed())
                return [failed]
            if not user.active:
                outcome.append(AccountDisabled(f"account {user_id} is disabled"))
                return [(UserEventKind.LOGIN_FAILED, {**context, "reason": ACCOUNT_DISABLED})]
            return [(UserEventKind.LOGIN_SUCCEEDED, dict(context))]

        user = self._change(user_id, decide)
        if outcome:
            raise outcome[0]
        return user

    # -------------------------------------------------------------- internals

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash("no such user, no such password")
        return self._dummy_hash

    def _now(self) -> str:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the clock must return a timezone-aware time")
        return now.astimezone(dt.UTC).isoformat()

    def _change(self, user_id: str,
                decide: Callable[[User | None], Sequence[_Change]]) -> User:
        """In one locked transaction: fold the account, decide, append; the new state."""
        with self.engine.begin() as connection:
            self._lock(connection)
            history = self._state_events(connection, user_id)
            changes = decide(fold(history))
            history += self._insert(connection, user_id, changes)
        user = fold(history)
        assert user is not None
        return user

    def _record(self, user_id: str, changes: Sequence[_Change]) -> None:
        with self.engine.begin() as connection:
            self._lock(connection)
            self._insert(connection, user_id, changes)

    def _lock(self, connection: Connection) -> None:
        if self._postgres:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _USERS_LOCK})

    def _insert(self, connection: Connection, user_id: str,
                changes: Sequence[_Change]) -> builtins.list[UserEvent]:
        recorded_at = self._now()
        added = []
        for kind, payload in changes:
            document = json.dumps(payload, sort_keys=True, ensure_ascii=False)
            result = connection.execute(insert(user_events).values(
                user_id=user_id, kind=kind.value, recorded_at=recorded_at, payload=document,
            ).returning(user_events.c.id))
            added.append(UserEvent(int(result.scalar_one()), user_id, kind, recorded_at,
                                   json.loads(document)))
        return added

    @staticmethod
    def _state_events(connection: Connection, user_id: str) -> builtins.list[UserEvent]:
        rows = connection.execute(
            _STATE_EVENTS.where(user_events.c.user_id == user_id).order_by(user_events.c.id)
        )
        return [_event(row) for row in rows]

    @staticmethod
    def _history(connection: Connection, user_id: str) -> builtins.list[UserEvent]:
        rows = connection.execute(
            select(user_events).where(user_events.c.user_id == user_id)
            .order_by(user_events.c.id)
        )
        return [_event(row) for row in rows]


def _state_events_query() -> Select[Any]:
    """The events that decide an account's state: what :func:`fold` needs, no more.

    Every signature is a login event, so an account gathers thousands a year; only those
    after the last success or enabling can still count towards a lockout. Folding the rest
    gives the same state as folding the whole history (the tests check both agree).
    """
    later = user_events.alias("later")
    last_reset = (
        select(func.coalesce(func.max(later.c.id), 0))
        .where(later.c.user_id == user_events.c.user_id,
               later.c.kind.in_([UserEventKind.LOGIN_SUCCEEDED.value,
                                 UserEventKind.ENABLED.value]))
        .scalar_subquery()
    )
    logins = [UserEventKind.LOGIN_FAILED.value, UserEventKind.LOGIN_SUCCEEDED.value]
    return select(user_events).where(
        or_(user_events.c.kind.not_in(logins), user_events.c.id > last_reset)
    )


_STATE_EVENTS = _state_events_query()


def _event(row: Row[Any]) -> UserEvent:
    return UserEvent(int(row.id), row.user_id, UserEventKind(row.kind), row.recorded_at,
                     json.loads(row.payload))


def _existing(user_id: str, user: User | None) -> User:
    if user is None:
        raise UnknownUser(f"no user {user_id}")
    return user


def _locked(user_id: str) -> AccountLocked:
    return AccountLocked(
        f"account {user_id} is locked after {MAX_FAILED_LOGINS} failed logins: "
        "an administrator must enable it"
    )


def _actor(by: str) -> str:
    by = by.strip()
    if not by:
        raise AccountError("an account change must say who makes it (by)")
    return by
