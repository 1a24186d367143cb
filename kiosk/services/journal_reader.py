"""The hub's side of the broker's journal: device messages taken into the ingest pipeline in order, from the last
position stored in the database (kiosk.store.journal explains the promise).

One thread, `journal-reader`, reads chunks of entries and hands each to the hub's message handler while holding the
store writer's handover, then records the chunk's last sequence number with the writer: the rows and the position
are committed together, so a restart replays exactly what is not stored yet. When the writer cannot keep up (the
database is locked or the disk is full) the reader stops taking entries: they wait on disk, not in memory. Once a
position is stored, the broker is told it may prune the journal up to there.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from kiosk.core.devices import LogLimiter
from kiosk.store import journal
from kiosk.store.writer import CommitInfo, StoreWriter, read_cursor

log = logging.getLogger(__name__)
CHUNK = 500
IDLE_POLL_S = 0.005
HOLD_BACKLOG_ROWS = 50_000  # the writer holds this many rows: leave the rest in the journal until it catches up
LATE_AFTER_S = 2.0  # an entry read this long after the broker took it is stored at the broker's time


@dataclass(frozen=True)
class JournalProgress:
    read_seq: int
    stored_seq: int
    last_seq: int
    error: str | None
    holding: bool

    @property
    def behind(self) -> int:
        """Entries on disk not stored in the database yet."""
        return max(0, self.last_seq - self.stored_seq)


class JournalReader:
    """Args:
        handle: called with (topic, payload, at) for each entry; `at` is the broker's time for a late entry, else
            None (the hub's clock).
        stored: called with the newest stored sequence number after each commit that moved it.
    """

    def __init__(self, path: Path, engine: Engine, writer: StoreWriter,
                 handle: Callable[[str, bytes, float | None], object], stored: Callable[[int], None]) -> None:
        self._path = path
        self._engine = engine
        self._writer = writer
        self._handle = handle
        self._stored = stored
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: sqlite3.Connection | None = None
        self._source = ""
        self._read_seq = 0
        self._stored_seq = 0
        self._error: str | None = None
        self._holding = False
        self._limiter = LogLimiter(time.monotonic)
        writer.on_commit(self._committed)

    def start(self) -> None:
        self._connection = journal.open_or_replace(self._path, "normal")
        self._source = f"journal:{journal.journal_id(self._connection)}"
        self._read_seq = self._stored_seq = read_cursor(self._engine, self._source)
        waiting = journal.last_seq(self._connection) - self._read_seq
        if waiting > 0:
            log.info("the journal holds %d device messages not stored yet: reading them first", waiting)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="journal-reader", daemon=True)
        self._thread.start()

    def stop(self, drain_s: float = 5.0) -> None:
        """Take in what the journal still holds (for up to drain_s; the rest is read at the next start), then stop.
        Call after the broker has stopped."""
        deadline = time.monotonic() + drain_s
        while self._thread is not None and time.monotonic() < deadline and self.progress().behind > 0 \
                and self._read_seq < self._last_seq():
            self._stop.wait(0.01)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def progress(self) -> JournalProgress:
        return JournalProgress(self._read_seq, self._stored_seq, self._last_seq(), self._error, self._holding)

    def _last_seq(self) -> int:
        connection = self._connection
        if connection is None:
            return self._stored_seq
        try:
            return journal.last_seq(connection)
        except sqlite3.Error:
            return self._read_seq

    def _committed(self, info: CommitInfo) -> None:
        seq = info.cursors.get(self._source)
        if seq is not None and seq > self._stored_seq:
            self._stored_seq = seq
            self._stored(seq)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._holding = self._writer.backlog() > HOLD_BACKLOG_ROWS
            if self._holding:
                self._stop.wait(0.1)
                continue
            try:
                entries = journal.read_after(self._connection, self._read_seq, CHUNK)  # type: ignore[arg-type]
                self._error = None
            except sqlite3.Error as exc:
                self._failed(f"cannot read the journal: {exc}")
                self._stop.wait(1.0)
                continue
            if not entries:
                self._stop.wait(IDLE_POLL_S)
                continue
            self._take(entries)

    def _take(self, entries: list[journal.Entry]) -> None:
        now = time.time()
        with self._writer.handover():
            for entry in entries:
                try:
                    self._handle(entry.topic, entry.payload, entry.at if now - entry.at > LATE_AFTER_S else None)
                except Exception:  # the handlers count their own failures; this is a last guard for the thread
                    log.exception("journal entry %d on %s could not be handled", entry.seq, entry.topic[:80])
            self._writer.consumed(self._source, entries[-1].seq)
        self._read_seq = entries[-1].seq

    def _failed(self, error: str) -> None:
        self._error = error
        may_log, held = self._limiter.allow("journal", "read")
        if may_log:
            log.error("%s%s", error, f" ({held} more since the last report)" if held else "")
