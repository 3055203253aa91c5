"""Verification protocol maths (LFW "pairs" protocol), on similarities alone: no images, no models.

Scores are cosine similarities of unit vectors (higher = more alike); where a squared L2 distance
is wanted it is ``2 - 2 * similarity``. A pair is called "same" when its similarity is at or
above the threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facerec.errors import FacerecError


@dataclass(frozen=True)
class Pair:
    first: Path
    second: Path
    same: bool
    fold: int


@dataclass(frozen=True)
class Result:
    accuracy: float  # mean over folds
    std: float
    threshold: float  # mean of the per-fold thresholds
    tar_at_far: float  # true accept rate at the far below, all pairs pooled
    far: float
    folds: int
    own_threshold: bool  # True when a single fold had to choose its own threshold
    similarities: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros(0))
    same: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.zeros(0, bool))

    def accuracy_at(self, threshold: float) -> float:
        """Accuracy of all pairs at a fixed threshold (e.g. the model's, chosen elsewhere)."""
        return accuracy_at(self.similarities, self.same, threshold)

    def to_dict(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "std": self.std,
            "threshold": self.threshold,
            f"tar_at_far_{far_label(self.far)}": self.tar_at_far,
        }


def far_label(far: float) -> str:
    """1e-3 -> "1e-3" (powers of ten as people write them), anything else as %g."""
    exponent = round(math.log10(far)) if far > 0 else 0
    return f"1e{exponent}" if far > 0 and math.isclose(far, 10.0**exponent) else f"{far:g}"


def read_pairs(pairs_file: Path, root: Path, extension: str = ".jpg") -> list[Pair]:
    """Parse an LFW pairs.txt: a header "FOLDS N", then per fold N same and N different pairs."""
    try:
        lines = [line.split() for line in Path(pairs_file).read_text().splitlines() if line.strip()]
    except OSError as exc:
        raise FacerecError(f"cannot read pairs file {pairs_file}: {exc.strerror or exc}") from None
    try:
        folds, per_class = int(lines[0][0]), int(lines[0][1])
    except (IndexError, ValueError):
        raise FacerecError(f"{pairs_file}: first line must be 'FOLDS PAIRS_PER_CLASS'") from None
    if len(lines) - 1 != folds * per_class * 2:
        raise FacerecError(f"{pairs_file}: header promises {folds * per_class * 2} pairs, file has {len(lines) - 1}")

    def image(name: str, number: str) -> Path:
        return Path(root) / name / f"{name}_{int(number):04d}{extension}"

    pairs = []
    for index, fields in enumerate(lines[1:]):
        fold = index // (2 * per_class)
        if len(fields) == 3:
            pairs.append(Pair(image(fields[0], fields[1]), image(fields[0], fields[2]), True, fold))
        elif len(fields) == 4:
            pairs.append(Pair(image(fields[0], fields[1]), image(fields[2], fields[3]), False, fold))
        else:
            raise FacerecError(f"{pairs_file}: line {index + 2} is neither 'NAME N M' nor 'NAME N NAME M'")
    return pairs


def accuracy_at(similarities: np.ndarray, same: np.ndarray, threshold: float) -> float:
    return float(np.mean((similarities >= threshold) == same))


def best_threshold(similarities: np.ndarray, same: np.ndarray) -> float:
    """The threshold with the highest accuracy; among equals, the middle of the best interval."""
    values = np.unique(similarities)
    candidates = np.concatenate([[values[0] - 1e-6], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-6]])
    accuracies = np.array([accuracy_at(similarities, same, t) for t in candidates])
    best = np.flatnonzero(accuracies == accuracies.max())
    return float(candidates[best[len(best) // 2]])


def tar_at_far(similarities: np.ndarray, same: np.ndarray, far: float = 1e-3) -> float:
    """Fraction of same pairs accepted at the lowest threshold whose false accept rate is <= far.

    With D different pairs, at most floor(far * D) of them may score at or above the threshold
    (with 300 per fold that is none: the threshold sits just above the best different pair).
    """
    impostors = np.sort(similarities[~same])[::-1]
    allowed = int(np.floor(far * len(impostors)))
    threshold = np.nextafter(impostors[allowed], np.inf) if allowed < len(impostors) else -np.inf
    return float(np.mean(similarities[same] >= threshold))


def evaluate(similarities: np.ndarray, same: np.ndarray, folds: np.ndarray, far: float = 1e-3) -> Result:
    """k-fold accuracy: each fold's threshold is chosen on the other folds (on itself if it is alone)."""
    similarities, same, folds = np.asarray(similarities, float), np.asarray(same, bool), np.asarray(folds)
    fold_ids = np.unique(folds)
    accuracies, thresholds = [], []
    for fold in fold_ids:
        test = folds == fold
        train = ~test if len(fold_ids) > 1 else test
        threshold = best_threshold(similarities[train], same[train])
        thresholds.append(threshold)
        accuracies.append(accuracy_at(similarities[test], same[test], threshold))
    return Result(
        accuracy=float(np.mean(accuracies)),
        std=float(np.std(accuracies)),
        threshold=float(np.mean(thresholds)),
        tar_at_far=tar_at_far(similarities, same, far),
        far=far,
        folds=len(fold_ids),
        own_threshold=len(fold_ids) == 1,
        similarities=similarities,
        same=same,
    )
