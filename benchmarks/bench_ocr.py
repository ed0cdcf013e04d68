"""Printed LOT/EXP OCR: the station's reader against one raw Tesseract pass.

Two sets, each read by both, taking turns on each image:

- simulated 1280×720 hood frames (fixed seed) of vials and bags printing their lot and
  expiry in every style the labels use, across the camera_scene distortions (blur, motion,
  rotation, curvature, glare, exposure, noise), a quarter of them with a second container in
  view; counted: correct reads (lot and expiry both exact), refusals, wrong-but-confident
  reads (a lot and expiry returned that differ from the truth), and ms per frame;
- the real photographs in ``fixtures/ocr/real/`` (printed "Use by" dates without year or
  lot: see its README): the correct outcome is a refusal, so any read is a wrong read; and
  whether the printed date text was among the words seen at all.

The baseline, "raw", is Tesseract on the whole grey frame, page-segmentation mode 6 as the
reader uses, without finding lines, levelling, scaling or flattening.
"""

from __future__ import annotations

import datetime as dt
import statistics
import tomllib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from benchmarks.summary import SummaryRow
from station.demo.camera_scene import EXPIRY_STYLES, Label, Scene, render
from station.devices.ocr import OcrResult, read_printed_lot, read_raw

FRAMES = 200
SEED = 20261207
SIZE = (1280, 720)
REAL = Path(__file__).resolve().parents[1] / "fixtures" / "ocr" / "real"
CAPTIONS = ("LOT", "Lot:", "LOT/BATCH", "BATCH")
DRUGS = (
    ("0409-4888-02", "Lidocaine HCl", "2% 100 mg/5 mL", "Hospira", "vial"),
    ("0409-2720-01", "Heparin Sodium", "5,000 units/mL", "Hospira", "vial"),
    ("0338-0049-48", "Sodium Chloride 0.9%", "100 mL", "Baxter", "bag"),
    ("0641-6006-10", "Ondansetron", "4 mg/2 mL", "Hikma", "vial"),
)


@dataclass(frozen=True)
class Case:
    scene: Scene
    lot: str
    expiry: dt.date
    distinct: bool  # False when two containers in view carry different lots (must refuse)


def _lot(rng: np.random.Generator) -> str:
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    head = "".join(rng.choice(list(letters), size=int(rng.integers(1, 3))))
    return head + "".join(str(d) for d in rng.integers(0, 10, size=int(rng.integers(4, 7))))


def _label(rng: np.random.Generator) -> Label:
    ndc, name, strength, maker, container = DRUGS[int(rng.integers(len(DRUGS)))]
    style = EXPIRY_STYLES[int(rng.integers(len(EXPIRY_STYLES)))]
    year, month = int(rng.integers(2026, 2031)), int(rng.integers(1, 13))
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    day = int(rng.integers(1, last + 1)) if style in ("iso", "ddmonyyyy") else last
    return Label(ndc10=ndc, name=name, strength=strength, manufacturer=maker,
                 lot=_lot(rng), expiry=dt.date(year, month, day),
                 lot_caption=CAPTIONS[int(rng.integers(len(CAPTIONS)))], expiry_style=style,
                 datamatrix=False, container=container)  # type: ignore[arg-type]


def cases(count: int = FRAMES, seed: int = SEED) -> list[Case]:
    rng = np.random.default_rng(seed)
    found = []
    for _ in range(count):
        label = _label(rng)
        labels: tuple[Label, ...] = (label,)
        if rng.random() < 0.25:
            labels = (label, _label(rng))
        scene = Scene(
            labels=labels,
            blur=float(rng.choice([0.0, 0.0, 0.6, 1.0, 1.5])),
            motion=float(rng.choice([0.0, 0.0, 0.0, 3.0])),
            rotation=float(rng.uniform(-10, 10)),
            curvature=float(rng.uniform(0.0, 0.6)) if label.container == "vial" else 0.0,
            glare=float(rng.choice([0.0, 0.0, 0.2, 0.5])),
            exposure=float(rng.choice([0.7, 1.0, 1.0, 1.2])),
            noise=float(rng.uniform(1.0, 6.0)),
        )
        assert label.lot is not None and label.expiry is not None
        found.append(Case(scene, label.lot, label.expiry, len(labels) == 1))
    return found


