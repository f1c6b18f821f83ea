"""The MPI driver: the only module that talks MPI.

Rank 0 prepares the session (:mod:`perc_mpi.session`: validation, output lock, resume,
plan) and scatters most of the jobs left; it holds the cheapest back and
hands them out as ranks run dry (:class:`perc_mpi.plan.Reserve`).  Finished records and
ring counts stream to rank 0 (which also computes), which writes a complete snapshot of
the HDF5 file at a bounded interval and at the end, and prints the CSV summary.
Decisions are broadcast so that every rank exits together with the same status; an
uncaught exception on any rank aborts the whole job instead of hanging it; SIGTERM,
SIGINT and SIGUSR1 stop the sweep cleanly after the jobs in flight.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial
from typing import Any, NoReturn

import h5py
import mpi4py
import numba
import numpy as np
from mpi4py import MPI

from . import __version__, config, report
from .aggregate import RingSums, sorted_rows, summarize
from .console import command_line, fail, launcher_size
from .jobs import run_job
from .parameters import ParameterError
from .plan import RESERVE, JobQueue, Reserve, balance, job_cost, shares
from .records import DONE, RECORD_DTYPE, progress
from .report import plural
from .session import (
    Start,
    job_shapes,
    kernel_kinds,
    points_to_run,
    prepare,
    prime_numba,
    print_plan,
    resume_command,
    warm_up,
)
from .stop import StopRequest
from .store import WriteError, partial_path, read_summary, unlock_output, write_snapshot

TAG_RESULTS = 11
TAG_REQUEST = 12  # a rank that runs dry asks rank 0 for more jobs
TAG_JOBS = 13  # rank 0's answer: a chunk of held-back jobs (empty: there are none left)


def end_every_rank(comm: MPI.Comm, code: int) -> NoReturn:
    """End every rank of ``comm`` now with status ``code`` (MPI_Abort), once this rank's
    last lines have had time to reach the launcher (config.ABORT_PAUSE_SECONDS)."""
    if comm.size > 1:
        time.sleep(config.ABORT_PAUSE_SECONDS)
        comm.Abort(code)
    os._exit(code)  # MPI_Abort may return (srun with the PyPI MPICH): end this rank anyway


def abort_at_once(comm: MPI.Comm, reason: str) -> NoReturn:
    """Stop every rank now (a second stop signal), with the interrupted status: the file
    is the last snapshot.  Each rank says so in one line, unless the first to abort
    ends it before."""
    if comm.size == 1:
        print(f"perc_mpi: {reason}: stopped at once; the output file, if written yet, is the last snapshot: "
              "--resume continues it", file=sys.stderr, flush=True)
    else:
        print(f"perc_mpi: rank {comm.rank}: {reason}: stopped at once", file=sys.stderr, flush=True)
    end_every_rank(comm, config.EXIT_INTERRUPTED)


def sleep_until(ready: Callable[[], bool]) -> None:
    """Return once ``ready()`` is true, sleeping between calls (POLL_MIN_SECONDS doubling
    to POLL_MAX_SECONDS).

    MPI's blocking calls busy-poll; a rank waiting in one burns a core, which starves
    the ranks still computing whenever ranks outnumber cores (oversubscribed runs).
    """
    pause = config.POLL_MIN_SECONDS
    while not ready():
        time.sleep(pause)
        pause = min(2 * pause, config.POLL_MAX_SECONDS)


def wait_quietly(request: MPI.Request) -> None:
    """Wait for a request, sleeping between tests (see :func:`sleep_until`)."""
    sleep_until(request.Test)


def receive_quietly(comm: MPI.Comm, source: int, tag: int) -> Any:
    """Return the next message from ``source`` with ``tag``, sleeping while none has
    arrived (see :func:`sleep_until`)."""
    sleep_until(lambda: comm.iprobe(source=source, tag=tag))
    return comm.recv(source=source, tag=tag)


def quiet_barrier(comm: MPI.Comm) -> None:
    """A barrier that sleeps while it waits (see :func:`wait_quietly`)."""
    wait_quietly(comm.Ibarrier())


def agreed_stop(comm: MPI.Comm, stop: StopRequest) -> int:
    """Return the stop signal any rank has had (the largest number; 0: none), the same on
    every rank: a barrier that sleeps while it waits."""
    mine = np.array([stop.signal or 0], np.int64)  # alive until the wait ends: MPI may read it late
    anyone = np.zeros_like(mine)
    wait_quietly(comm.Iallreduce(mine, anyone, op=MPI.MAX))
    return int(anyone[0])


def stopped_before_jobs(comm: MPI.Comm, start: Start | None, number: int) -> int:
    """Return the status of a sweep stopped before its first job (interrupted, or 0 if it
    had no job left), the same on every rank; rank 0 releases the output untouched (a
    --force output is not yet overwritten) and says so."""
    status = None
    if comm.rank == 0:
        unlock_output(start.lock)
        print(f"perc_mpi: interrupted by {signal.Signals(number).name} before the first job; nothing was "
              f"written ({start.path} is as it was)", file=sys.stderr)
        status = config.EXIT_INTERRUPTED if len(start.todo) else config.EXIT_OK
    return comm.bcast(status, root=0)


def nothing_left(comm: MPI.Comm, start: Start | None) -> int:
    """Return the status of a resumed sweep whose jobs are all done (0), the same on every
    rank; rank 0 leaves the file as it was -- its attributes still describe the session
    that ran the jobs -- and prints the outcome and the file's own summary as CSV."""
    if comm.rank == 0:
        unlock_output(start.lock)
        jobs = plural(int(np.count_nonzero(start.scope)), "job") + (f" of slice {start.slice_text}"
                                                                     if start.slice_text else "")
        print(f"perc_mpi: nothing to run: every one of the {jobs} in {start.path} is done; the file is left "
              "as it was", file=sys.stderr, flush=True)
        with h5py.File(start.path, "r") as f:
            summary = read_summary(f)
        with report.to_stdout():
            report.write_summary_csv(sys.stdout, sorted_rows(summary))
    return config.EXIT_OK


