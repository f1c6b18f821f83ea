"""The ``continuous`` model's compiled kernel: values uniform in [0, 1) (no ties) and a
binary heap (two, split by value), the textbook invasion percolation of physics papers.

Like the fast kernel, a cell's value is drawn from the run's xoshiro256++ stream the
first time the cell reaches the frontier (neighbours x-1, x+1, y-1, y+1 of each new
cell), so a run costs O(cluster log cluster).  Every drawn value is also returned, in
draw order: the acceptance profile needs the values of all frontier cells ever seen.
"""

import numpy as np
from numba import njit

# Shared with the fast kernel on purpose (same stream, same state encoding). Numba's cache
# is keyed on this file only: after changing _fast.py, delete perc_mpi/__pycache__ (or
# touch this file) so this kernel is recompiled with the change.
from ._fast import BORDER, FILLED, FRONTIER, STATUS, UNSEEN, mark_border, next_u64

_TO_UNIT = 2.0**-53  # top 53 bits of a 64-bit word -> a double in [0, 1)
# Frontier cells valued below this go to a small heap, the rest to a large one. Every
# low value is below every high one, so popping the low heap first (the high one when
# the low is empty) is the same order as one heap -- but the pops, O(log size), mostly
# hit the small heap: invasion takes values below p_c ~ 0.593 and leaves the rest.
_SPLIT = 0.6


@njit(cache=True, error_model="numpy", inline="always")
def _sift_up(keys, cells, i):
    key, cell = keys[i], cells[i]
    while i > 0:
        parent = (i - 1) >> 1
        if keys[parent] <= key:
            break
        keys[i], cells[i] = keys[parent], cells[parent]
        i = parent
    keys[i], cells[i] = key, cell


@njit(cache=True, error_model="numpy", inline="always")
def _pop(keys, cells, size):
    """Remove the heap's minimum; return (key, cell). ``size`` is the size before."""
    top_key, top_cell = keys[0], cells[0]
    size -= 1
    key, cell = keys[size], cells[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and keys[child + 1] < keys[child]:
            child += 1
        if keys[child] >= key:
            break
        keys[i], cells[i] = keys[child], cells[child]
        i = child
    keys[i], cells[i] = key, cell
    return top_key, top_cell


@njit(cache=True, error_model="numpy")
def invade_continuous(width, height, s, state):
    """Run one continuous invasion on a zeroed ``state`` (uint8, width*height).

    Returns ``(n_filled, cells, values, n_drawn, drawn)``: the filled cells' linear
    indices and values in fill order, and every drawn value in draw order (arrays
    may be longer than their counts).
    """
    mark_border(width, height, state)
    n_cells = width * height
    low_keys = np.empty(n_cells, np.float64)  # untouched pages cost nothing
    low_cells = np.empty(n_cells, np.int32)
    high_keys = np.empty(n_cells, np.float64)
    high_cells = np.empty(n_cells, np.int32)
    cells = np.empty(n_cells, np.int32)
    values = np.empty(n_cells, np.float64)
    drawn = np.empty(n_cells, np.float64)

    cell = (width // 2) * height + height // 2
    state[cell] |= FILLED
    value = (next_u64(s) >> np.uint64(11)) * _TO_UNIT
    drawn[0] = value
    cells[0], values[0] = cell, value
    n_filled, n_drawn, low, high = 1, 1, 0, 0
    while True:
        for neighbour in (cell - height, cell + height, cell - 1, cell + 1):
            if state[neighbour] & STATUS == UNSEEN:
                state[neighbour] |= FRONTIER
                value = (next_u64(s) >> np.uint64(11)) * _TO_UNIT
                drawn[n_drawn] = value
                n_drawn += 1
                if value < _SPLIT:
                    low_keys[low], low_cells[low] = value, neighbour
                    _sift_up(low_keys, low_cells, low)
                    low += 1
                else:
                    high_keys[high], high_cells[high] = value, neighbour
                    _sift_up(high_keys, high_cells, high)
                    high += 1
        if low:
            value, cell = _pop(low_keys, low_cells, low)
            low -= 1
        else:
            value, cell = _pop(high_keys, high_cells, high)
            high -= 1
        state[cell] |= FILLED
        cells[n_filled], values[n_filled] = cell, value
        n_filled += 1
        if state[cell] & BORDER:
            return n_filled, cells, values, n_drawn, drawn
