"""One job, without MPI: the record, the summed vector, the packed mask, errors as values."""

import json
import socket
import zlib

import numpy as np
import pytest

import perc_mpi
from perc_mpi import config, jobs, measures
from perc_mpi.parameters import parse_sweep
from perc_mpi.plan import build_plan

SPEC = {"size": [9, 17], "depth": [2, 5], "runs": 3, "seed": 99}


def first_job(spec=SPEC):
    return build_plan(parse_sweep(spec, json.dumps(spec), "spec")).jobs[0]


def test_a_done_job_records_its_run_and_measures():
    job = first_job()
    outcome = jobs.run_job(job, rank=3, save_cluster=True)
    params = jobs.params_of(job)
    result = perc_mpi.invade(params.width, params.height, params.depth, params.seed)
    record = outcome.record
    assert outcome.error is None and record["status"] == jobs.DONE and record["rank"] == 3
    assert record["seed"] == job["seed"] and record["job"] == job["job"] and record["point"] == job["point"]
    assert record["filled"] == result.n_filled
    assert record["dimension"] == measures.box_dimension(*result.measure_args)
    assert record["seconds"] > 0
    np.testing.assert_array_equal(outcome.rings, measures.ring_counts(*result.measure_args))
    packed = np.frombuffer(zlib.decompress(outcome.cluster), np.uint8)
    np.testing.assert_array_equal(jobs.unpack_cluster(packed, params.width, params.height), result.filled)


def test_a_mask_is_kept_only_when_asked():
    assert jobs.run_job(first_job(), rank=0).cluster is None


@pytest.mark.parametrize("shape", [(3, 3), (7, 5), (5, 11), (8, 8)])
def test_packed_masks_unpack_to_themselves(shape):
    mask = np.random.default_rng(sum(shape)).random(shape) < 0.4
    packed = np.frombuffer(zlib.decompress(jobs.pack_cluster(mask)), np.uint8)
    assert len(packed) == -(-mask.size // 8)  # the row length of clusters/
    np.testing.assert_array_equal(jobs.unpack_cluster(packed, *shape), mask)


def test_the_continuous_models_summed_vector_ends_with_its_acceptance_bins():
    result = perc_mpi.invade(15, 13, "continuous", seed=4)
    vector = jobs.summed_vector(result)
    rings = measures.ring_counts(*result.measure_args)
    bins = config.ACCEPTANCE_BINS
    assert len(vector) == len(rings) + 2 * bins
    np.testing.assert_array_equal(vector[:len(rings)], rings)
    seen, accepted = vector[len(rings):len(rings) + bins], vector[len(rings) + bins:]
    assert accepted.sum() == result.n_filled - 1 and np.all(accepted <= seen)  # the centre is in neither


@pytest.mark.parametrize("failure", [MemoryError("synthetic failure"), SystemExit("synthetic failure")])
def test_a_job_failing_in_its_measures_records_no_results(monkeypatch, failure):
    # SystemExit too (a library's sys.exit()): it would end this rank alone, the others waiting
    def broken(*args):
        raise failure

    monkeypatch.setattr(jobs.measures, "ring_counts", broken)
    job = first_job()
    outcome = jobs.run_job(job, rank=1)
    assert outcome.record["status"] == jobs.FAILED and outcome.rings is None and outcome.cluster is None
    assert outcome.record["filled"] == -1 and np.isnan(outcome.record["dimension"])
    assert outcome.record["rank"] == 1 and outcome.record["seconds"] >= 0  # failed runs keep their timing
    assert outcome.error.startswith(f"job {int(job['job'])} on rank 1 ({socket.gethostname()}):")
    assert "synthetic failure" in outcome.error and "Traceback" in outcome.error
