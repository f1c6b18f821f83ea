"""Stage 4: measures of one run's cluster, vectorized NumPy (no Python loop over cells).

Both are the original's definitions, generalised from square to rectangular grids:

* :func:`density_profile` -- filled fraction of the cells at each distinct squared
  distance from the centre cell (the original's ``collect_density``);
* :func:`box_dimension` -- box counting with rulers 1, 2, 4, ... < min(width, height)
  over whole boxes only, minus the slope of log(count) against log(ruler) (the
  original's ``measure_dimension``).

Per-shape tables are cached, so a run's density costs O(filled cells + rings).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=16)
def ring_table(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(r2, cells)``: each distinct squared distance from the centre cell
    (width // 2, height // 2) present in the grid, ascending, and how many cells have it.
    """
    dx2 = (np.arange(width) - width // 2) ** 2
    dy2 = (np.arange(height) - height // 2) ** 2
    # Count by distinct |dx| and |dy| with multiplicities: O(width * height / 4) adds
    # in blocks, no width*height temporary.
    ux, mx = np.unique(dx2, return_counts=True)
    uy, my = np.unique(dy2, return_counts=True)
    counts = np.zeros(int(ux[-1] + uy[-1]) + 1, np.int64)
    for a, ma in zip(ux, mx):  # one vectorized add per distinct |dx|; indices in a row are distinct
        counts[a + uy] += ma * my
    r2 = np.flatnonzero(counts)
    r2.flags.writeable = False
    cells = counts[r2]
    cells.flags.writeable = False
    return r2, cells


def density_profile(width: int, height: int, fill_x: np.ndarray, fill_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(r2, fraction)``: for each distinct squared distance from the centre
    present in the grid, the fraction of its cells that are filled.

    ``fill_x``/``fill_y`` are the filled cells' coordinates (any order).
    """
    r2, cells = ring_table(width, height)
    filled_r2 = (fill_x - width // 2) ** 2 + (fill_y - height // 2) ** 2
    filled = np.bincount(np.searchsorted(r2, filled_r2), minlength=len(r2))
    return r2, filled / cells


def box_counts(filled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(rulers, counts)``: for rulers 1, 2, 4, ... < min(width, height), the
    number of whole ruler x ruler boxes that hold a filled cell.
    """
    rulers, counts = [], []
    occupied = filled
    ruler = 1
    while ruler < min(filled.shape):
        # Whole boxes of the next ruler are whole pairs of this ruler's boxes, because
        # (n // r) // 2 == n // (2 r): halve the occupancy grid instead of re-scanning.
        if ruler > 1:
            nx, ny = occupied.shape[0] // 2, occupied.shape[1] // 2
            occupied = occupied[: 2 * nx, : 2 * ny].reshape(nx, 2, ny, 2).any(axis=(1, 3))
        rulers.append(ruler)
        counts.append(np.count_nonzero(occupied[: filled.shape[0] // ruler, : filled.shape[1] // ruler]))
        ruler *= 2
    return np.array(rulers), np.array(counts)


def box_dimension(filled: np.ndarray) -> float:
    """Return the box-counting dimension of a filled mask: minus the least-squares slope
    of log(count) against log(ruler) (see :func:`box_counts`).
    """
    rulers, counts = box_counts(filled)
    return float(-np.polyfit(np.log(rulers), np.log(counts), 1)[0])


def density_fit(r2: np.ndarray, mean_fraction: np.ndarray) -> tuple[float, float]:
    """Return ``(density_x, density_k)``, slope and intercept of the least-squares line of
    fraction against distance through the pooled points of all runs of a parameter point.

    All runs of a point share the same distances, so the pooled fit equals the fit
    through the mean fraction at each distance.
    """
    slope, intercept = np.polyfit(np.sqrt(r2), mean_fraction, 1)
    return float(slope), float(intercept)
