"""Interrupted sweeps: kills, signals and dead ranks lose no finished work, leave a
readable file, and resume to exactly the numbers of an uninterrupted sweep."""

import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import BIN, assert_same_results, parse_csv, read_h5, run_cli

SWEEP = {"size": [801, 1001], "depth": [2, 3], "runs": 150, "seed": 12345}  # ~6 s of jobs on 2 cores


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of SWEEP."""
    directory = tmp_path_factory.mktemp("reference")
    path = directory / "sweep.json"
    path.write_text(json.dumps(SWEEP))
    proc = run_cli(path, mpi=2)
    assert proc.returncode == 0, proc.stderr
    return read_h5(directory / "sweep.h5")


def start_sweep(path, *extra, ranks=2):
    """Start ``mpirun -n ranks python -m perc_mpi path`` in its own process group."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.Popen([str(BIN / "mpirun"), "-n", str(ranks), sys.executable, "-m", "perc_mpi", str(path),
                             "--checkpoint", "0.3", *map(str, extra)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)


def write_sweep(tmp_path):
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(SWEEP))
    return path


def jobs_done(output: Path) -> int:
    with h5py.File(output) as f:  # must open whatever moment the writer died at
        return int(np.count_nonzero(f["runs/status"][()] == 1))


def test_kill_9_at_random_moments_then_resume(tmp_path, reference):
    path, output = write_sweep(tmp_path), tmp_path / "sweep.h5"
    rng = np.random.default_rng(7)
    done = []
    for _ in range(3):
        proc = start_sweep(path, "--resume")
        deadline = time.monotonic() + 60  # however slow the start, kill while it writes
        while not output.exists() and proc.poll() is None:
            assert time.monotonic() < deadline, "no output file"
            time.sleep(0.05)
        time.sleep(0.3 + rng.uniform(0.0, 1.0))
        os.killpg(proc.pid, signal.SIGKILL)  # the whole job: mpirun, proxies, ranks
        proc.wait(timeout=30)
        done.append(jobs_done(output))
    assert done == sorted(done)  # finished work is never lost
    assert done[-1] < len(reference["runs"]["job"]), "the kills came too late to test anything"
    proc = run_cli(path, "--resume", "--checkpoint", "0.3", mpi=2)
    assert proc.returncode == 0, proc.stderr
    assert_same_results(read_h5(output), reference)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGUSR1, signal.SIGINT])
def test_stop_signal_flushes_and_resumes(tmp_path, reference, stop):
    path, output = write_sweep(tmp_path), tmp_path / "sweep.h5"
    proc = start_sweep(path)
    while not output.exists() or jobs_done(output) == 0:  # wait until jobs are running
        time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
    proc.send_signal(stop)  # to mpirun, which forwards it to every rank
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    assert f"interrupted by {stop.name}" in err and "--resume" in err
    with h5py.File(output) as f:
        assert not f.attrs["complete"]
        left = len(f["runs/job"]) - f.attrs["jobs_done"]
    assert left > 0
    proc = run_cli(path, "--resume", mpi=2)
    assert proc.returncode == 0, proc.stderr
    assert f"{left} of {len(reference['runs']['job'])} jobs to run" in proc.stderr
    assert_same_results(read_h5(output), reference)


def test_an_interrupted_slice_counts_its_own_jobs_left(tmp_path):
    path, output = write_sweep(tmp_path), tmp_path / "sweep.h5"
    proc = start_sweep(path, "--slice", "0/2")
    while not output.exists() or jobs_done(output) == 0:
        time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    with h5py.File(output) as f:
        status = f["runs/status"][()]
    left = int(np.count_nonzero(status[0::2] != 1))  # slice 0/2: the even jobs
    assert f"interrupted by SIGTERM; {left} jobs left in the slice." in err, err
    assert "--slice 0/2 --checkpoint 0.3" in err  # the resume command keeps the options given


