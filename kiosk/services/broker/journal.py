"""The broker's side of the journal (kiosk.store.journal): group commits on a thread of their own.

The broker's loop calls `append()` for every device message and gets a future that is done once the message is on
disk; the handler sends PUBACK (QoS 1) or PUBREC (QoS 2) only then. Everything that arrived while one commit ran goes
into the next, so the cost of a commit is shared by all the messages waiting for it. A commit that fails (disk full,
locked) keeps its messages and is retried with a back-off: their acknowledgements simply wait, the devices keep their
messages, and health says why.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from kiosk.core.devices import LogLimiter
from kiosk.core.status import JournalStats
from kiosk.store import journal

log = logging.getLogger(__name__)
BACKOFF_S = (0.05, 2.0)
PRUNE_EVERY_S = 1.0
KEEP_STORED_S = 300.0  # stored entries stay this long, to recognise re-sent copies after a crash
MAX_WAITING_QOS0 = 50_000  # beyond this many unwritten messages, QoS 0 ones (never acknowledged) are dropped


class JournalAppender:
    def __init__(self, path: Path, synchronous: str = "full") -> None:
        self._path = path
        self._synchronous = synchronous
        self._lock = threading.Condition()
        self._waiting: list[journal.Message] = []
        self._futures: list[asyncio.Future[None]] = []
        self._stopping = False
        self._stored_seq = 0  # what the hub has stored: may be pruned
        self._pruned_seq = 0
        self._pruned_at = 0.0
        self._marks: deque[tuple[int, float]] = deque()
        self._inflight = 0  # messages in the commit running now
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connection: sqlite3.Connection | None = None
        self._limiter = LogLimiter(time.monotonic)
        self.appended = self.commits = self.failures = self.dropped_qos0 = self.resent_copies = 0
        self.last_error: str | None = None
        self.last_seq = 0

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._connection = journal.connect(self._path, self._synchronous)
        self.last_seq = journal.last_seq(self._connection)
        self._thread = threading.Thread(target=self._run, name="broker-journal", daemon=True)
        self._thread.start()
        log.info("broker journal %s (synchronous=%s, %d entries kept, up to sequence %d)", self._path,
                 self._synchronous, self._count(), self.last_seq)

    def _count(self) -> int:
        assert self._connection is not None
        return int(self._connection.execute("SELECT count(*) FROM entries").fetchone()[0])

    def stop(self, timeout: float = 5.0) -> None:
        """Write what waits (its senders may still get their acknowledgement), then stop."""
        with self._lock:
            self._stopping = True
            self._lock.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._lock:
            futures, self._futures = self._futures, []
        for future in futures:
            if not future.done():
                future.cancel()
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def append(self, client_id: str, topic: str, payload: bytes, qos: int, packet_id: int | None = None,
               resent: bool = False) -> asyncio.Future[None] | None:
        """On the broker's loop: a future done once the message is on disk (None for a QoS 0 message dropped
        because too much waits: it is never acknowledged, so dropping it breaks no promise)."""
        assert self._loop is not None
        future: asyncio.Future[None] = self._loop.create_future()
        with self._lock:
            if not qos and len(self._waiting) >= MAX_WAITING_QOS0:
                self.dropped_qos0 += 1
                return None
            self._waiting.append(journal.Message(time.time(), client_id, topic, bytes(payload),
                                                 packet_id if qos else None, resent and bool(qos)))
            self._futures.append(future)
            if len(self._waiting) == 1:
                self._lock.notify()
        return future

    def stored(self, seq: int) -> None:
        """The hub has stored everything up to seq: those entries may go."""
        with self._lock:
            self._stored_seq = max(self._stored_seq, seq)

    def stats(self) -> JournalStats:
        with self._lock:
            return JournalStats(self.appended, self.commits, len(self._waiting) + self._inflight, self.failures,
                                self.last_error,
                                self.last_seq, self._stored_seq, self.dropped_qos0, self.resent_copies)

    def _run(self) -> None:
        backoff = 0.0
        while True:
            with self._lock:
                while not self._waiting and not self._stopping:
                    if self._prune_due():
                        break
                    self._lock.wait(PRUNE_EVERY_S)
                if backoff and not self._stopping:
                    self._lock.wait(backoff)
                batch, futures = self._waiting, self._futures
                self._waiting, self._futures = [], []
                self._inflight = len(batch)
                stopping = self._stopping
            if batch:
                if self._commit(batch, futures):
                    backoff = 0.0
                else:
                    with self._lock:
                        self._waiting, self._futures = batch + self._waiting, futures + self._futures
                        self._inflight = 0
                    if stopping:
                        log.error("broker journal stopping with %d messages it could not write; their senders "
                                  "were not acknowledged and will send them again", len(batch))
                        return
                    backoff = min(max(backoff * 2, BACKOFF_S[0]), BACKOFF_S[1])
                    continue
            self._prune()
            if stopping:
                return

    def _commit(self, batch: list[journal.Message], futures: list[asyncio.Future[None]]) -> bool:
        assert self._connection is not None and self._loop is not None
        try:
            copies = journal.append(self._connection, batch)
            seq = journal.last_seq(self._connection)
        except Exception as exc:  # sqlite3.Error mostly; anything else must not stop the journal either
            with self._lock:
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            may_log, held = self._limiter.allow("journal", type(exc).__name__)
            if may_log:
                more = f" ({held} more failures since the last report)" if held else ""
                log.error("broker journal write failed; %d messages wait for their acknowledgement: %s%s",
                          len(batch), exc, more)
            return False
        with self._lock:
            if self.last_error is not None:
                log.warning("broker journal writes work again after %d failures", self.failures)
            self.last_error = None
            self._inflight = 0
            self.appended += len(batch) - copies
            self.resent_copies += copies
            self.commits += 1
            self.last_seq = seq
            if not self._marks or time.monotonic() - self._marks[-1][1] >= 1.0:
                self._marks.append((seq, time.monotonic()))  # which entries were on disk when (for pruning)
        try:
            self._loop.call_soon_threadsafe(_done, futures)
        except RuntimeError:  # the loop is closed: the broker is stopping, nobody waits any more
            pass
        return True

    def _prune_due(self) -> bool:
        return time.monotonic() - self._pruned_at >= PRUNE_EVERY_S and self._prune_limit() > self._pruned_seq

    def _prune_limit(self) -> int:
        """The newest entry that is both stored by the hub and older than KEEP_STORED_S."""
        old_enough = time.monotonic() - KEEP_STORED_S
        while len(self._marks) > 1 and self._marks[1][1] <= old_enough:
            self._marks.popleft()
        newest_old = self._marks[0][0] if self._marks and self._marks[0][1] <= old_enough else 0
        return min(self._stored_seq, newest_old)

    def _prune(self) -> None:
        with self._lock:
            if not self._prune_due():
                return
            up_to = self._prune_limit()
        assert self._connection is not None
        try:
            journal.prune(self._connection, up_to)
        except sqlite3.Error as exc:
            log.warning("broker journal: could not prune stored entries (tried again later): %s", exc)
        else:
            self._pruned_seq = up_to
        self._pruned_at = time.monotonic()


def _done(futures: list[asyncio.Future[Any]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)
