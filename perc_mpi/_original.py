"""The ``original`` engine's compiled kernel: bit-for-bit the Python original.

The original (a Metaflow lesson's ``GridLazy``) seeds Python's ``random`` with the run
seed, draws ``randint(1, depth)`` for x in range(width), for y in range(height), then
repeatedly takes the candidates of the lowest value, sorts them by (x, y) and fills
``sorted_ties[randrange(len(ties))]``.  Here Python's Mersenne Twister state is
continued in compiled code (same words, same ``getrandbits`` rejection sampling), and
"the k-th tie in (x, y) order" is found with one Fenwick tree of per-block counts per
value level, so a step costs O(log cells) instead of a sort of the ties.
"""

import numpy as np
from numba import njit

from ._fast import FILLED, FRONTIER

_MT_N = 624
_MT_M = 397


@njit(cache=True)
def _twist(mt):
    for k in range(_MT_N):
        y = (mt[k] & 0x80000000) | (mt[(k + 1) % _MT_N] & 0x7FFFFFFF)
        word = mt[(k + _MT_M) % _MT_N] ^ (y >> 1)
        if y & 1:
            word ^= 0x9908B0DF
        mt[k] = word


@njit(cache=True)
def genrand_uint32(mt, pos):
    """Return the next 32-bit output of the MT19937 state (``mt``: int64[624], ``pos``: int64[1])."""
    i = pos[0]
    if i >= _MT_N:
        _twist(mt)
        i = 0
    y = mt[i]
    pos[0] = i + 1
    y ^= y >> 11
    y ^= (y << 7) & 0x9D2C5680
    y ^= (y << 15) & 0xEFC60000
    y ^= y >> 18
    return y


@njit(cache=True)
def _bit_length(n):
    k = 0
    while n >> k:
        k += 1
    return k


@njit(cache=True)
def randbelow(mt, pos, n):
    """Return Python's ``random.randrange(n)`` for 1 <= n < 2**32, same draws consumed."""
    shift = 32 - _bit_length(n)
    r = genrand_uint32(mt, pos) >> shift
    while r >= n:
        r = genrand_uint32(mt, pos) >> shift
    return r


@njit(cache=True)
def _fenwick_add(tree, level, block, delta):
    i = block + 1
    size = tree.shape[1] - 1
    while i <= size:
        tree[level, i] += delta
        i += i & -i


@njit(cache=True)
def _fenwick_find(tree, level, rank):
    """Return (block, rank left inside it) for the 1-based ``rank`` of a level."""
    size = tree.shape[1] - 1
    step = 1
    while step * 2 <= size:
        step *= 2
    pos = 0
    while step > 0:
        nxt = pos + step
        if nxt <= size and tree[level, nxt] < rank:
            pos = nxt
            rank -= tree[level, nxt]
        step >>= 1
    return pos, rank


@njit(cache=True)
def _push(cell, state, values, tree, counts, index_sums, block_shift, lowest):
    if state[cell] != 0:
        return lowest
    state[cell] = FRONTIER
    level = values[cell]
    counts[level] += 1
    index_sums[level] += cell
    _fenwick_add(tree, level, cell >> block_shift, 1)
    return min(lowest, np.int64(level))


@njit(cache=True)
def invade_original(width, height, depth, mt, pos, block_shift, state):
    """Run one invasion exactly as the original, continuing the MT19937 state ``mt``/``pos``.

    ``state`` is a zeroed uint8 array of width*height cells (index x*height+y).
    Returns ``(n_filled, cells, values)`` like :func:`perc_mpi._fast.invade_fast`.
    """
    n_cells = width * height
    values = np.empty(n_cells, np.uint16)
    for i in range(n_cells):  # the original's x-outer, y-inner order is the linear order
        values[i] = 1 + randbelow(mt, pos, depth)

    block = 1 << block_shift
    n_blocks = (n_cells + block - 1) >> block_shift
    tree = np.zeros((depth + 1, n_blocks + 1), np.int32)
    counts = np.zeros(depth + 1, np.int64)
    # With a single tie its index is the level's index sum: no search needed.
    index_sums = np.zeros(depth + 1, np.int64)
    cells = np.empty(1024, np.int64)
    fill_values = np.empty(1024, np.uint16)

    cell = (width // 2) * height + height // 2
    state[cell] = FILLED
    cells[0] = cell
    fill_values[0] = values[cell]
    n_filled = 1
    lowest = depth + 1
    while True:
        for nb in (cell - height, cell + height, cell - 1, cell + 1):
            lowest = _push(nb, state, values, tree, counts, index_sums, block_shift, lowest)
        while counts[lowest] == 0:
            lowest += 1
        ties = counts[lowest]
        rank = randbelow(mt, pos, ties)  # drawn even for one tie, as randrange(1) does
        if ties == 1:
            cell = index_sums[lowest]
        else:
            start, left = _fenwick_find(tree, lowest, rank + 1)
            cell = start << block_shift
            while True:
                if state[cell] == FRONTIER and values[cell] == lowest:
                    left -= 1
                    if left == 0:
                        break
                cell += 1
        state[cell] = FILLED
        counts[lowest] -= 1
        index_sums[lowest] -= cell
        _fenwick_add(tree, lowest, cell >> block_shift, -1)

        if n_filled == cells.shape[0]:
            cells = np.concatenate((cells, np.empty(n_filled, np.int64)))
            fill_values = np.concatenate((fill_values, np.empty(n_filled, np.uint16)))
        cells[n_filled] = cell
        fill_values[n_filled] = lowest
        n_filled += 1

        x = cell // height
        y = cell - x * height
        if x == 0 or x == width - 1 or y == 0 or y == height - 1:
            return n_filled, cells, fill_values
