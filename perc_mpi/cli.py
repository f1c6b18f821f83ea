"""The command line: ``python -m perc_mpi FILE`` runs one grid or a sweep (under mpirun for several ranks).

A file with a ``runs`` key is a sweep (see :mod:`perc_mpi.driver`); any other file is a
single run whose grid is drawn on stdout (or into DRAWING / ``-o``).
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import math
import os
import sys
from pathlib import Path

from . import __version__, config, report
from .console import ArgumentParser, fail, launcher_rank
from .parameters import ParameterError, available_memory, is_sweep, parse_run, read_json
from .stop import StopRequest


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m perc_mpi``."""
    parser = ArgumentParser(
        prog="python -m perc_mpi",
        description="Invasion percolation: one run drawn as text, or an MPI sweep into HDF5 + CSV.",
        epilog="Also: 'python -m perc_mpi merge OUTPUT PART...', 'report FILE', 'validate FILE' (each with --help).",
    )
    parser.add_argument("file", help="single-run JSON (width, height, depth, seed) or sweep JSON (runs, ...)")
    parser.add_argument("drawing", nargs="?", help="single run: write the drawing here instead of stdout")
    parser.add_argument("-o", "--output", help="single run: drawing file; sweep: HDF5 file (default: FILE with .h5)")
    parser.add_argument("--dry-run", action="store_true", help="sweep: print the plan and the balance, run nothing")
    parser.add_argument("--ranks", type=int, metavar="N", help="with --dry-run: plan for N ranks (default: MPI size)")
    parser.add_argument("--force", action="store_true", help="sweep: overwrite an existing output file")
    parser.add_argument("--resume", action="store_true",
                        help="sweep: continue the output file, running only the jobs not done (or start it)")
    parser.add_argument("--save-clusters", action="store_true",
                        help="sweep: also store every run's filled mask, bit-packed and compressed")
    parser.add_argument("--slice", metavar="INDEX/COUNT",
                        help="sweep: run only the jobs with job %% COUNT == INDEX (job arrays; see merge)")
    parser.add_argument("--checkpoint", type=float, metavar="SECONDS",
                        help="sweep: finished runs reach the output file about this often, or "
                             f"{1 / config.SNAPSHOT_SHARE:g}x the faster of the last two snapshots' write "
                             f"times when writes are slow (default {config.CHECKPOINT_SECONDS:g})")
    parser.add_argument("--version", action="version", version=f"perc_mpi {__version__}")
    return parser


# The options that only a sweep takes, and their attributes (None or False: not given).
SWEEP_OPTIONS = {"--dry-run": "dry_run", "--ranks": "ranks", "--force": "force", "--resume": "resume",
                 "--save-clusters": "save_clusters", "--slice": "slice", "--checkpoint": "checkpoint"}


def run_single(args: argparse.Namespace, data: dict) -> int:
    """Run and draw one grid from its parsed JSON ``data``; return the exit status."""
    for option, attribute in SWEEP_OPTIONS.items():
        if getattr(args, attribute) not in (None, False):
            return fail(f"{option} applies to sweep files only ({args.file} has no 'runs' key: a single run)")
    if args.drawing and args.output:
        return fail("give the drawing path once (DRAWING or -o), not both")
    target = args.drawing or args.output
    if target and Path(target).exists() and os.path.samefile(target, args.file):
        return fail(f"{target}: that is the run's own JSON file; give another path for the drawing")
    try:
        parse_run(data, args.file)  # bad input fails before Numba's import (~0.5 s)
        from . import engine, measures  # imports Numba: the memory check counts it as held
        params = parse_run(data, args.file, available_memory())
    except ParameterError as exc:
        return fail(str(exc))

    result = engine.run(params)
    drawing = report.draw_grid(result.filled)
    if target:
        try:
            Path(target).write_text(drawing)
        except OSError as exc:
            return fail(f"{target}: cannot write the drawing: {exc.strerror}")
    else:
        with report.to_stdout():
            sys.stdout.write(drawing)
    dimension = measures.box_dimension(*result.measure_args)
    print(
        f"filled {result.n_filled} of {params.width}x{params.height} cells, {report.depth_label(params.depth)}, "
        f"engine {params.engine}, dimension {dimension:.4f}, seed {params.seed}",
        file=sys.stderr,
    )
    return config.EXIT_OK


# Each subcommand and the module whose main() runs it (imported only when asked for).
SUBCOMMANDS = {"merge": "merge", "report": "plots", "validate": "validate"}


def subcommand_typo(word: str) -> str | None:
    """Return the subcommand ``word`` is a near miss of (``reports``, ``merg``), if it is
    one and names no file."""
    if os.sep in word or Path(word).exists():
        return None
    close = difflib.get_close_matches(word.lower(), SUBCOMMANDS, n=1, cutoff=0.75)
    return close[0] if close else None


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SUBCOMMANDS:
        # They need no MPI: under a launcher, rank 0 alone runs them (one output file, one
        # report, each line once).
        if launcher_rank() != 0:
            return config.EXIT_OK
        return importlib.import_module(f".{SUBCOMMANDS[argv[0]]}", __package__).main(argv[1:])
    if argv and (meant := subcommand_typo(argv[0])):  # before argparse: "merg OUT A B" has too many arguments
        return fail(f"{argv[0]}: no such file or subcommand; did you mean '{meant}'?")
    args = build_parser().parse_args(argv)
    if args.checkpoint is not None and not (math.isfinite(args.checkpoint) and args.checkpoint > 0):
        return fail(f"--checkpoint: expected a number of seconds > 0, got {args.checkpoint}")
    if args.resume and args.force:
        return fail("--resume and --force exclude each other")
    if args.ranks is not None and not 1 <= args.ranks <= config.MAX_JOBS:
        return fail(f"--ranks: expected 1..{config.MAX_JOBS}, got {args.ranks}")
    try:
        data, text = read_json(args.file)
    except ParameterError as exc:
        return fail(str(exc))
    if not is_sweep(data):
        # A single run needs no MPI: under a launcher, rank 0 alone runs it.
        return run_single(args, data) if launcher_rank() == 0 else config.EXIT_OK
    if args.drawing:
        return fail(f"{args.drawing}: a second file name is for a single run's drawing; "
                    "a sweep's output file is given with -o PATH")
    if args.ranks is not None and not args.dry_run:
        return fail("--ranks applies with --dry-run only (a sweep runs on the ranks mpirun starts)")
    if args.checkpoint is None:
        args.checkpoint = config.CHECKPOINT_SECONDS
    # Before the slow imports: a stop signal during start-up is a request like any other.
    stop = StopRequest()
    stop.install()
    from . import driver  # imports mpi4py, Numba and h5py: only sweeps need MPI

    return driver.main(args, data, text, stop)


def console_main() -> None:
    """Entry point of the ``perc_mpi`` console script."""
    sys.exit(main())
