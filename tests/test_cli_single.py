"""One run from the command line, as a user types it."""

import json

import pytest
from conftest import run_cli
from naive import original_invasion

import perc_mpi
from perc_mpi.report import draw_grid


def test_standalone_example_draws_the_grid(examples):
    proc = run_cli(examples / "standalone.json")
    assert proc.returncode == 0, proc.stderr
    spec = json.loads((examples / "standalone.json").read_text())
    result = perc_mpi.invade(spec["width"], spec["height"], spec["depth"], spec["seed"])
    assert proc.stdout == draw_grid(result.filled)
    lines = proc.stdout.splitlines()
    assert len(lines) == spec["height"] and all(len(line) == spec["width"] for line in lines)
    assert f"filled {result.n_filled} " in proc.stderr and f"seed {spec['seed']}" in proc.stderr


def test_drawing_is_the_originals_save_grid(tmp_path):
    spec = {"width": 13, "height": 9, "depth": 4, "seed": 99, "engine": "original"}
    (tmp_path / "run.json").write_text(json.dumps(spec))
    proc = run_cli(tmp_path / "run.json", tmp_path / "grid.txt")
    assert proc.returncode == 0, proc.stderr
    mask, _, _ = original_invasion(13, 9, 4, 99)
    expected = "".join(
        "".join("X" if mask[x, y] else "." for x in range(13)) + "\n" for y in range(8, -1, -1)
    )
    assert (tmp_path / "grid.txt").read_text() == expected
    assert proc.stdout == ""


def test_null_seed_is_drawn_and_reported(tmp_path):
    (tmp_path / "run.json").write_text('{"width": 9, "height": 9, "depth": 3, "seed": null}')
    proc = run_cli(tmp_path / "run.json")
    assert proc.returncode == 0 and "seed " in proc.stderr


BAD = [
    ("missing.json", None, "no such file"),
    ("run.json", "{not json", "invalid JSON"),
    ("run.json", "[1, 2]", "expected a JSON object"),
    ("run.json", '{"width": 9, "height": 9}', "'depth': missing"),
    ("run.json", '{"width": 9, "heigth": 9, "depth": 2}', "did you mean 'height'"),
    ("run.json", '{"width": "9", "height": 9, "depth": 2}', "'width': expected an integer"),
    ("run.json", '{"width": 2, "height": 9, "depth": 2}', "'width': expected an integer in 3.."),
    ("run.json", '{"width": 9, "height": 9, "depth": 0}', "'depth'"),
    ("run.json", '{"width": 9, "height": 9, "depth": 2, "engine": "x"}', "'engine'"),
    ("run.json", '{"width": 9, "height": 9, "depth": 2, "seed": -5}', "'seed'"),
    ("run.json", '{"width": 2000000, "height": 2000000, "depth": 2}', "cells"),
    ("run.json", '{"width": 40000, "height": 40000, "depth": 2}', "GiB"),
]


@pytest.mark.parametrize("name, text, message", BAD)
def test_bad_input_one_line_status_2(tmp_path, name, text, message):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    proc = run_cli(path, env={"PERC_MPI_MEMORY_LIMIT": str(2**30)})
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert message in proc.stderr and str(path) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_reader_leaving_early_ends_the_drawing_quietly(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "run.json"
    path.write_text(json.dumps({"width": 401, "height": 401, "depth": 2, "seed": 5}))  # 160 kB: more than a pipe holds
    proc = subprocess.Popen([sys.executable, "-m", "perc_mpi", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # as `| head -1` does once it has its line
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and "Traceback" not in stderr and "filled " in stderr


def test_drawing_takes_about_two_bytes_a_cell():
    # the text and its array, no wider temporaries: a where/astype/concatenate/tobytes
    # chain once peaked at 11 bytes a cell, past the memory check of a 10001 x 10001 run
    import tracemalloc

    import numpy as np

    filled = np.random.default_rng(0).random((1000, 700)) < 0.3
    tracemalloc.start()
    drawing = draw_grid(filled)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2.2 * filled.size
    rows = drawing.splitlines()
    assert len(rows) == 700 and rows[0] == "".join("X" if v else "." for v in filled[:, -1])
