"""Driver collectives in-process, under COMM_SELF and COMM_WORLD (run with
``mpirun -n N python -m pytest --with-mpi tests/mpi``; tests/test_mpi_suite.py does)."""

import argparse
import json
import os
import signal
import time
from contextlib import contextmanager

import numpy as np
import pytest
from mpi4py import MPI

from perc_mpi import config, driver, jobs, measures
from perc_mpi.parameters import ParameterError, parse_sweep
from perc_mpi.plan import RESERVE, assign_ranks, build_plan, job_seeds
from perc_mpi.stop import StopRequest

SPEC = {"size": [9, 17], "depth": [2, 5], "runs": 3, "seed": 99}
COMMS = {"self": MPI.COMM_SELF, "world": MPI.COMM_WORLD}


@contextmanager
def then_barrier(comm):
    """Yield whether this is rank 0; every rank meets at a barrier afterwards, even when
    a check in the block fails, so one failure never leaves the other ranks hanging."""
    try:
        yield comm.rank == 0
    finally:
        comm.barrier()


def left_behind(comm):
    """Return whether any rank has a message nobody received (on every rank: one rank
    failing alone would leave the others waiting in the next collective)."""
    return comm.allreduce(comm.iprobe(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG), op=MPI.LOR)


@pytest.fixture
def held_back_spec():
    """SPEC with 40 jobs, enough for some to be held back; skipped on one rank (nobody
    to hand them to)."""
    if MPI.COMM_WORLD.size == 1:
        pytest.skip("needs a second rank")
    return {**SPEC, "runs": 10}


def fail_job(monkeypatch, index):
    """Make job ``index`` of SPEC raise MemoryError on whatever rank runs it; return the
    real engine.run."""
    doomed = int(job_seeds(SPEC["seed"], 12)[index])
    real_run = jobs.engine.run

    def run(params):
        if params.seed == doomed:
            raise MemoryError("synthetic failure")
        return real_run(params)

    monkeypatch.setattr(jobs.engine, "run", run)
    return real_run


def args_for(path, output, **extra):
    return argparse.Namespace(file=str(path), output=str(output), dry_run=False, ranks=None, force=False,
                              resume=False, checkpoint=30.0, slice=None, save_clusters=False, **extra)


def installed_stop() -> StopRequest:
    """The stop request the command line installs before it calls the driver."""
    stop = StopRequest()
    stop.install()
    return stop


def sweep(comm, directory, name, spec=SPEC):
    path = directory / f"{name}.json"
    if comm.rank == 0:
        path.write_text(json.dumps(spec))
    comm.barrier()
    output = directory / f"{name}.h5"
    status = driver.run_sweep(comm, args_for(path, output), spec, json.dumps(spec), installed_stop())
    return status, output


@pytest.mark.mpi
@pytest.mark.parametrize("which", ["self", "world"])
def test_decide_broadcasts_value_or_error(which):
    comm = COMMS[which]
    assert driver.decide(comm, lambda: 41 + 1) == 42
    assert driver.decide(comm, lambda: 41 + 1, shared=False) == (42 if comm.rank == 0 else None)

    def bad():
        raise ParameterError("f.json", "'x'", "wrong")

    with pytest.raises(ParameterError, match="f.json: 'x': wrong"):
        driver.decide(comm, bad)

    def bug():
        raise KeyError("oops")

    with pytest.raises((KeyError, RuntimeError), match="oops"):  # raised everywhere, nobody waits
        driver.decide(comm, bug)


@pytest.mark.mpi
def test_world_sweep_equals_self_sweep(mpi_tmp_path):
    import h5py

    comm = MPI.COMM_WORLD
    status, world = sweep(comm, mpi_tmp_path, "world")
    assert status == 0
    with then_barrier(comm) as root:
        if not root:
            return
        status, alone = sweep(MPI.COMM_SELF, mpi_tmp_path, "alone")
        assert status == 0
        with h5py.File(world) as a, h5py.File(alone) as b:
            for column in ("job", "seed", "filled", "dimension"):
                np.testing.assert_array_equal(a["runs"][column][()], b["runs"][column][()])
            assert a.attrs["mpi_size"] == comm.size and b.attrs["mpi_size"] == 1
            for column in ("dimension", "dimension_stderr", "density_x", "density_k"):  # bit for bit
                np.testing.assert_array_equal(a["summary"][column][()], b["summary"][column][()])


@pytest.mark.mpi
def test_every_rank_builds_its_ring_tables_before_its_jobs(mpi_tmp_path, monkeypatch):
    comm = MPI.COMM_WORLD
    measures.ring_table.cache_clear()
    real_run_job, built_in_a_job = driver.run_job, []

    def run_job(job, *args):  # the job's own lookup must find its shape's table already built
        misses = measures.ring_table.cache_info().misses
        measures.ring_table(int(job["width"]), int(job["height"]))
        built_in_a_job.append(measures.ring_table.cache_info().misses > misses)
        return real_run_job(job, *args)

    monkeypatch.setattr(driver, "run_job", run_job)
    status, _ = sweep(comm, mpi_tmp_path, "tables")
    assert status == 0 and built_in_a_job and not any(built_in_a_job)


