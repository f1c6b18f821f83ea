"""Bad sweep input: one line from rank 0, status 2, nothing written -- at any rank count."""

import json
import os

import numpy as np
import pytest
from conftest import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from perc_mpi import parameters
from perc_mpi.parameters import (
    ParameterError,
    available_memory,
    cgroup_memory_limits,
    kept_memory,
    memory_budget,
    memory_size,
    parse_run,
    parse_sweep,
    read_json,
    resident_bytes,
    run_memory,
    sweep_differences,
)

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
    ({"depth": [0]}, "'depth'[0]: expected an integer in 1..65535 or \"continuous\", got 0"),
    ({"depth": [70000]}, "in 1..65535"),
    ({"depth": "deep"}, "'depth': expected an integer"),
    ({"runs": 0}, "'runs'"),
    ({"runs": 2.5}, "'runs'"),
    ({"runs": [2]}, "'runs'"),
    ({"seed": -(2**63) - 1}, "'seed'"),
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
    _, rank_zero = kept_memory(parse_sweep(sparse, "{}", "s.json"))  # records, summed profiles
    memory = int(1.2 * (run_memory(10001, 10001, 100, "fast") + rank_zero))
    parse_sweep(sparse, "{}", "s.json", memory=memory)
    with pytest.raises(ParameterError, match="fast engine at depth 2[;,]"):
        parse_sweep({**sparse, "depth": [100, 2]}, "{}", "s.json", memory=memory)
    with pytest.raises(ParameterError, match="to each of 2 ranks"):
        parse_sweep(sparse, "{}", "s.json", memory=memory, ranks_per_node=2)
    continuous = {"width": 10001, "height": 10001, "depth": "continuous"}
    with pytest.raises(ParameterError, match="continuous model;"):
        parse_run(continuous, "r.json", memory=int(run_memory(10001, 10001, 0, "fast") / 1.5))
    assert run_memory(10001, 10001, 2, "fast") > 2.5 * run_memory(10001, 10001, 100, "fast")
    # Each rank keeps the ring tables of other shapes too (~2 bytes per cell each), and
    # rank 0 the summed profiles of every point (~24 bytes per ring per point).
    with pytest.raises(ParameterError, match="more per rank for the other grid shapes' distance tables"):
        parse_sweep({**sparse, "size": list(range(9001, 10002, 100))}, "{}", "s.json", memory=memory)
    with pytest.raises(ParameterError, match="more on rank 0 for the jobs' records and summed density profiles"):
        parse_sweep({**sparse, "depth": list(range(100, 131))}, "{}", "s.json", memory=memory)
    # ... and every job's record (~300 bytes): 10 million jobs of tiny grids need 2.8 GiB
    many = {"size": [11], "depth": list(range(1, 101)), "runs": 100_000, "seed": 1}
    parse_sweep(many, "{}", "s.json", memory=2**32)
    with pytest.raises(ParameterError, match=r"2\.8 GiB more on rank 0 for the jobs' records"):
        parse_sweep(many, "{}", "s.json", memory=2**31)


def test_memory_check_knows_the_original_engines_wide_grid_words():
    from perc_mpi import config
    from perc_mpi._original import grid_dtype

    wide = config.ORIGINAL_WIDE_WORD_DEPTH
    assert np.dtype(grid_dtype(wide - 1)).itemsize == 2 and np.dtype(grid_dtype(wide)).itemsize == 4
    # the same filled share either side of it: the words alone make the difference
    extra = run_memory(10001, 10001, wide, "original") - run_memory(10001, 10001, wide - 1, "original")
    assert extra > 10001**2 * config.ORIGINAL_WIDE_WORD_BYTES * 0.99
    assert run_memory(10001, 10001, wide, "fast") < run_memory(10001, 10001, wide, "original")


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


SINGLE = {"width": 9, "height": 9, "depth": 2, "seed": 1}


def _fifo(tmp_path):
    os.mkfifo(tmp_path / "fifo.h5")
    return tmp_path / "fifo.h5"


def _link_loop(tmp_path):
    (tmp_path / "a.h5").symlink_to(tmp_path / "b.h5")
    (tmp_path / "b.h5").symlink_to(tmp_path / "a.h5")
    return tmp_path / "a.h5"


