"""The engines do exactly the specified process."""

import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from naive import fast_invasion, heap_invasion, original_invasion

import perc_mpi
from perc_mpi import _original, config, engine
from perc_mpi.parameters import ParameterError

SHAPES = [(3, 3, 1), (3, 7, 2), (7, 9, 2), (11, 11, 10), (15, 15, 5), (21, 13, 100), (30, 30, 3), (12, 40, 7)]


def fill_order(result):
    return list(zip(result.fill_x.tolist(), result.fill_y.tolist()))


@pytest.mark.parametrize("shape", SHAPES)
def test_original_engine_is_the_original(shape):
    for seed in range(40):
        result = perc_mpi.invade(*shape, seed, engine="original")
        mask, order, values = original_invasion(*shape, seed)
        assert fill_order(result) == order
        assert result.fill_values.tolist() == values
        np.testing.assert_array_equal(result.filled, mask)


def test_original_engine_with_large_depth_and_big_blocks():
    # Many ties at depth 1 exercise the search; the grid word is a byte up to depth 31,
    # two bytes up to 8191; from depth 64 ties are found by a scan of the grid words,
    # and past 1023 in blocks larger than the smallest.
    for shape in [(41, 41, 1), (25, 25, 300), (9, 9, 31), (9, 9, 32), (35, 35, 2000), (9, 9, 8191),
                  (9, 9, 8192), (9, 9, 65535)]:
        for seed in range(5):
            result = perc_mpi.invade(*shape, seed, engine="original")
            assert fill_order(result) == original_invasion(*shape, seed)[1]


