"""jobs/*.sbatch under a real SLURM (a one-node cluster on localhost that
tests/slurm/start-slurm.sh installs and starts; skipped only where it cannot)."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import BIN, ROOT, assert_same_results, read_h5, run_cli


@pytest.fixture(scope="module")
def slurm():
    """Start SLURM (installing it if needed); skip with the reason where impossible."""
    if os.geteuid() != 0 and not shutil.which("sinfo"):
        pytest.skip("SLURM is not installed and installing it needs root")
    proc = subprocess.run(["bash", str(ROOT / "tests" / "slurm" / "start-slurm.sh")], capture_output=True,
                          text=True, timeout=600)
    if proc.returncode != 0:
        pytest.skip(f"SLURM could not be started here: {proc.stderr.strip()[-300:]}")
    # Not the HDF5_USE_FILE_LOCKING that importing perc_mpi set in this process: the
    # scripts must work in a user's environment, which does not have it.
    env = {k: v for k, v in os.environ.items() if k != "HDF5_USE_FILE_LOCKING"}
    return {**env, "PERC_PYTHON": sys.executable, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def sbatch(env, cwd, *args) -> str:
    out = subprocess.run(["sbatch", "--parsable", *map(str, args)], cwd=cwd, env=env, capture_output=True,
                         text=True, check=True)
    return out.stdout.strip().split(";")[0]


def state(job: str) -> tuple[str, str]:
    """Return (state, reason) of a job or array ('' when it has left the queue)."""
    out = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T|%r"], capture_output=True, text=True)
    line = out.stdout.strip().splitlines()
    return tuple(line[0].split("|")) if line else ("", "")


def wait_gone(job: str, timeout: float, on_pending=None) -> None:
    deadline = time.monotonic() + timeout
    while state(job)[0]:
        if on_pending and state(job) == ("PENDING", "BeginTime"):
            on_pending()
        assert time.monotonic() < deadline, f"job {job} still queued: {state(job)}"
        time.sleep(1)


def reference(tmp_path, spec):
    directory = tmp_path / "reference"
    directory.mkdir()
    (directory / "sweep.json").write_text(json.dumps(spec))
    proc = run_cli(directory / "sweep.json", mpi=2, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return read_h5(directory / "sweep.h5")


def jobs_done(path: Path) -> int:
    import h5py

    try:
        with h5py.File(path) as f:
            return int(f.attrs["jobs_done"])
    except (OSError, KeyError):
        return 0


def test_sweep_sbatch_survives_the_wall_time(slurm, tmp_path):
    spec = {"size": [1001], "depth": [2], "runs": 600, "seed": 99}
    (tmp_path / "sweep.json").write_text(json.dumps(spec))
    # mpirun inside the allocation: on this one-node test cluster, srun's pmi2 plugin
    # fails the MPI_Finalize fence of a requeued step ("failed to send temp kvs");
    # srun itself is tested by the array test below.
    env = {**slurm, "PERC_CHECKPOINT": "1", "PERC_LAUNCHER": "mpirun"}
    job = sbatch(env, tmp_path, "--ntasks=2", "--time=00:02:00",
                 "--signal=B:USR1@60", ROOT / "jobs" / "sweep.sbatch", "sweep.json")
    # SLURM's --signal timer has a granularity of up to a minute; to test the same path
    # without waiting for it, send what `--signal=B:USR1` sends -- USR1 to the batch
    # shell -- once the sweep is under way.
    deadline = time.monotonic() + 120
    while jobs_done(tmp_path / "sweep.h5") < 50:
        assert time.monotonic() < deadline and state(job)[0], "the sweep did not start"
        time.sleep(0.5)
    subprocess.run(["scancel", "--batch", "--signal=USR1", job], check=True)

    def next_segment():
        # SLURM holds a requeued job for two minutes; start it now, with room to finish --
        # but not before the old segment's clean-up on the node is over, or slurmctld
        # kills the new one ("Job credential revoked").
        time.sleep(3)
        subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now", "TimeLimit=00:05:00"], check=True)

    wait_gone(job, 300, on_pending=next_segment)
    log = (tmp_path / f"perc_mpi-{job}.log").read_text()
    assert "stop signal, checkpointing" in log and "requeueing job" in log, log
    assert "interrupted by SIGUSR1" in log and "finished with status 0" in log, log
    result = read_h5(tmp_path / "sweep.h5")
    assert result["attrs"]["sessions"] >= 2
    assert_same_results(result, reference(tmp_path, spec))


def test_scancel_stops_the_sweep_for_good_and_keeps_its_file(slurm, tmp_path):
    """scancel sends TERM to the batch shell and to the tasks: the script must not pass
    on a second signal (the tasks would stop at once) nor requeue the job."""
    spec = {"size": [1001], "depth": [2], "runs": 600, "seed": 7}
    (tmp_path / "sweep.json").write_text(json.dumps(spec))
    env = {**slurm, "PERC_CHECKPOINT": "1", "PERC_LAUNCHER": "mpirun"}
    job = sbatch(env, tmp_path, "--ntasks=2", "--time=00:05:00", ROOT / "jobs" / "sweep.sbatch", "sweep.json")
    deadline = time.monotonic() + 120
    while jobs_done(tmp_path / "sweep.h5") < 20:
        assert time.monotonic() < deadline and state(job)[0], "the sweep did not start"
        time.sleep(0.5)
    subprocess.run(["scancel", job], check=True)
    wait_gone(job, 120)  # a requeued job would stay queued
    log = (tmp_path / f"perc_mpi-{job}.log").read_text()
    assert "cancelled (TERM)" in log and "interrupted by SIGTERM" in log, log
    assert "requeueing" not in log and "second stop signal" not in log, log
    assert read_h5(tmp_path / "sweep.h5")["attrs"]["jobs_done"] >= 20


def test_array_and_merge_equal_a_single_job(slurm, tmp_path):
    spec = {"size": [31, 61], "depth": [2, 10], "runs": 6, "seed": 2024}
    (tmp_path / "sweep.json").write_text(json.dumps(spec))
    env = {**slurm, "PERC_SRUN_MPI": "pmi2"}  # srun, the default launcher, with the plugin MPICH speaks
    array = sbatch(env, tmp_path, "--array=0-2", "--ntasks=1", ROOT / "jobs" / "array.sbatch", "sweep.json", "parts")
    merge = sbatch(env, tmp_path, f"--dependency=afterany:{array}", ROOT / "jobs" / "merge.sbatch", "merged.h5",
                   "parts")
    wait_gone(array, 300)
    wait_gone(merge, 120)
    assert sorted(p.name for p in (tmp_path / "parts").iterdir()) == ["part-0.h5", "part-1.h5", "part-2.h5"]
    for i in range(3):
        part = read_h5(tmp_path / "parts" / f"part-{i}.h5")
        assert part["attrs"]["slice"] == f"{i}/3"
        done = np.flatnonzero(part["runs"]["status"] == 1)
        assert np.all(done % 3 == i) and len(done) == 8  # a disjoint, reproducible slice
    merged = read_h5(tmp_path / "merged.h5")
    assert_same_results(merged, reference(tmp_path, spec))
    log = (tmp_path / f"perc_mpi-merge-{merge}.log").read_text()
    assert log.startswith("size,depth,count,dimension,density_x,density_k")



def test_a_launch_that_mpi_does_not_join_stops_with_one_message(slurm, tmp_path):
    """srun with an MPI plugin that is not the MPI's (here: none, this cluster's default):
    each task is a world of one rank.  They must not each run the sweep."""
    (tmp_path / "sweep.json").write_text(json.dumps({"size": [31], "depth": [2], "runs": 4, "seed": 1}))
    job = sbatch(slurm, tmp_path, "--ntasks=2", ROOT / "jobs" / "sweep.sbatch", "sweep.json")
    wait_gone(job, 120)
    log = (tmp_path / f"perc_mpi-{job}.log").read_text()
    # 2, or 143 when --kill-on-bad-exit ends task 0 after task 1's exit (a race)
    assert log.count("MPI sees each alone") == 1, log
    assert re.search(r"finished with status (2|143),", log), log
    assert not (tmp_path / "sweep.h5").exists()


def test_a_segment_that_finishes_no_job_is_not_requeued(slurm, tmp_path):
    """A job longer than the segment (--time shorter than a job): USR1 comes while the
    first jobs are in flight, then the limit's TERM stops them at once.  No job finished,
    so the script must not requeue (it would requeue itself forever)."""
    spec = {"size": [5001], "depth": [2], "runs": 2, "seed": 5}  # each job takes seconds
    (tmp_path / "sweep.json").write_text(json.dumps(spec))
    env = {**slurm, "PERC_CHECKPOINT": "1", "PERC_LAUNCHER": "mpirun"}
    job = sbatch(env, tmp_path, "--ntasks=2", "--time=00:05:00", ROOT / "jobs" / "sweep.sbatch", "sweep.json")
    deadline = time.monotonic() + 120
    while not (tmp_path / "sweep.h5").exists():  # written just before the first jobs start
        assert time.monotonic() < deadline and state(job)[0], "the sweep did not start"
        time.sleep(0.05)
    subprocess.run(["scancel", "--batch", "--signal=USR1", job], check=True)  # what --signal=B:USR1 sends
    time.sleep(0.5)
    subprocess.run(["scancel", "--full", "--signal=TERM", job], check=True)  # what the time limit sends first
    wait_gone(job, 120)  # a requeued job would stay queued
    log = (tmp_path / f"perc_mpi-{job}.log").read_text()
    assert "stop signal, checkpointing" in log and "stopped at once" in log, log
    assert "not resumed: no job finished" in log and "requeueing" not in log, log
    assert jobs_done(tmp_path / "sweep.h5") == 0


@pytest.mark.parametrize("script, variable", [("sweep.sbatch", "OUTPUT"), ("array.sbatch", "PART")])
def test_the_scripts_read_the_progress_of_a_file_locked_by_another_process(tmp_path, script, variable):
    """On NFS/Lustre HDF5's own file locking fails; here another process's lock stands in
    for it. The scripts' count must not read 0 (it would stop a sweep from resuming)."""
    import fcntl

    spec = {"size": [9], "depth": [2], "runs": 3, "seed": 1}
    (tmp_path / "sweep.json").write_text(json.dumps(spec))
    assert run_cli(tmp_path / "sweep.json").returncode == 0
    text = (ROOT / "jobs" / script).read_text()
    function = text[text.index("jobs_done() {"):]
    function = function[: function.index("\n}\n") + 3]
    with open(tmp_path / "sweep.h5", "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # what HDF5's locking takes (and fails on there)
        env = {k: v for k, v in os.environ.items() if k != "HDF5_USE_FILE_LOCKING"}  # as a user's shell has it
        out = subprocess.run(["bash", "-c", f"{function}\njobs_done"], capture_output=True, text=True,
                             env={**env, "PYTHON": sys.executable, variable: str(tmp_path / "sweep.h5")})
    assert out.stdout.strip() == "3", out


def test_the_scripts_run_the_venv_of_the_submit_directory_by_default(tmp_path):
    """The README's set-up makes .venv in the checkout; a job submitted from there runs
    its Python without PERC_PYTHON (the system's python3 has no perc_mpi)."""
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("no .venv in the checkout (the README's set-up makes one)")
    (tmp_path / "part-0.h5").write_text("not a part")
    env = {k: v for k, v in os.environ.items() if k != "PERC_PYTHON"}
    proc = subprocess.run(["bash", str(ROOT / "jobs" / "merge.sbatch"), "out.h5", str(tmp_path)], cwd=tmp_path,
                          env={**env, "SLURM_SUBMIT_DIR": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "perc_mpi: error:" in proc.stderr and "not an HDF5 file" in proc.stderr, proc.stderr
