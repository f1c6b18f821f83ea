"""Bad sweep input: one line from rank 0, status 2, nothing written -- at any rank count."""

import json

import pytest
from conftest import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from perc_mpi.parameters import ParameterError, parse_run, parse_sweep, run_memory

GOOD = {"size": [9, 11], "depth": [2, 5], "runs": 2, "seed": 7}

BAD = [
    ({"sizes": [9]}, "did you mean 'size'"),
    ({"dept": [2]}, "did you mean 'depth'"),
    ({"run": 2}, "did you mean 'runs'"),
    ({"bogus": 1}, "allowed keys"),
    ({"size": []}, "'size': empty list"),
    ({"depth": []}, "'depth': empty list"),
    ({"size": [9, "11"]}, "'size'[1]: expected an integer"),
    ({"size": [9, 11.0]}, "'size'[1]: expected an integer"),
    ({"size": [9, True]}, "'size'[1]: expected an integer"),
    ({"size": [2]}, "'size'[0]: expected an integer in 3.."),
    ({"size": [9, 9]}, "listed twice"),
    ({"depth": [0]}, "'depth'[0]"),
    ({"depth": [70000]}, "in 1..65535"),
    ({"depth": "deep"}, "'depth': expected an integer"),
    ({"runs": 0}, "'runs'"),
    ({"runs": 2.5}, "'runs'"),
    ({"runs": [2]}, "'runs'"),
    ({"seed": -1}, "'seed'"),
    ({"seed": 2**63}, "'seed'"),
    ({"seed": "abc"}, "'seed'"),
    ({"engine": "quick"}, "'engine'"),
    ({"engine": []}, "'engine': empty list"),
    ({"size": [40000], "runs": 2}, "GiB"),
    ({"runs": 10_000_000}, "jobs; at most"),
    ({"size": None}, "'size': expected an integer"),
]


def write(tmp_path, text):
    path = tmp_path / "sweep.json"
    path.write_text(text)
    return path


@pytest.mark.parametrize("change, message", BAD)
def test_bad_sweep_under_mpirun(tmp_path, change, message):
    path = write(tmp_path, json.dumps({**GOOD, **change}))
    proc = run_cli(path, mpi=2, env={"PERC_MPI_MEMORY_LIMIT": str(2**30)})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(path) in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.json"]


@pytest.mark.parametrize(
    "text, message",
    [('{"size": [9], "depth": [2], "runs": 2, "runs": 3}', "'runs': key given twice"),
     ('{"size": [9], "depth": [2], "runs": 2,}', "invalid JSON"),
     ("", "invalid JSON")],
)
def test_bad_json_under_mpirun(tmp_path, text, message):
    proc = run_cli(write(tmp_path, text), mpi=2)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr


def test_unwritable_output_directory(tmp_path):
    path = write(tmp_path, json.dumps(GOOD))
    proc = run_cli(path, "-o", tmp_path / "no" / "such" / "dir.h5", mpi=2)
    assert proc.returncode == 2 and "output directory does not exist" in proc.stderr


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
keys = st.sampled_from(["size", "width", "height", "depth", "runs", "seed", "engine", "sede"])


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(keys, json_values, max_size=7))
def test_parser_fuzz_raises_only_parameter_error(data):
    for parse in (lambda: parse_sweep(data, "{}", "fuzz.json", memory=2**30),
                  lambda: parse_run(data, "fuzz.json", memory=2**30)):
        try:
            parse()
        except ParameterError as exc:
            assert str(exc).startswith("fuzz.json")


def test_memory_check_knows_dense_runs_need_more():
    # A depth-2 run fills most of its grid and needs ~3x what a depth-100 run does
    # (measured peaks of 10001 x 10001 runs: config.RUN_BYTES).
    sparse = {"size": [10001], "depth": [100], "runs": 1, "seed": 1}
    memory = int(1.5 * run_memory(10001, 10001, 100, "fast"))
    parse_sweep(sparse, "{}", "s.json", memory=memory)
    with pytest.raises(ParameterError, match="fast engine at depth 2;"):
        parse_sweep({**sparse, "depth": [100, 2]}, "{}", "s.json", memory=memory)
    with pytest.raises(ParameterError, match="to each of 2 ranks"):
        parse_sweep(sparse, "{}", "s.json", memory=memory, ranks_per_node=2)
    continuous = {"width": 10001, "height": 10001, "depth": "continuous"}
    with pytest.raises(ParameterError, match="continuous model;"):
        parse_run(continuous, "r.json", memory=int(run_memory(10001, 10001, 0, "fast") / 1.5))
    assert run_memory(10001, 10001, 2, "fast") > 2.5 * run_memory(10001, 10001, 100, "fast")


BAD_OPTIONS = [
    (("--checkpoint", "0"), "--checkpoint"),
    (("--slice", "3/2"), "--slice"),
    (("--slice", "x"), "INDEX/COUNT"),
    (("--dry-run", "--ranks", "0"), "--ranks"),
]


@pytest.mark.parametrize("option, message", BAD_OPTIONS)
def test_bad_options(tmp_path, option, message):
    proc = run_cli(write(tmp_path, json.dumps(GOOD)), *option, mpi=2)
    assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
