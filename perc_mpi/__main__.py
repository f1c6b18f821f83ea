"""``python -m perc_mpi``: see :mod:`perc_mpi.cli`."""

import sys

from .cli import main

sys.exit(main())
