"""The MPI driver: the only module that talks MPI.

Rank 0 validates the sweep and plans it; every rank runs its share of the jobs; finished
records stream to rank 0 (which also computes) at most ``config.SEND_SECONDS`` apart;
per-point sums are combined with ``Reduce``; rank 0 writes the HDF5 file and prints the
CSV summary.  Decisions are broadcast so that every rank exits together with the same
status, and an uncaught exception on any rank aborts the whole job instead of hanging.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import h5py
import mpi4py
import numba
import numpy as np
from mpi4py import MPI

from . import __version__, config, engine, report
from .aggregate import STATS, Accumulator, sorted_rows, summarize
from .jobs import RECORD_DTYPE, run_job
from .parameters import ParameterError, RunParams, available_memory, parse_sweep
from .plan import assign_ranks, balance, build_plan
from .store import write_results

TAG_RESULTS = 11


def install_abort_hook(comm: MPI.Comm) -> None:
    """Make an uncaught exception on any rank print its traceback and abort every rank
    (plain Python would exit this rank only and leave the others blocked forever)."""
    if comm.size == 1:
        return
    previous = sys.excepthook

    def abort(*exc_info):
        previous(*exc_info)
        sys.stderr.flush()
        comm.Abort(config.EXIT_ERROR)

    sys.excepthook = abort


def wait_quietly(request: MPI.Request) -> None:
    """Wait for a request, sleeping between tests.

    MPI's blocking calls busy-poll; a rank waiting in one burns a core, which starves
    the ranks still computing whenever ranks outnumber cores (oversubscribed runs).
    """
    pause = config.POLL_MIN_SECONDS
    while not request.Test():
        time.sleep(pause)
        pause = min(2 * pause, config.POLL_MAX_SECONDS)


def quiet_barrier(comm: MPI.Comm) -> None:
    """A barrier that sleeps while it waits (see :func:`wait_quietly`)."""
    wait_quietly(comm.Ibarrier())


def decide(comm: MPI.Comm, decision):
    """Run ``decision()`` on rank 0 and return its value on every rank; a
    ParameterError on rank 0 is raised on every rank (printed by rank 0 only)."""
    outcome = None
    if comm.rank == 0:
        try:
            outcome = (True, decision())
        except ParameterError as exc:
            outcome = (False, exc)
    quiet_barrier(comm)
    ok, value = comm.bcast(outcome, root=0)
    if not ok:
        raise value
    return value


def output_path(args: argparse.Namespace) -> Path:
    """Return the sweep's HDF5 path (``-o`` or the sweep file with ``.h5``), checked
    writable and not clobbering an existing file unless ``--force``."""
    path = Path(args.output) if args.output else Path(args.file).with_suffix(".h5")
    if path.exists() and not args.force:
        raise ParameterError(str(path), None, "output exists; use --force to overwrite it or -o to choose another")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ParameterError(str(path), None, "output directory does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ParameterError(str(path), None, "output directory is not writable")
    return path


def warm_up(jobs: np.ndarray) -> None:
    """Compile or load the kernels of every engine in ``jobs`` with a tiny run."""
    for name in np.unique(jobs["engine"]):
        engine.run(RunParams(5, 5, 1, 0, name.decode()))


def print_plan(plan, ranks: np.ndarray, n_ranks: int) -> None:
    """Print the dry-run report: job counts per point, work per rank, imbalance."""
    jobs = plan.jobs
    print(f"{len(jobs)} jobs, {len(plan.points)} parameter points, {n_ranks} ranks, sweep seed {plan.sweep.seed}")
    print("width,height,depth,engine,jobs")
    for i, p in enumerate(plan.points):
        print(f"{p['width']},{p['height']},{p['depth']},{p['engine'].decode()},{np.count_nonzero(jobs['point'] == i)}")
    work, imbalance = balance(jobs, ranks, n_ranks)
    share = work / work.sum() if work.sum() else work
    print("rank,jobs,work_share")
    for r in range(n_ranks):
        print(f"{r},{np.count_nonzero(ranks == r)},{share[r]:.4f}")
    print(f"expected imbalance (max/mean work): {imbalance:.3f}")


class Collector:
    """Rank 0's inbox: finished records from every rank, progress lines on stderr."""

    def __init__(self, comm: MPI.Comm, total: int):
        self.comm, self.total = comm, total
        self.records: list[np.ndarray] = []
        self.failures: list[tuple[int, str]] = []
        self.done_ranks = 0
        self.finished = 0
        self.started = self.last_report = time.monotonic()

    def take(self, records: np.ndarray, failures: list[tuple[int, str]]) -> None:
        """Keep a batch of records and failures; report progress when it is time."""
        self.records.append(records)
        self.failures.extend(failures)
        self.finished += len(records)
        now = time.monotonic()
        if now - self.last_report >= config.PROGRESS_SECONDS:
            self.last_report = now
            rate = self.finished / (now - self.started)
            eta = (self.total - self.finished) / rate if rate else float("inf")
            print(f"perc_mpi: {self.finished}/{self.total} jobs ({100 * self.finished / self.total:.1f}%), "
                  f"{rate:.1f} jobs/s, ETA {eta:.0f} s, {len(self.failures)} failed", file=sys.stderr, flush=True)

    def _receive(self, source: int) -> None:
        records, failures, done = self.comm.recv(source=source, tag=TAG_RESULTS)
        self.done_ranks += done
        self.take(records, failures)

    def poll(self) -> None:
        """Take every batch that has already arrived, without blocking."""
        status = MPI.Status()
        while self.comm.iprobe(source=MPI.ANY_SOURCE, tag=TAG_RESULTS, status=status):
            self._receive(status.Get_source())

    def wait_all(self) -> None:
        """Wait (sleeping between polls) until every other rank has sent its last batch."""
        pause = config.POLL_MIN_SECONDS
        while self.done_ranks < self.comm.size - 1:
            before = self.finished
            self.poll()
            pause = config.POLL_MIN_SECONDS if self.finished > before else min(2 * pause, config.POLL_MAX_SECONDS)
            time.sleep(pause)


