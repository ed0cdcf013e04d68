"""Sign-in, idle-locking sessions and electronic signatures (21 CFR Part 11).

A :class:`Session` is a logged-in user at a station; it locks after ``idle_limit`` without
activity and only its user's password unlocks it. The :class:`SessionManager` starts and
unlocks sessions and signs within them, authenticating against the accounts in
:class:`~station.records.users.UserDirectory`; who may give which meaning is the rule in
:mod:`station.core.accounts`.

Signatures (:meth:`SessionManager.sign`) always ask for the password again: the session
gives the first component (the user id, from a login) and the password is the second, at
every signing, which meets Part 11's two-component rule for the first signing of a session
and exceeds it for the later ones. A countersignature (:meth:`SessionManager.countersign`)
is another user's id and password, entered for that one signature at this station.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from station.core.accounts import AuthenticationError, Meaning, Signature, require_signing_right
from station.records.users import User, UserDirectory

DEFAULT_IDLE_LIMIT = dt.timedelta(minutes=10)


class SessionLocked(AuthenticationError):
    """The session was idle too long (or locked on purpose); the password unlocks it."""


@dataclass
class Session:
    """A logged-in user at a station.

    Mutable on purpose: it is the live state of one screen, not a record. It locks when
    ``idle_limit`` passes without activity (or when :meth:`lock` is called); only the
    user's password unlocks it (:meth:`SessionManager.unlock`).
    """

    user: User
    started: dt.datetime
    last_activity: dt.datetime
    signed_once: bool = False
    idle_limit: dt.timedelta = DEFAULT_IDLE_LIMIT
    locked: bool = False

    def is_locked(self, now: dt.datetime) -> bool:
        """Whether the session is locked at ``now``."""
        return self.locked or now - self.last_activity >= self.idle_limit

    def touch(self, now: dt.datetime) -> None:
        """Record activity at ``now``; raises :class:`SessionLocked` if it is locked."""
        if self.is_locked(now):
            self.locked = True
            raise SessionLocked(
                f"the session of {self.user.user_id} is locked: enter the password to unlock it"
            )
        self.last_activity = max(self.last_activity, now)

    def lock(self) -> None:
        """Lock the session now (the user steps away)."""
        self.locked = True


class SessionManager:
    """Starts, unlocks and signs within sessions, re-authenticating against ``directory``."""

    def __init__(self, directory: UserDirectory, *,
                 idle_limit: dt.timedelta = DEFAULT_IDLE_LIMIT) -> None:
        if idle_limit <= dt.timedelta(0):
            raise ValueError(f"the idle limit must be positive, got {idle_limit}")
        self.directory = directory
        self.idle_limit = idle_limit

    def start(self, user_id: str, password: str, *, now: dt.datetime) -> Session:
        """Log in: a new session for the user, or an :class:`AuthenticationError`."""
        _aware(now)
        user = self.directory.authenticate(user_id, password, purpose="login")
        return Session(user, now, now, idle_limit=self.idle_limit)

    def unlock(self, session: Session, password: str, *, now: dt.datetime) -> None:
        """Unlock the session with its user's password."""
        _aware(now)
        session.user = self.directory.authenticate(session.user.user_id, password,
                                                   purpose="unlock")
        session.locked = False
        session.last_activity = now

    def sign(self, session: Session, password: str, meaning: Meaning | str, *,
             now: dt.datetime) -> Signature:
        """Sign with ``meaning`` at ``now``: always re-checks the password.

        Refuses an unknown meaning or one the user's role may not give
        (:class:`~station.core.accounts.SignatureRefused`, before the password is tried), a
        locked session (:class:`SessionLocked`), and whatever
        :meth:`UserDirectory.authenticate` refuses (wrong password, disabled or locked
        account).
        """
        _aware(now)
        meaning = meaning if isinstance(meaning, Meaning) else Meaning.parse(meaning)
        require_signing_right(session.user.role, meaning)
        session.touch(now)
        user = self.directory.authenticate(session.user.user_id, password,
                                           purpose="signature", meaning=meaning)
        session.user = user
        session.signed_once = True
        return _signature(user, meaning, now)

    def countersign(self, user_id: str, password: str, meaning: Meaning | str, *,
                    now: dt.datetime) -> Signature:
        """Another user signs at this station (a pharmacist at the technician's hood).

        Their id and password are both entered for this one signature; no session of theirs
        starts. Refuses an unknown user the same way as a wrong password, and a role that may
        not give ``meaning`` (:class:`~station.core.accounts.SignatureRefused`) after the
        password is checked, so the refusal does not tell a stranger which accounts exist.
        """
        _aware(now)
        meaning = meaning if isinstance(meaning, Meaning) else Meaning.parse(meaning)
        user = self.directory.authenticate(user_id, password, purpose="countersignature",
                                           meaning=meaning)
        require_signing_right(user.role, meaning)
        return _signature(user, meaning, now)


def _signature(user: User, meaning: Meaning, now: dt.datetime) -> Signature:
    return Signature(user.user_id, user.printed_name, meaning,
                     now.astimezone(dt.UTC).isoformat())


def _aware(now: dt.datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("the time needs a UTC offset")