def test_a_stop_during_the_last_job_leaves_a_complete_sweep(tmp_path):
    path, output = tmp_path / "one.json", tmp_path / "one.h5"
    path.write_text(json.dumps({"size": [5001], "depth": [2], "runs": 1, "seed": 3}))  # one job of seconds
    proc = start_sweep(path, ranks=1)
    said = ""
    while "job to run" not in said:  # the line printed as the jobs start
        said = proc.stderr.readline()
        assert said or proc.poll() is None, proc.communicate()
    time.sleep(0.3)  # into the job (1-2 s)
    sent = time.time()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err  # not 4: nothing is left to resume (a batch script would requeue)
    assert "interrupted" not in err and jobs_done(output) == 1
    with h5py.File(output) as f:
        started, seconds = f["runs/started"][0], f["runs/seconds"][0]
    assert started < sent < started + seconds  # the signal came while the job ran


def signal_twice(path, first, second):
    """Start a sweep, send ``first`` and ``second`` once jobs are running; return (exit
    status, stderr)."""
    output = path.with_suffix(".h5")
    proc = start_sweep(path)
    while not output.exists() or jobs_done(output) == 0:
        time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
    proc.send_signal(first)
    proc.send_signal(second)  # at once: however quick the clean stop, it is still under way
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def test_a_second_stop_signal_stops_at_once_and_the_file_resumes(tmp_path, reference):
    path, output = write_sweep(tmp_path), tmp_path / "sweep.h5"
    status, err = signal_twice(path, signal.SIGTERM, signal.SIGINT)
    assert status == 4, err
    assert re.search(r"second stop signal \(SIG(INT|TERM)\): stopped at once", err), err  # either may come first
    assert "Traceback" not in err and "Exception ignored" not in err
    jobs_done(output)  # the last snapshot stands, whatever the abort interrupted
    proc = run_cli(path, "--resume", mpi=2)
    assert proc.returncode == 0, proc.stderr
    assert_same_results(read_h5(output), reference)


def test_the_same_stop_signal_twice_is_one_request(tmp_path):
    status, err = signal_twice(write_sweep(tmp_path), signal.SIGTERM, signal.SIGTERM)
    assert status == 4, err
    assert "interrupted by SIGTERM" in err and "--resume" in err
    assert "stopped at once" not in err


def catches_stop_signals(pid: int) -> bool:
    """Return True once process ``pid`` has a handler for SIGUSR1 (Python itself
    catches only SIGINT): perc_mpi's stop handlers are installed."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
    return bool(caught >> (signal.SIGUSR1 - 1) & 1)


def test_stop_handlers_are_installed_before_the_slow_imports(tmp_path):
    """A sweep's handlers come before NumPy's neighbours Numba, h5py and mpi4py (most of
    a second of start-up), so that a signal then is a stop request, not the end."""
    spy = """
import signal, sys
seen = {}
class Spy:
    def find_spec(self, name, path=None, target=None):
        if name in ("numba", "h5py", "mpi4py") and name not in seen:
            handler = signal.getsignal(signal.SIGUSR1)
            seen[name] = getattr(handler, "__qualname__", str(handler))
sys.meta_path.insert(0, Spy())
sys.argv = ["perc_mpi", sys.argv[1], "--dry-run"]
import runpy
try:
    runpy.run_module("perc_mpi", run_name="__main__")
except SystemExit:
    pass
