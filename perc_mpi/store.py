"""Stage 6: the sweep's HDF5 file, written by one process with plain h5py.

Layout (every dataset 1-D, plain dtypes, no pickles; see the README):

* root attributes: ``sweep_json``, ``sweep_seed``, ``perc_mpi_version``, ``mpi_size``,
  library versions, ``start_time``/``end_time`` (ISO 8601 UTC), ``hosts``;
* ``runs/<column>``: one row per job, in job-index order;
* ``summary/<column>``: one row per parameter point, in cube order, each with
  ``unit`` and ``description`` attributes;
* ``density/point_NNNNN/{distance,fraction}``: the pooled profile of point NNNNN;
* ``failures/{job,error}``: jobs that raised, with their tracebacks.

The file is written under a temporary name and renamed into place, so a reader never
sees a half-written file under the final name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .aggregate import SUMMARY_COLUMNS


def _write_table(group: h5py.Group, table: np.ndarray, columns: dict[str, tuple[str, str]] | None = None) -> None:
    for name in table.dtype.names:
        dataset = group.create_dataset(name, data=np.ascontiguousarray(table[name]))
        if columns and name in columns:
            dataset.attrs["unit"], dataset.attrs["description"] = columns[name]


def write_results(path: str | os.PathLike, attrs: dict[str, Any], runs: np.ndarray, summary: np.ndarray,
                  density: list[tuple[np.ndarray, np.ndarray]], points: np.ndarray,
                  failures: list[tuple[int, str]]) -> Path:
    """Write the sweep file atomically at ``path`` and return its path."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    with h5py.File(partial, "w") as f:
        for key, value in attrs.items():
            f.attrs[key] = value
        _write_table(f.create_group("runs"), runs)
        _write_table(f.create_group("summary"), summary,
                     {name: (unit, text) for name, _, unit, text in SUMMARY_COLUMNS})
        group = f.create_group("density")
        for i, (distance, fraction) in enumerate(density):
            point = group.create_group(f"point_{i:05d}")
            for name in points.dtype.names:
                point.attrs[name] = points[i][name]
            point.create_dataset("distance", data=distance)
            point.create_dataset("fraction", data=fraction)
        errors = f.create_group("failures")
        errors.create_dataset("job", data=np.array([job for job, _ in failures], np.int64))
        errors.create_dataset("error", data=np.array([text for _, text in failures], dtype=h5py.string_dtype()))
    os.replace(partial, path)
    return path
