"""The sweep from the command line, under mpirun, as a user runs it."""

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import VARYING, parse_csv, read_h5, run_cli
from naive import original_flow_table

ORIGINAL_COLUMNS = ["size", "depth", "count", "dimension", "density_x", "density_k"]


def write_sweep(tmp_path, **spec):
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(spec))
    return path


@pytest.mark.parametrize("example, seed", [("short.json", None), ("sweep.json", None),
                                           ("short.json", -4242)])  # the original takes any int
def test_original_engine_reproduces_the_original_flow(tmp_path, examples, example, seed):
    spec = json.loads((examples / example).read_text())
    spec["seed"] = spec["seed"] if seed is None else seed
    path = write_sweep(tmp_path, **spec, engine="original")
    proc = run_cli(path, mpi=2)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith(",".join(ORIGINAL_COLUMNS) + ",")
    rows = parse_csv(proc.stdout)
    expected = original_flow_table(spec["size"], spec["depth"], spec["runs"], spec["seed"])
    assert [(int(r["size"]), int(r["depth"])) for r in rows] == list(expected)
    for row in rows:
        count, dimension, density_x, density_k = expected[int(row["size"]), int(row["depth"])]
        assert int(row["count"]) == count
        np.testing.assert_allclose(
            [float(row["dimension"]), float(row["density_x"]), float(row["density_k"])],
            [dimension, density_x, density_k], rtol=1e-12, atol=1e-14,
        )


def test_same_results_for_any_rank_count(tmp_path):
    path = write_sweep(tmp_path, size=[15, 31], depth=[2, 7], runs=5, seed=4242)
    results = []
    for n in (1, 2, 3, 4):
        out = tmp_path / f"n{n}.h5"
        proc = run_cli(path, "-o", out, mpi=n)
        assert proc.returncode == 0, proc.stderr
        results.append(read_h5(out))
    first = results[0]
    assert sorted(np.unique(results[3]["runs"]["rank"]).tolist()) == [0, 1, 2, 3]
    for other in results[1:]:
        for column, values in first["runs"].items():
            if column not in VARYING:
                np.testing.assert_array_equal(other["runs"][column], values, err_msg=column)
        for column, values in first["summary"].items():  # bit for bit: sums in job order
            if column != "seconds_mean":
                np.testing.assert_array_equal(other["summary"][column], values, err_msg=column)


def test_output_file_layout(tmp_path):
    path = write_sweep(tmp_path, size=[9, 13], depth=[3], runs=4, seed=None)
    proc = run_cli(path, mpi=2)
    assert proc.returncode == 0, proc.stderr
    data = read_h5(tmp_path / "sweep.h5")
    attrs = data["attrs"]
    assert json.loads(attrs["sweep_json"])["seed"] is None
    assert 0 <= attrs["sweep_seed"] < 2**63 and attrs["mpi_size"] == 2
    for key in ("perc_mpi_version", "numpy_version", "h5py_version", "mpi_library", "start_time", "end_time", "hosts"):
        assert key in attrs
    runs = data["runs"]
    for column in ("job", "width", "height", "depth", "seed", "filled", "dimension", "rank", "started", "seconds"):
        assert len(runs[column]) == 8
    assert runs["job"].tolist() == list(range(8))
    assert set(data["summary"]) >= set(ORIGINAL_COLUMNS) | {"dimension_stderr", "filled_mean"}
    assert len(data["density"]) == 2
    distance, fraction = data["density"]["point_00000"]
    assert distance[0] == 0 and fraction[0] == 1.0  # the centre is always filled
    rows = parse_csv(proc.stdout)
    assert [r["count"] for r in rows] == ["4", "4"]


def test_rectangular_and_engine_axes(tmp_path):
    path = write_sweep(tmp_path, width=[9, 15], height=7, depth=[2, 4], engine=["fast", "original"], runs=2, seed=3)
    proc = run_cli(path, mpi=2)
    assert proc.returncode == 0, proc.stderr
    rows = parse_csv(proc.stdout)
    assert len(rows) == 8 and all(r["size"] == "" for r in rows)
    assert [(r["width"], r["depth"], r["engine"]) for r in rows][:3] == [("9", "2", "fast"), ("9", "2", "original"),
                                                                          ("9", "4", "fast")]


