"""``python -m perc_mpi report FILE [-o DIR]``: the CSV summary again, and PNG plots.

Needs matplotlib (``pip install -e '.[report]'``); without it the command says so.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from . import config, results
from .aggregate import sorted_rows
from .console import ArgumentParser, fail, reason
from .parameters import ParameterError
from .records import DONE
from .report import depth_label, plural, to_stdout, write_summary_csv
from .store import being_written

MAX_PANELS = 12  # per-point figures show the first points of the cube, in cube order


def jobs_held(sweep: results.SweepResults) -> tuple[int, int]:
    """Return (done, total) of the jobs the file is for: all, or its slice's."""
    scope = sweep.scope()
    return int(np.count_nonzero(sweep.runs["status"][scope] == DONE)), int(np.count_nonzero(scope))


def caveats(sweep: results.SweepResults) -> list[str]:
    """Return what limits a file's figures: it holds only some of its sweep's runs (a
    slice part, an unfinished sweep, a session still writing it), and what to do."""
    part = sweep.attrs.get("slice")
    done, total = jobs_held(sweep)
    if part:
        held = f"the part {part} of a sliced sweep ({done}/{total} of its jobs done)"
    elif being_written(sweep.path):
        held = f"still being written ({done}/{plural(total, 'job')} done so far)"
    elif done < total:
        held = f"not complete ({done}/{plural(total, 'job')} done)"
    else:
        return []
    return [f"is {held}: the figures use the done runs only; {sweep.next_step()}"]


def _label(point: np.void) -> str:
    side = f"{point['width']}" if point["width"] == point["height"] else f"{point['width']}x{point['height']}"
    engine = "" if point["engine"] == b"fast" else f", {point['engine'].decode()}"
    return f"size {side}, {depth_label(point['depth'])}{engine}"


