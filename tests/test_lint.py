"""The code base is ruff-clean (part of the test command, so CI enforces it)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]' installs it)")
    proc = subprocess.run([ruff, "check", str(ROOT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_print_in_kernels():
    """Kernels only loop and fill: no I/O (stumpy's check_print)."""
    for name in ("_fast.py", "_original.py", "_continuous.py", "measures.py", "engine.py"):
        assert "print(" not in (ROOT / "perc_mpi" / name).read_text(), name