print(sorted(seen.items()))
"""
    path = write_sweep(tmp_path)
    proc = subprocess.run([sys.executable, "-c", spy, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    seen = dict(eval(proc.stdout.strip().splitlines()[-1]))
    assert set(seen) == {"numba", "h5py", "mpi4py"}, proc.stdout
    assert set(seen.values()) == {"StopRequest._handle"}, seen


def test_a_stop_signal_during_start_up_writes_nothing(tmp_path):
    path, output = tmp_path / "small.json", tmp_path / "small.h5"
    path.write_text(json.dumps({"size": [31], "depth": [2], "runs": 4, "seed": 2}))
    assert run_cli(path).returncode == 0 and jobs_done(output) == 4
    before = output.read_bytes()
    proc = start_sweep(path, "--force")  # would overwrite the finished file
    deadline = time.monotonic() + 60
    while True:  # every rank has its handlers, and is still importing or setting up
        ranks = [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc"))) if rank_of(pid, path) is not None]
        if len(ranks) == 2 and all(map(catches_stop_signals, ranks)):
            break
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    assert "interrupted by SIGTERM before the first job; nothing was written" in err and "Traceback" not in err
    assert output.read_bytes() == before


def test_dead_rank_ends_the_job_and_the_file_resumes(tmp_path, reference):
    path, output = write_sweep(tmp_path), tmp_path / "sweep.h5"
    proc = start_sweep(path, ranks=4)
    while not output.exists() or jobs_done(output) == 0:
        time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
    victim = next(pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
                  if rank_of(pid, path) == 2)
    os.kill(victim, signal.SIGKILL)
    killed = time.monotonic()
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert time.monotonic() - killed < 20  # nobody hangs in a collective
    jobs_done(output)  # still opens
    proc = run_cli(path, "--resume", mpi=4)
    assert proc.returncode == 0, proc.stderr
    assert_same_results(read_h5(output), reference)


def rank_of(pid: int, sweep: Path) -> int | None:
    """Return the MPI rank of a perc_mpi process running ``sweep`` (None for others)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    if str(sweep).encode() not in argv or not Path(argv[0].decode()).name.startswith("python"):
        return None  # not a rank of this sweep (mpirun and the proxies have other names)
    for entry in environ:
        if entry.startswith(b"PMI_RANK="):
            return int(entry.split(b"=")[1])
    return None


def test_resume_refuses_a_different_sweep(tmp_path):
    path = write_sweep(tmp_path)
    path.write_text(json.dumps({**SWEEP, "size": [31], "runs": 2}))
    assert run_cli(path, mpi=2).returncode == 0
    path.write_text(json.dumps({**SWEEP, "size": [31], "runs": 2, "engine": "original"}))
    proc = run_cli(path, "--resume", mpi=2)
    assert proc.returncode == 2 and "different sweep" in proc.stderr and "engine" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_resume_of_a_complete_file_runs_nothing(tmp_path):
    path = write_sweep(tmp_path)
    path.write_text(json.dumps({**SWEEP, "size": [31], "runs": 2, "seed": None}))
    assert run_cli(path, mpi=2).returncode == 0
    first, written = read_h5(tmp_path / "sweep.h5"), (tmp_path / "sweep.h5").read_bytes()
    proc = run_cli(path, "--resume")  # on 1 rank: the file still says the 2 that ran the jobs
    assert proc.returncode == 0 and "nothing to run: every one of the 4 jobs" in proc.stderr, proc.stderr
    assert (tmp_path / "sweep.h5").read_bytes() == written  # left as it was
    csv = parse_csv(proc.stdout)
    assert len(csv) == 2 and [float(row["dimension"]) for row in csv] == first["summary"]["dimension"].tolist()
    planned = run_cli(path, "--dry-run", "--resume")  # plans what --resume would run: nothing
    assert planned.returncode == 0 and "4 jobs, " in planned.stdout and ", 0 jobs to run" in planned.stdout
    # The same sweep in other words: the recorded seed and the default engine written out, keys reordered.
    seed = int(first["attrs"]["sweep_seed"])
    path.write_text(json.dumps({"seed": seed, "engine": "fast", **{**SWEEP, "size": [31], "runs": 2, "seed": seed}}))
    planned = run_cli(path, "--dry-run", "--resume")
    assert planned.returncode == 0 and ", 0 jobs to run" in planned.stdout, planned.stderr


def test_resume_of_a_finished_slice_and_an_empty_slice(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"size": [9], "depth": [2], "runs": 4, "seed": 3}))
    assert run_cli(path, "--slice", "0/2", "-o", tmp_path / "s0.h5", mpi=2).returncode == 0
    proc = run_cli(path, "--slice", "0/2", "-o", tmp_path / "s0.h5", "--resume", mpi=2)
    assert proc.returncode == 0 and "every one of the 2 jobs of slice 0/2" in proc.stderr, proc.stderr
    # a slice with no job, into a new file: the file is written (merge lists every part)
    proc = run_cli(path, "--slice", "5/8", "-o", tmp_path / "s5.h5", "--resume", mpi=2)
    assert proc.returncode == 0 and "nothing to run" not in proc.stderr, proc.stderr
    with h5py.File(tmp_path / "s5.h5") as f:
        assert f.attrs["complete"] and f.attrs["jobs_done"] == 0


