"""The benchmark suite runs (a smoke test: no timing is asserted)."""

import subprocess
import sys


def test_bench_quick_prints_every_figure():
    proc = subprocess.run([sys.executable, "-m", "perc_mpi.bench", "--quick"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    for label in ("| fast |", "| original |", "measures / run", "peak RSS", "numba cache", "sweep.json",
                  "strong scaling"):
        assert label in proc.stdout, label