@pytest.mark.mpi
def test_ranks_that_run_dry_take_the_held_back_jobs(mpi_tmp_path, monkeypatch, held_back_spec):
    import h5py

    comm, spec = MPI.COMM_WORLD, held_back_spec
    if comm.rank == 0:  # a slow rank 0: the others must take over what it holds back
        real_run = jobs.engine.run

        def slow_run(params):
            time.sleep(0.05)
            return real_run(params)

        monkeypatch.setattr(jobs.engine, "run", slow_run)
    status, output = sweep(comm, mpi_tmp_path, "dry", spec)
    assert status == 0
    assert not left_behind(comm)
    with then_barrier(comm) as root:
        if not root:
            return
        planned = build_plan(parse_sweep(spec, json.dumps(spec), "dry.json")).jobs
        scattered = assign_ranks(planned, comm.size)
        assert np.count_nonzero(scattered == RESERVE) > 0
        with h5py.File(output) as f:
            ran = f["runs/rank"][()]
            assert f.attrs["complete"] and sorted(f["runs/job"][()]) == list(range(len(planned)))
        elsewhere = (scattered != 0) & (scattered != RESERVE)
        assert np.count_nonzero(ran != 0) > np.count_nonzero(elsewhere)


@pytest.mark.mpi
def test_a_rank_stopped_while_asking_for_jobs_leaves_nothing_behind(mpi_tmp_path, monkeypatch, held_back_spec):
    import h5py

    comm, spec = MPI.COMM_WORLD, held_back_spec
    real_next = driver.JobFeed.next

    def next_then_stop(feed):
        job = real_next(feed)
        if feed.queue.asked and not feed.stop.requested:  # a request to rank 0 is open: a stop now
            os.kill(os.getpid(), signal.SIGUSR1)  # must not leave its answer behind
        return job

    monkeypatch.setattr(driver.JobFeed, "next", next_then_stop)
    status, output = sweep(comm, mpi_tmp_path, "stop", spec)
    if comm.rank == 0:
        with h5py.File(output) as f:
            left = int(np.count_nonzero(f["runs/status"][()] != jobs.DONE))
    # The same on every rank, though only the others were signalled: interrupted if jobs
    # were left (rank 0, not stopped, may have run every held-back job itself).
    left = comm.bcast(left if comm.rank == 0 else None, root=0)
    assert status == (config.EXIT_INTERRUPTED if left else config.EXIT_OK)
    assert not left_behind(comm)  # the open request was answered, and the answer taken
    monkeypatch.setattr(driver.JobFeed, "next", real_next)
    args = args_for(mpi_tmp_path / "stop.json", output)
    args.resume = True
    assert driver.run_sweep(comm, args, spec, json.dumps(spec), installed_stop()) == 0
    with then_barrier(comm) as root:
        if not root:
            return
        with h5py.File(output) as f:
            assert f.attrs["complete"] and f.attrs["sessions"] == 2
            assert np.all(f["runs/status"][()] == jobs.DONE)


@pytest.mark.mpi
def test_exception_in_a_job_is_recorded_and_the_sweep_goes_on(mpi_tmp_path, monkeypatch):
    import h5py

    comm = MPI.COMM_WORLD
    fail_job(monkeypatch, 4)
    status, output = sweep(comm, mpi_tmp_path, "failing")
    assert status == 3  # some jobs failed, on every rank
    with then_barrier(comm) as root:
        if not root:
            return
        with h5py.File(output) as f:
            assert f["failures/job"][()].tolist() == [4]
            assert "synthetic failure" in f["failures/error"][0].decode()
            assert f["summary/failed"][()].tolist() == [0, 1, 0, 0]  # job 4 is run 1 of point 1
            assert f["summary/count"][()].tolist() == [3, 2, 3, 3]
            assert f["runs/filled"][4] == -1 and f["runs/status"][4] == 2


@pytest.mark.mpi
def test_failed_job_is_retried_on_resume(mpi_tmp_path, monkeypatch):
    import h5py

    comm = MPI.COMM_WORLD
    real_run = fail_job(monkeypatch, 7)
    status, output = sweep(comm, mpi_tmp_path, "retry")
    assert status == 3
    monkeypatch.setattr(jobs.engine, "run", real_run)  # the failure was transient
    args = args_for(mpi_tmp_path / "retry.json", output)
    args.resume = True
    status = driver.run_sweep(comm, args, SPEC, json.dumps(SPEC), installed_stop())
    assert status == 0
    with then_barrier(comm) as root:
        if not root:
            return
        with h5py.File(output) as f:
            assert f["failures/job"][()].tolist() == []
            assert f["summary/count"][()].tolist() == [3, 3, 3, 3] and f.attrs["complete"]


