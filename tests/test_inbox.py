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


def test_one_poll_takes_every_message_that_has_arrived(tmp_path):
    path = tmp_path / "sweep.json"
    spec = {"size": [9], "depth": [2], "runs": 6, "seed": 1}
    path.write_text(json.dumps(spec))
    args = argparse.Namespace(file=str(path), output=str(tmp_path / "sweep.h5"), dry_run=False, ranks=None,
                              force=False, resume=False, checkpoint=30.0, slice=None, save_clusters=False)
    start = session.prepare(args, spec, json.dumps(spec), 2, 1)
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
