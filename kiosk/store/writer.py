"""The store writer: one thread owns all writes and commits them in batches (DESIGN.md section 3).

Producers (the device worker, serial readers, HTTP) call `add`, `device_state` and `rejection` from any thread; those
only append to memory under a lock. The writer commits every `batch_ms` or when `batch_rows` rows wait, in one
transaction. If a commit fails (disk full, database locked for too long) the batch is kept and retried with back-off,
so no good reading is lost while the disk recovers; the error is counted and reported through `health()`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from kiosk.core.devices import DeviceSnapshot
from kiosk.core.energy import Bucket, merge_buckets
from kiosk.store.energy import upsert_rollups
from kiosk.store.models import (Device, DeviceLog, DeviceRejection, EnergyReading, StallEvent, StallReading,
                                 Telemetry)

log = logging.getLogger(__name__)

TABLES = {"telemetry": Telemetry, "energy": EnergyReading, "stall": StallReading, "log": DeviceLog,
          "stall_event": StallEvent}
# Device state (last seen, counters) is saved at most this often: it only serves restarts and `kiosk device list`;
# live views get it from events. Readings keep the batch_ms bound.
DEVICE_STATE_EVERY_S = 1.0
MAX_BACKLOG_ROWS = 500_000


@dataclass(frozen=True)
class CommitInfo:
    """What one commit wrote; `marks` are the producers' timestamps of the rows (for latency figures)."""

    rows: int
    marks: tuple[float, ...]
    committed_at: float


@dataclass(frozen=True)
class WriterHealth:
    ok: bool
    backlog: int
    commits: int
    failures: int
    last_error: str | None


@dataclass
class _Pending:
    rows: dict[str, list[dict[str, Any]]]
    marks: list[float]
    devices: dict[str, DeviceSnapshot]
    rejections: dict[tuple[str, str], tuple[int, float, str]]
    rollups: dict[tuple[str, str, float], Bucket]

    @classmethod
    def empty(cls) -> _Pending:
        return cls({}, [], {}, {}, {})

    def size(self) -> int:
        return sum(map(len, self.rows.values())) + len(self.devices) + len(self.rejections) + len(self.rollups)

    def urgent_size(self) -> int:
        """What must be committed within batch_ms: readings, rollups and rejections, not device state."""
        return sum(map(len, self.rows.values())) + len(self.rejections) + len(self.rollups)

    def merge_older(self, older: _Pending) -> None:
        """Put a failed batch back in front of what arrived since."""
        for table, rows in older.rows.items():
            self.rows[table] = rows + self.rows.get(table, [])
        self.marks = older.marks + self.marks
        self.devices = {**older.devices, **self.devices}
        newer, self.rollups = self.rollups, older.rollups
        merge_buckets(self.rollups, newer)
        for key, (count, at, detail) in older.rejections.items():
            if key in self.rejections:
                newer = self.rejections[key]
                self.rejections[key] = (count + newer[0], newer[1], newer[2])
            else:
                self.rejections[key] = (count, at, detail)


