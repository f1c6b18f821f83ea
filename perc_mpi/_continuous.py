"""The ``continuous`` model's compiled kernel: values uniform in [0, 1) (no ties) and
binary heaps, the textbook invasion percolation of physics papers.

Like the fast kernel, a cell's value is drawn from the run's xoshiro256++ stream the
first time the cell reaches the frontier (neighbours x-1, x+1, y-1, y+1 of each new
cell), so a run costs O(cluster log cluster).  Every drawn value is also returned, in
draw order: the acceptance profile needs the values of all frontier cells ever seen.

The frontier is kept in several binary heaps split by value: frontier cells valued
below ``_SPLIT`` go to the heap of their band (``_BANDS`` equal bands), the others to
one large heap.  Every value in a band is below every value of the next band, so
popping the lowest non-empty band's heap (the large heap when all bands are empty)
is the same order as one heap.  Why: in a single heap the survivors near p_c ~ 0.593
pile up and each new low value sifts up through all of them (measured at 2001^2: 10
moves per push, 9.5 levels per pop); a band holds values of one size, so a push or a
pop moves about once (1.1 and 0.35 per filled cell), and the kernel ran 1.6x faster.
Invasion takes values below p_c and leaves the rest, so the large heap is hardly ever
popped: until it is, it is kept as a plain list (Floyd's heapify on the first pop).
"""

import numpy as np
from numba import njit

# Shared with the fast kernel on purpose (same stream, same state encoding). Numba's cache
# is keyed on this file only: after changing _fast.py, delete perc_mpi/__pycache__ (or
# touch this file) so this kernel is recompiled with the change.
from ._fast import BORDER, FILLED, FRONTIER, STATUS, UNSEEN, grow_rows, mark_border, next_u64

_TO_UNIT = 2.0**-53  # top 53 bits of a 64-bit word -> a double in [0, 1)
_SPLIT = 0.6  # values from here up go to the large heap
_BANDS = 32  # heaps below _SPLIT (16 to 128 measured alike)
_INITIAL_BAND = 64


# Heaps are rows of 2D (keys, cells) tables: row ``row`` holds one heap, its root at column 0.

@njit(cache=True, error_model="numpy")
def _sift_up(keys, cells, row, i):
    key, cell = keys[row, i], cells[row, i]
    while i > 0:
        parent = (i - 1) >> 1
        if keys[row, parent] <= key:
            break
        keys[row, i], cells[row, i] = keys[row, parent], cells[row, parent]
        i = parent
    keys[row, i], cells[row, i] = key, cell


@njit(cache=True, error_model="numpy")
def _sift_down(keys, cells, row, i, size):
    """Move the entry at ``i`` down to its place among the first ``size`` entries."""
    key, cell = keys[row, i], cells[row, i]
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and keys[row, child + 1] < keys[row, child]:
            child += 1
        if keys[row, child] >= key:
            break
        keys[row, i], cells[row, i] = keys[row, child], cells[row, child]
        i = child
    keys[row, i], cells[row, i] = key, cell


@njit(cache=True, error_model="numpy")
def _pop(keys, cells, row, size):
    """Remove the heap's minimum; return (key, cell). ``size`` is the size before."""
    top_key, top_cell = keys[row, 0], cells[row, 0]
    size -= 1
    keys[row, 0], cells[row, 0] = keys[row, size], cells[row, size]
    _sift_down(keys, cells, row, 0, size)
    return top_key, top_cell


