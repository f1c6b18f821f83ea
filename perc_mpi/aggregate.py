"""Stage 5: per-parameter-point aggregates, and the summary made from them.

The per-run scalars (dimension, filled cells, seconds) are kept per job in ``runs/``, so
the summary's statistics are computed from them in job order: the same bits for any
number of ranks and across interrupted-and-resumed sweeps.  The density fit needs the
filled cells per distance ring, which are not kept per run: :class:`RingSums` adds them
up per point (integers, so the order of summation does not matter).
"""

from __future__ import annotations

import numpy as np

from . import config, measures
from .plan import ENGINE_DTYPE
from .records import DONE, FAILED

# The summary table: (name, dtype, unit, description).  The first six columns are the
# original's CSV columns, in its order.
SUMMARY_COLUMNS = (
    ("size", np.int32, "cells", "grid side (width == height); -1 for rectangular grids"),
    ("depth", np.int32, "", "cell values are uniform in 1..depth; 0: continuous, uniform in [0, 1)"),
    ("count", np.int64, "runs", "runs that finished"),
    ("dimension", np.float64, "", "mean box-counting dimension"),
    ("density_x", np.float64, "1/cells", "slope of the pooled filled-fraction vs distance fit"),
    ("density_k", np.float64, "", "intercept of the pooled filled-fraction vs distance fit"),
    ("dimension_stderr", np.float64, "", "standard error of the mean dimension"),
    ("filled_mean", np.float64, "cells", "mean number of filled cells"),
    ("seconds_mean", np.float64, "s", "mean wall time per run (engine + measures)"),
    ("width", np.int32, "cells", "grid width"),
    ("height", np.int32, "cells", "grid height"),
    ("engine", ENGINE_DTYPE, "", "fast or original"),
    ("failed", np.int64, "runs", "runs that raised an error"),
)
SUMMARY_DTYPE = np.dtype([(name, dtype) for name, dtype, _, _ in SUMMARY_COLUMNS])


def sums_length(point: np.void) -> int:
    """Return the length of a point's summed vector: one count per distance ring, then,
    for the continuous model, the acceptance profile's seen and accepted bins."""
    rings = len(measures.rings(int(point["width"]), int(point["height"]))[0])
    return rings + (2 * config.ACCEPTANCE_BINS if point["depth"] == config.CONTINUOUS else 0)


def profile_offsets(points: np.ndarray) -> np.ndarray:
    """Return where each point's summed vector starts in the flat buffer (length
    ``len(points) + 1``)."""
    return np.concatenate([[0], np.cumsum([sums_length(p) for p in points])]).astype(np.int64)


class RingSums:
    """Per point, summed over runs: filled cells per distance ring (and, for the
    continuous model, the acceptance bins, see :func:`sums_length`); all points back to
    back, int64."""

    def __init__(self, points: np.ndarray, taken_back: list[np.ndarray] | None = None):
        """Start from zero, or from a resumed file's per-point sums ``taken_back``."""
        self.offsets = profile_offsets(points)
        self.sums = np.zeros(self.offsets[-1], np.int64)
        if taken_back:
            self.sums[:] = np.concatenate(taken_back)

    def of(self, point: int) -> np.ndarray:
        """Return the (writable) sums of one point."""
        return self.sums[self.offsets[point]:self.offsets[point + 1]]

    def add(self, point: int, counts: np.ndarray) -> None:
        """Add one run's (or a batch's) ring counts to a point."""
        self.of(point)[:] += counts


def summarize(points: np.ndarray, runs: np.ndarray,
              rings: RingSums) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Return ``(summary, density)``: one SUMMARY_DTYPE row per point from the DONE runs,
    and per point the pooled profile ``(distance, mean filled fraction)``."""
    n = len(points)
    done = runs[runs["status"] == DONE]

    def per_point(weights=None):
        return np.bincount(done["point"], weights=weights, minlength=n)

    summary = np.zeros(n, SUMMARY_DTYPE)
    for name in ("width", "height", "depth", "engine"):
        summary[name] = points[name]
    summary["size"] = np.where(points["width"] == points["height"], points["width"], -1)
    count = per_point()
    summary["count"] = count
    summary["failed"] = np.bincount(runs["point"][runs["status"] == FAILED], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):  # points with no finished run: NaN
        mean = per_point(done["dimension"]) / count
        # Two passes (deviations from the mean, then their squares): the one-pass
        # sum(x^2) - n mean^2 cancels when the spread is small (7 equal dimensions gave
        # 6.5e-9, not 0; 1e6 runs with sd 0.001, a relative error of 1e-8).
        deviation = done["dimension"] - mean[done["point"]]
        variance = per_point(deviation**2) / (count - 1)
        summary["dimension"] = mean
        summary["dimension_stderr"] = np.where(count > 1, np.sqrt(variance / count), np.nan)
        summary["filled_mean"] = per_point(done["filled"].astype(np.float64)) / count
        summary["seconds_mean"] = per_point(done["seconds"]) / count
    density = [mean_profile(point, rings.of(i), count[i]) for i, point in enumerate(points)]
    for i, profile in enumerate(density):
        summary["density_x"][i], summary["density_k"][i] = (
            measures.density_fit(*profile) if count[i] else (np.nan, np.nan)
        )
    return summary, density


def mean_profile(point: np.void, sums: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(distance, mean filled fraction)`` of a parameter point from its summed
    vector over ``count`` runs (NaN fractions when there are none)."""
    r2, cells = measures.rings(int(point["width"]), int(point["height"]))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(r2), sums[: len(r2)] / (count * cells)


def sorted_rows(summary: np.ndarray) -> np.ndarray:
    """Return the summary sorted by (size, depth) as the original's table is -- by
    (width, height, depth), which is the same for square grids and places rectangular
    ones among them -- and engines last."""
    keys = ("engine", "depth", "height", "width")  # lexsort: last key is primary
    return summary[np.lexsort(tuple(summary[k] for k in keys))]
