"""One hierarchy of domain errors, each with a message a user can act on.

Parsers raise a subclass of :class:`ParseError`; lookups raise a
:class:`LookupFailed`; the workflow raises :class:`WorkflowError`. Messages name
the input and what was expected, and tests assert them word for word.
"""

from __future__ import annotations


class StationError(Exception):
    """Base of every error the domain core raises on purpose."""


class ParseError(StationError, ValueError):
    """Text that does not hold a valid value of the type asked for."""


class InvalidFormat(ParseError):
    """The text has characters or structure the type never has."""


class InvalidLength(ParseError):
    """The text has the wrong number of digits or characters."""


class InvalidChecksum(ParseError):
    """A check digit does not match the digits before it."""


class MissingSeparator(ParseError):
    """GS1 data lost the GS that ends a variable-length field, so fields merged."""


class ConflictingData(ParseError):
    """Two parts of one scan contradict each other."""


class LookupFailed(StationError, LookupError):
    """A value is well formed but does not resolve to exactly one known thing."""


class UnknownProduct(LookupFailed):
    """No formulary product carries the scanned identifier."""


class AmbiguousNdc(LookupFailed):
    """More than one formulary product matches the 10 digits of a scanned NDC."""


class UnknownOrder(LookupFailed):
    """No order has the given id."""


class RecipeError(StationError):
    """An order cannot be turned into a preparation recipe."""


class WorkflowError(StationError):
    """An event that the preparation's current state does not allow; nothing changed."""
