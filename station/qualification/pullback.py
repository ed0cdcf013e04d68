"""What a syringe pull-back check would have caught of the same injected errors.

The traditional check weighs nothing and scans nothing: the technician shows the syringe
with its plunger at the volume drawn, and a pharmacist reads the volume off the barrel.
The model here is the check at its best: the plunger shows what was really drawn, and
the checker reads it to half a scale increment. Two things still blur it:

- the syringe's own scale error, drawn per syringe uniformly within ±4 % (the accuracy of
  a hypodermic syringe's graduations, ISO 7886-1, as summarised in
  /work/shared/design/domain.md, "The arithmetic");
- reading the barrel: parallax of up to a quarter increment, then rounded to the nearest
  half increment, on the scale increments printed on common syringes of each size.

A dose error is caught when the volume read is outside the order's tolerance. Nothing
else is: the check looks at a volume, not at a label, a lot, a recall list, a photo, a
balance, or whether the dose went into the bag. In practice it does worse than this model:
pull-back let through doses from −65 % to +94 % of intended, and only 72 % of 1,156 doses
were within ±5 % (J Oncol Pharm Pract 2016, in domain.md), because the plunger is pulled
back to the volume the technician believes, not the one drawn.
"""

from __future__ import annotations

import random
from decimal import Decimal

#: Scale increment (mL) printed on a syringe of each nominal size (mL), smallest first.
SCALE_INCREMENTS: tuple[tuple[Decimal, Decimal], ...] = (
    (Decimal(1), Decimal("0.01")), (Decimal(3), Decimal("0.1")), (Decimal(5), Decimal("0.2")),
    (Decimal(10), Decimal("0.2")), (Decimal(20), Decimal(1)), (Decimal(30), Decimal(1)),
    (Decimal(60), Decimal(1)),
)
#: The accuracy of a syringe's graduations: ± this share of the volume (ISO 7886-1).
SCALE_ACCURACY = 0.04


def increment(syringe_ml: Decimal) -> Decimal:
    """The scale increment of the smallest listed syringe of at least ``syringe_ml``."""
    return next((inc for size, inc in SCALE_INCREMENTS if size >= syringe_ml),
                SCALE_INCREMENTS[-1][1])


def volume_read(true_ml: Decimal, syringe_ml: Decimal, rng: random.Random) -> Decimal:
    """The volume a checker reads off a syringe really holding ``true_ml``."""
    step = increment(syringe_ml)
    scale_error = Decimal(str(rng.uniform(-SCALE_ACCURACY, SCALE_ACCURACY)))
    parallax = Decimal(str(rng.uniform(-0.25, 0.25))) * step
    shown = true_ml / (1 + scale_error) + parallax
    half = step / 2
    return (shown / half).to_integral_value() * half


def pullback_catches(true_ml: Decimal, expected_ml: Decimal, syringe_ml: Decimal,
                     tolerance: Decimal, rng: random.Random) -> bool:
    """Whether the pull-back check sees a draw of ``true_ml`` as outside the tolerance."""
    read = volume_read(true_ml, syringe_ml, rng)
    return abs(read - expected_ml) > tolerance * expected_ml