def test_rows_of_square_and_rectangular_grids_sort_by_width_then_height(tmp_path):
    path = write_sweep(tmp_path, width=[21, 41], height=[21, 31], depth=3, runs=1, seed=4)
    proc = run_cli(path)
    assert proc.returncode == 0, proc.stderr
    rows = parse_csv(proc.stdout)
    assert [(r["width"], r["height"], r["size"]) for r in rows] == [("21", "21", "21"), ("21", "31", ""),
                                                                    ("41", "21", ""), ("41", "31", "")]


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path, examples):
    proc = run_cli(examples / "sweep.json", "--dry-run", "--ranks", "4", "-o", tmp_path / "x.h5")
    assert proc.returncode == 0, proc.stderr
    assert "90 jobs, 9 parameter points, 4 ranks" in proc.stdout
    assert "expected imbalance" in proc.stdout
    assert not (tmp_path / "x.h5").exists() and "note" not in proc.stderr
    (tmp_path / "x.h5").write_bytes(b"an earlier sweep")  # the plan, and what would stop the sweep
    proc = run_cli(examples / "sweep.json", "--dry-run", "-o", tmp_path / "x.h5")
    assert proc.returncode == 0 and "90 jobs" in proc.stdout
    assert "note: without --dry-run the sweep would stop here" in proc.stderr and "output exists" in proc.stderr
    proc = run_cli(examples / "sweep.json", "--dry-run", "-o", tmp_path / "none" / "x.h5")
    assert proc.returncode == 0 and "output directory does not exist" in proc.stderr


def test_dry_run_plans_for_nodes_other_than_this_one(tmp_path):
    # a login node plans a sweep too large for its own memory, and draws no seed for it
    path = write_sweep(tmp_path, size=[8001], depth=[2], runs=2)
    limit = {"PERC_MPI_MEMORY_LIMIT": "100M"}
    proc = run_cli(path, "--dry-run", "--ranks", "2", env=limit)
    assert proc.returncode == 0, proc.stderr
    assert "sweep seed drawn when the sweep runs" in proc.stdout
    assert "per rank for the largest run (8001x8001, depth 2, fast)" in proc.stdout
    refused = run_cli(path, env=limit)
    assert refused.returncode == 2 and "8001x8001 grid needs about" in refused.stderr


def test_dry_run_plans_continuous_points_by_cost(tmp_path, examples):
    # depth 0 (continuous) once divided by zero: infinite costs, NaN shares, no balance
    proc = run_cli(examples / "validation.json", "--dry-run", "--ranks", "4", "-o", tmp_path / "x.h5")
    assert proc.returncode == 0, proc.stderr
    imbalance = float(proc.stdout.split("expected imbalance (max/mean work):")[1].splitlines()[0])
    assert 1.0 <= imbalance < 1.05


def test_existing_output_needs_force(tmp_path):
    path = write_sweep(tmp_path, size=[7], depth=[2], runs=2, seed=1)
    (tmp_path / "sweep.h5").write_text("precious")
    proc = run_cli(path, mpi=2)
    assert proc.returncode == 2 and "--force" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert (tmp_path / "sweep.h5").read_text() == "precious"
    assert run_cli(path, "--force", mpi=2).returncode == 0


BAD_SWEEPS = [
    ({"size": [9], "depth": [2], "runs": 2, "sede": 1}, "did you mean 'seed'"),
    ({"size": [], "depth": [2], "runs": 2}, "'size': empty list"),
    ({"size": [9, 2], "depth": [2], "runs": 2}, "'size'[1]"),
    ({"size": [9], "depth": [2], "runs": 0}, "'runs'"),
    ({"size": [9], "depth": [2.5], "runs": 2}, "'depth'[0]"),
    ({"depth": [2], "runs": 2}, "'size': missing"),
    ({"size": [9], "width": [9], "depth": [2], "runs": 2}, "not both"),
    ({"size": [9], "depth": [2], "runs": 2, "engine": "turbo"}, "'engine'"),
]


