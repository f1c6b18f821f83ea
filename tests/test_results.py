"""Post-analysis: the results API, the documented layout, and the report."""

import importlib.util
import json
import os
import re
import shutil
import struct
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
from conftest import ROOT, run_cli
from naive import collect_density, estimate_density, fast_invasion

import perc_mpi
from perc_mpi import results
from perc_mpi.records import RECORD_DTYPE


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory):
    directory = tmp_path_factory.mktemp("results")
    path = directory / "sweep.json"
    path.write_text(json.dumps({"size": [15, 31], "depth": [2, 9], "runs": 4, "seed": 31337}))
    proc = run_cli(path, mpi=2)
    assert proc.returncode == 0, proc.stderr
    return directory / "sweep.h5"


def test_runs_and_summary_as_structured_arrays(sweep_file):
    sweep = results.open(sweep_file)
    assert sweep.runs["job"].tolist() == list(range(16)) and len(sweep.summary) == 4
    assert sweep.sweep == {"size": [15, 31], "depth": [2, 9], "runs": 4, "seed": 31337}
    with h5py.File(sweep_file) as f:
        np.testing.assert_array_equal(sweep.summary["density_x"], f["summary/density_x"][()])


def test_job_start_times_draw_each_ranks_timeline(sweep_file):
    sweep = results.open(sweep_file)
    start, end = (np.datetime64(sweep.attrs[key].replace("+00:00", "")) for key in ("start_time", "end_time"))
    runs = sweep.runs
    begun = runs["started"].astype("datetime64[s]")  # Unix seconds
    assert np.all((start <= begun) & (begun <= end))
    for rank in (0, 1):  # a rank's jobs run one after another (two clocks: 0.1 ms slack)
        mine = np.sort(runs[runs["rank"] == rank], order="started")
        assert len(mine) and np.all(mine["started"][1:] >= mine["started"][:-1] + mine["seconds"][:-1] - 1e-4)


def test_rank_time_splits_the_ranks_time_into_busy_and_idle():
    # rank 0: jobs at 10-12 and 13-16; rank 1: one job at 11-14; rank 2 runs nothing.
    runs = np.zeros(3, RECORD_DTYPE)
    runs["rank"], runs["started"], runs["seconds"] = [0, 1, 0], [10.0, 11.0, 13.0], [2.0, 3.0, 3.0]
    shares, span = results.rank_time(runs, 3)
    assert span == 6.0
    whole = 3 * span  # three ranks over 10..16
    assert shares == {"busy": 8 / whole, "at_start": (0 + 1 + 6) / whole, "between": 1 / whole,
                      "at_end": (0 + 2 + 0) / whole}
    assert sum(shares.values()) == pytest.approx(1)


def test_rank_time_of_a_sweep_file(sweep_file):
    sweep = results.open(sweep_file)
    shares, span = sweep.rank_time()
    assert sum(shares.values()) == pytest.approx(1) and span > 0
    assert shares["busy"] == pytest.approx(sweep.runs["seconds"].sum() / (2 * span))


def test_rank_time_and_timeline_of_a_file_resumed_on_fewer_ranks(sweep_file, tmp_path):
    pytest.importorskip("matplotlib")
    resumed = tmp_path / "resumed.h5"
    resumed.write_bytes(sweep_file.read_bytes())
    with h5py.File(resumed, "a") as f:
        f.attrs["mpi_size"] = 1  # the last session: one rank; the runs name ranks 0 and 1
    shares, _ = results.open(resumed).rank_time()
    assert sum(shares.values()) == pytest.approx(1)
    assert run_cli("report", resumed, "-o", tmp_path / "report").returncode == 0


def test_a_file_from_before_the_started_column_still_opens(sweep_file, tmp_path):
    older = tmp_path / "older.h5"
    older.write_bytes(sweep_file.read_bytes())
    with h5py.File(older, "a") as f:
        del f["runs/started"]
    older_sweep = results.open(older)
    runs = older_sweep.runs
    assert np.all(np.isnan(runs["started"]))
    with pytest.raises(ValueError, match="no done run with a start time"):
        older_sweep.rank_time()
    if importlib.util.find_spec("matplotlib"):  # its report draws an empty timeline
        assert run_cli("report", older, "-o", tmp_path / "report").returncode == 0
    np.testing.assert_array_equal(runs["dimension"], results.open(sweep_file).runs["dimension"])


