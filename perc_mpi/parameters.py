"""Stage 1: read and validate run and sweep parameter files.

Everything a user can get wrong is caught here, before any work starts, and reported
as one :class:`ParameterError` naming the file, the field, what was received and what
was expected.
"""

from __future__ import annotations

import difflib
import itertools
import json
import numbers
import os
import random
import re
import resource
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import config

SINGLE_KEYS = ("width", "height", "depth", "seed", "engine")
SWEEP_KEYS = ("size", "width", "height", "depth", "runs", "seed", "engine")


class ParameterError(ValueError):
    """Bad input: ``source: field: message``; the CLI prints it and exits with status 2."""

    def __init__(self, source: str, field: str | None, message: str):
        self.source, self.field, self.message = source, field, message
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {message}")

    def __reduce__(self):  # picklable, so rank 0 can broadcast it
        return type(self), (self.source, self.field, self.message)


@dataclass(frozen=True)
class RunParams:
    """One invasion: grid shape, value depth, run seed and engine."""

    width: int
    height: int
    depth: int  # config.CONTINUOUS (0) for the continuous model
    seed: int
    engine: str = config.DEFAULT_ENGINE


@dataclass(frozen=True)
class SweepParams:
    """A sweep: the values of every axis (width, height, depth, engine), runs per point,
    sweep seed."""

    axes: dict[str, tuple]
    runs: int
    seed: int
    square: bool  # given as ``size`` (the original's square grids)
    text: str  # the sweep JSON exactly as read, for the output's provenance


def grid_shapes(sweep: SweepParams) -> tuple[tuple[int, int], ...]:
    """Return the sweep's grid shapes ``(width, height)`` in cube order."""
    width, height = sweep.axes["width"], sweep.axes["height"]
    return tuple((w, w) for w in width) if sweep.square else tuple(itertools.product(width, height))


def sweep_differences(first: SweepParams, second: SweepParams) -> list[tuple[str, str, str]]:
    """Return ``(what, first's, second's)`` for each thing two sweeps run differently --
    grid shapes, depths, engines, runs per point, seed -- shown short; none for the same
    sweep written differently (keys reordered, a default written out, ``size`` as
    ``width`` and ``height``)."""
    def runs_of(sweep: SweepParams) -> dict[str, Any]:
        return {"grids (width, height)": grid_shapes(sweep), "depth": sweep.axes["depth"],
                "engine": sweep.axes["engine"], "runs": sweep.runs, "seed": sweep.seed}

    def shown(value: Any) -> str:
        if isinstance(value, tuple) and len(value) > 8:
            return f"({', '.join(map(repr, value[:8]))}, ... {len(value)} in all)"
        return repr(value)

    a, b = runs_of(first), runs_of(second)
    return [(key, shown(a[key]), shown(b[key])) for key in a if a[key] != b[key]]


def draw_seed() -> int:
    """Return a fresh seed from the OS entropy source, in the range the original uses."""
    return random.SystemRandom().randrange(sys.maxsize)


class _DuplicateKey(Exception):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build a JSON object, refusing a repeated key (json keeps the last one silently)."""
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise _DuplicateKey(key)
    return dict(pairs)


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"  # the first bytes of an HDF5 file (without a user block)


def read_json(path: str | os.PathLike) -> tuple[dict[str, Any], str]:
    """Return ``(object, text)`` of a JSON file whose top level must be an object."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # a BOM (Windows editors) is no error
    except FileNotFoundError:
        raise ParameterError(source, None, "no such file") from None
    except UnicodeDecodeError as exc:
        with open(path, "rb") as stream:
            if stream.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
                raise ParameterError(source, None, "an HDF5 file (a sweep's output?), not a JSON input: see it with "
                                     "'python -m perc_mpi report FILE' or perc_mpi.results.open") from None
        raise ParameterError(source, None, f"cannot read: {exc}") from None
    except OSError as exc:
        raise ParameterError(source, None, f"cannot read: {exc}") from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise ParameterError(source, None, f"invalid JSON: {exc}") from None
    except _DuplicateKey as exc:
        raise ParameterError(source, repr(exc.args[0]), "key given twice") from None
    if not isinstance(data, dict):
        raise ParameterError(source, None, f"expected a JSON object, got {type(data).__name__}")
    return data, text