def test_processes_that_mpi_sees_alone_are_refused(tmp_path):
    """srun with an MPI plugin the MPI does not speak starts N one-rank worlds: N sweeps
    of the same output.  Each is refused, the error printed once.  What is typed in a
    shell of such a step (srun -n 2 --pty bash) runs alone on purpose: it runs."""
    path = write_sweep(tmp_path, size=[9], depth=[2], runs=2, seed=1)
    step = {"SLURM_STEP_NUM_TASKS": "2", "PMI_SIZE": "", "OMPI_COMM_WORLD_SIZE": ""}
    slurmstepd = tmp_path / "slurmstepd"  # a parent process of srun's daemon's name
    slurmstepd.symlink_to(shutil.which("bash"))
    for task, says in (("0", True), ("1", False)):
        command = f"{shlex.quote(sys.executable)} -m perc_mpi {shlex.quote(str(path))}; exit $?"
        proc = subprocess.run([str(slurmstepd), "-c", command], capture_output=True, text=True, timeout=120,
                              env={**os.environ, **step, "SLURM_PROCID": task})
        assert proc.returncode == 2 and ("MPI sees each alone" in proc.stderr) == says, proc.stderr
        assert proc.stderr.count("\n") == says
    assert not list(tmp_path.glob("*.h5*"))
    proc = run_cli(path, env={**step, "SLURM_PROCID": "0"})  # from a shell, not from srun
    assert proc.returncode == 0, proc.stderr


def test_the_resume_command_uses_the_launcher_at_hand(tmp_path, monkeypatch):
    import argparse

    from perc_mpi import session

    args = argparse.Namespace(file="sweep.json", slice=None, checkpoint=30.0)
    monkeypatch.setattr(session, "launcher", lambda: None)  # from a shell, or mpirun
    words = shlex.split(session.resume_command(args, tmp_path / "out put.h5", 4))
    assert words[0] == str(Path(sys.executable).parent / "mpirun") and words[1:3] == ["-n", "4"]
    assert words[-3:] == ["--resume", "-o", str(tmp_path / "out put.h5")]
    monkeypatch.setattr(session, "launcher", lambda: "srun")  # srun, with the plugin it used
    monkeypatch.setenv("SLURM_MPI_TYPE", "pmi2")
    assert session.resume_command(args, tmp_path / "o.h5", 4).split()[:4] == ["srun", "--mpi=pmi2", "-n", "4"]


@pytest.mark.parametrize("spec, message", BAD_SWEEPS)
def test_bad_sweep_one_line_from_rank_0(tmp_path, spec, message):
    path = write_sweep(tmp_path, **spec)
    proc = run_cli(path, mpi=2)
    assert proc.returncode == 2
    assert proc.stderr.count("error") == 1 and message in proc.stderr, proc.stderr
    assert not list(tmp_path.glob("*.h5*"))


def test_missing_sweep_file_one_line(tmp_path):
    proc = run_cli(tmp_path / "nope.json", mpi=2)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_slices_merge_to_the_single_run_and_refuse_overlap(tmp_path):
    path = write_sweep(tmp_path, size=[9, 15], depth=[3], runs=5, seed=77)
    for i in range(2):
        assert run_cli(path, "--slice", f"{i}/2", "-o", tmp_path / f"part{i}.h5", mpi=2).returncode == 0
    single = run_cli(path, "-o", tmp_path / "single.h5", mpi=2)
    proc = run_cli("merge", tmp_path / "merged.h5", tmp_path / "part0.h5", tmp_path / "part1.h5")
    assert proc.returncode == 0, proc.stderr
    assert [r["dimension"] for r in parse_csv(proc.stdout)] == [r["dimension"] for r in parse_csv(single.stdout)]
    merged, one = read_h5(tmp_path / "merged.h5"), read_h5(tmp_path / "single.h5")
    for group in ("runs", "summary"):
        for column, values in one[group].items():
            if column not in VARYING:
                np.testing.assert_array_equal(merged[group][column], values, err_msg=column)
    twice = run_cli("merge", tmp_path / "again.h5", tmp_path / "part0.h5", tmp_path / "part0.h5")
    assert twice.returncode == 2 and "part given twice" in twice.stderr
    shutil.copy(tmp_path / "part0.h5", tmp_path / "copy0.h5")
    overlap = run_cli("merge", tmp_path / "again.h5", tmp_path / "part0.h5", tmp_path / "copy0.h5")
    assert overlap.returncode == 2 and "overlap" in overlap.stderr
    absent = run_cli("merge", tmp_path / "again.h5", tmp_path / "part0.h5", tmp_path / "part9.h5")
    assert absent.returncode == 2 and "part9.h5: no such file" in absent.stderr
    other = write_sweep(tmp_path, size=[9, 15], depth=[3], runs=6, seed=77)
    assert run_cli(other, "--slice", "1/2", "-o", tmp_path / "other1.h5").returncode == 0
    mixed = run_cli("merge", tmp_path / "again.h5", tmp_path / "part0.h5", tmp_path / "other1.h5")
    assert mixed.returncode == 2 and "not a part of the same sweep (runs:" in mixed.stderr
    directory = run_cli("merge", tmp_path, tmp_path / "part0.h5", tmp_path / "part1.h5")  # not "use --force"
    assert directory.returncode == 2 and "output is a directory" in directory.stderr


