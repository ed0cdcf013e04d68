"""When barcode reads become a product identity: the acceptance rule.

Decoders misread, and some misreads have valid check digits (even both decoders at once),
so a read is accepted as a product only when all of these hold:

1. it parses, and its identifier is NDC-shaped (a GTIN with the ``03`` NDC prefix, or an
   AI 715 NDC) or a GTIN the formulary lists explicitly;
2. the same identifier was seen in at least two camera frames (a handheld scanner's single
   read counts as confirmed: a person aimed it at one package);
3. it resolves to exactly one formulary product;
4. when a linear code and a DataMatrix are in view together, both carry the same GTIN.

Otherwise the decision says why, in words a technician can act on. Whether the product is
the one the step expects is the workflow's decision, not this one's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

from station.core.errors import LookupFailed, ParseError
from station.core.formulary import Formulary, Product
from station.core.scan import ScanIdentity, parse_scan

REQUIRED_FRAMES = 2
# Frames (by index) within which repeated reads of one identifier count together.
FRAME_WINDOW = 15


class Status(Enum):
    """What became of the reads."""

    ACCEPTED = "accepted"
    PENDING = "pending"  # not yet: keep looking
    REFUSED = "refused"  # this will not become a product as it stands


@dataclass(frozen=True)
class SymbolRead:
    """One decoded symbol: its text with the AIM prefix, and whether it is 2-D."""

    text: str
    matrix: bool = False


@dataclass(frozen=True)
class Decision:
    """The outcome of a frame or a handheld scan, with the reason to show."""

    status: Status
    reason: str
    identity: ScanIdentity | None = None
    product: Product | None = None

    @property
    def accepted(self) -> bool:
        """True when the reads became a product."""
        return self.status is Status.ACCEPTED


def _key(identity: ScanIdentity) -> str:
    """What two reads must share to be the same package identifier."""
    if identity.gtin is not None:
        return identity.gtin.value
    assert identity.ndc is not None
    return "ndc:" + identity.ndc.key


class AcceptanceTracker:
    """Applies the rule frame by frame; remembers recent frames, nothing else."""

    def __init__(
        self,
        formulary: Formulary,
        reference_year: int,
        *,
        required_frames: int = REQUIRED_FRAMES,
        window: int = FRAME_WINDOW,
    ) -> None:
        self.formulary = formulary
        self.reference_year = reference_year
        self.required_frames = required_frames
        self.window = window
        self._seen: deque[tuple[int, str]] = deque()

    def reset(self) -> None:
        """Forget earlier frames (a new step, a new package)."""
        self._seen.clear()

    # -------------------------------------------------------------- camera

    def observe_frame(self, frame_index: int, reads: Sequence[SymbolRead]) -> Decision:
        """Judge the symbols decoded in one camera frame."""
        if not reads:
            return Decision(Status.PENDING, "no barcode in view")
        parsed: list[tuple[SymbolRead, ScanIdentity]] = []
        problems: list[str] = []
        for read in reads:
            try:
                parsed.append((read, parse_scan(read.text, self.reference_year)))
            except ParseError as error:
                problems.append(str(error))
        if not parsed:
            return Decision(Status.PENDING, f"unreadable barcode: {problems[0]}")
        conflict = _conflict(parsed)
        if conflict is not None:
            self.reset()
            return Decision(Status.REFUSED, conflict)
        identity = _merge([identity for _, identity in parsed])
        refusal = self._not_a_product_code(identity)
        if refusal is not None:
            return Decision(Status.REFUSED, refusal, identity)
        key = _key(identity)
        self._remember(frame_index, key)
        frames = {index for index, seen in self._seen if seen == key}
        if len(frames) < self.required_frames:
            return Decision(Status.PENDING, "read once — hold steady", identity)
        return self._resolve(identity)

    def _remember(self, frame_index: int, key: str) -> None:
        self._seen.append((frame_index, key))
        while self._seen and self._seen[0][0] <= frame_index - self.window:
            self._seen.popleft()

    # -------------------------------------------------------------- handheld

    def observe_handheld(self, text: str) -> Decision:
        """Judge one handheld scan: aimed by a person, so one read is enough."""
        try:
            identity = parse_scan(text, self.reference_year)
        except ParseError as error:
            return Decision(Status.REFUSED, str(error))
        refusal = self._not_a_product_code(identity)
        if refusal is not None:
            return Decision(Status.REFUSED, refusal, identity)
        return self._resolve(identity)

    # -------------------------------------------------------------- shared

    def _not_a_product_code(self, identity: ScanIdentity) -> str | None:
        if identity.ndc is not None or identity.ndc10 is not None:
            return None
        if identity.gtin is not None and self.formulary.knows_gtin(identity.gtin):
            return None
        return (
            f"not a drug product code: GTIN {identity.gtin} carries no NDC and is not in the "
            "formulary"
        )

    def _resolve(self, identity: ScanIdentity) -> Decision:
        try:
            product = self.formulary.resolve(identity)
        except LookupFailed as error:
            return Decision(Status.REFUSED, f"not in formulary: {error}", identity)
        return Decision(Status.ACCEPTED, f"{product.label}", identity, product)


def _conflict(parsed: Sequence[tuple[SymbolRead, ScanIdentity]]) -> str | None:
    """Why the symbols in one frame cannot be one package, if they cannot."""
    keys = {_key(identity) for _, identity in parsed}
    if len(keys) <= 1:
        return None
    linear = {_key(i) for r, i in parsed if not r.matrix}
    matrix = {_key(i) for r, i in parsed if r.matrix}
    if len(linear) == 1 and len(matrix) == 1:
        return (
            f"barcodes on this vial disagree: linear code {next(iter(linear))}, DataMatrix "
            f"{next(iter(matrix))}; set it aside"
        )
    return "more than one product in view — show one package at a time"


def _merge(identities: Sequence[ScanIdentity]) -> ScanIdentity:
    """One identity from reads of the same package: lot, expiry and serial from any of them."""
    richest = max(identities, key=lambda i: (i.lot is not None, i.expiry is not None))
    merged = richest
    for other in identities:
        merged = replace(
            merged,
            lot=merged.lot or other.lot,
            expiry=merged.expiry or other.expiry,
            serial=merged.serial or other.serial,
        )
    return merged
