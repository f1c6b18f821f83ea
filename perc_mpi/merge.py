"""``python -m perc_mpi merge OUTPUT PART...``: combine the files of a sliced sweep.

A job array runs one ``--slice INDEX/COUNT`` of a sweep per task, each into its own
file (see ``jobs/array.sbatch``).  Every part holds the whole ``runs/`` table with its
own slice done, and the ring sums of its own runs; merging takes each job's record from
the part that ran it and adds the ring sums, so the merged file equals a single-job
run's (same ``runs/``, same summary).
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import config
from .aggregate import RingSums, sorted_rows, summarize
from .console import ArgumentParser, command_line, fail, reason
from .parameters import ParameterError, sweep_differences
from .plan import build_plan
from .records import DONE, FAILED, progress
from .report import plural, to_stdout, write_summary_csv
from .store import (
    Snapshot,
    WriteError,
    being_written,
    lock_output,
    read_attrs,
    read_snapshot,
    recorded_sweep,
    snapshot_target,
    unlock_output,
    write_snapshot,
)


def merge(output: Path, parts: list[Path], force: bool = False) -> tuple[np.ndarray, dict]:
    """Merge the part files into ``output``; return ``(summary, attrs)``.

    Raises ParameterError when the parts come from different sweeps, overlap, or an
    output would be overwritten without ``force``.
    """
    if not parts:
        raise ParameterError("merge", None, "no part files given")
    target = snapshot_target(output)  # first: what --force cannot mend (a directory, no such directory)
    if any(output.exists() and part.exists() and os.path.samefile(output, part) for part in parts):
        raise ParameterError(str(output), None, "output is one of the parts; give another")
    # Before the work: a session writing it refuses the merge at once.
    lock = lock_output(target, None if force else
                       ParameterError(str(output), None, "output exists; use --force to overwrite it"))
    try:
        return _merge_into(target, parts)
    finally:
        unlock_output(lock)


def _merge_into(target: Path, parts: list[Path]) -> tuple[np.ndarray, dict]:
    """Merge the part files into ``target``, checked and locked; return ``(summary, attrs)``.

    The parts are checked from their attributes first, then read one at a time: each
    holds the whole cube's runs/ table, so holding them all took parts x jobs of memory."""
    part_attrs = [_checked_attrs(part, parts) for part in parts]
    first = part_attrs[0]
    sweeps = [recorded_sweep(attrs, str(part)) for part, attrs in zip(parts, part_attrs)]
    for part, sweep in zip(parts[1:], sweeps[1:]):
        differences = sweep_differences(sweeps[0], sweep)
        if differences:
            diff = "; ".join(f"{what}: {parts[0]} has {a}, this part {b}" for what, a, b in differences)
            raise ParameterError(str(part), None, f"not a part of the same sweep ({diff})")
    plan = build_plan(sweeps[0])
    # Masks only if every part saved them: the attribute says every run's mask is there.
    every_mask = all(attrs.get("save_clusters", False) for attrs in part_attrs)

    runs = owner = None
    rings = RingSums(plan.points)
    failures: dict[int, str] = {}
    clusters: dict[int, bytes] = {}
    some_masks = False
    for i, part in enumerate(parts):
        snap = _read_part(part)
        if runs is None:
            runs, owner = snap.runs.copy(), np.full(len(snap.runs), -1)
        # A job that failed in its slice stays failed, unless done in another part.
        failed = (snap.runs["status"] == FAILED) & (runs["status"] != DONE)
        runs[failed] = snap.runs[failed]
        done = snap.runs["status"] == DONE
        clash = done & (owner >= 0)
        if clash.any():
            raise ParameterError(str(part), None, f"job {int(np.flatnonzero(clash)[0])} is also done in "
                                 f"{parts[owner[clash][0]]}: the parts overlap")
        owner[done] = i
        runs[done] = snap.runs[done]
        rings.sums += np.concatenate(snap.ring_sums)
        failures.update(snap.failures)
        some_masks = some_masks or bool(snap.clusters)
        if every_mask:
            clusters.update(snap.clusters)
        del snap  # before the next part is read: one part in memory at a time, not two
    failures = {job: text for job, text in failures.items() if runs["status"][job] == FAILED}
    summary, density = summarize(plan.points, runs, rings)
    attrs = dict(first)
    attrs.update(progress(runs))
    # The parts' overheads weighted by the jobs each ran (one that ran none has no figure: NaN).
    ran = np.bincount(owner[owner >= 0], minlength=len(parts))
    used = ran > 0
    overheads = np.array([float(a.get("overhead_seconds_per_job", np.nan)) for a in part_attrs])
    overhead = float(ran[used] @ overheads[used] / ran.sum()) if used.any() else np.nan
    attrs.update(
        slice="", sessions=int(sum(a.get("sessions", 1) for a in part_attrs)),
        hosts=",".join(sorted({h for a in part_attrs for h in str(a.get("hosts", "")).split(",") if h})),
        mpi_size=int(max(a.get("mpi_size", 1) for a in part_attrs)),
        command=command_line(),
        end_time=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        start_time=min(str(a.get("start_time", "")) for a in part_attrs),
        overhead_seconds_per_job=overhead,
        merged_from=",".join(str(p) for p in parts),
        save_clusters=every_mask,
    )
    ring_sums = [rings.of(i) for i in range(len(plan.points))]
    if not every_mask and some_masks:
        print("perc_mpi: the masks are not merged: some parts were run without --save-clusters "
              "(results.mask re-simulates any run exactly)", file=sys.stderr)
    write_snapshot(target, attrs, runs, summary, density, ring_sums, plan.points, failures,
                   clusters if every_mask else None)
    return summary, attrs