def test_resume_refuses_to_add_masks_to_a_file_without_them(tmp_path):
    path = write_sweep(tmp_path)
    path.write_text(json.dumps({**SWEEP, "size": [31], "runs": 2}))
    assert run_cli(path).returncode == 0
    proc = run_cli(path, "--resume", "--save-clusters")
    assert proc.returncode == 2 and "made without --save-clusters" in proc.stderr


def test_ranks_prime_numba_without_writing_its_cache(tmp_path):
    """Every rank but 0 primes Numba while rank 0 compiles the kernels: priming must
    write nothing, or ranks starting at once would race on the cache files."""
    cache = tmp_path / "numba-cache"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}

    def cache_files(code):
        subprocess.run([sys.executable, "-c", f"from perc_mpi import session\n{code}"], env=env, check=True)
        return sorted(path.name for path in cache.rglob("*") if path.is_file())

    assert cache_files("session.prime_numba()") == []
    assert cache_files("session.warm_up([('fast', 1)], [])")  # what rank 0 alone does: it writes


def test_warm_up_compiles_every_kernel_the_jobs_need(tmp_path):
    """After rank 0's warm-up no rank may compile (and write the cache) again: a kernel
    the warm-up missed would be compiled by every rank at once.  The original engine
    has one kernel per grid word type (depths 1-31, 32-8191, 8192-65535)."""
    code = f"""
import numpy as np
from pathlib import Path
from perc_mpi import engine, session
from perc_mpi.parameters import RunParams
depths = [2, 31, 32, 100, 8191, 8192, 65535]
jobs = np.array([(b"original", d) for d in depths], dtype=[("engine", "S8"), ("depth", "i8")])
assert len(session.kernel_kinds(jobs)) == 3
session.warm_up(session.kernel_kinds(jobs), [])
files = lambda: sorted(p.name for p in Path({str(tmp_path)!r}).rglob("*.nbc"))
warm = files()
for d in depths:
    engine.run(RunParams(9, 9, d, 1, "original"))
assert files() == warm, (warm, files())
"""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def test_a_second_session_on_the_same_output_is_refused(tmp_path):
    from perc_mpi.store import lock_output, unlock_output

    path = write_sweep(tmp_path)
    path.write_text(json.dumps({**SWEEP, "size": [31], "runs": 2}))
    held = lock_output(Path(os.path.realpath(tmp_path / "sweep.h5")))  # as a running session holds it
    (tmp_path / "sweep.h5.partial").write_bytes(b"its snapshot, half written")
    proc = run_cli(path, "--resume")
    assert proc.returncode == 2 and "another perc_mpi session is writing this file" in proc.stderr
    assert (tmp_path / "sweep.h5.partial").read_bytes() == b"its snapshot, half written"  # untouched
    unlock_output(held)
    assert run_cli(path, "--resume").returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.h5", "sweep.json"]  # no lock file left


def test_an_output_written_while_waiting_for_its_lock_is_not_overwritten(tmp_path, monkeypatch):
    """Two sessions (or merges) on the same new output: the second checks for it under
    the lock, so the first one's file is refused, not replaced."""
    import argparse

    from perc_mpi import merge, session, store
    from perc_mpi.parameters import ParameterError

    real_locked = store._locked

    def locked_after_the_other_wrote(target):  # the other one ends just as this one waits for the lock
        target.write_bytes(b"the other session's file")
        return real_locked(target)

    sweep_file = write_sweep(tmp_path)
    args = argparse.Namespace(file=str(sweep_file), output=None, force=False, resume=False)
    monkeypatch.setattr(store, "_locked", locked_after_the_other_wrote)
    with pytest.raises(ParameterError, match="output exists"):
        session.locked_output(args)
    (tmp_path / "sweep.h5").unlink()
    with pytest.raises(ParameterError, match="output exists"):
        merge.merge(tmp_path / "sweep.h5", [tmp_path / "part.h5"])
    assert (tmp_path / "sweep.h5").read_bytes() == b"the other session's file"
    assert not (tmp_path / "sweep.h5.lock").exists()