def test_reaggregation_equals_the_stored_summary(sweep_file):
    sweep = results.open(sweep_file)
    again = sweep.summarize()
    for name in sweep.summary.dtype.names:
        np.testing.assert_array_equal(again[name], sweep.summary[name], err_msg=name)


def test_filtered_reaggregation_equals_the_originals_definitions(sweep_file):
    assert_subset_follows_the_definitions(results.open(sweep_file), runs_per_point=4)


def test_filtered_reaggregation_of_continuous_points(clusters_file):
    # their summed vectors carry the acceptance bins after the rings
    assert_subset_follows_the_definitions(results.open(clusters_file), runs_per_point=3)


def test_a_subset_counts_only_its_own_failed_runs(sweep_file):
    from perc_mpi.records import FAILED

    sweep = results.open(sweep_file)
    failing = np.flatnonzero(sweep.runs["point"] == 1)[-1]  # the last run of point 1 had failed
    sweep.runs["status"][failing] = FAILED
    assert sweep.summarize()["failed"].tolist() == [0, 1, 0, 0]
    assert sweep.summarize(np.arange(len(sweep.runs)) != failing)["failed"].tolist() == [0, 0, 0, 0]


def assert_subset_follows_the_definitions(sweep, runs_per_point):
    chosen = sweep.runs["job"] % runs_per_point < 2  # runs 0 and 1 of every point
    subset = sweep.summarize(chosen)
    assert subset["count"].tolist() == [2, 2, 2, 2]
    for point in range(4):
        jobs = np.flatnonzero(chosen & (sweep.runs["point"] == point))
        np.testing.assert_allclose(subset["dimension"][point], sweep.runs["dimension"][jobs].mean(), rtol=1e-12)
        pooled = [xy for job in jobs for xy in collect_density(sweep.mask(job))]
        np.testing.assert_allclose([subset["density_x"][point], subset["density_k"][point]],
                                   estimate_density(pooled), rtol=1e-9, atol=1e-12)


def test_masks_resimulated_from_seeds_equal_the_runs(sweep_file):
    sweep = results.open(sweep_file)
    for job in (0, 7, 15):
        mask = sweep.mask(job)
        assert mask.sum() == sweep.runs["filled"][job]
        params = perc_mpi.jobs.params_of(sweep.runs[job])
        # The plain twin, not the engine that re-simulated the mask.
        np.testing.assert_array_equal(mask, fast_invasion(params.width, params.height, params.depth,
                                                          params.seed)[0])


def test_pandas_frames(sweep_file):
    pytest.importorskip("pandas")
    runs, summary = results.open(sweep_file).to_pandas()
    assert list(summary.columns[:6]) == ["size", "depth", "count", "dimension", "density_x", "density_k"]
    assert runs["engine"].unique().tolist() == ["fast"]


def test_file_has_plain_types_only(sweep_file):
    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            assert obj.dtype.kind in "iufbS" or h5py.check_string_dtype(obj.dtype), (name, obj.dtype)

    with h5py.File(sweep_file) as f:
        f.visititems(visit)


@pytest.fixture(scope="module")
def clusters_file(sweep_file):
    path = sweep_file.with_name("clusters.json")
    path.write_text(json.dumps({"size": [15, 21], "depth": [3, "continuous"], "runs": 3, "seed": 5}))
    proc = run_cli(path, "--save-clusters", mpi=2)
    assert proc.returncode == 0, proc.stderr
    return sweep_file.with_name("clusters.h5")


def layout(path):
    """Return the set of names (datasets, @attributes) in a sweep file, per-point names generalised."""
    names = set()
    with h5py.File(path) as f:
        names |= {f"@{k}" for k in f.attrs}
        for group in ("runs", "summary", "failures"):
            names |= {f"{group}/{k}" for k in f[group]}
        for point in f["density"].values():
            names |= {f"density/point_NNNNN/{k}" for k in point}
            names |= {f"density/point_NNNNN/@{k}" for k in point.attrs}
        if "clusters" in f:
            names.add("clusters/point_NNNNN")
            names |= {f"clusters/point_NNNNN/@{k}" for k in f["clusters/point_00000"].attrs}
    return names


