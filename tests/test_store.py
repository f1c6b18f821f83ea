"""The HDF5 file without MPI: a snapshot written and read back, and the checks on paths."""

import json

import h5py
import numpy as np
import pytest

from perc_mpi import jobs, store
from perc_mpi.aggregate import RingSums, summarize
from perc_mpi.parameters import ParameterError, parse_sweep
from perc_mpi.plan import build_plan
from perc_mpi.records import DONE, FAILED, pending_records

SPEC = {"size": [9, 13], "depth": [3, "continuous"], "runs": 3, "seed": 2024}


def a_sweep_half_done():
    """Return (plan, attrs, runs, rings, failures, clusters): jobs 0, 1, 3, 4, 6, 10 done
    (masks kept for 0 and 6), job 5 failed, the rest pending."""
    text = json.dumps(SPEC)
    plan = build_plan(parse_sweep(SPEC, text, "spec"))
    runs, rings = pending_records(plan.jobs), RingSums(plan.points)
    clusters = {}
    for job in (0, 1, 3, 4, 6, 10):
        outcome = jobs.run_job(plan.jobs[job], rank=job % 2, save_cluster=job in (0, 6))
        runs[job] = outcome.record
        rings.add(int(plan.jobs[job]["point"]), outcome.rings)
        if outcome.cluster is not None:
            clusters[job] = outcome.cluster
    runs[5]["status"], runs[5]["rank"] = FAILED, 1
    attrs = {"sweep_json": text, "sweep_seed": SPEC["seed"], "format_version": 1}
    return plan, attrs, runs, rings, {5: "job 5 on rank 1: MemoryError"}, clusters


def write(path, plan, attrs, runs, rings, failures, clusters):
    summary, density = summarize(plan.points, runs, rings)
    sums = [rings.of(i) for i in range(len(plan.points))]
    return store.write_snapshot(path, attrs, runs, summary, density, sums, plan.points, failures, clusters), summary


def test_a_snapshot_reads_back_as_written(tmp_path):
    plan, attrs, runs, rings, failures, clusters = a_sweep_half_done()
    path, summary = write(tmp_path / "s.h5", plan, attrs, runs, rings, failures, clusters)
    assert not store.partial_path(path).exists()
    back = store.read_snapshot(path)
    assert back.runs.dtype == runs.dtype and back.runs.tobytes() == runs.tobytes()  # NaNs included
    assert back.failures == failures and back.clusters == clusters
    assert back.attrs["sweep_json"] == attrs["sweep_json"] and back.attrs["sweep_seed"] == SPEC["seed"]
    assert len(back.ring_sums) == len(plan.points)
    for i, sums in enumerate(back.ring_sums):
        np.testing.assert_array_equal(sums, rings.of(i))  # the continuous points' acceptance bins too
    with h5py.File(path) as f:
        assert store.read_summary(f).tobytes() == summary.tobytes()
        # Points of 3 jobs each: 0 1 (2) | 3 4, 5 failed | 6 | 10
        assert f["summary/count"][()].tolist() == [2, 2, 1, 1]
        assert f["summary/failed"][()].tolist() == [0, 1, 0, 0]
    assert store.recorded_sweep(back.attrs, "s.h5") == parse_sweep(SPEC, attrs["sweep_json"], "spec")


def test_a_new_snapshot_replaces_the_old_whole(tmp_path):
    plan, attrs, runs, rings, failures, clusters = a_sweep_half_done()
    path, _ = write(tmp_path / "s.h5", plan, attrs, runs, rings, failures, clusters)
    runs[2]["status"] = DONE  # (a record by hand: the file keeps what it is given)
    write(path, plan, attrs, runs, rings, {}, {})
    back = store.read_snapshot(path)
    assert back.runs["status"][2] == DONE and back.failures == {} and back.clusters == {}


def test_a_failed_write_leaves_the_last_snapshot_and_no_partial_file(tmp_path, monkeypatch):
    plan, attrs, runs, rings, failures, clusters = a_sweep_half_done()
    path, _ = write(tmp_path / "s.h5", plan, attrs, runs, rings, failures, clusters)
    before = path.read_bytes()

    def full_disk(partial, *args):
        partial.write_bytes(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "_write_file", full_disk)
    with pytest.raises(store.WriteError, match="No space left on device"):
        write(path, plan, attrs, runs, rings, failures, clusters)
    assert path.read_bytes() == before and not store.partial_path(path).exists()


def test_output_paths_are_checked_before_any_work(tmp_path):
    with pytest.raises(ParameterError, match="a directory"):
        store.snapshot_target(tmp_path)
    with pytest.raises(ParameterError, match="directory does not exist"):
        store.snapshot_target(tmp_path / "missing" / "s.h5")
    link = tmp_path / "link.h5"
    link.symlink_to(tmp_path / "real.h5")  # a link to a file not there yet: its target is replaced
    assert store.snapshot_target(link) == tmp_path / "real.h5"


def test_inputs_that_are_no_sweep_file_are_named(tmp_path):
    with pytest.raises(FileNotFoundError):
        store.read_attrs(tmp_path / "none.h5")
    (tmp_path / "sweep.json").write_text(json.dumps(SPEC))
    with pytest.raises(OSError, match="a sweep's JSON"):
        store.read_attrs(tmp_path / "sweep.json")
    with pytest.raises(OSError, match="not a regular file"):
        store.read_snapshot(tmp_path)
