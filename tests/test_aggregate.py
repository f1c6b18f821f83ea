"""Stage 5: the per-point statistics of the summary, against plain NumPy definitions."""

import numpy as np
import pytest

from perc_mpi.aggregate import RingSums, summarize
from perc_mpi.plan import JOB_DTYPE, POINT_DTYPE
from perc_mpi.records import DONE, FAILED, pending_records


def finished_runs(dimensions_per_point, failed_per_point=None):
    """Return (points, runs): one 9x9 point per list of dimensions, a DONE run per value
    (filled and seconds made up from it), then that point's FAILED runs."""
    failed_per_point = failed_per_point or [0] * len(dimensions_per_point)
    points = np.array([(9, 9, 2 + i, b"fast") for i in range(len(dimensions_per_point))], POINT_DTYPE)
    rows = []
    for point, (dimensions, failed) in enumerate(zip(dimensions_per_point, failed_per_point)):
        rows += [(point, DONE, d) for d in dimensions] + [(point, FAILED, np.nan)] * failed
    jobs = np.zeros(len(rows), JOB_DTYPE)
    jobs["job"] = np.arange(len(rows))
    jobs["point"] = [point for point, _, _ in rows]
    runs = pending_records(jobs)
    runs["status"] = [status for _, status, _ in rows]
    done = runs["status"] == DONE
    runs["dimension"][done] = [d for _, status, d in rows if status == DONE]
    runs["filled"][done] = np.round(1000 * runs["dimension"][done])
    runs["seconds"][done] = runs["dimension"][done] / 7
    return points, runs


def test_statistics_follow_their_definitions():
    rng = np.random.default_rng(5)
    dimensions = [rng.normal(1.6, 0.01, n).tolist() for n in (2, 7, 50)]
    points, runs = finished_runs(dimensions, failed_per_point=[1, 0, 3])
    summary, _ = summarize(points, runs, RingSums(points))
    for row, values in zip(summary, map(np.array, dimensions)):
        assert row["count"] == len(values)
        np.testing.assert_allclose(row["dimension"], values.mean(), rtol=1e-15)
        np.testing.assert_allclose(row["dimension_stderr"], values.std(ddof=1) / np.sqrt(len(values)), rtol=1e-12)
        np.testing.assert_allclose(row["filled_mean"], np.round(1000 * values).mean(), rtol=1e-15)
        np.testing.assert_allclose(row["seconds_mean"], (values / 7).mean(), rtol=1e-15)
    assert summary["failed"].tolist() == [1, 0, 3]


def test_equal_dimensions_have_no_spread():
    # the one-pass formula sum(x^2) - n mean^2 gave 6.5e-9 here; two passes leave only
    # the mean's own rounding
    points, runs = finished_runs([[1.1] * 7, [1.3] * 1000])
    summary, _ = summarize(points, runs, RingSums(points))
    assert np.all(summary["dimension_stderr"] < 1e-15)


@pytest.mark.parametrize("finished", [0, 1])
def test_too_few_runs_give_nan_not_an_error(finished):
    points, runs = finished_runs([[1.5] * finished, [1.4, 1.6]], failed_per_point=[2, 0])
    with np.errstate(all="raise"):  # no warning either
        summary, density = summarize(points, runs, RingSums(points))
    first = summary[0]
    assert first["count"] == finished and first["failed"] == 2 and np.isnan(first["dimension_stderr"])
    assert np.isnan(first["dimension"]) == (finished == 0)
    assert np.all(np.isnan([first["density_x"], first["density_k"]])) == (finished == 0)
    assert np.all(np.isnan(density[0][1])) == (finished == 0)
    assert summary[1]["dimension_stderr"] == pytest.approx(0.1)  # sd 0.1 sqrt(2), over sqrt(2)
