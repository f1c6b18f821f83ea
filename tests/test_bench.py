"""The benchmark suite runs (a smoke test: no timing is asserted)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_bench_quick_prints_every_figure(tmp_path):
    command = [sys.executable, "-m", "perc_mpi.bench", "--quick"]
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler:  # the C stick's rows too, where a C compiler is at hand
        stick = tmp_path / "ref_bucket"
        subprocess.run([compiler, "-O2", "-o", str(stick), str(ROOT / "benchmarks" / "ref_bucket.c")], check=True)
        command += ["--c-reference", str(stick)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for label in ("| fast |", "| original |", "| continuous model", "original / fast", "measures / run",
                  "peak RSS, one", "peak RSS, the rank of a one-job", "numba cache", "sweep.json",
                  "many small jobs", "strong scaling", "jobs phase"):
        assert label in proc.stdout, label
    if compiler:
        assert "| C bucket queue (-O2) |" in proc.stdout and "| fast / C |" in proc.stdout


def test_startup_probe_prints_every_phase():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "startup.py"), "--ranks", "1,2", "--reps", "1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for label in ("| import perc_mpi |", "| first barrier |", "| exit |", "| total, rank 0 |"):
        assert label in proc.stdout, label
    assert "| phase | -n 1 | -n 2 |" in proc.stdout


def test_replay_deals_as_the_driver_does():
    import numpy as np

    from perc_mpi.bench import replay
    from perc_mpi.parameters import parse_sweep
    from perc_mpi.plan import JOB_DTYPE, assign_ranks, build_plan, job_cost

    spec = {"size": [31, 61, 91], "depth": [2, 100], "runs": 20, "seed": 5}
    jobs = build_plan(parse_sweep(spec, "{}", "s.json")).jobs
    timed = np.zeros(len(jobs), JOB_DTYPE.descr + [("seconds", np.float64)])
    for name in JOB_DTYPE.names:
        timed[name] = jobs[name]
    # as estimated, give or take 30% (a cluster's size varies with its seed)
    timed["seconds"] = 1e-6 * job_cost(jobs) * np.random.default_rng(1).uniform(0.7, 1.3, len(jobs))
    ideal = timed["seconds"].sum()
    assert replay(timed, 1, 0.3, np.ones(1)) == pytest.approx(0, abs=1e-12)  # one rank: nothing to lose
    for n in (2, 5):  # all scattered: each rank runs exactly its share
        busy = np.bincount(assign_ranks(timed, n, 0.0), weights=timed["seconds"], minlength=n)
        scattered = replay(timed, n, 0.0, np.ones(n))
        assert scattered == pytest.approx(busy.max() / (ideal / n) - 1, abs=1e-12)
        assert 0 <= replay(timed, n, 0.3, np.ones(n)) < min(scattered, 0.05)  # held back: ranks end together