@pytest.mark.parametrize("bit_sets", [True, False])
@pytest.mark.parametrize("small_ties", [0, 3, 2**40])
def test_original_kernel_gives_the_same_run_for_any_tie_list_limit(small_ties, bit_sets):
    # Ties move from a per-level list to a count tree (and bit set) past the limit: 0
    # puts every level there at once (at depth 300 up to 300 bit sets, grown here from
    # one row), 2**40 never does.  Either search inside a block works at any depth.
    for width, height, depth in [(25, 25, 300), (17, 23, 70), (30, 30, 3), (41, 41, 1)]:
        for seed in range(4):
            n = width * height
            words, position = engine.original_stream(seed)
            cells = np.empty(n, np.int32)
            shift = max(10 if bit_sets else 6, depth.bit_length())
            n_blocks = (n + (1 << shift) - 1) >> shift
            tree = np.zeros((depth + 1, _original.count_tree_layout(n_blocks)[-1]), np.int32)
            bits = np.zeros((1, n_blocks << (shift - 6) if bit_sets else 0), np.uint64)
            n_filled = _original.invade_original(
                width, height, depth, words, position, shift, small_ties,
                np.empty(n, _original.grid_dtype(depth)), tree, bits, cells, np.empty(n, np.uint16))
            order = [(int(c) // height, int(c) % height) for c in cells[:n_filled]]
            assert order == original_invasion(width, height, depth, seed)[1]
            assert not tree.any() and not bits.any()  # left zeroed: the engine reuses them


@pytest.mark.parametrize("bit_sets", [True, False])
def test_original_kernel_with_deep_count_trees(bit_sets):
    # 64-cell blocks on ~17 000-22 500 cells: trees of three layers below the root, whose
    # nodes' running sums every select and update go through
    for width, height, depth in [(131, 131, 1), (150, 150, 3)]:
        for seed in range(2):
            n = width * height
            n_blocks = (n + 63) >> 6
            words, position = engine.original_stream(seed)
            cells = np.empty(n, np.int32)
            layout = _original.count_tree_layout(n_blocks)
            assert len(layout) - 1 == 4  # layers: blocks, two more, the root
            tree = np.zeros((depth + 1, layout[-1]), np.int32)
            bits = np.zeros((1, n_blocks if bit_sets else 0), np.uint64)
            n_filled = _original.invade_original(
                width, height, depth, words, position, 6, 0,
                np.empty(n, _original.grid_dtype(depth)), tree, bits, cells, np.empty(n, np.uint16))
            order = [(int(c) // height, int(c) % height) for c in cells[:n_filled]]
            assert order == original_invasion(width, height, depth, seed)[1]


@pytest.mark.parametrize("shape", SHAPES)
def test_fast_engine_matches_its_plain_twin(shape):
    for seed in range(40):
        result = perc_mpi.invade(*shape, seed)
        mask, order, values, _ = fast_invasion(*shape, seed)
        assert fill_order(result) == order
        assert result.fill_values.tolist() == values
        np.testing.assert_array_equal(result.filled, mask)


def check_laws(width, height, mask, order, value_of):
    """The laws of the process, for any parameters: see the README."""
    assert order[0] == (width // 2, height // 2)
    assert mask.sum() == len(order) == len(set(order))
    on_border = [x in (0, width - 1) or y in (0, height - 1) for x, y in order]
    assert on_border[-1] and not any(on_border[:-1])
    filled = set()
    frontier = set()
    for step, cell in enumerate(order):
        if step:
            assert cell in frontier  # 4-adjacent to the cluster, hence 4-connected
            assert value_of(cell) == min(value_of(c) for c in frontier)
        filled.add(cell)
        frontier.discard(cell)
        x, y = cell
        for nb in ((x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)):
            if 0 <= nb[0] < width and 0 <= nb[1] < height and nb not in filled:
                frontier.add(nb)


@settings(max_examples=60, deadline=None)
@given(st.integers(3, 25), st.integers(3, 25), st.integers(1, 12), st.integers(0, 2**63 - 1))
def test_laws_fast(width, height, depth, seed):
    result = perc_mpi.invade(width, height, depth, seed)
    _, _, _, value = fast_invasion(width, height, depth, seed)
    check_laws(width, height, result.filled, fill_order(result), value.__getitem__)


@settings(max_examples=60, deadline=None)
@given(st.integers(3, 25), st.integers(3, 25), st.integers(1, 12), st.integers(0, 2**63 - 1))
def test_laws_original(width, height, depth, seed):
    result = perc_mpi.invade(width, height, depth, seed, engine="original")
    rng = random.Random(seed)
    grid = [[rng.randint(1, depth) for _ in range(height)] for _ in range(width)]
    check_laws(width, height, result.filled, fill_order(result), lambda c: grid[c[0]][c[1]])


def test_reproducible_and_seed_sensitive():
    a, b = perc_mpi.invade(51, 51, 3, 7), perc_mpi.invade(51, 51, 3, 7)
    np.testing.assert_array_equal(a.filled, b.filled)
    assert fill_order(a) != fill_order(perc_mpi.invade(51, 51, 3, 8))


def test_seed_none_is_drawn_and_reported():
    result = perc_mpi.invade(21, 21, 4, None)
    assert 0 <= result.params.seed < 2**63
    np.testing.assert_array_equal(perc_mpi.invade(21, 21, 4, result.params.seed).filled, result.filled)


def ks_statistic(a, b):
    """Two-sample Kolmogorov-Smirnov statistic."""
    grid = np.union1d(a, b)
    cdf = lambda s: np.searchsorted(np.sort(s), grid, side="right") / len(s)  # noqa: E731
    return np.abs(cdf(a) - cdf(b)).max()


def test_fast_and_original_sample_the_same_model():
    runs = 300
    fast = [perc_mpi.invade(31, 31, 2, s).n_filled for s in range(runs)]
    original = [perc_mpi.invade(31, 31, 2, s, engine="original").n_filled for s in range(runs)]
    heap = [heap_invasion(31, 31, 2, s) for s in range(runs)]
    critical = 1.95 * np.sqrt(2 / runs)  # KS at alpha = 0.001; fixed seeds, so no flakes
    assert ks_statistic(fast, original) < critical
    assert ks_statistic(fast, heap) > critical  # the test does tell a different model apart


def test_interpreted_equals_compiled():
    """NUMBA_DISABLE_JIT=1 runs the kernels as Python: same masks bit for bit (41 x 41 at
    depth 1: the original engine's count trees and bit sets, whose vector operations
    have plain Python twins)."""
    cases = [(w, h, d, s, e) for (w, h, d) in [(9, 9, 3), (15, 11, 70), (41, 41, 1)] for s in (1, 2)
             for e in ("fast", "original")]
    script = (
        "import json, sys, perc_mpi\n"
        "out = [perc_mpi.invade(*c).filled.tolist() for c in json.loads(sys.argv[1])]\n"
        "print(json.dumps(out))\n"
    )
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    proc = subprocess.run([sys.executable, "-c", script, json.dumps(cases)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no overflow warnings leak from the interpreted generators
    for case, mask in zip(cases, json.loads(proc.stdout)):
        np.testing.assert_array_equal(perc_mpi.invade(*case).filled, np.array(mask))


@pytest.mark.parametrize(
    "args, field",
    [
        ((2, 5, 3, 1), "'width'"),
        ((5, 2, 3, 1), "'height'"),
        ((5, 5, 0, 1), "'depth'"),
        ((5, 5, 65536, 1), "'depth'"),
        ((5, 5, 3, -1), "'seed'"),
        ((5, 5, 3, 2**63), "'seed'"),
        ((5.0, 5, 3, 1), "'width'"),
        ((True, 5, 3, 1), "'width'"),
    ],
)
def test_invade_rejects_bad_arguments(args, field):
    with pytest.raises(ParameterError, match=field):
        perc_mpi.invade(*args)


def test_invade_rejects_unknown_engine():
    with pytest.raises(ValueError, match="fast, original"):
        perc_mpi.invade(5, 5, 3, 1, engine="slow")


def test_the_dense_mask_reads_the_kernels_filled_bit():
    from perc_mpi import _fast

    assert _fast.FILLED & ~_fast.FRONTIER == 1 << engine._FILLED_BIT  # the dense mask reads this bit


def test_dense_runs_keep_the_mask_built_from_their_cells():
    kept = []
    for engine_name, depth in [("fast", 2), ("fast", 60), ("original", 2), ("original", 60), ("fast", "continuous")]:
        for seed in range(6):
            result = perc_mpi.invade(41, 37, depth, seed, engine=engine_name)
            dense = result.n_filled > config.DENSE_FRACTION * 41 * 37
            assert (result.dense_mask is not None) == dense
            if dense:
                from_cells = np.zeros((41, 37), bool)
                from_cells[result.fill_x, result.fill_y] = True
                np.testing.assert_array_equal(result.dense_mask, from_cells)
                assert result.filled is result.dense_mask
            kept.append(dense)
    assert any(kept) and not all(kept)  # both kinds of run occur


def test_engines_share_their_reused_buffers():
    """One buffer per role, viewed as each engine's dtype: a process that runs every
    kind of run keeps the largest need, and each run is as if it ran alone."""
    kinds = [(2, "original"), (9000, "original"), ("continuous", "fast"), (2, "fast"), (100, "original")]
    alone = [perc_mpi.invade(61, 47, depth, 5, engine=name) for depth, name in kinds]
    for _ in range(2):  # interleaved, each after another kind has used the buffers
        for (depth, name), first in zip(kinds, alone):
            again = perc_mpi.invade(61, 47, depth, 5, engine=name)
            np.testing.assert_array_equal(again.filled, first.filled)
            np.testing.assert_array_equal(again.fill_values, first.fill_values)
    assert set(engine._buffers) <= {"cells", "values", "grid", "tree", "bits", "drawn", "heap_keys", "heap_cells"}
