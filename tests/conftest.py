"""Shared test helpers."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the venv's bin: python, mpirun


def run_cli(*args, mpi=0, cwd=None, timeout=120, env=None):
    """Run ``python -m perc_mpi`` (under ``mpirun -n mpi`` when mpi > 0); return CompletedProcess."""
    command = [sys.executable, "-m", "perc_mpi", *map(str, args)]
    if mpi:
        command = [str(BIN / "mpirun"), "-n", str(mpi), *command]
    full_env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=timeout, env=full_env)


@pytest.fixture
def examples():
    """Return the path of the shipped example files."""
    return ROOT / "examples"


def read_h5(path):
    """Return {"attrs": dict, "runs": {col: array}, "summary": {col: array}} of a sweep file."""
    import h5py

    with h5py.File(path, "r") as f:
        return {
            "attrs": dict(f.attrs),
            "runs": {k: v[()] for k, v in f["runs"].items()},
            "summary": {k: v[()] for k, v in f["summary"].items()},
            "density": {k: (g["distance"][()], g["fraction"][()]) for k, g in f["density"].items()},
            "failures": {k: v[()] for k, v in f["failures"].items()},
        }


# Columns that differ between two runs of the same sweep (who ran a job, when, how long).
VARYING = {"rank", "started", "seconds", "seconds_mean"}


def assert_same_results(got, expected):
    """Assert that two read_h5 files hold the same complete results, VARYING aside."""
    import numpy as np

    for group in ("runs", "summary"):
        for column, values in expected[group].items():
            if column not in VARYING:
                np.testing.assert_array_equal(got[group][column], values, err_msg=f"{group}/{column}")
    for point, (_, fraction) in expected["density"].items():
        np.testing.assert_array_equal(got["density"][point][1], fraction)
    assert got["attrs"]["complete"] and got["attrs"]["jobs_done"] == len(expected["runs"]["job"])


def parse_csv(text):
    """Return the CSV summary as a list of dicts."""
    import csv
    import io

    return list(csv.DictReader(io.StringIO(text)))


def pytest_ignore_collect(collection_path, config):
    """tests/mpi runs under mpirun (tests/test_mpi_suite.py starts it), not in the serial run."""
    if collection_path.name == "mpi" and collection_path.parent == ROOT / "tests":
        return not config.getoption("with_mpi", default=False)
    return None