@pytest.mark.mpi
def test_merged_slices_keep_a_failed_job_failed(mpi_tmp_path, monkeypatch):
    import h5py

    from perc_mpi import merge

    comm = MPI.COMM_WORLD
    fail_job(monkeypatch, 5)  # in slice 1 of 2
    _, single = sweep(comm, mpi_tmp_path, "whole")
    parts = []
    for index in range(2):
        args = args_for(mpi_tmp_path / "whole.json", mpi_tmp_path / f"part{index}.h5")
        args.slice = f"{index}/2"
        driver.run_sweep(comm, args, SPEC, json.dumps(SPEC), installed_stop())
        parts.append(mpi_tmp_path / f"part{index}.h5")
    with then_barrier(comm) as root:
        if not root:
            return
        merge.merge(mpi_tmp_path / "merged.h5", parts)
        with h5py.File(single) as one, h5py.File(mpi_tmp_path / "merged.h5") as merged:
            for group in ("runs", "summary"):
                for column in ("status", "filled", "count", "failed"):
                    if column in one[group]:
                        assert merged[group][column][()].tolist() == one[group][column][()].tolist(), column
            assert merged["failures/job"][()].tolist() == one["failures/job"][()].tolist() == [5]
            assert merged.attrs["jobs_failed"] == one.attrs["jobs_failed"] == 1


@pytest.mark.mpi
def test_a_request_is_answered_after_rank_0s_job_in_flight(mpi_tmp_path, monkeypatch, held_back_spec):
    """Rank 0 answers between its own jobs: a rank that runs dry while rank 0 is in a job
    waits for that job alone, not for the next one too."""
    import h5py

    comm, spec = MPI.COMM_WORLD, held_back_spec
    slow_seconds = 0.5
    if comm.rank == 0:  # rank 0's first two jobs are long; everything else is quick
        real_run_job, slow = driver.run_job, [slow_seconds, slow_seconds]

        def run_job(*args):
            if slow:
                time.sleep(slow.pop())
            return real_run_job(*args)

        monkeypatch.setattr(driver, "run_job", run_job)
    path, output = mpi_tmp_path / "answer.json", mpi_tmp_path / "answer.h5"
    if comm.rank == 0:
        path.write_text(json.dumps(spec))
    args = args_for(path, output)
    args.checkpoint = 0.03  # the others send their results after every job, then ask for more
    assert driver.run_sweep(comm, args, spec, json.dumps(spec), installed_stop()) == 0
    with then_barrier(comm) as root:
        if not root:
            return
        with h5py.File(output) as f:
            rank, started, seconds = f["runs/rank"][()], f["runs/started"][()], f["runs/seconds"][()]
        for other in range(1, comm.size):
            mine = np.argsort(started[rank == other])
            begin, end = started[rank == other][mine], (started + seconds)[rank == other][mine]
            assert len(begin) > 1  # it ran held-back jobs after its own
            assert np.max(begin[1:] - end[:-1]) < 1.5 * slow_seconds


@pytest.mark.mpi
def test_a_stop_after_the_last_job_keeps_the_status_of_the_failures(mpi_tmp_path, monkeypatch):
    comm = MPI.COMM_WORLD
    fail_job(monkeypatch, 4)
    real_next = driver.JobFeed.next

    def next_then_stop(feed):
        job = real_next(feed)
        if job is None and not feed.stop.requested:  # every job of this rank has run: a stop now
            os.kill(os.getpid(), signal.SIGUSR1)
        return job

    monkeypatch.setattr(driver.JobFeed, "next", next_then_stop)
    status, _ = sweep(comm, mpi_tmp_path, "late", SPEC)
    assert status == config.EXIT_JOBS_FAILED  # not 4: no job is left to run, one failed


@pytest.mark.mpi
def test_a_stop_before_the_failed_jobs_are_retried_leaves_them_to_resume(mpi_tmp_path, monkeypatch):
    comm = MPI.COMM_WORLD
    real_run = fail_job(monkeypatch, 7)
    status, output = sweep(comm, mpi_tmp_path, "again")
    assert status == config.EXIT_JOBS_FAILED
    monkeypatch.setattr(jobs.engine, "run", real_run)
    real_next = driver.JobFeed.next

    def stop_then_next(feed):
        if not feed.stop.requested:  # before this rank's first job of the resumed session
            os.kill(os.getpid(), signal.SIGUSR1)
        return real_next(feed)

    monkeypatch.setattr(driver.JobFeed, "next", stop_then_next)
    args = args_for(mpi_tmp_path / "again.json", output)
    args.resume = True
    # The failed job is left to run: interrupted (a batch script requeues), not "failed".
    assert driver.run_sweep(comm, args, SPEC, json.dumps(SPEC), installed_stop()) == config.EXIT_INTERRUPTED
