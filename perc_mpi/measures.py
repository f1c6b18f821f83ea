"""Stage 4: measures of one run's cluster, vectorized NumPy (no Python loop over cells).

Both are the original's definitions, generalised from square to rectangular grids, and
both work from the filled cells' coordinates, so a run's measures cost O(filled cells)
plus small O(cells / 4) passes, never a pass over a full-grid mask:

* :func:`ring_counts` / :func:`density_profile` -- filled fraction of the cells at each
  distinct squared distance from the centre cell (the original's ``collect_density``);
* :func:`box_counts` / :func:`box_dimension` -- box counting with rulers 1, 2, 4, ...
  < min(width, height) over whole boxes only, minus the slope of log(count) against
  log(ruler) (the original's ``measure_dimension``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=16)
def ring_table(width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(r2, cells, ring_of)`` for a grid shape: each distinct squared distance
    from the centre cell (width // 2, height // 2) present in the grid, ascending; how
    many cells have it; and the lookup from a squared distance to its ring index.
    """
    ux, mx = np.unique((np.arange(width, dtype=np.int64) - width // 2) ** 2, return_counts=True)
    uy, my = np.unique((np.arange(height, dtype=np.int64) - height // 2) ** 2, return_counts=True)
    # int32 throughout: at 10001 x 10001 this table spans 5e7 squared distances.
    counts = np.zeros(int(ux[-1] + uy[-1]) + 1, np.int32)
    for a, ma in zip(ux, mx):  # one vectorized add per distinct |dx|; a row's indices are distinct
        counts[a + uy] += ma * my
    r2 = np.flatnonzero(counts)
    cells = counts[r2].astype(np.int64)
    # Reuse the buffer: ring index of a present squared distance = present ones below it.
    ring_of = np.cumsum(counts > 0, dtype=np.int32, out=counts)
    ring_of -= 1
    tables = (r2, cells, ring_of)
    for table in tables:
        table.flags.writeable = False
    return tables


def ring_counts(width: int, height: int, fill_x: np.ndarray, fill_y: np.ndarray) -> np.ndarray:
    """Return the number of filled cells at each distinct squared distance from the
    centre (aligned with ``ring_table(width, height)[0]``)."""
    r2, _, ring_of = ring_table(width, height)
    # int32 arithmetic (half the memory traffic) whenever the squared distances fit
    dtype = np.int32 if len(ring_of) < 2**31 else np.int64
    dx = fill_x.astype(dtype) - width // 2
    dy = fill_y.astype(dtype) - height // 2
    dx *= dx
    dy *= dy
    dx += dy
    return np.bincount(ring_of[dx], minlength=len(r2))


def density_profile(width: int, height: int, fill_x: np.ndarray, fill_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(distance, fraction)``: for each distinct distance from the centre cell
    present in the grid, ascending, the fraction of its cells that are filled."""
    r2, cells, _ = ring_table(width, height)
    return np.sqrt(r2), ring_counts(width, height, fill_x, fill_y) / cells


def box_counts(width: int, height: int, fill_x: np.ndarray, fill_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(rulers, counts)``: for rulers 1, 2, 4, ... < min(width, height), the
    number of whole ruler x ruler boxes holding a filled cell."""
    rulers, counts = [1], [len(fill_x)]  # every cell is a whole 1 x 1 box
    if min(width, height) <= 2:
        return np.array(rulers), np.array(counts)
    nx, ny = width // 2, height // 2
    # One spare row and column take the cells outside the whole 2 x 2 boxes (odd sides),
    # cheaper than filtering them out; the spares are cut off below.
    padded = np.zeros((nx + 1, ny + 1), bool)
    padded[fill_x >> 1, fill_y >> 1] = True
    occupied = padded[:nx, :ny]
    ruler = 2
    while ruler < min(width, height):
        rulers.append(ruler)
        counts.append(np.count_nonzero(occupied))
        # Whole boxes of ruler 2r are whole pairs of ruler-r boxes, as
        # (n // r) // 2 == n // (2 r): OR-pool the occupancy instead of recounting cells.
        nx, ny = occupied.shape[0] // 2, occupied.shape[1] // 2
        occupied = (occupied[0:2 * nx:2, 0:2 * ny:2] | occupied[1:2 * nx:2, 0:2 * ny:2]
                    | occupied[0:2 * nx:2, 1:2 * ny:2] | occupied[1:2 * nx:2, 1:2 * ny:2])
        ruler *= 2
    return np.array(rulers), np.array(counts)


def box_dimension(width: int, height: int, fill_x: np.ndarray, fill_y: np.ndarray) -> float:
    """Return the box-counting dimension: minus the least-squares slope of log(count)
    against log(ruler) (see :func:`box_counts`)."""
    rulers, counts = box_counts(width, height, fill_x, fill_y)
    return float(-np.polyfit(np.log(rulers), np.log(counts), 1)[0])


def acceptance_counts(frontier_values: np.ndarray, fill_values: np.ndarray,
                      bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(seen, accepted)``: per value bin of [0, 1), the cells that ever reached
    the frontier and those of them that were filled (the centre, filled by rule, is in
    neither).  accepted / seen is the acceptance profile."""
    seen = np.bincount((frontier_values * bins).astype(np.int64), minlength=bins)
    accepted = np.bincount((fill_values[1:] * bins).astype(np.int64), minlength=bins)
    return seen, accepted


def density_fit(r2: np.ndarray, mean_fraction: np.ndarray) -> tuple[float, float]:
    """Return ``(density_x, density_k)``, slope and intercept of the least-squares line of
    fraction against distance through the pooled points of all runs of a parameter point.

    All runs of a point share the same distances, so the pooled fit equals the fit
    through the mean fraction at each distance.
    """
    slope, intercept = np.polyfit(np.sqrt(r2), mean_fraction, 1)
    return float(slope), float(intercept)
