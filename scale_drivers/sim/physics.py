"""A physical balance: what is on the pan, and what the display shows for it.

The display updates ``update_rate`` times a second. At each update the shown gross value is

    settled load + zero drift + hood airflow + noise, rounded to the readability d,

where the settled load approaches the load on the pan along a first-order curve (time
constant ``settle_time_constant``), drift is linear, airflow is a slow random disturbance
(an Ornstein-Uhlenbeck process: stationary standard deviation ``airflow_sd``, correlation
time ``airflow_time_constant``) and noise is white (``noise_sd``, the repeatability). The
reading is *stable* when every value shown during the last ``stability_window`` seconds is
within ±1 d of the value shown now (a load change of half a division or more is sensed at
once: no reading is stable until a whole window has passed after it). Over capacity + 9 d
the balance is in overload; under −2 % of capacity (the pan lifted off) in underload. Zero
(±2 % of capacity around the factory zero) and tare act on the shown value, as on a real
balance.

Time comes from an injected clock and randomness from an injected ``random.Random``, so a
test can drive the balance deterministically:

>>> from decimal import Decimal
>>> now = [0.0]
>>> model = BalanceModel(capacity=Decimal("220"), readability=Decimal("0.01"),
...                      settle_time_constant=0.2, stability_window=0.5, noise_sd=0.0)
>>> balance = Balance(model, clock=lambda: now[0], rng=random.Random(1))
>>> balance.place("100")
>>> now[0] = 0.1
>>> balance.reading()
PanReading(value=Decimal('39.35'), stable=False, overload=False, underload=False)
>>> now[0] = 5.0
>>> balance.reading()
PanReading(value=Decimal('100.00'), stable=True, overload=False, underload=False)
>>> balance.tare()
Decimal('100.00')
>>> balance.reading().value
Decimal('0.00')
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, NamedTuple

from scale_drivers.sim.faults import FaultSet

MassLike = Decimal | int | str | float
"""A mass in grams as a caller may give it; converted to Decimal through its text."""

OVERLOAD_DIVISIONS = 9
"""The balance shows values up to capacity + 9 d, then overload."""

ZERO_RANGE = Decimal("0.02")
"""Zeroing is allowed within ±2 % of capacity around the factory zero."""

UNDERLOAD_FRACTION = Decimal("0.02")
"""Below −2 % of capacity (gross, from the factory zero) the balance is in underload."""

SLOW_STABILITY_WINDOW = 120.0
"""Seconds of steady readings the ``slow_stability`` fault demands, longer than any
device's own wait for stability."""

Direction = Literal["+", "-"]


class OutOfRange(Exception):
    """A zero or tare the balance refuses: ``direction`` is ``+`` (above) or ``-`` (below)."""

    def __init__(self, action: str, direction: Direction) -> None:
        where = "above" if direction == "+" else "below"
        super().__init__(f"cannot {action}: the load is {where} the allowed range")
        self.direction: Direction = direction


class PanReading(NamedTuple):
    """What the display shows now: net value (Decimal, in grams) and status flags."""

    value: Decimal
    stable: bool
    overload: bool
    underload: bool


@dataclass(frozen=True)
class BalanceModel:
    """Physical characteristics of one balance model (masses in grams, times in seconds)."""

    capacity: Decimal
    readability: Decimal
    settle_time_constant: float = 0.25
    stability_window: float = 1.0
    noise_sd: float = 0.003
    drift_per_hour: float = 0.0
    airflow_sd: float = 0.0
    airflow_time_constant: float = 2.0
    update_rate: float = 10.0

    def __post_init__(self) -> None:
        if not self.capacity > 0:
            raise ValueError(f"capacity must be positive, got {self.capacity}")
        if not self.readability > 0 or self.readability > self.capacity:
            raise ValueError(f"readability must be positive and below capacity, "
                             f"got {self.readability}")
        for name in ("settle_time_constant", "stability_window", "airflow_time_constant",
                     "update_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("noise_sd", "airflow_sd"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")

    @property
    def decimals(self) -> int:
        """Decimal places the display shows (from the readability's exponent)."""
        exponent = self.readability.normalize().as_tuple().exponent
        assert isinstance(exponent, int)
        return max(0, -exponent)

    def quantize(self, grams: float | Decimal) -> Decimal:
        """A mass rounded to the readability, as the display shows it (never ``-0``)."""
        steps = (Decimal(grams) / self.readability).to_integral_value(ROUND_HALF_UP)
        shown = (steps * self.readability).quantize(Decimal(1).scaleb(-self.decimals))
        return shown.copy_abs() if shown.is_zero() else shown