def decide(comm: MPI.Comm, decision: Callable[[], Any], shared: bool = True) -> Any:
    """Run ``decision()`` on rank 0 and return its value on every rank or, with
    ``shared=False``, on rank 0 only (None elsewhere: a large value the others do not
    need is not broadcast).

    An exception on rank 0 is raised on every rank (errors as values: no rank is left
    waiting for a broadcast that never comes): a ParameterError as it is, anything else
    as a RuntimeError naming it on the other ranks.
    """
    outcome = sent = None
    if comm.rank == 0:
        try:
            outcome = (True, decision())
        except Exception as exc:  # broadcast, then raised on every rank
            outcome = (False, exc)
        sent = _portable(outcome) if shared or not outcome[0] else (True, None)
    quiet_barrier(comm)
    ok, value = comm.bcast(sent, root=0)
    if comm.rank == 0:
        value = outcome[1]
    if ok:
        return value
    raise value


def _portable(outcome):
    """Return the outcome with any exception but a ParameterError replaced by a
    RuntimeError naming it (not every exception pickles)."""
    ok, value = outcome
    if ok or isinstance(value, ParameterError):
        return outcome
    return False, RuntimeError(f"rank 0 failed: {value!r}")


class Inbox:
    """Rank 0's side: every finished record and ring count, progress lines on stderr, a
    complete snapshot of the output file every ``snapshot_seconds`` (or, when writing
    takes long, 1 / config.SNAPSHOT_SHARE times the faster of the last two writes), and
    the answers to ranks that ask for held-back jobs."""

    def __init__(self, comm: MPI.Comm, start: Start, attrs: dict, snapshot_seconds: float,
                 reserve: Reserve, stop: StopRequest):
        self.comm, self.start, self.attrs = comm, start, attrs
        self.reserve, self.stop = reserve, stop
        self.answers: list[MPI.Request] = []
        self.runs, self.failures = start.runs, dict(start.failures)
        self.clusters = start.clusters
        self.rings = RingSums(start.plan.points, start.ring_sums)
        self.snapshot_seconds = self.snapshot_gap = snapshot_seconds
        self.done_ranks = self.finished = 0
        self.job_seconds = 0.0  # of the jobs finished in this session
        # Progress in estimated work, not jobs: the costliest jobs run first.
        # Each job's estimate once, not per batch (job_cost on one record: ~20 us).
        self.cost = np.zeros(len(start.runs))
        self.cost[start.todo["job"]] = job_cost(start.todo)
        self.work_total, self.work_done = float(self.cost.sum()), 0.0
        self.started = self.last_report = self.last_snapshot = time.monotonic()
        self.written = False  # whether this session has written a snapshot yet
        self.snapshot_count, self.snapshot_total = 0, 0.0  # this session's, and their seconds
        self.last_took = 0.0  # the last snapshot's seconds

    def take(self, records: np.ndarray, failures: dict[int, str], deltas: dict[int, np.ndarray],
             clusters: dict[int, bytes]) -> None:
        """Keep a batch; report progress and write a snapshot when it is time."""
        self.runs[records["job"]] = records
        if self.clusters is not None:
            self.clusters.update(clusters)
        for job in records["job"][records["status"] == DONE].tolist():
            self.failures.pop(job, None)  # a failed job retried successfully on resume
        self.failures.update(failures)
        for point, counts in deltas.items():
            self.rings.add(point, counts)
        self.finished += len(records)
        self.job_seconds += float(records["seconds"].sum())
        self.work_done += float(self.cost[records["job"]].sum())
        now = time.monotonic()
        if now - self.last_report >= config.PROGRESS_SECONDS:
            self.last_report = now
            elapsed, share = now - self.started, self.work_done / self.work_total if self.work_total else 1.0
            eta = elapsed * (1 - share) / share if share else float("inf")
            print(f"perc_mpi: {self.finished}/{len(self.start.todo)} jobs, {100 * share:.1f}% of the estimated "
                  f"work, {self.finished / elapsed:.1f} jobs/s, ETA {eta:.0f} s, {len(self.failures)} failed",
                  file=sys.stderr, flush=True)
        if now - self.last_snapshot >= self.snapshot_gap:
            self.snapshot()

    def snapshot(self) -> np.ndarray:
        """Write the output file as it stands now; return the summary."""
        began = time.monotonic()
        plan = self.start.plan
        summary, density = summarize(plan.points, self.runs, self.rings)
        self.attrs.update(progress(self.runs, self.start.scope),  # complete: of this file's slice
                          end_time=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        ring_sums = [self.rings.of(i) for i in range(len(plan.points))]
        try:
            write_snapshot(self.start.path, self.attrs, self.runs, summary, density, ring_sums, plan.points,
                           self.failures, self.clusters)
        except WriteError as exc:  # a full disk, a lost mount: no traceback, a bug it is not
            print(f"perc_mpi: error: {exc}. The file, if written before, is as its last complete write left "
                  "it; once the cause is fixed, --resume continues the sweep", file=sys.stderr, flush=True)
            unlock_output(self.start.lock)  # (ending at once: no lock file left behind)
            end_every_rank(self.comm, config.EXIT_ERROR)
        self.last_snapshot, self.written = time.monotonic(), True
        took = self.last_snapshot - began
        self.snapshot_count, self.snapshot_total = self.snapshot_count + 1, self.snapshot_total + took
        # A file of many points takes seconds to write (~1.4 ms of HDF5 objects a point):
        # spaced so that writing takes at most SNAPSHOT_SHARE of rank 0's time.  From the
        # faster of the last two writes: one slow by chance (a disk's hiccup) must not
        # stop the checkpoints for twenty times its length.
        self.snapshot_gap = max(self.snapshot_seconds, min(took, self.last_took) / config.SNAPSHOT_SHARE)
        self.last_took = took
        return summary

    def _receive(self, source: int) -> None:
        records, failures, deltas, clusters, done = self.comm.recv(source=source, tag=TAG_RESULTS)
        self.done_ranks += done
        self.take(records, failures, deltas, clusters)

    def poll(self) -> None:
        """Take every batch and answer every request that has already arrived, without
        blocking."""
        # Until two passes in a row find nothing: after a long job, MPICH's first probe
        # only moves its progress engine and reports messages long since arrived as
        # absent (measured: a rank's request then waited for another of rank 0's jobs).
        quiet = 0
        while quiet < 2:
            quiet = 0 if self._take_arrived() else quiet + 1

    def _take_arrived(self) -> bool:
        """Take the batches and answer the requests that one probe of each kind finds;
        return whether there were any."""
        status, found = MPI.Status(), False
        while self.comm.iprobe(source=MPI.ANY_SOURCE, tag=TAG_RESULTS, status=status):
            self._receive(status.Get_source())
            found = True
        while self.comm.iprobe(source=MPI.ANY_SOURCE, tag=TAG_REQUEST, status=status):
            source = status.Get_source()
            self.comm.recv(source=source, tag=TAG_REQUEST)
            # Nothing more once a stop is requested: the jobs held stay pending, for --resume.
            chunk = self.reserve.take_chunk() if not self.stop.requested else self.reserve.jobs[:0]
            # Not a blocking send: a large chunk would wait until the rank, busy in a job, receives it.
            self.answers.append(self.comm.isend(chunk, dest=source, tag=TAG_JOBS))
            found = True
        return found

    def wait_all(self) -> None:
        """Wait (sleeping between polls) until every other rank has sent its last batch."""
        pause = config.POLL_MIN_SECONDS
        while self.done_ranks < self.comm.size - 1:
            before = self.finished
            self.poll()
            pause = config.POLL_MIN_SECONDS if self.finished > before else min(2 * pause, config.POLL_MAX_SECONDS)
            time.sleep(pause)
        for answer in self.answers:  # every one was received before its rank's last batch was sent
            wait_quietly(answer)
        self.answers.clear()


class JobFeed:
    """A rank's jobs (a :class:`perc_mpi.plan.JobQueue`): its scattered share, then
    held-back ones -- on rank 0 taken from the reserve directly, one cheap job at a
    time; elsewhere asked of rank 0 a chunk at a time, one job ahead (the answer is
    given between rank 0's own jobs)."""

    def __init__(self, comm: MPI.Comm, share: np.ndarray, reserve: Reserve | None, stop: StopRequest):
        self.comm, self.reserve, self.stop = comm, reserve, stop
        self.queue = JobQueue(share)

    def next(self) -> np.void | None:
        """Return the next job to run, or None when none is left or a stop was requested."""
        if self.stop.requested:
            return None
        if self.reserve is not None:
            if not self.queue.left:
                self.queue.add(self.reserve.take_cheapest())
            return self.queue.pop()
        # (receive waits for the answer: never WAIT)
        return self.queue.next(self._answered, self._receive, self._ask)

    def close(self) -> None:
        """Receive the answer to a request still open (its jobs are not run: the feed is
        closed after a stop), so that no message is left behind."""
        if self.queue.asked:
            self.queue.take_answer(self._receive())

    def _answered(self) -> bool:
        return self.comm.iprobe(source=0, tag=TAG_JOBS)

    def _receive(self) -> np.ndarray:
        return receive_quietly(self.comm, 0, TAG_JOBS)

    def _ask(self) -> None:
        self.comm.send(None, dest=0, tag=TAG_REQUEST)


def run_share(comm: MPI.Comm, feed: JobFeed, inbox: Inbox | None, flush_seconds: float,
              save_clusters: bool) -> float:
    """Run this rank's jobs until done or stopped, streaming records and ring counts to
    rank 0 (or handing them to the inbox); return the wall seconds of the loop."""
    start = time.perf_counter()
    batch: list[np.void] = []
    failures: dict[int, str] = {}
    deltas: dict[int, np.ndarray] = {}
    clusters: dict[int, bytes] = {}
    request, last_send = None, time.monotonic()

    def flush(done: bool):
        nonlocal batch, failures, deltas, clusters, request, last_send
        payload = (np.array(batch, RECORD_DTYPE), failures, deltas, clusters)
        if inbox is not None:
            inbox.take(*payload)
        else:
            if request is not None:
                if not (done or request.Test()):
                    return  # rank 0, in a job of its own, has not taken the last batch: add to this one
                wait_quietly(request)
            request = comm.isend((*payload, done), dest=0, tag=TAG_RESULTS)
        batch, failures, deltas, clusters, last_send = [], {}, {}, {}, time.monotonic()

    while (job := feed.next()) is not None:
        outcome = run_job(job, comm.rank, save_clusters)
        batch.append(outcome.record)
        if outcome.cluster is not None:
            clusters[int(job["job"])] = outcome.cluster
        point = int(job["point"])
        if outcome.rings is not None:
            if point in deltas:
                deltas[point] += outcome.rings  # in place: a 2001 x 2001 point has 300 k rings
            else:
                deltas[point] = outcome.rings
        if outcome.error:
            failures[int(job["job"])] = outcome.error
        if inbox is not None:  # rank 0: takes what the others sent, answers their requests
            inbox.poll()
        # Rank 0 too keeps its records for a while: handing over each one (a batch of
        # one row) cost ~20 us a job, as much as a small grid's run.
        if time.monotonic() - last_send >= flush_seconds:
            flush(False)
    feed.close()
    flush(True)
    if request is not None:
        wait_quietly(request)
    return time.perf_counter() - start


def provenance(comm: MPI.Comm, start: Start | None, started: str) -> dict:
    """Return the root attributes of the output file (on rank 0; gathers host names)."""
    hosts = comm.gather(socket.gethostname(), root=0)
    if comm.rank != 0:
        return {}
    return {
        "sweep_json": start.earlier.get("sweep_json", start.sweep.text),  # a resume keeps the first text
        "sweep_seed": start.sweep.seed,
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
        "command": command_line(),
        "start_time": started,
        "sessions": start.sessions,
        "slice": start.slice_text,
        "save_clusters": start.clusters is not None,
        # Until this session ends (and sets it), the last session's figure: NaN for a new file.
        "overhead_seconds_per_job": start.earlier.get("overhead_seconds_per_job", np.nan),
        **{key: start.earlier[key] for key in ("merged_from",) if key in start.earlier},
    }


def run_sweep(comm: MPI.Comm, args: argparse.Namespace, data: dict, text: str, stop: StopRequest) -> int:
    """Run (or resume) a whole sweep on ``comm``, stopping early once ``stop`` (installed)
    is requested; return the exit status, the same on every rank."""
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    clock = {"start": time.monotonic()}
    n_ranks = args.ranks if args.dry_run and args.ranks else comm.size
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    ranks_per_node = node.size  # they share the node's memory
    node.Free()
    try:  # only rank 0 keeps the plan (and a resumed file's records, sums and masks)
        start = decide(comm, lambda: prepare(args, data, text, n_ranks, ranks_per_node), shared=False)
    except ParameterError as exc:
        if comm.rank == 0:
            print(f"perc_mpi: error: {exc}", file=sys.stderr)
        return config.EXIT_BAD_INPUT
    if args.dry_run:
        if comm.rank == 0:
            with report.to_stdout():
                print_plan(start, n_ranks)
        return config.EXIT_OK

    if comm.bcast(bool(start.earlier) and not len(start.todo) if comm.rank == 0 else None, root=0):
        return nothing_left(comm, start)  # a finished file --resumed
    if number := agreed_stop(comm, stop):  # a stop during the start-up: before any work
        return stopped_before_jobs(comm, start, number)
    attrs = provenance(comm, start, started)
    # Every kernel and ring table the sweep needs, on every rank (any rank may be handed
    # any held-back job).  Rank 0 compiles (or loads) the kernels first, so that ranks
    # never race to write the cache, while the others prime Numba; they load the kernels
    # while rank 0 writes the first snapshot.  Either way before the jobs, so that no
    # job's ``seconds`` includes it.
    needs = None
    if comm.rank == 0:
        needed = points_to_run(start)  # the points, not the jobs: a loop over 10 million jobs took 4.6 s
        needs = (kernel_kinds(needed), job_shapes(needed), start.clusters is not None)
    kinds, shapes, save_clusters = comm.bcast(needs, root=0)
    if comm.rank == 0:
        warm_up(kinds, shapes)
    else:
        prime_numba()  # meanwhile: no cache file written, so no race
    if number := agreed_stop(comm, stop):  # again: compiling the kernels can take seconds
        return stopped_before_jobs(comm, start, number)
    my_jobs = comm.scatter(shares(start.todo, start.ranks, comm.size) if comm.rank == 0 else None, root=0)
    inbox = reserve = None
    if comm.rank == 0:
        reserve = Reserve(start.todo[start.ranks == RESERVE], comm.size)
        partial_path(start.path).unlink(missing_ok=True)  # a snapshot a killed writer left half done
        inbox = Inbox(comm, start, attrs, config.SNAPSHOT_FRACTION * args.checkpoint, reserve, stop)
        if not stop.requested:  # (stopped now: the output stays as it was, see finish)
            inbox.snapshot()  # the file exists, readable, from the first second on
        _, imbalance = balance(start.todo, start.ranks, comm.size)
        print(f"perc_mpi: {len(start.todo)} of {plural(len(start.plan.jobs), 'job')} to run, "
              f"{plural(len(start.plan.points), 'point')}, {plural(comm.size, 'rank')} ({len(reserve)} held back "
              f"for ranks that run dry; expected imbalance {imbalance:.3f}), output {start.path}",
              file=sys.stderr, flush=True)
    else:
        warm_up(kinds, shapes)

    clock["jobs"] = time.monotonic()
    feed = JobFeed(comm, my_jobs, reserve, stop)
    # Often enough for the checkpoint and for current progress lines.
    flush_seconds = min(config.FLUSH_FRACTION * args.checkpoint, config.PROGRESS_SECONDS / 2)
    loop_seconds = run_share(comm, feed, inbox, flush_seconds, save_clusters)
    if inbox is not None:
        inbox.wait_all()
    quiet_barrier(comm)
    loop_seconds = comm.reduce(loop_seconds, op=MPI.SUM, root=0)
    interrupted = agreed_stop(comm, stop)
    stop.ignore()  # decided: the last snapshot and the exit status are not to be cut short now
    status = None
    if comm.rank == 0:
        clock["reduced"] = time.monotonic()
        status = finish(args, inbox, loop_seconds, clock, interrupted)
    quiet_barrier(comm)
    return comm.bcast(status, root=0)


def finish(args: argparse.Namespace, inbox: Inbox, loop_seconds: float, clock: dict, interrupted: int) -> int:
    """Rank 0: write the final snapshot; print the outcome (jobs done, timing, failures
    or how to resume) on stderr, then the CSV on stdout; return the exit status."""
    start, runs = inbox.start, inbox.runs
    left = len(start.todo) - inbox.finished  # this session's jobs not run (earlier failures included)
    # Stopped before any job finished: nothing to add, and the output (a --force one
    # too) stays as it was.
    untouched = bool(interrupted and left and not inbox.finished)
    if untouched:
        summary = None
        inbox.attrs.update(progress(runs, start.scope))
    else:
        if inbox.finished:  # else (nothing ran) the figure of the session that ran the jobs stands
            inbox.attrs["overhead_seconds_per_job"] = max(loop_seconds - inbox.job_seconds, 0.0) / inbox.finished
        summary = inbox.snapshot()
    unlock_output(start.lock)
    done, failed = inbox.attrs["jobs_done"], inbox.attrs["jobs_failed"]
    setup, jobs, write = (clock["jobs"] - clock["start"], clock["reduced"] - clock["jobs"],
                          time.monotonic() - clock["reduced"])
    in_scope = runs["status"][start.scope]  # this file's slice
    of_slice = (f" ({np.count_nonzero(in_scope == DONE)}/{len(in_scope)} of slice {start.slice_text})"
                if start.slice_text else "")
    if inbox.written or not untouched:  # (the first snapshot is written before any job runs)
        place = f"results in {start.path}"
    else:  # (a --force output too: stopped before this session wrote it, it stays as it was)
        place = f"{start.path} left as it was" if start.path.exists() else f"{start.path} not written"
    print(f"perc_mpi: {done}/{len(runs)} jobs done{of_slice}, {failed} failed, {place}\n"
          f"perc_mpi: timing: setup {setup:.2f} s, jobs {jobs:.2f} s, write {write:.2f} s; " +
          (f"driver overhead {1e6 * inbox.attrs['overhead_seconds_per_job']:.0f} us/job" if inbox.finished
           else "no jobs run") + f"; {plural(inbox.snapshot_count, 'snapshot')} written, {inbox.snapshot_total:.2f} s",
          file=sys.stderr)
    status = config.EXIT_OK
    if interrupted and left:  # (a stop during the last jobs changes nothing: every job has run)
        print(f"perc_mpi: interrupted by {signal.Signals(interrupted).name}; {plural(left, 'job')} left"
              f"{' in the slice' if start.slice_text else ''}"
              f"{' (nothing was written)' if untouched and not inbox.written else ''}. "
              f"Resume with: {resume_command(args, start.path, inbox.comm.size)}", file=sys.stderr)
        status = config.EXIT_INTERRUPTED
    elif failed:
        first = inbox.failures[min(inbox.failures)]
        print(f"perc_mpi: {plural(failed, 'job')} failed (see failures/ in {start.path}; --resume retries them); "
              f"the first:\n{first}", file=sys.stderr)
        status = config.EXIT_JOBS_FAILED
    # The outcome first: under mpirun, a reader that leaves the CSV early (`| head`) ends
    # mpiexec itself (SIGPIPE, status 141) and would take these lines with it.
    sys.stderr.flush()
    if summary is not None:
        with report.to_stdout():
            report.write_summary_csv(sys.stdout, sorted_rows(summary))
    return status


def main(args: argparse.Namespace, data: dict, text: str, stop: StopRequest) -> int:
    """Run a sweep under MPI (``COMM_WORLD``) with the installed ``stop``; return the exit
    status."""
    comm = MPI.COMM_WORLD
    if comm.size == 1 and (started := launcher_size()) > 1:
        # Each process its own one-rank sweep: they would fight over the output file.
        return fail(f"the launcher started {started} processes but MPI sees each alone (a world of one "
                    "rank): the launcher does not speak this MPI's start-up protocol -- under srun give "
                    "--mpi=pmix or pmi2 as your MPI was built (jobs/*.sbatch: PERC_SRUN_MPI), or use the "
                    "mpirun of the MPI that mpi4py was built with")
    stop.at_once = partial(abort_at_once, comm)
    try:
        return run_sweep(comm, args, data, text, stop)
    except BaseException as exc:
        # Python would end this rank alone (an exception, or sys.exit()) and leave the
        # others waiting for it for ever: end every rank.  Not from sys.excepthook:
        # h5py calls it for errors it then ignores (a failed close in a deallocation),
        # and it never runs for SystemExit.
        if comm.size > 1:
            if isinstance(exc, SystemExit):
                print(f"perc_mpi: rank {comm.rank}: exit({exc.code!r}) in the middle of the sweep", file=sys.stderr)
            else:
                traceback.print_exc()
            sys.stderr.flush()
            end_every_rank(comm, config.EXIT_ERROR)
        raise
    finally:
        stop.ignore()  # (already, after the jobs) the process is ending with its status