# (file contents, extra arguments given tmp_path, environment, message): each is refused
# with one line on stderr, status 2, and nothing written.
COMMAND_LINES = [
    (GOOD, lambda d: [d / "drawing.txt"], {}, "a second file name is for a single run's drawing"),
    (GOOD, lambda d: ["--checkpoint", "nan"], {}, "--checkpoint: expected a number of seconds > 0"),
    (GOOD, lambda d: ["--ranks", "3"], {}, "--ranks applies with --dry-run only"),
    (GOOD, lambda d: ["--dry-run", "--resume", "--force"], {}, "--resume and --force exclude each other"),
    (GOOD, lambda d: ["--slice"], {}, "argument --slice: expected one argument"),
    (GOOD, lambda d: ["--no-such-option"], {}, "unrecognized arguments"),
    (SINGLE, lambda d: ["--force"], {}, "--force applies to sweep files only"),
    (SINGLE, lambda d: ["--checkpoint", "5"], {}, "--checkpoint applies to sweep files only"),
    (SINGLE, lambda d: [], {"PERC_MPI_MEMORY_LIMIT": "4X"}, "PERC_MPI_MEMORY_LIMIT: expected a memory size"),
    (GOOD, lambda d: [], {"PERC_MPI_MEMORY_LIMIT": "lots"}, "PERC_MPI_MEMORY_LIMIT: expected a memory size"),
    (GOOD, lambda d: ["-o", d, "--force"], {}, "output is a directory"),
    (GOOD, lambda d: ["-o", _fifo(d), "--force"], {}, "output is not a regular file"),
    (GOOD, lambda d: ["-o", _link_loop(d), "--force"], {}, "cannot follow the output path"),
    (GOOD, lambda d: ["-o", d / "sweep.json", "--force"], {}, "output is the sweep file itself"),
    # what no option mends is said first, not "output exists; use --force"
    (GOOD, lambda d: ["-o", d], {}, "output is a directory"),
    (GOOD, lambda d: ["-o", d / "sweep.json"], {}, "output is the sweep file itself"),
    (SINGLE, lambda d: ["-o", d / "sweep.json"], {}, "that is the run's own JSON file"),
    (SINGLE, lambda d: [d / "sweep.json"], {}, "that is the run's own JSON file"),
    (GOOD, lambda d: ["--dry-run", "--ranks", "100000000000"], {}, "--ranks: expected 1..10000000"),
    (GOOD, lambda d: ["--dry-run", "--slice", "0/99999999999999999999999"], {}, "expected COUNT <= 10000000"),
    (GOOD, lambda d: ["-o", "/proc/perc_mpi.h5"], {}, "cannot create a file in /proc"),
    ({**GOOD, "seed": None}, lambda d: ["--slice", "0/2"], {}, "--slice needs a fixed seed"),
    ({"size": [9], "depth": 2, "run": 2}, lambda d: [], {}, "there is no 'runs' key"),
]


@pytest.mark.parametrize("spec, extra, env, message", COMMAND_LINES)
def test_bad_command_line_one_line(tmp_path, spec, extra, env, message):
    path = write(tmp_path, json.dumps(spec))
    arguments = extra(tmp_path)
    before = sorted(tmp_path.iterdir())
    proc = run_cli(path, *arguments, env=env)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert sorted(tmp_path.iterdir()) == before and proc.stdout == ""


def test_an_output_through_a_symlink_replaces_its_target(tmp_path):
    path = write(tmp_path, json.dumps(GOOD))
    (tmp_path / "link.h5").symlink_to(tmp_path / "target.h5")
    proc = run_cli(path, "-o", tmp_path / "link.h5", "--force")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "link.h5").is_symlink() and (tmp_path / "target.h5").read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"


def test_readable_sizes_down_to_bytes():
    from perc_mpi.parameters import readable_size

    assert [readable_size(n) for n in (1, 2048, 5 * 2**20, 300 * 2**20, 3 * 2**30)] == [
        "1 B", "2.0 KiB", "5.0 MiB", "300 MiB", "3.0 GiB"]


@pytest.mark.parametrize("text, expected", [("4000000000", 4 * 10**9), ("4e9", 4 * 10**9), ("512M", 2**29),
                                            ("4G", 2**32), ("4GiB", 2**32), ("4 GB", 2**32), ("1.5t", 3 * 2**39),
                                            ("4KiB", 4096)])
def test_memory_sizes(text, expected):
    assert memory_size("PERC_MPI_MEMORY_LIMIT", text) == expected


