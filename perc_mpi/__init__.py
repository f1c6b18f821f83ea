"""perc_mpi: invasion-percolation parameter sweeps, MPI-parallel, into one HDF5 file.

The stable entry point for one run is :func:`invade`; sweeps run from the command line
(``mpirun -n N python -m perc_mpi sweep.json``).
"""

from .engine import InvasionResult, invade

__version__ = "0.1.0"

__all__ = ["InvasionResult", "invade", "__version__"]
