"""Tunables and limits shared across modules (a kernel's own live beside it, with their measurements)."""

ENGINES = ("fast", "original")
DEFAULT_ENGINE = "fast"

MIN_SIDE = 3
MAX_DEPTH = 65535  # cell values are stored as uint16
CONTINUOUS = 0  # depth "continuous" (values uniform in [0, 1)) is stored as depth 0
ACCEPTANCE_BINS = 100  # value bins of the continuous model's acceptance profile
MAX_CELLS = 2**31 - 1  # tie counts and indices stay well inside 32-bit draws
MAX_SEED = 2**63 - 1  # the original draws job seeds with randrange(sys.maxsize)
MAX_JOBS = 10_000_000

# Bytes one run needs at its peak (kernel, result arrays, measures), per grid cell and per
# filled cell, by kind of run; used to refuse grids that cannot fit before any work
# starts.  Measured (2026-11-28): peak RSS of one 10001 x 10001 run and its measures, less
# an idle process's 146 MB (its RSS after a tiny run) -- fast 468 MB at 3.1% of the grid
# filled (depth 100), 1667 MB at 72.7% (depth 2); continuous 841 MB at 6.1%; original
# 605 MB at 3.75% (depth 100), 1595 MB at 67.7% (depth 2).
RUN_BYTES = {"fast": (4.14, 17.2), "continuous": (4.14, 70.4), "original": (5.46, 15.5)}
# What a process grows by when it loads the compiled kernels, before its first run (the
# memory check runs before that): measured 46-50 MB over the sweep driver's 128 MB, for
# one to three kinds of run.
KERNEL_LOAD_BYTES = 50e6
# A sweep rank's resident memory before its runs (Python, NumPy, Numba, h5py, mpi4py),
# which a job's memory limit counts too (the check itself measures this process's
# proportional set size): 128 MB resident on ranks 0 and 1 alike at the check, 86 MB
# proportional with 2 ranks.  The dry run, which plans for other nodes, adds it to what
# a rank needs.
PROCESS_BYTES = 130e6
# From this depth on the original engine's grid words take four bytes instead of two
# (_original.grid_dtype), its count trees more too: measured at 10001 x 10001, depths
# 8192 and 65535, 916 MB at 4.5% and 6.8% filled, ~2.2 more bytes per cell than above.
ORIGINAL_WIDE_WORD_DEPTH = 8192
ORIGINAL_WIDE_WORD_BYTES = 2.2
# A run's filled share is bounded by this many times the cost model's expected share
# (below), at most 1.  Measured largest share / model over 200-400 seeds per size and
# depth (1, 2, 5, 20, 100, 1000, continuous): 2.1-2.6 at 2001^2 and 4001^2, up to 3.2
# on the small grids (501^2, 1001^2: a few MB either way); 2.15 at 10001^2, depth 100
# (25 seeds).  (Until 2026-11-28 it was 1.6, from depth 2 alone: depth-100 runs of
# 10001^2 filling 15% of the grid needed ~100 MB more than the check allowed.)
MEMORY_FILL_MARGIN = 3.0
# Every rank keeps the distance-ring tables (measures.ring_table) of up to this many grid
# shapes, about this many bytes per cell each (an int32 ring index per offset from the
# centre, two int64 per ring; measured 2.08-2.20 at 2001^2..10001^2); RUN_BYTES includes
# one shape's.
RING_TABLES_KEPT = 16
RING_TABLE_BYTES_PER_CELL = 2.2
# Rank 0 keeps per point an int64 sum per ring, and per snapshot its distance and fraction
# (float64); per grid shape, the rings' squared distances and cell counts (int64).
SUMS_BYTES_PER_RING_AND_POINT = 24
SUMS_BYTES_PER_RING_AND_SHAPE = 16
# Rank 0 keeps per job its row of the plan, its record, its share of the schedule and
# its cost estimate (measured: peak RSS of -n 1 sweeps of 100 000 and 300 000 3 x 3
# jobs, 227 and 283 MB, 282 bytes a job; a dry run, 189).
RANK0_BYTES_PER_JOB = 300

