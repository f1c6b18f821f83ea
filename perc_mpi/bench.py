"""Benchmarks: ``python -m perc_mpi.bench`` prints the performance table of the README.

Every figure is measured here and now: medians over repeated runs, ratios side by side
in one process.  ``--c-reference PATH`` adds the plain-C bucket-queue stick (a binary
taking ``SIZE DEPTH REPS`` and printing ``ns_per_cell X ...``) to the kernel table.
``--quick`` shrinks every size (a smoke test, not a measurement).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import config, measures
from .engine import run
from .parameters import RunParams

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


def median_ns_per_cell(size: int, depth: int | str, engine: str, reps: int) -> float:
    """Return the median over ``reps`` seeds of engine.run time per filled cell (ns)."""
    depth = config.CONTINUOUS if depth == "continuous" else depth
    run(RunParams(5, 5, depth, 0, engine))  # compile or load outside the timing
    times = []
    for seed in range(reps):
        start = time.perf_counter()
        result = run(RunParams(size, size, depth, seed, engine))
        times.append((time.perf_counter() - start) / result.n_filled)
    return 1e9 * float(np.median(times))


def c_reference(path: str, size: int, depth: int, reps: int) -> float:
    """Return the C stick's ns per filled cell."""
    out = subprocess.run([path, str(size), str(depth), str(reps)], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[1])


def measure_share(size: int, depth: int, reps: int) -> tuple[float, float]:
    """Return (median run seconds, median measures seconds) of the fast engine."""
    run(RunParams(5, 5, 1, 0, "fast"))
    measures.ring_table(size, size)  # per-shape, cached across a sweep's runs
    runs, costs = [], []
    for seed in range(reps):
        start = time.perf_counter()
        result = run(RunParams(size, size, depth, seed, "fast"))
        middle = time.perf_counter()
        cells = (size, size, result.fill_x, result.fill_y)
        measures.box_dimension(*cells)
        measures.ring_counts(*cells)
        runs.append(middle - start)
        costs.append(time.perf_counter() - middle)
    return float(np.median(runs)), float(np.median(costs))


def peak_rss_mb(size: int, depth: int) -> float:
    """Return the peak RSS (MB) of a fresh process running one fast run and its measures."""
    code = (
        "import perc_mpi, resource\nfrom perc_mpi import measures as m\n"
        f"r = perc_mpi.invade({size}, {size}, {depth}, 1)\n"
        f"m.box_dimension({size}, {size}, r.fill_x, r.fill_y); m.ring_counts({size}, {size}, r.fill_x, r.fill_y)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


def sweep_wall(sweep: Path, ranks: int, reps: int) -> tuple[float, str]:
    """Return (median wall seconds, last timing line) of ``mpirun -n ranks`` on a sweep."""
    walls, timing = [], ""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(reps):
            start = time.perf_counter()
            proc = subprocess.run([str(BIN / "mpirun"), "-n", str(ranks), sys.executable, "-m", "perc_mpi",
                                   str(sweep), "-o", f"{tmp}/out.h5", "--force"],
                                  capture_output=True, text=True, env=env, check=True)
            walls.append(time.perf_counter() - start)
            timing = re.search(r"timing: (.*)", proc.stderr).group(1)
    return float(np.median(walls)), timing


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


def main(argv: list[str] | None = None) -> None:
    """Run the benchmarks and print the table (markdown)."""
    parser = argparse.ArgumentParser(prog="python -m perc_mpi.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--reps", type=int, default=5, help="repetitions per figure (median)")
    parser.add_argument("--c-reference", metavar="PATH", help="compiled ref_bucket.c to compare with")
    args = parser.parse_args(argv)
    size, big = (101, 301) if args.quick else (2001, 10001)
    reps = 1 if args.quick else args.reps
    print(f"perc_mpi benchmarks, {time.strftime('%Y-%m-%d')}: {machine()}")
    print(f"command: python -m perc_mpi.bench {' '.join(argv if argv is not None else sys.argv[1:])}\n")

    print(f"| kernel, {size}x{size} (ns per filled cell, median of {reps}) | depth 2 | depth 100 |")
    print("|---|---|---|")
    rows = {engine: [median_ns_per_cell(size, d, engine, reps) for d in (2, 100)] for engine in ("fast", "original")}
    continuous = median_ns_per_cell(size, "continuous", "fast", reps)
    if args.c_reference:
        rows["C bucket queue (-O2)"] = [c_reference(args.c_reference, size, d, reps) for d in (2, 100)]
    for name, (d2, d100) in rows.items():
        print(f"| {name} | {d2:.1f} | {d100:.1f} |")
    if args.c_reference:
        c2, c100 = rows["C bucket queue (-O2)"]
        print(f"| fast / C | {rows['fast'][0] / c2:.2f} | {rows['fast'][1] / c100:.2f} |")
    print(f"| original / fast | {rows['original'][0] / rows['fast'][0]:.2f} | "
          f"{rows['original'][1] / rows['fast'][1]:.2f} |")
    print(f"| continuous model (binary heap): {continuous:.1f} ns/cell, / fast | {continuous / rows['fast'][0]:.2f} | "
          f"{continuous / rows['fast'][1]:.2f} |\n")

    print("| other figures | value |\n|---|---|")
    for depth in (2, 100):
        run_s, measure_s = measure_share(size, depth, reps)
        print(f"| measures / run, {size}x{size} depth {depth} | {measure_s / run_s:.1%} "
              f"({1e3 * measure_s:.1f} ms / {1e3 * run_s:.1f} ms) |")
    print(f"| peak RSS, one {big}x{big} depth 100 run + measures | {peak_rss_mb(big, 100):.0f} MB |")
    cold, warm = jit_start(max(reps, 2))
    print(f"| process start + first runs, empty / filled numba cache | {cold:.2f} s / {warm:.2f} s |")
    wall, timing = sweep_wall(ROOT / "examples" / "sweep.json", 2, reps)
    print(f"| examples/sweep.json (90 jobs), mpirun -n 2, wall | {wall:.2f} s ({timing}) |")
    with tempfile.TemporaryDirectory() as tmp:
        heavy = Path(tmp) / "heavy.json"
        sides = [101, 151, 201] if args.quick else [1001, 1501, 2001]
        runs = 2 if args.quick else 12
        heavy.write_text(json.dumps({"size": sides, "depth": [2, 100], "runs": runs, "seed": 1}))
        (one, t_one), (two, t_two) = (sweep_wall(heavy, n, max(1, reps // 2)) for n in (1, 2))
    jobs = [float(re.search(r"jobs ([0-9.]+) s", t).group(1)) for t in (t_one, t_two)]
    print(f"| strong scaling, sizes {sides} x depth 2, 100 x {runs} runs, -n 1 / -n 2: wall | "
          f"{one:.2f} s / {two:.2f} s = {one / two:.2f}x |")
    print(f"| same, jobs phase only (no start-up, no write) | {jobs[0]:.2f} s / {jobs[1]:.2f} s = "
          f"{jobs[0] / jobs[1]:.2f}x |")


if __name__ == "__main__":
    main()