def is_sweep(data: dict[str, Any]) -> bool:
    """Return True for a sweep file (it has ``runs``), False for a single run."""
    return "runs" in data


def _check_keys(source: str, data: dict, allowed: tuple[str, ...], required: tuple[str, ...]):
    for key in data:
        if key not in allowed:
            hint = difflib.get_close_matches(key, allowed, n=1)
            tip = f"; did you mean {hint[0]!r}?" if hint else f"; allowed keys: {', '.join(allowed)}"
            raise ParameterError(source, repr(key), f"unknown key{tip}")
    for key in required:
        if key not in data:
            raise ParameterError(source, repr(key), "missing required key")


def _integer(source: str, field: str, value: Any, low: int, high: int) -> int:
    # Integral: NumPy's integers too (sizes from np.arange), but not True and False.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterError(source, field, f"expected an integer, got {value!r}")
    if not low <= value <= high:
        raise ParameterError(source, field, f"expected an integer in {low}..{high}, got {value}")
    return int(value)


def _engine(source: str, field: str, value: Any) -> str:
    if value not in config.ENGINES:
        raise ParameterError(source, field, f"expected one of {', '.join(config.ENGINES)}, got {value!r}")
    return value


def _depth(source: str, field: str, value: Any) -> int:
    """Return an integer depth, or config.CONTINUOUS for "continuous"."""
    if value == "continuous":
        return config.CONTINUOUS
    try:
        return _integer(source, field, value, 1, config.MAX_DEPTH)
    except ParameterError:  # the same refusal, naming the other form a depth may take
        raise ParameterError(source, field, f"expected an integer in 1..{config.MAX_DEPTH} or \"continuous\", "
                             f"got {value!r}") from None


def _check_model(source: str, depths, engines) -> None:
    if config.CONTINUOUS in depths and "original" in engines:
        raise ParameterError(source, "'engine'", "the original engine has integer depths only; "
                             "the continuous model runs with engine fast")


def _seed(source: str, value: Any, lowest: int = 0) -> int:
    return draw_seed() if value is None else _integer(source, "'seed'", value, lowest, config.MAX_SEED)


def filled_share(depth: int | np.ndarray) -> np.ndarray:
    """Return the expected share of the grid a run at ``depth`` (a depth or an array of
    them) fills by breakthrough: ``a + b / depth`` (``config.FILLED_FRACTION_MODEL``),
    ``a`` for the continuous model."""
    a, b = config.FILLED_FRACTION_MODEL
    depth = np.asarray(depth, dtype=np.float64)
    return a + np.divide(b, depth, out=np.zeros_like(depth), where=depth != config.CONTINUOUS)


def run_memory(width: int, height: int, depth: int, engine: str) -> float:
    """Return the bytes one run needs at its peak in a process that has not loaded the
    kernels yet: ``config.KERNEL_LOAD_BYTES`` plus ``config.RUN_BYTES`` per grid cell and
    per filled cell, the filled share bounded by ``config.MEMORY_FILL_MARGIN`` times
    :func:`filled_share` (at most the whole grid)."""
    per_cell, per_filled = config.RUN_BYTES["continuous" if depth == config.CONTINUOUS else engine]
    if engine == "original" and depth >= config.ORIGINAL_WIDE_WORD_DEPTH:
        per_cell += config.ORIGINAL_WIDE_WORD_BYTES
    filled = min(1.0, config.MEMORY_FILL_MARGIN * float(filled_share(depth)))
    return config.KERNEL_LOAD_BYTES + width * height * (per_cell + per_filled * filled)


