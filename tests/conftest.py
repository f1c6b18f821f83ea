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
