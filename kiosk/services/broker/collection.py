"""Garbage collection in the broker process on the broker's schedule instead of CPython's.

With 1,000 devices connected the broker process tracks about 300,000 container objects (amqtt keeps ~300 per
connection: tasks, queues, a `transitions` state machine). Measured at 1,000 msg/s (docs/performance.md):

- CPython collects generation 2 whenever 25 % more objects have been *promoted* since the last full collection.
  Steady message traffic promotes short-lived objects all the time, so a full collection ran every 15-30 s even
  though nothing grew, and each one stopped the event loop for 110-300 ms;
- young collections every 700 net allocations added pauses of 3-50 ms several times a second.

Together they made the p99 delivery latency 60-340 ms while the median was 0.5 ms. Here young collections run every
20,000 allocations, CPython's own full collections are off, and the broker asks for one when the process's
allocated memory blocks have grown by a quarter since the last one (cyclic garbage, e.g. the sessions of
disconnected clients, builds up) or every 15 minutes. A full collection still pauses the loop, but at a rate tied to
real growth: a few per connection storm, four an hour at steady state.
"""

from __future__ import annotations

import gc
import logging
import sys
import time
from collections.abc import Callable

log = logging.getLogger(__name__)
NEVER = 2**31 - 1  # a generation-2 threshold CPython never reaches


class CollectionSchedule:
    def __init__(self, young_threshold: int = 20_000, every_s: float = 900.0, growth: float = 1.25,
                 clock: Callable[[], float] = time.monotonic,
                 blocks: Callable[[], int] = sys.getallocatedblocks,
                 collect: Callable[[], int] = gc.collect) -> None:
        self.young_threshold = young_threshold
        self.every_s = every_s
        self.growth = growth
        self._clock = clock
        self._blocks = blocks
        self._collect = collect
        self._baseline = 0
        self._last = 0.0
        self.collections = 0
        self.last_pause_s = 0.0

    def install(self) -> None:
        """Take over generation-2 collections; call once the process has started (after `gc.freeze()`)."""
        gc.set_threshold(self.young_threshold, 10, NEVER)
        self._baseline = self._blocks()
        self._last = self._clock()

    def due(self) -> bool:
        return (self._clock() - self._last >= self.every_s
                or self._blocks() > self._baseline * self.growth)

    def maybe_collect(self) -> bool:
        """A full collection if one is due; returns whether it ran."""
        if not self.due():
            return False
        started = time.perf_counter()
        found = self._collect()
        self.last_pause_s = time.perf_counter() - started
        self.collections += 1
        self._baseline = self._blocks()
        self._last = self._clock()
        log.debug("full garbage collection: %d objects freed in %.0f ms", found, self.last_pause_s * 1000)
        return True