@dataclass
class Tally:
    correct: int = 0
    refused: int = 0
    wrong: int = 0
    seen: int = 0
    times: list[float] | None = None

    def add(self, result: OcrResult, lot: str | None, expiry: dt.date | None) -> None:
        self.times = (self.times or []) + [result.seconds]
        read = result.printed_lot
        if read is None:
            self.refused += 1
        elif lot is not None and str(read.lot) == lot and read.expiry.date == expiry:
            self.correct += 1
        else:
            self.wrong += 1

    @property
    def ms(self) -> float:
        return 1000 * statistics.median(self.times or [float("nan")])


def main() -> list[SummaryRow]:
    ours, raw = Tally(), Tally()
    all_cases = cases()
    for number, case in enumerate(all_cases):
        frame = render(case.scene, SIZE, np.random.default_rng(number))
        truth = (case.lot, case.expiry) if case.distinct else (None, None)
        ours.add(read_printed_lot(frame), *truth)
        raw.add(read_raw(frame), *truth)
    n = len(all_cases)
    print(f"Printed LOT/EXP on {n} simulated 1280×720 frames "
          f"({sum(not c.distinct for c in all_cases)} with two different lots in view)")
    print(f"{'reader':8} {'correct':>8} {'refused':>8} {'wrong':>6} {'median ms':>10}")
    for name, tally in (("station", ours), ("raw", raw)):
        print(f"{name:8} {tally.correct / n:8.1%} {tally.refused / n:8.1%} "
              f"{tally.wrong:6d} {tally.ms:10.0f}")

    truth = tomllib.loads((REAL / "truth.toml").read_text(encoding="utf-8"))
    real_ours, real_raw = Tally(), Tally()
    for name, entry in sorted(truth.items()):
        image = cv2.imread(str(REAL / f"{name}.jpeg"), cv2.IMREAD_COLOR)
        printed = entry["printed"].split()
        for tally, reader in ((real_ours, read_printed_lot), (real_raw, read_raw)):
            result = reader(image)
            tally.add(result, None, None)
            words = [w.text.upper() for w in result.words]
            tally.seen += all(part in words for part in printed)
    m = len(truth)
    print(f"\nReal photographs ({m}, fixtures/ocr/real: 'Use by' dates, no year, no lot; "
          "every correct outcome is a refusal)")
    print(f"{'reader':8} {'date seen':>10} {'refused':>8} {'wrong':>6} {'median ms':>10}")
    for name, tally in (("station", real_ours), ("raw", real_raw)):
        print(f"{name:8} {tally.seen / m:10.1%} {tally.refused / m:8.1%} {tally.wrong:6d} "
              f"{tally.ms:10.0f}")
    return [
        SummaryRow("sim frames read correctly", 100 * ours.correct / n, "%",
                   "raw tesseract", 100 * raw.correct / n),
        SummaryRow("sim frames refused", 100 * ours.refused / n, "%",
                   "raw tesseract", 100 * raw.refused / n),
        SummaryRow("sim wrong-but-confident reads", float(ours.wrong), "frames",
                   "raw tesseract", float(raw.wrong)),
        SummaryRow("sim median time per frame", ours.ms, "ms", "raw tesseract", raw.ms),
        SummaryRow("real photos: printed date seen", 100 * real_ours.seen / m, "%",
                   "raw tesseract", 100 * real_raw.seen / m),
        SummaryRow("real photos: wrong reads", float(real_ours.wrong), "images",
                   "raw tesseract", float(real_raw.wrong)),
        SummaryRow("real photos: median time", real_ours.ms, "ms", "raw tesseract", real_raw.ms),
    ]


if __name__ == "__main__":
    main()
