"""Stop signals: SIGTERM, SIGINT and SIGUSR1 ask a sweep to stop after the jobs in flight.

Installed by the command line as soon as it knows the file is a sweep, before the slow
imports (NumPy, Numba, h5py, MPI), so that a signal during start-up is a stop request
like any other rather than the end of the process.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from typing import NoReturn

from . import config

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)


def exit_at_once(reason: str) -> NoReturn:
    """End this process now with the interrupted status, saying why in one line."""
    print(f"perc_mpi: {reason}: stopped at once", file=sys.stderr, flush=True)
    os._exit(config.EXIT_INTERRUPTED)


class StopRequest:
    """Remembers the first stop signal; a second one stops at once (but the same signal
    again within config.STOP_REPEAT_SECONDS: one request delivered twice).

    Stopping at once calls ``at_once`` (the driver's ends every rank) from the handler
    itself: an exception raised there could land anywhere, even in a callback that
    Python discards with an "Exception ignored" traceback, and the signal with it.
    """

    def __init__(self) -> None:
        self.signal: int | None = None
        self.since = 0.0  # when it came (time.monotonic)
        self.at_once: Callable[[str], NoReturn] = exit_at_once

    def install(self) -> None:
        """Catch SIGTERM, SIGINT and SIGUSR1 (SLURM's ``--signal``) in this process."""
        for number in STOP_SIGNALS:
            signal.signal(number, self._handle)

    def ignore(self) -> None:
        """Ignore stop signals from now on: the sweep is over and the process is ending
        with its status (a late signal would replace it with the signal's)."""
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)

    def _handle(self, number, frame) -> None:
        now = time.monotonic()
        if self.signal is None:
            self.signal, self.since = number, now
        elif number == self.signal and now - self.since < config.STOP_REPEAT_SECONDS:
            return  # the same request delivered twice (scancel under mpirun: by SLURM and by mpiexec)
        else:
            self.at_once(f"second stop signal ({signal.Signals(number).name})")

    @property
    def requested(self) -> bool:
        """Return True once a stop signal has arrived."""
        return self.signal is not None
