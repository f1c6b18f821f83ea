"""Stage 6: the sweep's HDF5 file, written by one process (rank 0) with plain h5py.

Layout: plain dtypes, no pickles; docs/output-format.md documents every group, dataset
and attribute (a test keeps it in step with the files written here).

Crash safety: the file is only ever written whole, as ``PATH.partial``, flushed to disk,
then renamed over ``PATH`` (atomic on POSIX).  Whatever moment the writer is killed at,
``PATH`` is the previous or the new snapshot, complete and readable, never half of one.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import h5py
import numpy as np

from .aggregate import SUMMARY_COLUMNS, SUMMARY_DTYPE
from .config import CLUSTER_COMPRESSION
from .parameters import ParameterError, SweepParams, parse_sweep
from .records import RECORD_COLUMNS, RECORD_DTYPE


@dataclass
class Snapshot:
    """What a resumed sweep takes back from its file."""

    attrs: dict[str, Any]
    runs: np.ndarray
    ring_sums: list[np.ndarray]
    failures: dict[int, str]
    clusters: dict[int, bytes]


SUM_DATASETS = ("filled_sum", "acceptance_seen", "acceptance_filled")  # a point's summed vector
# The (unit, description) of a point's datasets in density/.
DENSITY_COLUMNS = {
    "distance": ("cells", "each distinct distance from the centre cell present in the grid, ascending"),
    "fraction": ("", "filled fraction at that distance over the point's done runs (NaN if none)"),
    "filled_sum": ("cells", "filled cells at that distance, summed over the done runs"),
    "acceptance_seen": ("cells", "per value bin of [0, 1), cells that ever reached the frontier, summed over runs"),
    "acceptance_filled": ("cells", "per value bin of [0, 1), of those, the cells invaded, summed over runs"),
}


def partial_path(path: Path) -> Path:
    """Return the temporary name a snapshot is written under before the rename."""
    return path.with_name(path.name + ".partial")


def snapshot_target(path: Path) -> Path:
    """Return the file that snapshots of ``path`` replace -- the file itself, or the one
    a symbolic link names (the rename would replace the link, not its target) -- once
    checked: a regular file or nothing yet, in an existing directory (whether files can
    be created there, :func:`lock_output` finds out).

    Raises ParameterError naming what is wrong, before any work is done.
    """
    try:
        target = Path(os.path.realpath(path, strict=True))
    except FileNotFoundError:  # nothing there yet (or a link to nothing yet): created on the first snapshot
        target = Path(os.path.realpath(path))
    except OSError as exc:  # a loop of symbolic links
        raise ParameterError(str(path), None, f"cannot follow the output path: {exc.strerror}") from None
    if target.exists() and not target.is_file():
        kind = "a directory" if target.is_dir() else "not a regular file"
        raise ParameterError(str(path), None, f"output is {kind}; give the path of an HDF5 file")
    if not target.parent.is_dir():
        raise ParameterError(str(path), None, "output directory does not exist")
    return target


def _write_table(group: h5py.Group, table: np.ndarray, columns: tuple) -> None:
    """Write a structured array as one dataset per column, each with its ``unit`` and
    ``description`` attributes from ``columns`` ((name, dtype, unit, description) rows)."""
    for name, _, unit, description in columns:
        _described(group.create_dataset(name, data=np.ascontiguousarray(table[name])), unit, description)


def _described(dataset: h5py.Dataset, unit: str, description: str) -> None:
    """Give a dataset its ``unit`` and ``description`` attributes (self-describing files)."""
    dataset.attrs["unit"], dataset.attrs["description"] = unit, description


def _write_clusters(group: h5py.Group, runs: np.ndarray, points: np.ndarray, clusters: dict[int, bytes]) -> None:
    """One dataset per point, a row per run; each saved mask is already the compressed
    chunk (see jobs.pack_cluster), so it is written as it is, never recompressed."""
    counts = np.bincount(runs["point"], minlength=len(points))
    firsts = np.cumsum(counts) - counts  # a point's jobs are contiguous: runs are innermost
    for i, point in enumerate(points):
        jobs = np.arange(firsts[i], firsts[i] + counts[i])
        packed = -(-int(point["width"]) * int(point["height"]) // 8)
        data = group.create_dataset(point_group_name(i), shape=(len(jobs), packed), dtype=np.uint8,
                                    chunks=(1, packed), compression="gzip", compression_opts=CLUSTER_COMPRESSION)
        data.attrs.update(first_job=int(jobs[0]), width=point["width"], height=point["height"])
        for row, job in enumerate(jobs.tolist()):
            if job in clusters:
                data.id.write_direct_chunk((row, 0), clusters[job])


class WriteError(OSError):
    """A sweep file that could not be written (a full disk, a lost mount); the file at
    its path is as its last complete write left it."""


def write_snapshot(path: str | os.PathLike, attrs: dict[str, Any], runs: np.ndarray, summary: np.ndarray,
                   density: list[tuple[np.ndarray, np.ndarray]], ring_sums: list[np.ndarray],
                   points: np.ndarray, failures: dict[int, str], clusters: dict[int, bytes] | None = None) -> Path:
    """Write the whole sweep file atomically at ``path`` (see the module doc); return it.
    ``clusters`` (job -> packed mask) adds the ``clusters/`` group.  Raises
    :class:`WriteError` if the file cannot be written."""
    path = Path(path)
    partial = partial_path(path)
    reports: list[Callable[[], None]] = []
    try:
        try:
            with _held_reports(reports):
                _write_file(partial, attrs, runs, summary, density, ring_sums, points, failures, clusters)
        except RuntimeError as exc:
            if type(exc) is not RuntimeError:  # (NotImplementedError, RecursionError: not a write's)
                raise
            raise OSError(None, " ".join(str(exc).split())) from exc  # h5py's failed close
        os.replace(partial, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        partial.unlink(missing_ok=True)  # (a full disk: the half-written copy would keep the space)
        # errno's own words ("No space left on device"), not h5py's several lines; the
        # held reports are this failure's echoes
        reason = os.strerror(exc.errno) if exc.errno else exc.strerror or str(exc)
        raise WriteError(f"cannot write {path}: {reason}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        _report(reports)
        raise
    _report(reports)
    return path


@contextmanager
def _held_reports(held: list[Callable[[], None]]) -> Iterator[None]:
    """Hold back the errors that code reports and ignores (through sys.excepthook and
    sys.unraisablehook) while the block runs: append to ``held`` a call that reports
    each, for :func:`_report`.

    Why: once a write has failed, h5py prints a traceback for every object it then
    deallocates, through both hooks (a full disk: dozens), before the error itself
    arrives; the one line that names the error is enough."""
    hooks = sys.excepthook, sys.unraisablehook
    sys.excepthook = lambda *info: held.append(lambda: hooks[0](*info))
    sys.unraisablehook = lambda unraisable: held.append(lambda: hooks[1](unraisable))
    try:
        yield
    finally:
        sys.excepthook, sys.unraisablehook = hooks


def _report(held: list[Callable[[], None]]) -> None:
    """Report the errors :func:`_held_reports` held back (when they are not the echoes
    of a failed write)."""
    for report in held:
        report()


def _write_file(partial: Path, attrs: dict[str, Any], runs: np.ndarray, summary: np.ndarray,
                density: list[tuple[np.ndarray, np.ndarray]], ring_sums: list[np.ndarray],
                points: np.ndarray, failures: dict[int, str], clusters: dict[int, bytes] | None) -> None:
    """Write and fsync the whole sweep file at ``partial`` (see :func:`write_snapshot`)."""
    with h5py.File(partial, "w") as f:
        for key, value in attrs.items():
            f.attrs[key] = value
        _write_table(f.create_group("runs"), runs, RECORD_COLUMNS)
        _write_table(f.create_group("summary"), summary, SUMMARY_COLUMNS)
        group = f.create_group("density")
        for i, ((distance, fraction), sums) in enumerate(zip(density, ring_sums)):
            point = group.create_group(point_group_name(i))
            for name in points.dtype.names:  # in the points' own dtypes (engine: S8, not sized to its value)
                point.attrs.create(name, points[i][name], dtype=points.dtype[name])
            rings = len(distance)
            data = {"distance": distance, "fraction": fraction, "filled_sum": sums[:rings]}
            if len(sums) > rings:  # the continuous model's acceptance bins
                data["acceptance_seen"], data["acceptance_filled"] = np.split(sums[rings:], 2)
            for name, values in data.items():
                _described(point.create_dataset(name, data=values), *DENSITY_COLUMNS[name])
        errors = f.create_group("failures")
        jobs = sorted(failures)
        errors.create_dataset("job", data=np.array(jobs, np.int64))
        errors.create_dataset("error", data=np.array([failures[j] for j in jobs], dtype=h5py.string_dtype()))
        if clusters is not None:
            _write_clusters(f.create_group("clusters"), runs, points, clusters)
    with open(partial, "rb+") as handle:  # on disk before the rename makes it current
        os.fsync(handle.fileno())


LOCK_ATTEMPTS = 10  # lock files taken while other sessions remove theirs, at most
LOCK_BUSY_SECONDS = 0.1  # a held lock is retried this long before a session is refused


def lock_path(target: Path) -> Path:
    """Return the lock file of a sweep file, ``PATH.lock`` (see :func:`lock_output`)."""
    return target.with_name(target.name + ".lock")


def _flock_soon(handle: IO) -> None:
    """Take an exclusive flock on ``handle``, trying for LOCK_BUSY_SECONDS: a reader's
    instant shared lock (:func:`being_written`) is no session.  Raises BlockingIOError
    when it stays held."""
    deadline = time.monotonic() + LOCK_BUSY_SECONDS
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(LOCK_BUSY_SECONDS / 10)


def lock_output(target: Path, if_exists: ParameterError | None = None) -> IO:
    """Return the open lock file that keeps a second session from writing ``target`` at
    the same time: an exclusive ``flock`` on ``target.lock``, held while the file is open
    (the OS releases it when the process ends, however it ends).  Creating it also
    proves that files can be created beside ``target``.

    Raises ParameterError when another process holds it or it cannot be created, and
    ``if_exists`` (the lock released) when given and ``target`` exists once the lock is
    held -- checked under the lock, as a session on the same new output that ended a
    moment ago wrote it.  Where the file system takes no locks (NFS or Lustre mounted
    without them) it is returned unlocked: the run goes on unguarded.
    """
    handle = _locked(target)
    if if_exists is not None and target.exists():
        unlock_output(handle)
        raise if_exists
    return handle


def _locked(target: Path) -> IO:
    """Return the lock file of :func:`lock_output`, locked (or not, where locks fail)."""
    path = lock_path(target)
    for attempt in range(LOCK_ATTEMPTS):
        try:
            handle = open(path, "a")  # held open on purpose
        except OSError as exc:
            raise ParameterError(str(target), None, f"cannot create a file in {path.parent}: {exc.strerror}") from None
        try:
            _flock_soon(handle)
        except BlockingIOError:
            handle.close()
            raise ParameterError(str(target), None, f"another perc_mpi session is writing this file (it holds "
                                 f"{path}); wait for it to end, or give another output with -o") from None
        except OSError:  # ENOLCK, ENOTSUP, ...: no locks on this file system
            return handle
        # A session that ends removes its lock file: if it did so between the open and the
        # flock above, this locks a file no one else will see; lock the one there now.
        # (Where a file system never reports the same inode twice, take what we have.)
        opened = os.fstat(handle.fileno())
        try:
            current = os.stat(path)
            if (current.st_dev, current.st_ino) == (opened.st_dev, opened.st_ino) or attempt == LOCK_ATTEMPTS - 1:
                return handle
        except FileNotFoundError:
            pass
        handle.close()
    raise ParameterError(str(target), None, f"cannot lock {path}: it keeps being removed")


def unlock_output(handle: IO) -> None:
    """Remove the lock file of :func:`lock_output`, then release the lock."""
    Path(handle.name).unlink(missing_ok=True)
    handle.close()


def being_written(target: Path) -> bool:
    """Return whether a perc_mpi session holds ``target``'s lock (:func:`lock_output`)
    now: it is still writing the file."""
    try:
        # "r": neither creates nor empties it.  A shared lock for an instant: it takes
        # nothing from a session, only one starting in that instant would be refused.
        with open(lock_path(target)) as handle:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # no lock file (no session), or no locks on this file system
        return False
    return False


# Columns that files written by earlier versions lack: they read as NaN.
ADDED_LATER = frozenset({"runs/started"})


def read_table(group: h5py.Group, dtype: np.dtype) -> np.ndarray:
    """Return a group of 1-D column datasets as one structured array of ``dtype``; a
    column of ADDED_LATER that the group lacks reads as NaN.  Raises ValueError for any
    other missing column and for columns of unequal lengths (a damaged file: a missing
    ``runs/status`` read as 0 would mark every job pending)."""
    table = np.zeros(len(group[dtype.names[0]]), dtype)
    for name in dtype.names:
        path = f"{group.name.strip('/')}/{name}"
        if name not in group:
            if path not in ADDED_LATER:
                raise ValueError(f"{path} is missing")
            table[name] = np.nan
        elif group[name].shape != table.shape:
            raise ValueError(f"{path} has {group[name].shape[0] if group[name].shape else 0} rows, "
                             f"{group.name.strip('/')}/{dtype.names[0]} {len(table)}")
        else:
            table[name] = group[name][()]
    return table


def read_runs(f: h5py.File) -> np.ndarray:
    """Return ``runs/`` as one structured array (RECORD_DTYPE).  Raises ValueError
    for a damaged table (see :func:`read_table`), or one whose rows are not the sweep's
    jobs 0 .. jobs_total - 1 in order."""
    runs = read_table(f["runs"], RECORD_DTYPE)
    total = int(f.attrs.get("jobs_total", len(runs)))
    if len(runs) != total or not np.array_equal(runs["job"], np.arange(total)):
        raise ValueError(f"runs/ holds {len(runs)} rows, not the sweep's {total} jobs in job order")
    return runs


def read_summary(f: h5py.File) -> np.ndarray:
    """Return the ``summary/`` table a sweep file holds (SUMMARY_DTYPE)."""
    return read_table(f["summary"], SUMMARY_DTYPE)


def point_group_name(point: int) -> str:
    """Return the name of a point's group in ``density/`` (and dataset in ``clusters/``):
    ``point_NNNNN``, five digits or more."""
    return f"point_{point:05d}"


def point_groups(f: h5py.File) -> list[h5py.Group]:
    """Return the point groups of ``density/`` in point order (by number: from point
    100000 on, the names' lexicographic order is not the points')."""
    return [f["density"][point_group_name(i)] for i in range(len(f["density"]))]


def read_ring_sums(f: h5py.File) -> list[np.ndarray]:
    """Return each point's summed vector (rings, then any acceptance bins), point order."""
    return [np.concatenate([point[name][()] for name in SUM_DATASETS if name in point])
            for point in point_groups(f)]


