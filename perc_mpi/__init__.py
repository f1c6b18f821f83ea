"""perc_mpi: invasion-percolation parameter sweeps, MPI-parallel, into one HDF5 file.

The stable entry point for one run is :func:`invade`; sweeps run from the command line
(``mpirun -n N python -m perc_mpi sweep.json``).
"""

import os

# One process writes the output, by atomic rename: HDF5's file locking protects nothing
# here and fails on NFS/Lustre (errno 37/524). Must be set before h5py is imported.
os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")

from .engine import InvasionResult, invade  # noqa: E402

__version__ = "0.1.0"

__all__ = ["InvasionResult", "invade", "__version__"]