def to_decimal(grams: MassLike) -> Decimal:
    """A mass as a Decimal, through its text (so ``0.1`` becomes ``Decimal('0.1')``)."""
    return grams if isinstance(grams, Decimal) else Decimal(str(grams))


class Balance:
    """A balance with a load on its pan, zero, tare, settling, noise, drift and airflow.

    Every method is thread-safe. ``faults`` may force overload, underload, never-stable or
    slow stability.
    """

    def __init__(
        self,
        model: BalanceModel,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        faults: FaultSet | None = None,
        initial_load: MassLike = 0,
        settled: bool = True,
    ) -> None:
        self.model = model
        self._clock = clock
        self._rng = rng if rng is not None else random.Random(0)
        self.faults = faults if faults is not None else FaultSet(clock)
        self._lock = threading.RLock()
        start = clock()
        self._start = start
        self._period = 1.0 / model.update_rate
        self._ticks = 0  # display updates so far; update k happens at start + k × period
        self._next_tick = start
        self._load = to_decimal(initial_load)
        self._target = float(self._load)
        self._change_time = start
        self._change_value = self._target if settled else 0.0
        self._history_start = -math.inf if settled else start
        self._airflow = self._rng.gauss(0.0, model.airflow_sd) if model.airflow_sd else 0.0
        self._zero_steps = 0  # where zero was set, in divisions from the factory zero
        self._tare = self.model.quantize(Decimal(0))
        self._shown = 0  # gross value shown, in divisions from the factory zero
        self._history: deque[tuple[float, int]] = deque()
        self._max_history = max(model.stability_window, SLOW_STABILITY_WINDOW)
        self._advance(start)

    # ------------------------------------------------------------------ loads
    def now(self) -> float:
        """Device time."""
        return self._clock()

    def place(self, grams: MassLike) -> None:
        """Put a mass on the pan."""
        with self._lock:
            self._change_load(self._load + to_decimal(grams))

    def remove(self, grams: MassLike) -> None:
        """Take a mass off the pan."""
        with self._lock:
            self._change_load(self._load - to_decimal(grams))

    def set_load(self, grams: MassLike) -> None:
        """Make the load on the pan this mass (negative: less than the empty pan)."""
        with self._lock:
            self._change_load(to_decimal(grams))

    @property
    def load(self) -> Decimal:
        """The mass on the pan now (the physical truth, not what is shown)."""
        with self._lock:
            return self._load

    # ------------------------------------------------------------------ zero and tare
    @property
    def tare_value(self) -> Decimal:
        """The tare in effect (0 when none)."""
        with self._lock:
            return self._tare

    def tare(self) -> Decimal:
        """Tare what is shown now (gross); the new tare, or :class:`OutOfRange`."""
        with self._lock:
            self._advance(self._clock())
            overload, underload = self._limits()
            if overload:
                raise OutOfRange("tare", "+")
            gross = self._gross_shown()
            if underload or gross < 0:
                raise OutOfRange("tare", "-")
            self._tare = gross
            return gross

    def set_tare(self, grams: MassLike) -> Decimal:
        """Preset a tare (rounded to the readability); :class:`OutOfRange` outside 0…capacity."""
        value = self.model.quantize(to_decimal(grams))
        if value < 0:
            raise OutOfRange("preset this tare", "-")
        if value > self.model.capacity:
            raise OutOfRange("preset this tare", "+")
        with self._lock:
            self._tare = value
            return value

    def clear_tare(self) -> None:
        """Forget the tare."""
        with self._lock:
            self._tare = self.model.quantize(Decimal(0))

    def zero(self) -> None:
        """Set zero to what is on the pan now, and clear the tare.

        :class:`OutOfRange` if the load is more than 2 % of capacity from the factory zero.
        """
        with self._lock:
            self._advance(self._clock())
            overload, underload = self._limits()
            gross = self._shown * self.model.readability
            limit = ZERO_RANGE * self.model.capacity
            if overload or gross > limit:
                raise OutOfRange("zero", "+")
            if underload or gross < -limit:
                raise OutOfRange("zero", "-")
            self._zero_steps = self._shown
            self._tare = self.model.quantize(Decimal(0))

    # ------------------------------------------------------------------ reading
    def reading(self) -> PanReading:
        """The net value shown now, whether it is stable, and the range flags."""
        with self._lock:
            now = self._clock()
            self._advance(now)
            overload, underload = self._limits()
            stable = not overload and not underload and self._is_stable(now)
            return PanReading(self._gross_shown() - self._tare, stable, overload, underload)

    def next_update(self) -> float:
        """Device time of the next display update."""
        with self._lock:
            return self._next_tick

    # ------------------------------------------------------------------ internals
    def _change_load(self, load: Decimal) -> None:
        now = self._clock()
        self._advance(now)
        self._change_value = self._settled(now)
        self._change_time = now
        if abs(load - self._load) >= self.model.readability / 2:
            # The balance senses the motion at once, before the display next updates.
            self._history_start = max(self._history_start, now)
        self._load = load
        self._target = float(load)

    def _settled(self, t: float) -> float:
        elapsed = max(0.0, t - self._change_time)
        decay = math.exp(-elapsed / self.model.settle_time_constant)
        return self._target + (self._change_value - self._target) * decay

    def _advance(self, now: float) -> None:
        """Run the display updates due up to ``now``."""
        if now < self._next_tick:
            return
        ticks = int((now - self._next_tick) / self._period) + 1
        keep = int(self._max_history / self._period) + 2
        if ticks > keep:
            skipped = ticks - keep
            self._step_airflow(skipped * self._period)
            self._ticks += skipped
            self._history.clear()
            ticks = keep
        for _ in range(ticks):
            self._tick(self._start + self._ticks * self._period)
            self._ticks += 1
        self._next_tick = self._start + self._ticks * self._period

    def _step_airflow(self, dt: float) -> None:
        sd = self.model.airflow_sd
        if not sd:
            return
        keep = math.exp(-dt / self.model.airflow_time_constant)
        self._airflow = self._airflow * keep + self._rng.gauss(0.0, sd * math.sqrt(1 - keep**2))

    def _tick(self, t: float) -> None:
        self._step_airflow(self._period)
        drift = self.model.drift_per_hour * (t - self._start) / 3600.0
        noise = self._rng.gauss(0.0, self.model.noise_sd) if self.model.noise_sd else 0.0
        raw = self._settled(t) + drift + self._airflow + noise
        steps = Decimal(raw) / self.model.readability
        self._shown = int(steps.to_integral_value(ROUND_HALF_UP))
        self._history.append((t, self._shown))
        horizon = t - self._max_history
        while self._history and self._history[0][0] < horizon:
            self._history.popleft()

    def _gross_shown(self) -> Decimal:
        return self.model.quantize((self._shown - self._zero_steps) * self.model.readability)

    def _limits(self) -> tuple[bool, bool]:
        readability = float(self.model.readability)
        gross = self._shown * readability
        over = gross > float(self.model.capacity) + OVERLOAD_DIVISIONS * readability
        under = gross < -float(UNDERLOAD_FRACTION * self.model.capacity)
        return over or "overload" in self.faults, under or "underload" in self.faults

    def _is_stable(self, now: float) -> bool:
        if "never_stable" in self.faults:
            return False
        window = self.model.stability_window
        since = self._history_start
        slow_since = self.faults.injected_at("slow_stability")
        if slow_since is not None:
            window = max(window, SLOW_STABILITY_WINDOW)
            since = max(since, slow_since)
        if not self._history:
            return False
        latest_time, latest = self._history[-1]
        horizon = latest_time - window
        if since > horizon:
            return False
        for t, shown in reversed(self._history):
            if t < horizon:
                break
            if abs(shown - latest) > 1:
                return False
        else:
            # The history does not reach back a whole window: only a balance that was
            # settled from the start counts as stable then.
            return since == -math.inf or self._history[0][0] <= horizon
        return True