def recorded_sweep(attrs: dict, source: str) -> SweepParams:
    """Return the sweep a file's root attributes record: its sweep JSON with the seed it
    used (one drawn for a sweep without one).  Raises ParameterError if they are missing
    or damaged."""
    try:
        text = attrs["sweep_json"]
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return parse_sweep({**data, "seed": int(attrs["sweep_seed"])}, text, source)
    except ParameterError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ParameterError(source, None, f"its recorded sweep is missing or damaged ({exc!r})") from None


def check_readable(path: Path) -> None:
    """Raise OSError (naming the file) unless ``path`` is a regular file in HDF5's format."""
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "no such file", str(path))
    if not path.is_file():  # a FIFO or a device would block HDF5's open
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    if not h5py.is_hdf5(path):
        raise OSError(errno.EINVAL, "not an HDF5 file" + (" (a sweep's JSON? give its output, the .h5 file)"
                                                          if path.suffix == ".json" else ""), str(path))


def read_attrs(path: Path) -> dict[str, Any]:
    """Return a sweep file's root attributes (what it is, without its tables)."""
    check_readable(path)
    with h5py.File(path, "r") as f:
        return dict(f.attrs)


def read_snapshot(path: Path) -> Snapshot:
    """Return the :class:`Snapshot` stored in a sweep file."""
    check_readable(path)
    with h5py.File(path, "r") as f:
        runs = read_runs(f)
        ring_sums = read_ring_sums(f)
        failures = dict(zip(f["failures/job"][()].tolist(), (e.decode() for e in f["failures/error"][()])))
        clusters = {}
        for data in f["clusters"].values() if "clusters" in f else ():
            first = int(data.attrs["first_job"])
            for row in saved_rows(data):
                clusters[first + row] = data.id.read_direct_chunk((row, 0))[1]
        return Snapshot(dict(f.attrs), runs, ring_sums, failures, clusters)


def saved_rows(data: h5py.Dataset) -> list[int]:
    """Return the rows of a ``clusters/`` dataset that hold a mask (a written chunk)."""
    rows: list[int] = []
    try:
        # The chunk index read once: asked row by row, HDF5 scans it every time (a file
        # of 200 000 saved masks took 110 s to read back, against 1 s).
        data.id.chunk_iter(lambda chunk: rows.append(chunk.chunk_offset[0]))
    except (AttributeError, NotImplementedError):  # h5py built on HDF5 < 1.14: row by row
        rows = [row for row in range(data.shape[0])
                if data.id.get_chunk_info_by_coord((row, 0)).byte_offset is not None]
    return rows
