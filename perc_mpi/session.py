"""Rank 0's start of a sweep session, no MPI: the output checked and locked, a resumed
file's results taken back, the plan and its schedule (:class:`Start`); the dry-run
report; what every rank loads before its jobs; the commands a session reports.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

import numba
import numpy as np

from . import config, engine, measures
from .console import launcher, reason
from .parameters import (
    ParameterError,
    RunParams,
    SweepParams,
    available_memory,
    kept_memory,
    largest_run,
    parse_slice,
    parse_sweep,
    readable_size,
    run_memory,
    sweep_differences,
)
from .plan import RESERVE, Plan, assign_ranks, balance, build_plan, in_slice
from .records import DONE, pending_records
from .report import depth_label, plural
from .store import Snapshot, lock_output, read_snapshot, recorded_sweep, snapshot_target, unlock_output


def output_path(args: argparse.Namespace) -> Path:
    """Return the sweep's HDF5 path as given (``-o``, or the sweep file with ``.h5``)."""
    return Path(args.output) if args.output else Path(args.file).with_suffix(".h5")


def checked_output(args: argparse.Namespace) -> Path:
    """Return the file the sweep's snapshots go to (see :func:`perc_mpi.store.snapshot_target`),
    never the sweep file itself; raise ParameterError if it cannot be one."""
    path = output_path(args)
    target = snapshot_target(path)  # first: what no option can mend (a directory, no such directory)
    if path.exists() and os.path.samefile(path, args.file):
        raise ParameterError(str(path), None, "output is the sweep file itself; give another with -o")
    return target


def clobber_error(args: argparse.Namespace) -> ParameterError | None:
    """Return the error for an existing output, None if ``--force`` or ``--resume`` lets
    the sweep have it."""
    if args.force or args.resume:
        return None
    return ParameterError(str(output_path(args)), None, "output exists; use --resume to continue it, --force "
                          "to overwrite it or -o to choose another")


def locked_output(args: argparse.Namespace) -> tuple[Path, IO]:
    """Return :func:`checked_output` and its lock (:func:`perc_mpi.store.lock_output`),
    refusing to clobber an existing file (:func:`clobber_error`)."""
    target = checked_output(args)
    # Before reading the file: a session still writing it refuses this one.
    return target, lock_output(target, clobber_error(args))


@dataclass
class Start:
    """What rank 0 decides before any work: the plan, the records so far (pending or
    taken back from a resumed file), and the jobs left with their ranks."""

    sweep: SweepParams
    path: Path
    plan: Plan
    runs: np.ndarray
    ring_sums: list[np.ndarray] | None
    failures: dict[int, str]
    clusters: dict[int, bytes] | None  # saved masks by job (None: --save-clusters is off)
    sessions: int
    earlier: dict  # the resumed file's root attributes ({} for a new file)
    lock: IO | None  # held while this session writes the output (store.lock_output); None: dry run
    scope: np.ndarray  # mask of the jobs this file is for (all, or a --slice)
    slice_text: str  # the --slice argument, "" for the whole sweep
    todo: np.ndarray
    ranks: np.ndarray  # the rank each job of todo is scattered to, or RESERVE


def take_back(path: Path, data: dict, sweep: SweepParams, part: str) -> tuple[Snapshot, SweepParams]:
    """Return ``(snapshot, sweep)`` of a file to resume, refusing a different sweep (by
    what it runs, see :func:`perc_mpi.parameters.sweep_differences`) or slice; a sweep
    without a seed takes the seed the file recorded."""
    try:
        snapshot = read_snapshot(path)
        before = recorded_sweep(snapshot.attrs, str(path))
    except (OSError, KeyError, ValueError) as exc:  # ParameterError is a ValueError
        raise ParameterError(str(path), None, f"cannot resume from this file: {reason(exc)}") from None
    if snapshot.attrs.get("slice", "") != part:
        raise ParameterError(str(path), None, f"made for --slice {snapshot.attrs.get('slice') or '(none)'}, "
                             f"not {part or '(none)'}")
    if data.get("seed") is None:
        sweep = replace(sweep, seed=before.seed)
    differences = sweep_differences(before, sweep)
    if differences:
        diff = "; ".join(f"{what}: file has {old}, sweep has {new}" for what, old, new in differences)
        raise ParameterError(str(path), None, f"made by a different sweep ({diff}); use -o for a new "
                             "output or --force to start over")
    return snapshot, sweep


