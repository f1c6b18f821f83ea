"""Rank 0's inbox without mpirun: a stand-in communicator whose first probe after a
long job reports nothing, as MPICH's does (measured with the mpich wheel: messages long
since arrived are seen only by the second probe)."""

import argparse
import json

from mpi4py import MPI

from perc_mpi import driver, session
from perc_mpi.plan import Reserve
from perc_mpi.records import DONE, pending_records
from perc_mpi.stop import StopRequest
from perc_mpi.store import unlock_output


class FirstProbeMisses:
    """Messages queued for rank 0 from rank 1; the first probe after :meth:`long_job`
    misses them; sends are recorded."""

    size, rank = 2, 0

    def __init__(self):
        self.queue, self.sent, self.fresh = [], [], False

    def long_job(self):
        self.fresh = True

    def iprobe(self, source, tag, status):
        if self.fresh:
            self.fresh = False
            return False
        if any(t == tag for t, _ in self.queue):
            status.Set_source(1)
            return True
        return False

    def recv(self, source, tag):
        index = next(i for i, (t, _) in enumerate(self.queue) if t == tag)
        return self.queue.pop(index)[1]

    def isend(self, payload, dest, tag):
        self.sent.append((dest, tag, payload))
        return MPI.REQUEST_NULL


def session_start(tmp_path):
    """Return the session :class:`perc_mpi.session.Start` of a 6-job sweep on 2 ranks
    (its output locked: unlock_output(start.lock) when done)."""
    path = tmp_path / "sweep.json"
    spec = {"size": [9], "depth": [2], "runs": 6, "seed": 1}
    path.write_text(json.dumps(spec))
    args = argparse.Namespace(file=str(path), output=str(tmp_path / "sweep.h5"), dry_run=False, ranks=None,
                              force=False, resume=False, checkpoint=30.0, slice=None, save_clusters=False)
    return session.prepare(args, spec, json.dumps(spec), 2, 1)


def test_one_poll_takes_every_message_that_has_arrived(tmp_path):
    start = session_start(tmp_path)
    comm = FirstProbeMisses()
    inbox = driver.Inbox(comm, start, {}, 1e9, Reserve(start.todo, 2), StopRequest())
    records = pending_records(start.todo[:2])
    records["status"], records["rank"] = DONE, 1
    comm.queue += [(driver.TAG_RESULTS, (records, {}, {}, {}, False)), (driver.TAG_REQUEST, None)]
    comm.long_job()  # rank 0 comes back from a job of its own
    inbox.poll()
    assert inbox.finished == 2 and not comm.queue  # the results taken, not left for its next job
    assert [(dest, tag) for dest, tag, _ in comm.sent] == [(1, driver.TAG_JOBS)]  # the request answered
    unlock_output(start.lock)


def test_slow_snapshots_are_spaced_by_their_write_time(tmp_path, monkeypatch):
    """A sweep of thousands of points takes seconds a snapshot: they come at most
    SNAPSHOT_SHARE of rank 0's time, not every two thirds of --checkpoint."""
    import time

    start = session_start(tmp_path)
    # --checkpoint's spacing 0.1 s: a fast write (~0.1 ms) spaces them by --checkpoint up to 5 ms.
    inbox = driver.Inbox(FirstProbeMisses(), start, {}, 0.1, Reserve(start.todo, 2), StopRequest())
    write_seconds = 0.2
    monkeypatch.setattr(driver, "write_snapshot", lambda *args: time.sleep(write_seconds))
    inbox.snapshot()
    assert inbox.snapshot_gap == 0.1  # one slow write may be a disk's hiccup: spaced as usual
    inbox.snapshot()
    assert inbox.snapshot_gap >= write_seconds / driver.config.SNAPSHOT_SHARE  # two in a row: spaced out
    written = []
    monkeypatch.setattr(driver, "write_snapshot", lambda *args: written.append(1))
    records = pending_records(start.todo[:1])
    records["status"], records["rank"] = DONE, 1
    time.sleep(0.15)  # past --checkpoint's spacing (0.1 s), within the slow one's (4 s)
    inbox.take(records, {}, {}, {})
    assert not written
    inbox.snapshot()  # a fast write: the spacing comes back to --checkpoint's
    assert inbox.snapshot_gap == 0.1
    unlock_output(start.lock)


class AnswersAtOnce:
    """Rank 1's view of rank 0: each request is answered with the next chunk at once."""

    rank, size = 1, 2

    def __init__(self, chunks):
        self.chunks, self.requests, self.answer = list(chunks), 0, None

    def send(self, payload, dest, tag):
        self.requests += 1
        self.answer = self.chunks.pop(0)

    def iprobe(self, source, tag):
        return self.answer is not None

    def recv(self, source, tag):
        answer, self.answer = self.answer, None
        return answer


def test_a_job_feed_runs_its_share_then_the_chunks_it_asks_for(tmp_path):
    """In order, asking one job ahead, until rank 0 answers with an empty chunk; the
    jobs are kept as arrays (a row each as a Python object took 70 bytes a job more)."""
    jobs = session_start(tmp_path).plan.jobs
    comm = AnswersAtOnce([jobs[3:5], jobs[5:5], jobs[5:6]])  # the last one is never asked for
    feed = driver.JobFeed(comm, jobs[:3], None, StopRequest())
    assert all(isinstance(chunk, type(jobs)) for chunk in feed.queue.chunks)
    taken = []
    while (job := feed.next()) is not None:
        taken.append(int(job["job"]))
        if taken == [0, 1, 2]:  # asked while taking its last job: the answer comes during that job
            assert comm.requests == 1 and comm.answer is not None
    assert taken == [0, 1, 2, 3, 4] and comm.requests == 2 and feed.queue.dry


def test_a_stop_before_any_job_finished_says_whether_the_file_was_written(tmp_path, capsys):
    """Stopped after the start line, before any job finished: before the first snapshot
    the output was not written (no "results in" it); after it, it was."""
    import signal
    import time

    start = session_start(tmp_path)
    stop = StopRequest()
    inbox = driver.Inbox(FirstProbeMisses(), start, {}, 30.0, Reserve(start.todo, 2), stop)
    args = argparse.Namespace(file=start.path.with_suffix(".json").name, slice=None, checkpoint=30.0)
    now = time.monotonic()
    status = driver.finish(args, inbox, 0.0, {"start": now, "jobs": now, "reduced": now}, signal.SIGINT)
    err = capsys.readouterr().err
    assert status == driver.config.EXIT_INTERRUPTED and not start.path.exists()
    assert f"0/6 jobs done, 0 failed, {start.path} not written" in err and "results in" not in err
    assert "6 jobs left (nothing was written)" in err
    inbox.snapshot()  # stopped after the first snapshot: the file is this session's
    driver.finish(args, inbox, 0.0, {"start": now, "jobs": now, "reduced": now}, signal.SIGINT)
    err = capsys.readouterr().err
    assert f"0/6 jobs done, 0 failed, results in {start.path}" in err and "nothing was written" not in err
