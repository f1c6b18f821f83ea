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
                  "peak RSS", "numba cache", "sweep.json", "strong scaling", "jobs phase"):
        assert label in proc.stdout, label
    if compiler:
        assert "| C bucket queue (-O2) |" in proc.stdout and "| fast / C |" in proc.stdout


def test_timeline_splits_the_ranks_time_into_busy_and_idle(tmp_path):
    import h5py
    import numpy as np

    from perc_mpi.bench import _timeline

    # rank 0: jobs at 10-12 and 13-16; rank 1: one job at 11-14; rank 2 runs nothing.
    path = tmp_path / "timed.h5"
    with h5py.File(path, "w") as f:
        f.attrs["mpi_size"] = 3
        for name, values in {"job": [0, 1, 2], "point": [0, 0, 0], "width": [5] * 3, "height": [5] * 3,
                             "depth": [2] * 3, "engine": [b"fast"] * 3, "seed": [1, 2, 3], "rank": [0, 1, 0],
                             "started": [10.0, 11.0, 13.0], "seconds": [2.0, 3.0, 3.0]}.items():
            f[f"runs/{name}"] = np.array(values)
    timed, shares, span = _timeline(str(path))
    assert timed["seconds"].tolist() == [2.0, 3.0, 3.0]
    assert span == 6.0
    whole = 3 * span  # three ranks over 10..16
    assert shares == {"busy": 8 / whole, "at_start": (0 + 1 + 6) / whole, "between": 1 / whole,
                      "at_end": (0 + 2 + 0) / whole}
    assert sum(shares.values()) == pytest.approx(1)
