"""Stage 2: the seeded parameter cube and its schedule over ranks.

Jobs are numbered in the original's order -- size (or width, height), then depth, then
engine, runs innermost -- and job ``i`` gets the ``i``-th ``randrange(sys.maxsize)``
of Python's ``random`` seeded with the sweep seed, exactly as the original's
``make_sweeps``.  A job's randomness therefore depends on its index, never on the rank
that runs it.
"""

from __future__ import annotations

import random
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import config
from .parameters import SweepParams, filled_share, grid_shapes

ENGINE_DTYPE = "S8"  # plain fixed-length bytes in HDF5, no object dtype

# A job's columns: (name, dtype, unit, description), as the file's runs/ datasets carry them.
JOB_COLUMNS = (
    ("job", np.int64, "", "job index: position in the cube (size, depth, engine, then run)"),
    ("point", np.int32, "", "parameter point index (row of summary/)"),
    ("width", np.int32, "cells", "grid width"),
    ("height", np.int32, "cells", "grid height"),
    ("depth", np.int32, "", "cell values uniform in 1..depth; 0: continuous, uniform in [0, 1)"),
    ("engine", ENGINE_DTYPE, "", "fast or original"),
    ("seed", np.int64, "", "the run's seed"),
)
JOB_DTYPE = np.dtype([(name, dtype) for name, dtype, _, _ in JOB_COLUMNS])

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
    rows = [(w, h, d, e) for (w, h) in grid_shapes(sweep) for d in axes["depth"] for e in axes["engine"]]
    return np.array(rows, dtype=POINT_DTYPE)