def make_directory(directory: Path) -> Path:
    """Return ``directory``, created if need be; raises ParameterError if it cannot be
    (a file of that name, no permission), before anything is computed."""
    if directory.exists() and not directory.is_dir():
        raise ParameterError(str(directory), None, "a file, not a directory: give the report directory another "
                             "path (-o)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError(str(directory), None, f"cannot make the report directory: {exc.strerror}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ParameterError(str(directory), None, "the report directory is not writable")
    return directory


def save_figure(plt: ModuleType, fig: Any, path: Path) -> None:
    """Lay out, write as PNG and close a figure."""
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _grid(plt, n: int, size: float = 3.0):
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def _no_runs(ax: Any) -> None:
    """Say on a point's empty panel why it is empty."""
    ax.text(0.5, 0.5, "no finished run", ha="center", va="center", transform=ax.transAxes)


# Up to this many series share the default colours and an inside legend; more (a sweep
# of 50 depths) get a colour map's and a legend beside the plot, in columns.
MAX_PLAIN_SERIES = 10


def _many_series(plt: ModuleType, ax: Any, n: int) -> None:
    """Give an axes that will hold ``n`` series distinct colours (the default cycle
    repeats after 10)."""
    if n > MAX_PLAIN_SERIES:
        ax.set_prop_cycle(color=plt.get_cmap("viridis")(np.linspace(0, 0.9, n)))


def _legend(ax: Any, n: int) -> None:
    """Draw the legend of ``n`` series: inside the axes, or beside them when many."""
    if n > MAX_PLAIN_SERIES:
        ax.legend(fontsize="x-small", ncol=-(-n // 25), loc="upper left", bbox_to_anchor=(1, 1))
    else:
        ax.legend(fontsize="small")


def plot_dimension(plt: ModuleType, sweep: results.SweepResults, path: Path) -> None:
    """Box-counting dimension against grid size, one line per depth (and engine, and
    height for rectangular grids: against the width)."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    s = sweep.summary
    square = bool(np.all(s["width"] == s["height"]))
    series = np.unique(s[["depth", "engine"] + ([] if square else ["height"])])
    _many_series(plt, ax, len(series))
    for key in series:
        rows = s[(s["depth"] == key["depth"]) & (s["engine"] == key["engine"])]
        if not square:
            rows = rows[rows["height"] == key["height"]]
        rows = rows[np.argsort(rows["width"])]
        tag = "" if key["engine"] == b"fast" else f" ({key['engine'].decode()})"
        tag += "" if square else f", height {key['height']}"
        ax.errorbar(rows["width"], rows["dimension"], yerr=rows["dimension_stderr"], marker="o", capsize=3,
                    label=f"{depth_label(key['depth'])}{tag}")
    ax.set_xlabel("grid size (cells per side)" if square else "grid width (cells)")
    ax.set_ylabel("box-counting dimension")
    ax.set_title("Cluster dimension (mean ± standard error)")
    _legend(ax, len(series))
    save_figure(plt, fig, path)


def plot_density(plt: ModuleType, sweep: results.SweepResults, path: Path) -> None:
    """Filled fraction against distance from the centre, per point, with the fit."""
    n = min(len(sweep.points), MAX_PANELS)
    fig, axes = _grid(plt, n)
    for i, ax in zip(range(n), axes):
        distance, fraction = sweep.density(i)
        row = sweep.summary[i]
        if not row["count"]:
            _no_runs(ax)
        ax.plot(distance, fraction, ".", markersize=2, alpha=0.5, label="runs' mean")
        ax.plot(distance, row["density_k"] + row["density_x"] * distance, "r-", label="least-squares fit")
        ax.set_title(_label(sweep.points[i]), fontsize="medium")
        ax.set_xlabel("distance from centre (cells)")
        ax.set_ylabel("filled fraction")
        ax.set_ylim(-0.05, 1.05)
    axes[0].legend(fontsize="small")
    save_figure(plt, fig, path)


def plot_clusters(plt: ModuleType, sweep: results.SweepResults, path: Path) -> None:
    """One example cluster per point (the point's first done run: its saved mask, or
    re-simulated)."""
    n = min(len(sweep.points), MAX_PANELS)
    fig, axes = _grid(plt, n)
    for i, ax in zip(range(n), axes):
        done = np.flatnonzero((sweep.runs["point"] == i) & (sweep.runs["status"] == DONE))
        ax.set_title(_label(sweep.points[i]), fontsize="medium")
        ax.set_xticks([])
        ax.set_yticks([])
        if len(done):
            job = int(done[0])
            ax.imshow(sweep.mask(job).T, origin="lower", cmap="Greys", interpolation="nearest")
            ax.set_xlabel(f"job {job}: {sweep.runs['filled'][job]} cells filled")
        else:
            _no_runs(ax)
    save_figure(plt, fig, path)


def plot_time(plt: ModuleType, sweep: results.SweepResults, path: Path) -> None:
    """Wall time per run against grid size, one series per depth and engine (where
    compute goes)."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    runs = sweep.runs[sweep.runs["status"] == DONE]
    series = np.unique(runs[["depth", "engine"]])
    _many_series(plt, ax, len(series))
    for key in series:
        chosen = runs[(runs["depth"] == key["depth"]) & (runs["engine"] == key["engine"])]
        side = np.sqrt(chosen["width"].astype(float) * chosen["height"])
        dots = ax.plot(side, 1e3 * chosen["seconds"], ".", alpha=0.3)[0]
        sides = np.unique(side)
        medians = [1e3 * np.median(chosen["seconds"][side == x]) for x in sides]
        tag = "" if key["engine"] == b"fast" else f" ({key['engine'].decode()})"
        ax.plot(sides, medians, "-o", color=dots.get_color(), label=f"{depth_label(key['depth'])}{tag} (median)")
    ax.set_yscale("log")
    plain = plt.matplotlib.ticker.FormatStrFormatter("%g")  # 0.2, not 2 x 10^-1
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    ax.set_xlabel("grid size (cells per side; sqrt of cells if rectangular)")
    ax.set_ylabel("time per run (ms)")
    ax.set_title("Wall time per run (engine + measures)")
    _legend(ax, len(series))
    save_figure(plt, fig, path)


def plot_timeline(plt: ModuleType, sweep: results.SweepResults, path: Path) -> None:
    """Each rank's jobs as bars along the time since the first job began (a gap: the rank
    idle), coloured by depth, with the split of :meth:`SweepResults.rank_time`."""
    runs = sweep.runs[(sweep.runs["status"] == DONE) & np.isfinite(sweep.runs["started"])]
    n_ranks = int(runs["rank"].max(initial=0)) + 1
    fig, ax = plt.subplots(figsize=(8, 3 + 0.15 * min(n_ranks, 64)))
    # No start times: a file written before perc_mpi recorded them.  A merged file: its
    # parts' ranks ran side by side, each part's on a timeline of its own.
    empty = ("no job start times in this file" if not len(runs) else
             "a merged file: its parts ran side by side (see each part's report)"
             if sweep.attrs.get("merged_from") else "")
    if empty:
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes)
        save_figure(plt, fig, path)
        return
    begun = runs["started"] - runs["started"].min()
    depths = np.unique(runs["depth"])
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(depths)))
    for depth, colour in zip(depths, colours):
        chosen = runs["depth"] == depth
        for rank in np.unique(runs["rank"][chosen]):
            mine = chosen & (runs["rank"] == rank)
            ax.broken_barh(list(zip(begun[mine], runs["seconds"][mine])), (rank - 0.4, 0.8), facecolors=colour,
                           label=depth_label(depth) if rank == runs["rank"][chosen].min() else None)
    shares, span = sweep.rank_time()
    ax.set_xlabel("seconds since the first job began")
    ax.set_ylabel("rank")
    ax.yaxis.set_major_locator(plt.matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_title(f"Jobs per rank over {span:.3g} s: busy {shares['busy']:.0%}; idle before the first job "
                 f"{shares['at_start']:.0%}, between jobs {shares['between']:.0%}, after the last "
                 f"{shares['at_end']:.0%}", fontsize="small")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1, 1))
    save_figure(plt, fig, path)