def run_share(comm: MPI.Comm, jobs: np.ndarray, accumulator: Accumulator, collector: Collector | None) -> float:
    """Run this rank's jobs, streaming records to rank 0 (or handing them to the
    collector); return the wall seconds of the loop, for the overhead report."""
    start = time.perf_counter()
    batch: list[np.void] = []
    failures: list[tuple[int, str]] = []
    request, last_send = None, time.monotonic()

    def flush(done: bool):
        nonlocal batch, failures, request, last_send
        payload = (np.array(batch, RECORD_DTYPE), failures, done)
        if collector is not None:
            collector.take(*payload[:2])
        else:
            if request is not None:
                wait_quietly(request)
            request = comm.isend(payload, dest=0, tag=TAG_RESULTS)
        batch, failures, last_send = [], [], time.monotonic()

    for job in jobs:
        outcome = run_job(job, comm.rank)
        accumulator.add(outcome.record, outcome.rings)
        batch.append(outcome.record)
        if outcome.error:
            failures.append((int(job["job"]), outcome.error))
        if collector is not None:
            flush(False)
            collector.poll()
        elif time.monotonic() - last_send >= config.SEND_SECONDS:
            flush(False)
    flush(True)
    if request is not None:
        wait_quietly(request)
    return time.perf_counter() - start


def provenance(comm: MPI.Comm, sweep, started: str) -> dict:
    """Return the root attributes of the output file (on rank 0; gathers host names)."""
    hosts = comm.gather(socket.gethostname(), root=0)
    if comm.rank != 0:
        return {}
    return {
        "sweep_json": sweep.text,
        "sweep_seed": sweep.seed,
        "perc_mpi_version": __version__,
        "mpi_size": comm.size,
        "hosts": ",".join(sorted(set(hosts))),
        "python_version": platform.python_version(),
        "numpy_version": np.__version__,
        "numba_version": numba.__version__,
        "h5py_version": h5py.__version__,
        "hdf5_version": h5py.version.hdf5_version,
        "mpi4py_version": mpi4py.__version__,
        "mpi_library": MPI.Get_library_version().splitlines()[0].strip(),
        "command": " ".join(sys.argv),
        "start_time": started,
    }


