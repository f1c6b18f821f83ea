"""Stage 4: measures of one run's cluster, vectorized NumPy (no Python loop over cells).

The density profile and the box dimension are the original's definitions, generalised
from square to rectangular grids.  Both work from the filled cells' coordinates, so a
sparse run's measures cost O(filled cells) plus small O(cells / 4) passes; given the
cluster's mask as well (``mask=``, as :attr:`perc_mpi.engine.InvasionResult.dense_mask`
holds for dense runs), they work from the mask instead: a few full-grid passes, cheaper
than the per-cell gathers and scatters once the cluster fills more than about 1/8 of
the grid (measured at 2001 x 2001, depth 2: 5x faster).

* :func:`ring_counts` / :func:`density_profile` -- filled fraction of the cells at each
  distinct squared distance from the centre cell (the original's ``collect_density``);
* :func:`box_counts` / :func:`box_dimension` -- box counting with rulers 1, 2, 4, ...
  < min(width, height) over whole boxes only, minus the slope of log(count) against
  log(ruler) (the original's ``measure_dimension``);
* :func:`density_fit` -- the line through a parameter point's mean density profile
  (the original's ``estimate_density``);
* :func:`acceptance_counts` -- the continuous model's acceptance profile, and
  :func:`mass_dimension` -- its mass dimension across grid sizes (see README, "Science").
"""

from __future__ import annotations

from functools import cache, lru_cache

import numpy as np

from . import config

# Squared distances span (width/2)^2 + (height/2)^2 values, twice the offsets on a square
# grid but far more on a thin one (200001 x 3: 1e10 for 2e5 offsets); beyond this many per
# offset, the table is built by sorting the offsets' squared distances instead.
DENSE_SPAN_PER_OFFSET = 8
# Offsets (from a mask) or filled cells (from coordinates) measured per block: each
# takes ~16 bytes of temporaries (intp indices, int64 numbers), so 16 MiB a block, plus
# from coordinates each block's ring counts (8 bytes a ring).  2^20 is one block up to a
# 2047 x 2047 grid's offsets, or a 2001 x 2001 depth-100 cluster (~260 000 cells).
BLOCK = 1 << 20
# Offsets given their ring index per block when a ring table is built (bounds the
# int64 temporaries; measured as fast as one pass).
RANK_BLOCK_OFFSETS = 1 << 18
# Set bits of each byte value, and of each byte value below each bit position.
_SET_BITS = np.array([bin(byte).count("1") for byte in range(256)], np.uint8)
_SET_BITS_BELOW = np.array([[bin(byte & ((1 << bit) - 1)).count("1") for bit in range(8)] for byte in range(256)],
                           np.uint8)


