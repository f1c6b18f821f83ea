"""``python -m perc_mpi validate FILE.h5 [-o DIR]``: compare a continuous-model sweep
with the published invasion-percolation results.

* Cluster mass at breakthrough against grid size, M ~ L^D: D should approach the
  fractal dimension of invasion percolation without trapping, 91/48 = 1.8958
  (Wilkinson & Willemsen 1983 measured about 1.89 on the square lattice).
* The acceptance profile (the fraction of frontier cells of value v that are invaded)
  approaches a step at the square-lattice site-percolation threshold p_c = 0.592746.

Run ``examples/validation.json`` first (see the README); the command prints the numbers
next to the published ones and writes ``validation.md`` with two plots.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from . import config, plots, results
from .console import ArgumentParser, fail, reason
from .parameters import ParameterError
from .plots import make_directory, save_figure
from .report import to_stdout

FRACTAL_DIMENSION = 91 / 48  # invasion percolation without trapping, 2-d
P_C = 0.592746  # site percolation threshold, square lattice
TOLERANCE_D, TOLERANCE_PC = 0.03, 0.01


def step_position(values: np.ndarray, accepted: np.ndarray) -> float:
    """Return where an acceptance profile falls through 1/2 (linear interpolation
    between the bins around the first one below 1/2)."""
    falls = np.flatnonzero(accepted < 0.5)
    if len(falls) == 0 or falls[0] == 0:
        raise ValueError("an acceptance profile does not fall through 1/2 (too few runs?)")
    below = int(falls[0])
    v0, v1, a0, a1 = values[below - 1], values[below], accepted[below - 1], accepted[below]
    return float(v0 + (0.5 - a0) * (v1 - v0) / (a1 - a0))


def measure(sweep: results.SweepResults) -> dict:
    """Return the validation figures of a continuous-model sweep file, from its square
    grids (L x L: the published figures are for squares)."""
    points = sweep.points
    continuous = np.flatnonzero((points["depth"] == config.CONTINUOUS) & (points["width"] == points["height"]))
    if len(continuous) < 2:
        rectangles = rectangular_points(points)
        raise ValueError("the file has fewer than two continuous-model square grid sizes" +
                         (f" ({rectangles} rectangular ones: the published figures are for L x L)" if rectangles
                          else ""))
    order = continuous[np.argsort(points["width"][continuous])]
    dimension, error = sweep.mass_dimension(config.CONTINUOUS)  # (it refuses points with no finished run)
    sizes = points["width"][order]
    steps = [step_position(*sweep.acceptance(int(p))) for p in order]
    local = np.diff(np.log(sweep.summary["filled_mean"][order])) / np.diff(np.log(sizes.astype(float)))
    return {"sizes": sizes, "points": order, "dimension": dimension, "dimension_error": error,
            "steps": np.array(steps), "local_slopes": local, "runs": sweep.summary["count"][order]}


def rectangular_points(points: np.ndarray) -> int:
    """Return how many continuous-model points are not L x L (validation leaves them out)."""
    return int(np.count_nonzero((points["depth"] == config.CONTINUOUS) & (points["width"] != points["height"])))


def caveats(sweep: results.SweepResults) -> list[str]:
    """Return what limits a file's figures: those of :func:`perc_mpi.plots.caveats`, and
    rectangular continuous points left out."""
    notes = plots.caveats(sweep)
    rectangles = rectangular_points(sweep.points)
    if rectangles:
        notes.append(f"has {rectangles} rectangular continuous-model points: left out (the figures are for L x L)")
    return notes


def write_report(sweep: results.SweepResults, figures: dict, directory: Path) -> Path:
    """Write validation.md and its two plots into ``directory``; return the page."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    sizes, points = figures["sizes"], figures["points"]
    masses = sweep.summary["filled_mean"][points]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.loglog(sizes, masses, "o", label="mean filled cells at breakthrough")
    fit = np.exp(np.polyval(np.polyfit(np.log(sizes), np.log(masses), 1), np.log(sizes)))
    ax.loglog(sizes, fit, "-", label=f"fit: D = {figures['dimension']:.3f} ± {figures['dimension_error']:.3f}")
    ax.loglog(sizes, masses[-1] * (sizes / sizes[-1]) ** FRACTAL_DIMENSION, "--", label="slope 91/48 = 1.8958")
    ax.set_xlabel("grid size L (cells per side)")
    ax.set_ylabel("cluster mass M (cells)")
    ax.set_title("Mass at breakthrough, continuous model")
    ax.legend(fontsize="small")
    save_figure(plt, fig, directory / "mass_vs_size.png")

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for p, size in zip(points, sizes):
        ax.plot(*sweep.acceptance(int(p)), label=f"L = {size}")
    ax.axvline(P_C, color="k", linestyle="--", label=f"p_c = {P_C}")
    ax.set_xlim(0.45, 0.7)
    ax.set_xlabel("cell value v")
    ax.set_ylabel("fraction of frontier cells invaded")
    ax.set_title("Acceptance profile")
    ax.legend(fontsize="small")
    save_figure(plt, fig, directory / "acceptance.png")

    rows = "\n".join(f"| {s} | {n} | {m:.1f} | {st:.4f} |" for s, n, m, st in
                     zip(sizes, figures["runs"], masses, figures["steps"]))
    d, d_err, step = figures["dimension"], figures["dimension_error"], figures["steps"][-1]
    d_row = f"{d:.4f} ± {d_err:.4f} | 91/48 = {FRACTAL_DIMENSION:.4f} | {d - FRACTAL_DIMENSION:+.4f} | {TOLERANCE_D}"
    step_row = f"{step:.4f} | p_c = {P_C} | {step - P_C:+.4f} | {TOLERANCE_PC}"
    page = directory / "validation.md"
    page.write_text(f"""# Validation against published invasion-percolation results

Sweep file: `{sweep.path}` (sweep seed {int(sweep.attrs['sweep_seed'])}).

| quantity | measured | published | difference | tolerance |
|---|---|---|---|---|
| mass dimension D (M ~ L^D, all sizes) | {d_row} |
| acceptance step, L = {sizes[-1]} | {step_row} |

Local slopes d log M / d log L between successive sizes: {', '.join(f'{x:.3f}' for x in figures['local_slopes'])}.

| L | runs | mean mass | acceptance step |
|---|---|---|---|
{rows}

![mass against size](mass_vs_size.png) ![acceptance profile](acceptance.png)
""")
    return page


