"""Post-analysis: a sweep file as NumPy arrays.

    >>> from perc_mpi import results
    >>> sweep = results.open("sweep.h5")
    >>> sweep.runs["dimension"], sweep.summary["density_x"]
    >>> sweep.mask(17)                     # job 17's cluster (saved, or re-simulated exactly)
    >>> sweep.summarize(sweep.runs["filled"] > 1000)   # re-aggregate a selection

The file itself needs only h5py to read (see docs/output-format.md); this module adds
cluster masks, re-aggregation and pandas frames.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from . import config, engine, measures
from .aggregate import RingSums, mean_profile, summarize
from .jobs import params_of, summed_vector, unpack_cluster
from .parameters import parse_slice
from .plan import POINT_DTYPE, in_slice
from .records import DONE, PENDING
from .store import (
    being_written,
    check_readable,
    point_group_name,
    point_groups,
    read_ring_sums,
    read_runs,
    read_summary,
)


@dataclass(frozen=True)
class SweepResults:
    """An opened sweep file: ``runs`` (one row per job), ``summary`` (one row per
    parameter point) and ``points`` as NumPy structured arrays, the root ``attrs``,
    and each point's summed ring counts."""

    path: Path
    attrs: dict
    runs: np.ndarray
    summary: np.ndarray
    points: np.ndarray
    ring_sums: list[np.ndarray]

    @property
    def sweep(self) -> dict:
        """Return the sweep parameters (the sweep JSON as given, with the seed used)."""
        return {**json.loads(self.attrs["sweep_json"]), "seed": int(self.attrs["sweep_seed"])}

    def scope(self) -> np.ndarray:
        """Return the mask of the runs this file is for: all, or its slice's (``@slice``)."""
        return in_slice(self.runs, parse_slice(self.attrs.get("slice") or None))

    def next_step(self, jobs: np.ndarray | None = None) -> str:
        """Return what brings in the runs the file lacks (of ``jobs``, a mask of its runs,
        or of all): waiting for the session still writing it, --resume (jobs of its own
        not done), or merging the slices' parts (the jobs are another slice's)."""
        if being_written(self.path):
            return "wait for the session writing it to end"
        mine = self.scope() if jobs is None else self.scope() & jobs
        if np.any(self.runs["status"][mine] != DONE):
            return f"--resume {'its slice' if self.attrs.get('slice') else 'the sweep'} to finish it"
        return "merge the slices' parts (python -m perc_mpi merge)"

    def density(self, point: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(distance, mean filled fraction)`` of a parameter point."""
        return mean_profile(self.points[point], self.ring_sums[point], self.summary["count"][point])

    def mass_radius(self, point: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(radius, mean mass)``: filled cells within each distance of the centre,
        averaged over the point's runs."""
        r2, _ = measures.rings(int(self.points[point]["width"]), int(self.points[point]["height"]))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sqrt(r2), np.cumsum(self.ring_sums[point][: len(r2)]) / self.summary["count"][point]

    def acceptance(self, point: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(value, fraction accepted)`` per value bin of a continuous-model point:
        of the cells whose value fell in the bin and reached the frontier, the fraction
        that was invaded."""
        if self.points[point]["depth"] != config.CONTINUOUS:
            raise ValueError(f"point {point} is not of the continuous model: no acceptance profile")
        seen, accepted = np.split(self.ring_sums[point][-2 * config.ACCEPTANCE_BINS:], 2)
        centres = (np.arange(config.ACCEPTANCE_BINS) + 0.5) / config.ACCEPTANCE_BINS
        with np.errstate(invalid="ignore", divide="ignore"):
            return centres, accepted / seen

    def mass_dimension(self, depth: int = config.CONTINUOUS, engine: str | bytes = "fast", resamples: int = 200,
                       seed: int = 0) -> tuple[float, float]:
        """Return ``(D, standard error)``: the slope of log(mean filled cells) against
        log(size) over the square-grid points of one depth (default: the continuous
        model, 0) and engine (M ~ L^D at breakthrough); the error from a bootstrap over
        each point's runs (NaN if a point has a single run: nothing to resample)."""
        engine = engine.encode() if isinstance(engine, str) else engine
        chosen = np.flatnonzero((self.points["depth"] == depth) & (self.points["engine"] == engine)
                                & (self.points["width"] == self.points["height"]))
        if len(chosen) < 2:
            depths = sorted(set(self.points["depth"].tolist()))
            listed = ", ".join(map(str, depths[:10])) + (", ..." if len(depths) > 10 else "")
            raise ValueError(f"the mass dimension needs at least two square grid sizes at depth {depth} with "
                             f"engine {engine.decode()}; this file has {len(chosen)} (depths in it: {listed})")
        filled = [self.runs["filled"][(self.runs["point"] == p) & (self.runs["status"] == DONE)] for p in chosen]
        empty = [int(p) for p, f in zip(chosen, filled) if len(f) == 0]
        if empty:
            raise ValueError(f"point {empty[0]} has no finished runs in this file; "
                             f"{self.next_step(self.runs['point'] == empty[0])}")
        return measures.mass_dimension(self.points["width"][chosen], filled, resamples, seed)

    def mask(self, job: int) -> np.ndarray:
        """Return the filled mask ``[x, y]`` of a job: the saved one (``--save-clusters``),
        else re-simulated from its recorded parameters and seed (exact: a run depends on
        nothing else).  ``job`` indexes ``runs`` (negative from the end)."""
        if not -len(self.runs) <= job < len(self.runs):
            raise IndexError(f"job {job} is not in this file's jobs 0..{len(self.runs) - 1} "
                             f"(-{len(self.runs)}..-1 from the end)")
        job = range(len(self.runs))[job]
        record = self.runs[job]
        with h5py.File(self.path, "r") as f:
            name = "clusters/" + point_group_name(int(record["point"]))
            if name in f:
                data = f[name]
                packed = data[job - int(data.attrs["first_job"])]
                if packed.any():  # rows of jobs not saved read as zeros
                    return unpack_cluster(packed, int(record["width"]), int(record["height"]))
        return engine.run(params_of(record)).filled

    def summarize(self, selection: np.ndarray | None = None) -> np.ndarray:
        """Return the summary recomputed from the runs in ``selection`` (a boolean mask or
        indices over ``runs``; all runs when None): its counts, means and fits from the
        done runs selected, its ``failed`` column from the failed runs selected.

        With every done run selected this is the stored summary; otherwise the density
        fit needs the selected runs' profiles, which are re-simulated (exact, but it
        costs the runs' compute time).
        """
        runs = self.runs.copy()
        chosen = np.zeros(len(runs), bool)
        chosen[np.arange(len(runs)) if selection is None else selection] = True
        runs["status"][~chosen] = PENDING  # neither done nor failed, as far as this summary goes
        if np.array_equal(runs["status"] == DONE, self.runs["status"] == DONE):
            rings = RingSums(self.points, self.ring_sums)
        else:
            rings = RingSums(self.points)
            for record in runs[runs["status"] == DONE]:
                rings.add(int(record["point"]), summed_vector(engine.run(params_of(record))))
        summary, _ = summarize(self.points, runs, rings)
        return summary

    def rank_time(self) -> tuple[dict[str, float], float]:
        """Return :func:`rank_time` of the done runs with start times, over the last
        session's ranks (``@mpi_size``, or more if an earlier session had more):
        meaningful for a file written in one session.  Raises ValueError for a merged
        file: its parts ran side by side, each with its own ranks (open a part)."""
        if self.attrs.get("merged_from"):
            raise ValueError("a merged file's parts ran side by side, each with its own ranks 0, 1, ...: "
                             "open a part for its ranks' time")
        timed = self.runs[(self.runs["status"] == DONE) & np.isfinite(self.runs["started"])]
        n_ranks = max(int(self.attrs["mpi_size"]), int(timed["rank"].max(initial=-1)) + 1)
        return rank_time(timed, n_ranks)

    def to_pandas(self) -> tuple[Any, Any]:
        """Return ``(runs, summary)`` as pandas DataFrames (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_pandas needs pandas: pip install pandas") from None

        def frame(table):
            df = pd.DataFrame({name: table[name] for name in table.dtype.names})
            if "engine" in df:
                df["engine"] = df["engine"].str.decode("ascii")
            return df

        return frame(self.runs), frame(self.summary)


def rank_time(runs: np.ndarray, n_ranks: int) -> tuple[dict[str, float], float]:
    """Return where ``n_ranks`` ranks' time went from the first job's start to the last
    job's end (``runs``' ``rank``, ``started`` and ``seconds``), and that span (s).

    The time is split into shares of ranks x span: ``busy`` in jobs; idle ``at_start``
    (before a rank's first job: start-up), ``between`` jobs (the driver's own work,
    waiting for held-back jobs) and ``at_end`` (after a rank's last job: imbalance).  A
    rank that ran nothing counts as idle at start.
    """
    if not len(runs):
        raise ValueError("no done run with a start time: nothing to split")
    rank, started = runs["rank"], runs["started"]
    ended = started + runs["seconds"]
    first, last = started.min(), ended.max()
    rank_first = np.full(n_ranks, last)
    np.minimum.at(rank_first, rank, started)
    rank_last = np.full(n_ranks, last)
    rank_last[np.unique(rank)] = first
    np.maximum.at(rank_last, rank, ended)
    busy = np.bincount(rank, weights=runs["seconds"], minlength=n_ranks)
    shares = {"busy": busy.sum(), "at_start": (rank_first - first).sum(),
              "between": (rank_last - rank_first - busy).clip(0).sum(), "at_end": (last - rank_last).sum()}
    whole = n_ranks * (last - first)
    return {key: float(value / whole) for key, value in shares.items()}, float(last - first)


def open(path: str | Path) -> SweepResults:  # results.open mirrors h5py.File / io.open
    """Return the :class:`SweepResults` of a sweep file."""
    path = Path(path)
    check_readable(path)
    with h5py.File(path, "r") as f:
        points = np.array([tuple(point.attrs[k] for k in POINT_DTYPE.names)
                           for point in point_groups(f)], POINT_DTYPE)
        return SweepResults(path, dict(f.attrs), read_runs(f),
                            read_summary(f), points, read_ring_sums(f))
