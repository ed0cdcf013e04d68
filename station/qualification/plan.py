"""What a qualification injects, and into which preparations.

Each :class:`ErrorKind` is one physical mistake. :func:`plan_run` deals them, round-robin
in a seeded order, to a share of the preparations (the error rate); the rest are clean.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum


class ErrorKind(Enum):
    """A mistake made physically at the hood; the value is its key in reports and JSON."""

    WRONG_DRUG = "wrong_drug"
    WRONG_STRENGTH = "wrong_strength"
    WRONG_DILUENT = "wrong_diluent"
    EXPIRED_LOT = "expired_lot"
    RECALLED_LOT = "recalled_lot"
    DOSE_OVER_1_5X = "dose_over_1.5x"
    DOSE_OVER_3X = "dose_over_3x"
    DOSE_UNDER_1_5X = "dose_under_1.5x"
    DOSE_UNDER_3X = "dose_under_3x"
    SKIPPED_STEP = "skipped_step"
    BLURRY_PHOTO = "blurry_photo"
    DISAGREEING_BARCODE = "disagreeing_barcode"
    UNPLUGGED_BALANCE = "unplugged_balance"
    EXPIRED_LINEAR_ONLY = "expired_linear_only"
    RECALLED_LINEAR_ONLY = "recalled_linear_only"
    OPENED_VIAL_PAST_BUD = "opened_vial_past_bud"
    WRONG_LABEL_APPLIED = "wrong_label_applied"

    @property
    def words(self) -> str:
        """What the technician physically does, in a few words."""
        return _WORDS[self]

    @property
    def dose_factor(self) -> float | None:
        """For a dose error: the signed error in tolerances (+1.5 is 1.5 × over), else None."""
        return _DOSE_FACTORS.get(self)


_WORDS = {
    ErrorKind.WRONG_DRUG: "a vial of another drug is shown and scanned",
    ErrorKind.WRONG_STRENGTH: "the same drug in another strength is shown",
    ErrorKind.WRONG_DILUENT: "another diluent or base solution is shown",
    ErrorKind.EXPIRED_LOT: "the right product from a lot that expired 45 days ago",
    ErrorKind.RECALLED_LOT: "the right product from a lot on the recall list",
    ErrorKind.DOSE_OVER_1_5X: "a draw 1.5 tolerances over the dose",
    ErrorKind.DOSE_OVER_3X: "a draw 3 tolerances over the dose",
    ErrorKind.DOSE_UNDER_1_5X: "a draw 1.5 tolerances under the dose",
    ErrorKind.DOSE_UNDER_3X: "a draw 3 tolerances under the dose",
    ErrorKind.SKIPPED_STEP: "a drawn dose is never injected into the bag, its syringe "
                            "weighed back full",
    ErrorKind.BLURRY_PHOTO: "the camera is out of focus for a photograph",
    ErrorKind.DISAGREEING_BARCODE: "a label whose UPC-A names another product",
    ErrorKind.UNPLUGGED_BALANCE: "the balance cable is pulled during a weighing",
    ErrorKind.EXPIRED_LINEAR_ONLY: "an expired vial with only a UPC-A: its printed lot and "
                                   "expiry are read or typed as printed",
    ErrorKind.RECALLED_LINEAR_ONLY: "a vial from a recalled lot with only a UPC-A: its "
                                    "printed lot and expiry are read or typed as printed",
    ErrorKind.OPENED_VIAL_PAST_BUD: "a vial opened at an earlier shift, past its beyond-use "
                                    "time, is scanned by its opened-vial sticker",
    ErrorKind.WRONG_LABEL_APPLIED: "the label of another preparation is applied and scanned",
}
_DOSE_FACTORS = {
    ErrorKind.DOSE_OVER_1_5X: 1.5, ErrorKind.DOSE_OVER_3X: 3.0,
    ErrorKind.DOSE_UNDER_1_5X: -1.5, ErrorKind.DOSE_UNDER_3X: -3.0,
}


@dataclass(frozen=True)
class PlannedPreparation:
    """One preparation of the run: its number and the error it carries (None: clean)."""

    number: int
    error: ErrorKind | None


def plan_run(count: int, *, seed: int, error_rate: float) -> list[PlannedPreparation]:
    """``count`` preparations, ``round(count × error_rate)`` of them with an error each.

    The errors go round-robin through every kind (so each is injected as evenly as the
    count allows), in a seeded order, at seeded positions.
    """
    if count < 1:
        raise ValueError(f"a qualification makes at least one preparation, got {count}")
    if not 0.0 <= error_rate <= 1.0:
        raise ValueError(f"the error rate is a share between 0 and 1, got {error_rate}")
    rng = random.Random(f"plan/{seed}")
    kinds = list(ErrorKind)
    rng.shuffle(kinds)
    errors = round(count * error_rate)
    positions = set(rng.sample(range(count), errors))
    dealt = iter(kinds[i % len(kinds)] for i in range(errors))
    return [PlannedPreparation(n + 1, next(dealt) if n in positions else None)
            for n in range(count)]
