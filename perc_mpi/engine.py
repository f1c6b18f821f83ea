"""Stage 3: one invasion-percolation run.

:func:`invade` validates its arguments, seeds the engine's random stream, allocates,
and calls a compiled kernel (:mod:`perc_mpi._fast`, :mod:`perc_mpi._original` or, for
``depth="continuous"``, :mod:`perc_mpi._continuous`).
The process: every cell gets an integer value uniform in 1..depth; cell
(width // 2, height // 2) is filled first; then, repeatedly, among the unfilled cells
4-adjacent to the cluster, one of those with the lowest value is filled, chosen
uniformly at random afresh at every step; the run stops right after a border cell is
filled.  Grids are indexed ``[x, y]``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import config
from ._continuous import invade_continuous
from ._fast import invade_fast
from ._original import SMALL_TIES, count_tree_layout, first_depth_of_grid, grid_dtype, invade_original
from .parameters import RunParams, parse_run

# The original engine finds the k-th tie of a level inside one of its counted blocks in
# the level's bit set of frontier cells below BIT_SET_DEPTH, else by a scan of the block's
# grid words.  Bit sets pay where picks from the trees are many (low depth) and cost a
# cache miss per frontier cell where they are few.  Measured at 2001^2, run time with bit
# sets / with the scan: 0.83 at depth 2, 0.95 at 20, 0.96-1.00 at 40-100, 1.04 at 150-200.
BIT_SET_DEPTH = 64
_BIT_SLOTS = 8  # levels whose bit sets a run starts with room for (the kernel grows it if need be)
_FILLED_BIT = 1  # FILLED & ~FRONTIER == 1 << this: the state bit of filled cells only


@dataclass(frozen=True)
class InvasionResult:
    """The outcome of one run.

    ``fill_x``, ``fill_y`` and ``fill_values`` give each filled cell's coordinates and
    value in fill order (the centre first, the border cell last); ``filled`` is the
    boolean mask of shape (width, height), built on first use.  For the continuous
    model, ``frontier_values`` holds the value of every cell that ever reached the
    frontier (for the acceptance profile).  ``dense_mask`` is that mask, already built
    from the kernel's state (one pass over it) when the run filled more than
    ``config.DENSE_FRACTION`` of the grid, else None: the measures take it then.
    """

    params: RunParams
    fill_x: np.ndarray
    fill_y: np.ndarray
    fill_values: np.ndarray
    frontier_values: np.ndarray | None = None  # continuous model: every value drawn but the centre's
    dense_mask: np.ndarray | None = None

    @property
    def n_filled(self) -> int:
        """Return the number of filled cells."""
        return len(self.fill_values)

    @property
    def measure_args(self) -> tuple:
        """Return ``(width, height, fill_x, fill_y, dense_mask)``: the arguments of the
        :mod:`perc_mpi.measures` functions for this run (the mask, when there is one,
        makes them count from it)."""
        return self.params.width, self.params.height, self.fill_x, self.fill_y, self.dense_mask

    @cached_property
    def filled(self) -> np.ndarray:
        """Return the boolean mask ``[x, y]`` of filled cells."""
        if self.dense_mask is not None:
            return self.dense_mask
        mask = np.zeros((self.params.width, self.params.height), bool)
        mask[self.fill_x, self.fill_y] = True
        return mask


def fast_stream(seed: int) -> np.ndarray:
    """Return the xoshiro256++ state (uint64[4]) of the ``fast`` engine for a run seed."""
    return np.random.SeedSequence(seed).generate_state(4, np.uint64)


def original_stream(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return Python's Mersenne Twister state after ``random.seed(seed)`` as (words
    (uint32[624]), position (int64[1]))."""
    internal = random.Random(seed).getstate()[1]
    return np.array(internal[:-1], np.uint32), np.array(internal[-1:], np.int64)


def kernel_depth(engine: str, depth: int) -> int:
    """Return the smallest depth that runs the same compiled kernel as ``depth`` on
    ``engine`` (a tiny run at it compiles or loads that kernel): the continuous model
    has its own; the original engine one per grid word type (:func:`grid_dtype`)."""
    if depth == config.CONTINUOUS:
        return depth
    return first_depth_of_grid(depth) if engine == "original" else 1


def _block_shift(depth: int) -> int:
    """Counted block size (log2) for the original engine: at least depth+1 cells, so the
    per-level count trees take at most about 4 bytes per cell; with bit sets 1024 cells
    (16 words: two cache lines of popcounts), else 64 (measured best of 64 to 4096)."""
    return max(10 if depth < BIT_SET_DEPTH else 6, int(depth).bit_length())


# The kernels' large arrays, kept from run to run in this process and grown, never
# shrunk.  Why: a new array costs a page fault per 4 KiB page the run touches (measured
# at 2001^2: ~15-20 ns per filled cell for the continuous model, whose records take
# ~35 bytes per filled cell); the C stick allocates once, too.  Results are copied out.
# One buffer of bytes per role (the grid, the fill values, ...), viewed as the dtype
# each engine needs: a process that runs several engines or grid word types keeps the
# largest of their needs, not their sum (at 10001^2: 400 MB, not 100 + 200 + 400).
_buffers: dict[str, np.ndarray] = {}


