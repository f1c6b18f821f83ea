"""Stage 2: the seeded parameter cube and its schedule over ranks.

Jobs are numbered in the original's order -- size (or width, height), then depth, then
engine, runs innermost -- and job ``i`` gets the ``i``-th ``randrange(sys.maxsize)``
of Python's ``random`` seeded with the sweep seed, exactly as the original's
``make_sweeps``.  A job's randomness therefore depends on its index, never on the rank
that runs it.
"""

from __future__ import annotations

import itertools
import random
import sys
from dataclasses import dataclass

import numpy as np

from . import config
from .parameters import SweepParams

ENGINE_DTYPE = "S8"  # plain fixed-length bytes in HDF5, no object dtype

JOB_DTYPE = np.dtype(
    [
        ("job", np.int64),
        ("point", np.int32),
        ("width", np.int32),
        ("height", np.int32),
        ("depth", np.int32),
        ("engine", ENGINE_DTYPE),
        ("seed", np.int64),
    ]
)

POINT_DTYPE = np.dtype([("width", np.int32), ("height", np.int32), ("depth", np.int32), ("engine", ENGINE_DTYPE)])


@dataclass(frozen=True)
class Plan:
    """The cube: ``points`` (one row per parameter point, cube order) and ``jobs``
    (one row per run, job-index order)."""

    sweep: SweepParams
    points: np.ndarray
    jobs: np.ndarray


def parameter_points(sweep: SweepParams) -> np.ndarray:
    """Return the parameter points of a sweep in cube order (POINT_DTYPE)."""
    axes = sweep.axes
    sides = (
        [(s, s) for s in axes["width"]]
        if sweep.square
        else list(itertools.product(axes["width"], axes["height"]))
    )
    rows = [(w, h, d, e) for (w, h) in sides for d in axes["depth"] for e in axes["engine"]]
    return np.array(rows, dtype=POINT_DTYPE)


def job_seeds(sweep_seed: int, count: int) -> np.ndarray:
    """Return the original's job seeds: ``randrange(sys.maxsize)`` after ``seed(sweep_seed)``."""
    rng = random.Random(sweep_seed)
    return np.array([rng.randrange(sys.maxsize) for _ in range(count)], dtype=np.int64)


def build_plan(sweep: SweepParams) -> Plan:
    """Return the :class:`Plan` of a validated sweep."""
    points = parameter_points(sweep)
    jobs = np.empty(len(points) * sweep.runs, dtype=JOB_DTYPE)
    jobs["job"] = np.arange(len(jobs))
    jobs["point"] = np.repeat(np.arange(len(points)), sweep.runs)
    for name in POINT_DTYPE.names:
        jobs[name] = np.repeat(points[name], sweep.runs)
    jobs["seed"] = job_seeds(sweep.seed, len(jobs))
    return Plan(sweep, points, jobs)


def in_slice(jobs: np.ndarray, part: tuple[int, int] | None) -> np.ndarray:
    """Return the mask of the jobs in slice ``(index, count)``: job % count == index
    (interleaved, so every slice gets a similar mix of costs); all jobs for None."""
    if part is None:
        return np.ones(len(jobs), bool)
    index, count = part
    return jobs["job"] % count == index


def job_cost(jobs: np.ndarray) -> np.ndarray:
    """Return each job's relative cost estimate: the expected number of filled cells,
    scaled per engine.

    A run's work is proportional to its cluster, which at breakthrough fills a fraction
    of the grid that falls with depth: about 0.5 at depth 2 and 0.07 at depth 100
    (measured at 2001 x 2001), modelled as a + b / depth, and as a for the continuous
    model (depth 0 in the plan), the depth -> infinity limit.
    """
    a, b = config.FILLED_FRACTION_MODEL
    depth = jobs["depth"].astype(np.float64)
    continuous = jobs["depth"] == config.CONTINUOUS
    fraction = a + np.divide(b, depth, out=np.zeros_like(depth), where=~continuous)
    per_cell = np.select([jobs["engine"] == b"original", continuous],
                         [config.ORIGINAL_COST_FACTOR, config.CONTINUOUS_COST_FACTOR], 1.0)
    return jobs["width"].astype(np.float64) * jobs["height"] * fraction * per_cell


def assign_ranks(jobs: np.ndarray, n_ranks: int) -> np.ndarray:
    """Return the rank of each job: jobs sorted by cost, dealt out in a snake order
    (0..n-1, n-1..0, ...), which balances near-equal costs as greedy LPT does, in O(J log J).
    """
    order = np.argsort(-job_cost(jobs), kind="stable")
    position = np.arange(len(jobs))
    lap, seat = np.divmod(position, n_ranks)
    ranks = np.empty(len(jobs), np.int32)
    ranks[order] = np.where(lap % 2 == 0, seat, n_ranks - 1 - seat)
    return ranks


def balance(jobs: np.ndarray, ranks: np.ndarray, n_ranks: int) -> tuple[np.ndarray, float]:
    """Return ``(work per rank, imbalance)``, imbalance = max / mean work (1.0 is perfect)."""
    work = np.bincount(ranks, weights=job_cost(jobs), minlength=n_ranks)
    return work, float(work.max() / work.mean()) if work.mean() > 0 else 1.0
