"""The ``original`` engine's compiled kernel: bit-for-bit the Python original.

The original (a Metaflow lesson's ``GridLazy``) seeds Python's ``random`` with the run
seed, draws ``randint(1, depth)`` for x in range(width), for y in range(height), then
repeatedly takes the candidates of the lowest value, sorts them by (x, y) and fills
``sorted_ties[randrange(len(ties))]``.  Here Python's Mersenne Twister state is
continued in compiled code (same words, same ``getrandbits`` rejection sampling), and
"the k-th tie in (x, y) order" is found in a per-level list while a level has few ties,
else with the level's 16-ary tree of per-block counts (a cache line per layer), then
inside the block with the level's bit set of frontier cells (popcounts) or a scan of
the block's grid words, so a step costs O(log cells) instead of a sort of the ties.
Each cell is one grid word holding its value's level and its state bits, so a
neighbour costs one cache miss, not two; the word is the narrowest that holds them
(:func:`grid_dtype`: one byte up to depth 31, as compact as the fast engine's state).
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

# The fast kernel's state encoding (the border bit included) and helpers, shared on
# purpose.  Numba's cache is keyed on this file only: after changing _fast.py, delete
# perc_mpi/__pycache__ (or touch this file) so this kernel is recompiled with the change.
from ._fast import BORDER, FILLED, FRONTIER, STATUS, UNSEEN, grow_rows, mark_border

# A level's ties are kept in a plain list (a bucket) until a step finds more of them
# than this; from then on in the level's count tree (any value gives the same run).
SMALL_TIES = 32

_MT_N = 624
_MT_M = 397


# uint32 constants: numba types a bare int as int64, and the words must wrap at 32 bits.
_UPPER, _LOWER, _MATRIX = np.uint32(0x80000000), np.uint32(0x7FFFFFFF), np.uint32(0x9908B0DF)
_B1, _B7, _B11, _B15, _B18 = (np.uint32(b) for b in (1, 7, 11, 15, 18))
_TEMPER_B, _TEMPER_C = np.uint32(0x9D2C5680), np.uint32(0xEFC60000)


@njit(cache=True, error_model="numpy")
def _twist(mt):
    """Regenerate the 624 words (uint32) of the MT19937 state (the reference's three
    loops; the first two vectorize, as no word they read is written before it is read)."""
    for k in range(_MT_N - _MT_M):
        y = (mt[k] & _UPPER) | (mt[k + 1] & _LOWER)
        mt[k] = mt[k + _MT_M] ^ (y >> _B1) ^ ((y & _B1) * _MATRIX)
    for k in range(_MT_N - _MT_M, _MT_N - 1):
        y = (mt[k] & _UPPER) | (mt[k + 1] & _LOWER)
        mt[k] = mt[k + _MT_M - _MT_N] ^ (y >> _B1) ^ ((y & _B1) * _MATRIX)
    y = (mt[_MT_N - 1] & _UPPER) | (mt[0] & _LOWER)
    mt[_MT_N - 1] = mt[_MT_M - 1] ^ (y >> _B1) ^ ((y & _B1) * _MATRIX)


@njit(cache=True, error_model="numpy")
def _temper(y):
    """Return MT19937's tempering of one state word (uint32)."""
    y ^= y >> _B11
    y ^= (y << _B7) & _TEMPER_B
    y ^= (y << _B15) & _TEMPER_C
    return y ^ (y >> _B18)


def bit_length(n):
    """Return ``int.bit_length`` of 0 <= n < 2**32 (compiled: one instruction, count
    leading zeros; measured: runs x0.97 against five branch-free halving steps)."""
    return int(n).bit_length()


@overload(bit_length)
def _bit_length_compiled(n):
    return lambda n: 64 - _leading_zeros(np.uint64(n))


@intrinsic
def _leading_zeros(typingctx, x):
    def codegen(context, builder, signature, args):
        return builder.zext(builder.ctlz(args[0], ir.Constant(ir.IntType(1), 0)), ir.IntType(64))
    return types.int64(types.uint64), codegen


@njit(cache=True, error_model="numpy")
def temper_block(mt, tempered):
    """Write the tempering of each of the 624 state words ``mt`` to ``tempered``: the
    block's outputs, computed together (a vectorized loop) once per twist instead of
    one by one on a draw's critical path (measured: runs x0.95-0.97)."""
    for k in range(_MT_N):
        tempered[k] = _temper(mt[k])