def test_the_lock_is_taken_on_the_lock_file_that_is_there(tmp_path, monkeypatch):
    from perc_mpi import store

    target = tmp_path / "sweep.h5"
    real_flock, calls = store.fcntl.flock, []

    def flock(handle, operation):
        calls.append(handle.name)
        if len(calls) == 1:  # the session that held it ends (removing the file) just before this flock
            os.unlink(handle.name)
        return real_flock(handle, operation)

    monkeypatch.setattr(store.fcntl, "flock", flock)
    handle = store.lock_output(target)
    assert len(calls) == 2  # the first flock locked a removed file: taken again on the new one
    assert os.fstat(handle.fileno()).st_ino == os.stat(tmp_path / "sweep.h5.lock").st_ino
    store.unlock_output(handle)
    assert not (tmp_path / "sweep.h5.lock").exists()


def test_a_full_disk_is_one_line_and_leaves_no_partial_file(tmp_path):
    # A file-size limit (set after MPI's start: its shared memory needs large files)
    # fails the writes as a full disk does; h5py then prints dozens of tracebacks.
    path = tmp_path / "fs.json"
    path.write_text(json.dumps({"size": [31, 41], "depth": [2, 5], "runs": 30, "seed": 42}))
    # the kernels in Numba's cache first: under the limit, writing it would fail as well
    assert run_cli(path, "-o", tmp_path / "warm.h5").returncode == 0
    (tmp_path / "warm.h5").unlink()
    limit = 30000  # bytes: less than the first snapshot
    script = (
        "import resource, sys\n"
        "from mpi4py import MPI\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY))\n"
        "from perc_mpi import cli\n"
        "sys.exit(cli.main([sys.argv[1]]))\n"
    )
    proc = subprocess.run([str(BIN / "mpirun"), "-n", "2", sys.executable, "-c", script, str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "perc_mpi: error: cannot write" in proc.stderr and "File too large" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "fs.h5.partial").exists() and not (tmp_path / "fs.h5.lock").exists()
    assert run_cli(path, "--resume", mpi=2).returncode == 0 and jobs_done(tmp_path / "fs.h5") == 120
    # merge (no MPI): the same line and status, not HDF5's crash at exit (status 139)
    parts = []
    for index in (0, 1):
        parts.append(tmp_path / f"part{index}.h5")
        assert run_cli(path, "--slice", f"{index}/2", "-o", parts[-1]).returncode == 0

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    proc = subprocess.run([sys.executable, "-m", "perc_mpi", "merge", str(tmp_path / "merged.h5"), *map(str, parts)],
                          capture_output=True, text=True, timeout=120, preexec_fn=limited)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "File too large" in proc.stderr, proc.stderr
    assert not (tmp_path / "merged.h5.partial").exists() and not (tmp_path / "merged.h5").exists()
    assert not (tmp_path / "merged.h5.lock").exists()


@pytest.mark.parametrize("fails", [False, True])
def test_what_h5py_reports_during_a_write_is_held_back_only_when_the_write_fails(tmp_path, monkeypatch, capsys,
                                                                                  fails):
    import errno

    from perc_mpi import store

    def write_file(partial, *args):
        partial.write_bytes(b"half")
        sys.excepthook(RuntimeError, RuntimeError("echo in a deallocation"), None)  # as h5py's Cython does
        if fails:
            raise OSError(errno.ENOSPC, "h5py's long text")

    monkeypatch.setattr(store, "_write_file", write_file)
    hooks = sys.excepthook, sys.unraisablehook
    target = tmp_path / "out.h5"
    if fails:
        with pytest.raises(store.WriteError, match=f"cannot write {target}: No space left on device"):
            store.write_snapshot(target, {}, None, None, [], [], None, {})
    else:
        store.write_snapshot(target, {}, None, None, [], [], None, {})
    assert ("echo in a deallocation" in capsys.readouterr().err) != fails
    assert sorted(p.name for p in tmp_path.iterdir()) == ([] if fails else ["out.h5"])
    assert (sys.excepthook, sys.unraisablehook) == hooks
