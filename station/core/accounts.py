"""Account rules: roles, signature meanings, who may sign what, user ids and passwords.

Everything here is pure (no storage, no clock): the account history and logins are in
:mod:`station.records.users`, sessions and the act of signing in
:mod:`station.services.sessions`. The errors a login or a signature may end in
(:class:`AuthenticationError` and its kinds) are here, so that every layer can name them.

Each account has one :class:`Role`; a signature carries one :class:`Meaning`. Who may give
which meaning is :data:`SIGNING_RIGHTS`:

============  ===========================================================================
technician    prepared
pharmacist    prepared, verified, rejected, override-approved, in-process-checked,
              formulary-imported
auditor       (nothing: auditors read the record)
admin         (nothing: administrators manage accounts; a person who also compounds or
              verifies has a second, pharmacy account, so account administration and the
              clinical record stay separate duties)
============  ===========================================================================

The formulary (drugs, concentrations, specific gravities) is clinical content that every
weight check relies on, so importing it is a pharmacist's signature, not an administrator's.
That the verifier is not the preparer is the workflow's rule (:mod:`station.core.workflow`).

A :class:`Signature` shows who signed (user id and printed name), what it means and when, as
21 CFR Part 11 asks of every display and printout of a signed record.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from station.core.errors import StationError

MIN_PASSWORD_LENGTH = 10

_USER_ID = re.compile(r"[a-z][a-z0-9._-]{1,63}")


# ------------------------------------------------------------------------------ errors


class AccountError(StationError):
    """A change to an account was refused; nothing was recorded."""


class InvalidUserId(AccountError, ValueError):
    """The text is not a user id."""


class WeakPassword(AccountError, ValueError):
    """The new password does not meet the password rules."""


class SignatureRefused(StationError):
    """The signer may not give this meaning, or the meaning is unknown."""


class AuthenticationError(StationError):
    """A user could not be authenticated; the attempt was recorded."""


class AuthenticationFailed(AuthenticationError):
    """Wrong password or unknown user id (the message does not say which)."""

    def __init__(self) -> None:
        super().__init__("user id or password is wrong")


class AccountDisabled(AuthenticationError):
    """The account is disabled."""


class AccountLocked(AuthenticationError):
    """Too many consecutive failed logins; an administrator must enable the account."""


# ------------------------------------------------------------------------------ values


class Role(Enum):
    """What an account is for; each account has exactly one."""

    TECHNICIAN = "technician"
    PHARMACIST = "pharmacist"
    AUDITOR = "auditor"
    ADMIN = "admin"

    @property
    def with_article(self) -> str:
        """The role as it reads in a sentence: "a technician", "an auditor"."""
        return f"{'an' if self.value[:1] in 'aeiou' else 'a'} {self.value}"


class Meaning(Enum):
    """What a signature means (shown with it on every display and printout)."""

    PREPARED = "prepared"
    VERIFIED = "verified"
    REJECTED = "rejected"
    OVERRIDE_APPROVED = "override-approved"
    IN_PROCESS_CHECKED = "in-process-checked"
    FORMULARY_IMPORTED = "formulary-imported"

    @classmethod
    def parse(cls, text: str) -> Meaning:
        """The meaning named ``text``, or :class:`SignatureRefused` listing the known ones."""
        try:
            return cls(text)
        except ValueError:
            known = ", ".join(m.value for m in cls)
            raise SignatureRefused(
                f"unknown signature meaning {text!r}: expected one of {known}"
            ) from None


SIGNING_RIGHTS: Mapping[Role, frozenset[Meaning]] = {
    Role.TECHNICIAN: frozenset({Meaning.PREPARED}),
    Role.PHARMACIST: frozenset(Meaning),
    Role.AUDITOR: frozenset(),
    Role.ADMIN: frozenset(),
}


def require_signing_right(role: Role, meaning: Meaning) -> None:
    """Raise :class:`SignatureRefused` unless ``role`` may sign with ``meaning``.

    >>> require_signing_right(Role.PHARMACIST, Meaning.VERIFIED)
    >>> require_signing_right(Role.TECHNICIAN, Meaning.VERIFIED)
    Traceback (most recent call last):
    ...
    station.core.accounts.SignatureRefused: a technician may not sign as verified \
(allowed: prepared)
    """
    if meaning not in SIGNING_RIGHTS[role]:
        allowed = ", ".join(sorted(m.value for m in SIGNING_RIGHTS[role]))
        raise SignatureRefused(
            f"{role.with_article} may not sign as {meaning.value}"
            + (f" (allowed: {allowed})" if allowed else " (this role signs nothing)")
        )


@dataclass(frozen=True)
class Signature:
    """An electronic signature: who (user id and printed name), what it means, and when."""

    user_id: str
    printed_name: str
    meaning: Meaning
    utc: str

    def manifestation(self) -> str:
        """The signature as shown and printed: name, user id, meaning, UTC date and time."""
        when = dt.datetime.fromisoformat(self.utc).astimezone(dt.UTC)
        return (f"{self.printed_name} ({self.user_id}) — {self.meaning.value} — "
                f"{when:%Y-%m-%d %H:%M:%S} UTC")

    def as_payload(self) -> dict[str, str]:
        """The signature as JSON values, to record inside the signed event."""
        return {"user_id": self.user_id, "printed_name": self.printed_name,
                "meaning": self.meaning.value, "utc": self.utc}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Signature:
        """The signature recorded by :meth:`as_payload`."""
        return cls(str(payload["user_id"]), str(payload["printed_name"]),
                   Meaning(payload["meaning"]), str(payload["utc"]))


# ------------------------------------------------------------------------------ rules


def is_user_id(text: str) -> bool:
    """Whether ``text`` has the shape of a user id (see :func:`parse_user_id`).

    >>> is_user_id("rph.jane"), is_user_id("Jane")
    (True, False)
    """
    return _USER_ID.fullmatch(text) is not None


def parse_user_id(text: str) -> str:
    """``text`` if it is a user id: 2–64 lowercase letters, digits, '.', '_' or '-'.

    >>> parse_user_id("rph.jane")
    'rph.jane'
    >>> parse_user_id("Jane")
    Traceback (most recent call last):
    ...
    station.core.accounts.InvalidUserId: user id 'Jane' is not valid: expected 2 to 64 \
lowercase letters, digits, '.', '_' or '-', starting with a letter
    """
    if not is_user_id(text):
        raise InvalidUserId(
            f"user id {text!r} is not valid: expected 2 to 64 lowercase letters, digits, "
            "'.', '_' or '-', starting with a letter"
        )
    return text


def check_password(user_id: str, password: str) -> None:
    """Raise :class:`WeakPassword` unless ``password`` meets the rules.

    >>> check_password("rph.jane", "short")
    Traceback (most recent call last):
    ...
    station.core.accounts.WeakPassword: password is too short: at least 10 characters, got 5
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(
            f"password is too short: at least {MIN_PASSWORD_LENGTH} characters, "
            f"got {len(password)}"
        )
    if user_id.casefold() in password.casefold():
        raise WeakPassword("password must not contain the user id")