class StoreWriter:
    """Owns the write session. Start with `start()`, stop with `stop()` (flushes what is pending)."""

    def __init__(self, engine: Engine, batch_ms: int = 50, batch_rows: int = 500,
                 clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._batch_s = batch_ms / 1000
        self._batch_rows = batch_rows
        self._clock = clock
        self._lock = threading.Condition()
        self._pending = _Pending.empty()
        self._stopping = False
        self._busy = False
        self._flushing = False
        self._first_at: float | None = None
        self._devices_saved_at = 0.0
        self._thread: threading.Thread | None = None
        self._listeners: list[Callable[[CommitInfo], None]] = []
        self._commits = 0
        self._failures = 0
        self._last_error: str | None = None
        self._dialect = engine.url.get_backend_name()

    def on_commit(self, listener: Callable[[CommitInfo], None]) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def add(self, table: str, row: dict[str, Any], mark: float | None = None) -> None:
        with self._lock:
            self._pending.rows.setdefault(table, []).append(row)
            if mark is not None:
                self._pending.marks.append(mark)
            self._wake_if_due()

    def rollups(self, buckets: dict[tuple[str, str, float], Bucket]) -> None:
        """Energy rollup buckets (kiosk.core.energy.roll_up) to merge into energy_rollups with the next batch."""
        with self._lock:
            merge_buckets(self._pending.rollups, buckets)
            self._wake_if_due()

    def device_state(self, snapshot: DeviceSnapshot) -> None:
        with self._lock:
            self._pending.devices[snapshot.id] = snapshot
            self._device_state_added()

    def rejection(self, device_id: str, reason: str, detail: str, at: float) -> None:
        with self._lock:
            count = self._pending.rejections.get((device_id, reason), (0, 0.0, ""))[0]
            self._pending.rejections[(device_id, reason)] = (count + 1, at, detail[:300])
            self._wake_if_due()

    def _wake_if_due(self) -> None:
        """Under the lock: wake the writer when a batch starts (to time it) or is full, not for every row."""
        if self._first_at is None or self._rows_waiting() >= self._batch_rows:
            self._lock.notify()

    def _device_state_added(self) -> None:
        if self._pending.urgent_size() == 0 and len(self._pending.devices) == 1:
            self._lock.notify()  # a batch of device state only: the writer times it by DEVICE_STATE_EVERY_S

    def health(self) -> WriterHealth:
        with self._lock:
            return WriterHealth(self._last_error is None, self._pending.size(), self._commits, self._failures,
                                self._last_error)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything added before this call is committed (tests, shutdown, backup)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._flushing = True
            self._lock.notify_all()
            try:
                while self._pending.size() > 0 or self._busy:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._lock.wait(remaining)
            finally:
                self._flushing = False
        return True

    def _run(self) -> None:
        backoff = 0.0
        while True:
            with self._lock:
                self._wait_for_batch(backoff)
                batch, self._pending = self._pending, _Pending.empty()
                stopping = self._stopping
                if batch.devices and not (stopping or self._flushing) and \
                        time.monotonic() - self._devices_saved_at < DEVICE_STATE_EVERY_S:
                    self._pending.devices, batch.devices = batch.devices, {}
                self._busy = batch.size() > 0
            if batch.size():
                if self._commit(batch):
                    backoff = 0.0
                else:
                    with self._lock:
                        self._pending.merge_older(batch)
                        self._trim_backlog()
                        self._busy = False
                        self._lock.notify_all()
                    backoff = min(max(backoff * 2, 0.5), 10.0)
                    if stopping:
                        log.error("store writer stopping with %d rows it could not write", batch.size())
                        return
                    continue
            if stopping:
                return

    def _wait_for_batch(self, backoff: float) -> None:
        """Under the lock: wait until the oldest waiting change is `batch_ms` old, or `batch_rows` rows wait.

        Timing batches from their first change (not from the last commit) bounds how long any row waits to
        `batch_ms` plus one commit. After a failed commit, wait `backoff` before trying again.
        """
        if backoff:
            self._lock.wait(backoff)
            return
        while not self._stopping:
            if self._pending.urgent_size() == 0 and not self._flushing:
                self._first_at = None
                if self._pending.devices:
                    due = self._devices_saved_at + DEVICE_STATE_EVERY_S - time.monotonic()
                    if due <= 0:
                        break
                    self._lock.wait(due)
                else:
                    self._lock.wait(1.0)
                continue
            if self._first_at is None:
                self._first_at = time.monotonic()
            remaining = self._first_at + self._batch_s - time.monotonic()
            if remaining <= 0 or self._rows_waiting() >= self._batch_rows or self._flushing:
                break
            self._lock.wait(remaining)
        self._first_at = None

    def _rows_waiting(self) -> int:
        return sum(map(len, self._pending.rows.values()))

    def _trim_backlog(self) -> None:
        for table, rows in self._pending.rows.items():
            if len(rows) > MAX_BACKLOG_ROWS:
                dropped = len(rows) - MAX_BACKLOG_ROWS
                del rows[:dropped]
                log.error("store writer backlog full: dropped the %d oldest %s rows", dropped, table)

    def _commit(self, batch: _Pending) -> bool:
        try:
            with self._engine.begin() as connection:
                for table, rows in batch.rows.items():
                    connection.execute(TABLES[table].__table__.insert(), rows)
                if batch.devices:
                    connection.execute(_UPDATE_DEVICE, [_device_row(s) for s in batch.devices.values()])
                    self._devices_saved_at = time.monotonic()
                for (device_id, reason), (count, at, detail) in batch.rejections.items():
                    connection.execute(self._upsert_rejection(device_id, reason, count, at, detail))
                upsert_rollups(connection, batch.rollups)
        except SQLAlchemyError as exc:
            with self._lock:
                self._failures += 1
                first = self._last_error is None
                self._last_error = str(exc.orig if getattr(exc, "orig", None) else exc)[:300]
            if first:
                log.error("database write failed, keeping %d rows and retrying: %s", batch.size(), self._last_error)
            return False
        info = CommitInfo(sum(map(len, batch.rows.values())), tuple(batch.marks), self._clock())
        with self._lock:
            if self._last_error is not None:
                log.warning("database writes work again after %d failures", self._failures)
            self._last_error = None
            self._commits += 1
            self._busy = False
            self._lock.notify_all()
        for listener in self._listeners:
            listener(info)
        return True

    def _upsert_rejection(self, device_id: str, reason: str, count: int, at: float, detail: str) -> Any:
        make = pg_insert if self._dialect == "postgresql" else sqlite_insert
        stmt = make(DeviceRejection.__table__).values(device_id=device_id, reason=reason, count=count, last_at=at,
                                            last_detail=detail)
        return stmt.on_conflict_do_update(
            index_elements=["device_id", "reason"],
            set_={"count": DeviceRejection.__table__.c.count + count, "last_at": at, "last_detail": detail})


_DEVICES = Device.__table__
# Core statements, not the ORM: the ORM's bulk paths cost ~86 us per row, a tenth of the hub's CPU at 1,400 msg/s.
_UPDATE_DEVICE = _DEVICES.update().where(_DEVICES.c.id == bindparam("b_id")).values(
    {name: bindparam(f"b_{name}") for name in ("last_seen", "messages_received", "messages_rejected",
                                               "last_reject_reason", "last_reject_detail", "battery", "signal",
                                               "firmware", "ip", "mac", "uptime_s", "uptime_at")})


def _device_row(snap: DeviceSnapshot) -> dict[str, Any]:
    """One row of the bulk UPDATE by primary key that persists the devices' live state."""
    row = {"id": snap.id, "last_seen": snap.last_seen, "messages_received": snap.received,
            "messages_rejected": snap.rejected, "last_reject_reason": snap.last_reject_reason,
            "last_reject_detail": snap.last_reject_detail, "battery": snap.battery, "signal": snap.signal,
            "firmware": snap.firmware, "ip": snap.ip, "mac": snap.mac, "uptime_s": snap.uptime_s,
            "uptime_at": snap.uptime_at}
    return {f"b_{name}": value for name, value in row.items()}
