"""The benchmark suite runs (a smoke test: no timing is asserted)."""

import shutil
import subprocess
import sys
from pathlib import Path

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

