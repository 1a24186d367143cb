"""The hub's once-a-second clock (`hub-ticker` thread): each job on its own period.

A job that fails is logged with its traceback the first time and then at most once a minute, and counted; the
others keep running (one broken job never stops devices going offline or the status reaching the screens).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

FAILURE_LOG_EVERY_S = 60.0


@dataclass(frozen=True)
class Job:
    """`run` every `every` ticks, on the ticks where `tick % every == offset` (an hourly job 30 s after start)."""

    name: str
    run: Callable[[], object]
    every: int = 1
    offset: int = 0


class Ticker:
    def __init__(self, jobs: Sequence[Job], stop: threading.Event, period_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.jobs = tuple(jobs)
        self._stop = stop
        self._period_s = period_s
        self._clock = clock
        self._thread: threading.Thread | None = None
        self.ticks = 0
        self.failures: dict[str, int] = {}  # by job name
        self._logged: dict[str, float] = {}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hub-ticker", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def tick(self) -> None:
        """One tick: the jobs due now, in their order."""
        self.ticks += 1
        for job in self.jobs:
            if self.ticks % job.every == job.offset % job.every:
                try:
                    job.run()
                except Exception:
                    self._failed(job)

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            self.tick()

    def _failed(self, job: Job) -> None:
        count = self.failures[job.name] = self.failures.get(job.name, 0) + 1
        now = self._clock()
        last = self._logged.get(job.name)
        if last is None:
            log.exception("the hub's %s job failed; it runs again on its next tick", job.name)
        elif now - last >= FAILURE_LOG_EVERY_S:
            log.error("the hub's %s job failed again (%d times in all)", job.name, count, exc_info=True)
        else:
            return
        self._logged[job.name] = now