def test_a_merged_file_describes_the_merge(tmp_path):
    import h5py

    from perc_mpi import results

    path = write_sweep(tmp_path, size=[9], depth=[3], runs=4, seed=8)
    for i in range(2):
        assert run_cli(path, "--slice", f"{i}/2", "-o", tmp_path / f"part{i}.h5").returncode == 0
    assert run_cli("merge", tmp_path / "merged.h5", tmp_path / "part0.h5", tmp_path / "part1.h5").returncode == 0
    merged, part = read_h5(tmp_path / "merged.h5")["attrs"], read_h5(tmp_path / "part1.h5")["attrs"]
    assert "merge" in merged["command"] and "--slice" not in merged["command"]
    assert merged["end_time"] >= part["end_time"] and merged["sessions"] == 2
    assert np.isfinite(merged["overhead_seconds_per_job"])
    with pytest.raises(ValueError, match="merged file"):
        results.open(tmp_path / "merged.h5").rank_time()
    results.open(tmp_path / "part1.h5").rank_time()  # a part's own timeline
    # A part whose recorded sweep is damaged: one line, for merge and for --resume alike.
    shutil.copy(tmp_path / "part1.h5", tmp_path / "damaged.h5")
    with h5py.File(tmp_path / "damaged.h5", "r+") as f:
        f.attrs["sweep_json"] = "[1, 2]"
    proc = run_cli("merge", tmp_path / "again.h5", tmp_path / "part0.h5", tmp_path / "damaged.h5")
    assert proc.returncode == 2 and "recorded sweep is missing or damaged" in proc.stderr, proc.stderr
    proc = run_cli(path, "--slice", "1/2", "-o", tmp_path / "damaged.h5", "--resume")
    assert proc.returncode == 2 and "recorded sweep is missing or damaged" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_a_part_resumed_from_the_sweep_written_differently_still_merges(tmp_path):
    path = write_sweep(tmp_path, size=[9, 15], depth=[3], runs=3, seed=5)
    for i in range(2):
        assert run_cli(path, "--slice", f"{i}/2", "-o", tmp_path / f"part{i}.h5").returncode == 0
    # The same sweep, keys reordered and the default engine written out: part 1 resumes.
    path.write_text(json.dumps({"seed": 5, "engine": "fast", "runs": 3, "depth": [3], "size": [9, 15]}))
    assert run_cli(path, "--slice", "1/2", "-o", tmp_path / "part1.h5", "--resume").returncode == 0
    proc = run_cli("merge", tmp_path / "merged.h5", tmp_path / "part0.h5", tmp_path / "part1.h5")
    assert proc.returncode == 0, proc.stderr
    missing = run_cli("merge", tmp_path / "half.h5", tmp_path / "part0.h5")
    assert missing.returncode == 3 and "missing" in missing.stderr
    assert read_h5(tmp_path / "half.h5")["attrs"]["complete"] == False  # noqa: E712