@njit(cache=True, error_model="numpy")
def _heapify(keys, cells, row, size):
    """Make the first ``size`` entries of a row a heap (Floyd's method, O(size))."""
    for i in range(size // 2 - 1, -1, -1):
        _sift_down(keys, cells, row, i, size)


@njit(cache=True, error_model="numpy")
def invade_continuous(width, height, s, state, cells, values, drawn, heap_keys, heap_cells):
    """Run one continuous invasion on a zeroed ``state`` (uint8, width*height).

    Writes the filled cells' linear indices and values, in fill order, to ``cells`` and
    ``values``, and every drawn value, in draw order, to ``drawn`` (each array with room
    for every cell); ``heap_keys``/``heap_cells`` (as long) hold the large heap.
    Returns ``(n_filled, n_drawn)``.
    """
    mark_border(width, height, state)
    band_keys = np.empty((_BANDS, _INITIAL_BAND), np.float64)
    band_cells = np.empty((_BANDS, _INITIAL_BAND), np.int32)
    band_sizes = np.zeros(_BANDS, np.int64)

    cell = (width // 2) * height + height // 2
    state[cell] |= FILLED
    value = (next_u64(s) >> np.uint64(11)) * _TO_UNIT
    drawn[0] = value
    cells[0], values[0] = cell, value
    progress = np.array([1, 1, 0, _BANDS, 0, 0])  # see _fill
    while not _fill(height, s, state, cells, values, drawn, heap_keys.reshape((1, heap_keys.size)),
                    heap_cells.reshape((1, heap_cells.size)), band_keys, band_cells, band_sizes, progress):
        band_keys, band_cells = grow_rows(band_keys), grow_rows(band_cells)
    return progress[0], progress[1]


@njit(cache=True, error_model="numpy")
def _fill(height, s, state, cells, values, drawn, high_keys, high_cells, band_keys, band_cells, band_sizes,
          progress):
    """Fill cells until a border cell is filled (return True) or the next step could
    overflow a band (return False: grow the bands and call again).

    ``progress`` carries (cells filled, values drawn, size of the large heap, lowest band
    that may hold a cell, largest any band has been, whether the large heap is a heap
    yet) from call to call.  Why the loop lives apart from the growth: see
    :func:`perc_mpi._fast._fill`.
    """
    n_filled, n_drawn, high, lowest, longest = progress[0], progress[1], progress[2], progress[3], progress[4]
    high_is_heap = progress[5] == 1  # a plain list until first popped (most runs never pop it)
    to_band = _BANDS / _SPLIT
    while longest + 4 <= band_keys.shape[1]:  # a step adds at most 4 cells to a band
        cell = cells[n_filled - 1]
        for neighbour in (cell - height, cell + height, cell - 1, cell + 1):
            if state[neighbour] & STATUS == UNSEEN:
                state[neighbour] |= FRONTIER
                value = (next_u64(s) >> np.uint64(11)) * _TO_UNIT
                drawn[n_drawn] = value
                n_drawn += 1
                if value < _SPLIT:
                    band = int(value * to_band)
                    size = band_sizes[band]
                    band_keys[band, size], band_cells[band, size] = value, neighbour
                    _sift_up(band_keys, band_cells, band, size)
                    band_sizes[band] = size + 1
                    longest = max(longest, size + 1)
                    lowest = min(lowest, band)
                else:
                    high_keys[0, high], high_cells[0, high] = value, neighbour
                    if high_is_heap:
                        _sift_up(high_keys, high_cells, 0, high)
                    high += 1
        while lowest < _BANDS and band_sizes[lowest] == 0:
            lowest += 1
        if lowest < _BANDS:
            value, cell = _pop(band_keys, band_cells, lowest, band_sizes[lowest])
            band_sizes[lowest] -= 1
        else:
            if not high_is_heap:
                _heapify(high_keys, high_cells, 0, high)
                high_is_heap = True
            value, cell = _pop(high_keys, high_cells, 0, high)
            high -= 1
        state[cell] |= FILLED
        cells[n_filled], values[n_filled] = cell, value
        n_filled += 1
        if state[cell] & BORDER:
            progress[0], progress[1] = n_filled, n_drawn
            return True
    progress[0], progress[1], progress[2], progress[3], progress[4] = n_filled, n_drawn, high, lowest, longest
    progress[5] = high_is_heap
    return False