def test_documented_layout_matches_the_files(sweep_file, clusters_file):
    """Every dataset and attribute of the files is in docs/output-format.md, and back."""
    doc = (ROOT / "docs" / "output-format.md").read_text()
    documented = set(re.findall(r"^\| `([^`]+)` \|", doc, flags=re.M))
    plain, with_clusters = layout(sweep_file), layout(clusters_file)
    assert plain - documented == set() and with_clusters - documented == set(), "undocumented"
    assert documented - (plain | with_clusters) == set(), "documented but absent"


def test_documented_dtypes_and_units_are_the_files(sweep_file, clusters_file):
    doc = (ROOT / "docs" / "output-format.md").read_text()
    rows = re.findall(r"^\| `((?:runs|summary|density/point_NNNNN)/\w+)` \| (\w+) \|([^|]*)\|", doc, flags=re.M)
    assert len(rows) > 30
    with h5py.File(clusters_file) as f:  # it has every dataset (the continuous model's too)
        for name, dtype, unit in rows:
            dataset = f[name.replace("point_NNNNN", "point_00001")]
            assert (dataset.dtype, dataset.attrs["unit"]) == (np.dtype(dtype), unit.strip()), name


def test_every_table_dataset_says_its_unit_and_meaning(sweep_file, clusters_file):
    # self-describing: h5dump -A shows what a column is without the docs
    for path in (sweep_file, clusters_file):
        with h5py.File(path) as f:
            datasets = [*f["runs"].values(), *f["summary"].values(),
                        *(d for point in f["density"].values() for d in point.values())]
            for dataset in datasets:
                assert set(dataset.attrs) == {"unit", "description"} and dataset.attrs["description"], dataset.name
            assert f["density/point_00000"].attrs.get_id("engine").dtype == np.dtype("S8")
    with h5py.File(clusters_file) as f:  # the continuous model's datasets were among them
        assert "acceptance_seen" in f["density/point_00001"]


def test_saved_clusters_equal_the_resimulated_runs(clusters_file):
    sweep = results.open(clusters_file)
    with h5py.File(clusters_file) as f:
        assert f["clusters/point_00002"].compression == "gzip"
        assert f["clusters/point_00002"][2].any()  # saved, not re-simulated
    for job in range(len(sweep.runs)):
        params = perc_mpi.jobs.params_of(sweep.runs[job])
        np.testing.assert_array_equal(sweep.mask(job), perc_mpi.engine.run(params).filled)
    np.testing.assert_array_equal(sweep.mask(-1), sweep.mask(len(sweep.runs) - 1))
    for outside in (len(sweep.runs), -len(sweep.runs) - 1):
        with pytest.raises(IndexError, match=f"job {outside} is not in this file's jobs 0..{len(sweep.runs) - 1}"):
            sweep.mask(outside)


def test_saved_rows_are_the_written_chunks_with_or_without_chunk_iter(tmp_path):
    from perc_mpi.store import saved_rows

    with h5py.File(tmp_path / "c.h5", "w") as f:
        data = f.create_dataset("c", shape=(50, 4), dtype=np.uint8, chunks=(1, 4))
        for row in (0, 7, 49):
            data[row] = row + 1
        # h5py on an HDF5 without chunk_iter: asked row by row
        old_h5py = SimpleNamespace(id=SimpleNamespace(get_chunk_info_by_coord=data.id.get_chunk_info_by_coord),
                                   shape=data.shape)
        assert sorted(saved_rows(data)) == saved_rows(old_h5py) == [0, 7, 49]


