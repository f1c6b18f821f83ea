"""Where a sweep's start-up and exit go, at each rank count: ``python benchmarks/startup.py``.

Runs ``mpirun -n N`` of this file for each rank count, ``--reps`` times in alternation,
and prints per phase the median over the repetitions of the ranks' median and slowest
seconds, and rank 0's total.  Each rank goes through a sweep's start-up in the driver's
order (see ``perc_mpi.driver.run_sweep``), for the kernels and grid shapes of the
benchmark's scaling sweep (fast engine, depths 2 and 100; sides 1001, 1501, 2001):
import mpi4py, import perc_mpi; rank 0 loads the kernels and builds the ring tables while
the others set up Numba; a barrier; the others load the kernels and build the tables (rank
0 writes its first snapshot then, not done here); a barrier.  ``exit`` is from rank 0's
last line to mpirun's return.  The kernels are compiled once, untimed, before the first
launch.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CHILD = "PERC_MPI_STARTUP_CHILD"
PHASES = ["import mpi4py", "import perc_mpi", "rank 0 kernels and tables / others Numba set-up",
          "first barrier", "others kernels and tables", "second barrier", "exit"]
SHAPES = [(1001, 1001), (1501, 1501), (2001, 2001)]
KINDS = [("fast", 2), ("fast", 100)]


def child() -> None:
    """One rank: time the start-up phases; rank 0 prints every rank's as one JSON line."""
    marks = [time.perf_counter()]
    from mpi4py import MPI
    marks.append(time.perf_counter())
    from perc_mpi import engine, session
    marks.append(time.perf_counter())
    comm = MPI.COMM_WORLD
    kinds = [(name, engine.kernel_depth(name, depth)) for name, depth in KINDS]
    if comm.rank == 0:
        session.warm_up(kinds, SHAPES)
    else:
        session.prime_numba()
    marks.append(time.perf_counter())
    comm.Barrier()
    marks.append(time.perf_counter())
    if comm.rank != 0:
        session.warm_up(kinds, SHAPES)
    marks.append(time.perf_counter())
    comm.Barrier()
    marks.append(time.perf_counter())
    phases = comm.gather([later - earlier for earlier, later in zip(marks, marks[1:])], root=0)
    if comm.rank == 0:
        print(json.dumps({"phases": phases, "end": time.time()}), flush=True)


def launch(ranks: int) -> list[list[float]]:
    """Return, per rank, the seconds of each phase of one ``mpirun -n ranks`` (exit added
    to every rank's: only rank 0's end is seen)."""
    bin_dir = os.path.dirname(sys.executable)
    env = {**os.environ, CHILD: "1", "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    out = subprocess.run([os.path.join(bin_dir, "mpirun"), "-n", str(ranks), sys.executable, __file__],
                         env=env, capture_output=True, text=True, check=True).stdout
    returned = time.time()
    line = json.loads(out.strip().splitlines()[-1])
    return [phases + [returned - line["end"]] for phases in line["phases"]]


def main() -> None:
    """Print the start-up table for the rank counts asked."""
    from perc_mpi.bench import positive, rank_list  # here, not at the top: the children time their imports

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=rank_list, default=[1, 16], help="comma-separated rank counts (default 1,16)")
    parser.add_argument("--reps", type=positive, default=3, help="repetitions per rank count (default 3)")
    args = parser.parse_args()
    counts = args.ranks
    subprocess.run([sys.executable, "-c", "from perc_mpi import engine; from perc_mpi.parameters import RunParams\n"
                    + "".join(f"engine.run(RunParams(5, 5, {d}, 0, {n!r}))\n" for n, d in KINDS)], check=True)
    launches: dict[int, list[list[list[float]]]] = {n: [] for n in counts}
    for _ in range(args.reps):  # alternating, so that a slow spell of the machine hits every count
        for n in counts:
            launches[n].append(launch(n))
    print(f"start-up, seconds: median over {args.reps} launches of the ranks' median / slowest (rank 0's total)")
    print("| phase | " + " | ".join(f"-n {n}" for n in counts) + " |")
    print("|---|" + "---|" * len(counts))
    for i, phase in enumerate(PHASES):
        cells = []
        for n in counts:
            typical = statistics.median(statistics.median(rank[i] for rank in ranks) for ranks in launches[n])
            slowest = statistics.median(max(rank[i] for rank in ranks) for ranks in launches[n])
            cells.append(f"{typical:.2f} / {slowest:.2f}")
        print(f"| {phase} | " + " | ".join(cells) + " |")
    totals = [statistics.median(sum(ranks[0]) for ranks in launches[n]) for n in counts]
    print("| total, rank 0 | " + " | ".join(f"{total:.2f}" for total in totals) + " |")


if __name__ == "__main__":
    if os.environ.get(CHILD):
        child()
    else:
        main()