# Machine-level helpers (``bit_length`` above, those below): each is a plain Python
# function, which runs under NUMBA_DISABLE_JIT=1, and compiles through numba's
# ``overload`` to an intrinsic that emits LLVM IR -- a vector operation, popcount, a
# count of leading or trailing zeros -- which LLVM lowers for the machine it runs on.
# Each replaced a loop or a branch on random data that measured slower (see each one).


def _is_c_array_of(array_type, dtype) -> bool:
    """Return whether a numba type is a C-contiguous array of ``dtype`` (the intrinsics
    below load vectors straight from its memory)."""
    return isinstance(array_type, types.Array) and array_type.dtype == dtype and array_type.layout == "C"


def _lanes_at(context, builder, array_type, array, at, lanes):
    """Return an LLVM pointer to the ``lanes`` 32-bit words at ``array.flat[at]``."""
    data = context.make_array(array_type)(context, builder, array).data
    return builder.bitcast(builder.gep(data, [at]), ir.VectorType(ir.IntType(32), lanes).as_pointer())


def _splat(builder, vector, value):
    """Return an LLVM vector with every lane ``value`` (an integer, truncated to the lanes)."""
    lane = builder.trunc(value, vector.element) if value.type.width > vector.element.width else value
    one = builder.insert_element(ir.Constant(vector, ir.Undefined), lane, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(one, ir.Constant(vector, ir.Undefined),
                                  ir.Constant(ir.VectorType(ir.IntType(32), vector.count), [0] * vector.count))


_LANES = 8  # words tried at once by a draw


def _first_accepted(tempered, at, shift, n):
    """Return the first j < 8 with ``tempered[at + j] >> shift`` below ``n``, or 8
    (compiled: one vector comparison for the rejection loop's next 8 words, no branch
    on each; this plain version runs under NUMBA_DISABLE_JIT=1)."""
    accepted = np.flatnonzero(tempered[at:at + _LANES] >> np.uint32(shift) < n)
    return accepted[0] if len(accepted) else _LANES


@overload(_first_accepted)
def _first_accepted_compiled(tempered, at, shift, n):
    return lambda tempered, at, shift, n: _first_accepted_vector(tempered, at, shift, n)


@intrinsic
def _first_accepted_vector(typingctx, tempered, at, shift, n):
    if not _is_c_array_of(tempered, types.uint32):
        return None

    def codegen(context, builder, signature, args):
        vector = ir.VectorType(ir.IntType(32), _LANES)
        words = builder.load(_lanes_at(context, builder, signature.args[0], args[0], args[1], _LANES), align=4)
        drawn = builder.lshr(words, _splat(builder, vector, args[2]))
        accepted = builder.icmp_unsigned("<", drawn, _splat(builder, vector, args[3]))
        mask = builder.zext(builder.bitcast(accepted, ir.IntType(_LANES)), ir.IntType(64))
        mask = builder.or_(mask, ir.Constant(ir.IntType(64), 1 << _LANES))  # none: 8
        return builder.cttz(mask, ir.Constant(ir.IntType(1), 1))
    return types.int64(tempered, at, shift, n), codegen


@njit(cache=True, error_model="numpy")
def _randbelow_in_block(tempered, i, n):
    """Return ``(r, i)`` as :func:`randbelow` does, or ``(-1, 624)`` if the words left in
    the current block run out first (then twist, temper and draw again from 0).

    Rejected words are skipped 8 at a time without a branch on each: which words are
    rejected is a coin toss, so a loop over them mispredicted (measured: runs x0.87-0.91
    at depth 2-100).  No call inside, so no reference counting: numba counts an array
    argument's references around any call that may raise (5-10% of a step here)."""
    shift = 32 - bit_length(n)
    while i + _LANES <= _MT_N:
        j = _first_accepted(tempered, i, shift, n)
        if j < _LANES:
            return np.int64(tempered[i + j]) >> shift, i + j + 1
        i += _LANES
    while i < _MT_N:
        r = np.int64(tempered[i]) >> shift
        i += 1
        if r < n:
            return r, i
    return -1, i


@njit(cache=True, error_model="numpy")
def randbelow(mt, tempered, i, n):
    """Return ``(r, i)``: Python's ``random.randrange(n)`` for 1 <= n < 2**32 drawn from
    position ``i`` of the state ``mt`` whose block's outputs are ``tempered`` (see
    :func:`temper_block`), consuming the same words, and the position after it.

    The kernel unrolls this loop (see its tie pick in :func:`invade_original`); this is
    its named form, which tests/test_rng.py checks against Python's ``random``."""
    r, i = _randbelow_in_block(tempered, i, n)
    while r < 0:
        _twist(mt)
        temper_block(mt, tempered)
        r, i = _randbelow_in_block(tempered, 0, n)
    return r, i


@njit(cache=True, error_model="numpy")
def draw_values(mt, i, depth, out):
    """Fill ``out`` with ``random.randint(1, depth)`` draws from position ``i``, each
    shifted left by ``_LEVEL_SHIFT`` (a grid word with its state bits clear, see
    :func:`invade_original`); return the position after them.

    Python rejects words >= depth (half of them at depth 2, unpredictably), so every
    word is stored and only an accepted one is kept: no branch on the draw.  Whole
    blocks of 624 words are twisted, tempered and stored in three separate loops, the
    first two vectorized; only the first and last partial blocks test for the end
    (measured: 2.5x faster than one word at a time).
    """
    shift = np.uint32(32 - bit_length(depth))
    levels = np.empty(_MT_N, np.int64)
    n = out.shape[0]
    c = 0
    while c < n:
        if i >= _MT_N:
            _twist(mt)
            i = 0
        for k in range(_MT_N):
            levels[k] = np.int64(_temper(mt[k]) >> shift)
        if i == 0 and c + _MT_N <= n:  # a whole block, however many are accepted
            for k in range(_MT_N):
                out[c] = (1 + levels[k]) << _LEVEL_SHIFT
                c += levels[k] < depth
            i = _MT_N
        else:
            while i < _MT_N and c < n:
                out[c] = (1 + levels[i]) << _LEVEL_SHIFT
                c += levels[i] < depth
                i += 1
    return i


# A cell's grid word: its value's level above, its three state bits (the fast kernel's
# STATUS and BORDER) below -- one load tells both.
_LEVEL_SHIFT = 3


_GRID_WORDS = (np.uint8, np.uint16, np.uint32)


def _depths_below(word: type) -> int:
    """Return the first depth a grid word type cannot hold (with the state bits)."""
    return 1 << (8 * np.dtype(word).itemsize - _LEVEL_SHIFT)


def grid_dtype(depth: int) -> type:
    """Return the narrowest unsigned type holding ``depth << 3`` plus the state bits: a
    byte per cell up to depth 31, two up to 8191 (measured at 2001^2, depth 2: runs
    take x0.88 of the time they take with four bytes per cell)."""
    return next(word for word in _GRID_WORDS if depth < _depths_below(word))


def first_depth_of_grid(depth: int) -> int:
    """Return the smallest depth whose grid words have ``depth``'s type: a run at it
    compiles (or loads) the same kernel, one per grid word type."""
    kind = _GRID_WORDS.index(grid_dtype(depth))
    return 1 if kind == 0 else _depths_below(_GRID_WORDS[kind - 1])


# A count tree node holds its 16 children's counts as running sums (child c: the ties
# in children 0..c), int32, one 64-byte line: a select is one vector comparison per layer
# and an update one vector add, with no branch on the counts (measured at 2001^2 against
# plain counts and a scan that stops at the child: run time x0.84-0.88 at depth 2, x0.95
# at depth 10, x0.98 at depth 100).
_FANOUT = 16


def _count_below(table, at, value):
    """Return how many of the 16 int32 ``table.flat[at:at + 16]`` are below ``value``
    (compiled: one vector comparison)."""
    return np.count_nonzero(table.reshape(-1)[at:at + _FANOUT] < value)


@overload(_count_below)
def _count_below_compiled(table, at, value):
    return lambda table, at, value: _count_below_vector(table, at, value)


@intrinsic
def _count_below_vector(typingctx, table, at, value):
    if not _is_c_array_of(table, types.int32):
        return None

    def codegen(context, builder, signature, args):
        vector = ir.VectorType(ir.IntType(32), _FANOUT)
        node = builder.load(_lanes_at(context, builder, signature.args[0], args[0], args[1], _FANOUT), align=4)
        below = builder.icmp_signed("<", node, _splat(builder, vector, args[2]))
        return builder.zext(builder.ctpop(builder.bitcast(below, ir.IntType(_FANOUT))), ir.IntType(64))
    return types.int64(table, at, value), codegen


def _add_from(table, at, first, delta):
    """Add ``delta`` to the int32 ``table.flat[at + c]`` for c = first .. 15 (compiled:
    one vector add)."""
    table.reshape(-1)[at + first:at + _FANOUT] += delta


@overload(_add_from)
def _add_from_compiled(table, at, first, delta):
    return lambda table, at, first, delta: _add_from_vector(table, at, first, delta)


@intrinsic
def _add_from_vector(typingctx, table, at, first, delta):
    if not _is_c_array_of(table, types.int32):
        return None

    def codegen(context, builder, signature, args):
        vector = ir.VectorType(ir.IntType(32), _FANOUT)
        where = _lanes_at(context, builder, signature.args[0], args[0], args[1], _FANOUT)
        children = ir.Constant(vector, list(range(_FANOUT)))
        added = builder.icmp_signed(">=", children, _splat(builder, vector, args[2]))
        step = builder.select(added, _splat(builder, vector, args[3]), ir.Constant(vector, [0] * _FANOUT))
        builder.store(builder.add(builder.load(where, align=4), step), where, align=4)
        return context.get_dummy_value()
    return types.void(table, at, first, delta), codegen


# The step's helpers below are inlined into the loop by numba (inline="always"): as calls
# they passed each array as 7 machine words on the stack (measured: 2-5% of a step).
# They call nothing that may raise, so inlining adds no reference counting to the loop
# (unlike randbelow, see _randbelow_in_block).


@njit(cache=True, error_model="numpy")
def count_tree_layout(n_blocks):
    """Return the start of each layer of a 16-ary count tree over ``n_blocks`` blocks
    (layer 0: one entry per block, ..., last layer: one root; each padded to whole
    nodes of 16), and the total size."""
    sizes = [n_blocks]
    while sizes[-1] > 1:
        sizes.append((sizes[-1] + _FANOUT - 1) // _FANOUT)
    starts = np.zeros(len(sizes) + 1, np.int64)
    for t in range(len(sizes)):
        starts[t + 1] = starts[t] + (sizes[t] + _FANOUT - 1) // _FANOUT * _FANOUT
    return starts


@njit(cache=True, error_model="numpy", inline="always")
def _tree_add(tree, starts, level, block, delta):
    """Add ``delta`` to the count of ``block`` in ``level``'s tree, below the root (a
    level's total is kept apart)."""
    row = level * tree.shape[1]
    i = block
    for t in range(len(starts) - 2):
        _add_from(tree, row + starts[t] + i // _FANOUT * _FANOUT, i % _FANOUT, delta)
        i //= _FANOUT


@njit(cache=True, error_model="numpy", inline="always")
def _tree_select(tree, starts, level, rank):
    """Return (block, rank left inside it) for the 1-based ``rank`` of a level: per
    layer from the root down, the child is the number of running sums below the rank."""
    row = level * tree.shape[1]
    node = 0
    for t in range(len(starts) - 3, -1, -1):
        first = starts[t] + node * _FANOUT
        child = _count_below(tree, row + first, rank)
        if child > 0:
            rank -= tree[level, first + child - 1]
        node = node * _FANOUT + child
    return node, rank


def _popcount(x):
    """Return the number of set bits of a uint64 (compiled: one instruction)."""
    return np.uint64(int(x).bit_count())


@overload(_popcount)
def _popcount_compiled(x):
    return lambda x: _popcount_instruction(x)


@intrinsic
def _popcount_instruction(typingctx, x):
    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])
    return types.uint64(types.uint64), codegen


@njit(cache=True, error_model="numpy", inline="always")
def _select_bit(x, left):
    """Return the index of the ``left``-th (1-based) set bit of the uint64 ``x``: a
    binary search on the popcounts of its low halves, no loop over its bits."""
    at = 0
    for half in (32, 16, 8, 4, 2, 1):
        low = np.int64(_popcount(x & ((np.uint64(1) << np.uint64(half)) - np.uint64(1))))
        if left > low:
            left -= low
            x >>= np.uint64(half)
            at += half
    return at


@njit(cache=True, error_model="numpy", inline="always")
def _scan_tie(grid, cell, level, left):
    """Return the ``left``-th frontier cell of ``level`` from ``cell`` on (1-based).

    A scan of consecutive grid words (a block is a few cache lines, fetched together);
    the match is counted without a branch: which cells match is a coin toss."""
    key = (level << _LEVEL_SHIFT) | FRONTIER
    while True:
        left -= (grid[cell] & ~BORDER) == key
        if left == 0:
            return cell
        cell += 1


@njit(cache=True, error_model="numpy", inline="always")
def _find_tie(bits, slot, word, left):
    """Return the ``left``-th (1-based) cell set in the bit set ``bits[slot]`` (a level's
    frontier cells, cell c at bit c % 64 of word c // 64) from word ``word`` on."""
    while True:
        x = bits[slot, word]
        in_word = np.int64(_popcount(x))
        if left <= in_word:
            return (word << 6) + _select_bit(x, left)
        left -= in_word
        word += 1


@njit(cache=True, error_model="numpy", inline="always")
def _set_bit(bits, slot, cell):
    bits[slot, cell >> 6] |= np.uint64(1) << np.uint64(cell & 63)


@njit(cache=True, error_model="numpy", inline="always")
def _clear_bit(bits, slot, cell):
    bits[slot, cell >> 6] &= ~(np.uint64(1) << np.uint64(cell & 63))


@njit(cache=True, error_model="numpy")
def _more_slots(bits):
    """Return a copy of the bit-set table ``bits`` with twice the rows, leaving ``bits``
    zeroed (the caller reuses it)."""
    grown = np.zeros((2 * bits.shape[0], bits.shape[1]), bits.dtype)
    grown[: bits.shape[0]] = bits
    bits[:] = 0
    return grown


@njit(cache=True, error_model="numpy", inline="always")
def _kth_smallest(buckets, level, size, k):
    """Return the position in ``buckets[level, :size]`` (distinct cells) of the cell with
    ``k`` cells below it: each candidate's rank counted without a branch."""
    for j in range(size):
        below = 0
        for m in range(size):
            below += buckets[level, m] < buckets[level, j]
        if below == k:
            return j
    return -1  # unreachable: some cell has exactly k below it


@njit(cache=True, error_model="numpy")
def invade_original(width, height, depth, mt, pos, block_shift, small_ties, grid, tree, bits, cells, fill_values):
    """Run one invasion exactly as the original, continuing the MT19937 state ``mt``/``pos``.

    ``grid`` (``grid_dtype(depth)``, width*height cells, index x*height+y, contents
    ignored) receives one word per cell: its value's level << _LEVEL_SHIFT | its state
    bits.  ``tree`` is a zeroed int32 array (depth + 1, count_tree_layout(blocks)[-1])
    for the levels' count trees over blocks of ``1 << block_shift`` >= 64 cells.
    ``bits``, a zeroed uint64 array (slots, blocks << (block_shift - 6)), holds in its
    rows the bit sets of the levels whose ties are in their tree, where a tie is found
    inside its block (more rows are made here if a run needs them); with no columns,
    ties are found by a scan of the block's grid words instead.  ``tree`` and ``bits``
    are left zeroed: the run clears the rows it used (a buffer reused from run to run
    then costs neither page faults nor a full clearing).  A level's ties move from a
    list to its tree once a step meets more than ``small_ties`` of them (a speed choice
    only: any value gives the same run).  Writes the filled cells and their values to
    ``cells`` and ``fill_values`` and returns ``n_filled``, like
    :func:`perc_mpi._fast.invade_fast`.
    """
    n_cells = width * height
    i = draw_values(mt, pos[0], depth, grid)  # x-outer, y-inner: the linear order

    block = 1 << block_shift
    starts = count_tree_layout((n_cells + block - 1) >> block_shift)
    # Per level: its count tree (a row of ``tree``), its number of frontier cells, their
    # index sum (a single tie's index: no search needed), its row of ``bits`` once its
    # ties are in the tree (-1 until then), and its list of ties until then.  Ties move
    # to the tree only once a step met more than ``small_ties`` of them: most levels
    # never do at large depth (at depth 100, 85% of steps have a single tie and the
    # mean is 6), so their trees and bit sets -- cache misses on every update -- are
    # never touched, and a few rows of ``bits`` serve any depth.
    counts = np.zeros(depth + 1, np.int64)
    index_sums = np.zeros(depth + 1, np.int64)
    slot_of = np.full(depth + 1, -1, np.int64)
    buckets = np.empty((depth + 1, 16), np.int32)

    mark_border(width, height, grid)
    cell = (width // 2) * height + height // 2
    grid[cell] |= FILLED
    cells[0] = cell
    fill_values[0] = grid[cell] >> _LEVEL_SHIFT
    table = bits
    tempered = np.empty(_MT_N, np.uint32)  # the current block's outputs, see temper_block
    temper_block(mt, tempered)
    progress = np.array([1, depth + 1, 0, i, 0])  # see _fill
    while not _fill(height, block_shift, small_ties, mt, grid, cells, fill_values,
                    starts, tree, table, counts, index_sums, slot_of, buckets, tempered, progress):
        if progress[2] + 4 > buckets.shape[1]:
            buckets = grow_rows(buckets)
        if progress[4] == table.shape[0]:
            table = _more_slots(table)
    for level in range(depth + 1):
        if slot_of[level] >= 0:
            tree[level, :] = 0
    bits[: progress[4]] = 0  # the rows used, unless they moved to a grown table
    pos[0] = progress[3]
    return progress[0]


@njit(cache=True, error_model="numpy")
def _fill(height, block_shift, small_ties, mt, grid, cells, fill_values,
          starts, tree, bits, counts, index_sums, slot_of, buckets, tempered, progress):
    """Fill cells until a border cell is filled (return True), or until the next step
    could overflow a list of ties or need a row of ``bits`` that is not there (return
    False: grow what is short and call again).

    ``progress`` carries (cells filled, lowest level that may hold a cell, longest any
    list has been, Mersenne Twister position, rows of ``bits`` in use) from call to
    call.  Why the loop lives apart from the growth: see :func:`perc_mpi._fast._fill`.
    """
    n_filled, lowest, longest, i, used = progress[0], progress[1], progress[2], progress[3], progress[4]
    bit_sets = bits.shape[1] > 0  # else ties are found by a scan of grid words
    # A step adds at most 4 cells to a list and moves at most one level to its tree.
    while longest + 4 <= buckets.shape[1] and used < bits.shape[0]:
        cell = cells[n_filled - 1]
        for nb in (cell - height, cell + height, cell - 1, cell + 1):
            word = grid[nb]
            if word & STATUS == UNSEEN:  # a new frontier cell: count it at its value's level
                grid[nb] = word | FRONTIER
                level = np.int64(word >> _LEVEL_SHIFT)
                slot = slot_of[level]
                if slot >= 0:
                    _tree_add(tree, starts, level, nb >> block_shift, 1)
                    if bit_sets:
                        _set_bit(bits, slot, nb)
                else:
                    buckets[level, counts[level]] = nb
                    longest = max(longest, counts[level] + 1)
                counts[level] += 1
                index_sums[level] += nb
                lowest = min(lowest, level)
        while counts[lowest] == 0:
            lowest += 1
        ties = counts[lowest]
        rank, i = _randbelow_in_block(tempered, i, ties)  # drawn even for one tie, as randrange(1) does
        while rank < 0:  # randbelow, unrolled: see _randbelow_in_block
            _twist(mt)
            temper_block(mt, tempered)
            rank, i = _randbelow_in_block(tempered, 0, ties)
        slot = slot_of[lowest]
        if slot < 0 and ties > small_ties:  # this level's list becomes its tree (and bit set)
            slot = slot_of[lowest] = used
            used += 1
            for j in range(ties):
                tie = buckets[lowest, j]
                _tree_add(tree, starts, lowest, tie >> block_shift, 1)
                if bit_sets:
                    _set_bit(bits, slot, tie)
        if slot >= 0:
            if ties == 1:
                cell = index_sums[lowest]
            else:
                start, left = _tree_select(tree, starts, lowest, rank + 1)
                if bit_sets:
                    cell = _find_tie(bits, slot, start << (block_shift - 6), left)
                else:
                    cell = _scan_tie(grid, start << block_shift, lowest, left)
            _tree_add(tree, starts, lowest, cell >> block_shift, -1)
            if bit_sets:
                _clear_bit(bits, slot, cell)
        else:
            at = _kth_smallest(buckets, lowest, ties, rank)
            cell = buckets[lowest, at]
            buckets[lowest, at] = buckets[lowest, ties - 1]
        grid[cell] |= FILLED
        counts[lowest] -= 1
        index_sums[lowest] -= cell

        cells[n_filled] = cell
        fill_values[n_filled] = lowest
        n_filled += 1

        if grid[cell] & BORDER:
            progress[0], progress[3], progress[4] = n_filled, i, used
            return True
    progress[0], progress[1], progress[2], progress[3], progress[4] = n_filled, lowest, longest, i, used
    return False
