"""Run the pytest-mpi tests in tests/mpi under mpirun with 2 and 4 ranks, and check
that an uncaught exception on one rank ends the whole job instead of hanging it."""

import subprocess
import sys
import time

import pytest
from conftest import BIN, ROOT


@pytest.mark.parametrize("ranks", [2, 4])
def test_mpi_suite(ranks):
    proc = subprocess.run(
        [str(BIN / "mpirun"), "-n", str(ranks), sys.executable, "-m", "pytest", "--with-mpi", "-q",
         "-p", "no:cacheprovider", str(ROOT / "tests" / "mpi")],
        capture_output=True, text=True, timeout=150, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "passed" in proc.stdout and "skipped" not in proc.stdout.splitlines()[-1], proc.stdout[-2000:]


def test_uncaught_exception_on_one_rank_aborts_all():
    script = (
        "from mpi4py import MPI\n"
        "from perc_mpi.driver import install_abort_hook\n"
        "comm = MPI.COMM_WORLD\n"
        "install_abort_hook(comm)\n"
        "if comm.rank == 1:\n"
        "    raise RuntimeError('boom on rank 1')\n"
        "comm.barrier()  # rank 0 would wait here forever without the hook\n"
    )
    start = time.monotonic()
    proc = subprocess.run([str(BIN / "mpirun"), "-n", "2", sys.executable, "-c", script],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "boom on rank 1" in proc.stderr
    assert time.monotonic() - start < 30
