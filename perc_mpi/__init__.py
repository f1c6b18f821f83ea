"""perc_mpi: invasion-percolation parameter sweeps, MPI-parallel, into one HDF5 file.

The stable entry point for one run is :func:`invade`; sweeps run from the command line
(``mpirun -n N python -m perc_mpi sweep.json``).
"""

import importlib
import os

# One process writes the output, by atomic rename: HDF5's file locking protects nothing
# here and fails on NFS/Lustre (errno 37/524). Must be set before h5py is imported.
os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .engine import InvasionResult, invade

__version__ = "0.1.0"

__all__ = ["InvasionResult", "invade", "__version__"]


def __getattr__(name: str):
    """Return :func:`invade`, :class:`InvasionResult` and the ``engine`` module on first
    use: importing them imports Numba (~0.5 s), which ``python -m perc_mpi`` does only
    once it knows what the file asks for (a sweep installs its stop-signal handlers
    first)."""
    if name in ("InvasionResult", "invade", "engine"):
        # import_module, not "from . import engine": that asks this __getattr__ for "engine".
        engine = importlib.import_module(".engine", __name__)
        value = engine if name == "engine" else getattr(engine, name)
        globals()[name] = value  # once: later lookups find it directly
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """Return the module's names, the lazily imported ones included."""
    return sorted({*globals(), "InvasionResult", "invade"})