# Exit statuses, documented in the README.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_JOBS_FAILED = 3
EXIT_INTERRUPTED = 4

# A run that fills more than this fraction of its grid keeps its mask (one pass over the
# kernel's state) and the measures count from it: full-grid passes, ~1.8 ns a cell at
# 2001^2, against ~13 ns a filled cell for the per-cell gathers (crossover ~14%).
DENSE_FRACTION = 1 / 8

# A stop signal repeated within this many seconds is one request delivered twice (SLURM's
# scancel under mpirun reaches each rank through its job step and through mpiexec).
STOP_REPEAT_SECONDS = 2.0
# A rank about to call MPI_Abort waits this long after its last line: the launcher's
# proxy forwards a rank's stderr from a pipe, and the abort can kill it before it has read
# them (seen under load with the mpich wheel: a traceback cut after its first line).
ABORT_PAUSE_SECONDS = 0.2
PROGRESS_SECONDS = 10.0  # at most one progress line this often on long sweeps
CLUSTER_COMPRESSION = 4  # zlib level of --save-clusters masks (HDF5 gzip filter level)

# Cost model for balancing: filled fraction of the grid ~ a + b / depth (fit at 2001^2:
# 0.5 at depth 2, 0.07 at depth 100; the continuous model is the depth -> infinity
# limit); a filled cell of the `original` engine / of the continuous model costs this
# many `fast` ones (measured: whole jobs, run and measures, median of 5 seeds: 1.9 and 2.5
# at 2001^2 depth 2 and 100, 2.3 and 1.1 at 1001^2; continuous 1.6-2.4 at 2001^2).
FILLED_FRACTION_MODEL = (0.061, 0.87)
ORIGINAL_COST_FACTOR = 2.0
CONTINUOUS_COST_FACTOR = 1.5
# Plus a job's fixed cost, in `fast` filled cells: the per-job Python around the kernel
# (seeding, measures, record) takes ~70 us, at ~28 ns a filled cell (2001^2 depth 2, run
# and measures).  Without it, progress and ETA misjudged sweeps of small grids (an 11^2
# job was modelled 12x cheaper than a 21^2 one; it runs 1.1-1.3x faster).
JOB_FIXED_COST = 2500.0
# The share of the estimated work that rank 0 holds back from the scatter and hands out
# as ranks run dry.  Replaying the measured job times of 720- and 1440-job sweeps on more
# ranks (`python -m perc_mpi.bench` prints it): all scattered, 64 ranks lost 9-22% to
# imbalance, 26-30% with the ranks' speeds spread by 10% (16 ranks: 2-6%, 18-19%); 0.3
# held back lost 0.6-7% (16 ranks: 0.2-0.4%).  0.1 and 0.2 did as well at a 10% spread,
# not at 20% (16 ranks, 720 jobs: 21% and 8% lost; 0.3: 0.7%).
RESERVE_FRACTION = 0.3
# Checkpointing (``--checkpoint SECONDS``, default below): every rank, rank 0 included,
# hands its finished records to rank 0's inbox every FLUSH_FRACTION of it (and at least
# every PROGRESS_SECONDS / 2, for current progress lines) and rank 0
# rewrites the output file every SNAPSHOT_FRACTION of it, so a kill loses at most about
# SECONDS of finished work (slow writes: see SNAPSHOT_SHARE).
CHECKPOINT_SECONDS = 30.0
FLUSH_FRACTION = 1 / 3
SNAPSHOT_FRACTION = 2 / 3
# ... unless a snapshot takes long to write: then they are spaced further apart, so that
# writing them takes at most this share of rank 0's time.
SNAPSHOT_SHARE = 0.05
# Waiting ranks sleep between polls (doubling from MIN to MAX) instead of busy-polling.
POLL_MIN_SECONDS = 0.0005
POLL_MAX_SECONDS = 0.02
