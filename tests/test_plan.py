"""The schedule: which jobs are scattered to which rank, which are held back, and how
the held-back ones are handed out."""

import random
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from perc_mpi import plan
from perc_mpi.parameters import parse_sweep
from perc_mpi.plan import RESERVE, Reserve, assign_ranks, balance, build_plan, job_cost, job_seeds, shares


def plan_jobs(**spec):
    spec = {"size": [101, 201, 401], "depth": [2, 10, 100], "runs": 7, "seed": 5, **spec}
    return build_plan(parse_sweep(spec, "", "test.json")).jobs


@settings(max_examples=40, deadline=None)
@given(n_ranks=st.integers(1, 20), runs=st.integers(1, 9), fraction=st.sampled_from([0.0, 0.1, 0.3, 0.6]))
def test_every_rank_gets_jobs_and_the_cheapest_are_held_back(n_ranks, runs, fraction):
    jobs = plan_jobs(runs=runs)
    ranks = assign_ranks(jobs, n_ranks, fraction)
    assert ranks.min() >= RESERVE and ranks.max() < n_ranks
    scattered = ranks != RESERVE
    assert len(np.unique(ranks[scattered])) == min(n_ranks, len(jobs))  # no rank starts empty-handed
    cost = job_cost(jobs)
    if n_ranks == 1:
        assert scattered.all()
        return
    if (~scattered).any():
        assert cost[~scattered].max() <= cost[scattered].min()
    held = cost[~scattered].sum() / cost.sum()
    # the share, up to the job that crosses it -- less if every rank needs a job first
    one_each = cost[np.argsort(-cost)[:n_ranks]].sum() / cost.sum()
    assert min(fraction, 1 - one_each) - 1e-12 <= held < fraction + cost.max() / cost.sum()


def test_balance_spreads_the_held_back_work_over_the_ranks_with_least():
    jobs = plan_jobs()
    ranks = assign_ranks(jobs, 4, 0.3)
    work, imbalance = balance(jobs, ranks, 4)
    assert np.isclose(work.sum(), job_cost(jobs).sum())
    scattered = np.bincount(ranks[ranks != RESERVE], weights=job_cost(jobs)[ranks != RESERVE], minlength=4)
    assert np.all(work >= scattered - 1e-9)
    raised = work > scattered + 1e-9
    assert np.allclose(work[raised], work[raised].max())  # all raised to one level
    assert imbalance == work.max() / work.mean() and 1.0 <= imbalance < 1.05
    static, static_imbalance = balance(jobs, assign_ranks(jobs, 4, 0.0), 4)
    assert imbalance <= static_imbalance


@settings(max_examples=40, deadline=None)
@given(n_ranks=st.integers(1, 16), pattern=st.lists(st.booleans(), min_size=1, max_size=200))
def test_reserve_hands_out_every_job_once(n_ranks, pattern):
    jobs = plan_jobs(runs=5)
    reserve = Reserve(jobs, n_ranks)
    handed = []
    for cheapest in pattern * (1 + len(jobs)):
        chunk = reserve.take_cheapest() if cheapest else reserve.take_chunk()
        if not len(chunk):
            break
        handed.append(chunk)
    assert len(reserve) == 0 and len(reserve.take_chunk()) == 0 and len(reserve.take_cheapest()) == 0
    handed = np.concatenate(handed)
    assert sorted(handed["job"]) == sorted(jobs["job"])


def test_reserve_chunks_shrink_from_the_costly_end():
    jobs = plan_jobs(runs=20)
    reserve = Reserve(jobs, 2)
    first = reserve.take_chunk()
    cost = job_cost(jobs)
    # about a quarter of the work (1 / (2 n_ranks)), from the costliest jobs down
    assert job_cost(first).sum() <= cost.sum() / 4 + 1e-9
    assert job_cost(first).sum() >= cost.sum() / 4 - job_cost(reserve.jobs[:1]).sum()
    assert job_cost(first).min() >= job_cost(reserve.jobs[reserve._front:]).max()
    cheapest = reserve.take_cheapest()
    assert job_cost(cheapest)[0] == cost.min()
    works = [job_cost(first).sum()]
    while len(chunk := reserve.take_chunk()):
        works.append(job_cost(chunk).sum())
        last = chunk
    assert len(last) == 1  # single jobs at the end, so that the ranks finish together
    assert works[-1] < works[0] / 10


def test_shares_hold_each_rank_s_scattered_jobs_costliest_first():
    jobs = plan_jobs()
    ranks = assign_ranks(jobs, 3, 0.3)
    parts = shares(jobs, ranks, 3)
    assert [len(p) for p in parts] == [np.count_nonzero(ranks == r) for r in range(3)]
    assert sorted(np.concatenate(parts)["job"]) == sorted(jobs["job"][ranks != RESERVE])
    for r, part in enumerate(parts):
        assert np.all(ranks[part["job"]] == r)  # a plan's job index is its row
        assert np.all(np.diff(job_cost(part)) <= 0)


@settings(max_examples=30, deadline=None)
@given(st.integers(-(2**63), 2**63 - 1), st.integers(0, 700))
def test_job_seeds_are_pythons_randrange_draws(sweep_seed, count):
    """The vectorized draws equal the original's loop (NumPy's Mersenne Twister started
    from Python's state), across a refill of the 624-word state (count > 312)."""
    python = random.Random(sweep_seed)
    assert job_seeds(sweep_seed, count).tolist() == [python.randrange(sys.maxsize) for _ in range(count)]


def test_a_job_queue_asks_one_job_ahead_and_waits_only_when_empty():
    jobs = plan_jobs(size=[5], depth=[2], runs=4)
    queue, answers, asked = plan.JobQueue(jobs[:2]), [], []

    def next_job():
        return queue.next(lambda: bool(answers), lambda: answers.pop(0) if answers else None,
                          lambda: asked.append(1))

    assert next_job()["job"] == 0 and not asked
    assert next_job()["job"] == 1 and asked == [1]  # asked while taking its last job
    assert next_job() is plan.WAIT  # nothing left, no answer yet
    answers.append(jobs[2:3])
    assert next_job()["job"] == 2 and asked == [1, 1]  # the answer taken, the next request sent
    answers.append(jobs[3:3])  # rank 0 holds no more
    assert next_job() is None and queue.dry and len(asked) == 2  # dry: never asks again
    assert next_job() is None
