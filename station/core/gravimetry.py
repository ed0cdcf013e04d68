"""Gravimetric checks: is the weighed amount the one ordered, and can the balance tell.

Net mass Δm = after − before; volume V = Δm ÷ SG; dose = V × concentration;
deviation = (measured − expected) ÷ expected. Everything is :class:`~decimal.Decimal`.

The measurement's standard uncertainty combines, for the net of two readings, the rounding
of each reading (uniform over ±d/2, so d/√12), the balance's repeatability s (no less than
0.41·d, USP <41>) on each, and the specific gravity's uncertainty:

    u² = 2·(d²/12 + s²) + (Δm · u_SG / SG)²,   U = 2u (about 95 %).

Decision, with band = tolerance × expected mass:

1. |Δm − expected| > band + U: **fail** (outside however the uncertainty falls);
2. U > share × band (default share 1/3): **not verifiable by weight** — the balance is too
   coarse for this amount (the small-dose case of USP <41>); another check is required;
3. |Δm − expected| ≤ band: **pass**; otherwise **fail**.

>>> spec = BalanceSpec(readability=Decimal("0.01"), repeatability=Decimal("0.005"))
>>> sg = SpecificGravity(Decimal("1.000"), Decimal("0.002"), "water")
>>> result = check_mass(Mass(Decimal("10.00")), Mass(Decimal("20.30")),
...                     expected=Decimal("10.00"), specific_gravity=sg,
...                     tolerance=Tolerance(Decimal("0.05")), balance=spec)
>>> result.verdict, result.deviation
(<Verdict.PASS: 'pass'>, Decimal('0.03'))
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

from station.core.errors import InvalidFormat
from station.core.quantities import (
    Concentration,
    Dimension,
    Mass,
    Quantity,
    SpecificGravity,
    Tolerance,
    Unit,
)

# USP <41>: the standard deviation used for a balance is never less than 0.41 × readability.
MIN_REPEATABILITY_FACTOR = Decimal("0.41")
# Coverage factor for the expanded uncertainty (about 95 % for a normal distribution).
COVERAGE = Decimal(2)
# Largest share of the tolerance band the expanded uncertainty may take (a 3:1 test ratio).
DEFAULT_MAX_UNCERTAINTY_SHARE = Decimal(1) / Decimal(3)
_TWELVE = Decimal(12)


class Verdict(Enum):
    """Outcome of a gravimetric check."""

    PASS = "pass"
    FAIL = "fail"
    NOT_VERIFIABLE = "not verifiable by weight"


@dataclass(frozen=True)
class BalanceSpec:
    """What a balance can resolve, in grams: readability d and repeatability s (std. dev.)."""

    readability: Decimal
    repeatability: Decimal

    def __post_init__(self) -> None:
        if self.readability <= 0:
            raise InvalidFormat("balance readability must be greater than zero")
        if self.repeatability < 0:
            raise InvalidFormat("balance repeatability cannot be negative")

    @property
    def effective_repeatability(self) -> Decimal:
        """The standard deviation used: the measured one, but no less than 0.41·d."""
        return max(self.repeatability, MIN_REPEATABILITY_FACTOR * self.readability)

    def net_uncertainty(self) -> Decimal:
        """Standard uncertainty (g) of a difference of two readings."""
        d, s = self.readability, self.effective_repeatability
        return (2 * (d * d / _TWELVE + s * s)).sqrt()


@dataclass(frozen=True)
class GravimetricResult:
    """Everything a check computed, kept so a pharmacist and an auditor can redo it."""

    before: Mass
    after: Mass
    expected_mass: Decimal
    expected_volume_ml: Decimal
    expected_dose: Quantity | None
    measured_volume_ml: Decimal
    measured_dose: Quantity | None
    tolerance: Tolerance
    uncertainty: Decimal
    verdict: Verdict
    reason: str

    @property
    def net_mass(self) -> Decimal:
        """Grams gained (or lost, if negative) between the two readings."""
        return self.after.grams - self.before.grams

    @property
    def deviation(self) -> Decimal:
        """(measured − expected) ÷ expected, as a fraction; positive means too much."""
        return (self.net_mass - self.expected_mass) / self.expected_mass

    @property
    def band(self) -> Decimal:
        """Half-width of the tolerance band, in grams."""
        return self.tolerance.fraction * self.expected_mass

    @property
    def uncertainty_share(self) -> Decimal:
        """Expanded uncertainty as a fraction of the tolerance band."""
        return self.uncertainty / self.band


def expanded_uncertainty(
    net_mass: Decimal, specific_gravity: SpecificGravity, balance: BalanceSpec
) -> Decimal:
    """U (k = 2, grams) of a net mass taken as a measure of volume or dose."""
    u_balance = balance.net_uncertainty()
    u_sg = abs(net_mass) * specific_gravity.relative_uncertainty
    return COVERAGE * (u_balance * u_balance + u_sg * u_sg).sqrt()


def is_verifiable(
    expected_mass: Decimal,
    specific_gravity: SpecificGravity,
    tolerance: Tolerance,
    balance: BalanceSpec,
    max_share: Decimal = DEFAULT_MAX_UNCERTAINTY_SHARE,
) -> bool:
    """Whether a correct amount of ``expected_mass`` grams could be confirmed on this balance."""
    uncertainty = expanded_uncertainty(expected_mass, specific_gravity, balance)
    return uncertainty <= max_share * tolerance.fraction * expected_mass


def expected_volume(dose: Quantity, concentration: Concentration | None) -> Decimal:
    """The volume (mL) that holds a dose: the dose itself when ordered in mL."""
    if dose.dimension is Dimension.VOLUME:
        return dose.to(Unit.ML).value
    if concentration is None:
        raise InvalidFormat(f"dose {dose} needs a concentration to become a volume")
    return concentration.volume_for(dose)


def check_dose(
    before: Mass,
    after: Mass,
    *,
    ordered: Quantity,
    concentration: Concentration | None,
    specific_gravity: SpecificGravity,
    tolerance: Tolerance,
    balance: BalanceSpec,
    max_share: Decimal = DEFAULT_MAX_UNCERTAINTY_SHARE,
) -> GravimetricResult:
    """Check a drawn dose: the syringe (or vial) weighed before and after."""
    volume = expected_volume(ordered, concentration)
    result = check_mass(
        before,
        after,
        expected=volume * specific_gravity.value,
        specific_gravity=specific_gravity,
        tolerance=tolerance,
        balance=balance,
        max_share=max_share,
    )
    if concentration is None or ordered.dimension is Dimension.VOLUME:
        measured = Quantity(result.measured_volume_ml, Unit.ML).to(ordered.unit)
    else:
        measured = concentration.amount_in(result.measured_volume_ml).to(ordered.unit)
    return replace(result, expected_volume_ml=volume, expected_dose=ordered, measured_dose=measured)


def check_mass(
    before: Mass,
    after: Mass,
    *,
    expected: Decimal,
    specific_gravity: SpecificGravity,
    tolerance: Tolerance,
    balance: BalanceSpec,
    max_share: Decimal = DEFAULT_MAX_UNCERTAINTY_SHARE,
) -> GravimetricResult:
    """Check a mass gain against an expected mass (diluent added, final container gain)."""
    if expected <= 0:
        raise InvalidFormat(f"expected mass {expected} g must be greater than zero")
    net = after.grams - before.grams
    band = tolerance.fraction * expected
    uncertainty = expanded_uncertainty(max(net, expected), specific_gravity, balance)
    error = abs(net - expected)
    verdict, reason = _decide(net, expected, error, band, uncertainty, max_share)
    return GravimetricResult(
        before=before,
        after=after,
        expected_mass=expected,
        expected_volume_ml=expected / specific_gravity.value,
        expected_dose=None,
        measured_volume_ml=net / specific_gravity.value,
        measured_dose=None,
        tolerance=tolerance,
        uncertainty=uncertainty,
        verdict=verdict,
        reason=reason,
    )


def _decide(
    net: Decimal,
    expected: Decimal,
    error: Decimal,
    band: Decimal,
    uncertainty: Decimal,
    max_share: Decimal,
) -> tuple[Verdict, str]:
    deviation = _percent((net - expected) / expected, signed=True)
    limit = _percent(band / expected)
    if error > band + uncertainty:
        return Verdict.FAIL, (
            f"{_grams(net)} g weighed, {_grams(expected)} g expected: {deviation} is outside "
            f"±{limit}"
        )
    if uncertainty > max_share * band:
        return Verdict.NOT_VERIFIABLE, (
            f"the balance cannot verify {_grams(expected)} g to ±{limit}: its uncertainty "
            f"±{_grams(uncertainty)} g is {_percent(uncertainty / band)} of the ±{_grams(band)} g "
            "band; verify this amount another way"
        )
    if error <= band:
        return Verdict.PASS, f"{_grams(net)} g weighed, {deviation} from {_grams(expected)} g"
    return Verdict.FAIL, (
        f"{_grams(net)} g weighed, {_grams(expected)} g expected: {deviation} is outside ±{limit}"
    )


def _percent(fraction: Decimal, *, signed: bool = False) -> str:
    value = (fraction * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    sign = "+" if signed and value > 0 else ""
    return f"{sign}{value}%"


def _grams(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))
