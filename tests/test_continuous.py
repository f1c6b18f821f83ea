"""The continuous model: exact twin, laws, and the published values at small size."""

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest
from conftest import run_cli
from hypothesis import example, given, settings
from hypothesis import strategies as st
from naive import continuous_invasion

import perc_mpi
from perc_mpi import config, measures, results
from perc_mpi.parameters import ParameterError
from perc_mpi.records import FAILED
from perc_mpi.validate import FRACTAL_DIMENSION, P_C, step_position


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 30), st.integers(3, 30), st.integers(0, 2**63 - 1))
@example(21, 21, 32)  # fills two values >= 0.6 (the large heap: heapified, pushed, popped)
def test_kernel_equals_its_plain_twin(width, height, seed):
    result = perc_mpi.invade(width, height, "continuous", seed)
    order, values, drawn = continuous_invasion(width, height, seed)
    assert list(zip(result.fill_x.tolist(), result.fill_y.tolist())) == order
    assert result.fill_values.tolist() == values
    assert result.frontier_values.tolist() == drawn[1:]
    # every value in [0, 1), no ties, each fill the least frontier value (checked by the twin)
    assert 0 <= min(drawn) and max(drawn) < 1 and len(set(drawn)) == len(drawn)


def test_continuous_depth_is_accepted_and_checked():
    assert perc_mpi.invade(9, 9, "continuous", 1).params.depth == config.CONTINUOUS
    with pytest.raises(ParameterError, match="continuous"):
        perc_mpi.invade(9, 9, "continuous", 1, engine="original")
    with pytest.raises(ParameterError, match="expected an integer in 1..65535 or \"continuous\""):
        perc_mpi.invade(9, 9, "smooth", 1)


def test_acceptance_counts():
    seen, accepted = measures.acceptance_counts(np.array([0.05, 0.15, 0.95]), np.array([0.5, 0.05, 0.15]), 10)
    assert seen.tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    assert accepted.tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]  # the centre's 0.5 is not counted


def test_small_sweep_shows_the_published_laws(tmp_path):
    """The mass dimension and the acceptance step at small sizes, wide tolerances (fixed
    seed: no flakes). The full-size check is examples/validation.json (see the README)."""
    path = tmp_path / "val.json"
    path.write_text(json.dumps({"size": [33, 65, 129], "depth": ["continuous"], "runs": 60, "seed": 4}))
    proc = run_cli(path, mpi=2)
    assert proc.returncode == 0, proc.stderr
    sweep = results.open(tmp_path / "val.h5")
    dimension, error = sweep.mass_dimension()
    assert abs(dimension - FRACTAL_DIMENSION) < 0.15 and 0 < error < 0.1
    step = step_position(*sweep.acceptance(2))
    assert abs(step - P_C) < 0.05
    proc = run_cli("validate", tmp_path / "val.h5", "-o", tmp_path / "report")
    assert "mass dimension D" in proc.stdout and (tmp_path / "report" / "acceptance.png").exists()
    # A reader that leaves at once (`| head -1`): the same status, no traceback.
    early = subprocess.Popen([sys.executable, "-m", "perc_mpi", "validate", str(tmp_path / "val.h5"), "-o",
                              str(tmp_path / "report")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    early.stdout.close()
    stderr = early.stderr.read()
    assert early.wait(timeout=120) == proc.returncode and "Traceback" not in stderr, stderr
    radius, mass = sweep.mass_radius(2)
    assert mass[-1] == pytest.approx(sweep.summary["filled_mean"][2]) and np.all(np.diff(mass) >= 0)


def test_step_reading_of_a_perfect_step_has_the_documented_bias():
    # the README: "-0.0009 for a perfect step at p_c (which reads 0.5919)"
    edges = np.arange(config.ACCEPTANCE_BINS) / config.ACCEPTANCE_BINS
    width = 1 / config.ACCEPTANCE_BINS
    step = step_position(edges + width / 2, np.clip((P_C - edges) / width, 0, 1))
    assert round(step, 4) == 0.5919 and round(step - P_C, 4) == -0.0009


def test_validate_refuses_an_unfinished_sweep(tmp_path):
    path = tmp_path / "half.json"
    path.write_text(json.dumps({"size": [17, 33], "depth": "continuous", "runs": 1, "seed": 3}))
    assert run_cli(path, "--slice", "0/2").returncode == 0  # the 33 x 33 point has no run
    proc = run_cli("validate", tmp_path / "half.h5")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "no finished runs" in proc.stderr
    assert "merge the slices' parts" in proc.stderr  # a slice part: merging, not --resume, completes it
    with pytest.raises(ValueError, match="point 1 has no finished runs"):
        results.open(tmp_path / "half.h5").mass_dimension()
    with h5py.File(tmp_path / "half.h5", "r+") as f:  # the slice's own job of point 0 failed
        f["runs/status"][0] = FAILED
        f["summary/count"][0] = 0
        f.attrs["complete"] = False
    proc = run_cli("validate", tmp_path / "half.h5")  # advice per point: this one is the slice's own
    assert proc.returncode == 2 and "point 0 has no finished runs in this file; --resume its slice" in proc.stderr


def test_validate_uses_square_grids_only(tmp_path):
    # the published figures are for L x L; a 33 x 17 point once gave the "L = 33" step
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps({"width": [17, 33], "height": [17, 33], "depth": "continuous", "runs": 1, "seed": 1}))
    assert run_cli(path).returncode == 0
    proc = run_cli("validate", tmp_path / "mixed.h5", "-o", tmp_path / "report")
    assert proc.returncode == 3 and "too few runs for a verdict" in proc.stderr  # one run a size: no error for D
    sweep = results.open(tmp_path / "mixed.h5")
    step = step_position(*sweep.acceptance(3))  # point 3: 33 x 33
    assert f"acceptance step at L = 33: {step:.4f}" in proc.stdout
    assert "± nan" in proc.stdout  # one run per size: no bootstrap error, not a false 0
    assert "2 rectangular continuous-model points: left out" in proc.stderr
    page = (tmp_path / "report" / "validation.md").read_text()
    assert [line.split(" | ")[0] for line in page.splitlines() if line.startswith(("| 17 |", "| 33 |"))] == \
        ["| 17", "| 33"]  # one row per square size
    (tmp_path / "taken").write_text("")
    proc = run_cli("validate", tmp_path / "mixed.h5", "-o", tmp_path / "taken")  # refused before any figure
    assert proc.returncode == 2 and proc.stdout == "" and "report directory" in proc.stderr


@pytest.mark.parametrize("error, status", [(0.01, 0), (0.05, 3), (float("nan"), 3)])
def test_validate_gives_no_verdict_when_d_is_too_uncertain(monkeypatch, tmp_path, error, status):
    from types import SimpleNamespace

    from perc_mpi import validate

    figures = {"dimension": FRACTAL_DIMENSION, "dimension_error": error, "steps": np.array([P_C]),
               "sizes": np.array([65])}  # both figures spot on: only D's error decides
    monkeypatch.setattr(validate.results, "open", lambda path: SimpleNamespace(path=path))
    monkeypatch.setattr(validate, "measure", lambda sweep: figures)
    monkeypatch.setattr(validate, "caveats", lambda sweep: [])
    monkeypatch.setattr(validate, "write_report", lambda sweep, figures, directory: directory / "validation.md")
    assert validate.main([str(tmp_path / "v.h5"), "-o", str(tmp_path / "out")]) == status