def _buffer(name: str, size: int, dtype, zeroed: bool = False) -> np.ndarray:
    """Return ``size`` elements of ``dtype`` in this process's reused buffer ``name``,
    zeroed if asked or new, undefined otherwise."""
    nbytes = size * np.dtype(dtype).itemsize
    raw = _buffers.get(name)
    if raw is None or len(raw) < nbytes:
        _buffers.pop(name, None)  # free the old one first: no peak with both
        # np.zeros maps zero pages lazily: only the pages a run touches cost memory.
        raw = _buffers[name] = np.zeros(nbytes, np.uint8)
        return raw[:nbytes].view(dtype)
    array = raw[:nbytes].view(dtype)
    if zeroed:
        array.fill(0)
    return array


# Buffers that their kernel leaves zeroed, as it found them, and that are zeroed here
# only after a call that did not return.
_in_use: set[str] = set()


def _kept_zeroed(name: str, size: int, dtype) -> np.ndarray:
    """Return ``size`` zeroed elements of the reused array ``name``, whose kernel leaves
    it zeroed (call :func:`_put_back` after it returns)."""
    array = _buffer(name, size, dtype, zeroed=name in _in_use)
    _in_use.add(name)
    return array


def _put_back(name: str) -> None:
    """Record that the kernel using ``name`` returned, leaving it zeroed."""
    _in_use.discard(name)


def run_kernel(params: RunParams) -> tuple[int, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Run the compiled kernel of ``params`` (continuous model, fast or original engine).

    Returns ``(n_filled, cells, values, frontier, state)``: the filled cells' linear
    indices (x * height + y) and values in fill order (views of reused buffers, longer
    than ``n_filled``), for the continuous model the values drawn but the centre's (a
    copy, else None), and the kernel's per-cell state words (a reused buffer: FILLED
    in their low bits on the filled cells).
    """
    w, h, d = params.width, params.height, params.depth
    n_cells = w * h
    cells = _buffer("cells", n_cells, np.int32)
    # Interpreted runs (NUMBA_DISABLE_JIT=1) wrap integers like the compiled code does;
    # silence NumPy's overflow warnings there.
    with np.errstate(over="ignore"):
        if params.engine == "original":  # integer depths only; its grid words hold the state
            words, position = original_stream(params.seed)
            values = _buffer("values", n_cells, np.uint16)
            grid = _buffer("grid", n_cells, grid_dtype(d))
            shift = _block_shift(d)
            n_blocks = (n_cells + (1 << shift) - 1) >> shift
            tree_shape = (d + 1, int(count_tree_layout(n_blocks)[-1]))
            tree = _kept_zeroed("tree", tree_shape[0] * tree_shape[1], np.int32).reshape(tree_shape)
            bits_shape = (_BIT_SLOTS, n_blocks << (shift - 6) if d < BIT_SET_DEPTH else 0)
            bits = _kept_zeroed("bits", bits_shape[0] * bits_shape[1], np.uint64).reshape(bits_shape)
            n_filled = invade_original(w, h, d, words, position, shift, SMALL_TIES, grid, tree, bits, cells, values)
            _put_back("tree")
            _put_back("bits")
            return n_filled, cells, values, None, grid
        state = _buffer("grid", n_cells, np.uint8, zeroed=True)
        if d == config.CONTINUOUS:
            values, drawn = _buffer("values", n_cells, np.float64), _buffer("drawn", n_cells, np.float64)
            n_filled, n_drawn = invade_continuous(w, h, fast_stream(params.seed), state, cells, values, drawn,
                                                  _buffer("heap_keys", n_cells, np.float64),
                                                  _buffer("heap_cells", n_cells, np.int32))
            return n_filled, cells, values, drawn[1:n_drawn].copy(), state
        values = _buffer("values", n_cells, np.uint16)
        return invade_fast(w, h, d, fast_stream(params.seed), state, cells, values), cells, values, None, state


def _filled_mask(state: np.ndarray) -> np.ndarray:
    """Return the boolean mask of the filled cells of kernel state words, built in place
    in the mask's own memory (no temporary: each fresh page costs a fault)."""
    bits = np.empty(state.shape, np.uint8)
    np.right_shift(state, _FILLED_BIT, out=bits, casting="unsafe")  # the state bits are the low byte
    bits &= 1
    return bits.view(bool)


def invade(width: int, height: int, depth: int | str, seed: int | None = None,
           engine: str = "fast") -> InvasionResult:
    """Simulate one invasion and return its :class:`InvasionResult`.

    ``seed=None`` draws a seed (recorded in ``result.params.seed``).  ``engine="fast"``
    draws values lazily from a per-run xoshiro256++ stream (O(cluster) work);
    ``engine="original"`` reproduces the original Python program bit for bit.
    ``depth="continuous"`` gives values uniform in [0, 1) (no ties; binary heap).
    Raises :class:`perc_mpi.parameters.ParameterError` (a ValueError) on bad arguments.
    """
    params = parse_run(
        {"width": width, "height": height, "depth": depth, "seed": seed, "engine": engine},
        source="invade()",
    )
    return run(params)


def run(params: RunParams) -> InvasionResult:
    """Return the :class:`InvasionResult` of already validated parameters."""
    n_filled, cells, values, frontier, state = run_kernel(params)
    cells = cells[:n_filled]
    fill_x = cells // params.height  # twice as fast as np.divmod
    fill_y = cells - fill_x * params.height
    n_cells = params.width * params.height
    mask = None
    if n_filled > config.DENSE_FRACTION * n_cells:  # a pass over the state beats a scatter of the cells
        mask = _filled_mask(state[:n_cells]).reshape(params.width, params.height)
    return InvasionResult(params, fill_x, fill_y, values[:n_filled].copy(), frontier, mask)