@lru_cache(maxsize=config.RING_TABLES_KEPT)
def ring_table(width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(r2, cells, ring_of)`` for a grid shape: each distinct squared distance
    from the centre cell (width // 2, height // 2) present in the grid, ascending; how
    many cells have it; and the ring index (into ``r2``) of each offset from the centre,
    ``ring_of[|dx|, |dy|]`` (int32, shape (width // 2 + 1, height // 2 + 1)).

    The lookup is by offset, not by squared distance: a cluster's cells are close to
    each other, so their offsets are too, while their squared distances are scattered
    over a table twice as large (measured: the lookup 2-3x faster).  Memory and time
    are O(cells) for any shape.
    """
    cx, cy = width // 2, height // 2  # |dx| <= cx and |dy| <= cy (odd sides: one spare)
    # The distinct squares of |dx| (all of 0..cx) and how many cells share each: 1 or 2.
    ux, mx = np.unique((np.arange(width, dtype=np.int64) - cx) ** 2, return_counts=True)
    uy, my = np.unique((np.arange(height, dtype=np.int64) - cy) ** 2, return_counts=True)
    if ux[-1] + uy[-1] + 1 <= DENSE_SPAN_PER_OFFSET * len(ux) * len(uy):
        tables = _rings_by_counting(ux, mx, uy, my)
    else:
        tables = _rings_by_sorting(ux, mx, uy, my)
    for table in tables:
        table.flags.writeable = False
    return tables


@cache
def rings(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(r2, cells)`` of :func:`ring_table`, kept for every shape (the memory
    check counts them: config.SUMS_BYTES_PER_RING_AND_SHAPE): a summary needs them for
    every point at every snapshot, and a sweep of more shapes than
    config.RING_TABLES_KEPT would otherwise rebuild every table each time."""
    r2, cells, _ = ring_table(width, height)
    return r2, cells


def _rings_by_counting(ux: np.ndarray, mx: np.ndarray, uy: np.ndarray,
                       my: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return :func:`ring_table`'s tables from a count of cells per squared distance (a
    table spanning all of them: for near-square grids)."""
    # uint16 counts: n = dx^2 + dy^2 has at most r2(n) <= 4 d(n) cells, and d(n) <= 2016
    # for the n this path sees (n < 4.3e9: the span is at most 8 offsets a squared distance,
    # and a grid at most config.MAX_CELLS cells).  At 10001 x 10001 the span is 5e7: 100 MB.
    counts = np.zeros(int(ux[-1] + uy[-1]) + 1, np.uint16)
    column_cells = my.astype(np.uint16)
    for a, ma in zip(ux, mx):  # one vectorized add per distinct |dx|; a row's indices are distinct
        counts[a + uy] += int(ma) * column_cells
    r2 = np.flatnonzero(counts)
    cells = counts[r2].astype(np.int64)
    # The ring index of a present squared distance is the number of present ones below
    # it: kept as a bit per squared distance plus a count per byte of bits (a rank
    # index, 1/6 of the memory of an int32 cumulative count: at 10001 x 10001 the
    # table's build peaked at +390 MiB with one, +237 MiB with this: +213 MiB kept).
    present = np.packbits(counts, bitorder="little")  # a bit per count: set if not zero
    del counts
    set_bits = _SET_BITS[present]
    before_byte = np.cumsum(set_bits, dtype=np.int32)
    before_byte -= set_bits
    del set_bits
    ring_of = np.empty((len(ux), len(uy)), np.int32)
    rows = max(1, RANK_BLOCK_OFFSETS // len(uy))
    for start in range(0, len(ux), rows):  # a block of rows at a time: bounded temporaries
        square = ux[start:start + rows, None] + uy
        byte = square >> 3
        np.add(before_byte[byte], _SET_BITS_BELOW[present[byte], square & 7], out=ring_of[start:start + rows])
    return r2, cells, ring_of


def _rings_by_sorting(ux: np.ndarray, mx: np.ndarray, uy: np.ndarray,
                      my: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return :func:`ring_table`'s tables by sorting the offsets' squared distances (for
    thin grids, whose squared distances are sparse in a wide span)."""
    r2, ring_of = np.unique(ux[:, None] + uy, return_inverse=True)
    cells = np.bincount(ring_of.ravel(), weights=(mx[:, None] * my).ravel(), minlength=len(r2))
    return r2, cells.astype(np.int64), ring_of.reshape(len(ux), len(uy)).astype(np.int32)


def ring_counts(width: int, height: int, fill_x: np.ndarray, fill_y: np.ndarray,
                mask: np.ndarray | None = None) -> np.ndarray:
    """Return the number of filled cells at each distinct squared distance from the
    centre (aligned with ``ring_table(width, height)[0]``), counted from ``mask`` (the
    same cluster's boolean mask [x, y]) if given."""
    r2, _, ring_of = ring_table(width, height)
    if mask is not None:
        counts = np.zeros(len(r2), np.int64)
        # A block of offset rows at a time (the quadrants folded block by block too),
        # added into the counts in place by ufunc.at, whose fast loop (NumPy >= 1.25)
        # takes intp indices and numbers of the counts' dtype.  np.bincount with weights
        # also made a float64 output per block: at 10001 x 10001 it added 190 MiB to the
        # run's peak, this 57 MiB (and measured 5% faster at 2001 x 2001, depth 2).
        rows = max(1, BLOCK // ring_of.shape[1])
        for start in range(0, len(ring_of), rows):
            stop = min(start + rows, len(ring_of))
            np.add.at(counts, ring_of[start:stop].ravel().astype(np.intp),
                      _folded_quadrants(mask, start, stop).ravel().astype(np.int64))
        return counts
    # A block of cells at a time, for bounded temporaries; here bincount, not ufunc.at:
    # 0.15-0.35 ms faster at 2001 x 2001, depth 100 (one block).
    fill_x, fill_y = _signed_wide(fill_x), _signed_wide(fill_y)
    blocks = [slice(start, start + BLOCK) for start in range(0, max(len(fill_x), 1), BLOCK)]
    counts = np.bincount(_rings_hit(width, height, ring_of, fill_x[blocks[0]], fill_y[blocks[0]]),
                         minlength=len(r2))
    for block in blocks[1:]:
        counts += np.bincount(_rings_hit(width, height, ring_of, fill_x[block], fill_y[block]), minlength=len(r2))
    return counts


def _rings_hit(width: int, height: int, ring_of: np.ndarray, fill_x: np.ndarray,
               fill_y: np.ndarray) -> np.ndarray:
    """Return the ring index of each filled cell (signed coordinates, 32 bits or wider)."""
    # Flat index into ring_of, in place (each temporary costs a pass and page faults).
    offset = fill_x - width // 2
    np.abs(offset, out=offset)
    offset *= ring_of.shape[1]
    dy = fill_y - height // 2
    offset += np.abs(dy, out=dy)
    # take, not []: 0-20% faster.  mode="wrap" skips the bounds check ("raise" mode's
    # slower loop; measured 10-15% of this function): in-range coordinates give in-range
    # indices, and "raise" never caught all bad ones (a |dy| past the table's last
    # column lands in the next row).  The ring indices go into dy's memory when the
    # dtypes allow (int32 coordinates): one fresh array less.
    return np.take(ring_of.ravel(), offset, mode="wrap", out=dy if dy.dtype == ring_of.dtype else None)


def _signed_wide(coordinates: np.ndarray) -> np.ndarray:
    """Return coordinates as they are if signed and 32 bits or wider, else as int64: the
    flat indices built from them must neither wrap nor overflow."""
    coordinates = np.asarray(coordinates)
    if coordinates.dtype.kind == "i" and coordinates.dtype.itemsize >= 4:
        return coordinates
    return coordinates.astype(np.int64)


def _folded_quadrants(mask: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Return, for each offset (|dx|, |dy|) from the centre cell with start <= |dx| < stop,
    how many of the (up to four) cells at that offset are filled: uint8, shape
    (stop - start, height // 2 + 1)."""
    width, height = mask.shape
    cx, cy = width // 2, height // 2
    cells = mask.view(np.uint8)
    rows = np.zeros((stop - start, height), np.uint8)
    end = min(cx + stop, width)  # dx >= 0 (one more row than dx < 0 on even sides)
    rows[: end - cx - start] += cells[cx + start:end]
    first = max(start, 1)  # dx < 0: |dx| = first .. stop - 1, rows cx - first down to cx - stop + 1
    rows[first - start:] += cells[cx - stop + 1:cx - first + 1][::-1]
    folded = np.zeros((stop - start, cy + 1), np.uint8)
    folded[:, : height - cy] += rows[:, cy:]
    folded[:, 1:] += rows[:, :cy][:, ::-1]
    return folded


def density_profile(width: int, height: int, fill_x: np.ndarray, fill_y: np.ndarray,
                    mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(distance, fraction)``: for each distinct distance from the centre cell
    present in the grid, ascending, the fraction of its cells that are filled (see
    :func:`ring_counts` for ``mask``)."""
    r2, cells, _ = ring_table(width, height)
    return np.sqrt(r2), ring_counts(width, height, fill_x, fill_y, mask) / cells


def box_counts(width: int, height: int, fill_x: np.ndarray, fill_y: np.ndarray,
               mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(rulers, counts)``: for rulers 1, 2, 4, ... < min(width, height), the
    number of whole ruler x ruler boxes holding a filled cell; from ``mask`` (the same
    cluster's boolean mask [x, y]) if given."""
    rulers, counts = [1], [len(fill_x)]  # every cell is a whole 1 x 1 box
    if min(width, height) <= 2:
        return np.array(rulers), np.array(counts)
    if mask is not None:
        occupied = _pooled(mask)
    else:
        nx, ny = width // 2, height // 2
        # One spare row and column take the cells outside the whole 2 x 2 boxes (odd
        # sides), cheaper than filtering them out; the spares are cut off below.  The
        # flat index is built in the coordinates' own dtype (mixed-dtype ufuncs cast
        # through buffers, 3-5x slower), then cast to intp in one pass (fancy indexing
        # with any other index dtype is slower still).
        stride = ny + 1
        padded = np.zeros((nx + 1) * stride, bool)
        fill_x, fill_y = _signed_wide(fill_x), _signed_wide(fill_y)
        for start in range(0, len(fill_x), BLOCK):  # bounded temporaries
            index = fill_x[start:start + BLOCK] >> 1
            index *= stride
            index += fill_y[start:start + BLOCK] >> 1
            padded[index.astype(np.intp)] = True
        occupied = padded.reshape(nx + 1, stride)[:nx, :ny]
    ruler = 2
    while ruler < min(width, height):
        rulers.append(ruler)
        counts.append(np.count_nonzero(occupied))
        occupied = _pooled(occupied)
        ruler *= 2
    return np.array(rulers), np.array(counts)


def _pooled(occupied: np.ndarray) -> np.ndarray:
    """Return the occupancy of the whole boxes twice as wide (a box is occupied if one
    of its four halves is; a last odd row or column, outside every whole box, is cut).

    Whole boxes of ruler 2r are whole pairs of ruler-r boxes, as (n // r) // 2 == n // (2 r):
    OR-pooling the occupancy equals recounting the cells.  Rows: OR of row pairs
    (contiguous); columns: two adjacent bools read as one uint16."""
    nx, ny = occupied.shape[0] // 2, occupied.shape[1] // 2
    # order="C": the uint16 view needs contiguous rows (a Fortran-ordered mask's would not be)
    row_pairs = np.bitwise_or(occupied[0:2 * nx:2, :2 * ny], occupied[1:2 * nx:2, :2 * ny], order="C")
    return row_pairs.view(np.uint16) != 0


def box_dimension(width: int, height: int, fill_x: np.ndarray, fill_y: np.ndarray,
                  mask: np.ndarray | None = None) -> float:
    """Return the box-counting dimension: minus the least-squares slope of log(count)
    against log(ruler) (see :func:`box_counts`)."""
    rulers, counts = box_counts(width, height, fill_x, fill_y, mask)
    return -_line(np.log(rulers), np.log(counts))[0]


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Return ``(slope, intercept)`` of the least-squares line of y against x, centred
    (np.polyfit's line, a tenth of the cost and two arrays of memory)."""
    # sum / len is mean() bit for bit, without its ~2 us of bookkeeping (a small grid's
    # job runs a few tens of us).
    x_mean, y_mean = x.sum() / len(x), y.sum() / len(y)
    dx = x - x_mean
    slope = float(dx @ (y - y_mean) / (dx @ dx))
    return slope, float(y_mean - slope * x_mean)


def acceptance_counts(frontier_values: np.ndarray, fill_values: np.ndarray,
                      bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(seen, accepted)``: per value bin of [0, 1), the cells that ever reached
    the frontier and those of them that were filled (the centre, filled by rule, is in
    neither).  accepted / seen is the acceptance profile."""
    seen = np.bincount((frontier_values * bins).astype(np.int64), minlength=bins)
    accepted = np.bincount((fill_values[1:] * bins).astype(np.int64), minlength=bins)
    return seen, accepted


def mass_dimension(sizes: np.ndarray, filled: list[np.ndarray], resamples: int = 200,
                   seed: int = 0) -> tuple[float, float]:
    """Return ``(D, standard error)``: the slope of log(mean filled cells) against
    log(size), given each size's runs' filled cells (M ~ L^D at breakthrough); the
    error from a bootstrap over each size's runs (NaN if a size has a single run:
    nothing to resample)."""
    log_sizes = np.log(np.asarray(sizes, float))
    slope = np.polyfit(log_sizes, np.log([f.mean() for f in filled]), 1)[0]
    if min(map(len, filled)) < 2:
        return float(slope), float("nan")
    rng = np.random.default_rng(seed)
    boot = [np.polyfit(log_sizes, np.log([rng.choice(f, len(f)).mean() for f in filled]), 1)[0]
            for _ in range(resamples)]
    return float(slope), float(np.std(boot, ddof=1))


def density_fit(distance: np.ndarray, mean_fraction: np.ndarray) -> tuple[float, float]:
    """Return ``(density_x, density_k)``, slope and intercept of the least-squares line of
    fraction against distance through the pooled points of all runs of a parameter point.

    All runs of a point share the same distances, so the pooled fit equals the fit
    through the mean fraction at each distance.
    """
    # Not np.polyfit: its Vandermonde matrix and least-squares solver took ~250 MB at
    # 10001 x 10001 (6.8 million rings), the peak of a one-rank sweep.
    return _line(distance, mean_fraction)