PLOTS = {
    "dimension_vs_size.png": plot_dimension,
    "density_profiles.png": plot_density,
    "example_clusters.png": plot_clusters,
    "time_per_run.png": plot_time,
    "rank_timeline.png": plot_timeline,
}


def write_report(sweep: results.SweepResults, directory: Path) -> list[Path]:
    """Write summary.csv and the PNG plots into ``directory``; return their paths."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / "summary.csv"]
    with open(written[0], "w") as stream:
        write_summary_csv(stream, sorted_rows(sweep.summary))
    for name, plot in PLOTS.items():
        plot(plt, sweep, directory / name)
        written.append(directory / name)
    return written


def main(argv: list[str]) -> int:
    """Run ``report`` from the command line; return the exit status."""
    parser = ArgumentParser(prog="python -m perc_mpi report",
                            description="Write the CSV summary and PNG plots of a sweep file.")
    parser.add_argument("file", help="sweep HDF5 file")
    parser.add_argument("-o", "--output", help="directory for the report (default: FILE without .h5, + _report)")
    args = parser.parse_args(argv)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return fail("the report needs matplotlib: pip install -e '.[report]'")
    path = Path(args.file)
    try:
        sweep = results.open(path)
    except (OSError, KeyError, ValueError) as exc:
        return fail(f"{path}: not a readable perc_mpi sweep file: {reason(exc)}")
    if not np.any(sweep.runs["status"] == DONE):
        return fail(f"{path}: no run has finished yet (0/{plural(jobs_held(sweep)[1], 'job')} done): nothing to "
                    f"report; {sweep.next_step()}")
    try:
        directory = make_directory(Path(args.output) if args.output else path.with_name(path.stem + "_report"))
    except ParameterError as exc:
        return fail(str(exc))
    for note in caveats(sweep):
        print(f"perc_mpi: note: {path} {note}", file=sys.stderr)
    if len(sweep.points) > MAX_PANELS:
        print(f"perc_mpi: note: the per-point figures show the first {MAX_PANELS} of the {len(sweep.points)} "
              "points (cube order); summary.csv has them all", file=sys.stderr)
    for written in write_report(sweep, directory):
        with to_stdout():
            print(written)
    return config.EXIT_OK
