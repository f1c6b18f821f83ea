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
from .console import ArgumentParser, command_line, fail
from .parameters import ParameterError, sweep_differences
from .plan import build_plan
from .records import DONE, FAILED, progress
from .report import plural, to_stdout, write_summary_csv
from .store import (
    WriteError,
    being_written,
    lock_output,
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
    if output.exists() and not force:
        raise ParameterError(str(output), None, "output exists; use --force to overwrite it")
    lock = lock_output(target)  # before the work: a session writing it refuses the merge at once
    try:
        return _merge_into(target, parts)
    finally:
        unlock_output(lock)


def _merge_into(target: Path, parts: list[Path]) -> tuple[np.ndarray, dict]:
    """Merge the part files into ``target``, checked and locked; return ``(summary, attrs)``."""
    snapshots = []
    for part in parts:
        if not part.is_file():
            raise ParameterError(str(part), None, "no such file" if not part.exists() else "not a file")
        if parts.count(part) > 1:
            raise ParameterError(str(part), None, "part given twice")
        try:
            snapshots.append(read_snapshot(part))
        except (OSError, KeyError, ValueError) as exc:
            raise ParameterError(str(part), None, f"not a perc_mpi sweep file: {exc}") from None
    first = snapshots[0].attrs
    sweeps = [recorded_sweep(snap.attrs, str(part)) for part, snap in zip(parts, snapshots)]
    for part, sweep in zip(parts[1:], sweeps[1:]):
        differences = sweep_differences(sweeps[0], sweep)
        if differences:
            diff = "; ".join(f"{what}: {parts[0]} has {a}, this part {b}" for what, a, b in differences)
            raise ParameterError(str(part), None, f"not a part of the same sweep ({diff})")
    plan = build_plan(sweeps[0])

    runs = snapshots[0].runs.copy()
    for snap in snapshots:  # a job that failed in its slice stays failed, unless done in another part
        failed = snap.runs["status"] == FAILED
        runs[failed] = snap.runs[failed]
    rings = RingSums(plan.points)
    owner = np.full(len(runs), -1)
    for i, (part, snap) in enumerate(zip(parts, snapshots)):
        done = snap.runs["status"] == DONE
        clash = done & (owner >= 0)
        if clash.any():
            raise ParameterError(str(part), None, f"job {int(np.flatnonzero(clash)[0])} is also done in "
                                 f"{parts[owner[clash][0]]}: the parts overlap")
        owner[done] = i
        runs[done] = snap.runs[done]
        rings.sums += np.concatenate(snap.ring_sums)
    failures = {job: text for snap in snapshots for job, text in snap.failures.items()
                if runs["status"][job] == FAILED}
    summary, density = summarize(plan.points, runs, rings)
    attrs = dict(first)
    attrs.update(progress(runs))
    # The parts' overheads weighted by the jobs each ran (one that ran none has no figure: NaN).
    ran = np.array([np.count_nonzero(owner == i) for i in range(len(parts))])
    used = ran > 0
    overheads = np.array([float(s.attrs.get("overhead_seconds_per_job", np.nan)) for s in snapshots])
    overhead = float(ran[used] @ overheads[used] / ran.sum()) if used.any() else np.nan
    attrs.update(
        slice="", sessions=int(sum(s.attrs.get("sessions", 1) for s in snapshots)),
        hosts=",".join(sorted({h for s in snapshots for h in str(s.attrs.get("hosts", "")).split(",") if h})),
        mpi_size=int(max(s.attrs.get("mpi_size", 1) for s in snapshots)),
        command=command_line(),
        end_time=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        start_time=min(str(s.attrs.get("start_time", "")) for s in snapshots),
        overhead_seconds_per_job=overhead,
        merged_from=",".join(str(p) for p in parts),
    )
    ring_sums = [rings.of(i) for i in range(len(plan.points))]
    # Masks only if every part saved them: the attribute says every run's mask is there.
    attrs["save_clusters"] = all(snap.attrs.get("save_clusters", False) for snap in snapshots)
    if not attrs["save_clusters"] and any(snap.clusters for snap in snapshots):
        print("perc_mpi: the masks are not merged: some parts were run without --save-clusters "
              "(results.mask re-simulates any run exactly)", file=sys.stderr)
    clusters = {job: c for snap in snapshots for job, c in snap.clusters.items()} if attrs["save_clusters"] else None
    write_snapshot(target, attrs, runs, summary, density, ring_sums, plan.points, failures, clusters)
    return summary, attrs


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
    writing = [part for part in args.parts if being_written(Path(part))]
    then = (f"{', '.join(writing)} {'is' if len(writing) == 1 else 'are'} still being written: merge again once "
            "their sessions end" if writing else "run their slices again with --resume")
    print(f"perc_mpi: merged {plural(len(args.parts), 'part')} into {args.output}: {attrs['jobs_done']}/"
          f"{attrs['jobs_total']} jobs done" + (f", {left} missing or failed ({then})" if left else ""),
          file=sys.stderr)
    return config.EXIT_OK if not left else config.EXIT_JOBS_FAILED
