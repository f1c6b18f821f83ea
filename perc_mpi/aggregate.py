"""Stage 5: per-parameter-point sufficient statistics, and the summary made from them.

Each rank adds its jobs into an :class:`Accumulator`; the driver sums the accumulators'
buffers over ranks with MPI reduce operations; :func:`summarize` turns the sums into
one summary row per point.  The buffers are plain float64 arrays so that a reduce is
one call on a NumPy buffer.
"""

from __future__ import annotations

import numpy as np

from . import measures

# Columns of the per-point statistics buffer.
STATS = ("count", "dimension_sum", "dimension_sq_sum", "filled_sum", "seconds_sum", "failed")

# The summary table: (name, dtype, unit, description).  The first six columns are the
# original's CSV columns, in its order.
SUMMARY_COLUMNS = (
    ("size", np.int32, "cells", "grid side (width == height); -1 for rectangular grids"),
    ("depth", np.int32, "", "cell values are uniform in 1..depth"),
    ("count", np.int64, "runs", "runs that finished"),
    ("dimension", np.float64, "", "mean box-counting dimension"),
    ("density_x", np.float64, "1/cells", "slope of the pooled filled-fraction vs distance fit"),
    ("density_k", np.float64, "", "intercept of the pooled filled-fraction vs distance fit"),
    ("dimension_stderr", np.float64, "", "standard error of the mean dimension"),
    ("filled_mean", np.float64, "cells", "mean number of filled cells"),
    ("seconds_mean", np.float64, "s", "mean wall time per run (engine + measures)"),
    ("width", np.int32, "cells", "grid width"),
    ("height", np.int32, "cells", "grid height"),
    ("engine", "S8", "", "fast or original"),
    ("failed", np.int64, "runs", "runs that raised an error"),
)
SUMMARY_DTYPE = np.dtype([(name, dtype) for name, dtype, _, _ in SUMMARY_COLUMNS])


def profile_offsets(points: np.ndarray) -> np.ndarray:
    """Return where each point's density profile starts in the flat profile buffer
    (length ``len(points) + 1``)."""
    sizes = [len(measures.ring_table(int(p["width"]), int(p["height"]))[0]) for p in points]
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


class Accumulator:
    """Running sums per parameter point: ``stats`` (points x STATS) and ``profiles``
    (filled cells per distance ring summed over runs, all points back to back).  The
    profile sums are integers, so they are exact whatever the order of summation."""

    def __init__(self, points: np.ndarray):
        self.offsets = profile_offsets(points)
        self.stats = np.zeros((len(points), len(STATS)))
        self.profiles = np.zeros(self.offsets[-1])

    def add(self, record: np.void, rings: np.ndarray | None) -> None:
        """Add one job's record and ring counts (None when the job failed)."""
        row = self.stats[record["point"]]
        if rings is None:
            row[STATS.index("failed")] += 1
            return
        dimension = record["dimension"]
        row[:5] += (1.0, dimension, dimension * dimension, record["filled"], record["seconds"])
        start, stop = self.offsets[record["point"]], self.offsets[record["point"] + 1]
        self.profiles[start:stop] += rings


def summarize(points: np.ndarray, stats: np.ndarray, profiles: np.ndarray,
              offsets: np.ndarray) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Return ``(summary, density)``: one SUMMARY_DTYPE row per point, and per point the
    pooled profile ``(distance, mean filled fraction)`` (``profiles`` holds the summed
    ring counts of :class:`Accumulator`)."""
    summary = np.zeros(len(points), SUMMARY_DTYPE)
    density = []
    for name in ("width", "height", "depth", "engine"):
        summary[name] = points[name]
    summary["size"] = np.where(points["width"] == points["height"], points["width"], -1)
    count = stats[:, STATS.index("count")]
    summary["count"] = count
    summary["failed"] = stats[:, STATS.index("failed")]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = stats[:, STATS.index("dimension_sum")] / count
        variance = (stats[:, STATS.index("dimension_sq_sum")] - count * mean**2) / (count - 1)
        summary["dimension"] = mean
        summary["dimension_stderr"] = np.where(count > 1, np.sqrt(np.maximum(variance, 0.0) / count), np.nan)
        summary["filled_mean"] = stats[:, STATS.index("filled_sum")] / count
        summary["seconds_mean"] = stats[:, STATS.index("seconds_sum")] / count
    for i, point in enumerate(points):
        r2, cells, _ = measures.ring_table(int(point["width"]), int(point["height"]))
        with np.errstate(invalid="ignore"):  # a point whose runs all failed has no profile
            fraction = profiles[offsets[i]:offsets[i + 1]] / (count[i] * cells)
        density.append((np.sqrt(r2), fraction))
        summary["density_x"][i], summary["density_k"][i] = (
            measures.density_fit(r2, fraction) if count[i] else (np.nan, np.nan)
        )
    return summary, density


def sorted_rows(summary: np.ndarray) -> np.ndarray:
    """Return the summary sorted by (size, depth) as the original's table is, with
    rectangular grids by (width, height, depth), and engines last."""
    keys = ("engine", "depth", "height", "width", "size")  # lexsort: last key is primary
    return summary[np.lexsort(tuple(summary[k] for k in keys))]