def run_sweep(comm: MPI.Comm, args: argparse.Namespace, data: dict, text: str) -> int:
    """Run a whole sweep on ``comm``; return the exit status (the same on every rank)."""
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    clock = {"start": time.monotonic()}
    n_ranks = args.ranks if args.dry_run and args.ranks else comm.size
    ranks_per_node = comm.Split_type(MPI.COMM_TYPE_SHARED).size  # they share the node's memory

    def prepare():
        sweep = parse_sweep(data, text, args.file, available_memory(), ranks_per_node)
        path = None if args.dry_run else output_path(args)
        plan = build_plan(sweep)
        return sweep, path, plan, assign_ranks(plan.jobs, n_ranks)

    try:
        sweep, path, plan, ranks = decide(comm, prepare)
    except ParameterError as exc:
        if comm.rank == 0:
            print(f"perc_mpi: error: {exc}", file=sys.stderr)
        return config.EXIT_BAD_INPUT
    if args.dry_run:
        if comm.rank == 0:
            print_plan(plan, ranks, n_ranks)
        return config.EXIT_OK

    if comm.rank == 0:
        warm_up(plan.jobs)  # compile once, before the other ranks read the kernel cache
        work, imbalance = balance(plan.jobs, ranks, comm.size)
        print(f"perc_mpi: {len(plan.jobs)} jobs, {len(plan.points)} points on {comm.size} ranks "
              f"(expected imbalance {imbalance:.3f}), output {path}", file=sys.stderr, flush=True)
    shares = [plan.jobs[ranks == r] for r in range(comm.size)] if comm.rank == 0 else None
    quiet_barrier(comm)
    my_jobs = comm.scatter(shares, root=0)
    points = comm.bcast(plan.points if comm.rank == 0 else None, root=0)
    warm_up(my_jobs)  # load the kernels now, so no job's ``seconds`` includes it

    accumulator = Accumulator(points)
    collector = Collector(comm, len(plan.jobs)) if comm.rank == 0 else None
    loop_seconds = run_share(comm, my_jobs, accumulator, collector)
    if collector is not None:
        collector.wait_all()
    loop_seconds = comm.reduce(loop_seconds, op=MPI.SUM, root=0)
    if collector is not None:
        clock["jobs"] = collector.started

    quiet_barrier(comm)
    stats = np.zeros_like(accumulator.stats) if comm.rank == 0 else None
    profiles = np.zeros_like(accumulator.profiles) if comm.rank == 0 else None
    comm.Reduce(accumulator.stats, stats, op=MPI.SUM, root=0)
    comm.Reduce(accumulator.profiles, profiles, op=MPI.SUM, root=0)
    attrs = provenance(comm, sweep if comm.rank == 0 else None, started)
    if comm.rank == 0:
        # Time in the job loops not spent inside jobs: scheduling, messaging, bookkeeping.
        job_seconds = stats[:, STATS.index("seconds_sum")].sum()
        attrs["overhead_seconds_per_job"] = max(loop_seconds - job_seconds, 0.0) / max(len(plan.jobs), 1)
        clock["reduced"] = time.monotonic()

    status = None
    if comm.rank == 0:
        status = finish(path, attrs, plan, collector, stats, profiles, accumulator.offsets, clock)
    quiet_barrier(comm)
    return comm.bcast(status, root=0)


def finish(path, attrs, plan, collector, stats, profiles, offsets, clock) -> int:
    """Rank 0: write the file, print the CSV, the timing and the failures; return the
    exit status.  ``clock`` holds the monotonic times of the start, of the first job and
    of the end of the reduction."""
    runs = np.zeros(len(plan.jobs), RECORD_DTYPE)
    records = np.concatenate(collector.records) if collector.records else np.zeros(0, RECORD_DTYPE)
    runs[records["job"]] = records
    summary, density = summarize(plan.points, stats, profiles, offsets)
    attrs["end_time"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    failures = sorted(collector.failures)
    write_results(path, attrs, runs, summary, density, plan.points, failures)
    report.write_summary_csv(sys.stdout, sorted_rows(summary))
    sys.stdout.flush()
    failed = int(stats[:, STATS.index("failed")].sum())
    setup, jobs, write = (clock["jobs"] - clock["start"], clock["reduced"] - clock["jobs"],
                          time.monotonic() - clock["reduced"])
    overhead = 1e6 * attrs["overhead_seconds_per_job"]
    print(f"perc_mpi: {len(plan.jobs) - failed}/{len(plan.jobs)} jobs done, results in {path}\n"
          f"perc_mpi: timing: setup {setup:.2f} s, jobs {jobs:.2f} s, write {write:.2f} s; "
          f"driver overhead {overhead:.0f} us/job", file=sys.stderr)
    if failed:
        print(f"perc_mpi: {failed} jobs failed (see failures/ in {path}); the first:\n{failures[0][1]}",
              file=sys.stderr)
        return config.EXIT_JOBS_FAILED
    return config.EXIT_OK


def main(args: argparse.Namespace, data: dict, text: str) -> int:
    """Run a sweep under MPI (``COMM_WORLD``); return the exit status."""
    comm = MPI.COMM_WORLD
    install_abort_hook(comm)
    return run_sweep(comm, args, data, text)

