"""Stage 7: text outputs -- the grid drawing and the CSV summary."""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO

import numpy as np

from . import config

FILLED_CHAR, EMPTY_CHAR = "X", "."


def draw_grid(filled: np.ndarray) -> str:
    """Return the mask as text, one row per y from height-1 down to 0, ``X`` where filled
    (the original's ``save_grid``)."""
    # In place, in one byte per cell, decoded straight from the array's memory: at
    # 10001 x 10001 a where/astype/concatenate/tobytes chain peaked at 11 bytes a cell.
    width, height = filled.shape
    lines = np.empty((height, width + 1), np.uint8)
    text = lines[:, :width]
    text[...] = filled.T[::-1]
    text *= ord(FILLED_CHAR) - ord(EMPTY_CHAR)
    text += ord(EMPTY_CHAR)
    lines[:, width] = ord("\n")
    return str(lines.data, "ascii")


def write_csv(stream: IO[str], header: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Write a CSV table with the original's dialect (``\\n`` line ends, floats as repr)."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([repr(float(v)) if isinstance(v, (float, np.floating)) else v for v in row] for row in rows)


def write_summary_csv(stream: IO[str], summary: np.ndarray) -> None:
    """Write the summary table as CSV: the original's columns
    ``size,depth,count,dimension,density_x,density_k`` first, then the extra ones."""
    names = summary.dtype.names

    def cell(name, value):
        if name == "size" and value < 0:
            return ""  # rectangular grid: see width and height
        return value.decode() if isinstance(value, bytes) else value

    write_csv(stream, names, ([cell(n, row[n]) for n in names] for row in summary))


@contextmanager
def to_stdout() -> Iterator[None]:
    """Write to stdout inside this block; a reader that leaves early (``| head``) ends
    the output quietly instead of with a BrokenPipeError traceback (and, under MPI, an
    abort): what is left goes to /dev/null, and the program goes on to its end.  (Under
    ``mpirun``, MPICH's mpiexec, which forwards the output, is itself ended by SIGPIPE:
    the command's status is then 141, whatever the program's.)"""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def depth_label(depth: int) -> str:
    """Return how a depth reads in text: ``depth 10``, or ``continuous`` (stored as 0)."""
    return "continuous" if depth == config.CONTINUOUS else f"depth {depth}"


def plural(count: int, noun: str) -> str:
    """Return ``count`` with ``noun``, in the plural unless the count is one ("1 rank",
    "2 ranks")."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
