"""The ``fast`` engine's compiled kernel: a bucket queue with lazily drawn cell values.

The kernel only loops and fills; the wrapper in :mod:`perc_mpi.engine` validates,
seeds and allocates.  Cell values are drawn from the run's own xoshiro256++ stream
the first time a cell reaches the frontier, so a run costs O(cluster) work and the
grid-sized memory is one byte of state per cell.  The draws happen in a fixed order
(neighbours x-1, x+1, y-1, y+1 of each newly filled cell, then one uniform tie pick),
so the result depends only on (width, height, depth, seed).
"""

import numpy as np
from numba import njit

UNSEEN, FRONTIER, FILLED = 0, 1, 3  # FILLED includes the FRONTIER bit: bits only grow
STATUS = 3  # state bits holding UNSEEN / FRONTIER / FILLED
BORDER = 4  # state bit set on the grid's border cells: no division per step to test it

# Typed constants: numba types a bare Python int as int64, and uint64 <op> int64
# silently becomes float64, which would break the generator's bit arithmetic.
_U32 = np.uint64(32)
_MASK32 = np.uint64(0xFFFFFFFF)
_TWO32 = np.uint64(1 << 32)
_INITIAL_BUCKET = 16


@njit(cache=True, error_model="numpy")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True, error_model="numpy")
def next_u64(s):
    """Advance the xoshiro256++ state ``s`` (uint64[4]) and return the next 64-bit word."""
    result = _rotl(s[0] + s[3], 23) + s[0]
    t = s[1] << np.uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


@njit(cache=True, error_model="numpy")
def bounded(s, n):
    """Return an unbiased integer in [0, n) for 1 <= n < 2**32 (Lemire's method)."""
    n = np.uint64(n)
    m = (next_u64(s) >> _U32) * n
    low = m & _MASK32
    if low < n:
        threshold = (_TWO32 - n) % n
        while low < threshold:
            m = (next_u64(s) >> _U32) * n
            low = m & _MASK32
    return np.int64(m >> _U32)


@njit(cache=True, error_model="numpy")
def grow_rows(table):
    """Return a copy of a 2D table with every row's capacity doubled."""
    grown = np.empty((table.shape[0], 2 * table.shape[1]), table.dtype)
    grown[:, : table.shape[1]] = table
    return grown


@njit(cache=True, error_model="numpy")
def mark_border(width, height, state):
    """Set the BORDER bit on the border cells of a state array (index x*height+y)."""
    last = (width - 1) * height
    for y in range(height):
        state[y] |= BORDER
        state[last + y] |= BORDER
    for x in range(width):
        state[x * height] |= BORDER
        state[x * height + height - 1] |= BORDER


@njit(cache=True, error_model="numpy")
def invade_fast(width, height, depth, s, state, cells, values):
    """Run one invasion on a zeroed ``state`` (uint8, width*height, index x*height+y).

    Writes the linear index and the value of every filled cell, in fill order, to
    ``cells`` (int32) and ``values`` (uint16), each with room for every cell, so the hot
    loop needs no capacity check.  Returns ``n_filled``.  ``state`` is left with FILLED
    in its STATUS bits on filled cells.
    """
    mark_border(width, height, state)
    # One row of cell indices per value level; all rows grow together (amortised O(1)).
    buckets = np.empty((depth + 1, _INITIAL_BUCKET), np.int32)
    lengths = np.zeros(depth + 1, np.int64)
    cell = (width // 2) * height + height // 2
    state[cell] |= FILLED
    cells[0] = cell
    values[0] = 1 + bounded(s, depth)
    progress = np.array([1, depth + 1, 0])  # see _fill
    while not _fill(height, depth, s, state, cells, values, buckets, lengths, progress):
        buckets = grow_rows(buckets)
    return progress[0]


@njit(cache=True, error_model="numpy")
def _fill(height, depth, s, state, cells, values, buckets, lengths, progress):
    """Fill cells until a border cell is filled (return True) or the next step could
    overflow a bucket (return False: grow the table and call again).

    ``progress`` carries (cells filled, lowest level that may hold a cell, longest any
    bucket has been) from call to call.  The loop lives apart from the table's growth
    on purpose: a Numba function that rebinds an array inside a loop pays a
    reference-count increment and decrement on every pass (measured: 40% of this
    kernel's time at depth 2).
    """
    n_filled, lowest, longest = progress[0], progress[1], progress[2]
    while longest + 4 <= buckets.shape[1]:  # a step adds at most 4 cells to a bucket
        cell = cells[n_filled - 1]
        for neighbour in (cell - height, cell + height, cell - 1, cell + 1):
            if state[neighbour] & STATUS == UNSEEN:
                state[neighbour] |= FRONTIER
                level = 1 + bounded(s, depth)
                buckets[level, lengths[level]] = neighbour
                lengths[level] += 1
                longest = max(longest, lengths[level])
                lowest = min(lowest, level)

        while lengths[lowest] == 0:
            lowest += 1
        pick = bounded(s, lengths[lowest])
        cell = buckets[lowest, pick]
        lengths[lowest] -= 1
        buckets[lowest, pick] = buckets[lowest, lengths[lowest]]
        state[cell] |= FILLED

        cells[n_filled] = cell
        values[n_filled] = lowest
        n_filled += 1
        if state[cell] & BORDER:
            progress[0] = n_filled
            return True
    progress[0], progress[1], progress[2] = n_filled, lowest, longest
    return False