def job_seeds(sweep_seed: int, count: int) -> np.ndarray:
    """Return the original's job seeds: ``randrange(sys.maxsize)`` after ``seed(sweep_seed)``."""
    python = random.Random(sweep_seed)
    # The same Mersenne Twister in NumPy, from Python's state after the seeding: 15x
    # faster than a Python loop (which took 3.7 s for 10 million jobs).  randrange draws
    # getrandbits(63), two 32-bit words w0 | (w1 >> 1) << 32, again if that is
    # sys.maxsize itself (chance 2^-63 a job: then the loop, for the exact sequence).
    state = python.getstate()[1]  # 624 words, then the position in them
    twister = np.random.MT19937()
    twister.state = {"bit_generator": "MT19937", "state": {"key": np.array(state[:-1], np.uint32), "pos": state[-1]}}
    raw = twister.random_raw(2 * count)
    seeds = raw[0::2] | (raw[1::2] >> np.uint64(1)) << np.uint64(32)
    if np.any(seeds == sys.maxsize):
        return np.array([python.randrange(sys.maxsize) for _ in range(count)], dtype=np.int64)
    return seeds.astype(np.int64)


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
    scaled per engine, plus a fixed cost a job (config.JOB_FIXED_COST).

    A run's work is proportional to its cluster, which at breakthrough fills a fraction
    of the grid that falls with depth: about 0.5 at depth 2 and 0.07 at depth 100
    (measured at 2001 x 2001), modelled as a + b / depth, and as a for the continuous
    model (depth 0 in the plan), the depth -> infinity limit
    (:func:`perc_mpi.parameters.filled_share`).
    """
    fraction = filled_share(jobs["depth"])
    continuous = jobs["depth"] == config.CONTINUOUS
    per_cell = np.select([jobs["engine"] == b"original", continuous],
                         [config.ORIGINAL_COST_FACTOR, config.CONTINUOUS_COST_FACTOR], 1.0)
    return jobs["width"].astype(np.float64) * jobs["height"] * fraction * per_cell + config.JOB_FIXED_COST


# The rank of a job that rank 0 holds back from the scatter (see assign_ranks).
RESERVE = -1


def assign_ranks(jobs: np.ndarray, n_ranks: int, reserve_fraction: float = config.RESERVE_FRACTION) -> np.ndarray:
    """Return the rank each job is scattered to, or :data:`RESERVE` for a job held back.

    Jobs are sorted by estimated cost.  The costliest, making up ``1 - reserve_fraction``
    of the estimated work (at least one job per rank), are dealt out in a snake order
    (0..n-1, n-1..0, ...), which balances near-equal costs as greedy LPT does, in
    O(J log J).  The cheapest are held back on rank 0 and handed out as ranks run dry
    (:class:`Reserve`): they absorb what no estimate foresees -- a cluster's size varies
    with its seed, and one core may run slower than another.  One rank runs everything.
    """
    if n_ranks == 1:
        return np.zeros(len(jobs), np.int32)
    cost = job_cost(jobs)
    order = np.argsort(-cost, kind="stable")
    cumulative = np.cumsum(cost[order])
    within = cumulative <= (1 - reserve_fraction) * cumulative[-1:]  # [-1:]: no total if no jobs
    n_head = max(min(n_ranks, len(jobs)), int(np.count_nonzero(within)))
    lap, seat = np.divmod(np.arange(n_head), n_ranks)
    ranks = np.full(len(jobs), RESERVE, np.int32)
    ranks[order[:n_head]] = np.where(lap % 2 == 0, seat, n_ranks - 1 - seat)
    return ranks


def shares(jobs: np.ndarray, ranks: np.ndarray, n_ranks: int) -> list[np.ndarray]:
    """Return each rank's scattered jobs, costliest first: a rank ends its share with
    short jobs, so rank 0, which answers requests for held-back jobs between its own,
    is in a short one when the others, ending theirs, ask."""
    order = np.lexsort((-job_cost(jobs), ranks))  # by rank, then costliest first; stable
    bounds = np.searchsorted(ranks[order], np.arange(n_ranks + 1))  # RESERVE (-1) sorts first, left out
    return [jobs[order[bounds[r]:bounds[r + 1]]] for r in range(n_ranks)]


def balance(jobs: np.ndarray, ranks: np.ndarray, n_ranks: int) -> tuple[np.ndarray, float]:
    """Return ``(work per rank, imbalance)`` as the cost estimates predict them: each
    rank's scattered share, and the held-back work spread over the ranks that run dry
    first (each raised to a common level); imbalance = max / mean work (1.0 is perfect)."""
    cost = job_cost(jobs)
    scattered = ranks != RESERVE
    work = np.bincount(ranks[scattered], weights=cost[scattered], minlength=n_ranks)
    spare = cost[~scattered].sum()
    if spare > 0:
        low = np.sort(work)
        needed = np.arange(1, n_ranks + 1) * low - np.cumsum(low)  # to raise the k+1 lowest to low[k]
        k = int(np.searchsorted(needed, spare, side="right"))
        work = np.maximum(work, (spare + low[:k].sum()) / k)
    return work, float(work.max() / work.mean()) if work.mean() > 0 else 1.0


class Reserve:
    """The jobs held back from the scatter, costliest first, handed out on demand.

    A rank that runs dry takes a chunk from the costly end: about 1 / (2 n_ranks) of the
    estimated work left (guided self-scheduling: large chunks while much is left, single
    jobs at the end, so the ranks finish together).  Rank 0, which answers those requests
    between its own jobs, takes single jobs from the cheap end, so that a request never
    waits long behind one of its jobs.
    """

    def __init__(self, jobs: np.ndarray, n_ranks: int):
        cost = job_cost(jobs)
        order = np.argsort(-cost, kind="stable")
        self.jobs = jobs[order]
        self._cumulative = np.concatenate([[0.0], np.cumsum(cost[order])])  # cost of the first k jobs
        self._n_ranks = n_ranks
        self._front, self._back = 0, len(jobs)

    def __len__(self) -> int:
        """Return the number of jobs still held."""
        return self._back - self._front

    def take_chunk(self) -> np.ndarray:
        """Return the next chunk for a rank that ran dry (the costliest jobs held; empty
        when none are left)."""
        start = self._cumulative[self._front]
        target = start + (self._cumulative[self._back] - start) / (2 * self._n_ranks)
        end = int(np.searchsorted(self._cumulative, target, side="right")) - 1
        end = min(max(end, self._front + 1), self._back)
        chunk, self._front = self.jobs[self._front:end], end
        return chunk

    def take_cheapest(self) -> np.ndarray:
        """Return the cheapest job held, as a chunk of one (empty when none are left)."""
        if not len(self):
            return self.jobs[:0]
        self._back -= 1
        return self.jobs[self._back:self._back + 1]


# What JobQueue.next returns while the answer to the rank's request is not there yet.
WAIT = "wait"


class JobQueue:
    """A rank's jobs as the driver feeds them, without MPI: its scattered share, then the
    held-back chunks it asks rank 0 for (:class:`Reserve`), one job ahead, so that the
    answer is usually there by the time it is needed; an empty chunk means no more.  The
    driver runs it over MPI, the bench's replay of a schedule over simulated time."""

    def __init__(self, share: np.ndarray):
        # Arrays of jobs and a cursor, not a deque of rows: a row is a Python object of
        # ~90 bytes (a rank's 5 million jobs took 395 MB).
        self.chunks: deque[np.ndarray] = deque([share])
        self.at = 0  # the next job's index in chunks[0]
        self.left = len(share)
        self.asked = False  # a request for more is unanswered
        self.dry = False  # the answer to a request was an empty chunk

    def next(self, answered: Callable[[], bool], receive: Callable[[], np.ndarray | None],
             ask: Callable[[], None]) -> np.void | str | None:
        """Return the next job; None when none is left; WAIT when the rank needs the answer
        to its request first and ``receive`` has none yet.  ``answered()``: whether that
        answer is there; ``receive()``: the answer (a chunk), or None if not yet; ``ask()``:
        send a request."""
        while True:
            if self.asked and (not self.left or answered()):
                chunk = receive()
                if chunk is None:
                    return WAIT
                self.take_answer(chunk)
            if self.left <= 1 and not (self.asked or self.dry):
                ask()
                self.asked = True
            if self.left or not self.asked:
                return self.pop()

    def take_answer(self, chunk: np.ndarray) -> None:
        """Add the answer to the open request."""
        self.asked = False
        self.dry = self.dry or len(chunk) == 0
        self.add(chunk)

    def add(self, jobs: np.ndarray) -> None:
        """Queue more jobs after those held."""
        self.chunks.append(jobs)
        self.left += len(jobs)

    def pop(self) -> np.void | None:
        """Return the next job held, None if there is none."""
        if not self.left:
            return None
        while self.at == len(self.chunks[0]):  # (empty chunks included)
            self.chunks.popleft()
            self.at = 0
        job = self.chunks[0][self.at]
        self.at += 1
        self.left -= 1
        return job

