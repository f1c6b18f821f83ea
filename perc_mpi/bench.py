"""Benchmarks: ``python -m perc_mpi.bench`` prints the performance table of the README.

Every figure is measured here and now: medians over repeated runs, ratios side by side
in one process.  ``--c-reference PATH`` adds the plain-C bucket-queue stick
(``gcc -O2 -o PATH benchmarks/ref_bucket.c``: takes ``SIZE DEPTH REPS [FIRST]``, prints
``ns_per_cell X ...``) to the kernel table.
``--quick`` shrinks every size (a smoke test, not a measurement).
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from . import config, measures, results
from .engine import run, run_kernel
from .parameters import RunParams
from .plan import JOB_DTYPE, RESERVE, WAIT, JobQueue, Reserve, assign_ranks, shares
from .report import plural

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def machine() -> str:
    """Return a one-line description of this machine and the library versions."""
    import numba

    cpu = platform.processor() or "unknown cpu"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, NumPy {np.__version__}, "
            f"Numba {numba.__version__}")


C_STICK = "C bucket queue (-O2)"
WHOLE_RUN = "fast, whole engine.run (+ result arrays)"
# The kernel table's cases: (row name, depth, what is timed).
KERNEL_CASES = [(name, depth, timed) for name, timed in
                [("fast", "kernel"), ("original", "kernel"), (C_STICK, "C"), (WHOLE_RUN, "run")]
                for depth in (2, 100)] + [("continuous", "continuous", "kernel")]


def _timed_run(size: int, depth: int | str, timed: str, name: str, seed: int,
               c_path: str | None) -> tuple[float, int]:
    """Return ``(seconds, filled cells)`` of one run: the kernel (``run_kernel``: values,
    invasion, its zeroed state), the whole ``engine.run``, or the C stick (its arrays
    touched before its clock starts, as the engine's buffers are reused)."""
    if timed == "C":
        out = subprocess.run([c_path, str(size), str(depth), "1", str(seed)], capture_output=True, text=True,
                             check=True).stdout.split()
        return float(out[1]) * float(out[3]) * 1e-9, int(float(out[3]))
    engine = "original" if name == "original" else "fast"
    params = RunParams(size, size, config.CONTINUOUS if depth == "continuous" else depth, seed, engine)
    call = run if timed == "run" else run_kernel
    start = time.perf_counter()
    result = call(params)
    elapsed = time.perf_counter() - start
    return elapsed, (result.n_filled if timed == "run" else result[0])


def kernel_table(size: int, reps: int, c_path: str | None) -> dict[tuple[str, int | str], float]:
    """Return the ns per filled cell of every kernel case, keyed (name, depth): the total
    time of ``reps`` runs (seeds 0 .. reps - 1) over their total filled cells.

    Pooled, not a median of per-run figures: a run costs a fixed part (the C stick and the
    original engine draw the whole grid) plus a part per filled cell, and clusters differ
    several-fold in size from seed to seed (and from engine to engine: each has its own
    random stream), so per-run ns/cell follow the cluster sizes drawn.  The cases are timed
    interleaved, seed by seed, so that this shared machine's slow and fast spells hit
    every case alike."""
    cases = [case for case in KERNEL_CASES if c_path or case[2] != "C"]
    for name, depth, timed in cases:  # compile or load outside the timing
        if timed != "C":
            _timed_run(5, depth, timed, name, 0, c_path)
    totals = {(name, depth): np.zeros(2) for name, depth, _ in cases}
    for seed in range(reps):
        for name, depth, timed in cases:
            totals[name, depth] += _timed_run(size, depth, timed, name, seed, c_path)
    return {key: float(1e9 * seconds / cells) for key, (seconds, cells) in totals.items()}


def measure_share(size: int, depth: int, reps: int) -> tuple[float, float]:
    """Return (median run seconds, median measures seconds) of the fast engine."""
    run(RunParams(5, 5, 1, 0, "fast"))
    measures.ring_table(size, size)  # per-shape, cached across a sweep's runs
    runs, costs = [], []
    for seed in range(reps):
        start = time.perf_counter()
        result = run(RunParams(size, size, depth, seed, "fast"))
        middle = time.perf_counter()
        measures.box_dimension(*result.measure_args)
        measures.ring_counts(*result.measure_args)
        runs.append(middle - start)
        costs.append(time.perf_counter() - middle)
    return float(np.median(runs)), float(np.median(costs))


RSS_SEEDS = 5
KERNEL_RUNS_PER_REP = 6


def peak_rss_mib(size: int, depth: int, seed: int) -> tuple[float, float]:
    """Return the peak RSS (MiB: ru_maxrss is in KiB) of a fresh process running one fast
    run and its measures, and the share of the grid the run filled."""
    code = (
        "import perc_mpi, resource\nfrom perc_mpi import measures as m\n"
        f"r = perc_mpi.invade({size}, {size}, {depth}, {seed})\n"
        "m.box_dimension(*r.measure_args); m.ring_counts(*r.measure_args)\n"
        f"print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, r.n_filled / {size * size})\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]) / 1024, float(out[1])


def peak_rss_row(size: int, depth: int, seeds: int) -> str:
    """Return the peak-RSS table rows, of a run and its measures alone (seeds 1 ..) and of
    a one-job sweep's rank (sweep seeds 1 ..): the largest over ``seeds`` of each, with
    its run's filled share, and the range (the peak follows the cluster's size)."""
    rows = [(f"one {size}x{size} depth {depth} run + measures, largest of {seeds} seeds", peak_rss_mib),
            (f"the rank of a one-job {size}x{size} depth {depth} sweep (mpirun -n 1), largest of {seeds} sweep seeds",
             peak_rss_sweep_mib)]
    lines = []
    for label, measure in rows:
        peaks = [measure(size, depth, seed) for seed in range(1, seeds + 1)]
        top, share = max(peaks)
        low = min(peak for peak, _ in peaks)
        lines.append(f"| peak RSS, {label} | {top:.0f} MiB ({share:.1%} filled; {low:.0f}-{top:.0f} MiB) |")
    return "\n".join(lines)


def mpi_env() -> dict[str, str]:
    """Return this process's environment with this Python's bin directory (its mpirun,
    the ``mpich`` extra's) first on the PATH."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def peak_rss_sweep_mib(size: int, depth: int, seed: int) -> tuple[float, float]:
    """Return the peak RSS (MiB) of the rank of a one-job sweep (``mpirun -n 1``, sweep
    seed ``seed``): the run and its measures as in any job, plus the driver, the summed
    profiles, the summary and the HDF5 writes; and the share of the grid the run filled."""
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Path(tmp) / "sweep.json"
        sweep.write_text(json.dumps({"size": [size], "depth": [depth], "runs": 1, "seed": seed}))
        # A process of its own: RUSAGE_CHILDREN is the largest of every child it waited for.
        command = [str(BIN / "mpirun"), "-n", "1", sys.executable, "-m", "perc_mpi", str(sweep)]
        code = (
            "import resource, subprocess, sys\n"
            f"sweep = subprocess.run({command!r}, "
            "capture_output=True, text=True)\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
            "sys.exit(sweep.returncode and sweep.stderr)\n"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=mpi_env())
        if proc.returncode:
            raise RuntimeError(f"the one-job sweep for the peak RSS row failed:\n{proc.stderr}")
        peak = proc.stdout
        with h5py.File(sweep.with_suffix(".h5"), "r") as results:
            filled = int(results["runs/filled"][0])
    return int(peak) / 1024, filled / (size * size)


def sweep_once(sweep: Path, ranks: int, out: str) -> tuple[float, float, str]:
    """Return (wall seconds, jobs-phase seconds, timing line) of one ``mpirun -n ranks``."""
    start = time.perf_counter()
    proc = subprocess.run([str(BIN / "mpirun"), "-n", str(ranks), sys.executable, "-m", "perc_mpi",
                           str(sweep), "-o", out, "--force"], capture_output=True, text=True, env=mpi_env(),
                          check=True)
    wall = time.perf_counter() - start
    timing = re.search(r"timing: (.*)", proc.stderr).group(1)
    return wall, float(re.search(r"jobs ([0-9.]+) s", timing).group(1)), timing


def median_sweep(sweep: Path, ranks: int, reps: int, by_jobs: bool = False) -> tuple[float, float, str]:
    """Return :func:`sweep_once`'s (wall seconds, jobs-phase seconds, timing line) of the
    median of ``reps`` runs, by wall time or by jobs-phase time: the median run with its
    own breakdown."""
    with tempfile.TemporaryDirectory() as tmp:
        runs = [sweep_once(sweep, ranks, f"{tmp}/out.h5") for _ in range(reps)]
    return sorted(runs, key=lambda run: run[1] if by_jobs else run[0])[len(runs) // 2]


def small_jobs(runs: int, reps: int) -> tuple[int, float, str]:
    """Return (jobs, median jobs-phase seconds, that run's timing line) of a sweep of
    small grids (sizes 11 and 21 x depths 2 and 10, ``runs`` runs a point) on one rank:
    what a job costs beyond its kernel (measures, record, driver)."""
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Path(tmp) / "small.json"
        sweep.write_text(json.dumps({"size": [11, 21], "depth": [2, 10], "runs": runs, "seed": 1}))
        _, jobs, timing = median_sweep(sweep, 1, reps, by_jobs=True)
    return 4 * runs, jobs, timing


def _timeline(path: str) -> tuple[np.ndarray, dict[str, float], float]:
    """Return the jobs of a finished sweep file with the seconds each took (JOB_DTYPE +
    seconds), and :meth:`perc_mpi.results.SweepResults.rank_time`: where the ranks'
    time went, and the jobs' span in seconds."""
    sweep = results.open(path)
    timed = np.zeros(len(sweep.runs), JOB_DTYPE.descr + [("seconds", np.float64)])
    for name in timed.dtype.names:
        timed[name] = sweep.runs[name]
    return (timed, *sweep.rank_time())


def scaling(sweep: Path, rank_counts: list[int], reps: int) -> tuple[dict[int, dict[str, float]], np.ndarray]:
    """Run ``sweep`` at each rank count in turn, ``reps`` times over, and return, per
    rank count, the medians of: wall and jobs-phase seconds; the speed-ups (wall, jobs
    phase) over the first rank count *of the same ladder* (back-to-back runs share this
    shared machine's slow or fast spell, which a ratio of two medians would not); the
    job seconds summed over the ranks against the first count's (``inflation``: cores
    slowing each other, through memory bandwidth, caches, clocks), the idle shares of
    :func:`_timeline` and ``collect``, the jobs phase's seconds after the last job's end
    (rank 0 taking the last batches).  Also the jobs of the last first-count run with
    their seconds."""
    rows: dict[int, dict[str, list[float]]] = {n: {} for n in rank_counts}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(reps):
            ladder = {}
            for ranks in rank_counts:
                out = f"{tmp}/n{ranks}.h5"
                wall, jobs, timing = sweep_once(sweep, ranks, out)
                timed, split, span = _timeline(out)
                print(f"scaling: -n {ranks}: wall {wall:.2f} s, {timing}", file=sys.stderr, flush=True)
                # The jobs phase is timed on the monotonic clock, the span on the wall clock:
                # with one rank they differ by a few ms, either way.
                ladder[ranks] = (wall, jobs, timed["seconds"].sum(), {**split, "collect": max(0.0, jobs - span)})
                if ranks == rank_counts[0]:
                    first = timed
            base = ladder[rank_counts[0]]
            for ranks, (wall, jobs, job_seconds, split) in ladder.items():
                # The timing line has 10 ms steps: --quick's jobs phase can read 0 s.
                figures = {"wall": wall, "jobs": jobs, "speedup_wall": base[0] / wall,
                           "speedup_jobs": base[1] / jobs if jobs else np.nan,
                           "inflation": job_seconds / base[2] - 1, **split}
                for key, value in figures.items():
                    rows[ranks].setdefault(key, []).append(value)
    medians = {n: {key: float(np.median(values)) for key, values in row.items()} for n, row in rows.items()}
    return medians, first


def scaling_table(sides: list[int], runs: int, rank_counts: list[int], reps: int) -> np.ndarray:
    """Print the strong-scaling table of a compute-heavy sweep (sizes ``sides`` x depths
    2 and 100, ``runs`` runs a point) and return the first rank count's timed jobs."""
    with tempfile.TemporaryDirectory() as tmp:
        heavy, tiny = Path(tmp) / "heavy.json", Path(tmp) / "tiny.json"
        heavy.write_text(json.dumps({"size": sides, "depth": [2, 100], "runs": runs, "seed": 1}))
        # Untimed, the same kernels: no ladder's first sweep compiles them (on a machine
        # with an empty Numba cache that added ~6 s to the first -n 1 wall time).
        tiny.write_text(json.dumps({"size": [5], "depth": [2, 100], "runs": 1, "seed": 1}))
        sweep_once(tiny, 1, f"{tmp}/tiny.h5")
        rows, timed = scaling(heavy, rank_counts, reps)
    base = rank_counts[0]
    print(f"\n| strong scaling, sizes {sides} x depths [2, 100], {runs} runs a point ({len(sides) * 2 * runs} jobs), "
          f"median of {plural(reps, 'ladder')} | wall | speed-up, efficiency | jobs phase | speed-up, efficiency "
          f"| job seconds vs -n {base} | ranks idle: before first job / between jobs / after last "
          f"| then rank 0 collecting |")
    print("|---|---|---|---|---|---|---|---|")
    for n, row in rows.items():
        scale = n / base
        print(f"| -n {n} | {row['wall']:.2f} s | {row['speedup_wall']:.2f}x, {row['speedup_wall'] / scale:.0%} "
              f"| {row['jobs']:.2f} s | {row['speedup_jobs']:.2f}x, {row['speedup_jobs'] / scale:.0%} "
              f"| {row['inflation']:+.1%} | {row['at_start']:.1%} / {row['between']:.1%} / {row['at_end']:.1%} "
              f"| {row['collect']:.2f} s |")
    return timed


def _seen(waiting_since: float, answered: float) -> float:
    """Return when a rank that began waiting at ``waiting_since`` sees an answer sent at
    ``answered``: it polls as :func:`perc_mpi.driver.sleep_until` does."""
    seen, pause = waiting_since, config.POLL_MIN_SECONDS
    while seen < answered:
        seen, pause = seen + pause, min(2 * pause, config.POLL_MAX_SECONDS)
    return seen


def replay(timed: np.ndarray, n_ranks: int, reserve_fraction: float, speeds: np.ndarray) -> float:
    """Return the share of time lost to imbalance (makespan / ideal - 1) when jobs that
    took ``timed["seconds"]`` are run on ``n_ranks`` ranks as the driver runs them, rank r
    taking ``speeds[r]`` times as long: each rank's scattered share, costliest first;
    then rank 0 takes held-back jobs one at a time from the cheap end and answers
    requests only between its own jobs (at once after its last); the other ranks ask one
    job ahead for a chunk (:class:`perc_mpi.plan.Reserve`) and, if it has not come when
    they run out, wait with the driver's sleeping poll.  A model (messages take no time;
    no start-up), not a run."""
    ranks = assign_ranks(timed, n_ranks, reserve_fraction)
    queues = [JobQueue(share) for share in shares(timed, ranks, n_ranks)]  # keep the seconds column
    held = Reserve(timed[ranks == RESERVE], n_ranks)
    answer, waiting = [None] * n_ranks, [None] * n_ranks  # (time sent, chunk); since when a rank waits
    pending: list[int] = []  # ranks whose request rank 0 has not answered yet
    rank0_done = False
    last_end = np.zeros(n_ranks)
    events = [(0.0, r) for r in range(n_ranks)]  # (time a rank is free, rank)

    def start(rank: int, job: np.void, now: float) -> None:
        last_end[rank] = now + job["seconds"] * speeds[rank]
        heapq.heappush(events, (last_end[rank], rank))

    def send_answer(rank: int, now: float) -> None:
        answer[rank] = (now, held.take_chunk())
        if waiting[rank] is not None:
            heapq.heappush(events, (_seen(waiting[rank], now), rank))
            waiting[rank] = None

    def next_job(rank: int, now: float):
        """The rank's JobQueue.next, its messages in simulated time."""
        def answered():
            return answer[rank] is not None and answer[rank][0] <= now

        def receive():
            if not answered():
                return None
            chunk, answer[rank] = answer[rank][1], None
            return chunk

        def ask():
            if rank0_done:  # rank 0 waits for the last batches, polling: it answers at once
                send_answer(rank, now)
            else:
                pending.append(rank)

        return queues[rank].next(answered, receive, ask)

    while events:
        now, rank = heapq.heappop(events)
        if rank == 0:
            for other in pending:
                send_answer(other, now)
            pending.clear()
            if not queues[0].left:
                queues[0].add(held.take_cheapest())
            if queues[0].left:
                start(0, queues[0].pop(), now)
            else:
                rank0_done = True
            continue
        job = next_job(rank, now)
        if job is WAIT:
            waiting[rank] = now  # woken by send_answer
        elif job is not None:
            start(rank, job, now)
    return last_end.max() / (timed["seconds"].sum() / (1 / speeds).sum()) - 1


def replay_table(timed: np.ndarray, baseline: int, rank_counts: list[int], draws: int = 20) -> None:
    """Print the time lost to imbalance in :func:`replay`, all jobs scattered and with
    config.RESERVE_FRACTION held back, at equal rank speeds and at speeds spread by 10%
    (the median of ``draws`` random spreads)."""
    print(f"\n| schedule replay: the last -n {baseline} run's job seconds on more ranks (model: rank 0 answers "
          "between its jobs; messages take no time), time lost to imbalance | "
          + " | ".join(f"{n} ranks" for n in rank_counts) + " |")
    print("|---|" + "---|" * len(rank_counts))
    rng = np.random.default_rng(0)
    spreads = {n: 1 + 0.1 * rng.standard_normal((draws, n)).clip(-2, 2) for n in rank_counts}
    for fraction in (0.0, config.RESERVE_FRACTION):
        label = "all scattered" if fraction == 0 else f"{fraction:.0%} of the work held back"
        equal = [replay(timed, n, fraction, np.ones(n)) for n in rank_counts]
        spread = [np.median([replay(timed, n, fraction, s) for s in spreads[n]]) for n in rank_counts]
        print(f"| {label}, equal speeds | " + " | ".join(f"{x:.1%}" for x in equal) + " |")
        print(f"| {label}, speeds spread by 10% | " + " | ".join(f"{x:.1%}" for x in spread) + " |")


def jit_start(reps: int) -> tuple[float, float]:
    """Return (cold, warm) seconds of a process that imports perc_mpi and runs both
    engines once, with an empty and then a filled NUMBA_CACHE_DIR."""
    code = "import perc_mpi\nperc_mpi.invade(9, 9, 2, 1)\nperc_mpi.invade(9, 9, 2, 1, engine='original')\n"
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}

        def once():
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=env, check=True)
            return time.perf_counter() - start

        cold = once()
        warm = float(np.median([once() for _ in range(reps)]))
    return cold, warm


def scaling_part(args: argparse.Namespace) -> None:
    """Print the strong-scaling table and the schedule replay built on its timings."""
    sides = [101, 151, 201] if args.quick else [1001, 1501, 2001]
    # ~30 s of jobs at -n 1 by default, so that the ~0.9 s a sweep spends starting
    # (imports, numba's context, MPI) and ending, at any rank count, weighs little (at ~15 s
    # it cost ~0.1x of the 2-rank speed-up); the jobs phase is shown apart.  Half as many
    # ladders as repetitions elsewhere: a -n 1, -n 2 ladder takes ~50 s here.
    runs = 2 if args.quick else args.scaling_runs
    timed = scaling_table(sides, runs, args.ranks, 1 if args.quick else (args.reps + 1) // 2)
    replay_table(timed, args.ranks[0], [2, 16, 64])


def rank_list(text: str) -> list[int]:
    """Return the rank counts of a comma-separated list such as ``1,2,4`` (argparse type)."""
    counts = [int(part) for part in text.split(",")]
    if min(counts) < 1:
        raise argparse.ArgumentTypeError(f"rank counts must be positive integers: {text!r}")
    return counts


def positive(text: str) -> int:
    """Return a count of at least 1 (argparse type)."""
    if int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return int(text)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmarks and print the table (markdown)."""
    parser = argparse.ArgumentParser(prog="python -m perc_mpi.bench",
                                     description="Measure and print the performance table of the README.")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--reps", type=positive, default=5,
                        help=f"repetitions per figure (median; default 5; the kernel rows: "
                             f"{KERNEL_RUNS_PER_REP}x as many runs)")
    parser.add_argument("--c-reference", metavar="PATH", help="compiled ref_bucket.c to compare with")
    parser.add_argument("--ranks", type=rank_list, default=[1, 2], metavar="N,N,...",
                        help="rank counts of the strong-scaling table, the first the baseline (default 1,2)")
    parser.add_argument("--scaling-runs", type=positive, default=240, metavar="RUNS",
                        help="runs per point of the strong-scaling sweep (6 points; default 240)")
    parser.add_argument("--scaling-only", action="store_true", help="print only the strong-scaling tables")
    args = parser.parse_args(argv)
    stick = args.c_reference
    if stick and not (os.path.isfile(stick) and os.access(stick, os.X_OK)):
        parser.error(f"--c-reference: {stick} is not an executable file (gcc -O2 -o PATH benchmarks/ref_bucket.c)")
    size, big = (101, 301) if args.quick else (2001, 10001)
    reps = 1 if args.quick else args.reps
    print(f"perc_mpi benchmarks, {time.strftime('%Y-%m-%d')}: {machine()}")
    print(f"command: {shlex.join(['python', '-m', 'perc_mpi.bench', *(argv if argv is not None else sys.argv[1:])])}"
          + (" (--quick: tiny sizes, one repetition, 2 runs a point: a smoke test, not a measurement)"
             if args.quick else ""))
    if args.scaling_only:
        scaling_part(args)
        return
    print()

    # Clusters at depth 100 differ several-fold in size, and the C stick and the original
    # engine pay a whole grid's values per run: 5 runs left their rows at the mercy of the
    # seeds drawn (the C row read 57-78 ns over sets of 5 seeds); 6x more runs, ~10 s.
    kernel_runs = 1 if args.quick else reps * KERNEL_RUNS_PER_REP
    print(f"| kernel, {size}x{size} (ns per filled cell: total time / total cells of {kernel_runs} runs) "
          "| depth 2 | depth 100 |")
    print("|---|---|---|")
    ns = kernel_table(size, kernel_runs, args.c_reference)
    for name in dict.fromkeys(name for name, depth in ns if depth != "continuous"):
        print(f"| {name} | {ns[name, 2]:.1f} | {ns[name, 100]:.1f} |")
    ratios = [("original / fast", "original", "fast"), ("fast / C", "fast", C_STICK)]
    for label, top, bottom in ratios[: 2 if args.c_reference else 1]:
        print(f"| {label} | {ns[top, 2] / ns[bottom, 2]:.2f} | {ns[top, 100] / ns[bottom, 100]:.2f} |")
    continuous = ns["continuous", "continuous"]
    print(f"| continuous model (banded binary heaps): {continuous:.1f} ns/cell, / fast | "
          f"{continuous / ns['fast', 2]:.2f} | {continuous / ns['fast', 100]:.2f} |\n")

    print("| other figures | value |\n|---|---|")
    for depth in (2, 100):
        run_s, measure_s = measure_share(size, depth, reps)
        print(f"| measures / run, {size}x{size} depth {depth} | {measure_s / run_s:.1%} "
              f"({1e3 * measure_s:.1f} ms / {1e3 * run_s:.1f} ms) |")
    print(peak_rss_row(big, 100, 1 if args.quick else RSS_SEEDS))
    cold, warm = jit_start(max(reps, 2))
    print(f"| process start + first runs, empty numba cache (one start) / filled (median of {max(reps, 2)}) | "
          f"{cold:.2f} s / {warm:.2f} s |")
    wall, _, timing = median_sweep(ROOT / "examples" / "sweep.json", 2, reps)
    print(f"| examples/sweep.json (90 jobs), mpirun -n 2, wall | {wall:.2f} s ({timing}) |")
    n_jobs, jobs, timing = small_jobs(25 if args.quick else 2500, reps)
    print(f"| many small jobs: sizes [11, 21] x depths [2, 10], {n_jobs} jobs, mpirun -n 1, jobs phase | "
          f"{jobs:.2f} s, {1e6 * jobs / n_jobs:.0f} us a job ({timing}) |")
    scaling_part(args)


if __name__ == "__main__":
    main()
