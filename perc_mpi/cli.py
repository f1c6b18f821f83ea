"""The command line: ``python -m perc_mpi FILE`` runs one grid or, under mpirun, a sweep.

A file with a ``runs`` key is a sweep (see :mod:`perc_mpi.driver`); any other file is a
single run whose grid is drawn on stdout (or into DRAWING / ``-o``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__, config, engine, measures, report
from .parameters import ParameterError, available_memory, is_sweep, parse_run, read_json


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m perc_mpi``."""
    parser = argparse.ArgumentParser(
        prog="python -m perc_mpi",
        description="Invasion percolation: one run drawn as text, or an MPI sweep into HDF5 + CSV.",
    )
    parser.add_argument("file", help="single-run JSON (width, height, depth, seed) or sweep JSON (runs, ...)")
    parser.add_argument("drawing", nargs="?", help="single run: write the drawing here instead of stdout")
    parser.add_argument("-o", "--output", help="single run: drawing file; sweep: HDF5 file (default: FILE with .h5)")
    parser.add_argument("--dry-run", action="store_true", help="sweep: print the plan and the balance, run nothing")
    parser.add_argument("--version", action="version", version=f"perc_mpi {__version__}")
    return parser


def fail(message: str) -> int:
    """Print one error line on stderr and return the bad-input exit status."""
    print(f"perc_mpi: error: {message}", file=sys.stderr)
    return config.EXIT_BAD_INPUT


def run_single(args: argparse.Namespace, data: dict) -> int:
    """Run and draw one grid from its parsed JSON ``data``; return the exit status."""
    if args.dry_run:
        return fail("--dry-run applies to sweep files only")
    if args.drawing and args.output:
        return fail("give the drawing path once (DRAWING or -o), not both")
    try:
        params = parse_run(data, args.file, available_memory())
    except ParameterError as exc:
        return fail(str(exc))
    result = engine.run(params)
    drawing = report.draw_grid(result.filled)
    target = args.drawing or args.output
    if target:
        try:
            Path(target).write_text(drawing)
        except OSError as exc:
            return fail(f"{target}: cannot write the drawing: {exc.strerror}")
    else:
        sys.stdout.write(drawing)
    dimension = measures.box_dimension(result.filled)
    print(
        f"filled {result.n_filled} of {params.width}x{params.height} cells, depth {params.depth}, "
        f"engine {params.engine}, dimension {dimension:.4f}, seed {params.seed}",
        file=sys.stderr,
    )
    return config.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        data, text = read_json(args.file)
    except ParameterError as exc:
        return fail(str(exc))
    if not is_sweep(data):
        return run_single(args, data)
    from . import driver  # imports mpi4py: only sweeps need MPI

    return driver.main(args, data, text)


def console_main() -> None:
    """Entry point of the ``perc_mpi`` console script."""
    sys.exit(main())
