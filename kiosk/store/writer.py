"""The store writer: one thread owns all writes and commits them in batches (DESIGN.md section 3).

Producers (the journal reader, serial readers, HTTP) call `add`, `device_state`, `rejection` and `consumed` from any
thread; those only append to memory under a lock. The writer commits every `batch_ms` or when `batch_rows` rows
wait, in one transaction. It never dies and never drops a good row:

- a commit that fails because of the database itself (disk full, locked, I/O) keeps its batch, makes `health()`
  say so at once, and is retried with a real back-off (new rows do not cut the wait short);
- a commit that fails because of one row (text SQLite cannot encode, a value out of range, a broken constraint) is
  redone row by row, each in a savepoint: the poison rows are rejected on their devices (reason `cannot_store`),
  the rest is stored;
- anything else it did not expect is logged once with its traceback, counted, and handled as a database failure.

`consumed(source, seq)` records how far a source (the broker's journal) has been taken in: the position is written in
the same transaction as the rows taken from it, so that a restart replays exactly what is not stored yet. Producers
that hand over several rows for one position hold `handover()` meanwhile, so that a batch never splits them.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from kiosk.core.devices import DeviceSnapshot, LogLimiter
from kiosk.core.energy import Bucket, merge_buckets
from kiosk.store.energy import upsert_rollups
from kiosk.store.models import (
    Device,
    DeviceLog,
    DeviceRejection,
    EnergyReading,
    IngestCursor,
    StallEvent,
    StallReading,
    Telemetry,
)

log = logging.getLogger(__name__)

TABLES = {"telemetry": Telemetry, "energy": EnergyReading, "stall": StallReading, "log": DeviceLog,
          "stall_event": StallEvent}
ONCE_TABLES = frozenset({"telemetry", "energy", "stall"})  # unique (device_id, seq) where seq is given
# Device state (last seen, counters) is saved at most this often: it only serves restarts and `kiosk device list`;
# live views get it from events. Readings keep the batch_ms bound.
DEVICE_STATE_EVERY_S = 1.0
MAX_BACKLOG_ROWS = 500_000
BACKOFF_S = (0.5, 10.0)  # first wait after a failed commit, doubling up to the second
SLOW_COMMIT_S = 1.0  # a commit running longer than this makes health say the database is slow (e.g. locked)
CANNOT_STORE = "cannot_store"  # the rejection reason of a poison row


@dataclass(frozen=True)
class CommitInfo:
    """What one commit wrote; `marks` are the producers' timestamps of the rows (for latency figures), `cursors`
    the positions of sources (the broker's journal) now stored."""

    rows: int
    marks: tuple[float, ...]
    committed_at: float
    cursors: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class WriterHealth:
    ok: bool
    backlog: int
    commits: int
    failures: int
    last_error: str | None
    poison_rows: int = 0
    alive: bool = True


@dataclass
class _Pending:
    rows: dict[str, list[dict[str, Any]]]
    marks: list[float]
    devices: dict[str, DeviceSnapshot]
    rejections: dict[tuple[str, str], tuple[int, float, str]]
    rollups: dict[tuple[str, str, float], Bucket]
    cursors: dict[str, int]
    statements: list[tuple[str, Any]]  # (device id, statement): new ports, boards, devices; run first, in order

    @classmethod
    def empty(cls) -> _Pending:
        return cls({}, [], {}, {}, {}, {}, [])

    def size(self) -> int:
        return (sum(map(len, self.rows.values())) + len(self.devices) + len(self.rejections) + len(self.rollups)
                + len(self.statements))

    def urgent_size(self) -> int:
        """What must be committed within batch_ms: all but device state."""
        return (sum(map(len, self.rows.values())) + len(self.rejections) + len(self.rollups) + len(self.cursors)
                + len(self.statements))

    def empty_of_work(self) -> bool:
        return self.size() == 0 and not self.cursors

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
                later = self.rejections[key]
                self.rejections[key] = (count + later[0], later[1], later[2])
            else:
                self.rejections[key] = (count, at, detail)
        self.cursors = {**older.cursors, **self.cursors}
        self.statements = older.statements + self.statements


class _PoisonRows(Exception):
    """A commit failed because of what a row holds, not because of the database."""


class StoreWriter:
    """Owns the write session. Start with `start()`, stop with `stop()` (flushes what is pending)."""

    def __init__(self, engine: Engine, batch_ms: int = 50, batch_rows: int = 500,
                 clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._batch_s = batch_ms / 1000
        self._batch_rows = batch_rows
        self._clock = clock
        self._lock = threading.Condition()
        self._handover = threading.RLock()
        self._pending = _Pending.empty()
        self._inflight = 0  # the size of the batch being committed (part of the backlog until it is stored)
        self._stopping = False
        self._busy = False
        self._flushing = False
        self._first_at: float | None = None
        self._retry_at: float | None = None
        self._commit_started: float | None = None
        self._generation = 0  # batches taken so far; what is added now goes with batch _generation + 1
        self._stored_generation = 0  # the newest batch committed (a failed batch goes with a later one)
        self._devices_saved_at = 0.0
        self._thread: threading.Thread | None = None
        self._listeners: list[Callable[[CommitInfo], None]] = []
        self._commits = 0
        self._failures = 0
        self._poison = 0
        self._last_error: str | None = None
        self._limiter = LogLimiter(time.monotonic)
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

    @contextmanager
    def handover(self) -> Iterator[None]:
        """Hold while adding the rows of one source position and `consumed()`: no batch is cut in between."""
        with self._handover:
            yield

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

    def rejection(self, device_id: str, reason: str, detail: str, at: float, count: int = 1) -> None:
        detail = _storable(detail[:300])
        with self._lock:
            before = self._pending.rejections.get((device_id, reason), (0, 0.0, ""))[0]
            self._pending.rejections[(device_id, reason)] = (before + count, at, detail)
            self._wake_if_due()

    def statement(self, device_id: str, statement: Any) -> None:
        """A change the rows after it may depend on (a new port, board or device; a board's details), run at the
        start of the next commit: the roads in never wait for the database themselves."""
        with self._lock:
            self._pending.statements.append((device_id, statement))
            self._wake_if_due()

    def insert_new(self, device_id: str, table: Any, row: dict[str, Any]) -> None:
        """Insert a row unless one with its key is there (another station, or a replay, made it first)."""
        make = pg_insert if self._dialect == "postgresql" else sqlite_insert
        self.statement(device_id, make(table).values(**row).on_conflict_do_nothing())

    def consumed(self, source: str, seq: int) -> None:
        """Everything from `source` up to `seq` has been handed over: store the position with those rows."""
        with self._lock:
            self._pending.cursors[source] = seq
            self._wake_if_due()

    def _wake_if_due(self) -> None:
        """Under the lock: wake the writer when a batch starts (to time it) or is full, not for every row."""
        if self._first_at is None or self._rows_waiting() >= self._batch_rows:
            self._lock.notify()

    def _device_state_added(self) -> None:
        if self._pending.urgent_size() == 0 and len(self._pending.devices) == 1:
            self._lock.notify()  # a batch of device state only: the writer times it by DEVICE_STATE_EVERY_S

    def ticket(self) -> int:
        """For a producer that must answer "stored" (HTTP): call after adding, then `wait_stored(ticket)`."""
        with self._lock:
            return self._generation + 1

    def wait_stored(self, ticket: int, timeout: float) -> bool:
        """Whether everything added before `ticket()` was committed within the timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._stored_generation < ticket:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
            return True

    def backlog(self) -> int:
        """Rows held in memory, waiting or being committed."""
        with self._lock:
            return self._pending.size() + self._inflight

    def health(self) -> WriterHealth:
        with self._lock:
            error = self._last_error
            started = self._commit_started
            if error is None and started is not None and time.monotonic() - started > SLOW_COMMIT_S:
                error = (f"a commit has been waiting {time.monotonic() - started:.1f} s "
                         "(is the database locked or the disk slow?)")
            alive = self._thread is None or self._thread.is_alive() or self._stopping
            if not alive:
                error = "the store writer thread has stopped: nothing is being written"
            return WriterHealth(error is None, self._pending.size() + self._inflight, self._commits, self._failures,
                                error, self._poison, alive)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything added before this call is committed (tests, shutdown, backup)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._flushing = True
            self._lock.notify_all()
            try:
                while not self._pending.empty_of_work() or self._busy:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._lock.wait(remaining)
            finally:
                self._flushing = False
        return True

    def _run(self) -> None:
        while True:
            try:
                if self._cycle():
                    return
            except Exception as exc:  # a bug here must not stop every write: count it, say it, go on
                self._failed(f"store writer error: {type(exc).__name__}: {exc}", traceback.format_exc())

    def _cycle(self) -> bool:
        """Wait for a batch and commit it; True when the writer is to stop."""
        with self._lock:
            self._wait_for_batch()
        with self._handover, self._lock:  # not while waiting: producers hold the handover while they add
            batch, self._pending = self._pending, _Pending.empty()
            self._generation += 1
            generation = self._generation
            stopping = self._stopping
            if batch.devices and not (stopping or self._flushing) and \
                    time.monotonic() - self._devices_saved_at < DEVICE_STATE_EVERY_S:
                self._pending.devices, batch.devices = batch.devices, {}
            self._busy = not batch.empty_of_work()
            self._inflight = batch.size()
        if not batch.empty_of_work() and not self._commit(batch, generation):
            with self._lock:
                self._pending.merge_older(batch)
                self._trim_backlog()
                self._busy = False
                self._inflight = 0
                self._lock.notify_all()
            if stopping:
                log.error("store writer stopping with %d rows it could not write", batch.size())
                return True
            return False
        return stopping

    def _wait_for_batch(self) -> None:
        """Under the lock: wait until the oldest waiting change is `batch_ms` old, or `batch_rows` rows wait.

        Timing batches from their first change (not from the last commit) bounds how long any row waits to
        `batch_ms` plus one commit. After a failed commit, wait out the back-off first: new rows do not cut it short
        (a full disk would otherwise be retried for every reading); a flush or a stop does.
        """
        while self._retry_at is not None and not (self._stopping or self._flushing):
            remaining = self._retry_at - time.monotonic()
            if remaining <= 0:
                break
            self._lock.wait(remaining)
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

    def _commit(self, batch: _Pending, generation: int) -> bool:
        with self._lock:
            self._commit_started = time.monotonic()
        try:
            try:
                with self._engine.begin() as connection:
                    self._write(connection, batch, careful=False)
            except _PoisonRows:
                with self._engine.begin() as connection:
                    if self._dialect == "sqlite":
                        # pysqlite opens its transaction at the first write; a SAVEPOINT first would start one
                        # of its own, which the first RELEASE commits: open it here so the batch stays atomic.
                        connection.exec_driver_sql("BEGIN")
                    self._write(connection, batch, careful=True)
        except Exception as exc:
            self._failed(_describe(exc), traceback.format_exc() if not isinstance(exc, SQLAlchemyError) else None)
            return False
        finally:
            with self._lock:
                self._commit_started = None
        if batch.devices:
            self._devices_saved_at = time.monotonic()
        info = CommitInfo(sum(map(len, batch.rows.values())), tuple(batch.marks), self._clock(),
                          dict(batch.cursors))
        with self._lock:
            if self._last_error is not None:
                log.warning("database writes work again after %d failures", self._failures)
            self._last_error = None
            self._retry_at = None
            self._stored_generation = generation
            self._commits += 1
            self._busy = False
            self._inflight = 0
            self._lock.notify_all()
        for listener in self._listeners:
            try:
                listener(info)
            except Exception:
                log.exception("a commit listener failed; the commit itself is stored")
        return True

    def _failed(self, error: str, trace: str | None) -> None:
        """A commit (or the writer's own loop) failed: health says so now; retry after a growing pause."""
        with self._lock:
            self._failures += 1
            first = self._last_error is None
            self._last_error = error[:300]
            previous = getattr(self, "_backoff", 0.0)
            self._backoff = min(max(previous * 2, BACKOFF_S[0]), BACKOFF_S[1]) if not first else BACKOFF_S[0]
            self._retry_at = time.monotonic() + self._backoff
            backlog = self._pending.size() + self._inflight
        if first:
            log.error("database write failed, keeping %d rows and retrying: %s%s", backlog, error,
                      f"\n{trace}" if trace else "")

    def _write(self, connection: Connection, batch: _Pending, careful: bool) -> None:
        """Everything of one batch. Careful: each row in a savepoint of its own, poison rows left out and rejected."""
        poison: list[tuple[str, str]] = []
        for device_id, statement in batch.statements:
            if careful:
                self._guarded(connection, lambda c, st=statement: c.execute(st), poison, device_id)
            else:
                _checked(lambda st=statement: connection.execute(st))
        for table, rows in batch.rows.items():
            self._execute(connection, self._insert(table), rows, careful, poison)
        if batch.devices:
            self._execute(connection, _UPDATE_DEVICE, [_device_row(s) for s in batch.devices.values()], careful,
                          poison)
        for (device_id, reason), (count, at, detail) in batch.rejections.items():
            self._execute(connection, self._upsert_rejection(device_id, reason, count, at, detail), [{}], careful,
                          poison)
        if careful:
            for key, bucket in batch.rollups.items():
                self._guarded(connection, lambda c, k=key, b=bucket: upsert_rollups(c, {k: b}), poison, key[0])
        else:
            _checked(lambda: upsert_rollups(connection, batch.rollups))
        for source, seq in batch.cursors.items():
            _checked(lambda s=source, q=seq: connection.execute(self._upsert_cursor(s, q)))
        for device_id, error in poison:
            self._poisoned(connection, device_id, error)

    def _execute(self, connection: Connection, statement: Any, rows: list[dict[str, Any]], careful: bool,
                 poison: list[tuple[str, str]]) -> None:
        if not careful:
            _checked(lambda: connection.execute(statement, rows) if rows != [{}] else connection.execute(statement))
            return
        for row in rows:
            device_id = str(row.get("device_id") or row.get("b_id") or "?")
            self._guarded(connection, lambda c, r=row: c.execute(statement, r) if r else c.execute(statement),
                          poison, device_id)

    def _guarded(self, connection: Connection, work: Callable[[Connection], Any], poison: list[tuple[str, str]],
                 device_id: str) -> None:
        savepoint = connection.begin_nested()
        try:
            _checked(lambda: work(connection))
        except _PoisonRows as exc:
            savepoint.rollback()
            poison.append((device_id, str(exc)))
        else:
            savepoint.commit()

    def _poisoned(self, connection: Connection, device_id: str, error: str) -> None:
        """A row the database would not take: rejected on its device (counted, logged once a minute per device)."""
        with self._lock:
            self._poison += 1
        detail = _storable(f"the database would not store it: {error}"[:300])
        connection.execute(self._upsert_rejection(device_id[:64], CANNOT_STORE, 1, self._clock(), detail))
        may_log, held = self._limiter.allow(device_id, CANNOT_STORE)
        if may_log:
            more = f" ({held} more since the last report)" if held else ""
            log.warning("rejected a row from device %s: %s: %s%s", device_id[:64], CANNOT_STORE, error, more)

    def _insert(self, table: str) -> Any:
        """Readings that carry the device's id for them (`seq`) are stored once: a second one is left out."""
        if table not in ONCE_TABLES:
            return TABLES[table].__table__.insert()
        make = pg_insert if self._dialect == "postgresql" else sqlite_insert
        return make(TABLES[table].__table__).on_conflict_do_nothing()

    def _upsert_rejection(self, device_id: str, reason: str, count: int, at: float, detail: str) -> Any:
        make = pg_insert if self._dialect == "postgresql" else sqlite_insert
        stmt = make(DeviceRejection.__table__).values(device_id=device_id, reason=reason, count=count, last_at=at,
                                                      last_detail=detail)
        return stmt.on_conflict_do_update(
            index_elements=["device_id", "reason"],
            set_={"count": DeviceRejection.__table__.c.count + count, "last_at": at, "last_detail": detail})

    def _upsert_cursor(self, source: str, seq: int) -> Any:
        make = pg_insert if self._dialect == "postgresql" else sqlite_insert
        stmt = make(IngestCursor.__table__).values(source=source, seq=seq)
        return stmt.on_conflict_do_update(index_elements=["source"], set_={"seq": seq})


def read_cursor(engine: Engine, source: str) -> int:
    """How far `source` has been stored (0 when never)."""
    with engine.connect() as connection:
        value = connection.execute(IngestCursor.__table__.select().where(
            IngestCursor.__table__.c.source == source)).first()
    return int(value.seq) if value is not None else 0


def _checked(work: Callable[[], Any]) -> Any:
    """Run one statement; an error caused by the data (not the database) becomes _PoisonRows."""
    try:
        return work()
    except OperationalError:
        raise  # locked, disk full, I/O: the database's trouble, not the row's
    except DBAPIError as exc:
        if isinstance(exc.orig, sqlite3.OperationalError):
            raise
        raise _PoisonRows(_describe(exc)) from exc
    except (UnicodeError, ValueError, TypeError, OverflowError, SQLAlchemyError) as exc:
        raise _PoisonRows(_describe(exc)) from exc


def _describe(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc.__cause__ or exc
    text = str(inner).split("\n[SQL", 1)[0]
    return _storable(f"{type(inner).__name__}: {text}"[:300])


def _storable(text: str) -> str:
    """Text the database can always store: unpaired surrogates (from JSON escapes) shown as escapes."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


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