def test_merging_parts_with_and_without_masks_keeps_none(clusters_file, tmp_path):
    spec = json.loads(clusters_file.with_suffix(".json").read_text())
    path = tmp_path / "clusters.json"
    path.write_text(json.dumps(spec))
    assert run_cli(path, "--slice", "0/2", "--save-clusters", "-o", tmp_path / "p0.h5").returncode == 0
    assert run_cli(path, "--slice", "1/2", "-o", tmp_path / "p1.h5").returncode == 0
    proc = run_cli("merge", tmp_path / "merged.h5", tmp_path / "p0.h5", tmp_path / "p1.h5")
    assert proc.returncode == 0 and "masks are not merged" in proc.stderr
    with h5py.File(tmp_path / "merged.h5") as f:
        assert not f.attrs["save_clusters"] and "clusters" not in f


def test_report_writes_the_csv_and_readable_pngs(sweep_file, tmp_path):
    pytest.importorskip("matplotlib")
    proc = run_cli("report", sweep_file, "-o", tmp_path / "report")
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in (tmp_path / "report").iterdir())
    assert names == ["density_profiles.png", "dimension_vs_size.png", "example_clusters.png", "rank_timeline.png",
                     "summary.csv", "time_per_run.png"]
    for name in [name for name in names if name.endswith(".png")]:
        data = (tmp_path / "report" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", data[16:24])
        assert 400 <= width <= 2000 and 300 <= height <= 2000, (name, width, height)
    csv = (tmp_path / "report" / "summary.csv").read_text()
    assert csv.splitlines()[0].startswith("size,depth,count,dimension,density_x,density_k")


def test_subcommands_under_mpirun_run_on_rank_0_alone(sweep_file, tmp_path):
    proc = run_cli("merge", tmp_path / "merged.h5", sweep_file, mpi=2)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines() + proc.stdout.splitlines()
    assert lines and len(lines) == len(set(lines))  # each line once
    proc = run_cli("report", tmp_path / "merged.h5", "-o", tmp_path / "report", env={"PMI_RANK": "1"})
    assert proc.returncode == 0 and not proc.stdout + proc.stderr and not (tmp_path / "report").exists()


def test_report_on_a_missing_file(tmp_path):
    proc = run_cli("report", tmp_path / "nope.h5")
    assert proc.returncode == 2 and proc.stderr.endswith("not a readable perc_mpi sweep file: no such file\n")
    os.mkfifo(tmp_path / "fifo.h5")  # HDF5 would wait on it for ever
    proc = run_cli("report", tmp_path / "fifo.h5", timeout=60)
    assert proc.returncode == 2 and "not a regular file" in proc.stderr


def test_report_of_a_file_with_no_finished_run_is_refused(sweep_file, tmp_path):
    pytest.importorskip("matplotlib")
    fresh = tmp_path / "fresh.h5"
    shutil.copy(sweep_file, fresh)
    with h5py.File(fresh, "r+") as f:  # as a first snapshot before any job ended
        f["runs/status"][...] = 0
    proc = run_cli("report", fresh)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "no run has finished yet" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.h5"]  # no empty plots, no directory


def test_dimension_plot_of_a_rectangular_sweep_has_a_line_per_height(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from perc_mpi import plots

    path = tmp_path / "rect.json"
    path.write_text(json.dumps({"width": [9, 13], "height": [7, 11], "depth": [2, 3], "runs": 2, "seed": 5}))
    assert run_cli(path).returncode == 0
    sweep = results.open(tmp_path / "rect.h5")
    saved = []  # the figure, kept from plt.close to read its legend
    plots.plot_dimension(SimpleNamespace(subplots=plt.subplots, close=saved.append), sweep, tmp_path / "d.png")
    lines = saved[0].axes[0].get_legend().get_texts()
    assert sorted(t.get_text() for t in lines) == ["depth 2, height 11", "depth 2, height 7",
                                                   "depth 3, height 11", "depth 3, height 7"]


def test_plots_of_many_series_keep_them_apart(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from perc_mpi import plots

    path = tmp_path / "depths.json"  # 12 depths: the default colours repeat after 10
    path.write_text(json.dumps({"size": [7, 9], "depth": list(range(1, 13)), "runs": 1, "seed": 5}))
    assert run_cli(path).returncode == 0
    saved = []
    plots.plot_dimension(SimpleNamespace(subplots=plt.subplots, close=saved.append, get_cmap=plt.get_cmap),
                         results.open(tmp_path / "depths.h5"), tmp_path / "d.png")
    ax = saved[0].axes[0]
    colours = {tuple(container.lines[0].get_color()) for container in ax.containers}  # one errorbar a series
    assert len(colours) == 12 and len(ax.get_legend().get_texts()) == 12
    assert ax.get_legend().get_bbox_to_anchor().x0 >= ax.get_window_extent().x1 - 1  # beside the plot


def test_time_plot_has_a_line_per_depth_and_engine(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from perc_mpi import plots

    path = tmp_path / "engines.json"  # the original engine runs 2-3x slower: one median of both misled
    path.write_text(json.dumps({"size": [9, 13], "depth": [2, 3], "engine": ["fast", "original"], "runs": 2,
                                "seed": 5}))
    assert run_cli(path).returncode == 0
    saved = []
    plots.plot_time(SimpleNamespace(subplots=plt.subplots, close=saved.append, matplotlib=matplotlib),
                    results.open(tmp_path / "engines.h5"), tmp_path / "t.png")
    lines = saved[0].axes[0].get_legend().get_texts()
    assert sorted(t.get_text() for t in lines) == ["depth 2 (median)", "depth 2 (original) (median)",
                                                   "depth 3 (median)", "depth 3 (original) (median)"]


def test_commands_on_a_file_still_being_written_say_to_wait(sweep_file, tmp_path):
    pytest.importorskip("matplotlib")
    from perc_mpi.store import lock_output, unlock_output

    path = tmp_path / "sliced.json"
    path.write_text(json.dumps({"size": [9], "depth": [2, 3], "runs": 3, "seed": 5}))
    for part in ("0/2", "1/2"):
        assert run_cli(path, "--slice", part, "-o", tmp_path / f"part{part[0]}.h5").returncode == 0
    live = tmp_path / "live.h5"
    shutil.copy(sweep_file, live)
    with h5py.File(live, "r+") as f:  # a snapshot mid-sweep
        f["runs/status"][8:] = 0
        f.attrs["complete"] = False
    with h5py.File(tmp_path / "part1.h5", "r+") as f:
        f["runs/status"][...] = 0
        f.attrs["complete"] = False
    wait = "still being written: merge again once its session ends; any others: run their slices again with --resume"
    locks = [lock_output(live), lock_output(tmp_path / "part1.h5")]  # as the sessions writing them hold them
    try:
        proc = run_cli("report", live, "-o", tmp_path / "report")
        assert "still being written (8/16 jobs done so far)" in proc.stderr
        assert "wait for the session writing it to end" in proc.stderr and "--resume" not in proc.stderr
        proc = run_cli("merge", tmp_path / "merged.h5", tmp_path / "part0.h5", tmp_path / "part1.h5")
        assert proc.returncode == 3 and f"part1.h5 is {wait}" in proc.stderr
    finally:
        for lock in locks:
            unlock_output(lock)
    proc = run_cli("report", live, "-o", tmp_path / "report")  # the session has ended: now --resume it
    assert proc.returncode == 0 and "not complete (8/16 jobs done): the figures use the done runs only; --resume " \
        "the sweep to finish it" in proc.stderr


def test_report_of_a_slice_part_says_what_it_holds(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "sliced.json"
    path.write_text(json.dumps({"size": [9], "depth": [2, 3], "runs": 1, "seed": 5}))
    assert run_cli(path, "--slice", "1/2").returncode == 0
    proc = run_cli("report", tmp_path / "sliced.h5")
    assert proc.returncode == 0
    assert "is the part 1/2 of a sliced sweep (1/1 of its jobs done)" in proc.stderr
    assert "merge the slices' parts" in proc.stderr
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from perc_mpi import plots

    for plot in (plots.plot_density, plots.plot_clusters):  # point 0 (depth 2) ran in slice 0 only
        saved = []
        plot(SimpleNamespace(subplots=plt.subplots, close=saved.append), results.open(tmp_path / "sliced.h5"),
             tmp_path / "p.png")
        assert [t.get_text() for t in saved[0].axes[0].texts] == ["no finished run"], plot
        assert not saved[0].axes[1].texts


def test_misplaced_files_are_named_for_what_they_are(sweep_file, tmp_path):
    proc = run_cli(sweep_file)  # the output given as the input
    assert proc.returncode == 2 and "an HDF5 file (a sweep's output?)" in proc.stderr
    json_file = tmp_path / "sweep.json"
    json_file.write_text("{}")
    for command in (["report", json_file], ["validate", json_file]):  # the input given as the output
        proc = run_cli(*command)
        assert proc.returncode == 2 and "not an HDF5 file (a sweep's JSON?" in proc.stderr
    for typo, meant in (("reports", "report"), ("merg", "merge"), ("Validate", "validate")):  # a subcommand's typo
        proc = run_cli(typo, tmp_path / "out.h5", sweep_file, sweep_file)
        assert proc.returncode == 2 and f"did you mean '{meant}'?" in proc.stderr, proc.stderr
    proc = run_cli("sweeps/run1")  # a missing file is a missing file
    assert proc.returncode == 2 and proc.stderr.endswith("sweeps/run1: no such file\n")


def _without_status(f):
    del f["runs/status"]  # read as 0 (pending), it once had every job run again on top of the kept sums


def _short_status(f):
    status = f["runs/status"][:5]
    del f["runs/status"]
    f["runs/status"] = status


def _short_table(f):
    for name, column in list(f["runs"].items()):
        kept = column[:5]
        del f["runs"][name]
        f["runs"][name] = kept


@pytest.mark.parametrize("damage, message", [
    (_without_status, "runs/status is missing"),
    (_short_status, "runs/status has 5 rows, runs/job 16"),
    (_short_table, "runs/ holds 5 rows, not the sweep's 16 jobs in job order"),
])
def test_a_damaged_runs_table_is_refused_by_every_command(sweep_file, tmp_path, damage, message):
    damaged = tmp_path / "sweep.h5"
    shutil.copy(sweep_file, damaged)
    with h5py.File(damaged, "r+") as f:
        damage(f)
    (tmp_path / "sweep.json").write_text(json.dumps(results.open(sweep_file).sweep))
    for command in ([tmp_path / "sweep.json", "--resume"], ["merge", tmp_path / "merged.h5", damaged],
                    ["report", damaged], ["validate", damaged]):
        proc = run_cli(*command)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and message in proc.stderr, (command, proc.stderr)
    with pytest.raises(ValueError, match=re.escape(message)):
        results.open(damaged)


def test_report_into_a_file_is_refused(sweep_file, tmp_path):
    pytest.importorskip("matplotlib")
    (tmp_path / "taken").write_text("")
    proc = run_cli("report", sweep_file, "-o", tmp_path / "taken")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "report directory" in proc.stderr


def test_mass_dimension_names_what_it_lacks(sweep_file):
    sweep = results.open(sweep_file)  # sizes 15 and 31 at depths 2 and 9
    assert sweep.mass_dimension(9, engine="fast") == sweep.mass_dimension(9, engine=b"fast")
    with pytest.raises(ValueError, match=r"at depth 0 with engine fast; this file has 0 \(depths in it: 2, 9\)"):
        sweep.mass_dimension()


def test_docs_example_runs(sweep_file):
    """The five-line h5py example in docs/output-format.md works as written."""
    doc = (ROOT / "docs" / "output-format.md").read_text()
    code = re.search(r"```python\n(.*?)```", doc, flags=re.S).group(1)
    exec(code.replace("sweep.h5", str(sweep_file)), {})
    assert Path(sweep_file).exists()


def test_point_groups_are_read_in_point_order(tmp_path, monkeypatch):
    from perc_mpi import store

    # Names without zero padding sort as 0, 1, 10, 11, 2, ...: what the five-digit names
    # do from point 100000 on, where lexicographic order stops being the points' order.
    monkeypatch.setattr(store, "point_group_name", lambda point: f"point_{point}")
    with h5py.File(tmp_path / "points.h5", "w") as f:
        for point in range(12):
            f.create_group("density/" + store.point_group_name(point)).create_dataset("filled_sum", data=[point])
        assert [int(sums[0]) for sums in store.read_ring_sums(f)] == list(range(12))
