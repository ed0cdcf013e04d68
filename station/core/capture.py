"""When a weighing step takes its weight by itself: the auto-capture rule.

On a weighing step the station watches the balance's live readings and asks it for a stable
weight without a key press. :class:`WeightCapture` decides when:

- a reading within ``empty_divisions`` readability steps of zero is an empty pan and is never
  taken (nothing has been placed yet, or the item was lifted off);
- after a weight was taken, the next one is taken only once the load has changed by more than
  ``change_divisions`` steps (the item was lifted, or the syringe adjusted), so one placement
  gives one attempt, and a corrected syringe gives a new one;
- the reading must carry the balance's stable flag; the caller then asks the balance for its
  own stable weight (:meth:`WeightCapture.requested`), and reports the outcome with
  :meth:`WeightCapture.taken` or :meth:`WeightCapture.failed`.

>>> capture = WeightCapture(Decimal("0.001"))
>>> capture.offer(Decimal("0.000"), stable=True)   # empty pan
False
>>> capture.offer(Decimal("11.982"), stable=False)  # still moving
False
>>> capture.offer(Decimal("11.982"), stable=True)
True
>>> capture.requested(); capture.taken(Decimal("11.982"))
>>> capture.offer(Decimal("11.983"), stable=True)   # the same placement: no second attempt
False
>>> capture.offer(Decimal("14.512"), stable=True)   # drawn and placed again
True
"""

from __future__ import annotations

from decimal import Decimal

#: Within this many readability steps of zero the pan counts as empty.
EMPTY_DIVISIONS = 5
#: The load must move by more than this many steps before another weight is taken.
CHANGE_DIVISIONS = 5


class WeightCapture:
    """Decides which live readings become a request for a stable weight."""

    def __init__(self, readability: Decimal, *, empty_divisions: int = EMPTY_DIVISIONS,
                 change_divisions: int = CHANGE_DIVISIONS) -> None:
        if readability <= 0:
            raise ValueError(f"readability must be above zero, got {readability}")
        self.empty_limit = readability * empty_divisions
        self.change_limit = readability * change_divisions
        self._last: Decimal | None = None
        self._armed = True
        self._waiting = False

    @property
    def waiting(self) -> bool:
        """Whether a stable weight has been asked for and not yet answered."""
        return self._waiting

    @property
    def armed(self) -> bool:
        """Whether the next stable, non-empty reading will be taken."""
        return self._armed and not self._waiting

    def offer(self, value: Decimal, *, stable: bool) -> bool:
        """Consider one live reading; True when the caller should ask for a stable weight."""
        if abs(value) <= self.empty_limit:
            if self._last is not None:
                self._armed = True  # lifted off: the next placement counts
            return False
        if not self._armed and self._last is not None and (
                abs(value - self._last) > self.change_limit):
            self._armed = True
        return stable and self.armed

    def requested(self) -> None:
        """The caller asked the balance for a stable weight."""
        self._waiting = True

    def taken(self, value: Decimal) -> None:
        """A weight of ``value`` was taken (recorded): wait for the load to change."""
        self._waiting = False
        self._last = value
        self._armed = False

    def failed(self) -> None:
        """The stable weight did not come (moving, lost): try again on the next reading."""
        self._waiting = False
