"""Measures equal the original's definitions to 1e-12, on any mask."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from naive import collect_density, estimate_density, measure_dimension

import perc_mpi
from perc_mpi import measures


def masks(max_side=40):
    """Random masks with the centre filled (as every cluster has)."""

    @st.composite
    def build(draw):
        w = draw(st.integers(3, max_side))
        h = draw(st.integers(3, max_side))
        seed = draw(st.integers(0, 2**32 - 1))
        p = draw(st.floats(0.0, 1.0))
        mask = np.random.default_rng(seed).random((w, h)) < p
        mask[w // 2, h // 2] = True
        return mask

    return build()


@pytest.mark.parametrize("from_mask", [False, True])
@settings(max_examples=80, deadline=None)
@given(mask=masks())
def test_density_profile_is_collect_density(mask, from_mask):
    xs, ys = np.nonzero(mask)
    distance, fraction = measures.density_profile(*mask.shape, xs, ys, mask if from_mask else None)
    expected = np.array(collect_density(mask))
    np.testing.assert_allclose(distance, expected[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(fraction, expected[:, 1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("from_mask", [False, True])
@settings(max_examples=80, deadline=None)
@given(mask=masks())
def test_box_dimension_is_measure_dimension(mask, from_mask):
    # any shape: rectangles of odd and even sides count whole boxes only
    got = measures.box_dimension(*mask.shape, *np.nonzero(mask), mask if from_mask else None)
    assert abs(got - measure_dimension(mask)) < 1e-12


@pytest.mark.parametrize("from_mask", [False, True])
def test_box_counts_on_rectangles_use_whole_boxes(from_mask):
    mask = np.zeros((9, 5), bool)
    mask[8, 4] = mask[4, 2] = True  # (8, 4) lies outside every whole 2x2 and 4x4 box
    rulers, counts = measures.box_counts(9, 5, *np.nonzero(mask), mask if from_mask else None)
    assert rulers.tolist() == [1, 2, 4]
    assert counts.tolist() == [2, 1, 1]


@settings(max_examples=80, deadline=None)
@given(masks(max_side=70))
def test_counts_from_the_mask_equal_counts_from_the_cells(mask):
    # rectangles of odd and even sides: the quadrant fold and the pooling of whole boxes
    cells = (*mask.shape, *np.nonzero(mask))
    np.testing.assert_array_equal(measures.ring_counts(*cells, mask), measures.ring_counts(*cells))
    for got, expected in zip(measures.box_counts(*cells, mask), measures.box_counts(*cells)):
        np.testing.assert_array_equal(got, expected)


def test_full_grid_has_dimension_two():
    assert measures.box_dimension(64, 64, *np.nonzero(np.ones((64, 64), bool))) == pytest.approx(2.0, abs=1e-12)


def test_ring_table_counts_every_cell():
    r2, cells, ring_of = measures.ring_table(17, 10)
    assert cells.sum() == 170 and np.all(np.diff(r2) > 0)
    dx, dy = np.meshgrid(np.arange(9), np.arange(6), indexing="ij")
    assert ring_of.shape == (9, 6) and np.array_equal(r2[ring_of], dx**2 + dy**2)
    assert np.unique(ring_of).tolist() == list(range(len(r2)))


@pytest.mark.parametrize("shape", [(17, 10), (4, 3), (3, 3), (64, 65), (1001, 3), (3, 1000)])
@pytest.mark.parametrize("block", [1, 7, 1 << 18])
def test_ring_tables_by_counting_and_by_sorting_agree(shape, block, monkeypatch):
    monkeypatch.setattr(measures, "RANK_BLOCK_OFFSETS", block)  # the counting build's rows per block
    squares = [np.unique((np.arange(side) - side // 2) ** 2, return_counts=True) for side in shape]
    squares = (*squares[0], *squares[1])
    for a, b in zip(measures._rings_by_counting(*squares), measures._rings_by_sorting(*squares)):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_ring_index_past_a_byte_of_squared_distances():
    # The counting build's ring index = the count of present squared distances before
    # a byte of their bits plus the bits below in it: check it against a plain count.
    r2, _, ring_of = measures._rings_by_counting(*np.unique((np.arange(301) - 150) ** 2, return_counts=True),
                                                 *np.unique((np.arange(7) - 3) ** 2, return_counts=True))
    square = np.add.outer(np.arange(151) ** 2, np.arange(4) ** 2)
    np.testing.assert_array_equal(ring_of, [[np.count_nonzero(r2 < n) for n in row] for row in square])


def test_ring_table_of_a_thin_grid_is_as_small_as_the_grid():
    # Counting per squared distance would take a 1e10-entry table (40 GB) here.
    r2, cells, ring_of = measures.ring_table(200001, 3)
    assert cells.sum() == 600003 and ring_of.shape == (100001, 2) and len(r2) < 200002


@pytest.mark.parametrize("engine", ["fast", "original"])
def test_pooled_fit_equals_original_estimate(engine):
    runs = [perc_mpi.invade(25, 25, 4, seed, engine=engine) for seed in range(6)]
    points, profiles = [], []
    for run in runs:
        points.extend(collect_density(run.filled))
        profiles.append(measures.density_profile(25, 25, run.fill_x, run.fill_y)[1])
    expected = estimate_density(points)
    got = measures.density_fit(np.sqrt(measures.ring_table(25, 25)[0]), np.mean(profiles, axis=0))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.uint32, np.int64, np.uint64])
def test_coordinates_of_any_integer_dtype(dtype):
    # flat indices built from narrow or unsigned coordinates would wrap (or not cast)
    mask = np.random.default_rng(3).random((301, 203)) < 0.3
    xs, ys = np.nonzero(mask)
    cells = (301, 203, xs, ys)
    for typed in ((301, 203, xs.astype(dtype), ys.astype(dtype)), (301, 203, xs.astype(np.int32), ys.astype(dtype))):
        np.testing.assert_array_equal(measures.ring_counts(*typed), measures.ring_counts(*cells))
        np.testing.assert_array_equal(measures.box_counts(*typed)[1], measures.box_counts(*cells)[1])


def test_mass_dimension_of_an_exact_power_law():
    sizes = np.array([17, 33, 65, 129])
    exact = [np.full(3, 2.5 * size ** 1.9) for size in sizes]  # every run the same: nothing to resample
    dimension, error = measures.mass_dimension(sizes, exact)
    assert dimension == pytest.approx(1.9, rel=1e-12) and error == pytest.approx(0, abs=1e-12)
    spread = [np.array([0.9, 1.1]) * m[0] for m in exact]  # means still on the law; resamples off it
    dimension, error = measures.mass_dimension(sizes, spread, seed=1)
    assert dimension == pytest.approx(1.9, rel=1e-12) and 0 < error < 0.1
    assert np.isnan(measures.mass_dimension(sizes, [m[:1] for m in exact])[1])  # single runs


@pytest.mark.parametrize("shape", [(61, 45), (60, 44), (3, 10), (10, 3), (3, 3), (4, 4)])
def test_measures_are_the_same_block_by_block(shape, monkeypatch):
    """Large grids are measured a block of offsets (from a mask) or of filled cells (from
    coordinates) at a time, for bounded memory: the blocks' sum is the one-pass count,
    on odd and even sides."""
    width, height = shape
    result = perc_mpi.invade(width, height, 2, seed=3)
    cells, mask = (width, height, result.fill_x, result.fill_y), result.filled
    rings, boxes = measures.ring_counts(*cells, mask), measures.box_counts(*cells, mask)[1]
    assert rings.dtype == np.int64 and rings.sum() == result.n_filled
    for block in (1, 7, 50):  # 50: 2 rows of 61 x 45's 31 x 23 offsets a block
        monkeypatch.setattr(measures, "BLOCK", block)
        for mask_or_none in (mask, None):
            np.testing.assert_array_equal(measures.ring_counts(*cells, mask_or_none), rings)
            np.testing.assert_array_equal(measures.box_counts(*cells, mask_or_none)[1], boxes)
    fortran = np.asfortranarray(mask)  # any memory order of the mask
    np.testing.assert_array_equal(measures.ring_counts(*cells, fortran), rings)
    np.testing.assert_array_equal(measures.box_counts(*cells, fortran)[1], boxes)
    nothing = np.zeros(0, np.int32)  # no cells: no block, all counts zero
    assert not measures.ring_counts(width, height, nothing, nothing).any()
    assert not measures.box_counts(width, height, nothing, nothing)[1].any()