@pytest.mark.parametrize("text", ["", "4X", "G", "-1", "0", "0.5", "4i", "4iB", "nan", "inf"])
def test_bad_memory_sizes(text):
    with pytest.raises(ParameterError, match="expected a memory size"):
        memory_size("PERC_MPI_MEMORY_LIMIT", text)


def test_memory_limits_count_the_ranks_own_memory(monkeypatch):
    # A limit (a job's cgroup, PERC_MPI_MEMORY_LIMIT) counts whole processes: the memory
    # each rank holds before its runs comes off it; MemAvailable already leaves it out.
    assert memory_budget(8 * 2**30, [2**31], 2**27, 4) == 2**31 - 4 * 2**27
    assert memory_budget(2**30, [2**31], 2**27, 4) == 2**30  # MemAvailable the smaller
    assert memory_budget(8 * 2**30, [2**31, 2**32], 2**27, 1) == 2**31 - 2**27
    assert memory_budget(None, [2**29], 2**27, 16) == 0  # the ranks alone exceed the limit
    assert memory_budget(2**30, [], 2**27, 4) == 2**30 and memory_budget(None, [], 2**27, 4) is None
    # This process's own memory, from the system: some tens of MB here.
    monkeypatch.setattr(parameters, "cgroup_memory_limits", lambda _: [])  # this machine's own, if any
    monkeypatch.setenv("PERC_MPI_MEMORY_LIMIT", "512M")
    held = 2**29 - available_memory(1)
    assert 10e6 < held < 400e6 and 10e6 < resident_bytes() < 400e6


def test_refusal_names_what_the_processes_hold(tmp_path):
    path = tmp_path / "run.json"
    path.write_text('{"width": 101, "height": 101, "depth": 2}')
    proc = run_cli(path, env={"PERC_MPI_MEMORY_LIMIT": "100M"})  # little beyond the process itself
    assert proc.returncode == 2 and "of memory is available, beyond the" in proc.stderr
    assert "MiB this process holds already" in proc.stderr


def test_cgroup_limits_of_the_job_above_the_task(tmp_path):
    # SLURM under cgroup v2: the limit is on job_7; the step and task below it say "max".
    job = tmp_path / "system.slice" / "slurmstepd.scope" / "job_7"
    (job / "step_0" / "user" / "task_0").mkdir(parents=True)
    (job / "memory.max").write_text("1000\n")
    (job / "step_0" / "memory.max").write_text("max\n")
    v2 = "0::/system.slice/slurmstepd.scope/job_7/step_0/user/task_0\n"
    assert cgroup_memory_limits(v2, tmp_path) == [1000]
    # cgroup v1: the memory controller's own hierarchy; other controllers are ignored.
    v1_job = tmp_path / "memory" / "slurm" / "uid_0" / "job_5"
    (v1_job / "step_0").mkdir(parents=True)
    (v1_job / "memory.limit_in_bytes").write_text("2000\n")
    (tmp_path / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    v1 = "12:pids:/slurm/uid_0/job_5\n5:cpuset,memory:/slurm/uid_0/job_5/step_0\n1:name=systemd:/\n"
    assert cgroup_memory_limits(v1, tmp_path) == [2000]  # the root's ~2^63 is "no limit"


def test_numpy_integers_are_integers():
    import numpy as np

    import perc_mpi

    got = perc_mpi.invade(np.int64(11), np.int32(9), np.uint16(5), np.int64(3))
    assert np.array_equal(got.filled, perc_mpi.invade(11, 9, 5, 3).filled)
    with pytest.raises(ParameterError, match="expected an integer"):
        perc_mpi.invade(np.bool_(True), 9, 5, 3)


def test_sweeps_differ_by_what_they_run_not_by_their_text():
    def sweep(**spec):
        return parse_sweep({"depth": 2, "runs": 2, "seed": 1, **spec}, "{}", "s.json")

    assert sweep_differences(sweep(size=[15]), sweep(width=15, height=15, engine="fast")) == []
    assert sweep_differences(sweep(size=[15]), sweep(size=[15], runs=3)) == [("runs", "2", "3")]
    (what, first, second), = sweep_differences(sweep(size=[15, 17]), sweep(width=[15, 17], height=[15, 17]))
    assert what == "grids (width, height)" and first == "((15, 15), (17, 17))"


def test_a_byte_order_mark_is_no_error(tmp_path):
    # Windows editors save UTF-8 with a BOM; json.loads refuses it
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode())
    data, text = read_json(path)
    assert data == GOOD and text == json.dumps(GOOD)