def prepare(args: argparse.Namespace, data: dict, text: str, n_ranks: int, ranks_per_node: int) -> Start:
    """Return rank 0's :class:`Start` of a session: the sweep validated, its output checked
    and locked (not for a dry run), a resumed file's results taken back, the jobs left
    planned and scheduled on ``n_ranks`` ranks."""
    # A dry run plans for the nodes the sweep will run on, which may not be this one (a
    # login node): it reports the largest run's memory instead of checking it here.
    memory = None if args.dry_run else available_memory(ranks_per_node)
    sweep = parse_sweep(data, text, args.file, memory, ranks_per_node)
    if args.dry_run:  # writes nothing, locks nothing; says what would stop the sweep itself
        try:
            if checked_output(args).exists() and (error := clobber_error(args)):
                raise error
        except ParameterError as exc:
            print(f"perc_mpi: note: without --dry-run the sweep would stop here: {exc}", file=sys.stderr)
        return _start(args, data, sweep, output_path(args), None, n_ranks)
    path, lock = locked_output(args)
    try:
        return _start(args, data, sweep, path, lock, n_ranks)
    except BaseException:
        unlock_output(lock)
        raise


def _start(args: argparse.Namespace, data: dict, sweep: SweepParams, path: Path, lock: IO | None,
           n_ranks: int) -> Start:
    """Return the :class:`Start` of a sweep whose output is checked (and locked)."""
    part = parse_slice(args.slice)
    snapshot = None
    if args.resume and path.exists():  # a dry run too: it plans the jobs left
        snapshot, sweep = take_back(path, data, sweep, args.slice or "")
    if part is not None and snapshot is None and data.get("seed") is None:
        raise ParameterError(args.file, "'seed'", "--slice needs a fixed seed (each slice would draw its "
                             "own, and merge would refuse the parts); set \"seed\" in the sweep file")
    if snapshot and args.save_clusters and not snapshot.attrs.get("save_clusters", False) \
            and np.any(snapshot.runs["status"] == DONE):
        raise ParameterError(str(path), None, "made without --save-clusters: its finished runs have no "
                             "masks; resume without it, or start a new file (-o, or --force)")
    plan = build_plan(sweep)
    runs = snapshot.runs if snapshot else pending_records(plan.jobs)
    scope = in_slice(plan.jobs, part)
    todo = plan.jobs[scope & (runs["status"] != DONE)]
    # A resumed file keeps saving masks if it has them.
    save = args.save_clusters or bool(snapshot and snapshot.attrs.get("save_clusters", False))
    clusters = (snapshot.clusters if snapshot else {}) if save else None
    return Start(
        sweep=sweep, path=path, plan=plan, runs=runs,
        ring_sums=snapshot.ring_sums if snapshot else None,
        failures=snapshot.failures if snapshot else {},
        clusters=clusters,
        sessions=int(snapshot.attrs.get("sessions", 0)) + 1 if snapshot else 1,
        earlier=snapshot.attrs if snapshot else {},
        lock=lock, scope=scope, slice_text=args.slice or "", todo=todo, ranks=assign_ranks(todo, n_ranks),
    )


def kernel_kinds(rows: np.ndarray) -> list[tuple[str, int]]:
    """Return the (engine, depth) of a tiny run for each compiled kernel that ``rows``
    (parameter points, or jobs) need (see :func:`perc_mpi.engine.kernel_depth`)."""
    return sorted({(name.decode(), engine.kernel_depth(name.decode(), int(depth)))
                   for name, depth in zip(rows["engine"], rows["depth"])})


def job_shapes(rows: np.ndarray) -> list[tuple[int, int]]:
    """Return the (width, height) of ``rows``' grids (parameter points, or jobs), each once."""
    return sorted({(int(w), int(h)) for w, h in zip(rows["width"], rows["height"])})


def points_to_run(start: Start) -> np.ndarray:
    """Return the parameter points that have jobs to run this session."""
    points = start.plan.points
    return points[np.bincount(start.todo["point"], minlength=len(points)) > 0]