def main(argv: list[str]) -> int:
    """Run ``validate`` from the command line; return 0 when both figures are within
    tolerance, 3 when not or when D's standard error exceeds its tolerance, 2 on bad
    input."""
    parser = ArgumentParser(prog="python -m perc_mpi validate",
                            description="Compare a continuous-model sweep with the published invasion-percolation "
                                        "results (mass dimension 91/48, acceptance step at p_c).",
                            epilog="Exit status: 0 both figures within tolerance, 3 not (or too few runs to tell: D's "
                                   "standard error above its tolerance), 2 bad input.")
    parser.add_argument("file", help="HDF5 file written from examples/validation.json (or any continuous-model sweep)")
    parser.add_argument("-o", "--output", help="report directory (default: FILE without .h5, + _validation)")
    args = parser.parse_args(argv)
    path = Path(args.file)
    try:
        sweep = results.open(path)
        figures = measure(sweep)
        directory = make_directory(Path(args.output) if args.output else path.with_name(path.stem + "_validation"))
    except (OSError, KeyError, ValueError) as exc:  # (a ParameterError is a ValueError)
        return fail(f"{path}: {reason(exc)}" if not isinstance(exc, ParameterError) else str(exc))
    for note in caveats(sweep):
        print(f"perc_mpi: note: {path} {note}", file=sys.stderr)
    d_off = figures["dimension"] - FRACTAL_DIMENSION
    pc_off = figures["steps"][-1] - P_C
    with to_stdout():
        print(f"mass dimension D = {figures['dimension']:.4f} ± {figures['dimension_error']:.4f} "
              f"(91/48 = {FRACTAL_DIMENSION:.4f}, difference {d_off:+.4f}, tolerance {TOLERANCE_D})")
        print(f"acceptance step at L = {figures['sizes'][-1]}: {figures['steps'][-1]:.4f} "
              f"(p_c = {P_C}, difference {pc_off:+.4f}, tolerance {TOLERANCE_PC})")
    try:
        written = write_report(sweep, figures, directory)
        with to_stdout():
            print(written)
    except ImportError:
        print("perc_mpi: the plots need matplotlib: pip install -e '.[report]'", file=sys.stderr)
    ok = abs(d_off) <= TOLERANCE_D and abs(pc_off) <= TOLERANCE_PC
    if not figures["dimension_error"] <= TOLERANCE_D:  # within tolerance or not by chance (NaN: one run a size)
        print(f"perc_mpi: note: D's standard error ({figures['dimension_error']:.4f}) is not within its "
              f"tolerance ({TOLERANCE_D}): too few runs for a verdict (status 3); add runs", file=sys.stderr)
        ok = False
    return config.EXIT_OK if ok else config.EXIT_JOBS_FAILED
