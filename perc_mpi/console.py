"""The command line's conventions, shared by its subcommands (run, merge, report,
validate): a bad input is one line on stderr, printed by rank 0 only, and exit status 2;
the command as typed, for the output files' provenance."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import NoReturn

from . import config


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, with a usage error printed like any other bad input: one line
    on stderr (rank 0 only under a launcher), exit status 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``message`` as one line and exit with the bad-input status."""
        sys.exit(fail(f"{message} (see {self.prog} --help)"))


# Rank variables set by common launchers (MPICH/Hydra, Open MPI, PMIx, srun), read before
# MPI is initialised so that errors found before then are printed once, not per rank.
RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID")


def launcher_rank() -> int:
    """Return this process's rank as told by the MPI launcher's environment (0 if none)."""
    for name in RANK_VARIABLES:
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


# The processes that launchers start an MPI program's processes from (Linux names, at
# most 15 characters), and the launcher that a user types to start them.
LAUNCHER_DAEMONS = {"slurmstepd": "srun", "hydra_pmi_proxy": "mpirun", "prted": "mpirun", "orted": "mpirun",
                    "prterun": "mpirun", "mpirun": "mpirun", "mpiexec": "mpirun", "mpiexec.hydra": "mpirun"}


def launcher() -> str | None:
    """Return the launcher that started this process itself -- ``"srun"`` or ``"mpirun"``,
    from its parent process's name -- or None (started from a shell, a script, Python...).

    Why the parent: a shell in an ``srun -n 4 --pty bash`` step has the step's variables
    too, and what is typed there runs alone on purpose."""
    try:
        parent = Path(f"/proc/{os.getppid()}/comm").read_text().strip()
    except OSError:  # not Linux: no launcher known
        return None
    return LAUNCHER_DAEMONS.get(parent)


def launcher_size() -> int:
    """Return how many processes the launcher that started this one itself
    (:func:`launcher`) started for its MPI world (1 if none did): Hydra's or Open MPI's
    world size, else srun's task count (srun sets no world size when its MPI plugin is not
    the one MPI speaks)."""
    if launcher() is None:
        return 1
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "SLURM_STEP_NUM_TASKS"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 1


def fail(message: str) -> int:
    """Print one error line on stderr (rank 0 only) and return the bad-input exit status."""
    if launcher_rank() == 0:
        print(f"perc_mpi: error: {message}", file=sys.stderr)
    return config.EXIT_BAD_INPUT


def reason(exc: Exception) -> str:
    """Return an exception's message without the file name an OSError repeats (the
    caller names the file once)."""
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def command_line() -> str:
    """Return this process's command line as typed (``python -m perc_mpi ...``, not the
    path of ``__main__.py`` that ``sys.argv`` holds then)."""
    program = "python -m perc_mpi" if sys.argv[0].endswith("__main__.py") else sys.argv[0]
    return " ".join([program, *map(shlex.quote, sys.argv[1:])])