def _checked_attrs(part: Path, parts: list[Path]) -> dict:
    """Return a part file's root attributes; raises ParameterError if it is missing, given
    twice or no sweep file."""
    if not part.is_file():
        raise ParameterError(str(part), None, "no such file" if not part.exists() else "not a file")
    if parts.count(part) > 1:
        raise ParameterError(str(part), None, "part given twice")
    try:
        return read_attrs(part)
    except OSError as exc:
        raise ParameterError(str(part), None, f"not a perc_mpi sweep file: {reason(exc)}") from None


def _read_part(part: Path) -> Snapshot:
    """Return a part file's :class:`perc_mpi.store.Snapshot`; raises ParameterError if it
    is damaged."""
    try:
        return read_snapshot(part)
    except (OSError, KeyError, ValueError) as exc:
        raise ParameterError(str(part), None, f"not a perc_mpi sweep file: {reason(exc)}") from None


def missing_advice(parts: list[str]) -> str:
    """Return what brings in a merge's missing jobs: waiting for the parts still being
    written, and running the other slices again with --resume."""
    writing = [part for part in parts if being_written(Path(part))]
    if not writing:
        return "run their slices again with --resume"
    one = len(writing) == 1
    return (f"{', '.join(writing)} {'is' if one else 'are'} still being written: merge again once "
            f"{'its session ends' if one else 'their sessions end'}; any others: run their slices again with --resume")


def main(argv: list[str]) -> int:
    """Run ``merge`` from the command line; return the exit status."""
    parser = ArgumentParser(prog="python -m perc_mpi merge",
                            description="Combine the files of a sliced sweep (--slice) into one.",
                            epilog="Exit status: 0 every job done, 3 some missing or failed, 2 bad input, "
                                   "1 the output could not be written.")
    parser.add_argument("output", help="merged HDF5 file to write")
    parser.add_argument("parts", nargs="+", help="part files written with --slice")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output")
    args = parser.parse_args(argv)
    try:
        summary, attrs = merge(Path(args.output), [Path(p) for p in args.parts], args.force)
    except ParameterError as exc:
        return fail(str(exc))
    except WriteError as exc:  # a full disk: one line, no traceback
        print(f"perc_mpi: error: {exc}", file=sys.stderr, flush=True)
        # Now, not through the interpreter's exit: HDF5 would flush the file whose close
        # failed at its own shutdown, and crash (status 139).
        os._exit(config.EXIT_ERROR)
    with to_stdout():
        write_summary_csv(sys.stdout, sorted_rows(summary))
    left = attrs["jobs_total"] - attrs["jobs_done"]
    print(f"perc_mpi: merged {plural(len(args.parts), 'part')} into {args.output}: {attrs['jobs_done']}/"
          f"{attrs['jobs_total']} jobs done" + (f", {left} missing or failed ({missing_advice(args.parts)})"
                                                if left else ""), file=sys.stderr)
    return config.EXIT_OK if not left else config.EXIT_JOBS_FAILED