def prime_numba() -> None:
    """Set up Numba's compiler in this process by compiling a trivial function (which
    writes no cache file, so ranks doing it at once cannot collide).  The set-up, its
    registries of types and operations, is most of a cached kernel's first load
    (measured: 0.14-0.17 s of 0.17-0.26 s; the load itself then takes 15-25 ms), so a
    rank that primes while rank 0 compiles or loads the kernels starts its jobs that
    much sooner."""
    numba.njit(lambda x: x + 1)(1)


def warm_up(kinds: list[tuple[str, int]], shapes: list[tuple[int, int]]) -> None:
    """Compile or load the kernels of :func:`kernel_kinds` with a tiny run each, and
    build the measures' ring tables of the first shapes (as many as are kept), so that
    no job's ``seconds`` includes a process's one-time work."""
    for name, depth in kinds:
        engine.run(RunParams(5, 5, depth, 0, name))
    for width, height in shapes[:config.RING_TABLES_KEPT]:
        measures.ring_table(width, height)


def print_plan(start: Start, n_ranks: int) -> None:
    """Print the dry-run report: job counts per point, jobs scattered and expected work
    per rank, jobs held back, imbalance, the largest run's memory."""
    plan, todo = start.plan, start.todo
    drawn = not start.earlier and json.loads(plan.sweep.text).get("seed") is None
    seed = "drawn when the sweep runs" if drawn else plan.sweep.seed
    print(f"{plural(len(plan.jobs), 'job')}, {plural(len(plan.points), 'parameter point')}, "
          f"{plural(n_ranks, 'rank')}, sweep seed {seed}, {plural(len(todo), 'job')} to run")
    print("width,height,depth,engine,jobs")
    for p, count in zip(plan.points, np.bincount(plan.jobs["point"], minlength=len(plan.points)).tolist()):
        print(f"{p['width']},{p['height']},{p['depth']},{p['engine'].decode()},{count}")
    work, imbalance = balance(todo, start.ranks, n_ranks)
    share = work / work.sum() if work.sum() else work
    print("rank,scattered_jobs,expected_work_share")
    scattered = np.bincount(start.ranks[start.ranks != RESERVE], minlength=n_ranks).tolist()
    for r in range(n_ranks):
        print(f"{r},{scattered[r]},{share[r]:.4f}")
    print(f"held back by rank 0 for ranks that run dry: {np.count_nonzero(start.ranks == RESERVE)} jobs")
    print(f"expected imbalance (max/mean work): {imbalance:.3f}")
    width, height, engine_name, depth = largest_run(plan.sweep)
    tables, rank_zero = kept_memory(plan.sweep)
    per_rank = config.PROCESS_BYTES + run_memory(width, height, depth, engine_name) + tables
    print(f"memory (not checked against this node's by a dry run): about "
          f"{readable_size(per_rank)} per rank for the largest run "
          f"({width}x{height}, {depth_label(depth)}, {engine_name}), the distance tables and the process "
          f"itself (~{readable_size(config.PROCESS_BYTES)} before its runs), "
          f"{readable_size(rank_zero)} more on rank 0 for the jobs' records and summed profiles (the ranks on one "
          "node share its memory)")


def resume_command(args: argparse.Namespace, path: Path, size: int) -> str:
    """Return the command that continues this sweep: with ``srun`` if srun started it
    (with its MPI plugin; the batch scripts of jobs/ resume by themselves), else with the
    ``mpirun`` beside this Python if there is one (the ``mpich`` extra's, in the README's
    set-up), else the one on the PATH."""
    if launcher() == "srun":
        plugin = os.environ.get("SLURM_MPI_TYPE", "none")
        words = ["srun"] + ([f"--mpi={plugin}"] if plugin != "none" else [])
    else:
        beside = Path(sys.executable).parent / "mpirun"
        words = [str(beside) if beside.exists() else "mpirun"]
    words += ["-n", str(size), sys.executable, "-m", "perc_mpi", args.file, "--resume", "-o", str(path)]
    if args.slice:
        words += ["--slice", args.slice]
    if args.checkpoint != config.CHECKPOINT_SECONDS:
        words += ["--checkpoint", repr(args.checkpoint)]  # every digit given
    return shlex.join(words)