def ring_estimate(width: int, height: int) -> float:
    """Return an estimate of the number of distance rings of a grid (distinct squared
    distances from the centre): at most one per offset from the centre, and about as many
    as the sums of two squares up to the largest squared distance N (Landau and Ramanujan:
    0.764 N / sqrt(ln N)).  Above the count from about 100 x 100 on, where memory
    matters: 9.1e6 against 6.8e6 at 10001 x 10001, 4.0e5 against 3.0e5 at 2001 x 2001."""
    offsets = (width // 2 + 1) * (height // 2 + 1)
    span = (width // 2) ** 2 + (height // 2) ** 2 + 2  # + 2: ln(span) > 0 on the smallest grids
    return min(offsets, 0.764 * span / np.sqrt(np.log(span)))


def _check_grid(source: str, width: int, height: int, engine: str, depth: int, budget: int | None,
                sharing: int = 1, tables: float = 0.0, rank_zero: float = 0.0) -> None:
    """Refuse a grid that does not fit: one run of ``engine`` at ``depth`` on each of
    ``sharing`` ranks, each also keeping ``tables`` bytes of ring tables of other grid
    shapes, and rank 0 ``rank_zero`` bytes of records and summed profiles, against
    ``budget`` bytes."""
    cells = width * height
    if cells > config.MAX_CELLS:
        raise ParameterError(
            source, "'width'/'height'", f"{width}x{height} has {cells} cells; at most {config.MAX_CELLS}"
        )
    needed = run_memory(width, height, depth, engine)
    if budget is not None and (needed + tables) * sharing + rank_zero > budget:
        per_rank = f" to each of {sharing} ranks on this node" if sharing > 1 else ""
        model = "the continuous model" if depth == config.CONTINUOUS else f"the {engine} engine at depth {depth}"
        extra = f", {readable_size(tables)} more per rank for the other grid shapes' distance tables" if tables else ""
        extra += f", {readable_size(rank_zero)} more on rank 0 for the jobs' records and summed density profiles" \
            if rank_zero else ""
        raise ParameterError(
            source,
            "'width'/'height'",
            f"a {width}x{height} grid needs about {readable_size(needed)} with {model}{extra}; "
            f"only {readable_size(budget / sharing)} of memory is available{per_rank}, beyond the "
            f"{readable_size(resident_bytes())} {'each process' if sharing > 1 else 'this process'} holds already",
        )


def available_memory(ranks_on_node: int = 1) -> int | None:
    """Return the bytes of memory the runs of ``ranks_on_node`` ranks (this process among
    them) may use on this node, or None if unknown: :func:`memory_budget` of this
    machine's ``MemAvailable`` (Linux), the memory limits of this process's cgroup and of
    the cgroups above it (a batch job's) and ``PERC_MPI_MEMORY_LIMIT`` when set (see
    :func:`memory_size`), and this process's resident memory.
    """
    limits, mem_available = [], None
    override = os.environ.get("PERC_MPI_MEMORY_LIMIT")
    if override:
        limits.append(memory_size("PERC_MPI_MEMORY_LIMIT", override))
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                mem_available = int(line.split()[1]) * 1024
        limits += cgroup_memory_limits(Path("/proc/self/cgroup").read_text())
    except OSError:
        pass
    return memory_budget(mem_available, limits, resident_bytes(), ranks_on_node)


def memory_budget(mem_available: int | None, limits: list[int], held: int, ranks_on_node: int) -> int | None:
    """Return the bytes the runs of ``ranks_on_node`` ranks may use: the smaller of
    ``mem_available`` (what the running processes leave) and the smallest of ``limits``
    less what the ranks hold already, ``held`` bytes each (a limit counts whole
    processes); None if neither is known."""
    budgets = [] if mem_available is None else [mem_available]
    if limits:
        budgets.append(max(0, min(limits) - ranks_on_node * held))
    return min(budgets) if budgets else None


def resident_bytes() -> int:
    """Return the memory this process holds, in bytes: its proportional set size (its
    shared pages divided among the processes sharing them, as a cgroup charges such a
    page once), else its resident set, else its peak so far."""
    try:
        for line in Path("/proc/self/smaps_rollup").read_text().splitlines():  # Linux >= 4.14
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


_SIZE_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


_SIZE = re.compile(r"\s*([0-9]*\.?[0-9]+(?:E[+-]?[0-9]+)?)\s*(?:([KMGT])I?)?B?\s*")


def memory_size(source: str, text: str) -> int:
    """Return the bytes of a size given as a number of bytes (``4000000000``, ``4e9``) or
    with a binary unit (``4G``, ``4GiB``, ``512M``, ``1.5T``)."""
    match = _SIZE.fullmatch(text.upper())
    size = float(match[1]) * _SIZE_UNITS[match[2] or ""] if match else 0.0
    if not 1 <= size < float("inf"):
        raise ParameterError(source, None, f"expected a memory size such as 4000000000, 4e9, 512M or 4G; got {text!r}")
    return int(size)


def cgroup_memory_limits(proc_self_cgroup: str, root: Path = Path("/sys/fs/cgroup")) -> list[int]:
    """Return the memory limits (bytes) set on the cgroups listed in ``/proc/self/cgroup``
    and on every cgroup above them -- a batch job's limit is often on a parent (SLURM:
    ``job_N``, above ``step_M/task_K``) -- for cgroup v2 (``memory.max``) and v1
    (``memory/.../memory.limit_in_bytes``); none where no limit is set."""
    limits = []
    for line in proc_self_cgroup.splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2: one unified hierarchy
            base, name = root, "memory.max"
        elif "memory" in controllers.split(","):
            base, name = root / "memory", "memory.limit_in_bytes"
        else:
            continue
        group = base / path.lstrip("/")
        for directory in (group, *group.parents):
            try:
                limit = int((directory / name).read_text())
                if limit < 1 << 62:  # cgroup v1 writes "no limit" as ~2^63
                    limits.append(limit)
            except (OSError, ValueError):  # no such file, or "max"
                pass
            if directory == base:
                break
    return limits


def readable_size(size: float) -> str:
    """Return a byte count as text: in GiB from 1 GiB, in MiB from 1 MiB (one decimal
    below 10), else in KiB or bytes (B)."""
    if size >= 2**30:
        return f"{size / 2**30:.1f} GiB"
    if size >= 2**20:
        return f"{size / 2**20:.1f} MiB" if size < 10 * 2**20 else f"{size / 2**20:.0f} MiB"
    return f"{size / 2**10:.1f} KiB" if size >= 2**10 else f"{size:.0f} B"


def parse_slice(text: str | None) -> tuple[int, int] | None:
    """Return ``(index, count)`` of a ``--slice INDEX/COUNT`` argument (None for None)."""
    if text is None:
        return None
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ParameterError("--slice", None, f"expected INDEX/COUNT such as 3/16, got {text!r}") from None
    if not 0 <= index < count:
        raise ParameterError("--slice", None, f"expected 0 <= INDEX < COUNT, got {text!r}")
    if count > config.MAX_JOBS:  # more slices than a sweep may have jobs (and beyond int64)
        raise ParameterError("--slice", None, f"expected COUNT <= {config.MAX_JOBS}, got {text!r}")
    return index, count


def parse_run(data: dict[str, Any], source: str, memory: int | None = None) -> RunParams:
    """Return the validated :class:`RunParams` of a single-run mapping; a null seed is drawn."""
    for key in data:
        if key not in SINGLE_KEYS and key in SWEEP_KEYS:  # a sweep whose 'runs' is missing or misspelt
            raise ParameterError(source, repr(key), "a sweep key, but there is no 'runs' key: a sweep file needs "
                                 "'runs' (runs per parameter point); without it the file is one run")
    _check_keys(source, data, SINGLE_KEYS, ("width", "height", "depth"))
    width = _integer(source, "'width'", data["width"], config.MIN_SIDE, config.MAX_CELLS)
    height = _integer(source, "'height'", data["height"], config.MIN_SIDE, config.MAX_CELLS)
    depth = _depth(source, "'depth'", data["depth"])
    engine = _engine(source, "'engine'", data.get("engine", config.DEFAULT_ENGINE))
    _check_model(source, [depth], [engine])
    _check_grid(source, width, height, engine, depth, memory)
    return RunParams(width, height, depth, _seed(source, data.get("seed")), engine)


def _axis(source: str, key: str, value: Any, check) -> tuple:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ParameterError(source, repr(key), "empty list")
    checked = tuple(check(source, f"{key!r}[{i}]" if isinstance(value, list) else repr(key), v)
                    for i, v in enumerate(values))
    if len(set(checked)) != len(checked):
        raise ParameterError(source, repr(key), f"a value is listed twice: {value!r}")
    return checked


def parse_sweep(data: dict[str, Any], text: str, source: str, memory: int | None = None,
                ranks_per_node: int = 1) -> SweepParams:
    """Return the validated :class:`SweepParams` of a sweep mapping; a null seed is drawn.

    ``memory`` is the node's available memory, shared by ``ranks_per_node`` ranks that
    may each hold the largest grid at once."""
    _check_keys(source, data, SWEEP_KEYS, ("depth", "runs"))
    square = "size" in data
    if square and ("width" in data or "height" in data):
        raise ParameterError(source, "'size'", "give either size (square grids) or width and height, not both")
    if not square and not ("width" in data and "height" in data):
        raise ParameterError(source, "'size'", "missing required key (or give both width and height)")

    def side(src, field, v):
        return _integer(src, field, v, config.MIN_SIDE, config.MAX_CELLS)

    if square:
        width = height = _axis(source, "size", data["size"], side)
    else:
        width = _axis(source, "width", data["width"], side)
        height = _axis(source, "height", data["height"], side)
    axes = {
        "width": width,
        "height": height,
        "depth": _axis(source, "depth", data["depth"], _depth),
        "engine": _axis(source, "engine", data.get("engine", config.DEFAULT_ENGINE), _engine),
    }
    _check_model(source, axes["depth"], axes["engine"])
    runs = _integer(source, "'runs'", data["runs"], 1, config.MAX_JOBS)
    points = (1 if square else len(height)) * len(width) * len(axes["depth"]) * len(axes["engine"])
    if points * runs > config.MAX_JOBS:
        raise ParameterError(source, "'runs'", f"the cube has {points * runs} jobs; at most {config.MAX_JOBS}")
    # A sweep seed only seeds Python's random (the job seeds): any int64, negative ones too,
    # as the original accepts them (random.seed(-s) is random.seed(s)).
    sweep = SweepParams(axes, runs, _seed(source, data.get("seed"), lowest=-config.MAX_SEED - 1), square, text)
    _check_grid(source, *largest_run(sweep), memory, ranks_per_node, *kept_memory(sweep))
    return sweep


def largest_run(sweep: SweepParams) -> tuple[int, int, str, int]:
    """Return ``(width, height, engine, depth)`` of the sweep's run that needs most memory:
    on its largest grid, max(width) x max(height) (a shape of the cube), the engine and
    depth that need most per cell."""
    engine, depth = max(itertools.product(sweep.axes["engine"], sweep.axes["depth"]),
                        key=lambda kind: run_memory(1, 1, kind[1], kind[0]))
    return max(sweep.axes["width"]), max(sweep.axes["height"]), engine, depth


def kept_memory(sweep: SweepParams) -> tuple[float, float]:
    """Return ``(tables, rank_zero)``: the bytes of the other grid shapes' ring tables each
    rank keeps beside its run, and of what rank 0 keeps: the jobs' records and the
    per-point summed profiles."""
    shapes = grid_shapes(sweep)
    others = sorted((w * h for w, h in shapes), reverse=True)[1:config.RING_TABLES_KEPT]
    per_shape = config.SUMS_BYTES_PER_RING_AND_POINT * len(sweep.axes["depth"]) * len(sweep.axes["engine"]) \
        + config.SUMS_BYTES_PER_RING_AND_SHAPE
    jobs = len(shapes) * len(sweep.axes["depth"]) * len(sweep.axes["engine"]) * sweep.runs
    return (config.RING_TABLE_BYTES_PER_CELL * sum(others),
            per_shape * sum(ring_estimate(w, h) for w, h in shapes) + config.RANK0_BYTES_PER_JOB * jobs)
