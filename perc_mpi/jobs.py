"""One job of a sweep: run the engine, take the measures, return a record (errors as values)."""

from __future__ import annotations

import socket
import time
import traceback
import zlib
from dataclasses import dataclass

import numpy as np

from . import config, engine, measures
from .parameters import RunParams
from .records import DONE, FAILED, RECORD_DTYPE


@dataclass
class JobOutcome:
    """A finished job: its record and its point's summed-vector contribution (filled
    cells per distance ring, see :func:`perc_mpi.measures.ring_counts`, then the
    continuous model's acceptance bins), or the error that stopped it."""

    record: np.void
    rings: np.ndarray | None
    error: str | None = None
    cluster: bytes | None = None  # the packed, compressed mask (see pack_cluster)


def pack_cluster(filled: np.ndarray) -> bytes:
    """Return a mask bit-packed (``np.packbits`` of the C-order [x, y] array) and
    zlib-compressed: exactly one chunk of HDF5's gzip filter, written as it is."""
    return zlib.compress(np.packbits(filled, axis=None).tobytes(), config.CLUSTER_COMPRESSION)


def unpack_cluster(packed: np.ndarray, width: int, height: int) -> np.ndarray:
    """Return the boolean mask [x, y] of a bit-packed row (as stored in clusters/)."""
    return np.unpackbits(packed, count=width * height).astype(bool).reshape(width, height)


def params_of(job: np.void) -> RunParams:
    """Return the :class:`RunParams` of one row of a plan's jobs."""
    return RunParams(int(job["width"]), int(job["height"]), int(job["depth"]), int(job["seed"]),
                     job["engine"].decode())


def summed_vector(result: engine.InvasionResult) -> np.ndarray:
    """Return a run's part of its point's summed vector: filled cells per distance ring
    (see :func:`perc_mpi.measures.ring_counts`), then, for the continuous model, the
    acceptance bins (see :func:`perc_mpi.aggregate.sums_length`)."""
    rings = measures.ring_counts(*result.measure_args)
    if result.frontier_values is None:
        return rings
    return np.concatenate([rings, *measures.acceptance_counts(result.frontier_values, result.fill_values,
                                                              config.ACCEPTANCE_BINS)])


def run_job(job: np.void, rank: int, save_cluster: bool = False) -> JobOutcome:
    """Run one job and return its :class:`JobOutcome` (with the packed mask when
    ``save_cluster``); an exception becomes ``error`` (job, rank, host and traceback),
    so one bad job never stops a sweep."""
    # Unix time (one clock on a node, NTP-close across nodes): with ``seconds`` and
    # ``rank`` it draws each rank's timeline, its idle gaps included.
    started = time.time()
    start = time.perf_counter()
    try:
        params = params_of(job)
        result = engine.run(params)
        dimension = measures.box_dimension(*result.measure_args)
        rings = summed_vector(result)
        cluster = pack_cluster(result.filled) if save_cluster else None
        status, filled, error = DONE, result.n_filled, None
    except (Exception, SystemExit):  # recorded with its traceback, reported by rank 0
        # (SystemExit too: a library's sys.exit() would otherwise end this rank alone.)
        status, filled, dimension, rings, cluster = FAILED, -1, np.nan, None, None  # as pending: -1, NaN
        error = f"job {int(job['job'])} on rank {rank} ({socket.gethostname()}):\n{traceback.format_exc()}"
    seconds = time.perf_counter() - start
    # One tuple, not a pending record and six field writes (each ~1 us: a tenth of a
    # small grid's job).
    record = np.array((*job.item(), status, filled, dimension, rank, started, seconds), RECORD_DTYPE)[()]
    return JobOutcome(record, rings, error, cluster)
