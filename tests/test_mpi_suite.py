"""Run the pytest-mpi tests in tests/mpi under mpirun with 2 and 4 ranks, and check
that an uncaught exception on one rank ends the whole job instead of hanging it."""

import os
import subprocess
import sys
import time

import pytest
from conftest import BIN, ROOT


@pytest.mark.parametrize("ranks", [2, 4])
def test_mpi_suite(ranks, tmp_path):
    # The ranks' pytest sessions keep their temporary directories in this test's own
    # (TMPDIR): other pytest sessions on the machine rotate /tmp/pytest-of-USER, and
    # racing them left "(rm_rf) error removing ..." warnings in the ranks' output.
    proc = subprocess.run(
        [str(BIN / "mpirun"), "-n", str(ranks), sys.executable, "-m", "pytest", "--with-mpi", "-q",
         "-p", "no:cacheprovider", str(ROOT / "tests" / "mpi")],
        capture_output=True, text=True, timeout=150, cwd=ROOT, env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "passed" in proc.stdout and "skipped" not in proc.stdout.splitlines()[-1], proc.stdout[-2000:]


@pytest.mark.parametrize("failure, message", [
    ("raise RuntimeError('boom on rank 1')", "RuntimeError: boom on rank 1"),
    # no excepthook runs for SystemExit: rank 1 would finalize and rank 0 wait for ever
    ("sys.exit(7)", "rank 1: exit(7) in the middle of the sweep"),
])
def test_an_uncaught_exception_on_one_rank_ends_every_rank(tmp_path, failure, message):
    (tmp_path / "sweep.json").write_text('{"size": [31], "depth": [2], "runs": 8, "seed": 1}')
    script = (
        "import sys\n"
        "from mpi4py import MPI\n"
        "from perc_mpi import cli, driver\n"
        "def run_share(*args):\n"
        "    if MPI.COMM_WORLD.rank == 1:\n"
        f"        {failure}\n"
        "    return real(*args)  # rank 0 would wait for rank 1's results for ever\n"
        "real, driver.run_share = driver.run_share, run_share\n"
        "sys.exit(cli.main([sys.argv[1]]))\n"
    )
    start = time.monotonic()
    proc = subprocess.run([str(BIN / "mpirun"), "-n", "2", sys.executable, "-c", script, str(tmp_path / "sweep.json")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
    assert time.monotonic() - start < 30
