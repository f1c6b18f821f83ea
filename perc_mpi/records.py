"""A job's record, one row of the output file's ``runs/`` table: its job's parameters,
then its status and results; no engine, no MPI (the reading side -- store, aggregate,
merge -- needs the schema, not the kernels)."""

from __future__ import annotations

import numpy as np

from .plan import JOB_COLUMNS, JOB_DTYPE

# A job's state in ``runs/status``.
PENDING, DONE, FAILED = 0, 1, 2

# The record's columns: the job's, then its status and results; (name, dtype, unit,
# description), as the file's runs/ datasets carry them.
RECORD_COLUMNS = JOB_COLUMNS + (
    ("status", np.uint8, "", "0 pending, 1 done, 2 failed"),
    ("filled", np.int64, "cells", "filled cells; -1 unless done"),
    ("dimension", np.float64, "", "box-counting dimension; NaN unless done"),
    ("rank", np.int32, "", "MPI rank that ran the job; -1 if not run"),
    ("started", np.float64, "s", "Unix time at which the run began; NaN if not run"),
    ("seconds", np.float64, "s", "wall time of the run and its measures; NaN if not run"),
)
RECORD_DTYPE = np.dtype([(name, dtype) for name, dtype, _, _ in RECORD_COLUMNS])


def progress(runs: np.ndarray, scope: np.ndarray | None = None) -> dict:
    """Return the file's progress attributes: jobs_total, jobs_done, jobs_failed and
    complete (every job in ``scope``, all jobs by default, is done)."""
    status = runs["status"]
    in_scope = status if scope is None else status[scope]
    return {"jobs_total": len(runs), "jobs_done": int(np.count_nonzero(status == DONE)),
            "jobs_failed": int(np.count_nonzero(status == FAILED)), "complete": bool(np.all(in_scope == DONE))}


def pending_records(jobs: np.ndarray) -> np.ndarray:
    """Return one PENDING record per job (results not yet known)."""
    records = np.zeros(len(jobs), RECORD_DTYPE)
    for name in JOB_DTYPE.names:
        records[name] = jobs[name]
    records["filled"], records["rank"] = -1, -1
    records["dimension"] = records["started"] = records["seconds"] = np.nan
    return records
